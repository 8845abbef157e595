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
    &["overview"],
];

/// Views recorded for one scenario only.
const PROJECT_VIEW: (&str, &[&str]) = ("projects", &["project", "alpha"]);

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
        // Ages (CREATED, LAST USED) from a fixed now, not the day the test runs.
        .env("PODMAN_STORAGE_NOW", "2026-12-01T00:00:00Z")
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
        let extra = (scenario == PROJECT_VIEW.0).then_some(PROJECT_VIEW.1);
        for view in VIEWS.iter().copied().chain(extra) {
            for format in ["table", "json"] {
                let mut args = vec!["--format", format];
                args.extend_from_slice(view);
                let (code, stdout, stderr) = replay(&dir, &args);
                // The store's own files and podman's CLI must tell the same story.
                let cli: Vec<&str> = ["--cli-only"].iter().chain(&args).copied().collect();
                let (cli_code, cli_stdout, cli_stderr) = replay(&dir, &cli);
                let name = format!(
                    "{version}__{scenario}__{}__{format}",
                    view.join("_").replace("--", "")
                );
                // podman 5's `ps --size` adds the container's own files (its
                // OCI config, hosts, ...) to the writable layer; the store
                // path counts the layer as podman 4 does. `df` has rows only
                // the store path can have (store metadata, build cache).
                // Those views are pinned per path, and df's shared rows held
                // against each other.
                let podman5 = version.starts_with("podman-5");
                let per_path = view == ["df"] || (podman5 && view == ["containers", "--size"]);
                if per_path {
                    insta::assert_snapshot!(
                        format!("{name}__cli"),
                        format!(
                            "exit: {cli_code}\n--- stdout\n{cli_stdout}--- stderr\n{cli_stderr}"
                        )
                    );
                    if view == ["df"] && format == "json" {
                        let rows = |text: &str| -> Vec<serde_json::Value> {
                            let v: serde_json::Value = serde_json::from_str(text).unwrap();
                            v["components"].as_array().unwrap().clone()
                        };
                        let store = rows(&stdout);
                        let cli = rows(&cli_stdout);
                        for row in &cli {
                            if podman5 && row["kind"] == "containers" {
                                continue;
                            }
                            let same = store.iter().find(|r| r["kind"] == row["kind"]);
                            assert_eq!(same, Some(row), "{name}: {} row", row["kind"]);
                        }
                        let only_store: Vec<&serde_json::Value> = store
                            .iter()
                            .filter(|r| !cli.iter().any(|c| c["kind"] == r["kind"]))
                            .map(|r| &r["kind"])
                            .collect();
                        assert_eq!(only_store, ["metadata", "build_cache"], "{name}");
                    }
                } else {
                    assert_eq!(
                        (code, &stdout, &stderr),
                        (cli_code, &cli_stdout, &cli_stderr),
                        "{scenario} {args:?}: the local store and podman's CLI disagree"
                    );
                }
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

/// CREATED from the store's records (images.json, libpod's database) and
/// from podman's JSON: every image, container and volume has one, and the
/// two paths give the same, on podman 4.3 (bolt) and 5.4 (SQLite).
#[test]
fn both_paths_give_every_object_the_same_creation_time() {
    let mut seen = 0;
    for dir in scenarios() {
        for (view, list, key) in [
            ("images", "images", "id"),
            ("containers", "containers", "id"),
            ("volumes", "volumes", "name"),
        ] {
            let created = |extra: &[&str]| -> Vec<(String, String)> {
                let args: Vec<&str> = extra
                    .iter()
                    .copied()
                    .chain(["--format", "json", view])
                    .collect();
                let (code, stdout, stderr) = replay(&dir, &args);
                assert_eq!(code, 0, "{dir:?} {args:?}: {stderr}");
                let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                v[list]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| {
                        let t = o["created"].as_str().unwrap_or_else(|| {
                            panic!("{dir:?} {args:?}: {} has no creation time", o[key])
                        });
                        (o[key].as_str().unwrap().to_string(), t.to_string())
                    })
                    .collect()
            };
            let store = created(&[]);
            assert_eq!(store, created(&["--cli-only"]), "{dir:?} {view}");
            seen += store.len();
        }
    }
    assert!(seen >= 20, "the fixtures hold objects to compare: {seen}");
}

/// `--sort`, `--top` and `--project` on the recorded compose projects, by
/// both paths alike: the order follows the unsorted report's own figures,
/// and the table's footer says what the total covers.
#[test]
fn sort_top_and_project_on_a_recorded_store() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/podman-4.3.1/projects");
    let json = |args: &[&str]| -> serde_json::Value {
        let all: Vec<&str> = ["--format", "json"].iter().chain(args).copied().collect();
        let (code, stdout, stderr) = replay(&dir, &all);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let cli: Vec<&str> = ["--cli-only"].iter().chain(&all).copied().collect();
        assert_eq!(replay(&dir, &cli).1, stdout, "{args:?}: both paths");
        serde_json::from_str(&stdout).unwrap()
    };
    let all = json(&["images"]);
    let mut by_unique: Vec<(u64, String)> = all["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["unique_bytes"].as_u64().unwrap(),
                i["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_unique.sort_by(|a, b| b.cmp(a));
    let top = json(&["images", "--sort", "unique", "--top", "2"]);
    let ids: Vec<&str> = top["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [by_unique[0].1.as_str(), by_unique[1].1.as_str()]);
    assert_eq!(top["total_bytes"], all["total_bytes"]);
    assert_eq!(top["selection"]["matched"], by_unique.len());

    // Project alpha: its compose-labelled container and volume, and the
    // image that container runs.
    let c = json(&["containers", "--project", "alpha"]);
    let names: Vec<&str> = c["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha_web_1"]);
    let v = json(&["volumes", "--project", "alpha"]);
    assert_eq!(v["volumes"][0]["name"], "alpha_data");
    assert_eq!(v["volumes"].as_array().unwrap().len(), 1);
    assert_eq!(v["total_bytes"], v["volumes"][0]["bytes"]);
    let i = json(&["images", "--project", "alpha", "--sort", "created"]);
    assert_eq!(i["images"][0]["names"][0], "localhost/alpha_web:latest");
    assert_eq!(i["images"].as_array().unwrap().len(), 1);

    // Sorting containers by size measures them, as --size would.
    let sized = json(&["containers", "--sort", "size"]);
    let rw: Vec<u64> = sized["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rw_bytes"].as_u64().expect("measured"))
        .collect();
    assert!(
        rw.len() >= 2 && rw.windows(2).all(|w| w[0] >= w[1]),
        "{rw:?}"
    );
    assert_eq!(
        sized["total_bytes"],
        json(&["containers", "--size"])["total_bytes"]
    );

    let (code, stdout, _) = replay(&dir, &["volumes", "--sort", "size", "--top", "1"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("1 of 3 volumes shown (--top 1); the total covers all 3\n"),
        "{stdout}"
    );
    let (code, _, stderr) = replay(&dir, &["images", "--project", "nope"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "podman-storage: error: unknown project \"nope\"; known projects: alpha, beta\n"
    );
    let (code, _, stderr) = replay(&dir, &["volumes", "--sort", "unique"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "podman-storage: error: --sort unique does not apply to volumes; it sorts by size, created, name\n"
    );
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

/// The overview over a recorded store plus a config whose workspaces and
/// shared mount are trees made here: temp paths are redacted.
#[test]
fn overview_with_config_and_workspaces() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/podman-4.3.1/projects");
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    for (task, bytes) in [
        ("alpha/t1", 120_000),
        ("alpha/t2", 80_000),
        ("beta/only", 50_000),
    ] {
        std::fs::create_dir_all(ws.join(task)).unwrap();
        std::fs::write(ws.join(task).join("f"), vec![1u8; bytes]).unwrap();
    }
    std::fs::create_dir_all(tmp.path().join("shared")).unwrap();
    std::fs::write(tmp.path().join("shared/cache"), vec![2u8; 30_000]).unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[projects]]\nid = \"alpha\"\nworkspaces = [\"{0}/alpha/*\"]\n\n\
             [[projects]]\nid = \"beta\"\nworkspaces = [\"{0}/beta/*\", \"{0}/missing/*\"]\n\n\
             [[projects]]\nid = \"idle\"\n\n\
             [shared]\nmounts = [\"{1}/shared\"]\n\n[global]\nimages = [\"^localhost/base$\"]\n",
            ws.display(),
            tmp.path().display()
        ),
    )
    .unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex::escape(&tmp.path().display().to_string()), "[TMP]");
    settings.bind(|| {
        for format in ["table", "json"] {
            let (code, stdout, stderr) = replay(
                &dir,
                &[
                    "--config",
                    config.to_str().unwrap(),
                    "--format",
                    format,
                    "overview",
                ],
            );
            insta::assert_snapshot!(
                format!("projects_with_config__overview__{format}"),
                format!("exit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}")
            );
            // The missing workspace root is a warning: the report is printed, exit 1.
            assert_eq!(code, 1, "{stderr}");
            assert!(stderr.contains("missing does not exist"), "{stderr}");
        }
        let (code, stdout, _) = replay(
            &dir,
            &[
                "--config",
                config.to_str().unwrap(),
                "--format",
                "json",
                "project",
                "alpha",
            ],
        );
        assert_eq!(code, 0);
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["workspaces"].as_array().unwrap().len(), 2);
    });
}

