//! `podman-storage du PATH...`: apparent and on-disk bytes of directories,
//! measured all at once, each inode counted once across the paths.

use std::path::{Path, PathBuf};

use anyhow::Result;
use podman_storage::report::table::{Align, Table};
use podman_storage::report::{self, SCHEMA};
use podman_storage::select::{Selection, Shown, SortKey, SortValues};
use podman_storage::size::{self, Units};
use podman_storage::walk::{self, Usage, WalkError, WalkOptions};
use podman_storage::Status;
use serde::Serialize;

use super::Ctx;

pub fn run(args: &crate::cli::DuArgs, ctx: &Ctx) -> Result<Status> {
    let opts = WalkOptions {
        cross_file_systems: args.cross_file_systems,
    };
    let spinner = ctx.progress("walking...");
    let usages = walk::measure(&args.paths, &opts);
    drop(spinner);
    let sel = super::sorting(&args.sort);
    sel.check("du", &[SortKey::Size, SortKey::Name])
        .map_err(anyhow::Error::msg)?;
    let mut report = DuReport::new(&args.paths, &usages);
    report.select(&sel);
    super::print_warnings(&report.warnings);
    ctx.emit(
        || report::to_json(&report),
        || render_table(&report, ctx.units()),
    )?;
    Ok(if report.all.incomplete {
        Status::Partial
    } else {
        Status::Complete
    })
}

/// The `--format json` contract (schema 1).
#[derive(Debug, Serialize)]
struct DuReport {
    schema: u32,
    paths: Vec<PathRow>,
    /// Sum of the paths' `disk_bytes`.
    total_bytes: u64,
    total_apparent_bytes: u64,
    /// `--sort`, `--top`: absent when neither was given.
    #[serde(skip_serializing_if = "Shown::is_default")]
    selection: Shown,
    warnings: Vec<String>,
    /// Of every path, listed or not (the TOTAL row covers them all).
    #[serde(skip)]
    all: AllPaths,
}

#[derive(Debug, Default)]
struct AllPaths {
    count: usize,
    files: u64,
    dirs: u64,
    incomplete: bool,
}

#[derive(Debug, Serialize)]
struct PathRow {
    path: String,
    apparent_bytes: u64,
    disk_bytes: u64,
    files: u64,
    dirs: u64,
    incomplete: bool,
    errors: Vec<ErrorRow>,
}

#[derive(Debug, Serialize)]
struct ErrorRow {
    path: String,
    message: String,
}

impl DuReport {
    fn new(paths: &[PathBuf], usages: &[Usage]) -> Self {
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
            // Saturating, like the walk: sparse files can pass u64::MAX.
            total_bytes: rows
                .iter()
                .map(|r| r.disk_bytes)
                .fold(0, u64::saturating_add),
            total_apparent_bytes: rows
                .iter()
                .map(|r| r.apparent_bytes)
                .fold(0, u64::saturating_add),
            all: AllPaths {
                count: rows.len(),
                files: rows.iter().map(|r| r.files).sum(),
                dirs: rows.iter().map(|r| r.dirs).sum(),
                incomplete: rows.iter().any(|r| r.incomplete),
            },
            paths: rows,
            selection: Shown::default(),
            warnings,
        }
    }

    /// `--sort size` orders by bytes on disk, as the total counts them.
    fn select(&mut self, sel: &Selection) {
        self.selection = sel.apply(&mut self.paths, |r| SortValues {
            name: r.path.clone(),
            size: Some(r.disk_bytes),
            ..SortValues::default()
        });
    }
}

impl From<&WalkError> for ErrorRow {
    fn from(e: &WalkError) -> Self {
        ErrorRow {
            path: lossy(&e.path),
            message: e.message.clone(),
        }
    }
}

fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

const INCOMPLETE_MARK: &str = "*";
const COUNTED_EARLIER_MARK: &str = "^";

