//! Blob caches: go-containerregistry flat caches (`fscache`), OCI image
//! layouts (`oci-layout`) and registry storage (`registry`), measured exactly
//! and pruned safely.
//!
//! Each path is classified from its contents, never from its name:
//! - `oci-layout`: has an `oci-layout` file ([`oci_layout`]);
//! - `registry`: holds `docker/registry/v2`, a distribution registry's
//!   storage ([`registry`]);
//! - `fscache`: only `<alg>:<hex>` blobs and temp files ([`fscache`]);
//! - `unknown`: anything else; measured, never pruned;
//! - `missing`: the path does not exist; zero bytes, not an error.
//!
//! **What `bytes` counts**: what every directory figure in a report counts
//! (see [`crate::walk`]): `du -sb DIR`, directories included, measured by the
//! one walker over all the caches at once, so a file hard-linked between two
//! caches counts once, in the first; a cache inside another counts there.
//! The per-blob figures (`blob_bytes`, `orphans`, `temp_bytes`) and what
//! pruning frees come from the no-follow listing ([`nofollow`]), which prune
//! also uses: they count non-directories only.

pub mod digest;
pub mod discover;
pub mod fscache;
pub mod locate;
pub mod lock;
mod nofollow;
pub mod oci_layout;
pub mod prune;
pub mod registry;

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::walk;

pub use digest::Digest;
pub use discover::{discover, Discovered, Origin};
pub use prune::{parse_age, prune, PruneOptions, PruneReport};

use crate::size::SumBytes;
use crate::timestamp::Timestamp;
use nofollow::{Entry, EntryKind, Tally};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Fscache,
    OciLayout,
    Registry,
    Unknown,
    Missing,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Fscache => "fscache",
            Kind::OciLayout => "oci-layout",
            Kind::Registry => "registry",
            Kind::Unknown => "unknown",
            Kind::Missing => "missing",
        }
    }
}

/// A number of blobs and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BlobCount {
    pub blobs: u64,
    pub bytes: u64,
}

/// A leftover temp or partial file (or directory, with everything below it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TempFile {
    pub path: PathBuf,
    pub bytes: u64,
}

/// What one cache holds.
#[derive(Debug, Clone, Serialize)]
pub struct CacheReport {
    pub kind: Kind,
    pub path: PathBuf,
    pub origin: Origin,
    /// `du -sb` of `path`, this cache's share of one walk over all caches
    /// (see module docs).
    pub bytes: u64,
    /// Non-directory entries below `path`, from the same walk.
    pub files: u64,
    /// Apparent bytes of the non-directories the no-follow listing met: what
    /// removing every file would free (a flat cache's prune-all).
    #[serde(skip)]
    pub listed_file_bytes: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
    /// OCI layouts: blobs reachable from `index.json`; registries: blobs
    /// garbage-collect marks (`null` otherwise, or when references could not
    /// be read: see `errors`).
    pub referenced: Option<BlobCount>,
    /// OCI layouts: blobs present that nothing references; registries: the
    /// blobs garbage-collect would delete.
    pub orphans: Option<BlobCount>,
    /// OCI layouts: referenced configs and layers absent from `blobs/`.
    pub missing: Vec<Digest>,
    pub temp: Vec<TempFile>,
    pub temp_bytes: u64,
    /// Registries: repositories, uploads and what garbage-collect would delete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<registry::RegistryReport>,
    /// One line each, naming the path; figures are lower bounds when non-empty.
    pub errors: Vec<String>,
    /// The newest last use (later of atime and mtime, as `prune caches
    /// --older-than` judges a blob) of any blob; `None` without blobs.
    pub last_used: Option<Timestamp>,
}

impl CacheReport {
    fn empty(found: &Discovered, kind: Kind) -> CacheReport {
        CacheReport {
            kind,
            path: found.path.clone(),
            origin: found.origin,
            bytes: 0,
            files: 0,
            listed_file_bytes: 0,
            blobs: 0,
            blob_bytes: 0,
            referenced: None,
            orphans: None,
            missing: Vec::new(),
            temp: Vec::new(),
            temp_bytes: 0,
            registry: None,
            errors: Vec::new(),
            last_used: None,
        }
    }

    fn set_temp(&mut self, temp: Vec<TempFile>) {
        self.temp_bytes = temp.iter().map(|t| t.bytes).sum_bytes();
        self.temp = temp;
    }
}

