//! Registry storage: the filesystem driver's tree of a CNCF distribution
//! registry (Debian's `docker-registry`), `<root>/docker/registry/v2`.
//!
//! Layout (distribution `registry/storage/paths.go`):
//! - `blobs/<alg>/<2 hex>/<hex>/data`: each blob once;
//! - `repositories/<name>/_layers/<alg>/<hex>/link`: blobs the repository
//!   serves (a link file holds a digest);
//! - `repositories/<name>/_manifests/revisions/<alg>/<hex>/link`: its
//!   manifests; `_manifests/tags/<tag>/current/link` what a tag points at,
//!   `_manifests/tags/<tag>/index/<alg>/<hex>/link` what it pointed at;
//! - `repositories/<name>/_uploads/<id>/`: uploads in progress or abandoned
//!   (`data`, `startedat`, `hashstates/`).
//!
//! A repository is a directory holding `_layers`; names nest
//! (`library/alpine`), and other `_`-directories are not descended, as in
//! distribution's catalog walk.
//!
//! **What garbage-collect deletes** (distribution 2.8
//! `registry/storage/garbagecollect.go`, `MarkAndSweep`): for every
//! repository, every revision whose blob exists is marked with the digests it
//! references (a manifest's config and layers, a list's or index's
//! manifests, schema 1 `fsLayers`; not `subject`). Every blob in `blobs/` not
//! marked is deleted (its whole `<hex>` directory); `_layers` links are left.
//! With `--delete-untagged`, a revision no tag's `current` link names is not
//! marked but deleted (its revision directory and its entry in every tag's
//! index). Distribution 2.8 also deletes, that way, the untagged children of a
//! tagged manifest list, and then the layers only they reference (fixed in
//! distribution 3 by marking through lists and keeping marked manifests):
//! here the list's children are marked and kept, as in 3, so the plan never
//! breaks a tagged multi-platform image.
//!
//! Anything that makes the marks unknown (a link or manifest that cannot be
//! read or parsed) is an error naming the path, and then nothing is
//! eligible: distribution's GC stops on the same errors.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;
use rustix::fs::{self as rfs, AtFlags, Dir, FileType};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

use super::digest::{Algorithm, Digest};
use super::nofollow::{self, Entry, EntryKind, Tally};
use super::BlobCount;

/// The path below a registry's root directory (`storage.filesystem.rootdirectory`).
pub const V2: [&str; 3] = ["docker", "registry", "v2"];
const BLOBS: &str = "blobs";
const REPOSITORIES: &str = "repositories";
const DATA: &str = "data";
const LINK: &str = "link";
const LAYERS: &str = "_layers";
const MANIFESTS: &str = "_manifests";
const UPLOADS: &str = "_uploads";
const STARTED_AT: &str = "startedat";

/// Manifests larger than this are refused rather than read; distribution
/// itself refuses manifests over 4 MiB.
const MAX_MANIFEST_BYTES: u64 = 64 << 20;
/// A link file holds one digest.
const MAX_LINK_BYTES: u64 = 4096;

/// Whether the root listing and the tree below it hold `docker/registry/v2`.
pub fn looks_like(root: BorrowedFd<'_>, entries: &[Entry]) -> bool {
    entries
        .iter()
        .any(|e| e.kind == EntryKind::Dir && e.name == OsStr::new(V2[0]))
        && open_v2(root).is_ok()
}

/// Opens `docker/registry/v2` below a registry root.
pub(crate) fn open_v2(root: BorrowedFd<'_>) -> std::io::Result<OwnedFd> {
    let docker = nofollow::open_dir(root, OsStr::new(V2[0]))?;
    let registry = nofollow::open_dir(docker.as_fd(), OsStr::new(V2[1]))?;
    nofollow::open_dir(registry.as_fd(), OsStr::new(V2[2]))
}

/// One repository's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Repository {
    pub name: String,
    /// Tags whose `current` link names a manifest.
    pub tags: u64,
    /// Revisions whose blob is present.
    pub manifests: u64,
    /// Present blobs this repository links (`_layers` and revisions) and no
    /// other repository does.
    pub unique: BlobCount,
    /// Present blobs this repository links that others link too; counted
    /// once in the registry's total.
    pub shared: BlobCount,
    /// Its abandoned or running uploads.
    pub uploads: BlobCount,
}

/// An upload directory (`_uploads/<id>`).
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub repository: String,
    pub path: PathBuf,
    pub bytes: u64,
    /// Modification time of its `startedat` file (written once, when the
    /// upload began), else of the directory.
    #[serde(serialize_with = "unix_secs")]
    pub started: SystemTime,
}

fn unix_secs<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    s.serialize_u64(secs)
}

/// A manifest revision `--delete-untagged` removes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ManifestRef {
    pub repository: String,
    pub digest: Digest,
}

