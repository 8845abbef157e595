//! OCI image layouts (image-spec `image-layout.md`): an `oci-layout` file,
//! an `index.json` image index, and blobs at `blobs/<alg>/<hex>`.
//!
//! Which blobs are referenced is found by walking from `index.json` through
//! nested image indexes (OCI `application/vnd.oci.image.index.v1+json`,
//! Docker `application/vnd.docker.distribution.manifest.list.v2+json`) and
//! manifests (OCI `application/vnd.oci.image.manifest.v1+json`, Docker
//! `application/vnd.docker.distribution.manifest.v2+json`, schema 1
//! `fsLayers`) to their configs and layers. A descriptor's *position* decides
//! whether its blob is read: entries of `manifests` are always parsed (their
//! `mediaType` may be an artifact type or absent), `config` and `layers` are
//! leaves. A `subject` is kept and followed when present.
//!
//! Temp files other writers leave in a layout, listed as temp, never pruned
//! (a writer may still be using them):
//! - containers/image (skopeo, podman): `os.CreateTemp(dir, "oci-put-blob")`
//!   in the layout root (`oci/layout/oci_dest.go`);
//! - go-containerregistry (crane, ko): `os.CreateTemp(blobs/<alg>, <hex>)`,
//!   i.e. `<hex><digits>` next to the blobs (`pkg/v1/layout/write.go`);
//! - umoci: `.umoci-<random>` directories in the root, flocked while in use
//!   (`oci/cas/dir/dir.go`).
//!
//! Safety: every digest is validated before it becomes a path, a bad one is
//! an error naming the layout, and so is any manifest that cannot be read or
//! parsed, or that is referenced but missing: then what is referenced is
//! unknown and [`Scan::references`] is an `Err`, which prune treats as "remove
//! nothing here". A referenced config or layer that is missing is only
//! reported.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Deserialize;

use super::digest::{Algorithm, Digest};
use super::nofollow::{self, Entry, EntryKind, Tally};

pub const LAYOUT_FILE: &str = "oci-layout";
pub const INDEX_FILE: &str = "index.json";
const BLOBS_DIR: &str = "blobs";
const CONTAINERS_IMAGE_TEMP: &str = "oci-put-blob";
const UMOCI_TEMP: &str = ".umoci-";

/// Index and manifest blobs larger than this are refused rather than read
/// into memory; real ones are a few kilobytes.
const MAX_JSON_BYTES: u64 = 64 << 20;

#[derive(Debug, Deserialize)]
struct Descriptor {
    digest: String,
}

/// An image index or manifest: the fields that reference other blobs.
/// Unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    #[serde(default)]
    manifests: Vec<Descriptor>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    /// image-spec 1.1 release candidates' artifact manifest.
    #[serde(default)]
    blobs: Vec<Descriptor>,
    subject: Option<Descriptor>,
    /// Docker schema 1.
    #[serde(default)]
    fs_layers: Vec<FsLayer>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FsLayer {
    blob_sum: String,
}

/// What `index.json` reaches.
#[derive(Debug, Default)]
pub struct References {
    pub referenced: HashSet<Digest>,
    /// Referenced configs and layers that are not in `blobs/`.
    pub missing: BTreeSet<Digest>,
}

/// The contents of a layout.
#[derive(Debug)]
pub struct Scan {
    pub blobs: BTreeMap<Digest, Entry>,
    /// Leftover temp files and anything in `blobs/<alg>/` that is not a blob.
    pub temp: Vec<(PathBuf, u64)>,
    pub tally: Tally,
    pub blob_bytes: u64,
    /// `Err` names the layout and says why references are unknown.
    pub references: Result<References, String>,
}

impl Scan {
    /// Present blobs nothing references, or `None` when references are unknown.
    pub fn orphans(&self) -> Option<Vec<(&Digest, &Entry)>> {
        let refs = self.references.as_ref().ok()?;
        Some(
            self.blobs
                .iter()
                .filter(|(d, _)| !refs.referenced.contains(*d))
                .collect(),
        )
    }
}

/// Open handles on `blobs/<alg>` directories.
pub struct BlobDirs {
    dirs: HashMap<Algorithm, OwnedFd>,
}

