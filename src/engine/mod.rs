//! Container engines as a source of data: what images, layers, containers and
//! volumes exist, with exact byte counts. Sources never print and never decide.

pub mod build_cache;
pub mod collect;
pub mod command;
pub mod docker;
pub mod layers;
pub mod libpod;
pub mod local;
pub mod logs;
pub mod metadata;
pub mod podman;
pub mod resolve;
pub mod store;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::timestamp::Timestamp;

/// Identifies one layer: the same diff on a different parent chain is a
/// different layer on disk, so ids are chain positions, not diff digests.
pub type LayerKey = String;

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    pub key: LayerKey,
    /// Uncompressed bytes of the layer's diff as stored.
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Image {
    pub id: String,
    /// `repository:tag` names; empty for dangling images and build intermediates.
    pub names: Vec<String>,
    /// Bottom to top.
    pub layers: Vec<LayerKey>,
    /// The engine's own figure: all layers plus the image's metadata.
    pub size: u64,
    /// Bytes that belong to this image alone besides its layers (config,
    /// manifests, signatures): `size` minus the layers.
    pub metadata_bytes: u64,
    pub labels: Labels,
    /// True when podman hides it from `podman images` (it has no name and is
    /// the parent of another image): a build step, not a user's image.
    pub intermediate: bool,
    /// From an additional (read-only) image store: on this disk, but no
    /// prune here frees it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// As podman's `Created`; `None` when the engine does not say.
    pub created: Option<Timestamp>,
}

impl Image {
    /// The one image-class rule, for every engine and path: a build
    /// intermediate has no name and is another image's parent. Each engine
    /// gives its own parent relation: podman's `ParentId` (c/common's layer
    /// tree), the same rule applied to the store's records
    /// ([`layers::has_child`]), docker's legacy-builder `Parent`.
    pub fn is_intermediate(names: &[String], is_parent: bool) -> bool {
        names.is_empty() && is_parent
    }

    /// No name and nobody's parent: `podman image prune` removes it.
    pub fn dangling(&self) -> bool {
        self.names.is_empty() && !self.intermediate
    }

    /// Repository part of each name (`localhost/app:1` -> `localhost/app`).
    pub fn repositories(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| repository_of(n))
    }
}

/// An engine's own byte count as a figure: a negative one (an engine bug)
/// is a value to report, not to add, on every engine. `what` names the
/// object and the quantity ("container web", "writable layer").
pub fn engine_bytes(
    engine: &str,
    object: &str,
    quantity: &str,
    raw: i64,
    warnings: &crate::Warnings,
) -> Option<u64> {
    let bytes = u64::try_from(raw).ok();
    if bytes.is_none() {
        warnings.push(format!(
            "{object}: {engine} reports its {quantity} as {raw} bytes; not counted"
        ));
    }
    bytes
}

/// Strips the tag (and digest) from an image reference, leaving a registry
/// port alone (`host:5000/app:1` -> `host:5000/app`).
pub fn repository_of(name: &str) -> &str {
    let name = name.split('@').next().unwrap_or(name);
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(colon) => &name[..slash + colon],
        None => name,
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Running,
    Paused,
    #[default]
    Created,
    Exited,
    Stopped,
    /// In containers/storage but not podman's: a buildah working container
    /// or an interrupted build. `podman ps --external` lists it; `podman
    /// container prune` leaves it.
    External,
    Other,
}

