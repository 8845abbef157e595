//! libpod's database read directly, checked against podman's own answers on
//! real stores built by `tests/scenarios/build.sh`. CI runs them with
//! `--include-ignored`; without podman they fail (the build script cannot
//! run), never skip.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use podman_storage::engine::libpod::{bolt as libpod_db, LibpodDbError, LibpodState};
use serde_json::Value;

/// A scenario store, destroyed on drop.
struct Store {
    dir: tempfile::TempDir,
    conf: PathBuf,
    /// Released after `drop` has destroyed the store.
    _turn: MutexGuard<'static, ()>,
}

impl Store {
    fn build(scenario: &str, env: &[(&str, &str)]) -> Store {
        let turn = crate::common::real_podman_turn();
        let dir = tempfile::Builder::new()
            .prefix("pslibpod-")
            .tempdir()
            .unwrap();
        // Made before building, so a half-built store is destroyed too.
        let store = Store {
            conf: dir.path().join("storage.conf"),
            dir,
            _turn: turn,
        };
        let out = Command::new("bash")
            .arg(root().join("tests/scenarios/build.sh"))
            .arg(scenario)
            .arg(store.dir.path())
            .envs(env.iter().copied())
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "building scenario {scenario} failed (is podman installed?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        store
    }

    fn db(&self) -> PathBuf {
        libpod_db::default_path(&self.dir.path().join("root"))
    }

    fn podman(&self, args: &[&str]) -> String {
        let out = self.podman_cmd(args).output().expect("podman runs");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn podman_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.args(args).env("CONTAINERS_STORAGE_CONF", &self.conf);
        cmd
    }

