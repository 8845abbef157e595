//! Pruning blob caches, safely.
//!
//! What is removed, by kind:
//! - **fscache, no filter**: the whole cache, atomically. An empty directory
//!   with the same mode and owner is made beside it as
//!   `.pruning-<name>.<random>`, the two are swapped with
//!   `renameat2(RENAME_EXCHANGE)`, and the aside (now holding the old blobs)
//!   is deleted. A pull that starts at any moment sees either the full cache
//!   or a fresh empty one, never a half-deleted one, and the cache path never
//!   goes missing. (On file systems without `RENAME_EXCHANGE` the swap is two
//!   renames, with a moment in which the path is absent; go-containerregistry
//!   recreates it with `MkdirAll`.) An aside left by an interrupted prune is
//!   swept, and counted, by the next prune of that cache.
//! - **fscache, `--older-than` / `--max-size`**: blob by blob, oldest first,
//!   by last use = the later of atime and mtime (see
//!   [`Entry::last_used`](super::nofollow::Entry::last_used)). `--older-than`
//!   removes what was not used within the duration; `--max-size` then evicts
//!   least recently used blobs until the cache fits in the budget.
//! - **oci-layout**: never deleted whole; `--orphans` removes the blobs that
//!   nothing reachable from `index.json` references, each with one
//!   `unlinkat` (atomic per blob). With `--older-than`, only orphans not used
//!   within the duration: a copy into the layout writes its blobs before it
//!   updates `index.json`, so a young orphan may be a copy in progress.
//!   Temp files are listed by `caches` but never removed here.
//! - **registry**: only with `--registry-offline` (distribution's own
//!   garbage-collect requires the registry stopped or read-only, since a
//!   push in progress links blobs no manifest references yet): removes what
//!   `registry garbage-collect` would ([`super::registry`]), with
//!   `--delete-untagged` the untagged manifests too. `--older-than` removes
//!   uploads started longer ago, with or without `--registry-offline`, as
//!   distribution's upload purger does while the registry runs.
//! - **unknown / missing**: never pruned.
//!
//! Nothing on another file system than the cache is removed (a mount
//! point inside an aside, a blob directory or file mounted from elsewhere):
//! it is reported and left, and a dry run refuses the same entries.
//!
//! Every real prune holds the cache's lock ([`super::lock`]) from before it
//! looks at the cache until it is done. A dry run takes no lock and runs the
//! same selection, counting instead of removing, so its figure is what the
//! real run frees on an unchanged cache.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rustix::fs::{self as rfs, Mode, RenameFlags};
use rustix::io::Errno;
use serde::Serialize;
use thiserror::Error;

use super::digest::Digest;
use super::lock::PruneLock;
use super::nofollow::{self, Entry, EntryKind, Tally};
use super::{classify_at, fscache, oci_layout, registry, Kind};

/// Prefix of the directories a whole-cache prune moves the old contents to.
pub const ASIDE_PREFIX: &str = ".pruning-";

#[derive(Debug, Clone)]
pub struct PruneOptions {
    pub dry_run: bool,
    pub orphans: bool,
    pub older_than: Option<Duration>,
    pub max_size: Option<u64>,
    /// Registries: the registry is stopped or read-only, so garbage-collect may run.
    pub registry_offline: bool,
    /// Registries: garbage-collect also removes untagged manifests.
    pub delete_untagged: bool,
    /// The moment ages are measured from.
    pub now: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The whole flat cache was swapped for an empty one.
    Whole,
    /// Flat cache blobs evicted by age or size.
    Evict,
    /// OCI layout blobs that nothing references.
    Orphans,
    /// Registry: what garbage-collect would delete, and old uploads.
    Registry,
    /// Nothing was to be done; `note` says why.
    Skip,
}

/// What pruning one cache did (or, under `--dry-run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub path: PathBuf,
    pub kind: Kind,
    pub action: Action,
    pub dry_run: bool,
    /// Apparent bytes of the files removed (hard links once).
    pub freed_bytes: u64,
    /// Files removed: blobs, temp files, and leftovers of interrupted prunes.
    pub removed_files: u64,
    pub note: Option<String>,
    /// One line each, naming the path; the rest of the cache was still pruned.
    pub errors: Vec<String>,
}

