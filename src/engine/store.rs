//! The local containers/storage store, read directly: exact per-layer sizes
//! with no podman call.
//!
//! containers/storage keeps its records as JSON beside each kind's lock:
//! `<driver>-layers/{layers,volatile-layers}.json` (per layer `id`, `parent`,
//! `diff-size`), `<driver>-images/images.json` (per image `id`, `names`, top
//! `layer`, `big-data-sizes`, `mapped-top-layers`) and
//! `<driver>-containers/{containers,volatile-containers}.json` (per container
//! `id`, `layer`, `image`). The volatile files hold what `run --rm` and
//! Quadlet units create (c/storage >= 1.45). podman's image `Size` is exactly
//! the sum of the layers' `diff-size` plus the image's `big-data-sizes`.
//!
//! Consistency: c/storage's writers replace these files by rename while
//! holding an fcntl write lock on the kind's `*.lock`; its readers take an
//! fcntl read lock. So do we, for all three kinds at once, so that the
//! snapshot is one committed state (flock would not exclude fcntl locks).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::size::SumBytes;
use crate::timestamp::Timestamp;

pub use super::resolve::StoreLocation;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: not a regular file")]
    NotAFile { path: PathBuf },
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
    #[error("{path}: still locked by a writer after {waited:?}")]
    Locked { path: PathBuf, waited: Duration },
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
    names: Option<Vec<String>>,
    #[serde(default)]
    layer: String,
    #[serde(default)]
    image: String,
    #[serde(default, deserialize_with = "crate::timestamp::go_time")]
    created: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
struct RawImage {
    id: String,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    layer: Option<String>,
    #[serde(rename = "mapped-top-layers", default)]
    mapped_top_layers: Option<Vec<String>>,
    #[serde(rename = "big-data-sizes", default)]
    big_data_sizes: BTreeMap<String, i64>,
    /// What podman prints as the image's `Created` (c/image sets it from
    /// the config's `created` when it stores the image).
    #[serde(default, deserialize_with = "crate::timestamp::go_time")]
    created: Option<Timestamp>,
}

/// What an image's config says that decides its relation to other images
/// (c/common's `areParentAndChild`), plus its labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub diff_ids: Vec<String>,
    /// Each history entry reduced to the fields c/common compares.
    #[serde(default)]
    pub history: Vec<String>,
}

/// One image as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredImage {
    #[serde(default)]
    pub names: Vec<String>,
    /// Layer ids, bottom to top.
    pub layers: Vec<String>,
    /// Copies of the chain made for another id mapping: disk the image holds.
    #[serde(default)]
    pub mapped_layers: Vec<String>,
    pub metadata_bytes: u64,
    /// The files `metadata_bytes` measures (config, manifests): counted
    /// with the image, so the store-metadata walk leaves them out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub big_data_files: Vec<PathBuf>,
    #[serde(default)]
    pub config: ImageConfig,
    /// From an additional (read-only) image store: no prune here frees it.
    #[serde(default)]
    pub read_only: bool,
    /// `created` of images.json; absent in recordings made before it was read.
    #[serde(default)]
    pub created: Option<Timestamp>,
}

/// One container as c/storage records it: podman's, or one podman does not
/// own (a buildah working container, an interrupted build).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredContainer {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image_id: String,
    /// Its writable layer's directory.
    pub dir: PathBuf,
    #[serde(default)]
    pub created: Option<Timestamp>,
}

/// A layer whose recorded size cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsizedLayer {
    pub id: String,
    pub dir: PathBuf,
    pub reason: String,
}

/// The parts of a store the accounting needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSnapshot {
    /// The driver the records are for.
    #[serde(default)]
    pub driver: String,
    /// Image layers' diff sizes by layer id (container layers have none).
    pub layer_bytes: BTreeMap<String, u64>,
    /// Layers of images whose `diff-size` is missing (-1 after a partial
    /// pull) or impossible: the caller measures their directories.
    #[serde(default)]
    pub unsized_layers: Vec<UnsizedLayer>,
    /// On vfs each layer directory is a full copy of the filesystem up to
    /// it, which is what the disk holds; id -> directory, to be walked.
    #[serde(default)]
    pub layer_dirs: BTreeMap<String, PathBuf>,
    pub images: BTreeMap<String, StoredImage>,
    #[serde(default)]
    pub containers: BTreeMap<String, StoredContainer>,
}

/// How long to wait for c/storage's writers before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(5);

impl StoreLocation {
    fn kind_dir(&self, root: &Path, kind: &str) -> PathBuf {
        root.join(format!("{}-{kind}", self.driver))
    }

