//! The setups podman users really have, each a real store built by real
//! podman in the user's own default location (so the store resolver must
//! find it as podman does), read three ways: the store path, `--cli-only`
//! (podman's output alone), and the disk (c/storage's records for which
//! directory is whose, `du -sb` and `find` for the bytes).
//!
//! Needs root, `tests/scenarios/podman5.sh setup` and `rootless.sh setup`
//! (`.ci/run` does both); CI runs these with `--include-ignored`.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{du_sb, file_bytes, root, within};
use serde_json::Value;

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
    let du = common::du_sbx(&gr);
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
    common::find_sum(gr, &["-xdev", "-path", "*/work/work/*"])
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
        "{setup:?}: df total {total} (logs {logs}) vs du -sbx {du}; metadata {} ({})",
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
        within(total, du, 0.5),
        "df total {total} (logs {logs} in it) vs du -sbx {du}"
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
    let _turn = common::real_podman_turn();
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

/// An additional image store (`additionalimagestores`), as shared
/// read-only stores are used: its images are listed, on this disk, counted
/// once, and never reclaimable; both paths and podman itself agree.
#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn an_additional_image_store_is_listed_read_only_and_never_reclaimable() {
    let _turn = common::real_podman_turn();
    let setup = Setup::Root5;
    setup.install();
    setup.script("reset");
    let conf = "/tmp/ais/storage.conf";
    let prep = r#"set -e
rm -rf /tmp/ais /var/lib/ais; mkdir -p /tmp/ais/rootfs/bin
cp /bin/busybox /tmp/ais/rootfs/bin/; ln -s busybox /tmp/ais/rootfs/bin/true
head -c 2000000 /dev/urandom > /tmp/ais/rootfs/shared
tar -C /tmp/ais/rootfs -cf /tmp/ais/shared.tar .
podman --root /var/lib/ais --runroot /run/ais import -q /tmp/ais/shared.tar localhost/shared:1 >/dev/null
rm /tmp/ais/rootfs/shared; head -c 1000000 /dev/urandom > /tmp/ais/rootfs/own
tar -C /tmp/ais/rootfs -cf /tmp/ais/own.tar .
printf '[storage]\ndriver = "overlay"\ngraphroot = "/var/lib/containers/storage"\nrunroot = "/run/containers/storage"\n[storage.options]\nadditionalimagestores = ["/var/lib/ais"]\n' > /tmp/ais/storage.conf
export CONTAINERS_STORAGE_CONF=/tmp/ais/storage.conf
podman import -q /tmp/ais/own.tar localhost/own:1 >/dev/null
"#;
    setup.ok(&["bash", "-c", prep]);
    let with_conf = |argv: &[&str]| -> Vec<String> {
        ["env", &format!("CONTAINERS_STORAGE_CONF={conf}")]
            .iter()
            .map(|s| s.to_string())
            .chain(argv.iter().map(|s| s.to_string()))
            .collect()
    };
    let tool = |args: &[&str]| -> Value {
        let bin = format!("{}/podman-storage", setup.bin_dir());
        let mut argv = vec![bin.as_str(), "--no-progress", "--format", "json"];
        argv.extend_from_slice(args);
        let argv = with_conf(&argv);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = setup.run(&argv);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && err.is_empty(), "{args:?}: {err}");
        serde_json::from_slice(&out.stdout).unwrap()
    };

    // Truth: each store's layer diffs, by file bytes (as c/storage sizes them).
    let diffs = |root: &str| -> u64 {
        let dir = setup.host_path(&format!("{root}/overlay"));
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path().join("diff"))
            .filter(|d| d.is_dir())
            .map(|d| file_bytes(&d))
            .sum()
    };
    let shared = diffs("/var/lib/ais");
    let own = diffs("/var/lib/containers/storage");
    assert!(shared > 2_000_000 && own > 1_000_000, "{shared} {own}");

    for cli in [false, true] {
        let flag: &[&str] = if cli { &["--cli-only"] } else { &[] };
        let images = tool(&[flag, &["images"]].concat());
        let read_only: Vec<(&str, bool)> = images["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["names"][0].as_str().unwrap(),
                    i["read_only"].as_bool().unwrap_or(false),
                )
            })
            .collect();
        assert_eq!(
            read_only,
            [("localhost/own:1", false), ("localhost/shared:1", true)],
            "cli {cli}"
        );
        let df = tool(&[flag, &["df"]].concat());
        let img = df["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == "images")
            .unwrap()
            .clone();
        let (bytes, reclaimable) = (
            img["bytes"].as_u64().unwrap(),
            img["reclaimable_bytes"].as_u64().unwrap(),
        );
        assert!(
            within(bytes, shared + own, 1.0),
            "cli {cli}: {bytes} vs {shared}+{own}"
        );
        assert!(
            within(reclaimable, own, 1.0),
            "cli {cli}: {reclaimable} vs own {own}"
        );
    }

    // What podman really frees: the read-only image stays.
    let prune = with_conf(&["podman", "image", "prune", "-a", "-f"]);
    setup.ok(&prune.iter().map(String::as_str).collect::<Vec<_>>());
    let left = with_conf(&["podman", "images", "--format", "{{.Repository}}"]);
    let left = setup.ok(&left.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(left.trim(), "localhost/shared");
    assert_eq!(diffs("/var/lib/containers/storage"), 0, "own image freed");

    setup.ok(&["sh", "-c", "rm -rf /tmp/ais /var/lib/ais /run/ais"]);
    setup.script("reset");
}