impl ContainerState {
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "running" => Self::Running,
            "paused" => Self::Paused,
            "created" | "configured" | "initialized" => Self::Created,
            "exited" => Self::Exited,
            "stopped" | "stopping" => Self::Stopped,
            _ => Self::Other,
        }
    }

    /// Running or paused containers hold their writable layer; `podman
    /// container prune` removes the others.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Running | Self::Paused)
    }

    /// `podman container prune` removes it.
    pub fn is_prunable(self) -> bool {
        !self.is_active() && self != Self::External
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Created => "created",
            Self::Exited => "exited",
            Self::Stopped => "stopped",
            Self::External => "external",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// The image reference it was created from, as podman prints it.
    pub image: String,
    pub image_id: String,
    pub state: ContainerState,
    pub labels: Labels,
    pub pod: Option<String>,
    pub infra: bool,
    /// Writable-layer bytes; `None` when not measured (the overview never asks).
    pub rw_bytes: Option<u64>,
    /// Its size was asked for and could not be had in full (a walk error,
    /// a missing directory, podman's error): `rw_bytes` is at most part of it.
    pub lower_bound: bool,
    /// Its log, kept apart from the writable layer; `None` when not asked
    /// for (as `rw_bytes`) or when the engine does not say.
    pub log: Option<ContainerLog>,
    pub created: Option<Timestamp>,
}

/// A container's log as its log driver keeps it: a `k8s-file` log is a file
/// on this disk (by default `userdata/ctr.log` beside the container's
/// config), a `journald` log is in the journal (not counted here), `none`
/// and `passthrough` keep nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerLog {
    pub driver: String,
    /// Absolute host path of the log file (k8s-file only).
    pub path: Option<String>,
    /// The file's size (st_size); `None` for drivers that keep no file here.
    pub bytes: Option<u64>,
    /// The file should be there and could not be measured: `bytes` is at
    /// most part of it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lower_bound: bool,
}

impl ContainerLog {
    /// Kept in systemd's journal, whose files are not the container's.
    pub fn in_journal(&self) -> bool {
        self.driver == "journald"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    pub name: String,
    pub mountpoint: String,
    pub labels: Labels,
    /// Referenced by at least one container (running or not).
    pub in_use: bool,
    /// `None` when it could not be measured.
    pub bytes: Option<u64>,
    /// The figure came from podman's rounded text, not from a walk.
    pub approximate: bool,
    /// Part of it could not be measured (a walk error, a missing
    /// mountpoint, a size podman could not give): `bytes` is at most part.
    pub lower_bound: bool,
    pub created: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pod {
    pub id: String,
    pub name: String,
    pub labels: Labels,
}

/// Everything one engine holds, as collected.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Inventory {
    pub layers: BTreeMap<LayerKey, Layer>,
    pub images: Vec<Image>,
    pub containers: Vec<Container>,
    pub volumes: Vec<Volume>,
    pub pods: Vec<Pod>,
}

impl Inventory {
    /// The one order of every report, whichever engine or path answered:
    /// named images first by name, then by id; the rest by name, then id.
    pub fn sort(&mut self) {
        self.images.sort_by(|a, b| {
            a.names
                .is_empty()
                .cmp(&b.names.is_empty())
                .then(a.names.cmp(&b.names))
                .then(a.id.cmp(&b.id))
        });
        self.containers
            .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        self.volumes.sort_by(|a, b| a.name.cmp(&b.name));
        self.pods
            .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_strips_tag_and_digest_but_not_port() {
        assert_eq!(repository_of("localhost/app:1"), "localhost/app");
        assert_eq!(repository_of("host:5000/app:1"), "host:5000/app");
        assert_eq!(repository_of("host:5000/app"), "host:5000/app");
        assert_eq!(
            repository_of("docker.io/library/debian@sha256:ab"),
            "docker.io/library/debian"
        );
        assert_eq!(repository_of("app"), "app");
    }
}

/// What a view needs; everything else is not asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    pub images: bool,
    pub containers: bool,
    /// Writable-layer bytes per container (`podman ps --size`, slow).
    pub container_sizes: bool,
    pub volumes: bool,
    pub pods: bool,
    /// What the graph root holds besides the other lines (store path only).
    pub store_metadata: bool,
    /// Build leftovers: temp dirs, the blob-info cache, external containers.
    pub build_leftovers: bool,
}

impl Needs {
    pub fn all() -> Self {
        Needs {
            images: true,
            containers: true,
            container_sizes: true,
            volumes: true,
            pods: true,
            store_metadata: true,
            build_leftovers: true,
        }
    }
}

/// The result of collecting: what was found, and whether podman answered at all.
#[derive(Debug, Default)]
pub struct Collected {
    pub inventory: Inventory,
    /// False when not one podman call succeeded (missing binary, no service).
    pub reachable: bool,
    /// What failed to be listed; its part of the inventory is empty.
    pub failed: Failed,
    /// Layer sizes were estimated from image totals (remote store with
    /// images that branch where there is no image).
    pub approximate_layers: bool,
    /// The store-metadata line; `None` when not asked for or not
    /// measurable (`--cli-only` reads no store file).
    pub metadata: Option<metadata::StoreMetadata>,
    /// Build leftovers, each path measured; `None` when not asked for.
    /// External containers are here, not in the inventory's figures.
    pub build_leftovers: Option<Vec<build_cache::Leftover>>,
    /// Who uses what, where the source says (`why`); empty otherwise.
    pub relations: local::Relations,
}

/// Sources that were asked for and did not answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failed {
    pub images: bool,
    pub containers: bool,
    pub volumes: bool,
}

