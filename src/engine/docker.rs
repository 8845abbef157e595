//! docker as a source: the docker CLI (never the HTTP API directly, so
//! contexts, TLS and ssh hosts work as the user set them up), run through
//! the [`Runner`] and parsed once into the same [`Inventory`] podman fills.
//!
//! Two rounds of calls, the calls of each round at the same time:
//!
//! 1. the lists, as JSON lines (`--format '{{json .}}'`; a format also stops
//!    docker >= 29 from printing its tree): `docker images -a`, `docker ps -a`,
//!    `docker volume ls` and `docker volume ls -f dangling=true -q`;
//! 2. inspects of what the lists named, for exact figures:
//!    `docker image inspect` (`Size` in bytes, `RootFS.Layers`, `Parent`,
//!    `Config.Labels`), `docker container inspect [--size]` (`SizeRw` in
//!    bytes, the image id, labels), `docker volume inspect` (labels), and
//!    `docker system df -v` for volume sizes, which only it has.
//!
//! Why not the lists' own fields: their sizes are rounded to three digits
//! (`"Size":"7.38MB"`), `Labels` is one `k=v,k2=v2` string that is ambiguous
//! when a value holds a comma (`weird=a,b=c`), and `docker ps` names the
//! image by reference, not id. They are used only when an inspect fails.
//!
//! Why not `docker system df`'s figures: against podman's Docker API it has
//! printed negative totals (`-5.006e+06B`) and container names cut by one
//! character; against docker its images "reclaimable" counts shared layers
//! as reclaimable when only the image that shares them is in use. Per-layer
//! bytes come from image totals along layer chains instead
//! ([`layers::segment_sizes`](super::layers::segment_sizes)), as on podman's CLI path. Volume sizes are
//! the one thing taken from `system df -v`, as rounded text: they are marked
//! approximate.

use std::collections::{BTreeMap, BTreeSet};

use once_cell::sync::Lazy;
use regex::Regex;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use thiserror::Error;

use super::command::{null_as_default, parse_json, parse_json_lines, EngineCli, Failures};
use super::layers::{chain_keys, segment_sizes};
use super::{Collected, Failed, Needs};
use super::{Container, ContainerState, Image, Labels, Layer, LayerKey, Volume};
use crate::runner::{Argv, RunError, Runner};
use crate::size::{self, Reading};
use crate::timestamp::Timestamp;
use crate::Warnings;

const INSTALL_HINT: &str = "is docker installed? (Debian/Ubuntu: apt-get install -y docker.io, \
     or docker-ce-cli from Docker's repository)";

/// Where the docker CLI goes when neither `-H`, `--context` nor the
/// environment says otherwise.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Error)]
pub enum DockerError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(
        "the docker daemon at {endpoint} is unreachable: {reason}; \
         DOCKER_HOST, -H or --context select another daemon (`{argv}` failed)"
    )]
    Unreachable {
        endpoint: String,
        reason: String,
        argv: Argv,
    },
    #[error("`{argv}` printed output that is not what docker prints: {message}")]
    Parse { argv: String, message: String },
}

/// How to reach docker: the binary and the flags that pick the daemon.
#[derive(Debug, Clone)]
pub struct Docker {
    cli: EngineCli,
    /// The daemon as the user chose it, for messages when docker's own
    /// error does not name it.
    endpoint: String,
}

