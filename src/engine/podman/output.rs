//! What podman prints, parsed once into typed structs (serde), and the
//! text of `system df -v`.

use super::*;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageEntry {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub parent_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub names: Vec<String>,
    pub size: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Labels,
    #[serde(default)]
    pub containers: u64,
    /// From an additional image store (podman prints it since 3.x).
    #[serde(default)]
    pub read_only: bool,
    /// Unix seconds (`CreatedAt` is the same time as RFC 3339).
    #[serde(default, deserialize_with = "crate::timestamp::unix_secs")]
    pub created: Option<crate::timestamp::Timestamp>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerEntry {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub names: Vec<String>,
    #[serde(default)]
    pub image: String,
    #[serde(rename = "ImageID", default)]
    pub image_id: String,
    #[serde(default)]
    pub state: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Labels,
    #[serde(default)]
    pub pod: String,
    #[serde(default)]
    pub is_infra: bool,
    #[serde(default)]
    pub size: Option<ContainerSize>,
    /// Unix seconds (`CreatedAt` is "2 seconds ago" here).
    #[serde(default, deserialize_with = "crate::timestamp::unix_secs")]
    pub created: Option<crate::timestamp::Timestamp>,
}

impl ContainerEntry {
    pub fn state(&self) -> ContainerState {
        ContainerState::parse(&self.state)
    }
}

/// `podman ps -a` and what it said on stderr about sizes.
#[derive(Debug, Clone, Default)]
pub struct ContainerList {
    pub containers: Vec<ContainerEntry>,
    pub size_trouble: Option<SizeTrouble>,
}

/// podman printed on stderr while sizing containers, and exited 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeTrouble {
    /// The command, for the warning.
    pub argv: String,
    pub first_line: String,
    /// Containers the lines name; empty when they name none, so no size
    /// of that call can be trusted.
    pub named: std::collections::BTreeSet<String>,
}

impl SizeTrouble {
    /// `None` when stderr is empty.
    pub fn parse(stderr: &str, listed: &[ContainerEntry]) -> Option<SizeTrouble> {
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let first_line = lines.first()?.trim().to_string();
        let named = listed
            .iter()
            .filter(|c| {
                let short: String = c.id.chars().take(12).collect();
                lines
                    .iter()
                    .any(|l| l.contains(&c.id) || (short.len() == 12 && l.contains(&short)))
            })
            .map(|c| c.id.clone())
            .collect();
        Some(SizeTrouble {
            argv: String::new(),
            first_line,
            named,
        })
    }