/// The engine a report is about.
#[derive(Debug, Clone)]
pub enum Engine {
    Podman(podman::Podman),
    Docker(docker::Docker),
}

impl Engine {
    pub fn collect(&self, needs: Needs, warnings: &crate::Warnings) -> Collected {
        let mut c = match self {
            Engine::Podman(p) => collect::collect(p, needs, warnings),
            Engine::Docker(d) => d.collect(needs, warnings),
        };
        c.inventory.sort();
        c
    }

    /// True when writable layers come with the inventory (the local podman
    /// store, walked); otherwise [`Self::container_sizes`] asks the engine.
    pub fn reads_store(&self) -> bool {
        matches!(self, Engine::Podman(p) if p.reads_store())
    }

    pub fn runner(&self) -> &crate::runner::Runner {
        match self {
            Engine::Podman(p) => p.runner(),
            Engine::Docker(d) => d.runner(),
        }
    }

    /// The argv that runs `args` (`["rm", ID]`) on this engine.
    pub fn command(&self, args: &[&str]) -> Vec<String> {
        match self {
            Engine::Podman(p) => p.command(args),
            Engine::Docker(d) => d.command(args),
        }
    }

    /// Log drivers and files of just these containers, in one podman call;
    /// `None` where the engine does not say or the files are on another
    /// machine (docker, remote podman).
    pub fn container_logs(
        &self,
        ids: &[String],
    ) -> Result<Option<BTreeMap<String, logs::LogConfig>>, String> {
        match self {
            Engine::Podman(p) if !p.is_remote() => p
                .container_logs(Some(ids))
                .map(|l| Some(l.configs))
                .map_err(|e| e.to_string()),
            _ => Ok(None),
        }
    }

    /// Ids of the containers mounting volume NAME, in one engine call;
    /// `None` where the engine is not asked (docker).
    pub fn volume_users(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self {
            Engine::Podman(p) => p.volume_users(name).map(Some).map_err(|e| e.to_string()),
            Engine::Docker(_) => Ok(None),
        }
    }

    /// Writable-layer bytes of just these containers, in one engine call.
    pub fn container_sizes(&self, ids: &[String]) -> Result<BTreeMap<String, u64>, String> {
        match self {
            Engine::Podman(p) => p.container_sizes(ids).map_err(|e| e.to_string()),
            Engine::Docker(d) => d
                .container_details(ids, true)
                .map(|cs| {
                    cs.into_iter()
                        // A negative figure (an engine bug) is left unmeasured, not 0.
                        .filter_map(|c| Some((c.id, u64::try_from(c.size_rw?).ok()?)))
                        .collect()
                })
                .map_err(|e| e.to_string()),
        }
    }
}
