//! `why TARGET` on real podman stores: the holders are the ones podman
//! names, and what removing a holder frees is what `podman rmi`/`rm`
//! really frees on disk.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{du_sb, file_bytes, find_sum, within, Store};
use serde_json::Value;

/// Image layers plus containers' upper dirs plus volumes, from the disk.
fn disk_bytes(store: &Store) -> u64 {
    let uppers: u64 = store
        .container_upper_dirs()
        .iter()
        .map(|d| file_bytes(d))
        .sum();
    store.image_layer_bytes() + uppers + store.volume_bytes()
}

fn ids(v: &Value, relation: &str) -> BTreeSet<String> {
    v["holders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["relation"] == relation)
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.trim_start_matches("sha256:").to_string())
        .collect()
}

/// Every image built on IMAGE, from podman's own ParentId links.
fn podman_descendants(store: &Store, image: &str) -> BTreeSet<String> {
    let root = store.podman(&["image", "inspect", "--format", "{{.Id}}", image]);
    let links: Vec<(String, String)> = store
        .podman(&[
            "images",
            "-a",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.ParentId}}",
        ])
        .lines()
        .filter_map(|l| {
            let (id, parent) = l.split_once(' ')?;
            let strip = |s: &str| s.trim().trim_start_matches("sha256:").to_string();
            Some((strip(id), strip(parent)))
        })
        .collect();
    let mut out = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for (c, _) in links.iter().filter(|(_, parent)| *parent == p) {
            if out.insert(c.clone()) {
                todo.push(c.clone());
            }
        }
    }
    out
}

