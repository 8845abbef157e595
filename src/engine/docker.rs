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

/// One JSON document (docker's inspects print an array).
/// Docker prints `<none>` for a missing repository or tag.
fn present(s: &str) -> Option<&str> {
    (!s.is_empty() && s != "<none>").then_some(s)
}

/// A line of `docker images --format '{{json .}}'`: every field a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageLine {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub tag: String,
    /// Rounded text (`7.38MB`); only used when `docker image inspect` fails.
    #[serde(default)]
    pub size: String,
    /// Go's `String()` form: `2026-11-24 04:33:05 +0000 UTC`.
    #[serde(default, deserialize_with = "crate::timestamp::go_time")]
    pub created_at: Option<Timestamp>,
}

impl ImageLine {
    /// `repository:tag`, or `None` for `<none>`.
    pub fn name(&self) -> Option<String> {
        let repo = present(&self.repository)?;
        Some(match present(&self.tag) {
            Some(tag) => format!("{repo}:{tag}"),
            None => repo.to_string(),
        })
    }
}

/// One element of `docker image inspect`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageDetails {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub repo_tags: Vec<String>,
    /// Set by the legacy builder for each step; empty for pulled or imported images.
    #[serde(default, deserialize_with = "null_as_default")]
    pub parent: String,
    /// Bytes of all layers (podman's Docker API adds the image's metadata).
    pub size: i64,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    #[serde(default)]
    pub config: Option<ImageConfig>,
    #[serde(default, deserialize_with = "crate::timestamp::go_time")]
    pub created: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(rename = "Layers", default, deserialize_with = "null_as_default")]
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfig {
    #[serde(rename = "Labels", default, deserialize_with = "null_as_default")]
    pub labels: Labels,
}

/// A line of `docker ps --format '{{json .}}'`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerLine {
    #[serde(rename = "ID")]
    pub id: String,
    /// Comma-separated when links add names.
    #[serde(default)]
    pub names: String,
    /// The reference it was created from, or an id.
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub state: String,
    /// `k=v,k2=v2`: see [`parse_label_list`].
    #[serde(default)]
    pub labels: String,
    #[serde(default, deserialize_with = "crate::timestamp::go_time")]
    pub created_at: Option<Timestamp>,
}

impl ContainerLine {
    /// The fallback when `docker container inspect` failed: no sizes, labels
    /// split at commas, the image id found by name in `docker images`.
    fn to_container(&self, image_ids: &BTreeMap<String, String>) -> Container {
        let image_id = if is_image_id(&self.image) {
            normalize_id(&self.image)
        } else {
            image_ids
                .get(&self.image)
                .or_else(|| image_ids.get(&format!("{}:latest", self.image)))
                .cloned()
                .unwrap_or_default()
        };
        Container {
            id: self.id.clone(),
            name: self
                .names
                .split(',')
                .next()
                .filter(|n| !n.is_empty())
                .map(String::from)
                .unwrap_or_else(|| self.id.chars().take(12).collect()),
            image: self.image.clone(),
            image_id,
            state: ContainerState::parse(&self.state),
            labels: parse_label_list(&self.labels),
            pod: None,
            infra: false,
            rw_bytes: None,
            lower_bound: false,
            log: None,
            created: self.created_at,
        }
    }
}