    fn json(&self, args: &[&str]) -> Vec<Value> {
        serde_json::from_str(&self.podman(args)).unwrap()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("tests/scenarios/destroy.sh"))
            .arg(self.dir.path())
            .status();
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
/// `dangling` filter) and pods (`pod ps`).
fn assert_matches_podman(store: &Store, state: &LibpodState) {
    let ps = store.json(&["ps", "-a", "--format", "json"]);
    let ids: Vec<String> = ps.iter().map(|c| str_of(&c["Id"])).collect();
    let mut named_volumes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if !ids.is_empty() {
        let mut args = vec!["container", "inspect", "--format", "json"];
        args.extend(ids.iter().map(String::as_str));
        for c in store.json(&args) {
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
        .json(&[
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
        .json(&["volume", "ls", "--format", "json"])
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
        let mounting: Vec<&str> = state
            .containers
            .iter()
            .filter(|c| c.volumes.contains(&v.name))
            .map(|c| c.id.as_str())
            .collect();
        let mut mounting = mounting;
        mounting.sort();
        assert_eq!(v.users, mounting, "users of volume {}", v.name);
    }

    let mut want: Vec<(String, String, BTreeMap<String, String>)> = store
        .json(&["pod", "ps", "--format", "json"])
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
}

#[test]
#[ignore = "needs podman"]
fn empty_store_reads_as_empty() {
    let store = Store::build("empty", &[]);
    let state = libpod_db::read(&store.db()).unwrap();
    assert_eq!(
        (
            state.containers.len(),
            state.volumes.len(),
            state.pods.len()
        ),
        (0, 0, 0)
    );
    // The database records the store it was made for.
    let root = store.dir.path().join("root");
    assert_eq!(state.config.graph_root.as_deref(), Some(root.as_path()));
    assert_eq!(state.config.graph_driver.as_deref(), Some("overlay"));
    assert_eq!(state.config.static_dir, Some(root.join("libpod")));
    assert_matches_podman(&store, &state);
}

#[test]
#[ignore = "needs podman"]
fn containers_in_every_state_with_a_pod_and_compose_labels() {
    let store = Store::build("base-derived", &[]);
    store.podman(&["pod", "create", "--name", "mypod", "--label", "team=a"]);
    store.podman(&[
        "create",
        "--pod",
        "mypod",
        "--name",
        "inpod",
        "localhost/base:1",
        "true",
    ]);
    store.podman(&[
        "create",
        "--name",
        "web",
        "--label",
        "com.docker.compose.project=x",
        "--label",
        "io.podman.compose.project=x",
        "localhost/app1:1",
        "true",
    ]);
    // By short name and by id: `ps` prints the resolved name for both.
    store.podman(&["create", "--name", "short", "base:1", "true"]);
    let id = store.podman(&["images", "-q", "localhost/app2:1"]);
    store.podman(&["create", "--name", "byid", id.trim(), "true"]);
    let state = libpod_db::read(&store.db()).unwrap();
    let states: BTreeSet<&str> = state.containers.iter().map(|c| c.state.as_str()).collect();
    assert_eq!(
        states,
        ["created", "exited", "running"].into(),
        "the scenario has all three"
    );
    assert!(state.containers.iter().any(|c| c.infra));
    let web = state.containers.iter().find(|c| c.name == "web").unwrap();
    assert_eq!(web.labels["com.docker.compose.project"], "x");
    assert_matches_podman(&store, &state);
}

#[test]
#[ignore = "needs podman"]
fn volumes_in_use_labelled_and_dangling() {
    let store = Store::build("volumes-dangling", &[]);
    let state = libpod_db::read(&store.db()).unwrap();
    let data = state.volumes.iter().find(|v| v.name == "data").unwrap();
    assert_eq!(data.labels["owner"], "team-a");
    assert_eq!(data.users.len(), 1);
    // `spare` was used by a `--rm` container: libpod 4 leaves its id in the
    // volume's dependencies, which must not count.
    let spare = state.volumes.iter().find(|v| v.name == "spare").unwrap();
    assert!(spare.users.is_empty(), "{spare:?}");
    assert_matches_podman(&store, &state);
}

/// 50 containers make libpod's buckets span branch pages and its configs
/// overflow pages: the parts of bbolt small stores never use.
#[test]
#[ignore = "needs podman"]
fn many_containers_across_branch_and_overflow_pages() {
    let store = Store::build("many", &[("IMAGES", "3"), ("CONTAINERS", "50")]);
    let state = libpod_db::read(&store.db()).unwrap();
    assert_eq!(state.containers.len(), 50);
    assert!(std::fs::metadata(store.db()).unwrap().len() > 64 * 4096);
    assert_matches_podman(&store, &state);
}

/// Reads while podman writes, on a store with a running container: every
/// read is one committed state. podman adds a container, its volume
/// dependency and (for the first) the volume in one transaction, so a read
/// mixing two transactions would show a container whose volume does not
/// list it. Also: the counts never go back, and podman never fails.
#[test]
#[ignore = "needs podman"]
fn reads_stay_consistent_while_podman_writes() {
    let store = Store::build("base-derived", &[]);
    let before = libpod_db::read(&store.db()).unwrap();
    assert!(before.containers.iter().any(|c| c.state == "running"));
    let creates = 12;
    let writer = {
        let conf = store.conf.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            for i in 0..creates {
                let name = format!("w{i}");
                let out = Command::new("podman")
                    .args(["create", "--name", &name, "-v", "shared:/d"])
                    .args(["localhost/base:1", "true"])
                    .env("CONTAINERS_STORAGE_CONF", &conf)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            start.elapsed()
        })
    };
    let mut seen = Vec::new();
    while !writer.is_finished() {
        let state = libpod_db::read(&store.db()).unwrap();
        for c in &state.containers {
            for name in &c.volumes {
                let v = state.volumes.iter().find(|v| &v.name == name);
                let listed = v.is_some_and(|v| v.users.contains(&c.id));
                assert!(listed, "{} uses {name}, which does not list it", c.name);
            }
        }
        seen.push(state.containers.len());
    }
    let took = writer.join().unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "counts went back: {seen:?}"
    );
    let after = libpod_db::read(&store.db()).unwrap();
    assert_eq!(after.containers.len(), before.containers.len() + creates);
    eprintln!(
        "{} reads during {creates} creates ({took:?}) saw counts {:?}",
        seen.len(),
        seen.iter().collect::<BTreeSet<_>>()
    );
    assert_matches_podman(&store, &after);
}

/// The premise of our locking: podman takes an exclusive flock on the
/// database for each state operation, so a shared lock held by a reader
/// keeps it out until released.
#[test]
#[ignore = "needs podman"]
fn podman_waits_for_a_shared_lock() {
    let store = Store::build("empty", &[]);
    let file = File::open(store.db()).unwrap();
    assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH) }, 0);
    let hold = Duration::from_millis(600);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(hold);
        drop(file);
    });
    let start = Instant::now();
    store.podman(&["ps", "-a"]);
    assert!(
        start.elapsed() >= hold,
        "podman ps ran in {:?} while the DB was share-locked",
        start.elapsed()
    );
    releaser.join().unwrap();
}

/// A damaged copy of a real database is an error (or, where the damage
/// misses every live page, a state), never a panic.
#[test]
#[ignore = "needs podman"]
fn damaged_copies_of_a_real_database_never_panic() {
    let store = Store::build("volumes-dangling", &[]);
    let real = std::fs::read(store.db()).unwrap();
    let good = libpod_db::read(&store.db()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("bolt_state.db");
    let read_copy = |bytes: &[u8]| -> Result<LibpodState, LibpodDbError> {
        std::fs::write(&copy, bytes).unwrap();
        libpod_db::read(&copy)
    };
    assert_eq!(read_copy(&real).unwrap(), good);

    // Truncated below a live page: an error naming the file.
    let live_end = real.len() / 2;
    for len in [100, 4096, 4096 * 2 + 10, live_end] {
        match read_copy(&real[..len]) {
            Err(e) => assert!(e.to_string().contains("bolt_state.db"), "{e}"),
            Ok(s) => assert!(len == live_end && s == good, "truncated to {len}: {s:?}"),
        }
    }
    assert!(read_copy(&real[..4096 * 2 + 10]).is_err());

    // Flipped bytes everywhere: count how often each outcome happens.
    let (mut errors, mut same, mut different) = (0, 0, 0);
    for at in (0..real.len()).step_by(61) {
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
