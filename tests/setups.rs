//! The setups podman users really have, each a real store built by real
//! podman in the user's own default location (so the store resolver must
//! find it as podman does), read three ways: the store path, `--cli-only`
//! (podman's output alone), and the disk (c/storage's records for which
//! directory is whose, `du -sb` and `find` for the bytes).
//!
//! Needs root, `tests/scenarios/podman5.sh setup` and `rootless.sh setup`
//! (`.ci/run` does both); CI runs these with `--include-ignored`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::{du_sb, file_bytes, root, within};
use serde_json::Value;

/// Cells share the rootless user and the podman 5 tree: one at a time.
static TURN: Mutex<()> = Mutex::new(());

const TREE: &str = "/var/cache/podman-storage/root5";
const USER: &str = "psuser";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Setup {
    /// podman 4.3.1 (Debian 12), rootless, no storage.conf of its own: vfs.
    Rootless43,
    /// As above with `~/.config/containers/storage.conf` naming another
    /// graph root.
    Rootless43OwnConf,
    /// podman 5.4 (Debian 13, chroot), root: SQLite and overlay.
    Root5,
    /// podman 5.4, rootless: SQLite and native overlay.
    Rootless5,
}

impl Setup {
    fn in_tree(self) -> bool {
        matches!(self, Setup::Root5 | Setup::Rootless5)
    }

    /// Runs argv inside the setup, as its user.
    fn run(self, argv: &[&str]) -> Output {
        let scripts = root().join("tests/scenarios");
        let mut cmd = Command::new("bash");
        match self {
            Setup::Rootless43 | Setup::Rootless43OwnConf => {
                cmd.arg(scripts.join("rootless.sh")).arg("run")
            }
            Setup::Root5 => cmd.arg(scripts.join("podman5.sh")).arg("root"),
            Setup::Rootless5 => cmd.arg(scripts.join("podman5.sh")).args(["user", USER]),
        };
        cmd.args(argv).output().expect("bash runs")
    }