/// A store with both a bolt file and `db.sql` and no `database_backend`:
/// podman up to 5.8.0 reads the bolt file, later ones `db.sql`. The store
/// path must read the one this podman reads, without falling back.
#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn with_both_databases_the_one_podman_reads_is_read() {
    let _turn = common::real_podman_turn();
    let setup = Setup::Root5;
    setup.install();
    setup.script("reset");
    let prep = r#"set -e
rm -rf /tmp/both; mkdir -p /tmp/both/rootfs/bin
cp /bin/busybox /tmp/both/rootfs/bin/; ln -s busybox /tmp/both/rootfs/bin/true
tar -C /tmp/both/rootfs -cf /tmp/both/tiny.tar .
podman import -q /tmp/both/tiny.tar localhost/tiny:1 >/dev/null
CI_DESIRED_DATABASE=boltdb podman --db-backend boltdb create --name in-bolt localhost/tiny:1 true >/dev/null
podman --db-backend sqlite create --name in-sqlite localhost/tiny:1 true >/dev/null
test -f /var/lib/containers/storage/libpod/bolt_state.db
test -f /var/lib/containers/storage/db.sql
"#;
    setup.ok(&["bash", "-c", prep]);
    let podman: BTreeSet<String> = setup
        .ok(&["podman", "ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect();
    // podman 5.4 (< 5.8.1) reads the bolt file.
    assert_eq!(podman, BTreeSet::from(["in-bolt".to_string()]));
    let ours = setup.json(&["containers"]);
    let owned: BTreeSet<String> = ours["containers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] != "external")
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(owned, podman, "{ours}");

    setup.ok(&["sh", "-c", "rm -rf /tmp/both"]);
    setup.script("reset");
    setup.ok(&[
        "rm",
        "-f",
        "/var/lib/containers/storage/libpod/bolt_state.db",
    ]);
}

/// An `imagestore`: images and their layers live there, containers in the
/// graph root. Both paths agree and match the disk.
#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn an_imagestore_is_read_where_c_storage_puts_images() {
    let _turn = common::real_podman_turn();
    let setup = Setup::Root5;
    setup.install();
    setup.script("reset");
    let prep = r#"set -e
rm -rf /tmp/is /var/lib/is; mkdir -p /tmp/is/rootfs/bin
cp /bin/busybox /tmp/is/rootfs/bin/; for l in true sh head; do ln -s busybox /tmp/is/rootfs/bin/$l; done
head -c 2000000 /dev/urandom > /tmp/is/rootfs/blob
tar -C /tmp/is/rootfs -cf /tmp/is/base.tar .
printf '[storage]\ndriver = "overlay"\ngraphroot = "/var/lib/containers/storage"\nrunroot = "/run/containers/storage"\nimagestore = "/var/lib/is"\n' > /tmp/is/storage.conf
export CONTAINERS_STORAGE_CONF=/tmp/is/storage.conf
podman import -q /tmp/is/base.tar localhost/base:1 >/dev/null
podman run --name c1 localhost/base:1 sh -c 'head -c 300000 /dev/urandom > /w'
"#;
    setup.ok(&["bash", "-c", prep]);
    let conf = "CONTAINERS_STORAGE_CONF=/tmp/is/storage.conf";
    let df = |cli: bool| -> Value {
        let bin = format!("{}/podman-storage", setup.bin_dir());
        let mut argv = vec![
            "env",
            conf,
            bin.as_str(),
            "--no-progress",
            "--format",
            "json",
        ];
        if cli {
            argv.push("--cli-only");
        }
        argv.push("df");
        let out = setup.run(&argv);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && err.is_empty(), "cli {cli}: {err}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let diffs = |root: &str| -> u64 {
        std::fs::read_dir(setup.host_path(&format!("{root}/overlay")))
            .unwrap()
            .map(|e| e.unwrap().path().join("diff"))
            .filter(|d| d.is_dir())
            .map(|d| file_bytes(&d))
            .sum()
    };
    let (images, containers) = (diffs("/var/lib/is"), diffs("/var/lib/containers/storage"));
    assert!(
        images > 2_000_000 && containers >= 300_000,
        "{images} {containers}"
    );
    let (store, cli) = (df(false), df(true));
    assert!(within(bytes(&store, "images"), images, 1.0), "{store}");
    assert_eq!(bytes(&store, "images"), bytes(&cli, "images"));
    assert!(
        within(bytes(&store, "containers"), containers, 1.0),
        "{store}"
    );
    // podman 5's `ps --size` adds the container's own files.
    assert!(within(bytes(&cli, "containers"), containers, 5.0), "{cli}");

    setup.ok(&[
        "sh",
        "-c",
        "export CONTAINERS_STORAGE_CONF=/tmp/is/storage.conf; podman rm -a >/dev/null; podman system reset -f >/dev/null 2>&1; rm -rf /var/lib/is /tmp/is",
    ]);
    setup.script("reset");
}

/// Where a logs test runs: one of the setups above, or root podman 4.3 on
/// an isolated store (`tests/scenarios/build.sh`).
enum Place {
    Setup(Setup),
    Root43(common::Store),
}

impl Place {
    fn podman(&self, args: &[&str]) -> String {
        match self {
            Place::Setup(s) => {
                let mut argv = vec!["podman"];
                argv.extend_from_slice(args);
                s.ok(&argv).trim().to_string()
            }
            Place::Root43(store) => store.podman(args),
        }
    }

    fn json(&self, args: &[&str]) -> Value {
        match self {
            Place::Setup(s) => s.json(args),
            Place::Root43(store) => {
                let mut all = vec!["--no-progress"];
                all.extend_from_slice(args);
                let out = store.tool(
                    &["--format", "json"]
                        .iter()
                        .chain(&all)
                        .copied()
                        .collect::<Vec<_>>(),
                );
                let err = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
                assert!(err.is_empty(), "{args:?} warned: {err}");
                serde_json::from_slice(&out.stdout).unwrap()
            }
        }
    }

    fn host_path(&self, p: &str) -> PathBuf {
        match self {
            Place::Setup(s) => s.host_path(p),
            Place::Root43(_) => PathBuf::from(p),
        }
    }

    fn podman5(&self) -> bool {
        matches!(self, Place::Setup(s) if s.in_tree())
    }

    /// An image of busybox (sh, head, base64, sleep) from a tarball.
    fn import_busybox(&self) {
        let work = tempfile::tempdir().unwrap();
        let rootfs = work.path().join("rootfs/bin");
        std::fs::create_dir_all(&rootfs).unwrap();
        std::fs::copy("/bin/busybox", rootfs.join("busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", rootfs.join("sh")).unwrap();
        let inside = format!("/tmp/pslogs-{}.tar", std::process::id());
        let tar = self.host_path(&inside);
        let ok = Command::new("tar")
            .arg("-C")
            .arg(work.path().join("rootfs"))
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(ok.success());
        Command::new("chmod").arg("a+r").arg(&tar).status().unwrap();
        self.podman(&["import", "-q", &inside, "localhost/logs:1"]);
        std::fs::remove_file(&tar).unwrap();
    }
}

/// A container's row in a `containers --size` or `project` report.
fn row<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name} in {report}"))
}

