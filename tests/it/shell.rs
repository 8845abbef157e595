//! `shell-init`: the printed function run by real bash, zsh and fish against
//! real podman. A missing shell fails the test (CI installs zsh and fish).

use std::path::Path;
use std::process::Command;

/// A bin dir with `podman-storage` as a fake that prints its arguments, so
/// the routing itself is what is checked.
fn fake_bin(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("podman-storage");
    std::fs::write(
        &fake,
        "#!/bin/sh\nprintf 'ARGS:'; printf ' [%s]' \"$@\"; echo\nexit 7\n",
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
}

fn init(shell: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_podman-storage"))
        .args(["shell-init", shell])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `script` in `shell` after loading the function, with the fake first on PATH.
fn run(shell: &str, dir: &Path, script: &str) -> String {
    let init_file = dir.join(format!("init.{shell}"));
    std::fs::write(&init_file, init(shell)).unwrap();
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    let load = match shell {
        "fish" => format!("source {}", init_file.display()),
        _ => format!(". {}", init_file.display()),
    };
    let out = Command::new(shell)
        .arg("-c")
        .arg(format!("{load}; {script}"))
        .env("PATH", path)
        .output()
        .unwrap_or_else(|e| panic!("{shell} is not installed ({e}): apt-get install -y {shell}"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn status_of(shell: &str) -> &'static str {
    if shell == "fish" {
        "$status"
    } else {
        "$?"
    }
}

#[test]
#[ignore = "needs podman, zsh and fish"]
fn podman_storage_is_routed_and_podman_passes_through() {
    for shell in ["bash", "zsh", "fish"] {
        let dir = tempfile::tempdir().unwrap();
        fake_bin(dir.path());
        let st = status_of(shell);
        let out = run(
            shell,
            dir.path(),
            &format!("podman storage df --format json; echo rc={st}"),
        );
        assert!(
            out.contains("ARGS: [df] [--format] [json]\nrc=7"),
            "{shell}: {out}"
        );

        let out = run(
            shell,
            dir.path(),
            &format!("podman -c far --url=unix:///x.sock storage 'a b' ''; echo rc={st}"),
        );
        assert!(
            out.contains("ARGS: [-c] [far] [--url=unix:///x.sock] [a b] []\nrc=7"),
            "{shell}: {out}"
        );

        // Every other call reaches the real podman, exit code included.
        let out = run(
            shell,
            dir.path(),
            &format!("podman version --format '{{{{.Client.Version}}}}'; echo rc={st}"),
        );
        assert!(out.contains("4.") && out.contains("rc=0"), "{shell}: {out}");
        let out = run(
            shell,
            dir.path(),
            &format!("podman no-such-command >/dev/null 2>&1; echo rc={st}"),
        );
        assert!(out.contains("rc=125"), "{shell}: {out}");
        let out = run(
            shell,
            dir.path(),
            &format!("podman --connection; echo rc={st}"),
        );
        assert!(
            !out.contains("ARGS:"),
            "{shell}: a dangling flag goes to podman: {out}"
        );
    }
}

#[test]
fn the_real_binary_answers_through_the_function() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_podman-storage"),
        bin.join("podman-storage"),
    )
    .unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/podman-4.3.1/base-derived");
    let via_function = run(
        "bash",
        dir.path(),
        &format!("podman storage --replay {} images", fixture.display()),
    );
    let direct = Command::new(env!("CARGO_BIN_EXE_podman-storage"))
        .arg("--replay")
        .arg(&fixture)
        .arg("images")
        .output()
        .unwrap();
    assert_eq!(via_function, String::from_utf8(direct.stdout).unwrap());
}
