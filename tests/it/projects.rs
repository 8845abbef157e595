//! Real-podman tests of the overview and the project detail: two
//! podman-compose projects on one base, checked against the truth on disk.

use crate::common;

use std::path::PathBuf;

use common::{du_sb, file_bytes, within, Store};
use serde_json::Value;

fn row<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no row {id}: {v}"))
}

/// Workspaces for alpha (two tasks) and beta (one), and a config naming them.
fn workspaces(store: &Store) -> (PathBuf, Vec<PathBuf>, Vec<PathBuf>) {
    let ws = store.dir.path().join("ws");
    let mut alpha = Vec::new();
    for (task, kb) in [("t1", 120), ("t2", 80)] {
        let d = ws.join("alpha").join(task);
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/file"), vec![7u8; kb * 1000]).unwrap();
        alpha.push(d);
    }
    let b = ws.join("beta/only");
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(b.join("f"), vec![1u8; 50_000]).unwrap();
    let config = store.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[projects]]\nid = \"alpha\"\nworkspaces = [\"{0}/alpha/*\"]\n\n[[projects]]\nid = \"beta\"\nworkspaces = [\"{0}/beta/*\"]\n",
            ws.display()
        ),
    )
    .unwrap();
    (config, alpha, vec![b])
}

#[test]
#[ignore = "needs podman and podman-compose"]
fn overview_attributes_every_byte_once_to_the_right_project() {
    let store = Store::build("projects");
    let (config, alpha_ws, beta_ws) = workspaces(&store);
    let v = store.json(&["--config", config.to_str().unwrap(), "overview"]);

    // Every byte once: the total is what the disk holds in image layers,
    // volumes and workspaces (the overview does not measure containers).
    let total = v["total_bytes"].as_u64().unwrap();
    let disk =
        store.image_layer_bytes() + store.volume_bytes() + du_sb(&alpha_ws) + du_sb(&beta_ws);
    assert!(within(total, disk, 1.0), "total {total} vs disk {disk}");

    // Images: each project owns its COPY layer; the base is shared.
    let alpha_layer = file_bytes(&store.upper_dir("image", "localhost/alpha_web"));
    let beta_layer = file_bytes(&store.upper_dir("image", "localhost/beta_web"));
    let base_layer = file_bytes(&store.upper_dir("image", "localhost/base:1"));
    let alpha = row(&v, "alpha");
    let beta = row(&v, "beta");
    assert!(
        within(alpha["images_bytes"].as_u64().unwrap(), alpha_layer, 1.0),
        "{alpha} vs {alpha_layer}"
    );
    assert!(
        within(beta["images_bytes"].as_u64().unwrap(), beta_layer, 1.0),
        "{beta} vs {beta_layer}"
    );
    assert!(within(
        row(&v, "(shared)")["images_bytes"].as_u64().unwrap(),
        base_layer,
        1.0
    ));
    assert_eq!(alpha["containers"], 1);
    assert!(
        alpha["containers_bytes"].is_null(),
        "the overview does not measure containers"
    );

    // Volumes: compose-labelled, data written by the running service.
    let vol = |name: &str| {
        PathBuf::from(store.podman(&["volume", "inspect", "--format", "{{.Mountpoint}}", name]))
    };
    assert_eq!(
        alpha["volumes_bytes"].as_u64().unwrap(),
        du_sb(&[vol("alpha_data")])
    );
    assert_eq!(
        row(&v, "(orphans)")["volumes"],
        1,
        "gone_data's project has no container and no config"
    );

    // Workspaces: exactly what du -sb says.
    assert_eq!(alpha["workspaces"], 2);
    assert_eq!(
        alpha["workspaces_bytes"].as_u64().unwrap(),
        du_sb(&alpha_ws)
    );
    assert_eq!(beta["workspaces_bytes"].as_u64().unwrap(), du_sb(&beta_ws));
}

#[test]
#[ignore = "needs podman and podman-compose"]
fn project_detail_measures_its_containers_and_workspaces() {
    let store = Store::build("projects");
    let (config, alpha_ws, _) = workspaces(&store);
    let v = store.json(&["--config", config.to_str().unwrap(), "project", "alpha"]);
    let containers = v["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let upper = file_bytes(&store.upper_dir("container", containers[0]["id"].as_str().unwrap()));
    assert!(upper >= 300_000);
    assert!(within(
        containers[0]["rw_bytes"].as_u64().unwrap(),
        upper,
        1.0
    ));
    assert_eq!(v["workspaces"].as_array().unwrap().len(), 2);
    assert_eq!(v["workspaces_bytes"].as_u64().unwrap(), du_sb(&alpha_ws));
    assert_eq!(v["images"][0]["names"][0], "localhost/alpha_web:latest");

    let out = store.tool(&["--config", config.to_str().unwrap(), "project", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown project \"nope\"") && err.contains("alpha, beta"),
        "{err}"
    );
}

/// An image labelled with a compose project that has no container (what
/// `docker compose build` without `up` leaves, here through podman build's
/// own `--label`, as compose passes it): it owns its layer as `(orphans)`,
/// also where a nameless build step holds the same layer, and the layers it
/// shares with alpha's image are `(shared)`, no longer wholly alpha's.
#[test]
#[ignore = "needs podman and podman-compose"]
fn an_orphan_image_owns_its_layer_and_shares_a_projects_base() {
    let store = Store::build("projects");
    let ctx = store.dir.path().join("gone");
    std::fs::create_dir_all(&ctx).unwrap();
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(ctx.join("data"), data).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM localhost/alpha_web:latest\nCOPY data /gone-data\nLABEL step=last\n",
    )
    .unwrap();
    store.podman(&[
        "build",
        "-q",
        "--label",
        "com.docker.compose.project=gone",
        "--label",
        "com.docker.compose.service=web",
        "-t",
        "localhost/gone_web",
        ctx.to_str().unwrap(),
    ]);
    let v = store.json(&["overview"]);
    let gone_layer = file_bytes(&store.upper_dir("image", "localhost/gone_web"));
    let alpha_layer = file_bytes(&store.upper_dir("image", "localhost/alpha_web"));
    let base_layer = file_bytes(&store.upper_dir("image", "localhost/base:1"));
    let orphans = row(&v, "(orphans)")["images_bytes"].as_u64().unwrap();
    assert!(
        within(orphans, gone_layer, 1.0),
        "(orphans) {orphans} vs its layer {gone_layer}"
    );
    let shared = row(&v, "(shared)")["images_bytes"].as_u64().unwrap();
    assert!(
        within(shared, base_layer + alpha_layer, 1.0),
        "(shared) {shared} vs base {base_layer} + alpha's layer {alpha_layer}"
    );
    let alpha = row(&v, "alpha")["images_bytes"].as_u64().unwrap();
    assert!(
        alpha < alpha_layer / 100,
        "alpha keeps only its image's metadata: {alpha}"
    );
    // Every byte once still: the total is the disk's image layers and volumes.
    let total = v["total_bytes"].as_u64().unwrap();
    let disk = store.image_layer_bytes() + store.volume_bytes();
    assert!(within(total, disk, 1.0), "total {total} vs disk {disk}");
}
