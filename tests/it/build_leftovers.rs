//! The `Build cache` row on root podman 4.3: an interrupted `podman build`
//! (killed mid-RUN) leaves a build container libpod does not own and a
//! `buildah*` dir in its temp dir. Each figure is checked against the disk,
//! then the real reclaim (`podman rm -f` of the external container, which
//! is what 4.3 has: its `system prune` has no `--build`/`--external`, and
//! removing the dir) is measured by `du` and held against df's drop.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{du_sb, within, Store};
use serde_json::Value;

fn du_sbx(dirs: &[&Path]) -> u64 {
    dirs.iter().map(|d| common::du_sbx(d)).sum()
}

/// Bytes of the non-directories below `dir` (what a writable layer's row
/// counts, like podman's rwSize), by `find`.
fn non_dir_bytes(dir: &Path) -> u64 {
    common::find_sum(dir, &["-not", "-type", "d"])
}

fn row<'a>(df: &'a Value, kind: &str) -> &'a Value {
    df["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} row: {df}"))
}

fn items(df: &Value, name: &str) -> Vec<(PathBuf, u64)> {
    row(df, "build_cache")["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["name"] == name)
        .map(|d| {
            (
                PathBuf::from(d["path"].as_str().unwrap()),
                d["bytes"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs podman"]
fn an_interrupted_build_is_counted_once_and_reclaimed_as_measured() {
    let store = Store::build("one-image");
    let tmp = store.dir.path().join("buildtmp");
    let ctx = store.dir.path().join("ctx");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&ctx).unwrap();
    // A short sleep: the RUN ends by itself after podman is killed, so no
    // process outlives the test.
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM localhost/solo:1\nRUN head -c 400000 /dev/urandom > /x && sleep 6\n",
    )
    .unwrap();
    let mut build = store
        .env(&mut Command::new("podman"))
        .env("TMPDIR", &tmp)
        .args(["build", "--network", "none", "-t", "localhost/never:1"])
        .arg(&ctx)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let external = || store.podman(&["ps", "-a", "--external", "--format", "{{.ID}}"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while external().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the build never made its container"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Mid-RUN: the build container's layer holds /x (written before the
    // RUN's sleep), however slow the machine.
    let written = || common::some_diff_holds(&store.graphroot().join("overlay"), "x", 400_000);
    while !written() {
        assert!(Instant::now() < deadline, "the RUN never wrote /x");
        std::thread::sleep(Duration::from_millis(100));
    }
    build.kill().unwrap();
    build.wait().unwrap();
    std::thread::sleep(Duration::from_secs(6)); // the RUN's own sleep ends
    let id = external();
    assert!(!id.is_empty(), "killing podman left its build container");

    let df = |s: &Store| -> Value {
        let out = s
            .env(&mut Command::new(env!("CARGO_BIN_EXE_podman-storage")))
            .env("TMPDIR", &tmp)
            .args(["--no-progress", "--format", "json", "df"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let before = df(&store);
    let ctrs = items(&before, "external container");
    let dirs = items(&before, "interrupted build dir");
    eprintln!(
        "interrupted build: build cache {}; containers row {}",
        row(&before, "build_cache"),
        row(&before, "containers")["bytes"]
    );
    assert_eq!(ctrs.len(), 1, "{before}");
    let (ctr_dir, ctr_bytes) = &ctrs[0];
    assert!(*ctr_bytes >= 400_000, "RUN wrote 400 kB: {ctr_bytes}");
    assert_eq!(*ctr_bytes, non_dir_bytes(ctr_dir));
    assert_eq!(
        row(&before, "containers")["count"],
        0,
        "not podman's: counted once, in the build cache row"
    );
    assert_eq!(dirs.len(), 1, "{before}");
    assert!(dirs[0].0.starts_with(&tmp));
    assert_eq!(dirs[0].1, du_sb(std::slice::from_ref(&dirs[0].0)));
    for (path, bytes) in items(&before, "blob-info cache") {
        assert_eq!(bytes, std::fs::metadata(&path).unwrap().len());
    }

    // Reclaim for real: df's drop is what the disk got back.
    let roots = [store.graphroot(), tmp.clone()];
    let roots: Vec<&Path> = roots.iter().map(PathBuf::as_path).collect();
    let disk_before = du_sbx(&roots);
    store.podman(&["rm", "-f", &id]);
    std::fs::remove_dir_all(&dirs[0].0).unwrap();
    let disk_after = du_sbx(&roots);
    let after = df(&store);
    let freed = disk_before - disk_after;
    let dropped = before["total_bytes"].as_u64().unwrap() - after["total_bytes"].as_u64().unwrap();
    let said = row(&before, "build_cache")["reclaimable_bytes"]
        .as_u64()
        .unwrap();
    let blob_cache: u64 = items(&before, "blob-info cache").iter().map(|i| i.1).sum();
    eprintln!(
        "reclaim: du freed {freed}, df total dropped {dropped}, build cache reclaimable {said} (blob-info cache {blob_cache} kept)"
    );
    assert!(items(&after, "external container").is_empty());
    assert!(
        within(dropped, freed, 0.5),
        "df dropped {dropped}, disk freed {freed}"
    );
    // The row names what removing its items frees; the container's records
    // go with it (store metadata), so the disk gets back a little more.
    let removed = said - blob_cache;
    assert!(
        removed <= freed && freed - removed < 100_000,
        "{removed} vs {freed}"
    );
}

#[test]
#[ignore = "needs podman"]
fn a_cache_mount_is_counted_where_buildah_keeps_it() {
    let store = Store::build("one-image");
    let tmp = store.dir.path().join("buildtmp");
    let ctx = store.dir.path().join("ctx");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM localhost/solo:1\nRUN --mount=type=cache,target=/cache head -c 300000 /dev/urandom > /cache/blob\n",
    )
    .unwrap();
    let out = store
        .env(&mut Command::new("podman"))
        .env("TMPDIR", &tmp)
        .args(["build", "--network", "none", "-t", "localhost/cached:1"])
        .arg(&ctx)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = store
        .env(&mut Command::new(env!("CARGO_BIN_EXE_podman-storage")))
        .env("TMPDIR", &tmp)
        .args(["--no-progress", "--format", "json", "df"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let df: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mounts = items(&df, "cache mount");
    eprintln!("cache mounts: {mounts:?}");
    assert_eq!(mounts.len(), 1, "{df}");
    let (path, bytes) = &mounts[0];
    // podman 4.3's buildah names it `buildah-cache`; later ones add the uid.
    assert_eq!(path, &tmp.join("buildah-cache"));
    assert!(*bytes >= 300_000, "{bytes}");
    assert_eq!(*bytes, du_sb(std::slice::from_ref(path)));
    // Removing it is what reclaims it: du of the temp dir drops by as much.
    let before = du_sbx(&[&tmp]);
    std::fs::remove_dir_all(path).unwrap();
    assert_eq!(before - du_sbx(&[&tmp]), *bytes);
}