/// Classifies a directory from the listing of its root.
pub(crate) fn classify(entries: &[Entry]) -> Kind {
    let is_layout = entries
        .iter()
        .any(|e| e.kind == EntryKind::File && e.name == OsStr::new(oci_layout::LAYOUT_FILE));
    if is_layout {
        Kind::OciLayout
    } else if fscache::looks_like(entries) {
        Kind::Fscache
    } else {
        Kind::Unknown
    }
}

/// Classifies a directory from its root listing and, for a registry, the
/// `docker/registry/v2` below it.
pub(crate) fn classify_at(root: std::os::fd::BorrowedFd<'_>, entries: &[Entry]) -> Kind {
    match classify(entries) {
        Kind::Unknown if registry::looks_like(root, entries) => Kind::Registry,
        kind => kind,
    }
}

/// Measures and classifies one cache. Never fails: problems land in `errors`.
pub fn inspect(found: &Discovered) -> CacheReport {
    let path = &found.path;
    let root = match nofollow::open_root(path) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return CacheReport::empty(found, Kind::Missing)
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return inspect_file(found),
        Err(e) => {
            let mut r = CacheReport::empty(found, Kind::Unknown);
            r.errors.push(nofollow::describe(path, &e));
            return r;
        }
    };
    let entries = match nofollow::list(root.as_fd()) {
        Ok(entries) => entries,
        Err(e) => {
            let mut r = CacheReport::empty(found, Kind::Unknown);
            r.errors.push(nofollow::describe(path, &e));
            return r;
        }
    };
    let kind = classify_at(root.as_fd(), &entries);
    let mut r = CacheReport::empty(found, kind);
    match kind {
        Kind::OciLayout => {
            let scan = oci_layout::scan(root.as_fd(), entries, path);
            fill_tally(
                &mut r,
                scan.tally.bytes,
                scan.tally.files,
                &scan.tally.errors,
            );
            r.blobs = scan.blobs.len() as u64;
            r.blob_bytes = scan.blob_bytes;
            r.last_used = last_used(scan.blobs.values());
            match &scan.references {
                Ok(refs) => {
                    let mut referenced = BlobCount::default();
                    let mut orphans = BlobCount::default();
                    let mut seen = std::collections::HashSet::new();
                    for (d, e) in &scan.blobs {
                        let counted = if e.nlink > 1 && !seen.insert((e.dev, e.ino)) {
                            0
                        } else {
                            e.size
                        };
                        let c = if refs.referenced.contains(d) {
                            &mut referenced
                        } else {
                            &mut orphans
                        };
                        c.blobs += 1;
                        c.bytes = c.bytes.saturating_add(counted);
                    }
                    r.referenced = Some(referenced);
                    r.orphans = Some(orphans);
                    r.missing = refs.missing.iter().cloned().collect();
                }
                Err(e) => r.errors.push(e.clone()),
            }
            r.set_temp(
                scan.temp
                    .into_iter()
                    .map(|(path, bytes)| TempFile { path, bytes })
                    .collect(),
            );
        }
        Kind::Fscache => {
            let scan = fscache::scan(root.as_fd(), entries, path);
            fill_tally(
                &mut r,
                scan.tally.bytes,
                scan.tally.files,
                &scan.tally.errors,
            );
            r.blobs = scan.blobs.len() as u64;
            r.blob_bytes = scan.blob_bytes;
            r.last_used = last_used(scan.blobs.iter().map(|(_, e)| e));
            r.set_temp(
                scan.temp
                    .iter()
                    .map(|e| TempFile {
                        path: path.join(&e.name),
                        bytes: e.size,
                    })
                    .collect(),
            );
        }
        Kind::Registry => fill_registry(&mut r, root.as_fd(), entries),
        Kind::Unknown | Kind::Missing => {
            let mut tally = Tally::default();
            tally.add_contents(root.as_fd(), path);
            fill_tally(&mut r, tally.bytes, tally.files, &tally.errors);
        }
    }
    r
}

fn fill_registry(r: &mut CacheReport, root: std::os::fd::BorrowedFd<'_>, entries: Vec<Entry>) {
    let scan = registry::scan(root, entries, &r.path);
    fill_tally(r, scan.tally.bytes, scan.tally.files, &scan.tally.errors);
    r.blobs = scan.blobs.len() as u64;
    r.blob_bytes = scan.blob_bytes;
    r.last_used = last_used(scan.blobs.values());
    let report = scan.report();
    if let Some(gc) = &report.gc {
        let orphans = BlobCount {
            blobs: gc.blobs.len() as u64,
            bytes: gc.blob_bytes,
        };
        r.referenced = Some(BlobCount {
            blobs: r.blobs - orphans.blobs,
            bytes: r.blob_bytes.saturating_sub(orphans.bytes),
        });
        r.orphans = Some(orphans);
    }
    r.set_temp(
        report
            .uploads
            .iter()
            .map(|u| TempFile {
                path: u.path.clone(),
                bytes: u.bytes,
            })
            .collect(),
    );
    r.registry = Some(report);
}