impl PruneReport {
    fn new(path: &Path, kind: Kind, action: Action, dry_run: bool) -> PruneReport {
        PruneReport {
            path: path.to_path_buf(),
            kind,
            action,
            dry_run,
            freed_bytes: 0,
            removed_files: 0,
            note: None,
            errors: Vec::new(),
        }
    }

    fn skip(mut self, note: impl Into<String>) -> PruneReport {
        self.action = Action::Skip;
        self.note = Some(note.into());
        self
    }

    fn failed(mut self, error: impl Into<String>) -> PruneReport {
        self.errors.push(error.into());
        self
    }

    fn absorb(&mut self, tally: Tally) {
        self.freed_bytes = self.freed_bytes.saturating_add(tally.bytes);
        self.removed_files += tally.files;
        self.errors.extend(tally.errors);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a duration: {0:?} (expected e.g. 30m, 12h, 7d, 2w or 1d12h)")]
pub struct AgeError(String);

/// Parses `7d`, `12h`, `30m`, `45s`, `2w` and sums like `1d12h`.
pub fn parse_age(s: &str) -> Result<Duration, AgeError> {
    let err = || AgeError(s.to_string());
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(err()),
        };
        let n: u64 = digits.parse().map_err(|_| err())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(err)?;
        digits.clear();
    }
    if !digits.is_empty() || s.trim().is_empty() {
        return Err(err());
    }
    Ok(Duration::from_secs(total))
}

/// Prunes one cache. Never panics on file-system state and never fails as a
/// whole: problems land in `errors`, and what could be done was done.
pub fn prune(path: &Path, opts: &PruneOptions) -> PruneReport {
    let report = |kind| PruneReport::new(path, kind, Action::Skip, opts.dry_run);
    // A cache named through a symlink is refused: whoever controls the link
    // could point a root-run prune at any directory that looks like a cache.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            return report(Kind::Unknown).failed(format!(
                "{} is a symlink (to {target}): name the directory itself to prune it",
                path.display()
            ));
        }
    }
    let real = match super::canonical(path) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return report(Kind::Missing).skip("does not exist; nothing to prune")
        }
        Err(e) => return report(Kind::Unknown).failed(nofollow::describe(path, &e)),
    };
    let root = match nofollow::open_root(&real) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
            return report(Kind::Unknown).skip("not a directory: never pruned")
        }
        Err(e) => return report(Kind::Unknown).failed(nofollow::describe(path, &e)),
    };
    let entries = match nofollow::list(root.as_fd()) {
        Ok(entries) => entries,
        Err(e) => return report(Kind::Unknown).failed(nofollow::describe(path, &e)),
    };
    let kind = classify_at(root.as_fd(), &entries);
    let by_use = opts.older_than.is_some() || opts.max_size.is_some();
    let action = match kind {
        Kind::Unknown | Kind::Missing => {
            return report(kind)
                .skip("not a blob cache (unknown contents): measured only, never pruned")
        }
        Kind::OciLayout if !opts.orphans => {
            return report(kind)
                .skip("OCI layout: only --orphans prunes it (layouts are never deleted whole)")
        }
        Kind::OciLayout => Action::Orphans,
        Kind::Registry if !opts.registry_offline && opts.older_than.is_none() => {
            return report(kind).skip(
                "registry: garbage-collect needs it stopped or read-only; pass --registry-offline \
                 (or --older-than to remove only abandoned uploads)",
            )
        }
        Kind::Registry => Action::Registry,
        Kind::Fscache if by_use => Action::Evict,
        Kind::Fscache if opts.orphans => {
            return report(kind).skip("flat cache: it has no index, so --orphans leaves it alone")
        }
        Kind::Fscache => Action::Whole,
    };
    let mut out = PruneReport::new(path, kind, action, opts.dry_run);
    // The lock is taken before the cache is looked at again, so the plan is
    // made on what no other prune is changing.
    let _lock = if opts.dry_run {
        None
    } else {
        match PruneLock::acquire(&real) {
            Ok(lock) => Some(lock),
            Err(e) => return out.failed(e.to_string()),
        }
    };
    let mut tally = Tally::default();
    match action {
        Action::Whole => prune_whole(&real, path, root.as_fd(), opts, &mut tally),
        Action::Evict => evict(&real, path, root.as_fd(), opts, &mut tally),
        Action::Orphans => {
            if let Err(e) = prune_orphans(path, root.as_fd(), opts, &mut tally) {
                out.errors.push(e);
            }
        }
        Action::Registry => {
            if let Err(e) = registry::sweep::prune(path, root.as_fd(), opts, &mut tally) {
                out.errors.push(e);
            }
            if !opts.registry_offline {
                out.note = Some("uploads only: pass --registry-offline to collect garbage".into());
            }
        }
        Action::Skip => unreachable!("skips returned above"),
    }
    out.absorb(tally);
    out
}

