//! podman as a source: builds argvs, runs them through the [`Runner`], and
//! parses their output once into typed structs.
//!
//! Every call costs ~50 ms of process start on podman 4.3 (DESIGN.md), so
//! each view asks for the fewest calls that give exact bytes, and the caller
//! runs independent calls at the same time.

use std::collections::BTreeMap;

use once_cell::sync::Lazy;
use regex::Regex;
use serde::Deserialize;
use thiserror::Error;

use super::command::{null_as_default, parse_json, EngineCli};
use super::logs::LogConfig;
use super::{ContainerState, Labels, Pod};
use crate::runner::{RunError, Runner};
use crate::size;

const INSTALL_HINT: &str = "is podman installed? (Debian/Ubuntu: apt-get install -y podman)";

#[derive(Debug, Error)]
pub enum PodmanError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("`{argv}` printed output that is not what podman 4 prints: {message}")]
    Parse { argv: String, message: String },
    /// The store kept changing under podman's own reads.
    #[error("{0}")]
    Unstable(String),
}

/// How to reach podman: the binary and the connection flags passed to it.
#[derive(Debug, Clone)]
pub struct Podman {
    cli: EngineCli,
    remote: bool,
    cli_only: bool,
}

impl Podman {
    pub fn new(runner: Runner, binary: &str, connection: Option<&str>, url: Option<&str>) -> Self {
        let mut cli = EngineCli::new(runner, binary, INSTALL_HINT);
        if let Some(c) = connection {
            cli = cli.global("--connection", c);
        }
        if let Some(u) = url {
            cli = cli.global("--url", u);
        }
        let remote = connection.is_some()
            || url.is_some()
            || std::env::var_os("CONTAINER_HOST").is_some()
            || std::env::var_os("CONTAINER_CONNECTION").is_some();
        Podman {
            cli,
            remote,
            cli_only: false,
        }
    }

    /// Never read the local store's files: ask podman for everything, as
    /// over a remote connection (slower; the reference the fast path is
    /// tested against).
    pub fn cli_only(mut self, yes: bool) -> Self {
        self.cli_only = yes;
        self
    }

    /// True when the local store's own files may be read instead of asking podman.
    pub fn reads_store(&self) -> bool {
        !self.remote && !self.cli_only
    }

    /// True when podman talks to another machine's store, whose files we
    /// cannot read.
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    pub fn runner(&self) -> &Runner {
        self.cli.runner()
    }

    /// The argv that runs `args` on this podman (binary, connection, url),
    /// for commands a user or `prune` runs.
    pub fn command(&self, args: &[&str]) -> Vec<String> {
        self.argv(args)
    }

    fn argv(&self, args: &[&str]) -> Vec<String> {
        self.cli.argv(args)
    }

    fn call(&self, args: &[&str]) -> Result<(String, String), PodmanError> {
        let a = self.cli.run(args)?;
        Ok((a.argv, a.stdout))
    }

    fn call_json<T: serde::de::DeserializeOwned>(&self, args: &[&str]) -> Result<T, PodmanError> {
        Ok(self.call_json_stderr(args)?.0)
    }

    /// Like [`Self::call_json`], also returning what podman printed on
    /// stderr though it exited 0.
    fn call_json_stderr<T: serde::de::DeserializeOwned>(
        &self,
        args: &[&str],
    ) -> Result<(T, String), PodmanError> {
        let a = self.cli.run(args)?;
        let value = parse_json(&a.stdout).map_err(|message| PodmanError::Parse {
            argv: a.argv,
            message,
        })?;
        Ok((value, a.stderr))
    }

    /// `podman images -a --format json`: every image including build
    /// intermediates, with exact `Size`.
    pub fn images(&self) -> Result<Vec<ImageEntry>, PodmanError> {
        let raw: Vec<ImageEntry> = self.call_json(&["images", "-a", "--format", "json"])?;
        // Newer podman lists an image once per tag: keep one entry per id.
        let mut by_id: BTreeMap<String, ImageEntry> = BTreeMap::new();
        for img in raw {
            by_id
                .entry(img.id.clone())
                .and_modify(|seen| {
                    for n in &img.names {
                        if !seen.names.contains(n) {
                            seen.names.push(n.clone());
                        }
                    }
                })
                .or_insert(img);
        }
        Ok(by_id.into_values().collect())
    }

