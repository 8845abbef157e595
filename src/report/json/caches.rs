//! The JSON of the directory views: `du`, `caches`, `prune caches`.

use std::path::Path;

use serde::Serialize;

use super::all;
use crate::caches::prune::Action;
use crate::caches::registry::{GcPlan, ManifestRef, RegistryReport, Repository, Upload};
use crate::caches::{BlobCount, CacheReport, Kind, Origin, PruneReport, TempFile};
use crate::report::caches::{CachesView, PruneView};
use crate::report::du::{DuReport, ErrorRow, PathRow};

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `du`.
#[derive(Debug, Serialize)]
pub struct Du {
    pub schema: u32,
    pub paths: Vec<DuPath>,
    /// The paths' `disk_bytes`, added (each inode is in one row only).
    pub total_bytes: u64,
    pub total_apparent_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<super::Selection>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct DuPath {
    pub path: String,
    pub apparent_bytes: u64,
    pub disk_bytes: u64,
    pub files: u64,
    pub dirs: u64,
    pub incomplete: bool,
    pub errors: Vec<DuError>,
}

#[derive(Debug, Serialize)]
pub struct DuError {
    pub path: String,
    pub message: String,
}

/// `caches`.
#[derive(Debug, Serialize)]
pub struct Caches {
    pub schema: u32,
    pub caches: Vec<Cache>,
    /// Every cache once, nested ones inside their parent.
    pub total_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<super::Selection>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Cache {
    /// `fscache`, `oci-layout`, `registry`, `unknown`, `missing`.
    pub kind: &'static str,
    pub path: String,
    /// `argument`, `config`, `ko`, `zarf`.
    pub origin: &'static str,
    /// Apparent bytes of every non-directory entry below `path`.
    pub bytes: u64,
    pub files: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
    /// OCI layouts: blobs reachable from `index.json`; registries: blobs
    /// garbage-collect marks; null otherwise or when unreadable.
    pub referenced: Option<Blobs>,
    /// OCI layouts: blobs nothing references; registries: what
    /// garbage-collect would delete.
    pub orphans: Option<Blobs>,
    /// Referenced digests absent from `blobs/`.
    pub missing: Vec<String>,
    pub temp: Vec<Temp>,
    pub temp_bytes: u64,
    /// Registries only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<Registry>,
    /// One line each; figures are lower bounds when non-empty.
    pub errors: Vec<String>,
    /// The newest use of a blob (the later of atime and mtime, as
    /// `prune caches --older-than` judges), RFC 3339 UTC.
    pub last_used: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Blobs {
    pub blobs: u64,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct Temp {
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct Registry {
    pub repositories: Vec<Repo>,
    /// Present blobs no repository links.
    pub unlinked: Blobs,
    pub uploads: Vec<RegistryUpload>,
    /// What `garbage-collect` would delete; null when marks are unknown.
    pub gc: Option<Gc>,
    /// What `garbage-collect --delete-untagged` would delete.
    pub gc_untagged: Option<Gc>,
}

#[derive(Debug, Serialize)]
pub struct Repo {
    pub name: String,
    pub tags: u64,
    pub manifests: u64,
    /// Blobs only this repository links.
    pub unique: Blobs,
    /// Blobs other repositories link too (counted once in the cache).
    pub shared: Blobs,
    pub uploads: Blobs,
}

#[derive(Debug, Serialize)]
pub struct RegistryUpload {
    pub repository: String,
    pub path: String,
    pub bytes: u64,
    /// Unix seconds.
    pub started: u64,
}

#[derive(Debug, Serialize)]
pub struct Gc {
    /// Digests marked (referenced), present or not.
    pub marked: u64,
    /// Present blobs not marked, sorted.
    pub blobs: Vec<String>,
    pub blob_bytes: u64,
    /// Untagged revisions (only with `--delete-untagged`).
    pub manifests: Vec<Manifest>,
}

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub repository: String,
    pub digest: String,
}

/// `prune caches`.
#[derive(Debug, Serialize)]
pub struct Prune {
    pub schema: u32,
    pub dry_run: bool,
    pub caches: Vec<PruneCache>,
    /// Bytes freed (or, under `--dry-run`, that would be freed).
    pub total_bytes: u64,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PruneCache {
    pub path: String,
    pub kind: &'static str,
    /// `whole`, `evict`, `orphans`, `registry`, `skip`.
    pub action: &'static str,
    pub dry_run: bool,
    /// Apparent bytes of the files removed (hard links once).
    pub freed_bytes: u64,
    pub removed_files: u64,
    /// Why nothing was done, for `skip`.
    pub note: Option<String>,
    pub errors: Vec<String>,
}

impl From<&DuReport> for Du {
    fn from(r: &DuReport) -> Self {
        Du {
            schema: r.schema,
            paths: all(&r.paths),
            total_bytes: r.total_bytes,
            total_apparent_bytes: r.total_apparent_bytes,
            selection: super::selection(&r.selection),
            warnings: r.warnings.clone(),
        }
    }
}

impl From<&PathRow> for DuPath {
    fn from(r: &PathRow) -> Self {
        DuPath {
            path: r.path.clone(),
            apparent_bytes: r.apparent_bytes,
            disk_bytes: r.disk_bytes,
            files: r.files,
            dirs: r.dirs,
            incomplete: r.incomplete,
            errors: all(&r.errors),
        }
    }
}

impl From<&ErrorRow> for DuError {
    fn from(e: &ErrorRow) -> Self {
        DuError {
            path: e.path.clone(),
            message: e.message.clone(),
        }
    }
}

impl From<&CachesView> for Caches {
    fn from(v: &CachesView) -> Self {
        Caches {
            schema: v.schema,
            caches: all(&v.caches),
            total_bytes: v.total_bytes,
            selection: super::selection(&v.selection),
            warnings: v.warnings.clone(),
        }
    }
}

fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Fscache => "fscache",
        Kind::OciLayout => "oci-layout",
        Kind::Registry => "registry",
        Kind::Unknown => "unknown",
        Kind::Missing => "missing",
    }
}

fn origin(o: Origin) -> &'static str {
    match o {
        Origin::Argument => "argument",
        Origin::Config => "config",
        Origin::Ko => "ko",
        Origin::Zarf => "zarf",
    }
}

fn action(a: Action) -> &'static str {
    match a {
        Action::Whole => "whole",
        Action::Evict => "evict",
        Action::Orphans => "orphans",
        Action::Registry => "registry",
        Action::Skip => "skip",
    }
}

impl From<&CacheReport> for Cache {
    fn from(r: &CacheReport) -> Self {
        Cache {
            kind: kind(r.kind),
            path: path(&r.path),
            origin: origin(r.origin),
            bytes: r.bytes,
            files: r.files,
            blobs: r.blobs,
            blob_bytes: r.blob_bytes,
            referenced: r.referenced.as_ref().map(Blobs::from),
            orphans: r.orphans.as_ref().map(Blobs::from),
            missing: r.missing.iter().map(ToString::to_string).collect(),
            temp: all(&r.temp),
            temp_bytes: r.temp_bytes,
            registry: r.registry.as_ref().map(Registry::from),
            errors: r.errors.clone(),
            last_used: r.last_used.map(|t| t.rfc3339()),
        }
    }
}

impl From<&BlobCount> for Blobs {
    fn from(c: &BlobCount) -> Self {
        Blobs {
            blobs: c.blobs,
            bytes: c.bytes,
        }
    }
}

impl From<&TempFile> for Temp {
    fn from(t: &TempFile) -> Self {
        Temp {
            path: path(&t.path),
            bytes: t.bytes,
        }
    }
}

impl From<&RegistryReport> for Registry {
    fn from(r: &RegistryReport) -> Self {
        Registry {
            repositories: all(&r.repositories),
            unlinked: Blobs::from(&r.unlinked),
            uploads: all(&r.uploads),
            gc: r.gc.as_ref().map(Gc::from),
            gc_untagged: r.gc_untagged.as_ref().map(Gc::from),
        }
    }
}

impl From<&Repository> for Repo {
    fn from(r: &Repository) -> Self {
        Repo {
            name: r.name.clone(),
            tags: r.tags,
            manifests: r.manifests,
            unique: Blobs::from(&r.unique),
            shared: Blobs::from(&r.shared),
            uploads: Blobs::from(&r.uploads),
        }
    }
}

impl From<&Upload> for RegistryUpload {
    fn from(u: &Upload) -> Self {
        RegistryUpload {
            repository: u.repository.clone(),
            path: path(&u.path),
            bytes: u.bytes,
            started: u
                .started
                .duration_since(std::time::SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }
}

impl From<&GcPlan> for Gc {
    fn from(g: &GcPlan) -> Self {
        Gc {
            marked: g.marked,
            blobs: g.blobs.iter().map(ToString::to_string).collect(),
            blob_bytes: g.blob_bytes,
            manifests: g.manifests.iter().map(Manifest::from).collect(),
        }
    }
}

impl From<&ManifestRef> for Manifest {
    fn from(m: &ManifestRef) -> Self {
        Manifest {
            repository: m.repository.clone(),
            digest: m.digest.to_string(),
        }
    }
}

impl From<&PruneView> for Prune {
    fn from(v: &PruneView) -> Self {
        Prune {
            schema: v.schema,
            dry_run: v.dry_run,
            caches: all(&v.caches),
            total_bytes: v.total_bytes,
            warnings: v.warnings.clone(),
        }
    }
}

impl From<&PruneReport> for PruneCache {
    fn from(r: &PruneReport) -> Self {
        PruneCache {
            path: path(&r.path),
            kind: kind(r.kind),
            action: action(r.action),
            dry_run: r.dry_run,
            freed_bytes: r.freed_bytes,
            removed_files: r.removed_files,
            note: r.note.clone(),
            errors: r.errors.clone(),
        }
    }
}
