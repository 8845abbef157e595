//! `du PATH...`: every path walked at once, each inode counted once.

use std::path::PathBuf;

use crate::report::du::{lossy, DuReport, ErrorRow, PathRow};
use crate::report::SCHEMA;
use crate::size::sum;
use crate::walk::{self, Usage, WalkOptions};

pub fn du(paths: &[PathBuf], opts: &WalkOptions) -> DuReport {
    assemble(paths, &walk::measure(paths, opts))
}

/// One row per path, in order, and the totals.
pub fn assemble(paths: &[PathBuf], usages: &[Usage]) -> DuReport {
    let rows: Vec<PathRow> = paths
        .iter()
        .zip(usages)
        .map(|(path, u)| PathRow {
            path: lossy(path),
            apparent_bytes: u.apparent_bytes,
            disk_bytes: u.disk_bytes,
            files: u.files,
            dirs: u.dirs,
            incomplete: u.incomplete(),
            errors: u.errors.iter().map(ErrorRow::from).collect(),
        })
        .collect();
    let warnings = usages
        .iter()
        .flat_map(|u| &u.errors)
        .map(|e| format!("{}: {}", lossy(&e.path), e.message))
        .collect();
    DuReport {
        schema: SCHEMA,
        // Hard links and overlapping paths are counted in one row only,
        // so the rows add up to the total.
        total_bytes: sum(rows.iter().map(|r| r.disk_bytes)),
        total_apparent_bytes: sum(rows.iter().map(|r| r.apparent_bytes)),
        paths: rows,
        warnings,
    }
}
