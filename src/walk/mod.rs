//! Parallel directory sizing, with the same figures as GNU `du`.
//!
//! **The one definition of bytes**: every directory figure a report shows
//! (workspaces, shared mounts, caches, volumes, vfs layers, build leftovers,
//! `du`) is [`Usage::apparent_bytes`], `du -sb`, directories included, and a
//! report walks its directories in one call so that they share one inode
//! set. [`Usage::file_bytes`] is kept only where podman's own figure counts
//! files alone (a writable layer's `rwSize`, a diff dir's `diff-size`), to
//! compare with podman; the directories left out there are counted by the
//! store-metadata line, so no total mixes the two for one byte.
//!
//! [`measure`] walks several roots at once on every core and returns, per
//! root, apparent bytes (`du -sb`), allocated bytes (`du -s -B1`) and counts
//! of files and directories. Like `du` given several arguments, each inode is
//! counted once per call: a hard-linked file goes to the first root (in
//! argument order) that holds it, and a root that lies inside an earlier one
//! (or is the same directory) counts nothing, while an earlier root inside a
//! later one is left out of the later one. Symlinks are never followed, and
//! each root's file system is not left unless asked.
//!
//! Problems (an unreadable directory, a file removed mid-walk, a missing
//! root) never stop a walk: they become [`WalkError`]s in the root's
//! [`Usage`], whose totals are then a lower bound.
//!
//! How: one rayon task per directory (work-stealing keeps both cores busy
//! on any tree shape), each reading its directory with `getdents64` and
//! `fstatat` relative to the directory's descriptor; see `tree.rs` for the
//! measured choices.

mod sys;
mod tree;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Descend into other file systems below a root.
    pub cross_file_systems: bool,
}

/// A problem met while walking; the total it belongs to is incomplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkError {
    pub path: PathBuf,
    pub message: String,
}

/// What one root holds. Every root that exists counts at least itself
/// (`files + dirs >= 1`); a root inside an earlier one, or equal to one, is
/// all zeros, its bytes counted in that earlier root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Sum of `st_size` (what `du --apparent-size` counts).
    pub apparent_bytes: u64,
    /// `st_size` of non-directories only: what podman counts as a
    /// container's writable-layer size (directories' own sizes left out).
    pub file_bytes: u64,
    /// Sum of allocated blocks (`st_blocks * 512`, what `du` counts).
    pub disk_bytes: u64,
    /// Non-directories: regular files, symlinks, devices, sockets, FIFOs.
    pub files: u64,
    /// Directories, the root itself included.
    pub dirs: u64,
    /// Sorted by path.
    pub errors: Vec<WalkError>,
}

impl Usage {
    pub fn incomplete(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// Measures every root concurrently; one `Usage` per root, in order.
pub fn measure(roots: &[PathBuf], opts: &WalkOptions) -> Vec<Usage> {
    tree::measure(roots, &[], opts)
}

/// Like [`measure`], but a root flagged in `fences` is neither walked nor
/// counted (its `Usage` is zeros): it only keeps the other roots out of it.
/// For a walk that must leave out what another walk already measured.
pub fn measure_around(roots: &[PathBuf], fences: &[bool], opts: &WalkOptions) -> Vec<Usage> {
    tree::measure(roots, fences, opts)
}

/// Measures one root.
pub fn measure_one(root: &Path, opts: &WalkOptions) -> Usage {
    tree::measure(&[root.to_path_buf()], &[], opts)
        .pop()
        .unwrap_or_default()
}

/// Measures each entry of `dir` separately (one walk for all of them), for
/// per-child rows; sorted by name. Hard links shared between children count
/// in the first child by name. The directory's own inode is in no row.
pub fn measure_children(
    dir: &Path,
    opts: &WalkOptions,
) -> Result<Vec<(OsString, Usage)>, WalkError> {
    let read = std::fs::read_dir(dir).map_err(|e| WalkError {
        path: dir.to_path_buf(),
        message: format!("cannot read directory: {e}"),
    })?;
    let mut names = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| WalkError {
            path: dir.to_path_buf(),
            message: format!("cannot read directory: {e}"),
        })?;
        names.push(entry.file_name());
    }
    names.sort();
    let roots: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    let usages = tree::measure(&roots, &[], opts);
    Ok(names.into_iter().zip(usages).collect())
}

#[cfg(test)]
mod tests;
