//! `du PATH...`: every path walked at once, each inode counted once.

use std::path::PathBuf;

use crate::report::du::{lossy, AllPaths, DuReport, ErrorRow, PathRow};
use crate::report::SCHEMA;
use crate::select::{Selection, Shown, SortValues};
use crate::size::sum;
use crate::walk::{self, Usage, WalkOptions};

/// `sel` orders and cuts the rows (`--sort size` by bytes on disk, as the
/// total counts them); the totals cover every path.
pub fn du(paths: &[PathBuf], opts: &WalkOptions, sel: &Selection) -> DuReport {
    let mut report = assemble(paths, &walk::measure(paths, opts));
    report.selection = sel.apply(&mut report.paths, |r| SortValues {
        name: r.path.clone(),
        size: Some(r.disk_bytes),
        ..SortValues::default()
    });
    report
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
        all: AllPaths {
            count: rows.len(),
            files: sum(rows.iter().map(|r| r.files)),
            dirs: sum(rows.iter().map(|r| r.dirs)),
            incomplete: rows.iter().any(|r| r.incomplete),
        },
        paths: rows,
        selection: Shown::default(),
        warnings,
    }
}
