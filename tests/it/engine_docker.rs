//! `--engine docker` through the binary and through the docker CLI plugin,
//! against podman's Docker API socket (a real Docker API on one machine).

use crate::common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{within, Store};
use serde_json::Value;

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(store: &Store) -> (Service, String) {
    let url = format!("unix://{}", store.dir.path().join("docker.sock").display());
    let child = store
        .env(Command::new("podman").args(["system", "service", "--time=0", &url]))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Command::new("docker")
        .args(["-H", &url, "version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(
            Instant::now() < deadline,
            "the Docker API on {url} did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Service(child), url)
}

fn json(out: std::process::Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
#[ignore = "needs podman and the docker CLI"]
fn docker_engine_agrees_with_podman_on_the_same_store() {
    let store = Store::build("base-derived");
    let (_svc, url) = serve(&store);
    let local = store.json(&["df"]);
    let docker = json(
        Command::new(env!("CARGO_BIN_EXE_podman-storage"))
            .args([
                "--engine", "docker", "--url", &url, "--format", "json", "df",
            ])
            .output()
            .unwrap(),
    );
    let images = |v: &Value| v["components"][0]["bytes"].as_u64().unwrap();
    assert!(
        within(images(&docker), images(&local), 0.1),
        "{} vs {}",
        images(&docker),
        images(&local)
    );
    assert_eq!(
        docker["components"][1]["bytes"], local["components"][1]["bytes"],
        "writable layers"
    );

    // The same through `docker -H ... storage`, the CLI plugin.
    let cfg = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(cfg.path().join("cli-plugins")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_podman-storage"),
        cfg.path().join("cli-plugins/docker-storage"),
    )
    .unwrap();
    let plugin = json(
        Command::new("docker")
            .env("DOCKER_CONFIG", cfg.path())
            .args(["-H", &url, "storage", "--format", "json", "df"])
            .output()
            .unwrap(),
    );
    assert_eq!(plugin["components"], docker["components"]);
}

#[test]
#[ignore = "needs the docker CLI"]
fn unreachable_daemon_is_one_line_and_the_rest_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ws/t1")).unwrap();
    std::fs::write(dir.path().join("ws/t1/f"), vec![0u8; 5000]).unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[[projects]]\nid = \"p\"\nworkspaces = [\"{}/ws/*\"]\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_podman-storage"))
        .args([
            "--engine",
            "docker",
            "--url",
            "unix:///nonexistent/docker.sock",
            "--config",
        ])
        .arg(&config)
        .args(["--format", "json", "overview"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("unix:///nonexistent/docker.sock") && err.contains("unreachable"),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "p")
        .unwrap();
    assert!(p["workspaces_bytes"].as_u64().unwrap() >= 5000);
}

#[test]
#[ignore = "needs the docker CLI"]
fn auto_picks_docker_only_when_podman_is_absent() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let docker = which_docker();
    let conf = dir.path().join("storage.conf");
    std::fs::write(
        &conf,
        format!("[storage]\ngraphroot = \"{}/root\"\n", dir.path().display()),
    )
    .unwrap();
    std::os::unix::fs::symlink(&docker, bin.join("docker")).unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_podman-storage"))
            .env("PATH", &bin)
            .env("DOCKER_HOST", "unix:///nonexistent/auto.sock")
            // An empty store: nothing local to read instead of asking podman.
            .env("CONTAINERS_STORAGE_CONF", &conf)
            .env_remove("PODMAN_STORAGE_PODMAN")
            .env_remove("PODMAN_STORAGE_ENGINE")
            .args(extra)
            .arg("images")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        (out.status.code(), text)
    };
    // No podman on PATH, a real docker: docker is asked.
    let (code, err) = run(&[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("docker daemon at unix:///nonexistent/auto.sock"),
        "{err}"
    );
    // Naming podman means podman, found or not.
    let (code, err) = run(&["--podman", "/nonexistent/podman"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("could not find `/nonexistent/podman`"),
        "{err}"
    );
}

fn which_docker() -> std::path::PathBuf {
    let out = Command::new("sh")
        .args(["-c", "command -v docker"])
        .output()
        .unwrap();
    std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}