    /// Where a layer's own files are: the directory walked for a writable
    /// layer, and on vfs for image layers too.
    pub fn layer_dir(&self, root: &Path, layer: &str) -> Option<PathBuf> {
        let d = root.join(&self.driver);
        match self.driver.as_str() {
            "overlay" | "aufs" => Some(d.join(layer).join("diff")),
            "vfs" => Some(d.join("dir").join(layer)),
            "btrfs" => Some(d.join("subvolumes").join(layer)),
            // zfs and devicemapper mount a layer only while it is in use.
            _ => None,
        }
    }

    /// The layer's directory in the first root that has it (the first when
    /// none does: a missing directory is then an error to report).
    fn find_layer_dir(&self, roots: &[&Path], layer: &str) -> Option<PathBuf> {
        let dirs: Vec<PathBuf> = roots
            .iter()
            .filter_map(|r| self.layer_dir(r, layer))
            .collect();
        let found = dirs.iter().position(|d| d.exists()).unwrap_or(0);
        dirs.into_iter().nth(found)
    }

    /// containers/storage keeps an image's big data (config, manifests) as
    /// files in the image's directory, named by the key when it is only
    /// `[a-z0-9.]` (`manifest`), else `=` + base64(key) (`sha256:...`).
    fn big_data_file(&self, root: &Path, image: &str, key: &str) -> PathBuf {
        use base64::Engine as _;
        let plain = key
            .bytes()
            .all(|b| b == b'.' || b.is_ascii_digit() || b.is_ascii_lowercase());
        let name = if plain && !key.is_empty() {
            key.to_string()
        } else {
            format!("={}", base64::engine::general_purpose::STANDARD.encode(key))
        };
        self.kind_dir(root, "images").join(image).join(name)
    }
}

/// Reads the store's records under c/storage's read locks; a store with no
/// images yet has no files, which is an empty snapshot, not an error.
///
/// With an `imagestore`, images (their records and layer directories) live
/// there and containers in the graph root, whose own image records c/storage
/// still reads and writes; layer records are in the graph root, and also in
/// the image store on c/storage versions that split them.
pub fn read(loc: &StoreLocation) -> Result<StoreSnapshot, StoreError> {
    let root = loc.graphroot.as_path();
    let image_root = loc.imagestore.as_deref().unwrap_or(root);
    let containers_root = if loc.transient {
        loc.runroot.as_path()
    } else {
        root
    };
    let layers_dir = loc.kind_dir(root, "layers");
    let images_dir = loc.kind_dir(image_root, "images");
    let containers_dir = loc.kind_dir(containers_root, "containers");
    let volatile_layers_dir = if loc.transient {
        loc.kind_dir(&loc.runroot, "layers")
    } else {
        layers_dir.clone()
    };
    // Both are c/storage's read-write stores; the image store comes first.
    let split = loc
        .imagestore
        .as_deref()
        .map(|is| (loc.kind_dir(is, "layers"), loc.kind_dir(root, "images")));
    let (layers, images, graph_images, containers) = {
        let mut lock_files = vec![
            layers_dir.join("layers.lock"),
            images_dir.join("images.lock"),
            containers_dir.join("containers.lock"),
        ];
        if let Some((is_layers, graph_images)) = &split {
            lock_files.push(is_layers.join("layers.lock"));
            lock_files.push(graph_images.join("images.lock"));
        }
        let _locks = ReadLocks::take(&lock_files, LOCK_WAIT)?;
        let mut layers: Vec<RawLayer> = read_json(&layers_dir.join("layers.json"))?;
        layers.extend(read_json::<RawLayer>(
            &volatile_layers_dir.join("volatile-layers.json"),
        )?);
        let images: Vec<RawImage> = read_json(&images_dir.join("images.json"))?;
        let mut graph_images = Vec::new();
        if let Some((is_layers, graph)) = &split {
            layers.extend(read_json::<RawLayer>(&is_layers.join("layers.json"))?);
            graph_images = read_json::<RawImage>(&graph.join("images.json"))?;
        }
        let mut containers: Vec<RawContainer> = read_json(&containers_dir.join("containers.json"))?;
        containers.extend(read_json::<RawContainer>(
            &containers_dir.join("volatile-containers.json"),
        )?);
        (layers, images, graph_images, containers)
    };
    let layers_path = layers_dir.join("layers.json");
    let mut layer_roots = vec![image_root];
    if image_root != root {
        layer_roots.push(root);
    }
    let mut snap = build(
        loc,
        image_root,
        &layer_roots,
        &layers_path,
        &layers,
        &images,
        false,
    )?;
    if !graph_images.is_empty() {
        let more = build(
            loc,
            root,
            &layer_roots,
            &layers_path,
            &layers,
            &graph_images,
            false,
        )?;
        snap.merge(more);
    }
    for extra in &loc.additional_image_stores {
        let ldir = loc.kind_dir(extra, "layers");
        let idir = loc.kind_dir(extra, "images");
        let _locks = ReadLocks::take(
            &[ldir.join("layers.lock"), idir.join("images.lock")],
            LOCK_WAIT,
        )?;
        let layers: Vec<RawLayer> = read_json(&ldir.join("layers.json"))?;
        let images: Vec<RawImage> = read_json(&idir.join("images.json"))?;
        let more = build(
            loc,
            extra,
            &[extra.as_path()],
            &ldir.join("layers.json"),
            &layers,
            &images,
            true,
        )?;
        snap.merge(more);
    }
    for c in containers {
        let Some(dir) = loc.layer_dir(root, &c.layer) else {
            continue;
        };
        snap.containers.insert(
            c.id,
            StoredContainer {
                name: c
                    .names
                    .unwrap_or_default()
                    .into_iter()
                    .next()
                    .unwrap_or_default(),
                image_id: c.image,
                dir,
                created: c.created,
            },
        );
    }
    Ok(snap)
}