/// Images, containers and volumes as `df` measures them from the store's
/// records after the fact (layers at their recorded diff size, tar headers
/// included, which the files on disk are not).
fn df_bytes(store: &Store) -> u64 {
    let df = store.json(&["df"]);
    df["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| ["images", "containers", "volumes"].contains(&c["kind"].as_str().unwrap()))
        .map(|c| c["bytes"].as_u64().unwrap())
        .sum()
}

/// What removing really freed: (df's figures, the files on disk).
struct Freed {
    df: u64,
    disk: u64,
}

/// Runs each `podman ARGS` and measures what the store lost.
fn freed_by(store: &Store, commands: &[&[&str]]) -> Freed {
    let (df, disk) = (df_bytes(store), disk_bytes(store));
    for args in commands {
        store.podman(args);
    }
    Freed {
        df: df - df_bytes(store),
        disk: disk - disk_bytes(store),
    }
}

/// `why` said `planned`: df's change agrees within 1%; the files on disk
/// lack only the layers' tar headers (1.5 kB or more per layer).
fn check(what: &str, planned: u64, freed: Freed, disk_pct: f64) {
    eprintln!(
        "{what}: why said {planned} B; df changed by {} B, files on disk by {} B",
        freed.df, freed.disk
    );
    assert!(
        within(planned, freed.df, 1.0),
        "{what}: {planned} vs df {}",
        freed.df
    );
    assert!(
        within(planned, freed.disk, disk_pct),
        "{what}: {planned} vs disk {}",
        freed.disk
    );
}

fn frees(v: &Value, relation: &str, name: &str) -> u64 {
    v["holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["relation"] == relation && h["name"] == name)
        .unwrap_or_else(|| panic!("no {relation} {name} in {v}"))["frees_bytes"]
        .as_u64()
        .unwrap()
}

#[test]
#[ignore = "needs podman"]
fn image_holders_are_podmans_and_each_frees_what_rmi_frees() {
    let store = Store::build("base-derived");
    let why = store.json(&["why", "localhost/base:1"]);
    assert_eq!(why["target"]["kind"], "image");
    let ancestor = store.podman(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        "ancestor=localhost/base:1",
        "--format",
        "{{.ID}}",
    ]);
    assert_eq!(ids(&why, "container"), lines(&ancestor));
    let kids = podman_descendants(&store, "localhost/base:1");
    assert_eq!(ids(&why, "child-image"), kids);
    assert_eq!(kids.len(), 2, "app1 and app2 are built on the base");
    // The CLI path (podman's own output) names the same holders.
    let cli = store.json(&["--cli-only", "why", "localhost/base:1"]);
    assert_eq!(cli["holders"], why["holders"]);

    // Each child image's figure against a real `podman rmi -f`.
    let planned = frees(&why, "child-image", "localhost/app1:1");
    let freed = freed_by(&store, &[&["rmi", "-f", "localhost/app1:1"]]);
    assert!(freed.disk > 2_000_000);
    check("rmi -f app1", planned, freed, 1.0);

    let why = store.json(&["why", "localhost/base:1"]);
    let planned = frees(&why, "child-image", "localhost/app2:1");
    // app2 runs: rmi -f stops and removes it.
    let freed = freed_by(&store, &[&["rmi", "-f", "localhost/app2:1"]]);
    check("rmi -f app2", planned, freed, 1.0);

    // Nothing but its own container keeps the base now.
    let why = store.json(&["why", "localhost/base:1"]);
    assert!(ids(&why, "child-image").is_empty());
    let planned = why["frees_bytes"].as_u64().unwrap();
    assert_eq!(why["frees_with_holders_bytes"].as_u64(), Some(planned));
    let freed = freed_by(&store, &[&["rmi", "-f", "localhost/base:1"]]);
    assert!(freed.disk > 3_000_000);
    check("rmi -f base", planned, freed, 1.0);
}

#[test]
#[ignore = "needs podman"]
fn a_layer_is_kept_by_the_images_whose_rootfs_holds_it() {
    let store = Store::build("intermediates");
    // The second layer of the multi-step build, by its diff digest.
    let diff = store.podman(&[
        "image",
        "inspect",
        "--format",
        "{{index .RootFS.Layers 1}}",
        "localhost/multi:1",
    ]);
    let why = store.json(&["why", &diff]);
    assert_eq!(why["target"]["kind"], "layer");
    assert_eq!(why["target"]["diff_id"], diff.as_str());
    let all = store.podman(&["images", "-a", "-q", "--no-trunc"]);
    let mut holding = BTreeSet::new();
    for id in lines(&all) {
        let layers = store.podman(&["image", "inspect", "--format", "{{.RootFS.Layers}}", &id]);
        if layers.contains(&diff) {
            holding.insert(id);
        }
    }
    assert!(holding.len() >= 2, "the image and its later build steps");
    assert_eq!(ids(&why, "image"), holding);
    // Removing every holder (the image takes its build steps along).
    let planned = why["frees_with_holders_bytes"].as_u64().unwrap();
    let freed = freed_by(&store, &[&["rmi", "-f", "localhost/multi:1"]]);
    // Three small layers (300, 0 and 200 kB of files): their tar headers
    // and end blocks are 4% of them.
    check("rmi -f multi", planned, freed, 5.0);
    let left = lines(&store.podman(&["images", "-a", "-q", "--no-trunc"]));
    assert!(left.is_disjoint(&holding), "podman left {left:?}");
}

#[test]
#[ignore = "needs podman"]
fn a_volume_is_kept_by_the_containers_mounting_it() {
    let store = Store::build("volumes-dangling");
    let why = store.json(&["why", "data"]);
    assert_eq!(why["target"]["kind"], "volume");
    let users = store.podman(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        "volume=data",
        "--format",
        "{{.ID}}",
    ]);
    assert_eq!(ids(&why, "mounts"), lines(&users));
    // podman's CLI lists mount destinations only: the CLI path asks who.
    let cli = store.json(&["--cli-only", "why", "data"]);
    assert_eq!(cli["holders"], why["holders"]);
    let mountpoint = store.podman(&["volume", "inspect", "--format", "{{.Mountpoint}}", "data"]);
    let bytes = du_sb(&[PathBuf::from(&mountpoint)]);
    assert_eq!(why["target"]["bytes"].as_u64(), Some(bytes));
    let spare = store.json(&["why", "spare"]);
    assert_eq!(spare["holders"].as_array().unwrap().len(), 0);
    assert_eq!(
        store.podman(&[
            "ps",
            "-a",
            "--filter",
            "volume=spare",
            "--format",
            "{{.ID}}"
        ]),
        ""
    );
    // The holder, then the volume.
    let planned = why["frees_with_holders_bytes"].as_u64().unwrap();
    let freed = freed_by(&store, &[&["rm", "filler"], &["volume", "rm", "data"]]);
    assert!(freed.disk > 1_000_000);
    check("rm filler, volume rm data", planned, freed, 1.0);
}