fn is_image_id(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `repository:tag` -> image id, from `docker images`.
fn image_names(lines: &[ImageLine]) -> BTreeMap<String, String> {
    lines
        .iter()
        .filter_map(|l| Some((l.name()?, normalize_id(&l.id))))
        .collect()
}

/// One element of `docker container inspect`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerDetails {
    pub id: String,
    /// With docker's leading `/`.
    #[serde(default)]
    pub name: String,
    /// The image id.
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    #[serde(default)]
    pub state: Option<ContainerStateDetails>,
    /// Only with `--size`.
    #[serde(default)]
    pub size_rw: Option<i64>,
    #[serde(default, deserialize_with = "crate::timestamp::go_time")]
    pub created: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// The reference it was created from.
    #[serde(default)]
    pub image: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Labels,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerStateDetails {
    #[serde(default)]
    pub status: String,
}

impl ContainerDetails {
    fn to_container(&self) -> Container {
        let config = self.config.clone().unwrap_or_default();
        let name = self.name.trim_start_matches('/');
        Container {
            id: self.id.clone(),
            name: if name.is_empty() {
                self.id.chars().take(12).collect()
            } else {
                name.to_string()
            },
            image: config.image,
            image_id: normalize_id(&self.image),
            state: ContainerState::parse(self.state.as_ref().map_or("", |s| &s.status)),
            labels: config.labels,
            pod: None,
            infra: false,
            rw_bytes: self.size_rw.and_then(|b| u64::try_from(b).ok()),
            lower_bound: false,
            log: None,
            created: self.created,
        }
    }
}

/// Containers as `docker container inspect` describes them; a negative
/// `SizeRw` is said and not counted, as for podman.
fn containers_from_details(details: &[ContainerDetails], warnings: &Warnings) -> Vec<Container> {
    details
        .iter()
        .map(|c| {
            let mut ctr = c.to_container();
            ctr.rw_bytes = c.size_rw.and_then(|raw| {
                let object = format!("container {}", ctr.name);
                super::engine_bytes("docker", &object, "writable layer", raw, warnings)
            });
            ctr
        })
        .collect()
}

/// A line of `docker volume ls --format '{{json .}}'`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeLine {
    pub name: String,
    #[serde(default)]
    pub mountpoint: String,
    #[serde(default)]
    pub labels: String,
}

/// One element of `docker volume inspect`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeDetails {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Labels,
    #[serde(default, deserialize_with = "crate::timestamp::go_time")]
    pub created_at: Option<Timestamp>,
}

/// Splits docker's `k=v,k2=v2` label list. The format is ambiguous: a value
/// may hold commas, and `weird=a,b=c` is `weird: "a,b=c"` or `weird: "a"`,
/// `b: "c"`. A piece without `=` is taken as part of the previous value; a
/// piece with one starts a new label. Only used when an inspect failed.
pub fn parse_label_list(s: &str) -> Labels {
    let mut labels = Labels::new();
    let mut last: Option<String> = None;
    for piece in s.split(',').filter(|p| !p.is_empty()) {
        match (piece.split_once('='), &last) {
            (Some((k, v)), _) => {
                labels.insert(k.to_string(), v.to_string());
                last = Some(k.to_string());
            }
            (None, Some(k)) => {
                let v = labels.get_mut(k).expect("last key was inserted");
                v.push(',');
                v.push_str(piece);
            }
            (None, None) => {
                labels.insert(piece.to_string(), String::new());
                last = Some(piece.to_string());
            }
        }
    }
    labels
}