    pub fn affects(&self, id: &str) -> bool {
        self.named.is_empty() || self.named.contains(id)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContainerSize {
    #[serde(rename = "rwSize")]
    pub rw_size: i64,
    #[serde(rename = "rootFsSize", default)]
    pub root_fs_size: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeEntry {
    pub name: String,
    #[serde(default)]
    pub mountpoint: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Labels,
    #[serde(default, deserialize_with = "crate::timestamp::go_time")]
    pub created_at: Option<crate::timestamp::Timestamp>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionEntry {
    pub name: String,
    #[serde(rename = "URI", default)]
    pub uri: String,
    #[serde(default)]
    pub default: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PodEntry {
    pub(super) id: String,
    pub(super) name: String,
    #[serde(default)]
    pub(super) labels: Option<Labels>,
}

/// What `podman image inspect` returned, and the ids it no longer knew.
#[derive(Debug, Clone, Default)]
pub struct Inspected {
    pub images: Vec<InspectEntry>,
    pub gone: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InspectEntry {
    #[serde(rename = "Id")]
    pub id: String,
    /// All layers plus metadata; absent from some engines' output.
    #[serde(rename = "Size", default)]
    pub size: Option<i64>,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    /// The config's history, bottom first; `empty_layer` steps made no layer.
    #[serde(rename = "History", default, deserialize_with = "null_as_default")]
    pub history: Vec<ConfigHistory>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RootFs {
    /// Diff ids, bottom first.
    #[serde(rename = "Layers", default, deserialize_with = "null_as_default")]
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConfigHistory {
    #[serde(default)]
    pub empty_layer: bool,
}

/// One step of `podman history --format json`.
#[derive(Debug, Clone, Deserialize)]
pub struct HistoryEntry {
    pub size: i64,
}

impl InspectEntry {
    /// Each diff id's stored size from this image's `podman history`
    /// (top first, one entry per config history step): the non-empty
    /// steps, bottom up, are the layers. `None` when the two do not line
    /// up (a config whose history does not describe its layers) or a size
    /// is negative (a partial pull not yet measured).
    pub fn layer_sizes(&self, history: &[HistoryEntry]) -> Option<Vec<u64>> {
        if history.len() != self.history.len() {
            return None;
        }
        let sizes: Vec<u64> = self
            .history
            .iter()
            .zip(history.iter().rev())
            .filter(|(config, _)| !config.empty_layer)
            .map(|(_, h)| u64::try_from(h.size).ok())
            .collect::<Option<_>>()?;
        (sizes.len() == self.root_fs.layers.len()).then_some(sizes)
    }
}

/// What `podman system df -v` says per volume.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DfVerbose {
    pub volumes: BTreeMap<String, DfVolume>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DfVolume {
    pub links: u64,
    pub size: size::Reading,
}

static SECTION: Lazy<Regex> = Lazy::new(|| Regex::new(r"^(\w[\w ]*) space usage:$").unwrap());
static COLUMN_GAP: Lazy<Regex> = Lazy::new(|| Regex::new(r" {2,}").unwrap());

/// Parses the volumes section of `podman system df -v`'s table:
///
/// ```text
/// Local Volumes space usage:
///
/// VOLUME NAME  LINKS       SIZE
/// vol1         1           1MB
/// ```
///
/// Columns are separated by two or more spaces; volume names cannot contain
/// spaces, so splitting is unambiguous.
pub fn parse_df_verbose(text: &str) -> Result<DfVerbose, String> {
    let mut out = DfVerbose::default();
    let mut section = String::new();
    let mut seen_volumes = false;
    for line in text.lines() {
        let trimmed = line.trim_end();
        if let Some(c) = SECTION.captures(trimmed) {
            section = c[1].to_string();
            continue;
        }
        if section != "Local Volumes" || trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with("VOLUME NAME") {
            seen_volumes = true;
            continue;
        }
        let cols: Vec<&str> = COLUMN_GAP.split(trimmed.trim_start()).collect();
        let [name, links, size_text] = cols[..] else {
            return Err(format!("unexpected volume row {trimmed:?}"));
        };
        let links = links
            .parse()
            .map_err(|_| format!("volume {name}: LINKS {links:?} is not a number"))?;
        let size = size::parse(size_text).map_err(|e| format!("volume {name}: {e}"))?;
        out.volumes
            .insert(name.to_string(), DfVolume { links, size });
    }
    if !seen_volumes && !text.contains("Local Volumes space usage:") {
        return Err("no \"Local Volumes space usage:\" section".into());
    }
    Ok(out)
}

/// What the CLI path learnt about logs, by container id.
#[derive(Debug, Default)]
pub struct CliLogs {
    pub configs: BTreeMap<String, LogConfig>,
}

/// podman >= 4.6 (libpod's `rwSize` calls c/storage's `ContainerSize`)
/// counts in `ps --size` the writable layer plus the container's `userdata`
/// directories, where the k8s-file log lives by default; 4.3 counts the
/// writable layer's diff alone.
pub fn rw_size_counts_userdata(version: &str) -> bool {
    let mut parts = version
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (4, 6),
        // An unreadable version is a new one: podman's own builds say "dev".
        _ => true,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VersionEntry {
    pub(super) client: VersionSide,
    /// Only over a remote connection: the server computes the sizes.
    #[serde(default)]
    pub(super) server: Option<VersionSide>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VersionSide {
    #[serde(default)]
    pub(super) version: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ContainerInspectEntry {
    pub(super) id: String,
    /// The container's `userdata` directory.
    #[serde(default)]
    pub(super) static_dir: String,
    #[serde(default)]
    pub(super) host_config: InspectHostConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct InspectHostConfig {
    #[serde(default)]
    pub(super) log_config: InspectLogConfig,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct InspectLogConfig {
    #[serde(rename = "Type", default)]
    pub(super) driver: String,
    #[serde(rename = "Path", default)]
    pub(super) path: String,
}
