//! Reading a registry's tree: sizes and blobs here, repositories in
//! `repos.rs`.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::SystemTime;

use rayon::prelude::*;
use rustix::fs::{self as rfs, AtFlags, Dir, FileType};
use rustix::io::Errno;

use super::super::digest::{Algorithm, Digest};
use super::super::nofollow::{self, Entry, EntryKind, Tally};
use super::repos::{read_manifests, scan_repositories};
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
pub(super) fn list_dir(fd: OwnedFd) -> std::io::Result<(Dir, Vec<Entry>)> {
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

pub(super) fn open_list(dir: BorrowedFd<'_>, name: &OsStr) -> std::io::Result<(Dir, Vec<Entry>)> {
    nofollow::open_dir(dir, name).and_then(list_dir)
}

/// A symlink where distribution's filesystem driver would follow it: not
/// followed here, so what it hides is unknown and marks are too.
pub(super) fn symlink_error(path: &Path) -> String {
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