    fn ok(self, argv: &[&str]) -> String {
        let out = self.run(argv);
        assert!(
            out.status.success(),
            "{self:?}: {argv:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A path the setup names, as the host sees it.
    fn host_path(self, p: &str) -> PathBuf {
        if self.in_tree() {
            PathBuf::from(format!("{TREE}{p}"))
        } else {
            PathBuf::from(p)
        }
    }

    /// Where the tool and the scenario script are, for this setup's user.
    fn bin_dir(self) -> &'static str {
        if self.in_tree() {
            "/opt/podman-storage-test"
        } else {
            "/tmp/podman-storage-test"
        }
    }

    fn install(self) {
        let dir = self.host_path(self.bin_dir());
        std::fs::create_dir_all(&dir).unwrap();
        for (src, name) in [
            (
                PathBuf::from(env!("CARGO_BIN_EXE_podman-storage")),
                "podman-storage",
            ),
            (
                root().join("tests/scenarios/setup-store.sh"),
                "setup-store.sh",
            ),
        ] {
            let dst = dir.join(name);
            let tmp = dir.join(format!(".{name}.new"));
            std::fs::copy(&src, &tmp).unwrap();
            std::fs::rename(&tmp, &dst).unwrap();
        }
        Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(&dir)
            .status()
            .unwrap();
        let conf = Path::new("/home/psuser/.config/containers/storage.conf");
        // Left by a failed run of the other rootless cell.
        let _ = std::fs::remove_file(conf);
        if self == Setup::Rootless43OwnConf {
            std::fs::write(
                conf,
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"/home/psuser/elsewhere\"\n",
            )
            .unwrap();
            Command::new("chown")
                .args(["4242:4242", conf.to_str().unwrap()])
                .status()
                .unwrap();
        }
    }

    fn tool(self, args: &[&str]) -> (Option<i32>, String, String) {
        let bin = format!("{}/podman-storage", self.bin_dir());
        let mut argv = vec![bin.as_str(), "--no-progress", "--format", "json"];
        argv.extend_from_slice(args);
        let out = self.run(&argv);
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// Runs the tool and expects a complete report: exit 0, nothing on stderr.
    fn json(self, args: &[&str]) -> Value {
        let (code, out, err) = self.tool(args);
        assert_eq!(code, Some(0), "{self:?} {args:?}: exit {code:?}: {err}");
        assert!(err.is_empty(), "{self:?} {args:?} warned: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{self:?} {args:?}: {e}: {out}"))
    }

    fn script(self, what: &str) {
        let script = format!("{}/setup-store.sh", self.bin_dir());
        self.ok(&["bash", &script, what]);
    }
}

/// What the disk holds, from c/storage's records (whose directory is
/// whose) and independent walks (du, find), never our own walker.
struct Truth {
    images: u64,
    containers: u64,
    volumes: u64,
    driver: String,
}

fn truth(setup: Setup) -> Truth {
    let info = setup.ok(&[
        "podman",
        "info",
        "--format",
        "{{.Store.GraphRoot}} {{.Store.GraphDriverName}}",
    ]);
    let mut f = info.split_whitespace();
    let (gr, driver) = (f.next().unwrap().to_string(), f.next().unwrap().to_string());
    let gr = setup.host_path(&gr);
    let records = |file: &str| -> Vec<Value> {
        std::fs::read(gr.join(format!("{driver}-containers/{file}")))
            .ok()
            .map(|b| serde_json::from_slice::<Vec<Value>>(&b).unwrap_or_default())
            .unwrap_or_default()
    };
    let ctr_layers: BTreeSet<String> = records("containers.json")
        .into_iter()
        .chain(records("volatile-containers.json"))
        .map(|c| c["layer"].as_str().unwrap().to_string())
        .collect();
    let (layer_root, sub) = match driver.as_str() {
        "vfs" => (gr.join("vfs/dir"), ""),
        _ => (gr.join(&driver), "diff"),
    };
    let (mut images, mut containers) = (0, 0);
    for entry in std::fs::read_dir(&layer_root).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "l" || !entry.path().is_dir() {
            continue;
        }
        let dir = entry.path().join(sub);
        // vfs holds whole trees (du -sb); overlay's diff dirs count like
        // c/storage's diff sizes (file bytes).
        let bytes = if driver == "vfs" {
            du_sb(std::slice::from_ref(&dir))
        } else {
            file_bytes(&dir)
        };
        if ctr_layers.contains(&name) {
            containers += bytes;
        } else {
            images += bytes;
        }
    }
    let volumes = du_sb(&[gr.join("volumes/data/_data")]);
    Truth {
        images,
        containers,
        volumes,
        driver,
    }
}

/// `du -sbx` of the graph root, and the bytes of containers' k8s-file logs
/// in it (counted by no line yet), from podman's own answer for where it
/// is; and that path as the setup sees it.
fn disk_total(setup: Setup) -> (u64, u64, PathBuf, String) {
    let inside = setup
        .ok(&["podman", "info", "--format", "{{.Store.GraphRoot}}"])
        .trim()
        .to_string();
    let gr = setup.host_path(&inside);
    let out = Command::new("du").arg("-sbx").arg(&gr).output().unwrap();
    let du: u64 = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let out = Command::new("find")
        .arg(&gr)
        .args(["-xdev", "-name", "ctr.log", "-type", "f", "-printf", "%s\n"])
        .output()
        .unwrap();
    let logs = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse::<u64>().unwrap())
        .sum();
    (du, logs, gr, inside)
}

