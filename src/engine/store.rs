//! The local containers/storage store, read directly: exact per-layer sizes
//! with no podman call.
//!
//! containers/storage keeps its own records as JSON:
//! `<graphroot>/<driver>-layers/layers.json` (per layer `id`, `parent`,
//! `diff-size`), `<driver>-images/images.json` (per image `id`, top `layer`,
//! `big-data-sizes`). podman's image `Size` is exactly the sum of the layers'
//! `diff-size` plus the image's `big-data-sizes` (measured on 4.3.1), so these
//! files give every figure `podman images` gives, split per layer.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("parsing {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: layer {layer} has a parent chain that loops or is missing {missing}")]
    BrokenChain {
        path: PathBuf,
        layer: String,
        missing: String,
    },
}

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    pub graphroot: PathBuf,
    pub driver: String,
}

#[derive(Debug, Default, Deserialize)]
struct StorageConf {
    #[serde(default)]
    storage: StorageSection,
}

#[derive(Debug, Default, Deserialize)]
struct StorageSection {
    driver: Option<String>,
    graphroot: Option<PathBuf>,
    rootless_storage_path: Option<PathBuf>,
}

impl StoreLocation {
    /// Resolves the store the way containers/storage does for this user:
    /// `$CONTAINERS_STORAGE_CONF`, else `/etc/containers/storage.conf`, else
    /// `/usr/share/containers/storage.conf`; rootless users default to
    /// `~/.local/share/containers/storage`. Returns `None` when the store
    /// cannot be located (a caller then asks podman instead).
    pub fn resolve() -> Option<Self> {
        let env_conf = std::env::var_os("CONTAINERS_STORAGE_CONF").map(PathBuf::from);
        let candidates: Vec<PathBuf> = match env_conf {
            Some(p) => vec![p],
            None => vec![
                "/etc/containers/storage.conf".into(),
                "/usr/share/containers/storage.conf".into(),
            ],
        };
        let conf = candidates
            .iter()
            .find_map(|p| fs::read_to_string(p).ok())
            .map(|text| toml::from_str::<StorageConf>(&text).ok())
            .unwrap_or_else(|| Some(StorageConf::default()))?;
        let rootless = unsafe { libc::geteuid() } != 0;
        let graphroot = if rootless {
            conf.storage.rootless_storage_path.or_else(|| {
                let data = std::env::var_os("XDG_DATA_HOME")
                    .map(PathBuf::from)
                    .or_else(|| {
                        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share"))
                    })?;
                Some(data.join("containers/storage"))
            })?
        } else {
            conf.storage
                .graphroot
                .unwrap_or_else(|| "/var/lib/containers/storage".into())
        };
        let driver = conf
            .storage
            .driver
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "overlay".into());
        Some(StoreLocation { graphroot, driver })
    }

    fn layers_file(&self) -> PathBuf {
        self.graphroot
            .join(format!("{}-layers/layers.json", self.driver))
    }

    fn images_file(&self) -> PathBuf {
        self.graphroot
            .join(format!("{}-images/images.json", self.driver))
    }

    fn containers_file(&self) -> PathBuf {
        self.graphroot
            .join(format!("{}-containers/containers.json", self.driver))
    }

    /// containers/storage keeps an image's big data (config, manifests) as
    /// files named `=` + base64(key) in the image's directory.
    fn big_data_file(&self, image: &str, key: &str) -> PathBuf {
        use base64::Engine as _;
        let name = format!("={}", base64::engine::general_purpose::STANDARD.encode(key));
        self.graphroot
            .join(format!("{}-images", self.driver))
            .join(image)
            .join(name)
    }

    /// Where a layer's own files are (overlay: `<graphroot>/overlay/<id>/diff`).
    pub fn layer_diff_dir(&self, layer: &str) -> PathBuf {
        self.graphroot.join(&self.driver).join(layer).join("diff")
    }

    /// libpod's own database, next to the store.
    pub fn libpod_db(&self) -> PathBuf {
        super::libpod::bolt::default_path(&self.graphroot)
    }
}

#[derive(Debug, Deserialize)]
struct RawLayer {
    id: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(rename = "diff-size", default)]
    diff_size: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct RawContainer {
    id: String,
    #[serde(default)]
    layer: String,
}

#[derive(Debug, Deserialize)]
struct RawImage {
    id: String,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    layer: Option<String>,
    #[serde(rename = "big-data-sizes", default)]
    big_data_sizes: BTreeMap<String, i64>,
}

/// One image as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredImage {
    #[serde(default)]
    pub names: Vec<String>,
    /// Layer ids, bottom to top.
    pub layers: Vec<String>,
    pub metadata_bytes: u64,
    /// From the image's config (`config.Labels`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The parts of a store the accounting needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSnapshot {
    /// Image layers' diff sizes by layer id (container layers have none).
    pub layer_bytes: BTreeMap<String, u64>,
    pub images: BTreeMap<String, StoredImage>,
    /// Container id -> the directory of its writable layer.
    #[serde(default)]
    pub containers: BTreeMap<String, PathBuf>,
}

