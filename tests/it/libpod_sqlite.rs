//! libpod's SQLite database read directly, checked against podman 5's own
//! answers on real stores built by `tests/scenarios/podman5-store.sh` in the
//! podman 5 chroot (`tests/scenarios/podman5.sh`). CI runs them with
//! `--include-ignored`; without the chroot they fail, never skip.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::MutexGuard;
use std::time::{Duration, Instant, SystemTime};

use podman_storage::engine::libpod::{sqlite, LibpodDbError, LibpodState};
use serde_json::Value;

/// The chroot's root as seen from the host.
const TREE: &str = "/var/cache/podman-storage/root5";

/// A store in the chroot, destroyed on drop.
struct Store {
    /// Its directory as podman sees it, inside the chroot.
    inner: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl Store {
    fn build(env: &[&str]) -> Store {
        let turn = crate::common::real_podman_turn();
        // Not under /tmp: the chroot's /tmp is shared with other suites
        // that clean it.
        let host = tempfile::Builder::new()
            .prefix("pslibpod-sqlite-")
            .tempdir_in(Path::new(TREE).join("var/tmp"))
            .expect("the podman 5 chroot exists (tests/scenarios/podman5.sh setup)")
            .keep();
        let store = Store {
            inner: Path::new("/").join(host.strip_prefix(TREE).unwrap()),
            _turn: turn,
        };
        std::fs::copy(
            root().join("tests/scenarios/podman5-store.sh"),
            host.join("podman5-store.sh"),
        )
        .unwrap();
        let mut args: Vec<String> = env.iter().map(|e| e.to_string()).collect();
        args.extend(["bash".into(), store.script(), "build".into(), store.dir()]);
        let out = chroot(&args);
        assert!(
            out.status.success(),
            "building the store failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        store
    }

    fn dir(&self) -> String {
        self.inner.display().to_string()
    }

    fn script(&self) -> String {
        self.inner.join("podman5-store.sh").display().to_string()
    }

    /// A path inside the chroot, from the host.
    fn host(&self, inner: &Path) -> PathBuf {
        Path::new(TREE).join(inner.strip_prefix("/").unwrap())
    }

    fn podman(&self, args: &[&str]) -> String {
        let mut all = vec![
            format!("CONTAINERS_STORAGE_CONF={}/storage.conf", self.dir()),
            format!("CONTAINERS_CONF={}/containers.conf", self.dir()),
            "podman".into(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        let out = chroot(&all);
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json<T: serde::de::DeserializeOwned>(&self, args: &[&str]) -> T {
        serde_json::from_str(&self.podman(args)).unwrap()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = chroot(&["bash".into(), self.script(), "destroy".into(), self.dir()]);
    }
}

fn chroot(args: &[String]) -> std::process::Output {
    Command::new("bash")
        .arg(podman5_sh())
        .arg("root")
        .args(args)
        .output()
        .expect("bash runs")
}

/// podman5.sh: beside this file, or in the infra worktree before it is
/// merged.
fn podman5_sh() -> PathBuf {
    let here = root().join("tests/scenarios/podman5.sh");
    if here.exists() {
        here
    } else {
        PathBuf::from("tests/scenarios/podman5.sh")
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// One container as both sides describe it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ctr {
    id: String,
    name: String,
    state: String,
    image_id: String,
    image: String,
    labels: BTreeMap<String, String>,
    pod: Option<String>,
    infra: bool,
    volumes: Vec<String>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Vol {
    name: String,
    labels: BTreeMap<String, String>,
    mountpoint: String,
    in_use: bool,
}

/// Asserts the database says exactly what podman says: containers (`ps -a`,
/// named volumes from `inspect`), volumes (`volume ls`, in-use from the
/// `dangling` filter), pods (`pod ps`, with their infra containers) and the
/// store's paths (`info`).
fn assert_matches_podman(store: &Store, state: &LibpodState) {
    let ps: Vec<Value> = store.json(&["ps", "-a", "--format", "json"]);
    let mut args = vec!["container", "inspect", "--format", "json"];
    let ids: Vec<String> = ps.iter().map(|c| str_of(&c["Id"])).collect();
    args.extend(ids.iter().map(String::as_str));
    let mut named_volumes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in store.json::<Vec<Value>>(&args) {
        let mut vols: Vec<String> = c["Mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["Type"] == "volume")
            .map(|m| str_of(&m["Name"]))
            .collect();
        vols.sort();
        named_volumes.insert(str_of(&c["Id"]), vols);
    }
    let mut want: Vec<Ctr> = ps
        .iter()
        .map(|c| Ctr {
            id: str_of(&c["Id"]),
            name: str_of(&c["Names"][0]),
            state: str_of(&c["State"]),
            image_id: str_of(&c["ImageID"]),
            image: str_of(&c["Image"]),
            labels: labels(&c["Labels"]),
            pod: Some(str_of(&c["Pod"])).filter(|p| !p.is_empty()),
            infra: c["IsInfra"].as_bool().unwrap(),
            volumes: named_volumes[&str_of(&c["Id"])].clone(),
        })
        .collect();
    let mut got: Vec<Ctr> = state
        .containers
        .iter()
        .map(|c| Ctr {
            id: c.id.clone(),
            name: c.name.clone(),
            state: c.state.clone(),
            image_id: c.image_id.clone(),
            image: c.image_name.clone(),
            labels: c.labels.clone(),
            pod: c.pod.clone(),
            infra: c.infra,
            volumes: c.volumes.clone(),
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "containers");

    let dangling: BTreeSet<String> = store
        .json::<Vec<Value>>(&[
            "volume",
            "ls",
            "--filter",
            "dangling=true",
            "--format",
            "json",
        ])
        .iter()
        .map(|v| str_of(&v["Name"]))
        .collect();
    let mut want: Vec<Vol> = store
        .json::<Vec<Value>>(&["volume", "ls", "--format", "json"])
        .iter()
        .map(|v| Vol {
            name: str_of(&v["Name"]),
            labels: labels(&v["Labels"]),
            mountpoint: str_of(&v["Mountpoint"]),
            in_use: !dangling.contains(&str_of(&v["Name"])),
        })
        .collect();
    let mut got: Vec<Vol> = state
        .volumes
        .iter()
        .map(|v| Vol {
            name: v.name.clone(),
            labels: v.labels.clone(),
            mountpoint: v.mountpoint.clone(),
            in_use: !v.users.is_empty(),
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "volumes");
    // Users are exactly the containers that mount the volume.
    for v in &state.volumes {
        let mut mounting: Vec<&str> = state
            .containers
            .iter()
            .filter(|c| c.volumes.contains(&v.name))
            .map(|c| c.id.as_str())
            .collect();
        mounting.sort();
        assert_eq!(v.users, mounting, "users of volume {}", v.name);
    }

    let pods: Vec<Value> = store.json(&["pod", "ps", "--format", "json"]);
    let mut want: Vec<_> = pods
        .iter()
        .map(|p| (str_of(&p["Id"]), str_of(&p["Name"]), labels(&p["Labels"])))
        .collect();
    let mut got: Vec<_> = state
        .pods
        .iter()
        .map(|p| (p.id.clone(), p.name.clone(), p.labels.clone()))
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "pods");
    let want: BTreeSet<String> = pods
        .iter()
        .map(|p| str_of(&p["InfraId"]))
        .filter(|i| !i.is_empty())
        .collect();
    let got: BTreeSet<String> = state
        .containers
        .iter()
        .filter(|c| c.infra)
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(got, want, "infra containers");

    let info: Value = store.json(&["info", "--format", "json"]);
    let s = &info["store"];
    let c = &state.config;
    let path = |v: &Value| Some(PathBuf::from(str_of(v)));
    assert_eq!(c.graph_root, path(&s["graphRoot"]), "graph root");
    assert_eq!(c.run_root, path(&s["runRoot"]), "run root");
    assert_eq!(
        c.graph_driver,
        Some(str_of(&s["graphDriverName"])),
        "driver"
    );
    assert_eq!(c.volume_dir, path(&s["volumePath"]), "volume path");
}

fn listing(dir: &Path) -> Vec<(String, u64, SystemTime)> {
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
#[ignore = "needs root and the podman 5 chroot (tests/scenarios/podman5.sh)"]
fn sqlite_state_matches_podman() {
    let store = Store::build(&[]);
    let graphroot = store.inner.join("root");
    let db = store.host(&sqlite::default_path(&graphroot));
    // With no static_dir, db.sql sits in the graphroot itself and no bolt
    // database exists.
    assert!(db.exists(), "{}", db.display());
    assert!(!store.host(&graphroot.join("libpod/db.sql")).exists());
    assert!(!store.host(&graphroot.join("libpod/bolt_state.db")).exists());

    let dir = db.parent().unwrap();
    let (before, bytes) = (listing(dir), std::fs::read(&db).unwrap());
    let state = sqlite::read(&db).unwrap();
    assert_eq!(listing(dir), before, "reading created or changed a file");
    assert_eq!(std::fs::read(&db).unwrap(), bytes);

    let by_name = |n: &str| state.containers.iter().find(|c| c.name == n).unwrap();
    let states: BTreeMap<&str, &str> = ["idle", "done", "busy", "anon", "inpod"]
        .into_iter()
        .map(|n| (n, by_name(n).state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            ("anon", "created"),
            ("busy", "running"),
            ("done", "exited"),
            ("idle", "created"),
            ("inpod", "created"),
        ]
        .into(),
        "the scenario has every state"
    );
    assert_eq!(by_name("done").volumes, ["data", "shared"]);
    assert_eq!(state.pods.len(), 2);
    let vol = |n: &str| state.volumes.iter().find(|v| v.name == n).unwrap();
    assert_eq!(vol("data").users.len(), 2);
    assert!(vol("once").users.is_empty(), "the --rm container is gone");
    assert!(vol("spare").users.is_empty());
    assert_eq!(state.volumes.len(), 5, "four named and one anonymous");
    assert_eq!(
        state.config.static_dir,
        Some(graphroot.join("libpod")),
        "static_dir defaults to <graphroot>/libpod"
    );
    assert_matches_podman(&store, &state);
}

/// `static_dir` set in containers.conf moves db.sql there (`sqliteStatePath`).
#[test]
#[ignore = "needs root and the podman 5 chroot (tests/scenarios/podman5.sh)"]
fn static_dir_moves_the_database() {
    let store = Store::build(&["STATIC_DIR=1"]);
    let static_dir = store.inner.join("static");
    assert!(!store.host(&store.inner.join("root/db.sql")).exists());
    let state = sqlite::read(&store.host(&static_dir.join("db.sql"))).unwrap();
    assert_eq!(state.config.static_dir, Some(static_dir));
    assert_eq!(state.containers.len(), 6);
    assert_matches_podman(&store, &state);
}

/// A writer holding podman's kind of transaction (`BEGIN EXCLUSIVE`) on a
/// copy of a real database: the read waits for its commit; one that never
/// commits is an error after the bounded wait, never a hang.
#[test]
#[ignore = "needs root and the podman 5 chroot (tests/scenarios/podman5.sh)"]
fn a_writer_holding_the_database_delays_or_fails_the_read() {
    let store = Store::build(&[]);
    let db = store.host(&sqlite::default_path(&store.inner.join("root")));
    let good = sqlite::read(&db).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("db.sql");
    std::fs::copy(&db, &copy).unwrap();
    assert_eq!(sqlite::read(&copy).unwrap(), good);

    let writer = rusqlite::Connection::open(&copy).unwrap();
    writer.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let hold = Duration::from_millis(800);
    let start = Instant::now();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(hold);
        writer.execute_batch("COMMIT").unwrap();
        writer
    });
    assert_eq!(sqlite::read(&copy).unwrap(), good);
    assert!(
        start.elapsed() >= hold,
        "read inside the writer's transaction"
    );
    let writer = releaser.join().unwrap();

    writer.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let start = Instant::now();
    let err = sqlite::read(&copy).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, LibpodDbError::Locked { .. }), "{err}");
    assert!(took >= sqlite::BUSY_WAIT, "{took:?}");
    assert!(
        took < sqlite::BUSY_WAIT + Duration::from_secs(2),
        "{took:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&copy.display().to_string()) && !msg.contains('\n'),
        "{msg}"
    );
}

/// Copies of the real database, truncated or with bytes flipped: an error
/// naming the file (or, where the damage misses every live page, a state),
/// never a panic. Also: a file that is not SQLite at all.
#[test]
#[ignore = "needs root and the podman 5 chroot (tests/scenarios/podman5.sh)"]
fn damaged_copies_of_a_real_database_never_panic() {
    let store = Store::build(&[]);
    let db = store.host(&sqlite::default_path(&store.inner.join("root")));
    let real = std::fs::read(&db).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("db.sql");
    let read_copy = |bytes: &[u8]| {
        std::fs::write(&copy, bytes).unwrap();
        let r = sqlite::read(&copy);
        if let Err(e) = &r {
            let msg = e.to_string();
            assert!(msg.contains("db.sql") && !msg.contains('\n'), "{msg}");
        }
        r
    };
    let good = read_copy(&real).unwrap();
    let err = read_copy(b"{\"not\": \"sqlite\"}").unwrap_err();
    assert!(matches!(err, LibpodDbError::Corrupt { .. }), "{err}");
    assert!(read_copy(&real[..4096 * 3]).is_err(), "a cut-off database");

    let (mut errors, mut same, mut different) = (0, 0, 0);
    for at in (0..real.len()).step_by(97) {
        let mut bytes = real.clone();
        bytes[at] ^= 0xa5;
        match read_copy(&bytes) {
            Err(_) => errors += 1,
            Ok(s) if s == good => same += 1,
            Ok(_) => different += 1,
        }
    }
    eprintln!("flips: {errors} errors, {same} unchanged, {different} changed values");
    assert!(errors > 0, "no flip was detected as damage");
}
