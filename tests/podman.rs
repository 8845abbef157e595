//! Real-podman tests: build a store with real podman, then check the tool's
//! figures against the truth on disk. CI runs them with `--include-ignored`;
//! without podman they fail (the build script cannot run), never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A scenario store from `tests/scenarios/build.sh`, destroyed on drop.
struct Store {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl Store {
    fn build(scenario: &str) -> Store {
        let dir = tempfile::Builder::new()
            .prefix("pstest-")
            .tempdir()
            .unwrap();
        let out = Command::new("bash")
            .arg(root().join("tests/scenarios/build.sh"))
            .arg(scenario)
            .arg(dir.path())
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "building scenario {scenario} failed (is podman installed?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let conf = dir.path().join("storage.conf");
        Store { dir, conf }
    }

    fn graphroot(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn podman(&self, args: &[&str]) -> String {
        let out = Command::new("podman")
            .args(args)
            .env("CONTAINERS_STORAGE_CONF", &self.conf)
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .output()
            .expect("podman runs");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn tool(&self, args: &[&str]) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_podman-storage"))
            .args(["--format", "json"])
            .args(args)
            .env("CONTAINERS_STORAGE_CONF", &self.conf)
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "podman-storage {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Upper dirs of every container, from podman's own inspect.
    fn container_upper_dirs(&self) -> Vec<PathBuf> {
        let ids = self.podman(&["ps", "-aq", "--no-trunc"]);
        ids.lines()
            .filter(|l| !l.is_empty())
            .map(|id| {
                PathBuf::from(
                    self.podman(&["inspect", "--format", "{{.GraphDriver.Data.UpperDir}}", id])
                        .trim(),
                )
            })
            .collect()
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

/// Bytes of regular files below `dir` (what a layer's tar stream holds,
/// less its headers), counted by `find`, not by our walker.
fn file_bytes(dir: &Path) -> u64 {
    let out = Command::new("find")
        .arg(dir)
        .args(["-type", "f", "-printf", "%s\n"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse::<u64>().unwrap())
        .sum()
}

/// Truth for images: file bytes in every image layer's diff dir (every
/// overlay dir that is not a container's upper dir).
fn image_layer_bytes(store: &Store) -> u64 {
    let uppers: Vec<PathBuf> = store.container_upper_dirs();
    let mut total = 0;
    for entry in std::fs::read_dir(store.graphroot().join("overlay")).unwrap() {
        let diff = entry.unwrap().path().join("diff");
        if diff.is_dir() && !uppers.contains(&diff) {
            total += file_bytes(&diff);
        }
    }
    total
}

/// `du -sb`: apparent bytes of files and directories, the definition the
/// tool uses for every directory it walks.
fn du_sb(dir: &Path) -> u64 {
    let out = Command::new("du").arg("-sb").arg(dir).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn component<'a>(df: &'a Value, kind: &str) -> &'a Value {
    df["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} component in {df}"))
}

fn within(actual: u64, truth: u64, pct: f64) -> bool {
    (actual as f64 - truth as f64).abs() <= truth as f64 * pct / 100.0
}

/// podman 4.3's `system df` Images figure, in bytes, for comparison.
fn podman_df_images(store: &Store) -> u64 {
    let out = store.podman(&["system", "df", "--format", "{{json .}}"]);
    let line = out.lines().find(|l| l.contains("\"Images\"")).unwrap();
    let v: Value = serde_json::from_str(line).unwrap();
    v["RawSize"]
        .as_u64()
        .or_else(|| v["Size"].as_u64())
        .unwrap_or(0)
}

#[test]
#[ignore = "needs podman"]
fn df_matches_the_truth_on_disk_for_a_shared_base() {
    let store = Store::build("base-derived");
    let df = store.tool(&["df"]);
    let images = component(&df, "images")["bytes"].as_u64().unwrap();
    let truth = image_layer_bytes(&store);
    let podman = podman_df_images(&store);
    eprintln!(
        "images: ours {images} B, truth {truth} B ({:+.2}%); podman system df {podman} B ({:+.2}%)",
        (images as f64 / truth as f64 - 1.0) * 100.0,
        (podman as f64 / truth as f64 - 1.0) * 100.0
    );
    assert!(
        within(images, truth, 1.0),
        "images {images} vs truth {truth}"
    );
    // The base is shared by three images: summing image sizes overcounts it.
    assert!(
        !within(podman, truth, 20.0),
        "podman's figure {podman} should be the over-counted one"
    );

    let containers = component(&df, "containers")["bytes"].as_u64().unwrap();
    let uppers: u64 = store
        .container_upper_dirs()
        .iter()
        .map(|d| file_bytes(d))
        .sum();
    assert!(
        uppers > 1_000_000,
        "the scenario writes 1.2 MB into containers"
    );
    assert!(
        within(containers, uppers, 1.0),
        "containers {containers} vs upper dirs {uppers}"
    );

    let rows: u64 = df["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, df["total_bytes"].as_u64().unwrap());
}

#[test]
#[ignore = "needs podman"]
fn reclaimable_equals_what_podman_prune_really_frees() {
    let store = Store::build("volumes-dangling");
    let df = store.tool(&["df"]);
    let images = component(&df, "images");
    let reclaimable = images["reclaimable_bytes"].as_u64().unwrap();
    let before = image_layer_bytes(&store);
    store.podman(&["image", "prune", "-a", "-f"]);
    let after = image_layer_bytes(&store);
    let freed = before - after;
    eprintln!("images reclaimable: ours {reclaimable} B, really freed {freed} B");
    assert!(freed > 2_000_000, "the dangling image holds 2.5 MB");
    assert!(
        within(reclaimable, freed, 1.0),
        "reclaimable {reclaimable} vs freed {freed}"
    );

    let volumes = component(&df, "volumes");
    let spare = store.graphroot().join("volumes/spare/_data");
    let data = store.graphroot().join("volumes/data/_data");
    let (spare_b, data_b) = (du_sb(&spare), du_sb(&data));
    assert_eq!(volumes["count"], 2);
    assert_eq!(volumes["active"], 1);
    assert_eq!(volumes["bytes"].as_u64().unwrap(), spare_b + data_b);
    assert_eq!(volumes["reclaimable_bytes"].as_u64().unwrap(), spare_b);
}

#[test]
#[ignore = "needs podman"]
fn volumes_view_shows_labels_use_and_exact_bytes() {
    let store = Store::build("volumes-dangling");
    let v = store.tool(&["volumes"]);
    let vols = v["volumes"].as_array().unwrap();
    let data = vols.iter().find(|x| x["name"] == "data").unwrap();
    assert_eq!(data["in_use"], true);
    assert_eq!(data["labels"]["owner"], "team-a");
    let truth = du_sb(&store.graphroot().join("volumes/data/_data"));
    assert_eq!(data["bytes"].as_u64().unwrap(), truth);
    let spare = vols.iter().find(|x| x["name"] == "spare").unwrap();
    assert_eq!(spare["in_use"], false);
}

#[test]
#[ignore = "needs podman"]
fn images_view_splits_unique_and_shared() {
    let store = Store::build("base-derived");
    let v = store.tool(&["images"]);
    let imgs = v["images"].as_array().unwrap();
    let by_name = |n: &str| {
        imgs.iter()
            .find(|i| i["names"].as_array().unwrap().iter().any(|x| x == n))
            .unwrap_or_else(|| panic!("{n} missing"))
    };
    let app1 = by_name("localhost/app1:1");
    let unique = app1["unique_bytes"].as_u64().unwrap();
    assert!(within(unique, 2_000_000, 1.0), "app1 adds 2 MB: {unique}");
    let base_size = by_name("localhost/base:1")["size_bytes"].as_u64().unwrap();
    assert!(within(
        app1["shared_bytes"].as_u64().unwrap(),
        base_size,
        1.0
    ));
    let sum: u64 = imgs
        .iter()
        .map(|i| i["unique_bytes"].as_u64().unwrap())
        .sum::<u64>()
        + v["shared_layers_bytes"].as_u64().unwrap();
    assert_eq!(sum, v["total_bytes"].as_u64().unwrap());
}

#[test]
#[ignore = "needs podman"]
fn remote_path_agrees_with_the_local_store() {
    // The same store through `podman --url` (a service socket): layers then
    // come from `image inspect`, not from the store's files.
    let store = Store::build("base-derived");
    let sock = store.dir.path().join("podman.sock");
    let url = format!("unix://{}", sock.display());
    let mut service = Command::new("podman")
        .args(["system", "service", "--time=0", &url])
        .env("CONTAINERS_STORAGE_CONF", &store.conf)
        .env("CONTAINERS_CONF", store.dir.path().join("containers.conf"))
        .spawn()
        .unwrap();
    // Wait for the socket by asking podman itself, not by sleeping.
    let ready = (0..100).any(|_| {
        Command::new("podman")
            .args(["--url", &url, "version"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let local = store.tool(&["images"]);
    let remote = if ready {
        Some(store.tool(&["--url", &url, "images"]))
    } else {
        None
    };
    let _ = service.kill();
    let _ = service.wait();
    let remote = remote.expect("podman system service came up");
    let total = |v: &Value| v["total_bytes"].as_u64().unwrap();
    assert!(
        within(total(&remote), total(&local), 0.1),
        "remote {} vs local {}",
        total(&remote),
        total(&local)
    );
}