/// The newest use of any of these blobs. Entries known only from a
/// directory listing carry no times (the epoch) and are left out.
fn last_used<'a>(blobs: impl Iterator<Item = &'a Entry>) -> Option<Timestamp> {
    blobs
        .map(Entry::last_used)
        .filter(|t| *t > std::time::UNIX_EPOCH)
        .max()
        .map(Timestamp::from)
}

fn fill_tally(r: &mut CacheReport, bytes: u64, files: u64, errors: &[String]) {
    r.bytes = bytes;
    r.listed_file_bytes = bytes;
    r.files = files;
    r.errors.extend(errors.iter().cloned());
}

/// A path that is a file, not a directory: measured as `unknown`.
fn inspect_file(found: &Discovered) -> CacheReport {
    let mut r = CacheReport::empty(found, Kind::Unknown);
    match std::fs::symlink_metadata(&found.path) {
        Ok(m) => {
            r.bytes = m.len();
            r.listed_file_bytes = m.len();
            r.files = 1;
        }
        Err(e) => r.errors.push(nofollow::describe(&found.path, &e)),
    }
    r
}

/// Inspects every cache concurrently, in order, then measures their
/// `bytes` in one walk.
pub fn inspect_all(found: &[Discovered]) -> Vec<CacheReport> {
    let mut reports = classify_all(found);
    let present: Vec<usize> = (0..reports.len())
        .filter(|i| reports[*i].kind != Kind::Missing)
        .collect();
    if present.is_empty() {
        return reports;
    }
    let paths: Vec<PathBuf> = present.iter().map(|i| reports[*i].path.clone()).collect();
    let usages = walk::measure(&paths, &walk::WalkOptions::default());
    for (i, u) in present.into_iter().zip(usages) {
        reports[i].set_walked(&u);
    }
    reports
}

/// Classifies every cache and counts its blobs, concurrently, in order,
/// without the walk: `bytes` is then the listing's non-directory bytes,
/// until [`CacheReport::set_walked`] gives the walked figure. For a caller
/// that walks the caches along with other directories (the overview).
pub fn classify_all(found: &[Discovered]) -> Vec<CacheReport> {
    found.par_iter().map(inspect).collect()
}

/// One warning per cache that does not exist. Only paths the user named
/// (arguments, the config) can be missing: absent well-known caches are
/// never listed. A named path that is not there is an error line and exit
/// 1 in every view, as in `du`.
pub fn missing_named(reports: &[CacheReport]) -> Vec<String> {
    reports
        .iter()
        .filter(|r| r.kind == Kind::Missing)
        .map(|r| format!("{}: does not exist", r.path.display()))
        .collect()
}

impl CacheReport {
    /// Takes `bytes` and `files` from the cache's share of a walk. The
    /// listing has already named any unreadable path; the walk's own
    /// problems are added only when it met none.
    pub fn set_walked(&mut self, u: &walk::Usage) {
        self.bytes = u.apparent_bytes;
        self.files = u.files;
        if self.errors.is_empty() {
            self.errors.extend(
                u.errors
                    .iter()
                    .map(|e| format!("{}: {}", e.path.display(), e.message)),
            );
        }
    }
}

/// Sum of `bytes` (the walk already counted a cache inside another once),
/// and one warning per nested cache saying so.
pub fn total_bytes(reports: &[CacheReport]) -> (u64, Vec<String>) {
    let canon: Vec<PathBuf> = reports
        .iter()
        .map(|r| std::fs::canonicalize(&r.path).unwrap_or_else(|_| r.path.clone()))
        .collect();
    let mut total: u64 = 0;
    let mut warnings = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let outer = canon
            .iter()
            .enumerate()
            .find(|(j, c)| *j != i && canon[i] != **c && canon[i].starts_with(c));
        if let Some((j, _)) = outer {
            warnings.push(format!(
                "{}: inside {}, counted once in the total",
                r.path.display(),
                reports[j].path.display()
            ));
        }
        total = total.saturating_add(r.bytes);
    }
    (total, warnings)
}

/// Resolves a cache path for pruning: symlinks at the root are followed so
/// the lock, the swap and the sweep all act on the real directory.
pub(crate) fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(path)
}