/// Reads the store's records; a store with no images yet has no files, which
/// is an empty snapshot, not an error.
pub fn read(loc: &StoreLocation) -> Result<StoreSnapshot, StoreError> {
    let layers_path = loc.layers_file();
    let layers: Vec<RawLayer> = read_json(&layers_path)?.unwrap_or_default();
    let images: Vec<RawImage> = read_json(&loc.images_file())?.unwrap_or_default();
    let containers: Vec<RawContainer> = read_json(&loc.containers_file())?.unwrap_or_default();
    let mut snap = build(&layers_path, layers, images)?;
    for (id, img) in &mut snap.images {
        img.labels = config_labels(&loc.big_data_file(id, &format!("sha256:{id}")));
    }
    snap.containers = containers
        .into_iter()
        .map(|c| {
            let dir = loc.layer_diff_dir(&c.layer);
            (c.id, dir)
        })
        .collect();
    Ok(snap)
}

/// Labels from an image config blob; an unreadable or odd config has none
/// (labels only help attribution, they never change a byte count).
fn config_labels(path: &Path) -> BTreeMap<String, String> {
    #[derive(Deserialize)]
    struct ImageConfig {
        #[serde(default)]
        config: Option<Inner>,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(rename = "Labels", default)]
        labels: Option<BTreeMap<String, String>>,
    }
    fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<ImageConfig>(&b).ok())
        .and_then(|c| c.config?.labels)
        .unwrap_or_default()
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Json {
                path: path.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn build(
    layers_path: &Path,
    layers: Vec<RawLayer>,
    images: Vec<RawImage>,
) -> Result<StoreSnapshot, StoreError> {
    let parents: BTreeMap<&str, Option<&str>> = layers
        .iter()
        .map(|l| (l.id.as_str(), l.parent.as_deref().filter(|p| !p.is_empty())))
        .collect();
    let mut snap = StoreSnapshot::default();
    for img in &images {
        let mut chain = Vec::new();
        let mut cur = img.layer.as_deref().filter(|l| !l.is_empty());
        while let Some(id) = cur {
            // A chain longer than the number of layers can only be a loop.
            if chain.len() > layers.len() {
                return Err(StoreError::BrokenChain {
                    path: layers_path.to_path_buf(),
                    layer: id.to_string(),
                    missing: "(loop)".into(),
                });
            }
            let parent = parents.get(id).ok_or_else(|| StoreError::BrokenChain {
                path: layers_path.to_path_buf(),
                layer: img.layer.clone().unwrap_or_default(),
                missing: id.to_string(),
            })?;
            chain.push(id.to_string());
            cur = *parent;
        }
        chain.reverse();
        let metadata_bytes = img
            .big_data_sizes
            .values()
            .map(|v| (*v).max(0) as u64)
            .fold(0, u64::saturating_add);
        snap.images.insert(
            img.id.clone(),
            StoredImage {
                names: img.names.clone().unwrap_or_default(),
                layers: chain,
                metadata_bytes,
                labels: BTreeMap::new(),
            },
        );
    }
    for l in &layers {
        if let Some(size) = l.diff_size {
            snap.layer_bytes.insert(l.id.clone(), size.max(0) as u64);
        }
    }
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(id: &str, parent: Option<&str>, size: Option<i64>) -> RawLayer {
        RawLayer {
            id: id.into(),
            parent: parent.map(Into::into),
            diff_size: size,
        }
    }

    #[test]
    fn follows_parent_chains_bottom_to_top() {
        let layers = vec![
            layer("a", None, Some(10)),
            layer("b", Some("a"), Some(5)),
            layer("c", Some("b"), None),
        ];
        let images = vec![RawImage {
            id: "img".into(),
            names: None,
            layer: Some("b".into()),
            big_data_sizes: [("manifest".to_string(), 7)].into(),
        }];
        let snap = build(Path::new("layers.json"), layers, images).unwrap();
        assert_eq!(snap.images["img"].layers, vec!["a", "b"]);
        assert_eq!(snap.images["img"].metadata_bytes, 7);
        assert_eq!(snap.layer_bytes.get("c"), None);
        assert_eq!(snap.layer_bytes["a"], 10);
    }

    #[test]
    fn a_missing_parent_is_an_error_naming_the_file() {
        let layers = vec![layer("b", Some("a"), Some(5))];
        let images = vec![RawImage {
            id: "img".into(),
            names: None,
            layer: Some("b".into()),
            big_data_sizes: BTreeMap::new(),
        }];
        let err = build(Path::new("/x/layers.json"), layers, images).unwrap_err();
        assert!(err.to_string().contains("/x/layers.json"), "{err}");
        assert!(err.to_string().contains("missing a"), "{err}");
    }

    #[test]
    fn a_parent_loop_terminates_with_an_error() {
        let layers = vec![
            layer("a", Some("b"), Some(1)),
            layer("b", Some("a"), Some(1)),
        ];
        let images = vec![RawImage {
            id: "img".into(),
            names: None,
            layer: Some("a".into()),
            big_data_sizes: BTreeMap::new(),
        }];
        assert!(build(Path::new("l"), layers, images).is_err());
    }
}
