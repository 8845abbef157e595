//! Remote hosts for real: two stores, each served by `podman system service`
//! on its own socket and registered as connections, plus one that is down.

use crate::common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::Store;
use serde_json::Value;

/// A `podman system service` for a store, killed on drop.
struct Service {
    child: Child,
    url: String,
}

impl Service {
    fn start(store: &Store) -> Service {
        let url = format!("unix://{}", store.dir.path().join("api.sock").display());
        let child = store
            .env(Command::new("podman").args(["system", "service", "--time=0", &url]))
            .spawn()
            .unwrap();
        // Bounded poll until it answers.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = Command::new("podman")
                .args(["--url", &url, "version"])
                .output()
                .is_ok_and(|o| o.status.success());
            if up {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "podman system service on {url} did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Service { child, url }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client containers.conf naming the connections.
fn client_conf(dir: &Path, hosts: &[(&str, &str)]) -> std::path::PathBuf {
    let mut text = String::from("[engine]\n[engine.service_destinations]\n");
    for (name, uri) in hosts {
        text.push_str(&format!(
            "[engine.service_destinations.{name}]\nuri = \"{uri}\"\n"
        ));
    }
    let path = dir.join("client-containers.conf");
    std::fs::write(&path, text).unwrap();
    path
}

fn tool(conf: &Path, args: &[&str]) -> (i32, String, String) {
    // A HOME of its own: the user's own podman connections never count.
    let home = conf.with_file_name("home");
    let out = common::isolate(
        &mut Command::new(env!("CARGO_BIN_EXE_podman-storage")),
        &home,
    )
    .env("CONTAINERS_CONF", conf)
    .args(args)
    .output()
    .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[ignore = "needs podman"]
fn all_connections_reports_each_host_and_survives_a_dead_one() {
    let a = Store::build("base-derived");
    let b = Store::build("volumes-dangling");
    let (sa, sb) = (Service::start(&a), Service::start(&b));
    let tmp = tempfile::tempdir().unwrap();
    let conf = client_conf(
        tmp.path(),
        &[
            ("hosta", &sa.url),
            ("hostb", &sb.url),
            ("down", "unix:///nonexistent/podman.sock"),
        ],
    );

    let (code, stdout, stderr) = tool(&conf, &["--format", "json", "--all-connections"]);
    assert_eq!(code, 1, "a dead host makes the report partial: {stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let host = |n: &str| {
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["connection"] == n)
            .unwrap()
            .clone()
    };
    assert!(host("down")["report"].is_null());
    assert!(
        host("down")["error"].as_str().unwrap().contains("podman"),
        "{}",
        host("down")
    );
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("connection down:"))
            .count(),
        1,
        "{stderr}"
    );

    // Each live host's images match what the tool says of that store locally;
    // over the CLI an image's own metadata (~1 kB) is folded into its
    // layers' figures, so they agree to 0.1%, not to the byte.
    for (name, store) in [("hosta", &a), ("hostb", &b)] {
        let remote = host(name)["report"].clone();
        let local = store.json(&["overview"]);
        let images = |r: &Value| -> u64 {
            r["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["images_bytes"].as_u64().unwrap())
                .sum()
        };
        assert!(
            common::within(images(&remote), images(&local), 0.1),
            "{name}: {} vs {}",
            images(&remote),
            images(&local)
        );
    }
    let sum: u64 = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["report"]["total_bytes"].as_u64())
        .sum::<u64>()
        + v["local"]["total_bytes"].as_u64().unwrap();
    assert_eq!(sum, v["total_bytes"].as_u64().unwrap());

    // A wrong name lists the configured ones.
    let (code, _, stderr) = tool(&conf, &["--connection", "nope", "df"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown connection \"nope\"; configured connections: down, hosta, hostb")
            || stderr.contains(
                "unknown connection \"nope\"; configured connections: hosta, hostb, down"
            ),
        "{stderr}"
    );

    // A named connection works like --url.
    let (code, stdout, stderr) = tool(
        &conf,
        &["--connection", "hosta", "--format", "json", "images"],
    );
    assert_eq!(code, 0, "{stderr}");
    let remote: Value = serde_json::from_str(&stdout).unwrap();
    let local = a.json(&["images"]);
    assert!(common::within(
        remote["total_bytes"].as_u64().unwrap(),
        local["total_bytes"].as_u64().unwrap(),
        0.1
    ));
    assert_eq!(
        remote["images"].as_array().unwrap().len(),
        local["images"].as_array().unwrap().len()
    );
}