impl BlobDirs {
    pub fn open(root: BorrowedFd<'_>) -> std::io::Result<BlobDirs> {
        let blobs = nofollow::open_dir(root, OsStr::new(BLOBS_DIR))?;
        let mut dirs = HashMap::new();
        for alg in Algorithm::ALL {
            match nofollow::open_dir(blobs.as_fd(), OsStr::new(alg.name())) {
                Ok(fd) => {
                    dirs.insert(alg, fd);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(BlobDirs { dirs })
    }

    pub fn dir(&self, alg: Algorithm) -> Option<BorrowedFd<'_>> {
        self.dirs.get(&alg).map(|fd| fd.as_fd())
    }
}

/// Path of a blob, for messages.
pub fn blob_path(layout: &Path, d: &Digest) -> PathBuf {
    layout
        .join(BLOBS_DIR)
        .join(d.algorithm().name())
        .join(d.hex())
}

/// Sizes a layout, lists its blobs and temp files, and walks its references.
/// `entries` is the listing of the root.
pub fn scan(root: BorrowedFd<'_>, entries: Vec<Entry>, layout: &Path) -> Scan {
    let mut tally = Tally::default();
    let mut blobs = BTreeMap::new();
    let mut temp = Vec::new();
    let mut blob_bytes = 0;
    for e in &entries {
        let name = e.name_str().unwrap_or("");
        let path = layout.join(&e.name);
        if e.kind == EntryKind::Dir && name == BLOBS_DIR {
            scan_blobs(
                root,
                layout,
                &mut tally,
                &mut blobs,
                &mut temp,
                &mut blob_bytes,
            );
        } else if e.kind == EntryKind::Dir {
            let before = tally.bytes;
            tally.add_tree(root, &e.name, &path);
            if name.starts_with(UMOCI_TEMP) {
                temp.push((path, tally.bytes - before));
            }
        } else {
            let added = tally.add(e);
            if name.starts_with(CONTAINERS_IMAGE_TEMP) {
                temp.push((path, added));
            }
        }
    }
    let references =
        read_index(root, layout).and_then(|index| walk_references(root, &blobs, index, layout));
    Scan {
        blobs,
        temp,
        tally,
        blob_bytes,
        references,
    }
}

fn scan_blobs(
    root: BorrowedFd<'_>,
    layout: &Path,
    tally: &mut Tally,
    blobs: &mut BTreeMap<Digest, Entry>,
    temp: &mut Vec<(PathBuf, u64)>,
    blob_bytes: &mut u64,
) {
    let blobs_path = layout.join(BLOBS_DIR);
    let (blobs_fd, algs) = match nofollow::open_dir(root, OsStr::new(BLOBS_DIR))
        .and_then(|fd| nofollow::list(fd.as_fd()).map(|l| (fd, l)))
    {
        Ok(x) => x,
        Err(e) => return tally.errors.push(nofollow::describe(&blobs_path, &e)),
    };
    for alg_entry in algs {
        let alg_path = blobs_path.join(&alg_entry.name);
        let alg = alg_entry.name_str().and_then(Algorithm::from_name);
        let (Some(alg), EntryKind::Dir) = (alg, alg_entry.kind) else {
            // An algorithm we do not know, or not a directory: measured only.
            if alg_entry.kind == EntryKind::Dir {
                tally.add_tree(blobs_fd.as_fd(), &alg_entry.name, &alg_path);
            } else {
                tally.add(&alg_entry);
            }
            continue;
        };
        let listed = nofollow::open_dir(blobs_fd.as_fd(), &alg_entry.name)
            .and_then(|fd| nofollow::list(fd.as_fd()).map(|l| (fd, l)));
        let (alg_fd, files) = match listed {
            Ok(x) => x,
            Err(e) => {
                tally.errors.push(nofollow::describe(&alg_path, &e));
                continue;
            }
        };
        for f in files {
            let path = alg_path.join(&f.name);
            let digest = f.name_str().and_then(|n| Digest::new(alg, n));
            match (digest, f.kind) {
                (Some(d), EntryKind::File | EntryKind::Symlink) => {
                    *blob_bytes = blob_bytes.saturating_add(tally.add(&f));
                    blobs.insert(d, f);
                }
                (_, EntryKind::Dir) => {
                    let before = tally.bytes;
                    tally.add_tree(alg_fd.as_fd(), &f.name, &path);
                    temp.push((path, tally.bytes - before));
                }
                _ => {
                    let added = tally.add(&f);
                    temp.push((path, added));
                }
            }
        }
    }
}

/// Reads and parses one JSON blob. `size_hint` (the size `lstat` saw) sizes
/// the buffer up front: `read_to_end` on an empty `Vec` probes with small
/// reads, which made up most of the syscalls of a large layout's walk.
fn read_json(file: std::fs::File, what: &str, size_hint: u64) -> Result<Node, String> {
    let mut buf = Vec::with_capacity(size_hint.min(MAX_JSON_BYTES) as usize + 1);
    file.take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{what}: {e}"))?;
    if buf.len() as u64 > MAX_JSON_BYTES {
        return Err(format!("{what}: larger than {MAX_JSON_BYTES} bytes"));
    }
    serde_json::from_slice(&buf).map_err(|e| format!("{what}: {e}"))
}

fn read_index(root: BorrowedFd<'_>, layout: &Path) -> Result<Node, String> {
    let file = nofollow::open_file(root, OsStr::new(INDEX_FILE))
        .map_err(|e| format!("{}: {INDEX_FILE}: {e}", layout.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    read_json(file, INDEX_FILE, size).map_err(|e| format!("{}: {e}", layout.display()))
}

fn parse_digest(raw: &str, layout: &Path, from: &str) -> Result<Digest, String> {
    raw.parse::<Digest>()
        .map_err(|e| format!("{}: {from}: {e}", layout.display()))
}

/// One blob to visit: its digest, who referenced it, and whether it must be
/// read (a manifest or index) or is a leaf.
struct Visit {
    digest: Digest,
    from: String,
    parse: bool,
    /// A `subject` may live elsewhere (a registry): missing is not fatal.
    optional: bool,
}

fn children(node: &Node, layout: &Path, from: &str) -> Result<Vec<Visit>, String> {
    let mut out = Vec::new();
    let mut push = |raw: &str, parse: bool, optional: bool| -> Result<(), String> {
        out.push(Visit {
            digest: parse_digest(raw, layout, from)?,
            from: from.to_string(),
            parse,
            optional,
        });
        Ok(())
    };
    for d in &node.manifests {
        push(&d.digest, true, false)?;
    }
    if let Some(d) = &node.subject {
        push(&d.digest, true, true)?;
    }
    for d in node.config.iter().chain(&node.layers).chain(&node.blobs) {
        push(&d.digest, false, false)?;
    }
    for l in &node.fs_layers {
        push(&l.blob_sum, false, false)?;
    }
    Ok(out)
}

/// Walks from `index.json` breadth-first, reading each level's manifests in
/// parallel. Every digest is validated first, so the whole walk fails on the
/// first bad one.
fn walk_references(
    root: BorrowedFd<'_>,
    blobs: &BTreeMap<Digest, Entry>,
    index: Node,
    layout: &Path,
) -> Result<References, String> {
    let mut refs = References::default();
    let mut frontier = children(&index, layout, INDEX_FILE)?;
    // Opened once, lazily: a layout whose index references nothing needs no `blobs/`.
    let mut dirs: Option<BlobDirs> = None;
    while !frontier.is_empty() {
        let mut to_read = Vec::new();
        for v in frontier {
            if !refs.referenced.insert(v.digest.clone()) {
                continue;
            }
            let present = blobs.contains_key(&v.digest);
            match (present, v.parse, v.optional) {
                (true, true, _) => to_read.push(v.digest),
                (true, false, _) => {}
                (false, true, false) => {
                    return Err(format!(
                        "{}: manifest {} referenced by {} is missing, so the blobs it references are unknown",
                        layout.display(),
                        v.digest,
                        v.from
                    ))
                }
                (false, _, _) => {
                    refs.missing.insert(v.digest);
                }
            }
        }
        if to_read.is_empty() {
            break;
        }
        if dirs.is_none() {
            dirs = Some(
                BlobDirs::open(root)
                    .map_err(|e| nofollow::describe(&layout.join(BLOBS_DIR), &e))?,
            );
        }
        let dirs = dirs.as_ref().expect("set just above");
        let next: Result<Vec<Vec<Visit>>, String> = to_read
            .par_iter()
            .map(|d| {
                let what = format!("manifest {d}");
                let dir = dirs.dir(d.algorithm()).ok_or_else(|| {
                    format!(
                        "{}: {what}: no blobs/{} directory",
                        layout.display(),
                        d.algorithm().name()
                    )
                })?;
                let file = nofollow::open_file(dir, OsStr::new(d.hex()))
                    .map_err(|e| nofollow::describe(&blob_path(layout, d), &e))?;
                let size = blobs.get(d).map_or(0, |e| e.size);
                let node = read_json(file, &what, size)
                    .map_err(|e| format!("{}: {e}", layout.display()))?;
                children(&node, layout, &what)
            })
            .collect();
        frontier = next?.into_iter().flatten().collect();
    }
    Ok(refs)
}

/// One way `index.json` reaches a blob: the tags (`org.opencontainers.image.ref.name`)
/// of the index entry it starts from, then the indexes and manifests passed
/// through, top first; an empty chain means `index.json` names the blob itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Referrer {
    pub tags: Vec<String>,
    pub chain: Vec<Digest>,
}

/// More paths than this to one blob say nothing more to a reader.
const MAX_REFERRERS: usize = 64;

#[derive(Debug, Deserialize)]
struct TaggedIndex {
    #[serde(default)]
    manifests: Vec<TaggedEntry>,
}

#[derive(Debug, Deserialize)]
struct TaggedEntry {
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Every path from `index.json` to `target` (at most [`MAX_REFERRERS`]);
/// empty when nothing references it. The same walk as [`scan`]'s, keeping
/// who references whom; an `Err` means the references are unknown.
pub fn referrers(layout: &Path, target: &Digest) -> Result<Vec<Referrer>, String> {
    let root = nofollow::open_root(layout).map_err(|e| nofollow::describe(layout, &e))?;
    let file = nofollow::open_file(root.as_fd(), OsStr::new(INDEX_FILE))
        .map_err(|e| nofollow::describe(&layout.join(INDEX_FILE), &e))?;
    let mut text = Vec::new();
    file.take(MAX_JSON_BYTES)
        .read_to_end(&mut text)
        .map_err(|e| format!("{}: {INDEX_FILE}: {e}", layout.display()))?;
    let index: Node = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: {INDEX_FILE}: {e}", layout.display()))?;
    let tagged: TaggedIndex = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: {INDEX_FILE}: {e}", layout.display()))?;
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    for e in tagged.manifests {
        if let Some(t) = e.annotations.get(REF_NAME) {
            tags.entry(e.digest).or_default().push(t.clone());
        }
    }
    // Who references each digest; `None` is index.json.
    let mut parents: HashMap<Digest, BTreeSet<Option<Digest>>> = HashMap::new();
    let mut expanded: HashSet<Digest> = HashSet::new();
    let mut dirs: Option<BlobDirs> = None;
    let mut queue = vec![(None, children(&index, layout, INDEX_FILE)?)];
    while let Some((parent, visits)) = queue.pop() {
        for v in visits {
            parents
                .entry(v.digest.clone())
                .or_default()
                .insert(parent.clone());
            if !v.parse || !expanded.insert(v.digest.clone()) {
                continue;
            }
            if dirs.is_none() {
                dirs = Some(
                    BlobDirs::open(root.as_fd())
                        .map_err(|e| nofollow::describe(&layout.join(BLOBS_DIR), &e))?,
                );
            }
            let dir = dirs.as_ref().and_then(|d| d.dir(v.digest.algorithm()));
            let opened = dir.map(|dir| nofollow::open_file(dir, OsStr::new(v.digest.hex())));
            let file = match opened {
                Some(Ok(f)) => f,
                Some(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(nofollow::describe(&blob_path(layout, &v.digest), &e))
                }
                _ if v.optional => continue,
                _ => {
                    return Err(format!(
                        "{}: manifest {} referenced by {} is missing, so the blobs it references are unknown",
                        layout.display(),
                        v.digest,
                        v.from
                    ))
                }
            };
            let what = format!("manifest {}", v.digest);
            let node =
                read_json(file, &what, 0).map_err(|e| format!("{}: {e}", layout.display()))?;
            queue.push((Some(v.digest.clone()), children(&node, layout, &what)?));
        }
    }
    let mut chains = Vec::new();
    paths_up(target, &parents, &mut vec![], &mut chains);
    Ok(chains
        .into_iter()
        .map(|chain| {
            let top = chain.first().unwrap_or(target).to_string();
            Referrer {
                tags: tags.get(&top).cloned().unwrap_or_default(),
                chain,
            }
        })
        .collect())
}

/// Depth-first from `d` up to `index.json`; `below` holds the digests
/// between `d` and the target, nearest first (and guards against cycles).
fn paths_up(
    d: &Digest,
    parents: &HashMap<Digest, BTreeSet<Option<Digest>>>,
    below: &mut Vec<Digest>,
    out: &mut Vec<Vec<Digest>>,
) {
    for p in parents.get(d).into_iter().flatten() {
        if out.len() >= MAX_REFERRERS {
            return;
        }
        match p {
            None => out.push(below.iter().rev().cloned().collect()),
            Some(p) if below.contains(p) => {}
            Some(p) => {
                below.push(p.clone());
                paths_up(p, parents, below, out);
                below.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests;
