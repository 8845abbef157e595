//! libpod's own state (containers, pods, volumes, and the store it was
//! created with), read straight from its database with no podman call.
//!
//! podman keeps it in one of two backends: BoltDB (`bolt_state.db`, podman
//! 4.x's default) or SQLite (`db.sql`, the default for new installs since
//! 4.8 and the only one podman 5 creates). Both hold the same JSON records;
//! each backend module maps its file onto [`LibpodState`]. Which file a
//! store uses is decided in `engine::resolve`.

pub mod bolt;
pub mod sqlite;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::timestamp::Timestamp;

#[derive(Debug, Error)]
pub enum LibpodDbError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: not a readable libpod database: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// A writer kept the database locked for longer than we wait.
    #[error("{path}: still locked by a writer after {} s; try again", waited.as_secs_f32())]
    Locked {
        path: PathBuf,
        waited: std::time::Duration,
    },
    #[error("{path}: libpod schema version {version}, this reader knows version {known}")]
    Schema {
        path: PathBuf,
        version: i64,
        known: i64,
    },
    #[error("{path}: changed during each of {attempts} reads; last problem: {reason}")]
    Unstable {
        path: PathBuf,
        attempts: usize,
        reason: String,
    },
    #[error("{path}: {what} is not the JSON libpod writes: {source}")]
    Json {
        path: PathBuf,
        what: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Everything libpod knows about one store, as recorded in its database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibpodState {
    /// Absent in recordings made before it was read.
    #[serde(default)]
    pub config: DbConfig,
    pub containers: Vec<DbContainer>,
    pub volumes: Vec<DbVolume>,
    pub pods: Vec<DbPod>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbContainer {
    pub id: String,
    pub name: String,
    pub image_id: String,
    /// The image's resolved name (`localhost/app:1` for `app:1`), as
    /// `podman ps` prints it.
    pub image_name: String,
    /// As podman names it (`created` for a container never started, which
    /// libpod calls "configured"; `initialized`, `running`, `stopped`,
    /// `paused`, `exited`, `removing`, `stopping`, `unknown`). This is the
    /// recorded state: `podman ps` also asks the OCI runtime, so a container
    /// whose process died without podman noticing reads `running` here.
    pub state: String,
    pub labels: BTreeMap<String, String>,
    /// Pod id.
    pub pod: Option<String>,
    /// The pod's infra (pause) container.
    pub infra: bool,
    /// Named volumes it mounts, sorted.
    pub volumes: Vec<String>,
    /// `k8s-file`, `journald`, `none`, `passthrough`; empty in recordings
    /// made before it was read.
    #[serde(default)]
    pub log_driver: String,
    /// The k8s-file log's path as podman sees it (`userdata/ctr.log` unless
    /// `--log-opt path=` or containers.conf says otherwise).
    #[serde(default)]
    pub log_path: String,
    /// `createdTime` of its config; absent in recordings made before it was read.
    #[serde(default)]
    pub created: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbVolume {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub mountpoint: String,
    /// Ids of existing containers that mount it, sorted; empty means
    /// `podman volume ls --filter dangling=true` lists it.
    pub users: Vec<String>,
    /// `createdAt` of its config; absent in recordings made before it was read.
    #[serde(default)]
    pub created: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbPod {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// What libpod recorded about its store when it created the database
/// (bolt bucket `runtime-config`, SQLite table `DBConfig`). podman uses these
/// over storage.conf, so a store found elsewhere is not this database's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbConfig {
    pub graph_root: Option<PathBuf>,
    pub run_root: Option<PathBuf>,
    pub graph_driver: Option<String>,
    pub volume_dir: Option<PathBuf>,
    pub static_dir: Option<PathBuf>,
}

/// libpod's `ContainerConfig`, the fields we use.
#[derive(Debug, Deserialize)]
struct RawCtrConfig {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    pod: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "rootfsImageID", default)]
    rootfs_image_id: String,
    #[serde(rename = "rootfsImageName", default)]
    rootfs_image_name: String,
    #[serde(rename = "RawImageName", default)]
    raw_image_name: String,
    #[serde(rename = "namedVolumes", default)]
    named_volumes: Option<Vec<RawNamedVolume>>,
    /// `IsInfra` is tagged `pause` in libpod.
    #[serde(default)]
    pause: bool,
    #[serde(rename = "logDriver", default)]
    log_driver: String,
    #[serde(rename = "logPath", default)]
    log_path: String,
    #[serde(
        rename = "createdTime",
        default,
        deserialize_with = "crate::timestamp::go_time"
    )]
    created_time: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
struct RawNamedVolume {
    #[serde(rename = "volumeName")]
    name: String,
}

/// libpod's `ContainerState`: `state` is `define.ContainerStatus`, an int.
#[derive(Debug, Deserialize)]
struct RawCtrState {
    #[serde(default)]
    state: i64,
}

#[derive(Debug, Deserialize)]
struct RawVolConfig {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "mountPoint", default)]
    mount_point: String,
    #[serde(
        rename = "createdAt",
        default,
        deserialize_with = "crate::timestamp::go_time"
    )]
    created_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