/// Name of the aside directories of cache `name`: `.pruning-<name>.`.
fn aside_prefix(name: &OsStr) -> Vec<u8> {
    let mut p = ASIDE_PREFIX.as_bytes().to_vec();
    p.extend_from_slice(name.as_bytes());
    p.push(b'.');
    p
}

fn split(real: &Path) -> Result<(&Path, &OsStr), String> {
    match (real.parent(), real.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(format!("{}: has no parent directory", real.display())),
    }
}

/// Removes (or, dry, counts) the asides interrupted prunes of this cache left.
fn sweep_asides(
    parent: BorrowedFd<'_>,
    parent_path: &Path,
    name: &OsStr,
    dry_run: bool,
    tally: &mut Tally,
) {
    let prefix = aside_prefix(name);
    let entries = match nofollow::list(parent) {
        Ok(entries) => entries,
        Err(e) => return tally.errors.push(nofollow::describe(parent_path, &e)),
    };
    for e in entries {
        if e.kind != EntryKind::Dir || !is_aside_of(&prefix, e.name.as_bytes()) {
            continue;
        }
        let path = parent_path.join(&e.name);
        if dry_run {
            tally.count_removable(parent, &e.name, &path);
        } else {
            tally.remove_tree(parent, &e.name, &path);
        }
    }
}

fn prune_whole(
    real: &Path,
    shown: &Path,
    root: BorrowedFd<'_>,
    opts: &PruneOptions,
    tally: &mut Tally,
) {
    let (parent_path, name) = match split(real) {
        Ok(x) => x,
        Err(e) => return tally.errors.push(e),
    };
    let parent = match nofollow::open_root(parent_path) {
        Ok(fd) => fd,
        Err(e) => return tally.errors.push(nofollow::describe(parent_path, &e)),
    };
    sweep_asides(parent.as_fd(), parent_path, name, opts.dry_run, tally);
    // Classified before the lock was taken: look again, so a directory that
    // has since gained a foreign file is never deleted whole.
    let scan = match fscache::rescan(root, shown) {
        Ok(scan) => scan,
        Err(e) => return tally.errors.push(nofollow::describe(shown, &e)),
    };
    if let Some(e) = scan.foreign.first() {
        return tally.errors.push(format!(
            "{}: no longer looks like a flat cache (found {:?}); left alone",
            shown.display(),
            e.name
        ));
    }
    if opts.dry_run {
        let Some(dev) = root_device(root, shown, tally) else {
            return;
        };
        for e in scan.blobs.iter().map(|(_, e)| e).chain(&scan.temp) {
            // What the aside's removal will refuse (a bind-mounted blob).
            if !tally.refuse_mount(e, dev, &shown.join(&e.name)) {
                tally.add(e);
            }
        }
        return;
    }
    if scan.blobs.is_empty() && scan.temp.is_empty() {
        return;
    }
    match swap_for_empty(parent.as_fd(), parent_path, name, root) {
        Ok(aside) => remove_aside(parent.as_fd(), &aside, &parent_path.join(&aside), tally),
        Err(e) => tally.errors.push(format!("{}: {e}", shown.display())),
    }
}

/// The device of a cache's root: nothing on another one is removed.
fn root_device(root: BorrowedFd<'_>, shown: &Path, tally: &mut Tally) -> Option<u64> {
    match rfs::fstat(root) {
        Ok(st) => Some(nofollow::device(&st)),
        Err(e) => {
            tally.errors.push(nofollow::describe(shown, &e.into()));
            None
        }
    }
}

/// Rounds of emptying a swapped-out cache before giving up on it.
const ASIDE_ROUNDS: usize = 3;