impl StoreSnapshot {
    /// Adds another store's images and layers; an image in both is the
    /// earlier store's, as c/storage looks there first.
    fn merge(&mut self, more: StoreSnapshot) {
        for (id, img) in more.images {
            self.images.entry(id).or_insert(img);
        }
        for (id, b) in more.layer_bytes {
            self.layer_bytes.entry(id).or_insert(b);
        }
        for u in more.unsized_layers {
            if !self.unsized_layers.iter().any(|x| x.id == u.id) {
                self.unsized_layers.push(u);
            }
        }
        for (id, d) in more.layer_dirs {
            self.layer_dirs.entry(id).or_insert(d);
        }
    }
}

/// `root` holds the images' records; a layer's directory is in the first of
/// `layer_roots` that has it.
fn build(
    loc: &StoreLocation,
    root: &Path,
    layer_roots: &[&Path],
    layers_path: &Path,
    layers: &[RawLayer],
    images: &[RawImage],
    read_only: bool,
) -> Result<StoreSnapshot, StoreError> {
    let parents: BTreeMap<&str, Option<&str>> = layers
        .iter()
        .map(|l| (l.id.as_str(), l.parent.as_deref().filter(|p| !p.is_empty())))
        .collect();
    let chain_of = |top: Option<&str>| -> Result<Vec<String>, StoreError> {
        let mut chain = Vec::new();
        let mut cur = top.filter(|l| !l.is_empty());
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
                layer: top.unwrap_or_default().to_string(),
                missing: id.to_string(),
            })?;
            chain.push(id.to_string());
            cur = *parent;
        }
        chain.reverse();
        Ok(chain)
    };
    let mut snap = StoreSnapshot {
        driver: loc.driver.clone(),
        ..StoreSnapshot::default()
    };
    let mut image_layers: BTreeSet<String> = BTreeSet::new();
    for img in images {
        let chain = chain_of(img.layer.as_deref())?;
        let mut mapped = Vec::new();
        for top in img.mapped_top_layers.iter().flatten() {
            for l in chain_of(Some(top))? {
                if !chain.contains(&l) && !mapped.contains(&l) {
                    mapped.push(l);
                }
            }
        }
        image_layers.extend(chain.iter().chain(&mapped).cloned());
        let metadata_bytes = img
            .big_data_sizes
            .values()
            .map(|v| (*v).max(0) as u64)
            .sum_bytes();
        let config = read_config(&loc.big_data_file(root, &img.id, &format!("sha256:{}", img.id)));
        snap.images.insert(
            img.id.clone(),
            StoredImage {
                names: img.names.clone().unwrap_or_default(),
                layers: chain,
                mapped_layers: mapped,
                metadata_bytes,
                big_data_files: img
                    .big_data_sizes
                    .keys()
                    .map(|k| loc.big_data_file(root, &img.id, k))
                    .collect(),
                config,
                read_only,
                created: img.created,
            },
        );
    }
    let limit = filesystem_bytes(root);
    for l in layers.iter().filter(|l| image_layers.contains(&l.id)) {
        let dir = loc.find_layer_dir(layer_roots, &l.id);
        if loc.driver == "vfs" {
            if let Some(dir) = dir {
                snap.layer_dirs.insert(l.id.clone(), dir);
                continue;
            }
        }
        let problem = match l.diff_size {
            Some(n) if n < 0 => Some(format!("its recorded size is {n} (a partial pull)")),
            None => Some("it has no recorded size".to_string()),
            Some(n) if limit.is_some_and(|lim| n as u64 > lim) => Some(format!(
                "its recorded size {n} is larger than its file system"
            )),
            Some(n) => {
                snap.layer_bytes.insert(l.id.clone(), n as u64);
                None
            }
        };
        if let Some(reason) = problem {
            snap.unsized_layers.push(UnsizedLayer {
                id: l.id.clone(),
                // Without a directory to measure, the caller says the
                // figure is a lower bound.
                dir: dir.unwrap_or_default(),
                reason,
            });
        }
    }
    Ok(snap)
}

