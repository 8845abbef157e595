//! `du PATH...`: apparent and on-disk bytes of directories, each inode
//! counted once across the paths; the report and its table.

use std::path::Path;

use super::table::{Align, Table};
use crate::select::Shown;
use crate::size::{self, Units};
use crate::walk::WalkError;

/// The `--format json` contract (schema 1).
#[derive(Debug)]
pub struct DuReport {
    pub schema: u32,
    pub paths: Vec<PathRow>,
    /// Sum of the paths' `disk_bytes`.
    pub total_bytes: u64,
    pub total_apparent_bytes: u64,
    /// `--sort`, `--top` as applied.
    pub selection: Shown,
    pub warnings: Vec<String>,
    /// Of every path, listed or not (the TOTAL row covers them all).
    pub all: AllPaths,
}

#[derive(Debug, Default)]
pub struct AllPaths {
    pub count: usize,
    pub files: u64,
    pub dirs: u64,
    pub incomplete: bool,
}

#[derive(Debug)]
pub struct PathRow {
    pub path: String,
    pub apparent_bytes: u64,
    pub disk_bytes: u64,
    pub files: u64,
    pub dirs: u64,
    pub incomplete: bool,
    pub errors: Vec<ErrorRow>,
}

#[derive(Debug)]
pub struct ErrorRow {
    pub path: String,
    pub message: String,
}

impl From<&WalkError> for ErrorRow {
    fn from(e: &WalkError) -> Self {
        ErrorRow {
            path: lossy(&e.path),
            message: e.message.clone(),
        }
    }
}

pub(crate) fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

const INCOMPLETE_MARK: &str = "*";
const COUNTED_EARLIER_MARK: &str = "^";

impl PathRow {
    /// Every path that exists counts at least itself, so an empty complete
    /// row is one the walk found inside (or equal to) an earlier path.
    pub fn counted_earlier(&self) -> bool {
        !self.incomplete && self.files == 0 && self.dirs == 0
    }
}

impl DuReport {
    pub fn table(&self, units: Units) -> String {
        render_table(self, units)
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
    use crate::views::du::assemble;
    use crate::walk::Usage;
    use std::path::PathBuf;

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
        let report = assemble(&paths, &[usage(10, 4096, &[]), usage(5, 8192, &["/b/x"])]);
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
        let report = assemble(&paths, &[usage(10, 4096, &[]), empty]);
        let table = render_table(&report, Units::Bytes);
        assert!(table.lines().nth(2).unwrap().ends_with("0  ^"), "{table}");
        assert!(table.ends_with("^ inside an earlier path (or the same): counted there\n"));
    }

    #[test]
    fn one_complete_path_has_no_total_or_footnote() {
        let report = assemble(&[PathBuf::from("/a")], &[usage(1, 2, &[])]);
        let table = render_table(&report, Units::Bytes);
        assert_eq!(table.lines().count(), 2, "{table}");
        assert!(!table.contains('*'));
    }
}