    /// `podman ps -a --format json`, with `--size` for writable-layer bytes
    /// (slower: podman walks every container's layer).
    ///
    /// podman 4.3 prints `Getting rw size for "ID": ...` on stderr, reports
    /// that container's size as 0 and still exits 0: such stderr comes back
    /// as [`SizeTrouble`], so those sizes are left unmeasured, not 0.
    pub fn containers(&self, with_size: bool) -> Result<ContainerList, PodmanError> {
        let mut args = vec!["ps", "-a"];
        if with_size {
            args.push("--size");
        }
        args.extend(["--format", "json"]);
        let (containers, stderr): (Vec<ContainerEntry>, String) = self.call_json_stderr(&args)?;
        let trouble = with_size
            .then(|| SizeTrouble::parse(&stderr, &containers))
            .flatten()
            .map(|mut t| {
                t.argv = crate::runner::Argv(self.argv(&args)).to_string();
                t
            });
        Ok(ContainerList {
            containers,
            size_trouble: trouble,
        })
    }

    /// Ids of the containers that mount volume NAME: `ps` itself prints
    /// mount destinations only, its `volume=` filter knows the names.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>, PodmanError> {
        let filter = format!("volume={name}");
        let args = ["ps", "-a", "--filter", &filter, "--format", "json"];
        let list: Vec<ContainerEntry> = self.call_json(&args)?;
        Ok(list.into_iter().map(|c| c.id).collect())
    }

    /// `podman ps -a --size` for just these containers (one call; podman ORs
    /// repeated `id` filters), so the detail view measures only what it shows.
    pub fn container_sizes(&self, ids: &[String]) -> Result<BTreeMap<String, u64>, PodmanError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let filters: Vec<String> = ids.iter().map(|id| format!("id={id}")).collect();
        let mut args = vec!["ps", "-a", "--size"];
        for f in &filters {
            args.extend(["--filter", f.as_str()]);
        }
        args.extend(["--format", "json"]);
        let (raw, stderr): (Vec<ContainerEntry>, String) = self.call_json_stderr(&args)?;
        let trouble = SizeTrouble::parse(&stderr, &raw);
        Ok(raw
            .into_iter()
            // A size podman said it could not get is left unmeasured, not 0.
            .filter(|c| trouble.as_ref().is_none_or(|t| !t.affects(&c.id)))
            // A negative size (an engine bug) is left unmeasured, not 0.
            .filter_map(|c| Some((c.id, u64::try_from(c.size?.rw_size).ok()?)))
            .collect())
    }

    /// `podman system connection list --format json`: the configured remote
    /// connections.
    /// The client's version, as `5.4.2`.
    pub fn version(&self) -> Result<String, PodmanError> {
        let v: VersionEntry = self.call_json(&["version", "--format", "json"])?;
        Ok(v.client.version)
    }

    pub fn connections(&self) -> Result<Vec<ConnectionEntry>, PodmanError> {
        self.call_json(&["system", "connection", "list", "--format", "json"])
    }

    /// `podman volume ls --format json`.
    pub fn volumes(&self) -> Result<Vec<VolumeEntry>, PodmanError> {
        self.call_json(&["volume", "ls", "--format", "json"])
    }

    /// Names of volumes no container references (`podman volume prune`'s set).
    pub fn dangling_volumes(&self) -> Result<Vec<String>, PodmanError> {
        let entries: Vec<VolumeEntry> = self.call_json(&[
            "volume",
            "ls",
            "--filter",
            "dangling=true",
            "--format",
            "json",
        ])?;
        Ok(entries.into_iter().map(|v| v.name).collect())
    }

    /// `podman pod ps --format json`.
    pub fn pods(&self) -> Result<Vec<Pod>, PodmanError> {
        let raw: Vec<PodEntry> = self.call_json(&["pod", "ps", "--format", "json"])?;
        Ok(raw
            .into_iter()
            .map(|p| Pod {
                id: p.id,
                name: p.name,
                labels: p.labels.unwrap_or_default(),
            })
            .collect())
    }

    /// `podman image inspect ID...` in one call: each image's diff ids,
    /// history and size, read at one moment. An image removed since it was
    /// listed makes podman exit 125 with `image not known`, printing the
    /// others or (when it was among the last) nothing: the ids it names come
    /// back in [`Inspected::gone`] and the rest are asked again.
    pub fn inspect_images(&self, ids: &[String]) -> Result<Inspected, PodmanError> {
        let mut ids = ids.to_vec();
        let mut gone: Vec<String> = Vec::new();
        for _ in 0..3 {
            if ids.is_empty() {
                return Ok(Inspected {
                    images: Vec::new(),
                    gone,
                });
            }
            let mut args = vec!["image", "inspect", "--format", "json"];
            args.extend(ids.iter().map(String::as_str));
            let (argv, out) = self.cli.run_any(&args)?;
            let parse = |text: &str| {
                parse_json::<Vec<InspectEntry>>(text).map_err(|message| PodmanError::Parse {
                    argv: argv.clone(),
                    message,
                })
            };
            if out.exit_code == Some(0) {
                return Ok(Inspected {
                    images: parse(&out.stdout)?,
                    gone,
                });
            }
            // Only "not known" is a removal; anything else is podman failing.
            let lines: Vec<&str> = out
                .stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect();
            if lines.is_empty() || !lines.iter().all(|l| l.contains("image not known")) {
                return Err(crate::runner::Runner::failure(&out).into());
            }
            if let Ok(images) = parse(&out.stdout) {
                let found: std::collections::BTreeSet<&str> =
                    images.iter().map(|i| i.id.as_str()).collect();
                gone.extend(
                    ids.iter()
                        .filter(|id| !found.contains(id.as_str()))
                        .cloned(),
                );
                return Ok(Inspected { images, gone });
            }
            let named: Vec<String> = ids
                .iter()
                .filter(|id| lines.iter().any(|l| l.contains(id.as_str())))
                .cloned()
                .collect();
            if named.is_empty() {
                return Err(crate::runner::Runner::failure(&out).into());
            }
            ids.retain(|id| !named.contains(id));
            gone.extend(named);
        }
        Err(PodmanError::Unstable(
            "`podman image inspect`: images kept disappearing while they were inspected (3 attempts)"
                .into(),
        ))
    }

    /// Each container's log driver and file, for the CLI path: `podman ps
    /// -a -q` for the ids (`container inspect` has no `--all`), then one
    /// `container inspect` of them all; `podman version` at the same time
    /// says whether `ps --size` already counts the log (see
    /// [`rw_size_counts_userdata`]). `ids` narrows it to some containers.
    pub fn container_logs(&self, ids: Option<&[String]>) -> Result<CliLogs, PodmanError> {
        let (version, inspected) = std::thread::scope(|s| {
            let version =
                s.spawn(|| self.call_json::<VersionEntry>(&["version", "--format", "json"]));
            let inspected = match ids {
                Some(ids) => self.inspect_containers(ids),
                None => self
                    .call(&["ps", "-a", "-q", "--no-trunc"])
                    .and_then(|(_, out)| {
                        let ids: Vec<String> = out.split_whitespace().map(String::from).collect();
                        self.inspect_containers(&ids)
                    }),
            };
            (
                version.join().expect("podman calls do not panic"),
                inspected,
            )
        });
        let inspected = inspected?;
        let in_userdata = |c: &ContainerInspectEntry| {
            !c.static_dir.is_empty()
                && std::path::Path::new(&c.host_config.log_config.path).starts_with(&c.static_dir)
        };
        // The version matters only for a log inside the container's userdata.
        let counts = if inspected.iter().any(in_userdata) {
            let version = version?;
            let server = version.server.as_ref().unwrap_or(&version.client);
            rw_size_counts_userdata(&server.version)
        } else {
            false
        };
        Ok(CliLogs {
            configs: inspected
                .into_iter()
                .map(|c| {
                    let counted_in_rw = counts && in_userdata(&c);
                    let log = c.host_config.log_config;
                    let config = LogConfig {
                        driver: log.driver,
                        path: log.path,
                        counted_in_rw,
                    };
                    (c.id, config)
                })
                .collect(),
        })
    }

    /// `podman container inspect ID...`; a container removed since it was
    /// listed is left out, as `inspect_images` does.
    fn inspect_containers(
        &self,
        ids: &[String],
    ) -> Result<Vec<ContainerInspectEntry>, PodmanError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["container", "inspect", "--format", "json"];
        args.extend(ids.iter().map(String::as_str));
        let (argv, out) = self.cli.run_any(&args)?;
        let gone_only = out
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.contains("no such container"));
        if out.exit_code != Some(0) && (out.stderr.trim().is_empty() || !gone_only) {
            return Err(crate::runner::Runner::failure(&out).into());
        }
        if out.stdout.trim().is_empty() && out.exit_code != Some(0) {
            return Ok(Vec::new());
        }
        parse_json(&out.stdout).map_err(|message| PodmanError::Parse { argv, message })
    }

    /// `podman history --format json ID`: one entry per history step, top
    /// first; `size` is the diff size of the step's layer as stored (0 for
    /// steps that made no layer).
    pub fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, PodmanError> {
        self.call_json(&["history", "--format", "json", id])
    }

    /// `podman system df -v`: on 4.3 only text (`--format` is ignored), the
    /// one remote-safe source of volume sizes and links.
    pub fn system_df_verbose(&self) -> Result<DfVerbose, PodmanError> {
        let (argv, stdout) = self.call(&["system", "df", "-v"])?;
        parse_df_verbose(&stdout).map_err(|message| PodmanError::Parse { argv, message })
    }
}

mod output;
pub use output::*;

#[cfg(test)]
mod tests;
