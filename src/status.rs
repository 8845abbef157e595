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
}

impl Status {
    /// Exit code for a fatal error (bad arguments, bad config, nothing measured).
    pub const FATAL_CODE: u8 = 2;

    pub fn code(self) -> u8 {
        match self {
            Status::Complete => 0,
            Status::Partial => 1,
        }
    }
}

/// One-line problems collected while measuring; shared by concurrent sources.
#[derive(Debug, Default)]
pub struct Warnings {
    lines: Mutex<Vec<String>>,
}

impl Warnings {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem. Multi-line messages are folded so each stays one line.
    pub fn push(&self, message: impl fmt::Display) {
        let line = message
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
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
