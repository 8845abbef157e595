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
mod tests {
    use super::*;
    use crate::engine::libpod::DbVolume;
    use std::time::Instant;

    /// The DDL as podman 5.4.2 created it, recorded from a real `db.sql`.
    const SCHEMA: &str = include_str!("../../../fixtures/podman-5.4.2/db.sql.schema");

    fn ctr_config(id: &str, name: &str, extra: &str) -> Vec<u8> {
        format!(
            r#"{{"id":"{id}","name":"{name}","rootfsImageID":"img-{id}","rootfsImageName":"localhost/x:1","RawImageName":"x:1","labels":{{"l":"{name}"}}{extra}}}"#
        )
        .into_bytes()
    }

    /// A database shaped like libpod's, its JSON bound as blobs the way
    /// go-sqlite3 binds `[]byte`. The `State` column says 1 (configured)
    /// everywhere, as libpod leaves it.
    fn libpod_like(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        // One transaction, as libpod's: its foreign keys are deferred.
        conn.execute_batch("BEGIN").unwrap();
        let exec = |sql: &str, params: &[&dyn rusqlite::ToSql]| {
            conn.execute(sql, params).unwrap();
        };
        exec(
            "INSERT INTO DBConfig VALUES (1, 1, 'linux', '/g/libpod', '/t', '/g', '/r', 'overlay', '/g/volumes')",
            &[],
        );
        exec("INSERT INTO IDNamespace VALUES ('p1')", &[]);
        exec(
            "INSERT INTO PodConfig VALUES ('p1', 'pod-one', ?1)",
            &[&br#"{"id":"p1","name":"pod-one","labels":{"k":"v"}}"#.to_vec()],
        );
        exec("INSERT INTO PodState VALUES ('p1', 'c2', '{}')", &[]);
        for (name, labels) in [("v1", r#"{"owner":"a"}"#), ("v2", "{}")] {
            let json = format!(
                r#"{{"name":"{name}","labels":{labels},"mountPoint":"/g/volumes/{name}/_data"}}"#
            );
            exec(
                "INSERT INTO VolumeConfig VALUES (?1, NULL, ?2)",
                &[&name, &json.into_bytes()],
            );
            exec("INSERT INTO VolumeState VALUES (?1, '{}')", &[&name]);
        }
        let ctr = |id: &str, name: &str, pod: Option<&str>, extra: &str, state: &str| {
            exec("INSERT INTO IDNamespace VALUES (?1)", &[&id]);
            exec(
                "INSERT INTO ContainerConfig VALUES (?1, ?2, ?3, ?4)",
                &[&id, &name, &pod, &ctr_config(id, name, extra)],
            );
            exec(
                "INSERT INTO ContainerState VALUES (?1, 1, NULL, ?2)",
                &[&id, &state.as_bytes().to_vec()],
            );
        };
        ctr(
            "c1",
            "one",
            None,
            r#","namedVolumes":[{"volumeName":"v1","dest":"/v"}]"#,
            r#"{"state":3}"#,
        );
        ctr(
            "c2",
            "two",
            Some("p1"),
            r#","pod":"p1","pause":true"#,
            r#"{"state":6}"#,
        );
        exec("INSERT INTO ContainerVolume VALUES ('c1', 'v1')", &[]);
        conn.execute_batch("COMMIT").unwrap();
    }

    fn db() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sql");
        libpod_like(&path);
        (dir, path)
    }

    fn assert_one_line_naming(err: &LibpodDbError, path: &Path) {
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg:?}");
    }

    #[test]
    fn reads_containers_volumes_pods_and_config() {
        let (_dir, path) = db();
        let state = read(&path).unwrap();
        let c1 = &state.containers[0];
        assert_eq!(
            (c1.id.as_str(), c1.name.as_str(), c1.state.as_str()),
            ("c1", "one", "running"),
            "the state comes from the JSON, not the stale State column"
        );
        assert_eq!(c1.image_id, "img-c1");
        assert_eq!(c1.image_name, "localhost/x:1");
        assert_eq!(c1.volumes, vec!["v1"]);
        let c2 = &state.containers[1];
        assert_eq!((c2.state.as_str(), c2.infra), ("exited", true));
        assert_eq!(c2.pod.as_deref(), Some("p1"));
        assert_eq!(
            state.volumes[0],
            DbVolume {
                created: None,
                name: "v1".into(),
                labels: [("owner".to_string(), "a".to_string())].into(),
                mountpoint: "/g/volumes/v1/_data".into(),
                users: vec!["c1".into()],
            }
        );
        assert!(state.volumes[1].users.is_empty());
        assert_eq!(state.pods.len(), 1);
        assert_eq!(state.pods[0].labels.get("k").map(String::as_str), Some("v"));
        assert_eq!(
            state.config,
            DbConfig {
                graph_root: Some("/g".into()),
                run_root: Some("/r".into()),
                graph_driver: Some("overlay".into()),
                volume_dir: Some("/g/volumes".into()),
                static_dir: Some("/g/libpod".into()),
            }
        );
    }