/// The `Volumes` of `docker system df -v --format '{{json .}}'` (one JSON
/// object for the whole report): name -> size as printed (`1.2MB`, `0B`, `N/A`).
pub fn parse_df_volume_sizes(text: &str) -> Result<BTreeMap<String, Reading>, String> {
    #[derive(Deserialize)]
    struct Df {
        #[serde(rename = "Volumes", default, deserialize_with = "null_as_default")]
        volumes: Vec<DfVolume>,
    }
    #[derive(Deserialize)]
    struct DfVolume {
        #[serde(rename = "Name")]
        name: String,
        #[serde(rename = "Size")]
        size: String,
    }
    let df: Df = parse_json(text)?;
    df.volumes
        .into_iter()
        .map(|v| {
            let size = size::parse(&v.size).map_err(|e| format!("volume {}: {e}", v.name))?;
            Ok((v.name, size))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // Real output of docker CLI 28.2.2 against dockerd 20.10.24 (Debian 12's
    // docker.io): a base from `docker import`, two `DOCKER_BUILDKIT=0 docker
    // build`s FROM it with a LABEL and a COPY each (the LABEL step leaves an
    // intermediate image).
    const IMAGES: &str = r#"{"Containers":"N/A","CreatedAt":"2026-11-24 04:33:05 +0000 UTC","CreatedSince":"1 second ago","Digest":"\u003cnone\u003e","ID":"sha256:234f1ce2aeaca364b0785197cfffd4544db076108edd99304748b236af90fa8f","Repository":"local/app2","SharedSize":"N/A","Size":"8.38MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"8.382MB"}
{"Containers":"N/A","CreatedAt":"2026-11-24 04:33:05 +0000 UTC","CreatedSince":"1 second ago","Digest":"\u003cnone\u003e","ID":"sha256:a0ed2f3e2517abaca41a2ef40bf72c25cd5e4842851db9fe0f0f3de564fd4a7b","Repository":"\u003cnone\u003e","SharedSize":"N/A","Size":"5.38MB","Tag":"\u003cnone\u003e","UniqueSize":"N/A","VirtualSize":"5.382MB"}
{"Containers":"N/A","CreatedAt":"2026-11-24 04:33:05 +0000 UTC","CreatedSince":"1 second ago","Digest":"\u003cnone\u003e","ID":"sha256:2e9df7bb614b9a840509cbdb35195c5cbf5948b1b2dff6e3574e72c9c82b2c4c","Repository":"local/app1","SharedSize":"N/A","Size":"7.38MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"7.382MB"}
{"Containers":"N/A","CreatedAt":"2026-11-24 04:33:04 +0000 UTC","CreatedSince":"2 seconds ago","Digest":"\u003cnone\u003e","ID":"sha256:e52ee721ca76a317a9d5426fddeeea51b51b267b873619339a737dfe58c09448","Repository":"local/base","SharedSize":"N/A","Size":"5.38MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"5.382MB"}
"#;

    // `docker image inspect` of the above (app2's intermediate left out;
    // fields that play no part cut).
    const IMAGE_INSPECT: &str = r#"[{"Id": "sha256:e52ee721ca76a317a9d5426fddeeea51b51b267b873619339a737dfe58c09448", "RepoTags": ["local/base:1"], "RepoDigests": [], "Parent": "", "Size": 5382263, "VirtualSize": 5382263, "RootFS": {"Type": "layers", "Layers": ["sha256:846e538340cf051b2786654f58589a6422e86ac09586f44aecc0a16f83f94546"]}, "Config": {"Labels": null}},
 {"Id": "sha256:2e9df7bb614b9a840509cbdb35195c5cbf5948b1b2dff6e3574e72c9c82b2c4c", "RepoTags": ["local/app1:1"], "RepoDigests": [], "Parent": "sha256:a0ed2f3e2517abaca41a2ef40bf72c25cd5e4842851db9fe0f0f3de564fd4a7b", "Size": 7382263, "VirtualSize": 7382263, "RootFS": {"Type": "layers", "Layers": ["sha256:846e538340cf051b2786654f58589a6422e86ac09586f44aecc0a16f83f94546", "sha256:256199b4b42ca1dde8dd3995edcb57b53c0dce02c56ae9c5b43bbcb37802c4eb"]}, "Config": {"Labels": {"app": "1"}}},
 {"Id": "sha256:a0ed2f3e2517abaca41a2ef40bf72c25cd5e4842851db9fe0f0f3de564fd4a7b", "RepoTags": [], "RepoDigests": [], "Parent": "sha256:e52ee721ca76a317a9d5426fddeeea51b51b267b873619339a737dfe58c09448", "Size": 5382263, "VirtualSize": 5382263, "RootFS": {"Type": "layers", "Layers": ["sha256:846e538340cf051b2786654f58589a6422e86ac09586f44aecc0a16f83f94546"]}, "Config": {"Labels": {"app": "1"}}},
 {"Id": "sha256:234f1ce2aeaca364b0785197cfffd4544db076108edd99304748b236af90fa8f", "RepoTags": ["local/app2:1"], "Parent": "sha256:5a4262bf41960678eab10ab65c7d7bccf2e79b4085763683e34cdfc72f71b0f7", "Size": 8382263, "RootFS": {"Type": "layers", "Layers": ["sha256:846e538340cf051b2786654f58589a6422e86ac09586f44aecc0a16f83f94546", "sha256:f0248d120eadb51e1617c3d2a55decaa04ab3058d1be0143e5afe9bdc5f5a077"]}, "Config": {"Labels": {"app": "2"}}}]"#;

    const PS: &str = r#"{"Command":"\"sh -c 'head -c 500000 /dev/urandom \u003e /written; head -c 1200000 /dev/urandom \u003e /data/blob'\"","CreatedAt":"2026-11-24 04:33:11 +0000 UTC","ID":"93d5860a43f94df4886d8e9f6f3718828cd8ebb7e7e52f32584e958efb23bf94","Image":"local/app1:1","Labels":"app=1,com.docker.compose.project=proj,weird=a,b=c","LocalVolumes":"1","Mounts":"data","Names":"written","Networks":"none","Platform":null,"Ports":"","RunningFor":"Less than a second ago","Size":"500kB (virtual 7.88MB)","State":"exited","Status":"Exited (0) Less than a second ago"}
"#;

    // `docker container inspect --size written`, cut to the fields that matter.
    const CONTAINER_INSPECT: &str = r#"[{"Id": "93d5860a43f94df4886d8e9f6f3718828cd8ebb7e7e52f32584e958efb23bf94", "Created": "2026-11-24T04:33:11.008390902Z", "Path": "sh", "Image": "sha256:2e9df7bb614b9a840509cbdb35195c5cbf5948b1b2dff6e3574e72c9c82b2c4c", "Name": "/written", "Driver": "overlay2", "SizeRw": 500000, "SizeRootFs": 7882263, "Mounts": [{"Type": "volume", "Name": "data", "Source": "/tmp/dexp/data/volumes/data/_data", "Destination": "/data", "Driver": "local", "Mode": "z", "RW": true, "Propagation": ""}], "State": {"Status": "exited", "Running": false, "ExitCode": 0}, "Config": {"Hostname": "93d5860a43f9", "Image": "local/app1:1", "Labels": {"app": "1", "com.docker.compose.project": "proj", "weird": "a,b=c"}}}]"#;

    const VOLUMES: &str = r#"{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"owner=team","Links":"N/A","Mountpoint":"/tmp/dexp/data/volumes/data/_data","Name":"data","Scope":"local","Size":"N/A","Status":"N/A"}
{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"","Links":"N/A","Mountpoint":"/tmp/dexp/data/volumes/spare/_data","Name":"spare","Scope":"local","Size":"N/A","Status":"N/A"}
"#;

    // `docker system df -v --format '{{json .}}'`: one object, no newline;
    // Images and Containers cut.
    const DF_V: &str = r#"{"Images":[],"Containers":[],"Volumes":[{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"owner=team","Links":"1","Mountpoint":"/tmp/dexp/data/volumes/data/_data","Name":"data","Scope":"local","Size":"1.2MB","Status":"N/A"},{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"","Links":"0","Mountpoint":"/tmp/dexp/data/volumes/spare/_data","Name":"spare","Scope":"local","Size":"0B","Status":"N/A"}],"BuildCache":[]}"#;

    #[test]
    fn image_lines_parse_and_none_is_no_name() {
        let lines: Vec<ImageLine> = parse_json_lines(IMAGES).unwrap();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].name().as_deref(), Some("local/app2:1"));
        assert_eq!(lines[1].name(), None);
        assert_eq!(
            size::parse(&lines[0].size).unwrap(),
            Reading::Bytes(8_380_000)
        );
    }

    #[test]
    fn inspected_images_give_exact_layers_and_flag_intermediates() {
        let lines: Vec<ImageLine> = parse_json_lines(IMAGES).unwrap();
        let details: Vec<ImageDetails> = parse_json(IMAGE_INSPECT).unwrap();
        // app2's intermediate was left out of the inspect: it counts whole.
        let lines: Vec<ImageLine> = lines
            .into_iter()
            .filter(|l| !l.id.contains("5a4262bf"))
            .collect();
        let r = resolve_images(&lines, Some(&details));
        assert!(!r.approximate);
        let by_name = |n: &str| r.images.iter().find(|i| i.names == [n]).unwrap();
        let base = by_name("local/base:1");
        let app1 = by_name("local/app1:1");
        let app2 = by_name("local/app2:1");
        assert_eq!(base.id.len(), 64, "sha256: prefix stripped");
        assert_eq!(r.layers[&base.layers[0]].bytes, 5_382_263);
        assert_eq!(r.layers[&app1.layers[1]].bytes, 2_000_000);
        assert_eq!(r.layers[&app2.layers[1]].bytes, 3_000_000);
        assert_eq!(app1.layers[0], base.layers[0]);
        assert_eq!(app1.labels["app"], "1");
        let inter = r.images.iter().find(|i| i.names.is_empty()).unwrap();
        assert!(inter.intermediate && !inter.dangling());
        let total: u64 = r.layers.values().map(|l| l.bytes).sum();
        assert_eq!(total, 10_382_263); // dockerd's own /system/df LayersSize
    }

    #[test]
    fn without_inspect_images_count_whole_at_their_rounded_size() {
        let lines: Vec<ImageLine> = parse_json_lines(IMAGES).unwrap();
        let r = resolve_images(&lines, None);
        assert!(r.approximate);
        assert_eq!(r.images.len(), 4);
        let app1 = r
            .images
            .iter()
            .find(|i| i.names == ["local/app1:1"])
            .unwrap();
        assert_eq!(r.layers[&app1.layers[0]].bytes, 7_380_000);
    }

    #[test]
    fn a_negative_size_rw_is_said_and_not_counted() {
        let text = CONTAINER_INSPECT.replacen("\"SizeRw\": ", "\"SizeRw\": -", 1);
        assert_ne!(text, CONTAINER_INSPECT);
        let d: Vec<ContainerDetails> = parse_json(&text).unwrap();
        let w = Warnings::new();
        let c = &containers_from_details(&d, &w)[0];
        assert_eq!(c.rw_bytes, None);
        let said = w.to_vec();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("container written: docker reports its writable layer as -"),
            "{said:?}"
        );
    }

    #[test]
    fn container_inspect_gives_exact_labels_image_id_and_rw_bytes() {
        let d: Vec<ContainerDetails> = parse_json(CONTAINER_INSPECT).unwrap();
        let c = d[0].to_container();
        assert_eq!(c.name, "written");
        assert_eq!(c.image, "local/app1:1");
        assert_eq!(
            c.image_id,
            "2e9df7bb614b9a840509cbdb35195c5cbf5948b1b2dff6e3574e72c9c82b2c4c"
        );
        assert_eq!(c.state, ContainerState::Exited);
        assert_eq!(c.rw_bytes, Some(500_000));
        assert_eq!(c.labels["com.docker.compose.project"], "proj");
        assert_eq!(c.labels["weird"], "a,b=c");
    }

    #[test]
    fn ps_fallback_resolves_the_image_and_splits_labels_at_commas() {
        let lines: Vec<ContainerLine> = parse_json_lines(PS).unwrap();
        let images: Vec<ImageLine> = parse_json_lines(IMAGES).unwrap();
        let c = lines[0].to_container(&image_names(&images));
        assert_eq!(c.name, "written");
        assert_eq!(
            c.image_id,
            "2e9df7bb614b9a840509cbdb35195c5cbf5948b1b2dff6e3574e72c9c82b2c4c"
        );
        assert_eq!(c.rw_bytes, None);
        assert_eq!(c.labels["com.docker.compose.project"], "proj");
        // The ambiguity the inspect avoids: `weird=a,b=c` reads as two labels.
        assert_eq!(c.labels["weird"], "a");
        assert_eq!(c.labels["b"], "c");
        // The `ps -s` size, for reference: rounded to three digits.
        let size: serde_json::Value = serde_json::from_str(PS.trim()).unwrap();
        let a = size::parse_annotated(size["Size"].as_str().unwrap()).unwrap();
        assert_eq!(a.size, Reading::Bytes(500_000));
        assert_eq!(a.virtual_size, Some(Reading::Bytes(7_880_000)));
    }

    #[test]
    fn label_list_keeps_comma_pieces_without_equals_in_the_value() {
        let l = parse_label_list("a=1,b=x,y,c=");
        assert_eq!(l["a"], "1");
        assert_eq!(l["b"], "x,y");
        assert_eq!(l["c"], "");
        assert!(parse_label_list("").is_empty());
    }

    #[test]
    fn volumes_take_sizes_from_df_and_labels_from_inspect() {
        let lines: Vec<VolumeLine> = parse_json_lines(VOLUMES).unwrap();
        let details: Vec<VolumeDetails> = parse_json(
            r#"[{"CreatedAt": "2026-11-24T04:33:11Z", "Driver": "local", "Labels": {"owner": "team"}, "Mountpoint": "/tmp/dexp/data/volumes/data/_data", "Name": "data", "Options": null, "Scope": "local"},
                {"CreatedAt": "2026-11-24T04:33:10Z", "Driver": "local", "Labels": null, "Mountpoint": "/tmp/dexp/data/volumes/spare/_data", "Name": "spare", "Options": null, "Scope": "local"}]"#,
        )
        .unwrap();
        let sizes = parse_df_volume_sizes(DF_V).unwrap();
        let w = Warnings::new();
        let v = to_volumes(
            lines,
            details,
            Some(&["spare".to_string()]),
            Some(&sizes),
            &w,
        );
        assert!(w.is_empty(), "{:?}", w.to_vec());
        assert_eq!(v[0].name, "data");
        assert_eq!(v[0].bytes, Some(1_200_000));
        assert!(v[0].approximate && v[0].in_use);
        assert_eq!(v[0].labels["owner"], "team");
        assert_eq!(v[0].mountpoint, "/tmp/dexp/data/volumes/data/_data");
        assert_eq!(v[1].bytes, Some(0));
        assert!(!v[1].in_use);
        assert_eq!(
            v[0].created.map(|t| t.rfc3339()).as_deref(),
            Some("2026-11-24T04:33:11Z")
        );
    }

    #[test]
    fn creation_times_from_docker_lines_and_inspects() {
        // Go's String() form in `--format '{{json .}}'` lines, RFC 3339
        // with nanoseconds in inspects: the same second.
        let lines: Vec<ImageLine> = parse_json_lines(IMAGES).unwrap();
        let r = resolve_images(&lines, None);
        let app2 = r
            .images
            .iter()
            .find(|i| i.names == ["local/app2:1"])
            .unwrap();
        assert_eq!(
            app2.created.map(|t| t.rfc3339()).as_deref(),
            Some("2026-11-24T04:33:05Z")
        );
        let d: Vec<ContainerDetails> = parse_json(CONTAINER_INSPECT).unwrap();
        let from_inspect = d[0].to_container().created;
        let ps: Vec<ContainerLine> = parse_json_lines(PS).unwrap();
        let from_ps = ps[0].to_container(&BTreeMap::new()).created;
        assert_eq!(
            from_inspect.map(|t| t.rfc3339()).as_deref(),
            Some("2026-11-24T04:33:11Z")
        );
        assert_eq!(from_inspect, from_ps);
    }

    #[test]
    fn df_volume_sizes_from_podmans_docker_api() {
        // Against `podman system service` 4.3.1: no mountpoint, no driver.
        let text = r#"{"Images":[],"Containers":[],"Volumes":[{"Availability":"N/A","Driver":"","Group":"N/A","Labels":"","Links":"0","Mountpoint":"","Name":"vol1","Scope":"local","Size":"0B","Status":"N/A"}],"BuildCache":[]}"#;
        let sizes = parse_df_volume_sizes(text).unwrap();
        assert_eq!(sizes["vol1"], Reading::Bytes(0));
        let bad = r#"{"Volumes":[{"Name":"v","Size":"lots"}]}"#;
        assert!(parse_df_volume_sizes(bad).unwrap_err().contains("volume v"));
    }

    #[test]
    fn daemon_errors_name_the_socket() {
        let (at, why) = daemon_unreachable(
            "Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?",
        )
        .unwrap();
        assert_eq!(at.as_deref(), Some("unix:///nonexistent.sock"));
        assert!(why.contains("nothing answers"));
        let (at, _) = daemon_unreachable(
            "Cannot connect to the Docker daemon at tcp://127.0.0.1:1. Is the docker daemon running?",
        )
        .unwrap();
        assert_eq!(at.as_deref(), Some("tcp://127.0.0.1:1"));
        let (at, why) = daemon_unreachable(r#"permission denied while trying to connect to the Docker daemon socket at unix:///tmp/dexp/d.sock: Get "http://%2Ftmp%2Fdexp%2Fd.sock/v1.50/containers/json": dial unix /tmp/dexp/d.sock: connect: permission denied"#).unwrap();
        assert_eq!(at.as_deref(), Some("unix:///tmp/dexp/d.sock"));
        assert!(why.contains("permission denied"));
        let (at, why) = daemon_unreachable(r#"error during connect: Get "http://256.1.1.1:2375/v1.50/containers/json": dial tcp: lookup 256.1.1.1: no such host"#).unwrap();
        assert_eq!(at, None);
        assert!(why.contains("no such host"));
        assert!(daemon_unreachable("Error: No such image: abc").is_none());
    }

    /// A stand-in `docker` that prints `stdout` and `stderr` and exits with `code`.
    fn fake_docker(dir: &std::path::Path, stdout: &str, stderr: &str, code: i32) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("docker");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nprintf '%s' '{stdout}'\nprintf '%s\\n' '{stderr}' >&2\nexit {code}\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    fn runner() -> Runner {
        Runner::live(Duration::from_secs(10))
    }

    #[test]
    fn a_plugin_runs_config_is_docker_global_flag() {
        let docker = Docker::new(runner(), "docker", Some("unix:///x.sock"), None)
            .with_config(Some(std::path::Path::new("/home/u/.docker")));
        assert_eq!(
            docker.cli.argv(&["ps"]),
            [
                "docker",
                "--config",
                "/home/u/.docker",
                "-H",
                "unix:///x.sock",
                "ps"
            ]
        );
    }

    #[test]
    fn unparseable_output_is_an_error_naming_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let bin = fake_docker(dir.path(), "REPOSITORY TAG IMAGE ID", "", 0);
        let docker = Docker::new(runner(), &bin, Some("unix:///x.sock"), None);
        let err = docker.images().unwrap_err().to_string();
        assert!(
            err.contains("-H unix:///x.sock images -a --no-trunc --format '{{json .}}'`"),
            "{err}"
        );
        assert!(err.contains("not what docker prints"), "{err}");
        let w = Warnings::new();
        let c = docker.collect(
            Needs {
                images: true,
                ..Needs::default()
            },
            &w,
        );
        assert!(c.failed.images);
        assert!(
            w.to_vec()
                .iter()
                .any(|l| l.contains("images -a --no-trunc")),
            "{:?}",
            w.to_vec()
        );
    }

    #[test]
    fn unreachable_daemon_is_one_warning_naming_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let bin = fake_docker(
            dir.path(),
            "",
            "Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?",
            1,
        );
        let docker = Docker::new(runner(), &bin, None, None);
        let w = Warnings::new();
        let c = docker.collect(Needs::all(), &w);
        assert!(!c.reachable);
        assert!(c.failed.images && c.failed.containers && c.failed.volumes);
        let lines = w.to_vec();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("the docker daemon at unix:///nonexistent.sock is unreachable"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn missing_docker_says_how_to_install_it_once() {
        let docker = Docker::new(runner(), "no-such-docker-xyz", None, None);
        let w = Warnings::new();
        let c = docker.collect(Needs::all(), &w);
        assert!(!c.reachable);
        let lines = w.to_vec();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with(
            "could not find `no-such-docker-xyz` on PATH; is docker installed? (Debian/Ubuntu: apt-get install -y docker.io"
        ));
    }
}
