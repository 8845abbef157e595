//! Parallel directory sizing. STUB: the real implementation replaces this file.

use std::path::PathBuf;

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

/// What one root holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub apparent_bytes: u64,
    pub disk_bytes: u64,
    pub files: u64,
    pub dirs: u64,
    pub errors: Vec<WalkError>,
}

impl Usage {
    pub fn incomplete(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// Measures every root concurrently; one `Usage` per root, in order.
pub fn measure(roots: &[PathBuf], opts: &WalkOptions) -> Vec<Usage> {
    let _ = (roots, opts);
    todo!("walk::measure")
}