/// What one garbage-collect run would delete.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcPlan {
    /// Digests marked (referenced), present or not: distribution's
    /// "N blobs marked".
    pub marked: u64,
    /// Present blobs not marked.
    pub blobs: BTreeSet<Digest>,
    pub blob_bytes: u64,
    /// Untagged revisions (only with `--delete-untagged`).
    pub manifests: BTreeSet<ManifestRef>,
    #[serde(skip)]
    pub marked_set: HashSet<Digest>,
}

/// The `registry` section of a cache report.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryReport {
    pub repositories: Vec<Repository>,
    /// Present blobs no repository links.
    pub unlinked: BlobCount,
    pub uploads: Vec<Upload>,
    /// What `garbage-collect` would delete; `None` when marks are unknown.
    pub gc: Option<GcPlan>,
    /// What `garbage-collect --delete-untagged` would delete.
    pub gc_untagged: Option<GcPlan>,
}

/// Links and manifests of one repository, as read from disk.
#[derive(Debug, Default)]
struct RepoLinks {
    name: String,
    /// Repository directory relative to `repositories/`.
    rel: PathBuf,
    layers: Vec<Digest>,
    revisions: Vec<Digest>,
    /// Tag name to its `current` digest (`None`: no current link).
    tags: BTreeMap<OsString, Option<Digest>>,
    uploads: Vec<Upload>,
}

/// The contents of a registry.
#[derive(Debug)]
pub struct Scan {
    pub blobs: BTreeMap<Digest, Entry>,
    pub tally: Tally,
    pub blob_bytes: u64,
    repos: Vec<RepoLinks>,
    /// Manifest references by digest (present, parsed manifests only).
    references: HashMap<Digest, Vec<Digest>>,
    /// `Err` names the path and why marks are unknown.
    marks_known: Result<(), String>,
}

/// Sizes a registry root and reads its links and manifests. `entries` is
/// the listing of the root; `path` is how the root is shown.
pub fn scan(root: BorrowedFd<'_>, entries: Vec<Entry>, path: &Path) -> Scan {
    let mut tally = Tally::default();
    let mut out = Scan {
        blobs: BTreeMap::new(),
        tally: Tally::default(),
        blob_bytes: 0,
        repos: Vec::new(),
        references: HashMap::new(),
        marks_known: Ok(()),
    };
    // Everything outside docker/registry/v2 is measured only.
    let v2 = match walk_to_v2(root, entries, path, &mut tally) {
        Ok(fd) => fd,
        Err(e) => {
            out.marks_known = Err(e.clone());
            tally.errors.push(e);
            out.tally = tally;
            return out;
        }
    };
    let v2_path = v2_path(path);
    let listing = match nofollow::list(v2.as_fd()) {
        Ok(l) => l,
        Err(e) => {
            let e = nofollow::describe(&v2_path, &e);
            out.marks_known = Err(e.clone());
            tally.errors.push(e);
            out.tally = tally;
            return out;
        }
    };
    let mut link_errors = Vec::new();
    // Without it distribution's GC stops ("Path not found"): a registry
    // copied in part must not lose every blob.
    if !listing
        .iter()
        .any(|e| e.kind == EntryKind::Dir && e.name == OsStr::new(REPOSITORIES))
    {
        link_errors.push(format!(
            "{}: no {REPOSITORIES} directory",
            v2_path.display()
        ));
    }
    for e in listing {
        let p = v2_path.join(&e.name);
        match (e.kind, e.name_str()) {
            (EntryKind::Dir, Some(BLOBS)) => {
                let before = tally.errors.len();
                scan_blobs(v2.as_fd(), &p, &mut tally, &mut out);
                // A manifest in an unreadable part of blobs/ would look
                // absent, and the layers only it marks would look garbage.
                link_errors.extend(tally.errors.drain(before..));
            }
            (EntryKind::Dir, Some(REPOSITORIES)) => match nofollow::open_dir(v2.as_fd(), &e.name) {
                Ok(fd) => {
                    out.repos = scan_repositories(fd.as_fd(), &p, &mut tally, &mut link_errors);
                }
                Err(err) => {
                    link_errors.push(nofollow::describe(&p, &err));
                }
            },
            (EntryKind::Dir, _) => tally.add_tree(v2.as_fd(), &e.name, &p),
            _ => {
                tally.add(&e);
            }
        }
    }
    out.repos.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(e) = link_errors.first() {
        out.marks_known = Err(format!("{e}; garbage-collect marks unknown"));
    }
    tally.errors.extend(link_errors);
    if out.marks_known.is_ok() {
        if let Err(e) = read_manifests(v2.as_fd(), &v2_path, &mut out) {
            tally.errors.push(e.clone());
            out.marks_known = Err(e);
        }
    }
    out.tally = tally;
    out
}

pub(crate) fn v2_path(root: &Path) -> PathBuf {
    V2.iter().fold(root.to_path_buf(), |p, c| p.join(c))
}

