//! Plain directories that belong to rows: project workspaces, shared mounts,
//! cache directories. All of them are walked in one concurrent pass (one
//! inode set), so a hard-linked file is counted once across all of them, in
//! the first that holds it: workspaces (in configuration order), then shared
//! mounts, then caches. Every figure is `du -sb` (see [`crate::walk`]).

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::projects::{Dirs, MeasuredDir, RowId};
use crate::walk::{self, WalkOptions};
use crate::Warnings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Workspace,
    Shared,
    Cache,
}

/// Measures every configured directory and the given caches (their row and
/// path; the figures given are replaced by the walk's). A workspace glob
/// whose fixed root is missing is a warning (the project's row stays, at
/// zero); a directory inside another measured one is counted only in the
/// outer one.
pub fn measure(config: &Config, caches: &[MeasuredDir], warnings: &Warnings) -> Dirs {
    let mut wanted: Vec<(Kind, RowId, PathBuf)> = Vec::new();
    for p in &config.projects {
        let found = p.expand_workspaces();
        for root in &found.missing_roots {
            warnings.push(format!(
                "project {}: workspace root {} does not exist",
                p.id,
                root.display()
            ));
        }
        for w in found.warnings {
            warnings.push(format!("project {}: {w}", p.id));
        }
        for m in found.dirs {
            wanted.push((Kind::Workspace, RowId::Project(p.id.clone()), m.path));
        }
    }
    for m in &config.shared.mounts {
        wanted.push((Kind::Shared, RowId::Shared, m.clone()));
    }
    for c in caches {
        wanted.push((Kind::Cache, c.row.clone(), c.path.clone()));
    }
    let wanted = drop_nested(wanted, warnings);
    let roots: Vec<PathBuf> = wanted.iter().map(|(_, _, p)| p.clone()).collect();
    let usages = walk::measure(&roots, &WalkOptions::default());
    let mut dirs = Dirs::default();
    for ((kind, row, path), usage) in wanted.into_iter().zip(usages) {
        // A cache's unreadable parts were named by its listing already.
        let listed = caches
            .iter()
            .find(|c| kind == Kind::Cache && c.path == path);
        if listed.is_none_or(|c| !c.incomplete) {
            for e in &usage.errors {
                warnings.push(format!("{}: {}", e.path.display(), e.message));
            }
        }
        let d = MeasuredDir {
            row,
            path,
            bytes: usage.apparent_bytes,
            files: usage.files,
            incomplete: usage.incomplete() || listed.is_some_and(|c| c.incomplete),
        };
        match kind {
            Kind::Workspace => dirs.workspaces.push(d),
            Kind::Shared => dirs.shared_mounts.push(d),
            Kind::Cache => dirs.caches.push(d),
        }
    }
    dirs
}

/// Keeps each directory once: an exact duplicate or a directory below
/// another one in the list would otherwise be counted twice.
fn drop_nested(
    wanted: Vec<(Kind, RowId, PathBuf)>,
    warnings: &Warnings,
) -> Vec<(Kind, RowId, PathBuf)> {
    let norm: Vec<PathBuf> = wanted.iter().map(|(_, _, p)| normalize(p)).collect();
    let mut keep = Vec::new();
    for (i, item) in wanted.iter().enumerate() {
        let outer = norm.iter().enumerate().find(|(j, other)| {
            *j != i && norm[i].starts_with(other) && (norm[i] != **other || *j < i)
        });
        match outer {
            Some((j, _)) => warnings.push(format!(
                "{} is inside {} and is counted there only",
                item.2.display(),
                wanted[j].2.display()
            )),
            None => keep.push(item.clone()),
        }
    }
    keep
}

fn normalize(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_duplicate_dirs_are_kept_once() {
        let w = Warnings::new();
        let items = vec![
            (Kind::Workspace, RowId::Global, PathBuf::from("/a/b")),
            (Kind::Shared, RowId::Shared, PathBuf::from("/a")),
            (Kind::Cache, RowId::Global, PathBuf::from("/a")),
            (Kind::Cache, RowId::Global, PathBuf::from("/c")),
        ];
        let kept = drop_nested(items, &w);
        let paths: Vec<_> = kept.iter().map(|k| k.2.clone()).collect();
        assert_eq!(paths, vec![PathBuf::from("/a"), PathBuf::from("/c")]);
        assert_eq!(w.to_vec().len(), 2);
    }
}
