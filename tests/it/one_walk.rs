//! One walker, one inode set per report: workspaces, shared mounts and
//! caches are measured together, so a hard-linked file counts once across
//! all of them, and `project ID` shows the figures of its overview row.
//! The store is an empty recorded one; every figure is checked against GNU
//! `du`, which counts a hard link once across its arguments.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn replay() -> PathBuf {
    common::root().join("fixtures/podman-4.3.1/empty")
}

/// The JSON of a view that exits with `code` (1: it warned).
fn view_exiting(tmp: &Path, config: &Path, args: &[&str], code: i32) -> Value {
    let mut c = Command::new(env!("CARGO_BIN_EXE_podman-storage"));
    common::isolate(&mut c, &tmp.join("home"))
        .arg("--config")
        .arg(config)
        .arg("--replay")
        .arg(replay())
        .args(["--format", "json"])
        .args(args);
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

fn view(tmp: &Path, config: &Path, args: &[&str]) -> Value {
    view_exiting(tmp, config, args, 0)
}

fn row<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no row {id}: {v}"))
}

/// `du -sb A B ...`, one figure per argument: each inode counts in the
/// first argument that holds it, a directory inside an earlier one nowhere.
fn du_each(dirs: &[&Path]) -> Vec<u64> {
    let out = Command::new("du").arg("-sb").args(dirs).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

fn write(path: &Path, len: usize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, vec![7u8; len]).unwrap();
}

#[test]
fn a_file_hard_linked_between_a_workspace_and_a_cache_counts_once() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws/p/t1");
    let cache = tmp.path().join("cache");
    write(&ws.join("big"), 300_000);
    write(&cache.join("blobs/other"), 5_000);
    std::fs::hard_link(ws.join("big"), cache.join("blobs/big")).unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[projects]]\nid = \"p\"\nworkspaces = [\"{}/ws/p/*\"]\n\n[caches]\npaths = [{:?}]\n",
            tmp.path().display(),
            cache.display().to_string()
        ),
    )
    .unwrap();

    let v = view(tmp.path(), &config, &[]);
    let du = du_each(&[&ws, &cache]);
    let total = v["total_bytes"].as_u64().unwrap();
    assert_eq!(total, du.iter().sum::<u64>(), "{v}");
    assert_eq!(row(&v, "p")["workspaces_bytes"], du[0]);
    assert_eq!(row(&v, "(global)")["caches_bytes"], du[1]);
    // The link is in the workspace's figure, not the cache's.
    assert!(du[1] < 300_000, "du counted the link once: {du:?}");

    // The caches view counts the same bytes as the overview row.
    let c = view(tmp.path(), &config, &["caches"]);
    assert_eq!(c["total_bytes"], du_each(&[&cache])[0], "{c}");
}

#[test]
fn project_detail_equals_its_overview_row_with_nesting_and_hard_links() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("ws/a");
    let inner = a.join("inner");
    let b = tmp.path().join("ws/b");
    write(&a.join("shared"), 200_000);
    write(&inner.join("own"), 40_000);
    write(&b.join("own"), 70_000);
    std::fs::hard_link(a.join("shared"), b.join("link")).unwrap();
    let config = tmp.path().join("config.toml");
    // b names a directory inside a's workspace, and b's own workspace holds
    // a hard link to a file of a's.
    std::fs::write(
        &config,
        format!(
            "[[projects]]\nid = \"a\"\nworkspaces = [{:?}]\n\n[[projects]]\nid = \"b\"\nworkspaces = [{:?}, {:?}]\n",
            a.display().to_string(),
            inner.display().to_string(),
            b.display().to_string()
        ),
    )
    .unwrap();

    // Both views warn that b's inner workspace counts in a's.
    let overview = view_exiting(tmp.path(), &config, &[], 1);
    assert_eq!(
        overview["warnings"].as_array().unwrap().len(),
        1,
        "{overview}"
    );
    let du = du_each(&[&a, &b]);
    assert_eq!(row(&overview, "a")["workspaces_bytes"], du[0], "{overview}");
    assert_eq!(row(&overview, "b")["workspaces_bytes"], du[1], "{overview}");
    for id in ["a", "b"] {
        let detail = view_exiting(tmp.path(), &config, &["project", id], (id == "b").into());
        assert_eq!(
            detail["workspaces_bytes"],
            row(&overview, id)["workspaces_bytes"],
            "project {id}: {detail}"
        );
    }
}
