//! The docker CLI plugin protocol, driven by the real docker CLI: a
//! `docker-storage` symlink in `$DOCKER_CONFIG/cli-plugins` makes
//! `docker storage ...` run us.

use std::process::Command;

fn docker(config: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new("docker")
        .env("DOCKER_CONFIG", config)
        .args(args)
        .output()
        .expect("the docker CLI is installed (apt-get install -y docker.io, or docker-ce-cli)");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
#[ignore = "needs the docker CLI"]
fn docker_finds_and_runs_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("cli-plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_podman-storage"),
        plugins.join("docker-storage"),
    )
    .unwrap();

    // docker lists it from its metadata...
    let (code, help) = docker(dir.path(), &["--help"]);
    assert_eq!(code, 0);
    assert!(
        help.contains("storage*") && help.contains("Exact-once storage accounting"),
        "{help}"
    );
    // ...and runs it with `storage` and the arguments.
    let (code, out) = docker(dir.path(), &["storage", "--version"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("podman-storage "), "{out}");
    let (code, out) = docker(dir.path(), &["storage", "shell-init", "bash"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("podman()"), "{out}");
}
