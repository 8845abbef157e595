//! How complete a report is, and the warnings that say why not.

use std::fmt;
use std::sync::Mutex;

/// Outcome of a command that printed a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every source was measured.
    Complete,
    /// The report was printed but a source failed or was only partly measured.
    Partial,
    /// The report was printed and a total is over its budget.
    OverBudget,
}

impl Status {
    /// Exit code for a fatal error (bad arguments, bad config, nothing measured).
    pub const FATAL_CODE: u8 = 2;

    pub fn code(self) -> u8 {
        match self {
            Status::Complete => 0,
            Status::Partial => 1,
            Status::OverBudget => 3,
        }
    }
}

/// One-line problems collected while measuring; shared by concurrent sources.
///
/// Two severities: a warning means a figure is missing or only a lower
/// bound (exit 1); a note says how the figures were obtained when that
/// changed nothing about them, such as a fallback that then succeeded or an
/// image removed while the store was being read (printed, exit unchanged).
#[derive(Debug, Default)]
pub struct Warnings {
    lines: Mutex<Vec<String>>,
    notes: Mutex<Vec<String>>,
}

/// Multi-line messages are folded so each stays one line.
fn one_line(message: impl fmt::Display) -> String {
    message
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl Warnings {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem: the report is partial.
    pub fn push(&self, message: impl fmt::Display) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(one_line(message));
    }

    /// Records a note: printed, but the report is still complete.
    pub fn note(&self, message: impl fmt::Display) {
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(one_line(message));
    }

    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn is_empty(&self) -> bool {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    pub fn status(&self) -> Status {
        if self.is_empty() {
            Status::Complete
        } else {
            Status::Partial
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_kept_apart_and_leave_the_report_complete() {
        let w = Warnings::new();
        w.note("local store: unreadable;\nasking podman instead");
        assert_eq!(w.status(), Status::Complete);
        assert!(w.is_empty());
        assert_eq!(
            w.notes(),
            ["local store: unreadable; asking podman instead"]
        );
        w.push("podman failed");
        assert_eq!(w.status(), Status::Partial);
        assert_eq!(w.to_vec(), ["podman failed"]);
    }
}