impl PathRow {
    /// Every path that exists counts at least itself, so an empty complete
    /// row is one the walk found inside (or equal to) an earlier path.
    fn counted_earlier(&self) -> bool {
        !self.incomplete && self.files == 0 && self.dirs == 0
    }
}

fn render_table(report: &DuReport, units: Units) -> String {
    let mut table = Table::new(&[
        ("PATH", Align::Left),
        ("APPARENT", Align::Right),
        ("ON DISK", Align::Right),
        ("FILES", Align::Right),
        ("DIRS", Align::Right),
        ("", Align::Left),
    ]);
    for row in &report.paths {
        let mark = if row.incomplete {
            INCOMPLETE_MARK
        } else if row.counted_earlier() {
            COUNTED_EARLIER_MARK
        } else {
            ""
        };
        table.row([
            row.path.clone(),
            size::display(row.apparent_bytes, units),
            size::display(row.disk_bytes, units),
            row.files.to_string(),
            row.dirs.to_string(),
            mark.to_string(),
        ]);
    }
    let incomplete = report.all.incomplete;
    if report.all.count > 1 {
        table.row([
            "TOTAL".to_string(),
            size::display(report.total_apparent_bytes, units),
            size::display(report.total_bytes, units),
            report.all.files.to_string(),
            report.all.dirs.to_string(),
            if incomplete { INCOMPLETE_MARK } else { "" }.to_string(),
        ]);
    }
    let mut out = table.render();
    out.extend(report.selection.footer("path"));
    if report.paths.iter().any(PathRow::counted_earlier) {
        out.push_str(&format!(
            "{COUNTED_EARLIER_MARK} inside an earlier path (or the same): counted there\n"
        ));
    }
    if incomplete {
        out.push_str(&format!(
            "{INCOMPLETE_MARK} incomplete: not everything could be read (see the warnings); the figures are a lower bound\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(apparent: u64, disk: u64, errors: &[&str]) -> Usage {
        Usage {
            apparent_bytes: apparent,
            file_bytes: apparent,
            disk_bytes: disk,
            files: 2,
            dirs: 1,
            errors: errors
                .iter()
                .map(|p| WalkError {
                    path: PathBuf::from(p),
                    message: "cannot read directory: Permission denied (os error 13)".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn totals_sum_rows_and_mark_incomplete_ones() {
        let paths = [PathBuf::from("/a"), PathBuf::from("/b")];
        let report = DuReport::new(&paths, &[usage(10, 4096, &[]), usage(5, 8192, &["/b/x"])]);
        assert_eq!(
            (report.total_bytes, report.total_apparent_bytes),
            (12288, 15)
        );
        assert_eq!(
            report.warnings,
            ["/b/x: cannot read directory: Permission denied (os error 13)"]
        );
        let table = render_table(&report, Units::Bytes);
        assert_eq!(
            table,
            "\
PATH   APPARENT  ON DISK  FILES  DIRS
/a           10     4096      2     1
/b            5     8192      2     1  *
TOTAL        15    12288      4     2  *
* incomplete: not everything could be read (see the warnings); the figures are a lower bound
"
        );
    }

    #[test]
    fn a_path_counted_in_an_earlier_one_is_marked() {
        let paths = [PathBuf::from("/a"), PathBuf::from("/a/b")];
        let empty = Usage {
            files: 0,
            dirs: 0,
            ..usage(0, 0, &[])
        };
        let report = DuReport::new(&paths, &[usage(10, 4096, &[]), empty]);
        let table = render_table(&report, Units::Bytes);
        assert!(table.lines().nth(2).unwrap().ends_with("0  ^"), "{table}");
        assert!(table.ends_with("^ inside an earlier path (or the same): counted there\n"));
    }

    #[test]
    fn one_complete_path_has_no_total_or_footnote() {
        let report = DuReport::new(&[PathBuf::from("/a")], &[usage(1, 2, &[])]);
        let table = render_table(&report, Units::Bytes);
        assert_eq!(table.lines().count(), 2, "{table}");
        assert!(!table.contains('*'));
    }
}