    #[test]
    fn missing_empty_and_uninitialised_files_are_empty_states() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(dir.path());
        assert_eq!(read(&path).unwrap(), LibpodState::default());
        std::fs::write(&path, b"").unwrap();
        assert_eq!(read(&path).unwrap(), LibpodState::default());
        std::fs::remove_file(&path).unwrap();
        // Tables created, no DBConfig row yet.
        Connection::open(&path)
            .unwrap()
            .execute_batch(SCHEMA)
            .unwrap();
        assert_eq!(read(&path).unwrap(), LibpodState::default());
    }

    #[test]
    fn other_files_are_one_line_errors_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sql");
        std::fs::write(&path, vec![0x5a; 16384]).unwrap();
        let err = read(&path).unwrap_err();
        assert!(matches!(err, LibpodDbError::Corrupt { .. }), "{err}");
        assert_one_line_naming(&err, &path);

        std::fs::remove_file(&path).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE DBConfig(ID INTEGER); CREATE TABLE Other(x);")
            .unwrap();
        let err = read(&path).unwrap_err();
        assert!(
            err.to_string().contains("no table ContainerConfig"),
            "{err}"
        );
        assert_one_line_naming(&err, &path);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let (_dir, path) = db();
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE DBConfig SET SchemaVersion = 2", [])
            .unwrap();
        let err = read(&path).unwrap_err();
        assert!(
            matches!(err, LibpodDbError::Schema { version: 2, .. }),
            "{err}"
        );
    }

    fn listing(dir: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
        let mut out: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    m.len(),
                    m.modified().unwrap(),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn reading_leaves_no_trace() {
        let (dir, path) = db();
        let (before, bytes) = (listing(dir.path()), std::fs::read(&path).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        read(&path).unwrap();
        assert_eq!(listing(dir.path()), before);
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn a_wal_database_is_refused_untouched() {
        let (dir, path) = db();
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        drop(conn);
        let before = listing(dir.path());
        let err = read(&path).unwrap_err();
        assert!(err.to_string().contains("WAL"), "{err}");
        assert_eq!(listing(dir.path()), before);
    }

    #[test]
    fn waits_for_a_writer_to_commit() {
        let (_dir, path) = db();
        let writer = Connection::open(&path).unwrap();
        writer.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let hold = Duration::from_millis(300);
        let start = Instant::now();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(hold);
            writer.execute_batch("COMMIT").unwrap();
        });
        let state = read(&path).unwrap();
        assert!(
            start.elapsed() >= hold,
            "read while the writer held the lock"
        );
        assert_eq!(state.containers.len(), 2);
        releaser.join().unwrap();
    }

    #[test]
    fn a_writer_that_never_commits_is_an_error_in_bounded_time() {
        let (_dir, path) = db();
        let writer = Connection::open(&path).unwrap();
        writer.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let start = Instant::now();
        let err = read_waiting(&path, Duration::from_millis(200)).unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert!(matches!(err, LibpodDbError::Locked { .. }), "{err}");
        assert_one_line_naming(&err, &path);
    }

    /// Truncated and damaged copies: an error or a state, never a panic.
    #[test]
    fn damaged_databases_never_panic() {
        let (dir, path) = db();
        let good = std::fs::read(&path).unwrap();
        let copy = dir.path().join("copy.sql");
        let errors = std::cell::Cell::new(0);
        let check = |bytes: &[u8]| {
            std::fs::write(&copy, bytes).unwrap();
            if let Err(e) = read(&copy) {
                assert_one_line_naming(&e, &copy);
                errors.set(errors.get() + 1);
            }
        };
        for len in (0..good.len()).step_by(509) {
            check(&good[..len]);
        }
        let mut state = 0x9e37_79b9_u32;
        for _ in 0..300 {
            let mut bytes = good.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let at = state as usize % bytes.len();
                bytes[at] ^= (state >> 24) as u8 | 1;
            }
            check(&bytes);
        }
        assert!(errors.get() > 0, "the damage reaches the reader");
    }
}
