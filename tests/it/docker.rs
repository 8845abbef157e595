//! Real-docker tests of the docker engine: the docker CLI against podman's
//! Docker API and against a real Docker Engine started for the test, checked
//! against podman's own figures, the truth on disk and dockerd's own API.
//! CI runs them with `--include-ignored`; without docker (client, daemon,
//! curl) they fail, never skip.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{file_bytes, root, within, Store};
use podman_storage::account;
use podman_storage::engine::docker::Docker;
use podman_storage::engine::Inventory;
use podman_storage::engine::{Collected, Needs};
use podman_storage::runner::Runner;
use podman_storage::size;
use podman_storage::Warnings;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs a command to success and returns its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} could not start (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn docker_cmd(sock: &str, args: &[&str]) -> Command {
    let mut c = Command::new("docker");
    c.args(["-H", sock]).args(args);
    c
}

/// Waits, bounded, until `ready` says yes.
fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "{what} not ready after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops a daemon we started: SIGTERM so it cleans up (dockerd stops its
/// containerd), then SIGKILL if it does not exit in time.
fn stop(child: &mut Child, grace: Duration) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn collect(docker: &Docker) -> (Collected, Vec<String>) {
    let w = Warnings::new();
    let mut c = docker.collect(Needs::all(), &w);
    c.inventory.sort();
    (c, w.to_vec())
}

fn json_of(inv: &Inventory) -> Value {
    serde_json::to_value(inv).unwrap()
}

/// `podman system service` serving the Docker API for a scenario store.
struct PodmanService {
    child: Child,
    sock: String,
}

impl PodmanService {
    fn start(store: &Store) -> Self {
        let path = store.dir.path().join("docker.sock");
        let sock = format!("unix://{}", path.display());
        let child = store
            .env(Command::new("podman").args(["system", "service", "--time=0", &sock]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman system service starts (is podman installed?)");
        let svc = PodmanService { child, sock };
        wait_for(
            "podman's Docker API socket",
            Duration::from_secs(30),
            || path.exists(),
        );
        svc
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        stop(&mut self.child, Duration::from_secs(10));
    }
}

#[test]
#[ignore = "needs docker"]
fn against_podmans_docker_api_matches_podmans_own_figures() {
    let store = Store::build("base-derived");
    store.podman(&[
        "volume",
        "create",
        "--label",
        "com.docker.compose.project=shop",
        "vol1",
    ]);
    store.podman(&[
        "run",
        "--network",
        "none",
        "-v",
        "vol1:/v",
        "localhost/base:1",
        "sh",
        "-c",
        "head -c 300000 /dev/urandom > /v/x",
    ]);
    store.podman(&["volume", "create", "unused"]);
    let mut service = Some(PodmanService::start(&store));
    let sock = service.as_ref().unwrap().sock.clone();

    // Recorded, so the same run can be replayed below with no daemon.
    let fixtures = tempfile::tempdir().unwrap();
    let docker = Docker::new(
        Runner::record(fixtures.path(), TIMEOUT).unwrap(),
        "docker",
        Some(&sock),
        None,
    );
    let (c, warnings) = collect(&docker);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(c.reachable && !c.approximate_layers);
    let inv = &c.inventory;
    // For the record, not relied on: docker's own `system df` on this socket.
    let cli_df = run(&mut docker_cmd(
        &sock,
        &["system", "df", "--format", "{{json .}}"],
    ));
    eprintln!(
        "docker system df via podman's API: {}",
        cli_df.trim().replace('\n', " | ")
    );

    // Images: the same ids (docker prints them with `sha256:`) and sizes.
    let podman_images: Value =
        serde_json::from_str(&store.podman(&["images", "-a", "--format", "json"])).unwrap();
    let podman_sizes: BTreeMap<String, u64> = podman_images
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["Id"].as_str().unwrap().to_string(),
                i["Size"].as_u64().unwrap(),
            )
        })
        .collect();
    let ours: BTreeMap<String, u64> = inv.images.iter().map(|i| (i.id.clone(), i.size)).collect();
    assert_eq!(ours, podman_sizes);

    // Total unique layer bytes: the same as the podman engine's on this store.
    let total = account::images(inv).total_bytes;
    let df = store.json(&["df"]);
    let podman_total = df["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "images")
        .unwrap()["bytes"]
        .as_u64()
        .unwrap();
    eprintln!("images via podman's Docker API: {total} B; via podman: {podman_total} B");
    assert!(
        within(total, podman_total, 1.0),
        "{total} vs {podman_total}"
    );

    // Containers: whole names (docker's `system df` cuts them here) and the
    // same writable-layer bytes as `podman ps --size`.
    let podman_ps: Value =
        serde_json::from_str(&store.podman(&["ps", "-a", "--size", "--format", "json"])).unwrap();
    let podman_ctrs: BTreeMap<String, (String, u64)> = podman_ps
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["Id"].as_str().unwrap().to_string(),
                (
                    c["Names"][0].as_str().unwrap().to_string(),
                    c["Size"]["rwSize"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    let our_ctrs: BTreeMap<String, (String, u64)> = inv
        .containers
        .iter()
        .map(|c| (c.id.clone(), (c.name.clone(), c.rw_bytes.unwrap())))
        .collect();
    assert_eq!(our_ctrs, podman_ctrs);
    let written = inv.containers.iter().find(|c| c.name == "written").unwrap();
    let app1 = inv
        .images
        .iter()
        .find(|i| i.names == ["localhost/app1:1"])
        .unwrap();
    assert_eq!(written.image_id, app1.id);

    // Volumes: in use or not as podman says, labels, size near the bytes written.
    let dangling = store.podman(&[
        "volume",
        "ls",
        "--filter",
        "dangling=true",
        "--format",
        "{{.Name}}",
    ]);
    assert_eq!(dangling, "unused");
    let vols: BTreeMap<&str, _> = inv.volumes.iter().map(|v| (v.name.as_str(), v)).collect();
    assert_eq!(vols.keys().copied().collect::<Vec<_>>(), ["unused", "vol1"]);
    assert!(vols["vol1"].in_use && !vols["unused"].in_use);
    assert_eq!(vols["vol1"].labels["com.docker.compose.project"], "shop");
    let truth = file_bytes(Path::new(&vols["vol1"].mountpoint));
    assert!(vols["vol1"].approximate);
    assert!(within(vols["vol1"].bytes.unwrap(), truth, 1.0));

    // Replay the recording with the daemon gone: the same inventory, and no
    // command runs (the binary does not even exist).
    drop(service.take());
    let replay = Docker::new(
        Runner::replay(fixtures.path()).unwrap(),
        "/nonexistent/docker",
        Some(&sock),
        None,
    );
    let (again, warnings) = collect(&replay);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(json_of(&again.inventory), json_of(inv));
}

/// A Docker Engine of our own, in a temp dir, stopped on drop.
struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
    sock: String,
}

impl Dockerd {
    fn start() -> Self {
        // Short path: containerd's socket lives under the exec root and unix
        // socket paths are limited to 108 bytes.
        let dir = tempfile::Builder::new().prefix("dk-").tempdir().unwrap();
        let d = dir.path();
        let sock = format!("unix://{}/d.sock", d.display());
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("d.pid"))
            .args(["-H", &sock])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd starts (apt-get install -y docker.io)");
        let dockerd = Dockerd { child, dir, sock };
        wait_for("dockerd", Duration::from_secs(60), || {
            docker_cmd(&dockerd.sock, &["version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        dockerd
    }

    fn docker(&self, args: &[&str]) -> String {
        run(&mut docker_cmd(&self.sock, args))
    }

    fn inspect(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.docker(args)).unwrap()
    }

    /// The engine API's own figures.
    fn system_df(&self) -> Value {
        let path = self.dir.path().join("d.sock");
        let out = run(Command::new("curl").args([
            "-sS",
            "--unix-socket",
            path.to_str().unwrap(),
            "http://localhost/system/df",
        ]));
        serde_json::from_str(&out).unwrap()
    }

    /// A layer stack's diff dirs, from the overlay2 driver's data.
    fn layer_dirs(&self, kind: &str, name: &str) -> Vec<PathBuf> {
        let v = self.inspect(&[kind, "inspect", name]);
        let data = &v[0]["GraphDriver"]["Data"];
        let mut dirs = vec![PathBuf::from(data["UpperDir"].as_str().unwrap())];
        if let Some(lower) = data["LowerDir"].as_str() {
            dirs.extend(lower.split(':').map(PathBuf::from));
        }
        dirs
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = docker_cmd(
            &self.sock,
            &["rm", "-f", "-v", "running", "written", "idle"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
        stop(&mut self.child, Duration::from_secs(30));
        // Whatever the daemon left mounted below our dir, deepest first.
        let prefix = self.dir.path().to_str().unwrap().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in ours {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
    }
}

#[test]
#[ignore = "needs docker"]
fn against_a_real_docker_engine_matches_the_truth_on_disk() {
    let d = Dockerd::start();
    let script = root().join("tests/scenarios/docker.sh");
    run(Command::new("bash")
        .arg(&script)
        .arg(d.dir.path().join("scenario"))
        .env("DOCKER_HOST", &d.sock));

    let docker = Docker::new(Runner::live(TIMEOUT), "docker", Some(&d.sock), None);
    let started = Instant::now();
    let (c, warnings) = collect(&docker);
    eprintln!("collect (all needs): {:?}", started.elapsed());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(c.reachable && !c.approximate_layers);
    let inv = &c.inventory;
    let report = account::images(inv);

    // Per image, unique and shared bytes against the overlay2 diff dirs:
    // a dir is unique to an image when no other named image stacks it.
    let named = ["local/base:1", "local/app1:1", "local/app2:1"];
    let dirs: BTreeMap<&str, Vec<PathBuf>> = named
        .iter()
        .map(|n| (*n, d.layer_dirs("image", n)))
        .collect();
    let mut users: BTreeMap<&PathBuf, usize> = BTreeMap::new();
    for ds in dirs.values() {
        for dir in ds {
            *users.entry(dir).or_default() += 1;
        }
    }
    let bytes: BTreeMap<&PathBuf, u64> = users.keys().map(|p| (*p, file_bytes(p))).collect();
    for n in named {
        let usage = report
            .images
            .iter()
            .find(|i| i.names == [n])
            .unwrap_or_else(|| panic!("{n} not found"));
        let unique: u64 = dirs[n]
            .iter()
            .filter(|p| users[p] == 1)
            .map(|p| bytes[p])
            .sum();
        let shared: u64 = dirs[n]
            .iter()
            .filter(|p| users[p] > 1)
            .map(|p| bytes[p])
            .sum();
        eprintln!(
            "{n}: unique ours {} truth {unique}; shared ours {} truth {shared}",
            usage.unique_bytes, usage.shared_bytes
        );
        assert!(within(usage.unique_bytes, unique, 1.0), "{n} unique");
        assert!(within(usage.shared_bytes, shared, 1.0), "{n} shared");
    }
    assert_eq!(report.images.len(), 4, "three images and one intermediate");
    assert!(report.images.iter().any(|i| i.intermediate));

    // All image bytes: the diff dirs on disk and dockerd's own LayersSize.
    let truth: u64 = bytes.values().sum();
    let api = d.system_df();
    let layers_size = api["LayersSize"].as_u64().unwrap();
    let cli_df = d.docker(&["system", "df", "--format", "{{json .}}"]);
    let cli_images: Value =
        serde_json::from_str(cli_df.lines().find(|l| l.contains("\"Images\"")).unwrap()).unwrap();
    eprintln!(
        "images: ours {} B, files in diff dirs {truth} B, /system/df LayersSize {layers_size} B, \
         docker system df {}",
        report.total_bytes, cli_images["Size"]
    );
    assert!(within(report.total_bytes, truth, 1.0));
    // Both are dockerd's layer sizes (files and symlinks; `find -type f`
    // misses the 7 bytes of /bin/sh -> busybox): equal, not merely close.
    assert_eq!(report.total_bytes, layers_size);

    // Writable layers: the containers' upper dirs, and dockerd's SizeRw.
    let api_rw: BTreeMap<String, u64> = api["Containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["Id"].as_str().unwrap().to_string(),
                c["SizeRw"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    for (name, written) in [("written", 500_000), ("running", 700_000), ("idle", 0)] {
        let c = inv.containers.iter().find(|c| c.name == name).unwrap();
        let upper = &d.layer_dirs("container", name)[0];
        let rw = c.rw_bytes.unwrap();
        assert!(within(rw, file_bytes(upper), 1.0), "{name}: {rw}");
        assert!(within(rw, written, 1.0), "{name}: {rw}");
        assert_eq!(rw, api_rw[&c.id], "{name} vs /system/df");
    }

    // Labels exactly as set, comma and all; compose projects come through.
    let written = inv.containers.iter().find(|c| c.name == "written").unwrap();
    assert_eq!(written.labels["com.docker.compose.project"], "shop");
    assert_eq!(written.labels["weird"], "a,b=c");
    assert_eq!(written.state.as_str(), "exited");
    let base = inv
        .images
        .iter()
        .find(|i| i.names == ["local/base:1"])
        .unwrap();
    assert_eq!(written.image_id, base.id);

    // Volumes: in use or not, labels, size against the bytes in the mountpoint.
    let vols: BTreeMap<&str, _> = inv.volumes.iter().map(|v| (v.name.as_str(), v)).collect();
    assert_eq!(vols.keys().copied().collect::<Vec<_>>(), ["data", "spare"]);
    assert!(vols["data"].in_use && !vols["spare"].in_use);
    assert_eq!(vols["data"].labels["owner"], "team-a");
    let truth = file_bytes(Path::new(&vols["data"].mountpoint));
    assert_eq!(truth, 1_200_000);
    assert!(within(vols["data"].bytes.unwrap(), truth, 1.0));
    assert_eq!(vols["spare"].bytes, Some(0));

    // Reclaimable: the only image in use (base) shares all its layers.
    // `docker system df` says every image byte is reclaimable (it counts an
    // in-use image's *unique* bytes as used, and base has none); pruning
    // really frees only app1's and app2's own layers. Ours is checked
    // against what `docker image prune -a` then frees.
    let ours = account::images_reclaimable(inv);
    let df = d.docker(&["system", "df", "--format", "{{json .}}"]);
    let line: Value =
        serde_json::from_str(df.lines().find(|l| l.contains("\"Images\"")).unwrap()).unwrap();
    let theirs = size::parse_annotated(line["Reclaimable"].as_str().unwrap()).unwrap();
    d.docker(&["image", "prune", "-a", "-f"]);
    let after = d.system_df()["LayersSize"].as_u64().unwrap();
    let freed = layers_size - after;
    eprintln!(
        "images reclaimable: ours {ours} B, docker system df {:?} {:?}%, really freed by prune -a {freed} B",
        theirs.size, theirs.percent
    );
    assert!(within(ours, freed, 1.0), "ours {ours} vs freed {freed}");
    assert_eq!(theirs.percent, Some(100.0), "docker's own figure changed");
    let theirs = theirs.size.bytes().unwrap();
    assert!(theirs > freed * 2, "docker {theirs} vs freed {freed}");

    let remaining: BTreeSet<String> = d
        .docker(&["images", "-q", "--no-trunc"])
        .lines()
        .map(|l| l.trim_start_matches("sha256:").to_string())
        .collect();
    assert_eq!(remaining, BTreeSet::from([base.id.clone()]));
}

#[test]
#[ignore = "needs docker"]
fn unreachable_daemon_is_one_line_naming_the_socket() {
    let docker = Docker::new(
        Runner::live(TIMEOUT),
        "docker",
        Some("unix:///nonexistent.sock"),
        None,
    );
    let (c, warnings) = collect(&docker);
    eprintln!("{warnings:?}");
    assert!(!c.reachable);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("the docker daemon at unix:///nonexistent.sock is unreachable"),
        "{}",
        warnings[0]
    );
}

/// `docker compose build` without `up` on a real Docker Engine: an image
/// labelled with a compose project that has no container (built here with
/// the labels compose puts on it). It owns its layer as `(orphans)`, also
/// where the legacy builder's nameless step image holds the same layer
/// (it went to `(global)` before), and the base it shares with project
/// `shop`'s image is `(shared)` (it went wholly to `shop` before).
#[test]
#[ignore = "needs docker"]
fn an_orphan_compose_image_owns_its_layer_and_shares_the_base() {
    let d = Dockerd::start();
    run(Command::new("bash")
        .arg(root().join("tests/scenarios/docker.sh"))
        .arg(d.dir.path().join("scenario"))
        .env("DOCKER_HOST", &d.sock));
    let ctx = d.dir.path().join("gone");
    std::fs::create_dir_all(&ctx).unwrap();
    let data: Vec<u8> = (0..2_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(ctx.join("data"), data).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM local/base:1\nCOPY data /gone-data\nLABEL step=last\n",
    )
    .unwrap();
    run(docker_cmd(
        &d.sock,
        &[
            "build",
            "-q",
            "--label",
            "com.docker.compose.project=gone",
            "--label",
            "com.docker.compose.service=web",
            "-t",
            "gone-web:latest",
            ctx.to_str().unwrap(),
        ],
    )
    .env("DOCKER_BUILDKIT", "0"));

    let home = d.dir.path().join("home");
    let out = common::isolate(
        &mut Command::new(env!("CARGO_BIN_EXE_podman-storage")),
        &home,
    )
    .args(["--engine", "docker", "--url", &d.sock, "--format", "json"])
    .output()
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |id: &str| -> u64 {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no row {id}: {v}"))["images_bytes"]
            .as_u64()
            .unwrap()
    };
    // The truth: the overlay2 diff dirs of each image.
    let gone = d.layer_dirs("image", "gone-web:latest");
    let base = d.layer_dirs("image", "local/base:1");
    let gone_own = file_bytes(&gone[0]);
    let base_bytes: u64 = base.iter().map(|p| file_bytes(p)).sum();
    assert!(gone_own > 2_400_000, "the COPY layer is gone's top layer");
    assert!(
        within(row("(orphans)"), gone_own, 1.0),
        "(orphans) {} vs its layer {gone_own}",
        row("(orphans)")
    );
    assert!(
        within(row("(shared)"), base_bytes, 1.0),
        "(shared) {} vs the base {base_bytes}",
        row("(shared)")
    );
    assert!(
        row("shop") < base_bytes / 100,
        "shop's image is the base, shared with the orphan: {}",
        row("shop")
    );
}
