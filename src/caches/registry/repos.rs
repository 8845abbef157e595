//! Reading a registry's repositories: their links, uploads and manifests.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;
use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::super::digest::Digest;
use super::super::nofollow::{self, Entry, EntryKind, Tally};
use super::walk::{list_dir, symlink_error};
use super::*;

/// Sizes a registry root and reads its links and manifests. `entries` is
/// the listing of the root; `path` is how the root is shown.
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
pub(super) fn scan_repositories(
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
        let file_path = || parts.iter().fold(path.to_path_buf(), |a, c| a.join(c));
        let parsed = || -> Result<Digest, String> {
            let s = std::str::from_utf8(&content)
                .map_err(|_| format!("{}: link is not text", file_path().display()))?;
            s.parse::<Digest>()
                .map_err(|e| format!("{}: {e}", file_path().display()))
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
        let p = || path.join(&e.name);
        parts.push(e.name.clone());
        if e.kind == EntryKind::Dir {
            match nofollow::open_dir(dir, &e.name) {
                Ok(fd) => collect(fd, &p(), parts, out, errors),
                Err(err) => errors.push(nofollow::describe(&p(), &err)),
            }
        } else {
            if e.kind == EntryKind::Symlink {
                errors.push(symlink_error(&p()));
            }
            let wanted = e.kind == EntryKind::File
                && (e.name == OsStr::new(LINK) || e.name == OsStr::new(STARTED_AT));
            let content = if wanted {
                match read_small(dir, &e.name, e.size, MAX_LINK_BYTES) {
                    Ok(c) => Some(c),
                    Err(err) => {
                        errors.push(format!("{}: {err}", p().display()));
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
pub(super) fn read_small(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    size: u64,
    max: u64,
) -> Result<Vec<u8>, String> {
    let file = nofollow::open_file(dir, name).map_err(|e| e.to_string())?;
    read_open(file, size, max)
}

pub(super) fn read_open(mut file: std::fs::File, size: u64, max: u64) -> Result<Vec<u8>, String> {
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

/// Reads every present revision's manifest once, in parallel.
pub(super) fn read_manifests(
    v2: BorrowedFd<'_>,
    v2_path: &Path,
    scan: &mut Scan,
) -> Result<(), String> {
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
            let file = open_manifest(blobs.as_fd(), d).map_err(|e| nofollow::describe(&p, &e))?;
            let size = scan.blobs.get(d).map_or(0, |e| e.size);
            let bytes = read_open(file, size, MAX_MANIFEST_BYTES)
                .map_err(|e| format!("{}: {e}", p.display()))?;
            let what = format!("{} (manifest {d})", p.display());
            Ok((d.clone(), manifest_references(&bytes, &what)?))
        })
        .collect();
    scan.references = read?.into_iter().collect();
    Ok(())
}

/// Opens `<alg>/<2 hex>/<hex>/data` below `blobs/` with one `openat2` that
/// refuses a symlink anywhere on the way; kernels before 5.6 (`ENOSYS`) and
/// seccomp profiles that deny it (`EPERM`) get one `openat` per component.
/// The components are a validated digest's.
fn open_manifest(blobs: BorrowedFd<'_>, d: &Digest) -> std::io::Result<std::fs::File> {
    let rel = format!(
        "{}/{}/{}/{DATA}",
        d.algorithm().name(),
        &d.hex()[..2],
        d.hex()
    );
    let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS | ResolveFlags::BENEATH;
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
    match rfs::openat2(blobs, rel.as_str(), flags, Mode::empty(), resolve) {
        Ok(fd) => Ok(std::fs::File::from(fd)),
        Err(Errno::NOSYS | Errno::PERM) => {
            let dir = open_blob_dir(blobs, d)?;
            nofollow::open_file(dir.as_fd(), OsStr::new(DATA))
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens `<alg>/<2 hex>/<hex>` below an open `blobs/`, never following a link.
fn open_blob_dir(blobs: BorrowedFd<'_>, d: &Digest) -> std::io::Result<OwnedFd> {
    let alg = nofollow::open_dir(blobs, OsStr::new(d.algorithm().name()))?;
    let prefix = nofollow::open_dir(alg.as_fd(), OsStr::new(&d.hex()[..2]))?;
    nofollow::open_dir(prefix.as_fd(), OsStr::new(d.hex()))
}