/// Measures what sits beside `docker/registry/v2` and opens it.
fn walk_to_v2(
    root: BorrowedFd<'_>,
    entries: Vec<Entry>,
    path: &Path,
    tally: &mut Tally,
) -> Result<OwnedFd, String> {
    let mut dir: Option<OwnedFd> = None;
    let mut dir_path = path.to_path_buf();
    let mut listing = entries;
    for (depth, part) in V2.iter().enumerate() {
        let here = dir.as_ref().map_or(root, |d| d.as_fd());
        let mut next = None;
        for e in &listing {
            let p = dir_path.join(&e.name);
            if e.kind == EntryKind::Dir && e.name == OsStr::new(part) {
                next = Some(
                    nofollow::open_dir(here, &e.name).map_err(|x| nofollow::describe(&p, &x))?,
                );
            } else if e.kind == EntryKind::Dir {
                tally.add_tree(here, &e.name, &p);
            } else {
                tally.add(e);
            }
        }
        let next = next.ok_or_else(|| format!("{}: no {part} directory", dir_path.display()))?;
        dir_path = dir_path.join(part);
        if depth + 1 < V2.len() {
            listing =
                nofollow::list(next.as_fd()).map_err(|x| nofollow::describe(&dir_path, &x))?;
        }
        dir = Some(next);
    }
    Ok(dir.expect("V2 is not empty"))
}