struct RawPodConfig {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// The JSON blobs and dependency lists found in the database, still to be
/// parsed: the structural walk and the JSON parsing fail differently.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub config: DbConfig,
    /// (id, config, state)
    pub containers: Vec<(String, Vec<u8>, Option<Vec<u8>>)>,
    /// (name, config, dependent container ids)
    pub volumes: Vec<(String, Vec<u8>, Vec<String>)>,
    /// (id, config)
    pub pods: Vec<(String, Vec<u8>)>,
}

impl Records {
    pub(crate) fn into_state(self, path: &Path) -> Result<LibpodState, LibpodDbError> {
        fn parse<T: serde::de::DeserializeOwned>(
            path: &Path,
            what: impl FnOnce() -> String,
            bytes: &[u8],
        ) -> Result<T, LibpodDbError> {
            serde_json::from_slice(bytes).map_err(|source| LibpodDbError::Json {
                path: path.to_path_buf(),
                what: what(),
                source,
            })
        }
        let mut state = LibpodState {
            config: self.config,
            ..LibpodState::default()
        };
        let ids: BTreeSet<&str> = self.containers.iter().map(|c| c.0.as_str()).collect();
        for (id, config, st) in &self.containers {
            // `{id:?}`: a damaged key is arbitrary bytes; the message stays one line.
            let c: RawCtrConfig = parse(path, || format!("container {id:?} config"), config)?;
            let s: Option<RawCtrState> = st
                .as_deref()
                .map(|b| parse(path, || format!("container {id:?} state"), b))
                .transpose()?;
            let mut volumes: Vec<String> = c
                .named_volumes
                .unwrap_or_default()
                .into_iter()
                .map(|v| v.name)
                .collect();
            volumes.sort();
            volumes.dedup();
            // `podman ps` prints the resolved name; what the user typed (a
            // short name, an id) only when nothing was resolved.
            let image_name = if c.rootfs_image_name.is_empty() {
                c.raw_image_name
            } else {
                c.rootfs_image_name
            };
            state.containers.push(DbContainer {
                id: if c.id.is_empty() { id.clone() } else { c.id },
                name: c.name,
                image_id: c.rootfs_image_id,
                image_name,
                state: state_name(s.map_or(0, |s| s.state)),
                labels: c.labels.unwrap_or_default(),
                pod: c.pod.filter(|p| !p.is_empty()),
                infra: c.pause,
                volumes,
                log_driver: c.log_driver,
                log_path: c.log_path,
                created: c.created_time,
            });
        }
        for (name, config, users) in &self.volumes {
            let v: RawVolConfig = parse(path, || format!("volume {name:?} config"), config)?;
            // libpod 4.x never removes a container from a volume's
            // dependencies (its check is inverted); `VolumeInUse` skips ids
            // whose container is gone, and so do we.
            let mut users: Vec<String> = users
                .iter()
                .filter(|u| ids.contains(u.as_str()))
                .cloned()
                .collect();
            users.sort();
            state.volumes.push(DbVolume {
                name: if v.name.is_empty() {
                    name.clone()
                } else {
                    v.name
                },
                labels: v.labels.unwrap_or_default(),
                mountpoint: v.mount_point,
                users,
                created: v.created_at,
            });
        }
        for (id, config) in &self.pods {
            let p: RawPodConfig = parse(path, || format!("pod {id:?} config"), config)?;
            state.pods.push(DbPod {
                id: if p.id.is_empty() { id.clone() } else { p.id },
                name: p.name,
                labels: p.labels.unwrap_or_default(),
            });
        }
        Ok(state)
    }
}

/// One libpod database file, of either backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Bolt(PathBuf),
    Sqlite(PathBuf),
}

impl Database {
    pub fn path(&self) -> &Path {
        match self {
            Database::Bolt(p) | Database::Sqlite(p) => p,
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Database::Bolt(_) => "boltdb",
            Database::Sqlite(_) => "sqlite",
        }
    }

    /// Reads the state; a database podman has not created yet is an empty
    /// state, not an error.
    pub fn read(&self) -> Result<LibpodState, LibpodDbError> {
        match self {
            Database::Bolt(p) => bolt::read(p),
            Database::Sqlite(p) => sqlite::read(p),
        }
    }
}

/// libpod's `ContainerStatus.String()`, shared by both backends (both store
/// the status as an int).
pub(crate) fn state_name(n: i64) -> String {
    match n {
        0 => "unknown",
        // libpod's "configured" is what Docker calls created.
        1 => "created",
        2 => "initialized",
        3 => "running",
        4 => "stopped",
        5 => "paused",
        6 => "exited",
        7 => "removing",
        8 => "stopping",
        _ => "bad state",
    }
    .to_string()
}