/// Removes a swapped-out cache. A writer whose lookup of the cache path
/// came just before the swap can still create a file in the aside while it
/// is being emptied, and the final rmdir then fails (`ENOTEMPTY`): so look
/// again, a few rounds, keeping only the last round's errors. (A pull in
/// progress made a prune exit 1 and leave its aside behind.)
fn remove_aside(parent: BorrowedFd<'_>, aside: &OsStr, path: &Path, tally: &mut Tally) {
    for round in 1..=ASIDE_ROUNDS {
        let mut this = Tally::default();
        this.remove_tree(parent, aside, path);
        tally.bytes = tally.bytes.saturating_add(this.bytes);
        tally.files += this.files;
        let gone = matches!(
            rfs::statat(parent, aside, rfs::AtFlags::SYMLINK_NOFOLLOW),
            Err(Errno::NOENT)
        );
        if gone || round == ASIDE_ROUNDS {
            tally.errors.extend(this.errors);
            return;
        }
    }
}

/// Length of the random hex suffix of an aside's name.
const SUFFIX_LEN: usize = 16;

/// `.pruning-<name>.<16 hex>` exactly: the aside of cache `images` is not
/// confused with that of a sibling cache `images.old`.
fn is_aside_of(prefix: &[u8], candidate: &[u8]) -> bool {
    candidate.strip_prefix(prefix).is_some_and(|suffix| {
        suffix.len() == SUFFIX_LEN
            && suffix
                .iter()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

fn random_suffix() -> String {
    let mut buf = [0u8; SUFFIX_LEN / 2];
    if rustix::rand::getrandom(&mut buf, rustix::rand::GetRandomFlags::empty()).is_err() {
        // Uniqueness, not secrecy, is what matters: the pid and clock suffice.
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        buf = (nanos ^ u64::from(std::process::id()) << 32).to_le_bytes();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Puts an empty directory with the cache's mode and owner in place of the
/// cache and returns the aside's name, which now holds the old contents.
fn swap_for_empty(
    parent: BorrowedFd<'_>,
    parent_path: &Path,
    name: &OsStr,
    root: BorrowedFd<'_>,
) -> Result<OsString, String> {
    let st = rfs::fstat(root).map_err(|e| format!("stat: {e}"))?;
    let mut aside = OsString::from_vec(aside_prefix(name));
    aside.push(random_suffix());
    let io = |what: &str, e: Errno| format!("{what} {}: {e}", parent_path.join(&aside).display());
    rfs::mkdirat(parent, &aside, Mode::from_raw_mode(0o700)).map_err(|e| io("mkdir", e))?;
    let fresh = nofollow::open_dir(parent, &aside)
        .map_err(|e| format!("open {}: {e}", parent_path.join(&aside).display()))?;
    let prepared = (|| {
        let uid = rustix::fs::Uid::from_raw(st.st_uid);
        let gid = rustix::fs::Gid::from_raw(st.st_gid);
        rfs::fchown(&fresh, Some(uid), Some(gid))?;
        // After chown, which clears set-id bits.
        rfs::fchmod(&fresh, Mode::from_raw_mode(st.st_mode & 0o7777))
    })();
    // Check that `name` is still the directory we looked at: anything else
    // (a new directory, a symlink) is left alone.
    let current = rfs::statat(parent, name, rfs::AtFlags::SYMLINK_NOFOLLOW);
    let same = matches!(&current, Ok(c) if c.st_dev == st.st_dev && c.st_ino == st.st_ino);
    if let Err(e) = prepared {
        let _ = rfs::unlinkat(parent, &aside, rfs::AtFlags::REMOVEDIR);
        return Err(io("chown/chmod", e));
    }
    if !same {
        let _ = rfs::unlinkat(parent, &aside, rfs::AtFlags::REMOVEDIR);
        return Err("changed while being pruned; left alone".to_string());
    }
    match rfs::renameat_with(parent, &aside, parent, name, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(aside),
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
            // No RENAME_EXCHANGE here: move the cache aside, then the empty one in.
            let mut old = OsString::from_vec(aside_prefix(name));
            old.push(random_suffix());
            rfs::renameat(parent, name, parent, &old).map_err(|e| io("rename", e))?;
            if let Err(e) = rfs::renameat(parent, &aside, parent, name) {
                let _ = rfs::unlinkat(parent, &aside, rfs::AtFlags::REMOVEDIR);
                return Err(io("rename", e));
            }
            Ok(old)
        }
        Err(e) => {
            let _ = rfs::unlinkat(parent, &aside, rfs::AtFlags::REMOVEDIR);
            Err(io("exchange", e))
        }
    }
}

/// The entries to evict, oldest first: everything not used within
/// `older_than`, then least recently used until the rest fits `max_size`.
pub fn select_evictions(
    entries: &[Entry],
    older_than: Option<Duration>,
    max_size: Option<u64>,
    now: SystemTime,
) -> Vec<&Entry> {
    let mut by_age: Vec<&Entry> = entries.iter().collect();
    by_age.sort_by(|a, b| a.last_used().cmp(&b.last_used()).then(a.name.cmp(&b.name)));
    let cutoff = older_than.and_then(|d| now.checked_sub(d));
    // u128: sparse blobs' apparent sizes can add up past u64::MAX, and a
    // wrapped sum would evict the wrong blobs.
    let mut kept: u128 = by_age.iter().map(|e| u128::from(e.size)).sum();
    let mut out = Vec::new();
    for e in by_age {
        let too_old = cutoff.is_some_and(|c| e.last_used() <= c);
        let over = max_size.is_some_and(|max| kept > u128::from(max));
        if too_old || over {
            kept -= u128::from(e.size);
            out.push(e);
        }
    }
    out
}

fn evict(real: &Path, shown: &Path, root: BorrowedFd<'_>, opts: &PruneOptions, tally: &mut Tally) {
    if let Ok((parent_path, name)) = split(real) {
        match nofollow::open_root(parent_path) {
            Ok(parent) => sweep_asides(parent.as_fd(), parent_path, name, opts.dry_run, tally),
            Err(e) => tally.errors.push(nofollow::describe(parent_path, &e)),
        }
    }
    let scan = match fscache::rescan(root, shown) {
        Ok(scan) => scan,
        Err(e) => return tally.errors.push(nofollow::describe(shown, &e)),
    };
    tally.errors.extend(scan.tally.errors);
    // Only blobs and temp files are candidates; anything foreign stays.
    let files: Vec<Entry> = scan
        .blobs
        .into_iter()
        .map(|(_, e)| e)
        .chain(scan.temp)
        .collect();
    let Some(dev) = root_device(root, shown, tally) else {
        return;
    };
    for e in select_evictions(&files, opts.older_than, opts.max_size, opts.now) {
        if tally.refuse_mount(e, dev, &shown.join(&e.name)) {
            continue;
        }
        if opts.dry_run {
            tally.add(e);
        } else {
            tally.remove_file(root, e, &shown.join(&e.name));
        }
    }
}

fn prune_orphans(
    shown: &Path,
    root: BorrowedFd<'_>,
    opts: &PruneOptions,
    tally: &mut Tally,
) -> Result<(), String> {
    let entries = nofollow::list(root).map_err(|e| nofollow::describe(shown, &e))?;
    let scan = oci_layout::scan(root, entries, shown);
    let orphans = scan.orphans().ok_or_else(|| match &scan.references {
        Err(e) => format!("{e}; nothing removed from this layout"),
        Ok(_) => unreachable!("orphans() is None only when references are unknown"),
    })?;
    let cutoff = opts.older_than.and_then(|d| opts.now.checked_sub(d));
    let doomed: Vec<(&Digest, &Entry)> = orphans
        .into_iter()
        .filter(|(_, e)| cutoff.is_none_or(|c| e.last_used() <= c))
        .collect();
    if doomed.is_empty() {
        return Ok(());
    }
    let dirs = oci_layout::BlobDirs::open(root).map_err(|e| nofollow::describe(shown, &e))?;
    let dev = rfs::fstat(root)
        .map(|st| nofollow::device(&st))
        .map_err(|e| nofollow::describe(shown, &e.into()))?;
    for (d, e) in doomed {
        let path = oci_layout::blob_path(shown, d);
        if tally.refuse_mount(e, dev, &path) {
            continue;
        }
        if opts.dry_run {
            tally.add(e);
            continue;
        }
        match dirs.dir(d.algorithm()) {
            Some(dir) => {
                tally.remove_file(dir, e, &path);
            }
            None => tally
                .errors
                .push(format!("{}: blob directory vanished", path.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