/// Bytes inside overlay's `work/work` dirs, which the kernel makes mode
/// 000: a rootless user (the tool, and podman) cannot read them, so only
/// root's `du` counts them. 0 where the tool runs as root.
fn unreadable_scratch(setup: Setup, gr: &Path) -> u64 {
    if setup != Setup::Rootless5 {
        return 0;
    }
    let out = Command::new("find")
        .arg(gr)
        .args(["-xdev", "-path", "*/work/work/*", "-printf", "%s\n"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse::<u64>().unwrap())
        .sum()
}

/// The rows' details of one kind as (name, path, bytes).
fn details(df: &Value, kind: &str) -> Vec<(String, String, u64)> {
    df["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == kind)
        .flat_map(|c| c["details"].as_array().cloned().unwrap_or_default())
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_string(),
                d["path"].as_str().unwrap_or_default().to_string(),
                d["bytes"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The store-metadata row against the disk: df's total is what `du -sbx`
/// finds in the graph root (volumes are in it here) within 0.5%, and the
/// parts nothing else lives in match `du`/`stat` of their files exactly.
fn check_metadata(setup: Setup, df: &Value, driver: &str) {
    let (du, logs, gr, inside) = disk_total(setup);
    // Build leftovers outside the graph root (the blob-info cache, temp
    // dirs) are not in its du; each is checked against its own du.
    let mut outside = 0;
    for (name, path, bytes) in details(df, "build_cache") {
        if !path.starts_with(&inside) {
            assert_eq!(bytes, du_sb(&[setup.host_path(&path)]), "{name} {path}");
            outside += bytes;
        }
    }
    let total = df["total_bytes"].as_u64().unwrap() - outside + unreadable_scratch(setup, &gr);
    let meta = df["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "metadata")
        .unwrap_or_else(|| panic!("no metadata row: {df}"));
    let part = |name: &str| -> u64 {
        meta["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .map_or(0, |d| d["bytes"].as_u64().unwrap())
    };
    eprintln!(
        "{setup:?}: df total {total} + logs {logs} vs du -sbx {du}; metadata {} ({})",
        meta["bytes"], meta["details"]
    );
    assert!(meta["bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        part("layer records"),
        du_sb(&[gr.join(format!("{driver}-layers"))]),
        "layers.json and tar-split files"
    );
    let db = ["db.sql", "libpod/bolt_state.db"]
        .iter()
        .map(|f| gr.join(f))
        .find(|p| p.exists())
        .expect("a libpod database in the graph root");
    assert_eq!(part("database"), std::fs::metadata(&db).unwrap().len());
    assert!(
        within(total + logs, du, 0.5),
        "df total {total} + logs {logs} vs du -sbx {du}"
    );
}

fn bytes(df: &Value, kind: &str) -> u64 {
    df["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {df}"))["bytes"]
        .as_u64()
        .unwrap()
}

fn ids(setup: Setup, filter: &str) -> BTreeSet<String> {
    setup
        .ok(&[
            "podman",
            "images",
            "-a",
            "-q",
            "--no-trunc",
            "--filter",
            filter,
        ])
        .lines()
        .map(|l| l.trim_start_matches("sha256:").to_string())
        .collect()
}

fn check(setup: Setup) {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    setup.install();
    setup.script("build");
    let t = truth(setup);
    let store = setup.json(&["df"]);
    let cli = setup.json(&["--cli-only", "df"]);
    let (si, ci) = (bytes(&store, "images"), bytes(&cli, "images"));
    let (sc, cc) = (bytes(&store, "containers"), bytes(&cli, "containers"));
    let (sv, cv) = (bytes(&store, "volumes"), bytes(&cli, "volumes"));
    eprintln!(
        "{setup:?} ({}): images store {si} cli {ci} disk {}; containers store {sc} cli {cc} disk {}; volumes store {sv} cli {cv} disk {}",
        t.driver, t.images, t.containers, t.volumes
    );
    assert!(t.images > 9_000_000 && t.containers > 900_000 && t.volumes > 800_000);
    assert!(
        within(si, t.images, 1.0),
        "images {si} vs disk {}",
        t.images
    );
    assert!(
        within(sc, t.containers, 1.0),
        "containers {sc} vs disk {}",
        t.containers
    );
    assert!(
        within(sv, t.volumes, 1.0),
        "volumes {sv} vs disk {}",
        t.volumes
    );
    assert_eq!(sv, cv, "volumes: both paths walk podman's mountpoints");
    check_metadata(setup, &store, &t.driver);
    assert!(
        cli["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["kind"] != "metadata"),
        "--cli-only reads no store file, so it has no metadata row"
    );
    if t.driver == "vfs" {
        // podman's own figures count each layer's changes, not the full
        // copies vfs keeps: the CLI path can only say what podman says.
        assert!(
            ci < si / 2,
            "vfs: podman's figure {ci} is far below the disk {si}"
        );
    } else {
        assert_eq!(ci, si, "images: cli vs store");
        // podman 5's `ps --size` adds each container's own files (OCI
        // config, hosts, ...), about 11 kB; podman 4.3's does not.
        let slack = if setup.in_tree() { 3.0 } else { 0.0 };
        assert!(within(cc, sc, slack), "containers: cli {cc} vs store {sc}");
    }

    // Image classes as podman decides them.
    let images = setup.json(&["images"]);
    let class = |key: &str| -> BTreeSet<String> {
        images["images"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i[key] == true)
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(class("dangling"), ids(setup, "dangling=true"), "dangling");
    assert_eq!(
        class("intermediate"),
        ids(setup, "intermediate=true"),
        "intermediate"
    );
    assert!(
        !class("intermediate").is_empty(),
        "the LABEL/CMD/ENV build leaves intermediates"
    );

    // A container podman does not own is counted, not a reason to fall back.
    setup.script("buildah");
    let after = setup.json(&["df"]);
    let t2 = truth(setup);
    assert_eq!(bytes(&after, "containers"), sc, "not podman's container");
    let grown: u64 = details(&after, "build_cache")
        .iter()
        .filter(|d| d.0 == "external container")
        .map(|d| d.2)
        .sum();
    let real = t2.containers - t.containers;
    eprintln!("{setup:?}: buildah container: store +{grown} B, disk +{real} B");
    assert!(real > 250_000, "the working container wrote 300 kB");
    assert!(
        within(grown, real, 1.0),
        "buildah container {grown} vs disk {real}"
    );
    check_metadata(setup, &after, &t.driver);
    let ctrs = setup.json(&["containers", "--size"]);
    assert!(
        ctrs["containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["state"] == "external"),
        "{ctrs}"
    );
    reclaim_external(setup, &after);
    setup.script("reset");
    if setup == Setup::Rootless43OwnConf {
        std::fs::remove_file("/home/psuser/.config/containers/storage.conf").unwrap();
    }
}

/// The real reclaim of the build cache's external container: `podman
/// system prune --build` on 5.4 (`--external` alone left the buildah
/// container; `--build` also prunes stopped containers and dangling
/// images), `podman rm -f` on 4.3 (whose prune has neither flag). The disk
/// gets back what df's total loses.
fn reclaim_external(setup: Setup, before: &Value) {
    let (du_before, _, gr, _) = disk_total(setup);
    let hidden_before = unreadable_scratch(setup, &gr);
    if setup.in_tree() {
        setup.ok(&["podman", "system", "prune", "--build", "-f"]);
    } else {
        let list = setup.ok(&[
            "podman",
            "ps",
            "-a",
            "--external",
            "--format",
            "{{.ID}} {{.Status}}",
        ]);
        for line in list.lines().filter(|l| l.ends_with(" Storage")) {
            setup.ok(&["podman", "rm", "-f", line.split(' ').next().unwrap()]);
        }
    }
    let (du_after, ..) = disk_total(setup);
    let after = setup.json(&["df"]);
    let hidden = hidden_before - unreadable_scratch(setup, &gr);
    let freed = du_before - du_after - hidden;
    eprintln!(
        "{setup:?}: of the freed bytes, {hidden} were in overlay work dirs the user cannot read"
    );
    let dropped = before["total_bytes"].as_u64().unwrap() - after["total_bytes"].as_u64().unwrap();
    eprintln!(
        "{setup:?}: external container reclaimed: du freed {freed}, df total dropped {dropped}"
    );
    assert!(
        details(&after, "build_cache")
            .iter()
            .all(|d| d.0 != "external container"),
        "{after}"
    );
    assert!(
        within(dropped, freed, 0.5),
        "df dropped {dropped}, disk freed {freed}"
    );
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn rootless_podman_4_on_vfs() {
    check(Setup::Rootless43);
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn rootless_podman_4_with_its_own_storage_conf() {
    check(Setup::Rootless43OwnConf);
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn root_podman_5_sqlite() {
    check(Setup::Root5);
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn rootless_podman_5_sqlite() {
    check(Setup::Rootless5);
}
