//! Snapshot tests: the real binary in replay mode over fixtures recorded from
//! real podman by `fixtures/record.sh` (the tool's own `--record`).

use std::path::{Path, PathBuf};
use std::process::Command;

const VIEWS: &[&[&str]] = &[
    &["df"],
    &["images"],
    &["containers"],
    &["containers", "--size"],
    &["volumes"],
];

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .flat_map(|v| {
            std::fs::read_dir(v)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
        })
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Runs the binary against a recording; nothing from the caller's
/// environment can reach podman or change the output.
fn replay(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_podman-storage"))
        .env_clear()
        .env("PATH", "/nonexistent")
        .env("HOME", "/nonexistent")
        .arg("--replay")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn every_view_of_every_recorded_scenario() {
    let scenarios = scenarios();
    assert!(
        scenarios.len() >= 4,
        "expected at least four recorded scenarios, found {scenarios:?}"
    );
    for dir in scenarios {
        let version = dir
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let scenario = dir.file_name().unwrap().to_string_lossy().into_owned();
        for view in VIEWS {
            for format in ["table", "json"] {
                let mut args = vec!["--format", format];
                args.extend_from_slice(view);
                let (code, stdout, stderr) = replay(&dir, &args);
                let name = format!(
                    "{version}__{scenario}__{}__{format}",
                    view.join("_").replace("--", "")
                );
                insta::assert_snapshot!(
                    name.clone(),
                    format!("exit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}")
                );
                assert_eq!(code, 0, "{name}: {stderr}");
                if format == "json" {
                    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                    assert_eq!(v["schema"], 1, "{name}");
                    assert!(v["total_bytes"].is_u64(), "{name}");
                }
            }
        }
    }
}

#[test]
fn an_unrecorded_command_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = replay(dir.path(), &["images"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`podman images -a --format json` was not recorded"),
        "{stderr}"
    );
}
