//! libpod's own state (containers, pods, volumes) read straight from its
//! SQLite database, with no podman call.
//!
//! podman 4.8+ keeps this state in `db.sql` (in the graphroot, or in
//! `static_dir` when containers.conf sets one; see `default_path`), one
//! table per kind of record, the records being the same JSON as bolt's
//! (`libpod/sqlite_state_internal.go`, `createSQLiteTables`; schema version
//! 1 from podman 4.6 to 5.8).
//!
//! Consistency: podman uses SQLite's default rollback journal and begins
//! every transaction `EXCLUSIVE` (`_txlock=exclusive` in
//! `libpod/sqlite_state.go`), which keeps readers out until it commits. We
//! let SQLite's busy handler wait for that, bounded ([`BUSY_WAIT`]; podman's
//! own connections wait up to 100 s), and read every table inside one
//! transaction: its shared lock, taken by the first SELECT and held to the
//! end, keeps podman from committing meanwhile, so the records are one
//! committed state. The cost to podman: a write that meets our lock waits
//! for it (one read of a few tables).
//!
//! No trace: the connection is read-only, so it never creates a journal,
//! and a rollback-journal database has no `-wal` or `-shm` file. A database
//! switched to WAL mode (podman never does) is refused rather than read,
//! as reading one would create its `-shm`. A journal left by a podman that
//! died mid-write needs a rollback that a read-only connection refuses:
//! that is an error here, and podman's next command repairs it.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

use super::{DbConfig, LibpodDbError, LibpodState, Records};

/// How long to wait for podman to commit a transaction. Its transactions
/// last milliseconds; one held longer is a stuck process, and a report that
/// says so beats one that never comes.
pub const BUSY_WAIT: Duration = Duration::from_secs(5);

/// The schema version this reader knows (`schemaVersion` in libpod).
const SCHEMA_VERSION: i64 = 1;

/// The tables read; libpod creates all of them in one transaction.
const TABLES: [&str; 6] = [
    "DBConfig",
    "ContainerConfig",
    "ContainerState",
    "ContainerVolume",
    "PodConfig",
    "VolumeConfig",
];

/// Where podman 4.8+ keeps the state of the store at `graphroot` when
/// containers.conf sets no `static_dir`: the graphroot itself, not its
/// `libpod` directory as for bolt (`sqliteStatePath` in libpod).
pub fn default_path(graphroot: &Path) -> PathBuf {
    crate::engine::resolve::default_sqlite_path(graphroot)
}

/// Reads libpod's state, waiting at most [`BUSY_WAIT`] for a writer. A
/// store podman never used has no database yet: that is an empty state,
/// not an error.
pub fn read(path: &Path) -> Result<LibpodState, LibpodDbError> {
    read_waiting(path, BUSY_WAIT)
}

