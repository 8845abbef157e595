//! libpod's SQLite database (`db.sql`). Placeholder until the reader lands.

use std::path::Path;

use super::{LibpodDbError, LibpodState};

pub fn read(path: &Path) -> Result<LibpodState, LibpodDbError> {
    Err(LibpodDbError::Unsupported {
        path: path.to_path_buf(),
        sqlite: path.to_path_buf(),
    })
}