/// Lists a directory whose fd we own, for the many one-entry directories of
/// a registry: the fd is read in place (`Dir::read_from`, which
/// [`nofollow::list`] uses, reopens it: an `fcntl`, an `openat` and a
/// `close` more), and entries the directory reports as directories are not
/// `lstat`ed, since a directory's own size is never counted.
fn list_dir(fd: OwnedFd) -> std::io::Result<(Dir, Vec<Entry>)> {
    let mut dir = Dir::new(fd)?;
    let mut out = Vec::new();
    while let Some(item) = dir.read() {
        let item = item?;
        let name = item.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = OsStr::from_bytes(name).to_os_string();
        if item.file_type() == FileType::Directory {
            out.push(dir_entry(name));
            continue;
        }
        match rfs::statat(dir.fd()?, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => out.push(Entry::from_stat(name, &st)),
            // Renamed or removed since readdir: skipped, as nofollow::list does.
            Err(Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((dir, out))
}

/// A directory entry known from `d_type` alone.
fn dir_entry(name: OsString) -> Entry {
    Entry {
        name,
        kind: EntryKind::Dir,
        size: 0,
        dev: 0,
        ino: 0,
        nlink: 1,
        atime: SystemTime::UNIX_EPOCH,
        mtime: SystemTime::UNIX_EPOCH,
        mode: 0o040_000,
        uid: 0,
        gid: 0,
    }
}

fn open_list(dir: BorrowedFd<'_>, name: &OsStr) -> std::io::Result<(Dir, Vec<Entry>)> {
    nofollow::open_dir(dir, name).and_then(list_dir)
}

/// A symlink where distribution's filesystem driver would follow it: not
/// followed here, so what it hides is unknown and marks are too.
fn symlink_error(path: &Path) -> String {
    format!(
        "{}: a symlink, not followed (garbage-collect would follow it)",
        path.display()
    )
}

/// One `<2 hex>` directory's blobs, listed on a worker thread.
#[derive(Default)]
struct PrefixScan {
    blobs: Vec<(Digest, Entry)>,
    /// Non-blob entries, counted after the parallel part.
    other: Vec<Entry>,
    strays: Tally,
}

fn scan_blobs(v2: BorrowedFd<'_>, blobs_path: &Path, tally: &mut Tally, out: &mut Scan) {
    let (blobs_fd, algs) = match nofollow::open_dir(v2, OsStr::new(BLOBS))
        .and_then(|fd| nofollow::list(fd.as_fd()).map(|l| (fd, l)))
    {
        Ok(x) => x,
        Err(e) => return tally.errors.push(nofollow::describe(blobs_path, &e)),
    };
    for a in algs {
        let alg_path = blobs_path.join(&a.name);
        let alg = a.name_str().and_then(Algorithm::from_name);
        let (Some(alg), EntryKind::Dir) = (alg, a.kind) else {
            if a.kind == EntryKind::Symlink {
                tally.errors.push(symlink_error(&alg_path));
            }
            if a.kind == EntryKind::Dir {
                tally.add_tree(blobs_fd.as_fd(), &a.name, &alg_path);
            } else {
                tally.add(&a);
            }
            continue;
        };
        let listed = nofollow::open_dir(blobs_fd.as_fd(), &a.name)
            .and_then(|fd| nofollow::list(fd.as_fd()).map(|l| (fd, l)));
        let (alg_fd, prefixes) = match listed {
            Ok(x) => x,
            Err(e) => {
                tally.errors.push(nofollow::describe(&alg_path, &e));
                continue;
            }
        };
        let scans: Vec<PrefixScan> = prefixes
            .par_iter()
            .map(|p| scan_prefix(alg_fd.as_fd(), alg, p, &alg_path))
            .collect();
        for s in scans {
            for e in &s.other {
                tally.add(e);
            }
            for (d, e) in s.blobs {
                out.blob_bytes = out.blob_bytes.saturating_add(tally.add(&e));
                out.blobs.insert(d, e);
            }
            tally.bytes = tally.bytes.saturating_add(s.strays.bytes);
            tally.files += s.strays.files;
            tally.errors.extend(s.strays.errors);
        }
    }
}

fn scan_prefix(alg_fd: BorrowedFd<'_>, alg: Algorithm, p: &Entry, alg_path: &Path) -> PrefixScan {
    let mut s = PrefixScan::default();
    let p_path = alg_path.join(&p.name);
    if p.kind != EntryKind::Dir {
        if p.kind == EntryKind::Symlink {
            s.strays.errors.push(symlink_error(&p_path));
        }
        s.other.push(p.clone());
        return s;
    }
    if let Err(e) = scan_hexes(alg_fd, alg, p, &p_path, &mut s) {
        s.strays.errors.push(nofollow::describe(&p_path, &e));
    }
    s
}

/// The `<hex>` directories of one `<2 hex>` directory.
fn scan_hexes(
    alg_fd: BorrowedFd<'_>,
    alg: Algorithm,
    p: &Entry,
    p_path: &Path,
    s: &mut PrefixScan,
) -> std::io::Result<()> {
    let prefix = p.name_str().unwrap_or("");
    let (p_dir, hexes) = open_list(alg_fd, &p.name)?;
    let p_fd = p_dir.fd()?;
    for h in hexes {
        let h_path = p_path.join(&h.name);
        let digest = h
            .name_str()
            .filter(|n| n.get(..2) == Some(prefix))
            .and_then(|n| Digest::new(alg, n));
        let (Some(d), EntryKind::Dir) = (digest, h.kind) else {
            if h.kind == EntryKind::Symlink {
                s.strays.errors.push(symlink_error(&h_path));
            }
            if h.kind == EntryKind::Dir {
                s.strays.add_tree(p_fd, &h.name, &h_path);
            } else {
                s.other.push(h);
            }
            continue;
        };
        let (h_dir, files) = match open_list(p_fd, &h.name) {
            Ok(x) => x,
            Err(e) => {
                s.strays.errors.push(nofollow::describe(&h_path, &e));
                continue;
            }
        };
        for f in files {
            if f.kind == EntryKind::File && f.name == OsStr::new(DATA) {
                s.blobs.push((d.clone(), f));
            } else if f.kind == EntryKind::Dir {
                s.strays
                    .add_tree(h_dir.fd()?, &f.name, &h_path.join(&f.name));
            } else {
                if f.kind == EntryKind::Symlink {
                    s.strays.errors.push(symlink_error(&h_path.join(&f.name)));
                }
                s.other.push(f);
            }
        }
    }
    Ok(())
}

/// Repository names nest no deeper than this.
const MAX_REPO_DEPTH: usize = 64;

/// A repository directory found by the walk, read afterwards in parallel.
struct RepoDir {
    fd: OwnedFd,
    path: PathBuf,
    rel: PathBuf,
    /// Its `_layers`, `_manifests` and `_uploads`.
    parts: Vec<OsString>,
}

/// A repository's links, the entries below its `_` directories (measured by
/// the caller, so a hard link is still counted once), and its errors.
type RepoRead = (RepoLinks, Vec<Entry>, Vec<String>);

/// Finds the repositories below `repositories/` and reads them in parallel.
fn scan_repositories(
    dir: BorrowedFd<'_>,
    path: &Path,
    tally: &mut Tally,
    errors: &mut Vec<String>,
) -> Vec<RepoLinks> {
    let mut found = Vec::new();
    find_repositories(dir, path, PathBuf::new(), 0, tally, &mut found, errors);
    let read: Vec<RepoRead> = found.into_par_iter().map(read_repo).collect();
    let mut repos = Vec::with_capacity(read.len());
    for (repo, entries, errs) in read {
        for e in &entries {
            tally.add(e);
        }
        errors.extend(errs);
        repos.push(repo);
    }
    repos
}

fn find_repositories(
    dir: BorrowedFd<'_>,
    path: &Path,
    rel: PathBuf,
    depth: usize,
    tally: &mut Tally,
    found: &mut Vec<RepoDir>,
    errors: &mut Vec<String>,
) {
    if depth > MAX_REPO_DEPTH {
        return errors.push(format!("{}: nested too deep", path.display()));
    }
    let entries = match nofollow::list(dir) {
        Ok(e) => e,
        Err(e) => return errors.push(nofollow::describe(path, &e)),
    };
    let is_repo = entries
        .iter()
        .any(|e| e.kind == EntryKind::Dir && e.name == OsStr::new(LAYERS));
    let mut parts = Vec::new();
    for e in entries {
        let p = path.join(&e.name);
        let name = e.name_str().unwrap_or("");
        if e.kind != EntryKind::Dir {
            if e.kind == EntryKind::Symlink {
                errors.push(symlink_error(&p));
            }
            tally.add(&e);
            continue;
        }
        match name {
            LAYERS | MANIFESTS | UPLOADS if is_repo => parts.push(e.name),
            n if n.starts_with('_') => tally.add_tree(dir, &e.name, &p),
            _ => match nofollow::open_dir(dir, &e.name) {
                Ok(fd) => find_repositories(
                    fd.as_fd(),
                    &p,
                    rel.join(&e.name),
                    depth + 1,
                    tally,
                    found,
                    errors,
                ),
                Err(err) => errors.push(nofollow::describe(&p, &err)),
            },
        }
    }
    if is_repo {
        match rustix::io::dup(dir) {
            Ok(fd) => found.push(RepoDir {
                fd,
                path: path.to_path_buf(),
                rel,
                parts,
            }),
            Err(e) => errors.push(nofollow::describe(path, &e.into())),
        }
    }
}

fn read_repo(dir: RepoDir) -> RepoRead {
    let mut repo = RepoLinks {
        name: dir.rel.to_string_lossy().into_owned(),
        rel: dir.rel.clone(),
        ..RepoLinks::default()
    };
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for part in &dir.parts {
        let p = dir.path.join(part);
        match nofollow::open_dir(dir.fd.as_fd(), part) {
            Ok(fd) => read_repo_dir(fd.as_fd(), part, &p, &mut repo, &mut entries, &mut errors),
            Err(e) => errors.push(nofollow::describe(&p, &e)),
        }
    }
    (repo, entries, errors)
}

/// Walks `_layers`, `_manifests` or `_uploads` (open as `fd`), listing
/// everything and reading every link file at a place the layout gives a
/// meaning to.
fn read_repo_dir(
    fd: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    repo: &mut RepoLinks,
    entries: &mut Vec<Entry>,
    errors: &mut Vec<String>,
) {
    let mut files = Vec::new();
    match rustix::io::dup(fd) {
        Ok(own) => collect(own, path, &mut Vec::new(), &mut files, errors),
        Err(e) => errors.push(nofollow::describe(path, &e.into())),
    }
    entries.extend(files.iter().map(|(_, e, _)| e.clone()));
    let top = name.to_str().unwrap_or("");
    if top == UPLOADS {
        return uploads(repo, path, files);
    }
    for (parts, _, content) in files {
        let p: Vec<&str> = parts.iter().map(|s| s.to_str().unwrap_or("\0")).collect();
        let Some(content) = content else { continue };
        let file_path = parts.iter().fold(path.to_path_buf(), |a, c| a.join(c));
        let parsed = || -> Result<Digest, String> {
            let s = std::str::from_utf8(&content)
                .map_err(|_| format!("{}: link is not text", file_path.display()))?;
            s.parse::<Digest>()
                .map_err(|e| format!("{}: {e}", file_path.display()))
        };
        match (top, p.as_slice()) {
            (LAYERS, [_, _, LINK]) => match parsed() {
                Ok(d) => repo.layers.push(d),
                Err(e) => errors.push(e),
            },
            (MANIFESTS, ["revisions", _, _, LINK]) => match parsed() {
                Ok(d) => repo.revisions.push(d),
                Err(e) => errors.push(e),
            },
            (MANIFESTS, ["tags", _, "current", LINK]) => match parsed() {
                Ok(d) => {
                    repo.tags.insert(parts[1].clone(), Some(d));
                }
                Err(e) => errors.push(e),
            },
            _ => {}
        }
    }
    if top == MANIFESTS {
        // Tags without a current link still count for `--delete-untagged`'s
        // index cleanup: list the tag directories themselves.
        if let Ok(tags) =
            nofollow::open_dir(fd, OsStr::new("tags")).and_then(|t| nofollow::list(t.as_fd()))
        {
            for t in tags.into_iter().filter(|t| t.kind == EntryKind::Dir) {
                repo.tags.entry(t.name).or_insert(None);
            }
        }
    }
}

type Found = (Vec<OsString>, Entry, Option<Vec<u8>>);

/// Every non-directory entry below `dir`, with the content of regular files
/// named `link` or `startedat`.
fn collect(
    fd: OwnedFd,
    path: &Path,
    parts: &mut Vec<OsString>,
    out: &mut Vec<Found>,
    errors: &mut Vec<String>,
) {
    if parts.len() > 16 {
        return errors.push(format!("{}: nested too deep, not measured", path.display()));
    }
    let (d, entries) = match list_dir(fd) {
        Ok(x) => x,
        Err(e) => return errors.push(nofollow::describe(path, &e)),
    };
    let dir = match d.fd() {
        Ok(fd) => fd,
        Err(e) => return errors.push(nofollow::describe(path, &e.into())),
    };
    for e in entries {
        let p = path.join(&e.name);
        parts.push(e.name.clone());
        if e.kind == EntryKind::Dir {
            match nofollow::open_dir(dir, &e.name) {
                Ok(fd) => collect(fd, &p, parts, out, errors),
                Err(err) => errors.push(nofollow::describe(&p, &err)),
            }
        } else {
            if e.kind == EntryKind::Symlink {
                errors.push(symlink_error(&p));
            }
            let wanted = e.kind == EntryKind::File
                && (e.name == OsStr::new(LINK) || e.name == OsStr::new(STARTED_AT));
            let content = if wanted {
                match read_small(dir, &e.name, e.size, MAX_LINK_BYTES) {
                    Ok(c) => Some(c),
                    Err(err) => {
                        errors.push(format!("{}: {err}", p.display()));
                        None
                    }
                }
            } else {
                None
            };
            out.push((parts.clone(), e, content));
        }
        parts.pop();
    }
}

/// Reads a file of at most `max` bytes. `size` is what `lstat` saw: a first
/// read returning exactly that many bytes is taken as the whole file, which
/// saves the read that would only see end-of-file (links and manifests are
/// written once, by rename).
fn read_small(dir: BorrowedFd<'_>, name: &OsStr, size: u64, max: u64) -> Result<Vec<u8>, String> {
    let mut file = nofollow::open_file(dir, name).map_err(|e| e.to_string())?;
    let mut buf = vec![0; size.min(max) as usize + 1];
    let n = file.read(&mut buf).map_err(|e| e.to_string())?;
    buf.truncate(n);
    if n as u64 != size {
        (&mut file)
            .take(max + 1 - n as u64)
            .read_to_end(&mut buf)
            .map_err(|e| e.to_string())?;
    }
    if buf.len() as u64 > max {
        return Err(format!("larger than {max} bytes"));
    }
    Ok(buf)
}

fn uploads(repo: &mut RepoLinks, path: &Path, files: Vec<Found>) {
    let mut by_id: BTreeMap<OsString, (u64, Option<SystemTime>)> = BTreeMap::new();
    for (parts, e, _) in files {
        let Some(id) = parts.first() else { continue };
        let slot = by_id.entry(id.clone()).or_insert((0, None));
        if parts.len() == 1 {
            // A file directly in _uploads: its own entry.
            slot.0 = slot.0.saturating_add(e.size);
            slot.1 = Some(e.mtime);
            continue;
        }
        slot.0 = slot.0.saturating_add(e.size);
        if parts.len() == 2 && e.name == OsStr::new(STARTED_AT) {
            slot.1 = Some(e.mtime);
        }
    }
    for (id, (bytes, started)) in by_id {
        let p = path.join(&id);
        let started = started
            .or_else(|| {
                std::fs::symlink_metadata(&p)
                    .and_then(|m| m.modified())
                    .ok()
            })
            .unwrap_or(SystemTime::UNIX_EPOCH);
        repo.uploads.push(Upload {
            repository: repo.name.clone(),
            path: p,
            bytes,
            started,
        });
    }
}

/// The fields of a manifest, list or index that reference other blobs, as
/// distribution 2.8's `References()` reads them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default)]
    manifests: Vec<Descriptor>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    fs_layers: Vec<FsLayer>,
}

#[derive(Debug, Deserialize)]
struct Descriptor {
    digest: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FsLayer {
    blob_sum: String,
}

fn manifest_references(bytes: &[u8], what: &str) -> Result<Vec<Digest>, String> {
    let m: Manifest = serde_json::from_slice(bytes).map_err(|e| format!("{what}: {e}"))?;
    let raw = m
        .manifests
        .iter()
        .chain(&m.config)
        .chain(&m.layers)
        .map(|d| d.digest.as_str())
        .chain(m.fs_layers.iter().map(|l| l.blob_sum.as_str()));
    raw.map(|s| s.parse::<Digest>().map_err(|e| format!("{what}: {e}")))
        .collect()
}

/// Reads every present revision's manifest once, in parallel.
fn read_manifests(v2: BorrowedFd<'_>, v2_path: &Path, scan: &mut Scan) -> Result<(), String> {
    let wanted: BTreeSet<&Digest> = scan
        .repos
        .iter()
        .flat_map(|r| &r.revisions)
        .filter(|d| scan.blobs.contains_key(*d))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let blobs_path = v2_path.join(BLOBS);
    let blobs = nofollow::open_dir(v2, OsStr::new(BLOBS))
        .map_err(|e| nofollow::describe(&blobs_path, &e))?;
    let read: Result<Vec<(Digest, Vec<Digest>)>, String> = wanted
        .into_par_iter()
        .map(|d| {
            let p = blob_dir(&blobs_path, d).join(DATA);
            let dir = open_blob_dir(blobs.as_fd(), d).map_err(|e| nofollow::describe(&p, &e))?;
            let size = scan.blobs.get(d).map_or(0, |e| e.size);
            let bytes = read_small(dir.as_fd(), OsStr::new(DATA), size, MAX_MANIFEST_BYTES)
                .map_err(|e| format!("{}: {e}", p.display()))?;
            let what = format!("{} (manifest {d})", p.display());
            Ok((d.clone(), manifest_references(&bytes, &what)?))
        })
        .collect();
    scan.references = read?.into_iter().collect();
    Ok(())
}

/// `blobs/<alg>/<2 hex>/<hex>` for messages.
pub fn blob_dir(blobs: &Path, d: &Digest) -> PathBuf {
    blobs
        .join(d.algorithm().name())
        .join(&d.hex()[..2])
        .join(d.hex())
}

/// Opens `<alg>/<2 hex>/<hex>` below an open `blobs/`, never following a link.
fn open_blob_dir(blobs: BorrowedFd<'_>, d: &Digest) -> std::io::Result<OwnedFd> {
    let alg = nofollow::open_dir(blobs, OsStr::new(d.algorithm().name()))?;
    let prefix = nofollow::open_dir(alg.as_fd(), OsStr::new(&d.hex()[..2]))?;
    nofollow::open_dir(prefix.as_fd(), OsStr::new(d.hex()))
}

impl Scan {
    /// `garbage-collect`'s plan, or `Err` when marks are unknown.
    pub fn plan(&self, delete_untagged: bool) -> Result<GcPlan, String> {
        self.marks_known.clone()?;
        let mut marked: HashSet<Digest> = HashSet::new();
        let mut candidates: BTreeSet<ManifestRef> = BTreeSet::new();
        for r in &self.repos {
            let present: HashSet<&Digest> = r
                .revisions
                .iter()
                .filter(|d| self.blobs.contains_key(*d))
                .collect();
            let tagged: HashSet<&Digest> = r.tags.values().flatten().collect();
            let mut expanded: HashSet<&Digest> = HashSet::new();
            for d in &r.revisions {
                if !present.contains(d) {
                    continue;
                }
                if delete_untagged && !tagged.contains(d) {
                    candidates.insert(ManifestRef {
                        repository: r.name.clone(),
                        digest: d.clone(),
                    });
                    continue;
                }
                marked.insert(d.clone());
                self.mark_references(d, &present, &mut expanded, &mut marked);
            }
        }
        let mut plan = GcPlan {
            marked: marked.len() as u64,
            ..GcPlan::default()
        };
        plan.manifests = candidates
            .into_iter()
            .filter(|m| !marked.contains(&m.digest))
            .collect();
        let mut seen = HashSet::new();
        for (d, e) in &self.blobs {
            if !marked.contains(d) {
                plan.blobs.insert(d.clone());
                if e.nlink <= 1 || seen.insert((e.dev, e.ino)) {
                    plan.blob_bytes = plan.blob_bytes.saturating_add(e.size);
                }
            }
        }
        plan.marked_set = marked;
        Ok(plan)
    }

    /// Marks what `d` references, and through lists and indexes what their
    /// manifests present in the same repository reference. A manifest is
    /// expanded once per repository whether or not it was marked already:
    /// marked by another repository's index, where it was not present, its
    /// layers were not marked (distribution 3 skips it then, and collects
    /// the layers of an image this repository still serves).
    fn mark_references<'a>(
        &'a self,
        d: &'a Digest,
        present: &HashSet<&'a Digest>,
        expanded: &mut HashSet<&'a Digest>,
        marked: &mut HashSet<Digest>,
    ) {
        if !expanded.insert(d) {
            return;
        }
        let mut stack = vec![d];
        while let Some(d) = stack.pop() {
            for r in self.references.get(d).into_iter().flatten() {
                marked.insert(r.clone());
                if present.contains(r) && expanded.insert(r) {
                    stack.push(r);
                }
            }
        }
    }

    /// Per-repository figures, blobs nobody links, and uploads.
    pub fn report(&self) -> RegistryReport {
        let mut linkers: HashMap<&Digest, u32> = HashMap::new();
        let per_repo: Vec<BTreeSet<&Digest>> = self
            .repos
            .iter()
            .map(|r| {
                r.layers
                    .iter()
                    .chain(&r.revisions)
                    .filter(|d| self.blobs.contains_key(*d))
                    .collect()
            })
            .collect();
        for set in &per_repo {
            for d in set {
                *linkers.entry(d).or_default() += 1;
            }
        }
        let size = |d: &Digest| self.blobs.get(d).map_or(0, |e| e.size);
        let mut repositories = Vec::new();
        let mut uploads = Vec::new();
        for (r, set) in self.repos.iter().zip(&per_repo) {
            let mut rep = Repository {
                name: r.name.clone(),
                tags: r.tags.values().flatten().count() as u64,
                manifests: r
                    .revisions
                    .iter()
                    .filter(|d| self.blobs.contains_key(*d))
                    .collect::<HashSet<_>>()
                    .len() as u64,
                ..Repository::default()
            };
            for d in set {
                let c = if linkers[d] == 1 {
                    &mut rep.unique
                } else {
                    &mut rep.shared
                };
                c.blobs += 1;
                c.bytes = c.bytes.saturating_add(size(d));
            }
            for u in &r.uploads {
                rep.uploads.blobs += 1;
                rep.uploads.bytes = rep.uploads.bytes.saturating_add(u.bytes);
            }
            uploads.extend(r.uploads.iter().cloned());
            repositories.push(rep);
        }
        let mut unlinked = BlobCount::default();
        for (d, e) in &self.blobs {
            if !linkers.contains_key(d) {
                unlinked.blobs += 1;
                unlinked.bytes = unlinked.bytes.saturating_add(e.size);
            }
        }
        RegistryReport {
            repositories,
            unlinked,
            uploads,
            gc: self.plan(false).ok(),
            gc_untagged: self.plan(true).ok(),
        }
    }

    pub fn uploads(&self) -> impl Iterator<Item = (&Path, &Upload)> {
        self.repos
            .iter()
            .flat_map(|r| r.uploads.iter().map(move |u| (r.rel.as_path(), u)))
    }

    /// Tag directory names of a repository (for `--delete-untagged`'s cleanup).
    pub(crate) fn repo(&self, name: &str) -> Option<(&Path, Vec<&OsStr>)> {
        self.repos.iter().find(|r| r.name == name).map(|r| {
            (
                r.rel.as_path(),
                r.tags.keys().map(|t| t.as_os_str()).collect(),
            )
        })
    }
}

/// Removes one blob's `<hex>` directory (dry: measures it), as
/// distribution's `Vacuum.RemoveBlob` does.
pub(crate) fn remove_blob(
    blobs: BorrowedFd<'_>,
    blobs_path: &Path,
    d: &Digest,
    dry_run: bool,
    tally: &mut Tally,
) {
    let p = blob_dir(blobs_path, d);
    let prefix = nofollow::open_dir(blobs, OsStr::new(d.algorithm().name()))
        .and_then(|a| nofollow::open_dir(a.as_fd(), OsStr::new(&d.hex()[..2])));
    match prefix {
        Ok(fd) if dry_run => tally.add_tree(fd.as_fd(), OsStr::new(d.hex()), &p),
        Ok(fd) => tally.remove_tree(fd.as_fd(), OsStr::new(d.hex()), &p),
        Err(e) => tally.errors.push(nofollow::describe(&p, &e)),
    }
}

/// Opens `rel` (relative, from the repository walk) below `dir`, one
/// component at a time, never following a link.
pub(crate) fn open_rel(dir: BorrowedFd<'_>, rel: &Path) -> std::io::Result<OwnedFd> {
    let mut cur: Option<OwnedFd> = None;
    for c in rel.components() {
        let std::path::Component::Normal(name) = c else {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        };
        let here = cur.as_ref().map_or(dir, |d| d.as_fd());
        cur = Some(nofollow::open_dir(here, name)?);
    }
    match cur {
        Some(fd) => Ok(fd),
        None => Ok(rustix::io::dup(dir)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> Digest {
        Digest::new(Algorithm::Sha256, &format!("{n:02x}").repeat(32)).unwrap()
    }

    fn file(n: u8) -> Entry {
        Entry {
            kind: EntryKind::File,
            size: 100 + u64::from(n),
            ino: u64::from(n),
            ..dir_entry(OsString::from("data"))
        }
    }

    #[test]
    fn an_index_marked_elsewhere_still_marks_its_children_here() {
        // Repository a's index names manifest C, which only b holds; b's
        // own index names C too, and C (untagged in b) references layer L.
        let (ia, ib, c, l) = (d(1), d(2), d(3), d(4));
        let repo = |name: &str, revisions: Vec<Digest>, tagged: &Digest| RepoLinks {
            name: name.into(),
            revisions,
            tags: BTreeMap::from([(OsString::from("t"), Some(tagged.clone()))]),
            ..RepoLinks::default()
        };
        let scan = Scan {
            blobs: [&ia, &ib, &c, &l]
                .iter()
                .enumerate()
                .map(|(i, x)| ((*x).clone(), file(i as u8)))
                .collect(),
            tally: Tally::default(),
            blob_bytes: 0,
            repos: vec![
                repo("a", vec![ia.clone()], &ia),
                repo("b", vec![ib.clone(), c.clone()], &ib),
            ],
            references: HashMap::from([
                (ia.clone(), vec![c.clone()]),
                (ib.clone(), vec![c.clone()]),
                (c.clone(), vec![l.clone()]),
            ]),
            marks_known: Ok(()),
        };
        let plan = scan.plan(true).unwrap();
        assert!(plan.blobs.is_empty(), "{:?}", plan.blobs);
        assert!(plan.manifests.is_empty(), "{:?}", plan.manifests);
        assert_eq!(plan.marked, 4);
    }

    #[test]
    fn references_read_as_distribution_2_8_does() {
        let h = |c: char| c.to_string().repeat(64);
        let json = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"sha256:{}"}},
                "layers":[{{"digest":"sha256:{}"}}],
                "subject":{{"digest":"sha256:{}"}}}}"#,
            h('a'),
            h('b'),
            h('c')
        );
        let refs = manifest_references(json.as_bytes(), "m").unwrap();
        assert_eq!(
            refs.iter().map(|d| d.hex().to_string()).collect::<Vec<_>>(),
            [h('a'), h('b')]
        );
        let bad = r#"{"manifests":[{"digest":"sha256:../../x"}]}"#;
        assert!(manifest_references(bad.as_bytes(), "m")
            .unwrap_err()
            .starts_with("m: invalid digest"));
    }
}
