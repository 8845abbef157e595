//! What the docker CLI prints, parsed once: the list lines, the inspects
//! and `system df -v`.

use super::*;

/// One JSON document (docker's inspects print an array).
/// Docker prints `<none>` for a missing repository or tag.
pub(super) fn present(s: &str) -> Option<&str> {
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
    pub(super) fn to_container(&self, image_ids: &BTreeMap<String, String>) -> Container {
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

pub(super) fn is_image_id(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `repository:tag` -> image id, from `docker images`.
pub(super) fn image_names(lines: &[ImageLine]) -> BTreeMap<String, String> {
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
    pub(super) fn to_container(&self) -> Container {
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
pub(super) fn containers_from_details(
    details: &[ContainerDetails],
    warnings: &Warnings,
) -> Vec<Container> {
    details
        .iter()
        .map(|c| {
            let mut ctr = c.to_container();
            ctr.rw_bytes = c.size_rw.and_then(|raw| {
                let object = format!("container {}", ctr.name);
                crate::engine::engine_bytes("docker", &object, "writable layer", raw, warnings)
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