/// [`read`], waiting at most `wait` for a writer to commit.
pub fn read_waiting(path: &Path, wait: Duration) -> Result<LibpodState, LibpodDbError> {
    let header = match read_header(path) {
        Ok(h) => h,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LibpodState::default()),
        Err(source) => {
            return Err(LibpodDbError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    // SQLite creates the file empty; its first commit writes page 1.
    if header.is_empty() {
        return Ok(LibpodState::default());
    }
    let corrupt = |reason: &str| LibpodDbError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if !header.starts_with(b"SQLite format 3\0") {
        return Err(corrupt("not an SQLite file"));
    }
    // Bytes 18 and 19: the file format versions, 2 for WAL.
    if header.len() >= 20 && (header[18] == 2 || header[19] == 2) {
        return Err(corrupt(
            "in WAL mode, which podman never sets; not read, as reading would create a -shm file",
        ));
    }
    read_records(path, wait)
        .map_err(|e| sql_error(path, wait, e))??
        .into_state(path)
}

/// The first 100 bytes (SQLite's file header), fewer for a short file.
fn read_header(path: &Path) -> io::Result<Vec<u8>> {
    let mut header = Vec::with_capacity(100);
    File::open(path)?.take(100).read_to_end(&mut header)?;
    Ok(header)
}

/// Every record, read in one transaction. The outer error is SQLite's, the
/// inner one a database that is SQLite but not libpod's.
fn read_records(path: &Path, wait: Duration) -> rusqlite::Result<Result<Records, LibpodDbError>> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(wait)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
    let raw = records(&tx, path)?;
    // Read-only: ending it either way only releases the lock.
    tx.rollback()?;
    Ok(raw)
}

fn records(tx: &Transaction<'_>, path: &Path) -> rusqlite::Result<Result<Records, LibpodDbError>> {
    let corrupt = |reason: String| {
        Err(LibpodDbError::Corrupt {
            path: path.to_path_buf(),
            reason,
        })
    };

    let tables: Vec<String> = tx
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if tables.is_empty() {
        // Created, not yet initialised by podman (`initSQLiteDB`).
        return Ok(Ok(Records::default()));
    }
    if let Some(missing) = TABLES.iter().find(|t| !tables.iter().any(|n| n == *t)) {
        return Ok(corrupt(format!(
            "no table {missing}: not libpod's database"
        )));
    }

    let mut raw = Records::default();
    let dbconfig = tx
        .prepare(
            "SELECT SchemaVersion, StaticDir, GraphRoot, RunRoot, GraphDriver, VolumeDir \
             FROM DBConfig WHERE ID = 1",
        )?
        .query_map([], |r| {
            let path_at = |i| -> rusqlite::Result<Option<PathBuf>> {
                Ok(text(r, i)?.map(|b| PathBuf::from(OsStr::from_bytes(&b))))
            };
            Ok((
                r.get::<_, i64>(0)?,
                DbConfig {
                    static_dir: path_at(1)?,
                    graph_root: path_at(2)?,
                    run_root: path_at(3)?,
                    graph_driver: text(r, 4)?.map(|b| lossy(&b)),
                    volume_dir: path_at(5)?,
                },
            ))
        })?
        .next()
        .transpose()?;
    // podman writes this row in a transaction of its own, after creating
    // the tables: a database without it has no records either.
    if let Some((version, config)) = dbconfig {
        if version != SCHEMA_VERSION {
            return Ok(Err(LibpodDbError::Schema {
                path: path.to_path_buf(),
                version,
                known: SCHEMA_VERSION,
            }));
        }
        raw.config = config;
    }

    // libpod lists containers with an inner join; a container without a
    // state row (which its deferred foreign keys forbid) reads `unknown`
    // here rather than vanishing, as in bolt.
    let mut stmt = tx.prepare(
        "SELECT c.ID, c.JSON, s.JSON FROM ContainerConfig c \
         LEFT JOIN ContainerState s ON s.ID = c.ID ORDER BY c.ID",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id = lossy(&bytes(r, 0)?.unwrap_or_default());
        let Some(config) = bytes(r, 1)? else {
            return Ok(corrupt(format!("container {id:?} has no config")));
        };
        raw.containers.push((id, config, bytes(r, 2)?));
    }

    // The ContainerState `State` column is written once, at creation, and
    // never updated (`UpdateContainer` rewrites only `JSON`): the state is
    // read from the JSON, as for bolt.

    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stmt = tx.prepare("SELECT VolumeName, ContainerID FROM ContainerVolume")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let volume = lossy(&bytes(r, 0)?.unwrap_or_default());
        let ctr = lossy(&bytes(r, 1)?.unwrap_or_default());
        users.entry(volume).or_default().push(ctr);
    }
    let mut stmt = tx.prepare("SELECT Name, JSON FROM VolumeConfig ORDER BY Name")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let name = lossy(&bytes(r, 0)?.unwrap_or_default());
        let Some(config) = bytes(r, 1)? else {
            return Ok(corrupt(format!("volume {name:?} has no config")));
        };
        let deps = users.remove(&name).unwrap_or_default();
        raw.volumes.push((name, config, deps));
    }

    let mut stmt = tx.prepare("SELECT ID, JSON FROM PodConfig ORDER BY ID")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id = lossy(&bytes(r, 0)?.unwrap_or_default());
        let Some(config) = bytes(r, 1)? else {
            return Ok(corrupt(format!("pod {id:?} has no config")));
        };
        raw.pods.push((id, config));
    }
    Ok(Ok(raw))
}

/// A column as bytes: libpod binds its JSON as `[]byte`, which SQLite
/// stores as a BLOB despite the TEXT column; ids and names are TEXT.
fn bytes(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
    match row.get_ref(i)? {
        ValueRef::Text(b) | ValueRef::Blob(b) => Ok(Some(b.to_vec())),
        ValueRef::Null => Ok(None),
        other => Err(rusqlite::Error::InvalidColumnType(
            i,
            row.as_ref()
                .column_name(i)
                .map_or_else(|_| i.to_string(), str::to_string),
            other.data_type(),
        )),
    }
}

/// A DBConfig value; libpod writes "" for one it did not know.
fn text(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
    Ok(bytes(row, i)?.filter(|b| !b.is_empty()))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// SQLite's error, as one of ours. Every message is one line.
fn sql_error(path: &Path, wait: Duration, e: rusqlite::Error) -> LibpodDbError {
    let path = path.to_path_buf();
    let reason = e.to_string().replace(['\n', '\r'], " ");
    let extended = e.sqlite_error().map(|s| s.extended_code);
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            LibpodDbError::Locked { path, waited: wait }
        }
        Some(ErrorCode::ReadOnly) if extended == Some(rusqlite::ffi::SQLITE_READONLY_ROLLBACK) => {
            LibpodDbError::Corrupt {
                path,
                reason: "a podman that died mid-write left a journal to roll back; \
                         any podman command does it"
                    .into(),
            }
        }
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::SystemIoFailure
            | ErrorCode::OutOfMemory,
        ) => LibpodDbError::Io {
            path,
            source: io::Error::other(reason),
        },
        _ => LibpodDbError::Corrupt { path, reason },
    }
}

#[cfg(test)]
mod tests;