#[test]
#[ignore = "needs podman"]
fn a_container_names_its_image_and_ambiguous_or_unknown_targets_exit_2() {
    let store = Store::build("base-derived");
    let why = store.json(&["why", "running"]);
    assert_eq!(why["target"]["kind"], "container");
    assert_eq!(why["target"]["state"], "running");
    let image = store.podman(&["inspect", "--format", "{{.Image}}", "running"]);
    let related = &why["related"][0];
    assert_eq!(related["relation"], "created-from");
    assert_eq!(related["id"], image.as_str());
    let upper = store.upper_dir("container", "running");
    let rw = find_sum(&upper, &["!", "-type", "d"]);
    assert_eq!(why["target"]["bytes"].as_u64(), Some(rw));

    // A volume named like a container: both listed, exit 2.
    store.podman(&["volume", "create", "idle"]);
    let out = store.tool(&["why", "idle"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("container") && stdout.contains("volume"),
        "{stdout}"
    );
    let one = store.json(&["why", "idle", "--kind", "volume"]);
    assert_eq!(one["target"]["kind"], "volume");

    let out = store.tool(&["why", "no-such-thing"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no-such-thing"), "{stderr}");
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
#[ignore = "needs podman"]
fn a_blob_in_an_oci_layout_names_the_manifest_and_tag_that_reference_it() {
    let store = Store::build("one-image");
    let layout = store.dir.path().join("oci");
    let dest = format!("oci:{}:solo", layout.display());
    let out = store
        .env(Command::new("skopeo").args(["copy", "containers-storage:localhost/solo:1", &dest]))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let hex = manifest_digest.trim_start_matches("sha256:");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap())
            .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let size = manifest["layers"][0]["size"].as_u64().unwrap();

    let cache = layout.to_str().unwrap();
    let why = store.json(&["why", layer, "--cache", cache]);
    assert_eq!(why["target"]["kind"], "blob");
    let site = &why["sites"][0];
    assert_eq!(site["bytes"].as_u64(), Some(size));
    let referrers = site["referrers"].as_array().unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0]["chain"][0], manifest_digest.as_str());
    assert_eq!(referrers[0]["tags"][0], "solo");

    // An orphan: nothing references it, and umoci's gc agrees by removing it.
    let orphan = layout.join("blobs/sha256/planted");
    std::fs::write(&orphan, b"nobody references me").unwrap();
    let digest = sha256(&orphan);
    let named = layout.join("blobs/sha256").join(&digest);
    std::fs::rename(&orphan, &named).unwrap();
    let why = store.json(&["why", &format!("sha256:{digest}"), "--cache", cache]);
    let site = &why["sites"][0];
    assert_eq!(site["referrers"].as_array().map(Vec::len), Some(0));
    assert_eq!(why["frees_bytes"].as_u64(), Some(20));
    let gc = Command::new("umoci")
        .args(["gc", "--layout", cache])
        .output()
        .unwrap();
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    assert!(!named.exists(), "umoci gc kept the orphan");
    assert!(layout
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"))
        .exists());
}

#[test]
#[ignore = "needs podman"]
fn compose_holders_carry_their_project_and_labels() {
    let store = Store::build("projects");
    for p in ["alpha", "beta"] {
        let volume = format!("{p}_data");
        let why = store.json(&["why", &volume]);
        // podman-compose's own label on the volume, and on each holder.
        let label = store.podman(&[
            "volume",
            "inspect",
            "--format",
            "{{index .Labels \"io.podman.compose.project\"}}",
            &volume,
        ]);
        assert_eq!(label, p);
        assert_eq!(why["target"]["labels"]["io.podman.compose.project"], p);
        assert_eq!(why["target"]["row"], p);
        let users = store.podman(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &format!("volume={volume}"),
            "--format",
            "{{.ID}}",
        ]);
        assert_eq!(ids(&why, "mounts"), lines(&users));
        for h in why["holders"].as_array().unwrap() {
            let id = h["id"].as_str().unwrap();
            let project = store.podman(&[
                "inspect",
                "--format",
                "{{index .Config.Labels \"com.docker.compose.project\"}}",
                id,
            ]);
            assert_eq!(h["project"], project.as_str(), "{h}");
            assert_eq!(h["state"], "running");
        }
    }
    // The base both projects' images are built on: kept by both.
    let why = store.json(&["why", "localhost/base:1"]);
    let projects: BTreeSet<&str> = why["holders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["relation"] == "child-image")
        .filter_map(|h| h["project"].as_str())
        .collect();
    assert_eq!(projects, ["alpha", "beta"].into());
}