fn component<'a>(df: &'a Value, kind: &str) -> &'a Value {
    df["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {df}"))
}

/// The log file podman names, stat'ed once its size stops changing (a
/// running container's output reaches the file through conmon).
fn log_file(place: &Place, name: &str) -> (String, u64) {
    let path = place.podman(&[
        "container",
        "inspect",
        "--format",
        "{{.HostConfig.LogConfig.Path}}",
        name,
    ]);
    let host = place.host_path(&path);
    let mut last = u64::MAX;
    for _ in 0..100 {
        let now = std::fs::metadata(&host)
            .unwrap_or_else(|e| panic!("{}: {e}", host.display()))
            .len();
        if now == last && now > 0 {
            return (path, now);
        }
        last = now;
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    panic!("{}: still growing", host.display());
}

/// A container that printed ~5 MB, a running one that printed ~1 MB, one
/// with no log, one passing its output through (and on podman 5, one
/// logging to journald); then a Quadlet-style container. Figures are
/// checked against `stat` of the files podman names and against podman's
/// own `ps --size`, on the store path and `--cli-only`.
fn logs_and_units(place: Place) {
    if let Place::Setup(s) = &place {
        s.install();
        s.script("reset");
    }
    place.import_busybox();
    let img = "localhost/logs:1";
    let chatty = "head -c 3750000 /dev/urandom | busybox base64";
    place.podman(&[
        "run",
        "--network",
        "none",
        "--name",
        "chatty",
        img,
        "sh",
        "-c",
        chatty,
    ]);
    let talking = "head -c 750000 /dev/urandom | busybox base64; exec busybox sleep 100000";
    place.podman(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "talking",
        img,
        "sh",
        "-c",
        talking,
    ]);
    place.podman(&[
        "run",
        "--network",
        "none",
        "--log-driver",
        "none",
        "--name",
        "quiet",
        img,
        "sh",
        "-c",
        "echo hi",
    ]);
    place.podman(&[
        "run",
        "--network",
        "none",
        "--log-driver",
        "passthrough",
        "--name",
        "through",
        img,
        "sh",
        "-c",
        "echo hi",
    ]);
    if place.podman5() {
        // podman 4.3 refuses journald where there is no journal (here);
        // podman 5.4 accepts it.
        place.podman(&[
            "run",
            "--network",
            "none",
            "--log-driver",
            "journald",
            "--name",
            "journal",
            img,
            "sh",
            "-c",
            "echo hi",
        ]);
    }
    let (chatty_path, chatty_bytes) = log_file(&place, "chatty");
    let (_, talking_bytes) = log_file(&place, "talking");
    assert!(chatty_bytes > 5_000_000, "{chatty_bytes}");
    assert!(talking_bytes > 1_000_000, "{talking_bytes}");

    // podman's own writable-layer figure: with the log from 4.6 on.
    let ps: Value =
        serde_json::from_str(&place.podman(&["ps", "-a", "--size", "--format", "json"])).unwrap();
    let podman_rw = ps
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Names"][0] == "chatty")
        .unwrap()["Size"]["rwSize"]
        .as_u64()
        .unwrap();

    let store = place.json(&["containers", "--size"]);
    let cli = place.json(&["--cli-only", "containers", "--size"]);
    for (path, report) in [("store", &store), ("cli", &cli)] {
        let c = row(report, "chatty");
        eprintln!(
            "{path}: chatty rw {} log {} (stat {chatty_bytes}); podman's rwSize {podman_rw}",
            c["rw_bytes"], c["log"]["bytes"]
        );
        assert_eq!(c["log"]["driver"], "k8s-file");
        assert_eq!(c["log"]["path"], chatty_path.as_str(), "{path}");
        assert_eq!(
            c["log"]["bytes"], chatty_bytes,
            "{path}: chatty's log vs stat"
        );
        assert_eq!(
            row(report, "talking")["log"]["bytes"],
            talking_bytes,
            "{path}"
        );
        // Not in the writable layer: chatty wrote no file, as quiet did not.
        let rw = |n: &str| row(report, n)["rw_bytes"].as_u64().unwrap();
        assert!(
            rw("chatty").abs_diff(rw("quiet")) < 50_000,
            "{path}: chatty's writable layer {} holds its log (quiet's {})",
            rw("chatty"),
            rw("quiet")
        );
        for quiet in ["quiet", "through"] {
            let q = &row(report, quiet)["log"];
            assert!(
                q["bytes"].is_null() && q["path"].is_null(),
                "{path}: {quiet}: {q}"
            );
        }
        if place.podman5() {
            let j = &row(report, "journal")["log"];
            assert_eq!(j["driver"], "journald", "{path}");
            assert!(
                j["bytes"].is_null(),
                "{path}: journald bytes are the journal's"
            );
        }
        assert_eq!(report["logs_bytes"], chatty_bytes + talking_bytes, "{path}");
    }
    assert_eq!(row(&store, "chatty")["log"], row(&cli, "chatty")["log"]);
    if place.podman5() {
        assert!(
            podman_rw > chatty_bytes,
            "podman 5's rwSize {podman_rw} counts the log"
        );
    } else {
        assert!(
            podman_rw < 100_000,
            "podman 4.3's rwSize {podman_rw} does not"
        );
        // vfs (rootless 4.3) keeps a full copy, podman counts the changes.
        if !matches!(place, Place::Setup(Setup::Rootless43)) {
            assert_eq!(
                row(&store, "chatty")["rw_bytes"],
                row(&cli, "chatty")["rw_bytes"]
            );
        }
    }

    // df: active = the running container's log; reclaimable = the others'.
    for args in [&["df"][..], &["--cli-only", "df"][..]] {
        let df = place.json(args);
        let logs = component(&df, "logs");
        assert_eq!(logs["bytes"], chatty_bytes + talking_bytes, "{args:?}");
        assert_eq!(
            logs["reclaimable_bytes"], chatty_bytes,
            "{args:?}: the running one's log stays"
        );
        assert_eq!(
            (logs["count"].as_u64(), logs["active"].as_u64()),
            (Some(2), Some(1)),
            "{args:?}"
        );
    }
    place.podman(&["stop", "-t", "0", "talking"]);
    let (_, talking_bytes) = log_file(&place, "talking");
    let df = place.json(&["df"]);
    assert_eq!(
        component(&df, "logs")["reclaimable_bytes"],
        chatty_bytes + talking_bytes,
        "exited: all reclaimable"
    );

    // A Quadlet unit's container: project `web`, its image follows.
    place.podman(&[
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        "PODMAN_SYSTEMD_UNIT=web.service",
        "--name",
        "web-app",
        img,
        "sh",
        "-c",
        "head -c 100000 /dev/urandom | busybox base64; exec busybox sleep 100000",
    ]);
    let (_, web_log) = log_file(&place, "web-app");
    for cli_only in [false, true] {
        let pre: &[&str] = if cli_only { &["--cli-only"] } else { &[] };
        let overview = place.json(&[pre, &["overview"][..]].concat());
        let web = overview["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "web")
            .unwrap_or_else(|| panic!("no project web in {overview}"));
        assert_eq!(web["containers"], 1, "{web}");
        let project = place.json(&[pre, &["project", "web"][..]].concat());
        assert_eq!(
            row(&project, "web-app")["log"]["bytes"],
            web_log,
            "cli {cli_only}"
        );
        assert_eq!(project["logs_bytes"], web_log);
        assert!(
            project["images"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["names"][0] == img),
            "the unit's image follows it: {project}"
        );
    }
    place.podman(&["rm", "-f", "-t", "0", "web-app", "talking"]);
    if let Place::Setup(s) = &place {
        s.script("reset");
    }
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn logs_and_quadlet_units_root_podman_4() {
    logs_and_units(Place::Root43(common::Store::build("empty")));
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn logs_and_quadlet_units_rootless_podman_4() {
    let _turn = common::real_podman_turn();
    logs_and_units(Place::Setup(Setup::Rootless43));
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn logs_and_quadlet_units_root_podman_5() {
    let _turn = common::real_podman_turn();
    logs_and_units(Place::Setup(Setup::Root5));
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn logs_and_quadlet_units_rootless_podman_5() {
    let _turn = common::real_podman_turn();
    logs_and_units(Place::Setup(Setup::Rootless5));
}

/// podman 5: a `podman build` killed mid-RUN leaves a build container
/// libpod does not own and a `buildah*` dir in its temp dir. Both are in the
/// Build cache row (not Containers), each as the disk has it, and what
/// `podman system prune --build` plus removing the dir frees is what the
/// row said.
#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn an_interrupted_build_on_podman_5_is_counted_and_freed_as_measured() {
    let _turn = common::real_podman_turn();
    let setup = Setup::Root5;
    setup.install();
    setup.script("reset");
    let prep = r#"set -e
rm -rf /tmp/ib /var/tmp/ps-ib; mkdir -p /tmp/ib/rootfs/bin /tmp/ib/ctx /var/tmp/ps-ib
cp /bin/busybox /tmp/ib/rootfs/bin/; for l in sh head sleep true; do ln -s busybox /tmp/ib/rootfs/bin/$l; done
tar -C /tmp/ib/rootfs -cf /tmp/ib/base.tar .
podman import -q /tmp/ib/base.tar localhost/ibase:1 >/dev/null
printf 'FROM localhost/ibase:1\nRUN head -c 400000 /dev/urandom > /x && sleep 6\n' > /tmp/ib/ctx/Containerfile
"#;
    setup.ok(&["bash", "-c", prep]);
    let scripts = root().join("tests/scenarios");
    // podman5.sh execs chroot, env, then podman: the child is podman.
    let mut build = Command::new("bash")
        .arg(scripts.join("podman5.sh"))
        .args(["root", "TMPDIR=/var/tmp/ps-ib", "podman", "build"])
        .args([
            "--network",
            "none",
            "-t",
            "localhost/never:1",
            "/tmp/ib/ctx",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let external = || setup.ok(&["podman", "ps", "-a", "--external", "--format", "{{.ID}}"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while external().trim().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no build container");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Mid-RUN: the build container's layer holds /x (written before the
    // RUN's sleep), however slow the machine.
    let written = || {
        common::some_diff_holds(
            &setup.host_path("/var/lib/containers/storage/overlay"),
            "x",
            400_000,
        )
    };
    while !written() {
        assert!(
            std::time::Instant::now() < deadline,
            "the RUN never wrote /x"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    build.kill().unwrap();
    build.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(6)); // the RUN's own sleep ends
    assert!(
        !external().trim().is_empty(),
        "killing podman left its build container"
    );

    let df = || -> Value {
        let bin = format!("{}/podman-storage", setup.bin_dir());
        let out = setup.run(&[
            "env",
            "TMPDIR=/var/tmp/ps-ib",
            &bin,
            "--no-progress",
            "--format",
            "json",
            "df",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && err.is_empty(), "{err}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let before = df();
    let items = details(&before, "build_cache");
    let ctrs: Vec<&(String, String, u64)> = items
        .iter()
        .filter(|i| i.0 == "external container")
        .collect();
    let dirs: Vec<&(String, String, u64)> = items
        .iter()
        .filter(|i| i.0 == "interrupted build dir")
        .collect();
    eprintln!("podman 5 interrupted build: {items:?}");
    assert_eq!(ctrs.len(), 1, "{before}");
    assert!(ctrs[0].2 >= 400_000, "RUN wrote 400 kB: {:?}", ctrs[0]);
    assert_eq!(bytes(&before, "containers"), 0, "not under Containers");
    assert!(!dirs.is_empty(), "{before}");
    for (_, path, b) in &dirs {
        assert_eq!(*b, du_sb(&[setup.host_path(path)]), "{path}");
    }
    let gr = setup.host_path("/var/lib/containers/storage");
    let tmp = setup.host_path("/var/tmp/ps-ib");
    let du = common::du_sbx;
    let disk_before = du(&gr) + du(&tmp);
    let said: u64 = ctrs.iter().chain(&dirs).map(|i| i.2).sum();

    // The real reclaim: podman 5's prune of build containers, and the dirs.
    setup.ok(&["podman", "system", "prune", "--build", "-f"]);
    setup.ok(&["sh", "-c", "rm -rf /var/tmp/ps-ib/buildah*"]);
    assert!(external().trim().is_empty(), "prune --build removed it");
    let freed = disk_before - (du(&gr) + du(&tmp));
    let after = df();
    let dropped = before["total_bytes"].as_u64().unwrap() - after["total_bytes"].as_u64().unwrap();
    // The container's records and directories go with it: they were in
    // the Store metadata row.
    let records = bytes(&before, "metadata") - bytes(&after, "metadata");
    eprintln!(
        "build cache said {said} + its records {records}; du freed {freed}; df dropped {dropped}"
    );
    assert!(
        within(dropped, freed, 1.0),
        "df dropped {dropped} vs du freed {freed}"
    );
    assert!(
        within(said + records, freed, 1.0),
        "{said} + {records} vs freed {freed}"
    );
    assert!(
        records < said / 4,
        "mostly the build's own bytes: {records}"
    );

    setup.ok(&["sh", "-c", "rm -rf /tmp/ib /var/tmp/ps-ib"]);
    setup.script("reset");
}