/// The size of the file system holding `path`: no layer can be larger.
fn filesystem_bytes(path: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some(st.f_blocks.saturating_mul(st.f_frsize))
}

/// Labels, diff ids and history from an image config blob; an unreadable or
/// odd config has none of them (then the image has no parent or child,
/// which is also what c/common concludes).
fn read_config(path: &Path) -> ImageConfig {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        config: Option<Inner>,
        #[serde(default)]
        rootfs: Option<RootFs>,
        #[serde(default)]
        history: Option<Vec<serde_json::Value>>,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(rename = "Labels", default)]
        labels: Option<BTreeMap<String, String>>,
    }
    #[derive(Deserialize)]
    struct RootFs {
        #[serde(default)]
        diff_ids: Option<Vec<String>>,
    }
    let Some(raw) = read_regular(path)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<Raw>(&b).ok())
    else {
        return ImageConfig::default();
    };
    ImageConfig {
        labels: raw.config.and_then(|c| c.labels).unwrap_or_default(),
        diff_ids: raw.rootfs.and_then(|r| r.diff_ids).unwrap_or_default(),
        history: raw
            .history
            .unwrap_or_default()
            .iter()
            .map(|h| {
                let field = |k: &str| h.get(k).map(|v| v.to_string()).unwrap_or_default();
                [
                    field("created"),
                    field("created_by"),
                    field("author"),
                    field("comment"),
                    h.get("empty_layer")
                        .and_then(|v| v.as_bool())
                        .unwrap_or(false)
                        .to_string(),
                ]
                .join("\u{1f}")
            })
            .collect(),
    }
}

/// A file's bytes, `None` when it does not exist. Anything but a regular
/// file (a FIFO would block forever) is an error.
fn read_regular(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    let io_err = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    let meta = file.metadata().map_err(io_err)?;
    let ft = meta.file_type();
    if !ft.is_file() || ft.is_fifo() {
        return Err(StoreError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).map_err(io_err)?;
    Ok(Some(bytes))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, StoreError> {
    match read_regular(path)? {
        // c/storage writes an empty file for an empty list on some paths.
        Some(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Vec::new()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Json {
            path: path.to_path_buf(),
            source,
        }),
        None => Ok(Vec::new()),
    }
}

/// fcntl read locks on c/storage's lock files, held until dropped (closing
/// the files releases them). A lock file that does not exist guards nothing
/// yet; it is never created.
struct ReadLocks(#[allow(dead_code)] Vec<File>);

impl ReadLocks {
    fn take(paths: &[PathBuf], wait: Duration) -> Result<ReadLocks, StoreError> {
        let deadline = Instant::now() + wait;
        let mut held = Vec::new();
        for path in paths {
            let file = match File::open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(StoreError::Io {
                        path: path.clone(),
                        source,
                    })
                }
            };
            loop {
                match read_lock(&file) {
                    Ok(true) => break,
                    Ok(false) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Ok(false) => {
                        return Err(StoreError::Locked {
                            path: path.clone(),
                            waited: wait,
                        })
                    }
                    Err(source) => {
                        return Err(StoreError::Io {
                            path: path.clone(),
                            source,
                        })
                    }
                }
            }
            held.push(file);
        }
        Ok(ReadLocks(held))
    }
}

/// One non-blocking attempt at a whole-file fcntl read lock; `Ok(false)`
/// when a writer holds it.
fn read_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock is plain data; zeroed is a valid value.
    let mut lk: libc::flock = unsafe { std::mem::zeroed() };
    lk.l_type = libc::F_RDLCK as _;
    lk.l_whence = libc::SEEK_SET as _;
    // SAFETY: fcntl on a descriptor we own, with a valid flock struct.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lk) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) | Some(libc::EINTR) => Ok(false),
        // A file system without locks: c/storage could not lock it either.
        Some(libc::ENOLCK) => Ok(true),
        _ => Err(err),
    }
}

#[cfg(test)]
mod tests;
