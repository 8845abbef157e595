use super::*;
use crate::engine::libpod::DbVolume;
use std::time::Instant;

/// The DDL as podman 5.4.2 created it, recorded from a real `db.sql`.
const SCHEMA: &str = include_str!("../../../../fixtures/podman-5.4.2/db.sql.schema");

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
