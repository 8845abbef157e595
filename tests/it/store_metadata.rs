//! The `Store metadata` row on root podman 4.3 (the machine's own podman),
//! with a running container (its merged mount and shm are other file
//! systems, left out as `du -x` leaves them) and containers that logged to
//! k8s-file logs: df's total against `du -sbx` of the graph root.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{du_sbx, find_sum, within, Store};
use serde_json::Value;

fn read_json(path: &Path) -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
#[ignore = "needs podman"]
fn df_total_is_du_of_the_graph_root_with_running_and_logging_containers() {
    let store = Store::build("base-derived");
    store.podman(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "runner",
        "localhost/base:1",
        "sh",
        "-c",
        "head -c 200000 /dev/urandom | base64; exec sleep 1000",
    ]);
    store.podman(&[
        "run",
        "--network",
        "none",
        "--name",
        "talker",
        "localhost/base:1",
        "sh",
        "-c",
        "head -c 300000 /dev/urandom | base64",
    ]);
    let gr = store.graphroot();
    let df = store.json(&["--no-progress", "df"]);
    let du = du_sbx(&gr);
    let logs = find_sum(&gr, &["-xdev", "-name", "ctr.log", "-type", "f"]);
    assert!(logs > 500_000, "the two containers logged {logs} B");

    // diff-size is c/storage's UncompressedSize: the layer's tar stream,
    // headers and padding included, which take no room on disk. That is
    // all that separates the rows from du.
    let ctr_layers: BTreeSet<String> = read_json(&gr.join("overlay-containers/containers.json"))
        .iter()
        .map(|c| c["layer"].as_str().unwrap().to_string())
        .collect();
    let (mut recorded, mut files) = (0, 0);
    for l in read_json(&gr.join("overlay-layers/layers.json")) {
        let id = l["id"].as_str().unwrap();
        if ctr_layers.contains(id) {
            continue;
        }
        recorded += l["diff-size"].as_u64().unwrap();
        files += find_sum(
            &gr.join("overlay").join(id).join("diff"),
            &["-not", "-type", "d"],
        );
    }
    let tar_overhead = recorded - files;
    // The machine's blob-info cache and temp dirs are build leftovers
    // outside this graph root.
    let outside: u64 = df["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "build_cache")
        .flat_map(|c| c["details"].as_array().unwrap())
        .filter(|d| !Path::new(d["path"].as_str().unwrap()).starts_with(&gr))
        .map(|d| d["bytes"].as_u64().unwrap())
        .sum();
    let total = df["total_bytes"].as_u64().unwrap() - outside;
    let meta = df["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "metadata")
        .unwrap();
    eprintln!(
        "root 4.3: df total {total} (logs {logs}) vs du -sbx {du}; diff-size over the files: {tar_overhead}; metadata {}: {}",
        meta["bytes"], meta["details"]
    );
    assert!(
        within(total, du, 0.5),
        "{total} (logs {logs} in it) vs {du}"
    );
    assert_eq!(
        total - tar_overhead,
        du,
        "every byte of the graph root in exactly one row"
    );
}