impl Docker {
    /// `host` becomes `-H HOST` and `context` `--context NAME`, both before
    /// the subcommand, as docker wants its global flags. With neither,
    /// docker follows `DOCKER_HOST`, `DOCKER_CONTEXT` and its config.
    pub fn new(runner: Runner, binary: &str, host: Option<&str>, context: Option<&str>) -> Self {
        let mut cli = EngineCli::new(runner, binary, INSTALL_HINT);
        if let Some(h) = host {
            cli = cli.global("-H", h);
        }
        if let Some(c) = context {
            cli = cli.global("--context", c);
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let endpoint = match (host, context) {
            (Some(h), _) => h.to_string(),
            (None, Some(c)) => format!("context {c}"),
            (None, None) => env("DOCKER_HOST")
                .or_else(|| env("DOCKER_CONTEXT").map(|c| format!("context {c}")))
                .unwrap_or_else(|| DEFAULT_HOST.to_string()),
        };
        Docker { cli, endpoint }
    }

    /// Docker's `--config DIR` (a plugin run's own), as a global flag.
    pub fn with_config(mut self, dir: Option<&std::path::Path>) -> Self {
        if let Some(d) = dir {
            self.cli = self.cli.first_global("--config", &d.display().to_string());
        }
        self
    }

    pub fn runner(&self) -> &Runner {
        self.cli.runner()
    }

    /// The argv that runs `args` on this docker (binary, host, context).
    pub fn command(&self, args: &[&str]) -> Vec<String> {
        self.cli.argv(args)
    }

    /// Runs one docker command; a daemon that does not answer becomes
    /// [`DockerError::Unreachable`] naming its socket.
    fn call(&self, args: &[&str]) -> Result<(String, String), DockerError> {
        match self.cli.run(args) {
            Ok(a) => Ok((a.argv, a.stdout)),
            Err(RunError::Failed {
                argv,
                status,
                stderr,
            }) => Err(match daemon_unreachable(&stderr) {
                Some((named, reason)) => DockerError::Unreachable {
                    endpoint: named.unwrap_or_else(|| self.endpoint.clone()),
                    reason,
                    argv,
                },
                None => DockerError::Run(RunError::Failed {
                    argv,
                    status,
                    stderr,
                }),
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn call_lines<T: DeserializeOwned>(&self, args: &[&str]) -> Result<Vec<T>, DockerError> {
        let (argv, stdout) = self.call(args)?;
        parse_json_lines(&stdout).map_err(|message| DockerError::Parse { argv, message })
    }

    fn call_json<T: DeserializeOwned>(&self, args: &[&str]) -> Result<T, DockerError> {
        let (argv, stdout) = self.call(args)?;
        parse_json(&stdout).map_err(|message| DockerError::Parse { argv, message })
    }

    /// `docker images -a`: every image including the legacy builder's
    /// intermediates, one entry per id (docker prints one line per tag).
    pub fn images(&self) -> Result<Vec<ImageLine>, DockerError> {
        let lines: Vec<ImageLine> =
            self.call_lines(&["images", "-a", "--no-trunc", "--format", "{{json .}}"])?;
        let mut seen = BTreeSet::new();
        Ok(lines
            .into_iter()
            .filter(|l| seen.insert(l.id.clone()))
            .collect())
    }

    /// `docker image inspect ID...` in one call.
    pub fn image_details(&self, ids: &[String]) -> Result<Vec<ImageDetails>, DockerError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["image", "inspect"];
        args.extend(ids.iter().map(String::as_str));
        self.call_json(&args)
    }

    /// `docker ps -a`, without `-s`: exact writable-layer bytes come from
    /// [`Self::container_details`].
    pub fn containers(&self) -> Result<Vec<ContainerLine>, DockerError> {
        self.call_lines(&["ps", "-a", "--no-trunc", "--format", "{{json .}}"])
    }

    /// `docker container inspect [--size] ID...` in one call; `--size` makes
    /// docker measure each writable layer (slow on big ones).
    pub fn container_details(
        &self,
        ids: &[String],
        with_size: bool,
    ) -> Result<Vec<ContainerDetails>, DockerError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["container", "inspect"];
        if with_size {
            args.push("--size");
        }
        args.extend(ids.iter().map(String::as_str));
        self.call_json(&args)
    }

    /// `docker volume ls`.
    pub fn volumes(&self) -> Result<Vec<VolumeLine>, DockerError> {
        self.call_lines(&["volume", "ls", "--format", "{{json .}}"])
    }

    /// `docker volume inspect NAME...` in one call: labels as a map.
    pub fn volume_details(&self, names: &[String]) -> Result<Vec<VolumeDetails>, DockerError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["volume", "inspect"];
        args.extend(names.iter().map(String::as_str));
        self.call_json(&args)
    }

    /// Names of volumes no container references (`docker volume prune`'s set).
    pub fn dangling_volumes(&self) -> Result<Vec<String>, DockerError> {
        let (_, stdout) = self.call(&["volume", "ls", "-f", "dangling=true", "-q"])?;
        Ok(stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// Volume sizes from `docker system df -v`, the only CLI output that has
    /// them: rounded text such as `1.2MB`.
    pub fn volume_sizes(&self) -> Result<BTreeMap<String, Reading>, DockerError> {
        let (argv, stdout) = self.call(&["system", "df", "-v", "--format", "{{json .}}"])?;
        parse_df_volume_sizes(&stdout).map_err(|message| DockerError::Parse { argv, message })
    }

    /// Same contract as [`super::collect::collect`] for podman: what `needs`
    /// asks for, with every failure a one-line warning naming the command
    /// and the rest still collected. Docker has no pods.
    pub fn collect(&self, needs: Needs, warnings: &Warnings) -> Collected {
        // Containers are listed for images too: they decide which images are in use.
        let want_containers = needs.containers || needs.images;
        let (images, containers, volumes, dangling) = std::thread::scope(|s| {
            let images = needs.images.then(|| s.spawn(|| self.images()));
            let containers = want_containers.then(|| s.spawn(|| self.containers()));
            let volumes = needs.volumes.then(|| s.spawn(|| self.volumes()));
            let dangling = needs.volumes.then(|| s.spawn(|| self.dangling_volumes()));
            (
                join(images),
                join(containers),
                join(volumes),
                join(dangling),
            )
        });
        let mut out = Collected {
            reachable: [
                images.as_ref().map(Result::is_ok),
                containers.as_ref().map(Result::is_ok),
                volumes.as_ref().map(Result::is_ok),
            ]
            .contains(&Some(true)),
            failed: Failed {
                images: images.as_ref().is_some_and(Result::is_err),
                containers: containers.as_ref().is_some_and(Result::is_err),
                volumes: volumes.as_ref().is_some_and(Result::is_err),
            },
            ..Collected::default()
        };
        let failures = Failures::new(warnings, repeats);
        let images = failures.take(images);
        let containers = failures.take(containers);
        let volumes = failures.take(volumes);
        let dangling = failures.take(dangling);

        let image_ids: Vec<String> = images.iter().flatten().map(|i| i.id.clone()).collect();
        let container_ids: Vec<String> =
            containers.iter().flatten().map(|c| c.id.clone()).collect();
        let volume_names: Vec<String> = volumes.iter().flatten().map(|v| v.name.clone()).collect();
        let (image_details, container_details, volume_details, volume_sizes) =
            std::thread::scope(|s| {
                let imgs = images
                    .is_some()
                    .then(|| s.spawn(|| self.image_details(&image_ids)));
                let ctrs = containers.is_some().then(|| {
                    s.spawn(|| self.container_details(&container_ids, needs.container_sizes))
                });
                let vols = (!volume_names.is_empty())
                    .then(|| s.spawn(|| self.volume_details(&volume_names)));
                let sizes = (!volume_names.is_empty()).then(|| s.spawn(|| self.volume_sizes()));
                (join(imgs), join(ctrs), join(vols), join(sizes))
            });

        if let Some(lines) = &containers {
            let details = failures.take_or(
                container_details,
                "containers are listed from `docker ps` alone: labels split at every comma, no sizes",
            );
            out.inventory.containers = match details {
                Some(d) => containers_from_details(&d, warnings),
                None => {
                    let by_name = image_names(images.as_deref().unwrap_or(&[]));
                    lines.iter().map(|l| l.to_container(&by_name)).collect()
                }
            };
        }
        if let Some(lines) = &images {
            let details = failures.take_or(
                image_details,
                "each image counts whole at its rounded listed size, shared layers once per image using them",
            );
            for d in details.iter().flatten() {
                let object = format!("image {}", d.repo_tags.first().unwrap_or(&d.id));
                super::engine_bytes("docker", &object, "size", d.size, warnings);
            }
            let resolved = resolve_images(lines, details.as_deref());
            out.approximate_layers = resolved.approximate;
            if resolved.approximate && details.is_some() {
                warnings.push(
                    "some docker images share layers where no image ends; shared bytes between them are estimated from image totals",
                );
            }
            out.inventory.layers = resolved.layers;
            out.inventory.images = resolved.images;
        }
        if let Some(lines) = volumes {
            let details = failures.take_or(
                volume_details,
                "volume labels are split at every comma of `docker volume ls`'s list",
            );
            let sizes = failures.take(volume_sizes);
            out.inventory.volumes = to_volumes(
                lines,
                details.unwrap_or_default(),
                dangling.as_deref(),
                sizes.as_ref(),
                warnings,
            );
        }
        out
    }
}

fn join<T>(h: Option<std::thread::ScopedJoinHandle<'_, T>>) -> Option<T> {
    h.map(|h| h.join().expect("docker calls do not panic"))
}

/// A missing binary or an unreachable daemon fails every call the same way.
fn repeats(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::Unreachable { .. } | DockerError::Run(RunError::NotFound { .. })
    )
}

/// Docker prints image ids as `sha256:<hex>`, podman's Docker API sometimes
/// without the prefix (`Parent`); the inventory keeps bare hex like podman's.
pub fn normalize_id(id: &str) -> String {
    id.strip_prefix("sha256:").unwrap_or(id).to_string()
}

static CANNOT_CONNECT: Lazy<Regex> = Lazy::new(|| {
    Regex::new(
        r"(?i)cannot connect to the docker daemon at (\S+?)\.?\s+is the docker daemon running",
    )
    .unwrap()
});
static PERMISSION: Lazy<Regex> = Lazy::new(|| {
    Regex::new(
        r"(?i)permission denied while trying to connect to the docker (?:daemon socket|daemon|api) at ([^\s:]+:[^\s:]*)",
    )
    .unwrap()
});

/// Recognises docker's "no daemon" errors (first stderr line); returns the
/// endpoint it names, if any, and why it failed.
pub fn daemon_unreachable(stderr: &str) -> Option<(Option<String>, String)> {
    if let Some(c) = CANNOT_CONNECT.captures(stderr) {
        return Some((
            Some(c[1].to_string()),
            "nothing answers there (is dockerd running?)".into(),
        ));
    }
    if let Some(c) = PERMISSION.captures(stderr) {
        return Some((
            Some(c[1].to_string()),
            "permission denied (is this user in the docker group?)".into(),
        ));
    }
    // ssh and tcp hosts: docker names the URL it tried, not the host.
    const DURING_CONNECT: &str = "error during connect:";
    let t = stderr.trim_start();
    let head = t.get(..DURING_CONNECT.len())?;
    head.eq_ignore_ascii_case(DURING_CONNECT).then(|| {
        let detail = t[DURING_CONNECT.len()..].trim();
        (None, format!("error during connect ({detail})"))
    })
}

/// Images with their layers: exact per-layer bytes from the inspects'
/// totals along layer chains, or with no inspect, each image one opaque
/// layer of its rounded listed size.
#[derive(Debug, Default)]
pub struct Resolved {
    pub layers: BTreeMap<LayerKey, Layer>,
    pub images: Vec<Image>,
    /// Shared bytes are estimated (see [`segment_sizes`]) or, with no
    /// inspect, double-counted.
    pub approximate: bool,
}

pub fn resolve_images(lines: &[ImageLine], details: Option<&[ImageDetails]>) -> Resolved {
    let mut out = Resolved::default();
    let by_id: BTreeMap<String, &ImageDetails> = details
        .unwrap_or(&[])
        .iter()
        .map(|d| (normalize_id(&d.id), d))
        .collect();
    let parents: BTreeSet<String> = by_id
        .values()
        .filter_map(|d| present(&d.parent).map(normalize_id))
        .collect();
    let mut chains = Vec::new();
    for line in lines {
        let id = normalize_id(&line.id);
        match by_id.get(&id) {
            Some(d) => {
                let mut names: Vec<String> = d
                    .repo_tags
                    .iter()
                    .filter(|t| *t != "<none>:<none>")
                    .cloned()
                    .collect();
                if names.is_empty() {
                    names.extend(line.name());
                }
                let chain = chain_keys(&d.root_fs.layers);
                let size = d.size.max(0) as u64;
                chains.push((chain.clone(), size));
                out.images.push(Image {
                    intermediate: Image::is_intermediate(&names, parents.contains(&id)),
                    read_only: false,
                    id,
                    names,
                    layers: chain,
                    size,
                    // Docker's `Size` is its layers' sum; podman's API adds
                    // metadata, which then sits in the top segment.
                    metadata_bytes: 0,
                    labels: d.config.clone().unwrap_or_default().labels,
                    created: d.created.or(line.created_at),
                });
            }
            None => {
                out.approximate = true;
                let size = size::parse(&line.size)
                    .ok()
                    .and_then(Reading::bytes)
                    .unwrap_or(0);
                let key = format!("image:{id}");
                out.layers.insert(
                    key.clone(),
                    Layer {
                        key: key.clone(),
                        bytes: size,
                    },
                );
                out.images.push(Image {
                    id,
                    names: line.name().into_iter().collect(),
                    layers: vec![key],
                    size,
                    metadata_bytes: 0,
                    labels: Labels::new(),
                    intermediate: false,
                    read_only: false,
                    created: line.created_at,
                });
            }
        }
    }
    let (sizes, approximate) = segment_sizes(&chains);
    out.approximate |= approximate;
    for (key, bytes) in sizes {
        out.layers.insert(key.clone(), Layer { key, bytes });
    }
    out
}

fn to_volumes(
    lines: Vec<VolumeLine>,
    details: Vec<VolumeDetails>,
    dangling: Option<&[String]>,
    sizes: Option<&BTreeMap<String, Reading>>,
    warnings: &Warnings,
) -> Vec<Volume> {
    let mut labels: BTreeMap<String, (Labels, Option<Timestamp>)> = details
        .into_iter()
        .map(|d| (d.name, (d.labels, d.created_at)))
        .collect();
    let dangling: Option<BTreeSet<&str>> = dangling.map(|d| d.iter().map(String::as_str).collect());
    lines
        .into_iter()
        .map(|l| {
            let bytes = match sizes.map(|s| s.get(&l.name)) {
                None => None,
                Some(Some(Reading::Bytes(b))) => Some(*b),
                Some(Some(other)) => {
                    warnings.push(format!(
                        "volume {}: docker reports its size as {other:?}",
                        l.name
                    ));
                    None
                }
                Some(None) => {
                    warnings.push(format!(
                        "volume {}: missing from `docker system df -v`",
                        l.name
                    ));
                    None
                }
            };
            let (labels, created) = labels
                .remove(&l.name)
                .unwrap_or_else(|| (parse_label_list(&l.labels), None));
            Volume {
                in_use: dangling
                    .as_ref()
                    .is_none_or(|d| !d.contains(l.name.as_str())),
                labels,
                created,
                name: l.name,
                mountpoint: l.mountpoint,
                approximate: bytes.is_some(),
                bytes,
                lower_bound: false,
            }
        })
        .collect()
}

mod output;
pub use output::*;

#[cfg(test)]
mod tests;