/// `why` over the recordings: per scenario, the targets it has.
const WHY_TARGETS: &[(&str, &[&str])] = &[
    ("base-derived", &["localhost/base:1", "app1:1", "running"]),
    ("volumes-dangling", &["localhost/tool:1", "data", "spare"]),
    ("one-image", &["solo:1"]),
];

#[test]
fn why_over_every_recorded_scenario() {
    let mut seen = 0;
    for dir in scenarios() {
        let version = dir
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let scenario = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Some((_, targets)) = WHY_TARGETS.iter().find(|(s, _)| *s == scenario) else {
            continue;
        };
        for target in *targets {
            seen += 1;
            let name = format!(
                "{version}__{scenario}__why_{}",
                target.replace([':', '/'], "_")
            );
            let (code, table, stderr) = replay(&dir, &["why", target]);
            assert_eq!(code, 0, "{name}: {stderr}");
            insta::assert_snapshot!(
                name.clone(),
                format!("exit: {code}\n--- stdout\n{table}--- stderr\n{stderr}")
            );
            let (_, json, _) = replay(&dir, &["--format", "json", "why", target]);
            let (_, cli, _) = replay(&dir, &["--cli-only", "--format", "json", "why", target]);
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            let c: serde_json::Value = serde_json::from_str(&cli).unwrap();
            assert_eq!(v["schema"], 1, "{name}");
            // Both paths find the same object and, except for volumes
            // (podman's CLI does not say who mounts one), the same holders.
            assert_eq!(v["target"]["id"], c["target"]["id"], "{name}");
            if v["target"]["kind"] != "volume" {
                let holders = |v: &serde_json::Value| -> Vec<(String, String)> {
                    v["holders"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| (h["relation"].to_string(), h["id"].to_string()))
                        .collect()
                };
                assert_eq!(holders(&v), holders(&c), "{name}");
            }
        }
    }
    assert!(seen >= 10, "only {seen} why targets replayed");
}
