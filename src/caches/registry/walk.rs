//! Reading a registry's tree: sizes, blobs, links, uploads and manifests.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;
use rustix::fs::{self as rfs, AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::super::digest::{Algorithm, Digest};
use super::super::nofollow::{self, Entry, EntryKind, Tally};
use super::*;

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
pub(super) fn dir_entry(name: OsString) -> Entry {
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
        // Built only for messages: 20,000 blobs need none.
        let h_path = || p_path.join(&h.name);
        let digest = h
            .name_str()
            .filter(|n| n.get(..2) == Some(prefix))
            .and_then(|n| Digest::new(alg, n));
        let (Some(d), EntryKind::Dir) = (digest, h.kind) else {
            if h.kind == EntryKind::Symlink {
                s.strays.errors.push(symlink_error(&h_path()));
            }
            if h.kind == EntryKind::Dir {
                s.strays.add_tree(p_fd, &h.name, &h_path());
            } else {
                s.other.push(h);
            }
            continue;
        };
        let (h_dir, files) = match open_list(p_fd, &h.name) {
            Ok(x) => x,
            Err(e) => {
                s.strays.errors.push(nofollow::describe(&h_path(), &e));
                continue;
            }
        };
        for f in files {
            if f.kind == EntryKind::File && f.name == OsStr::new(DATA) {
                s.blobs.push((d.clone(), f));
            } else if f.kind == EntryKind::Dir {
                s.strays
                    .add_tree(h_dir.fd()?, &f.name, &h_path().join(&f.name));
            } else {
                if f.kind == EntryKind::Symlink {
                    s.strays.errors.push(symlink_error(&h_path().join(&f.name)));
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
fn read_small(dir: BorrowedFd<'_>, name: &OsStr, size: u64, max: u64) -> Result<Vec<u8>, String> {
    let file = nofollow::open_file(dir, name).map_err(|e| e.to_string())?;
    read_open(file, size, max)
}

fn read_open(mut file: std::fs::File, size: u64, max: u64) -> Result<Vec<u8>, String> {
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
