//! Output a user understands without the README (issue 13, item 5): help
//! that lists a subcommand's own options and defines its columns, totals
//! that say what they cover, and the rough edges of the first try, each
//! checked here against the behaviour it replaced.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_podman-storage")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The tool in a fixed environment (no podman on PATH, no config).
fn ours(home: &Path, args: &[&str]) -> Output {
    common::isolate(&mut Command::new(bin()), home)
        .args(args)
        .output()
        .unwrap()
}

/// The tool against a recording: nothing on this machine is read.
fn replay(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .env_clear()
        .env("PATH", "/nonexistent")
        .env("HOME", "/nonexistent")
        .arg("--replay")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn subcommand_help_lists_its_own_options_and_defines_its_columns() {
    let home = tempfile::tempdir().unwrap();
    let root = text(&ours(home.path(), &["--help"]).stdout);
    assert!(root.contains("--format <FORMAT>"), "{root}");
    for (sub, column) in [
        ("df", "RECLAIMABLE"),
        ("images", "UNIQUE"),
        ("containers", "LOGS"),
        ("volumes", "IN USE"),
        ("du", "APPARENT"),
        ("caches", "ORPHANS"),
        ("overview", "WORKSPACES"),
        ("project", "attributed"),
    ] {
        let out = ours(home.path(), &[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        // Option lines start with spaces and a dash; the pointer's prose
        // may name global options.
        let listed: Vec<&str> = help
            .lines()
            .filter(|l| l.trim_start().starts_with('-'))
            .collect();
        for global in ["--format", "--podman", "--engine", "--record", "--timeout"] {
            assert!(
                !listed.iter().any(|l| l.contains(global)),
                "`{sub} --help` lists the global {global}:\n{help}"
            );
        }
        assert!(listed.iter().any(|l| l.contains("--help")), "{help}");
        assert!(
            help.contains("see `podman-storage --help`"),
            "`{sub} --help` has no pointer to the global options:\n{help}"
        );
        assert!(
            help.contains("Example") && help.contains(column),
            "`{sub} --help` does not define {column} with an example:\n{help}"
        );
    }
    // Its own options stay.
    let help = text(&ours(home.path(), &["du", "--help"]).stdout);
    assert!(help.contains("--cross-file-systems"), "{help}");
}

/// Hidden from the subcommand's help, the global options still parse after it.
#[test]
fn global_options_parse_after_the_subcommand() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("f"), vec![7u8; 12_345]).unwrap();
    let f = home.path().join("f");
    let out = ours(
        home.path(),
        &["du", f.to_str().unwrap(), "--format", "json", "--bytes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total_apparent_bytes"], 12_345);
    let out = ours(home.path(), &["du", f.to_str().unwrap(), "--bytes"]);
    let table = text(&out.stdout);
    assert!(table.contains("12345"), "{table}");
}

/// Run as docker's plugin (`docker-storage`), help and errors name the
/// command a docker user typed.
#[test]
fn docker_plugin_help_names_docker_storage() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("docker-storage");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    for args in [&["storage", "--help"][..], &["storage", "df", "--help"]] {
        let out = common::isolate(&mut Command::new(&link), dir.path())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        assert!(help.contains("Usage: docker storage"), "{args:?}:\n{help}");
        assert!(!help.contains("Usage: podman-storage"), "{help}");
    }
}

/// A `--podman` the user named that does not exist is an error, even where
/// the store could be read without it.
#[test]
#[ignore = "needs podman"]
fn a_named_podman_that_does_not_exist_is_an_error() {
    let store = common::Store::build("one-image");
    let ok = store.tool(&["--format", "json", "df"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let out = store.tool(&["--podman", "/nonexistent/podman", "df"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("could not find `/nonexistent/podman`"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

/// ACTIVE means nothing for store metadata and build leftovers: `-`, and
/// the footer defines the column.
#[test]
fn df_defines_active_and_says_what_its_total_covers() {
    let out = replay(&fixture("podman-4.3.1/projects"), &["df"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let row = |name: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row:\n{table}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    // TYPE (two words), TOTAL, ACTIVE, ...
    assert_eq!(row("Store metadata")[3], "-", "{table}");
    assert_eq!(row("Build cache")[3], "-", "{table}");
    assert_ne!(row("Images")[2], "-", "{table}");
    assert!(table.contains("\nACTIVE: "), "{table}");
    assert!(table.contains("\nTotal: "), "{table}");
    assert!(table.contains("\nRECLAIMABLE: "), "{table}");
}

/// The detail's total is its overview row plus its containers and logs,
/// and it says so with the figures; the overview names what it leaves out.
#[test]
fn project_total_is_its_overview_row_plus_containers_and_says_so() {
    let dir = fixture("podman-4.3.1/projects");
    let ov: Value = serde_json::from_slice(&replay(&dir, &["--format", "json"]).stdout).unwrap();
    let row = ov["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "alpha")
        .unwrap()
        .clone();
    let out = replay(&dir, &["--format", "json", "project", "alpha"]);
    let detail: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(detail["row_bytes"], row["total_bytes"]);
    assert_eq!(detail["images_bytes"], row["images_bytes"]);
    let containers = detail["containers_bytes"].as_u64().unwrap();
    assert!(containers > 0, "the project's container wrote 300 kB");
    let table = text(&replay(&dir, &["--bytes", "project", "alpha"]).stdout);
    let line = format!(
        "Total: {} = its overview row {} + containers' writable layers {} + logs {}",
        detail["total_bytes"], row["total_bytes"], containers, detail["logs_bytes"]
    );
    assert!(table.contains(&line), "{line}\n{table}");
    assert!(
        table.contains(&format!("attributed to alpha: {} (", row["images_bytes"])),
        "{table}"
    );
    let overview = text(&replay(&dir, &[]).stdout);
    assert!(
        overview.contains("Writable layers and logs are left out"),
        "{overview}"
    );
}

#[test]
fn empty_sections_print_one_line_not_a_bare_header() {
    let dir = fixture("podman-4.3.1/projects");
    let table = text(&replay(&dir, &["project", "alpha"]).stdout);
    assert!(
        table.contains("WORKSPACES\nno workspaces configured\n"),
        "{table}"
    );
    assert!(!table.contains("PATH  SIZE  FILES"), "{table}");
    let empty = fixture("podman-4.3.1/empty");
    for (view, line) in [
        ("images", "no images\n"),
        ("containers", "no containers\n"),
        ("volumes", "no volumes\n"),
    ] {
        let out = replay(&empty, &[view]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), line, "{view}");
    }
}

/// `project` without an id lists the projects: the compose projects of the
/// recording's containers, each with its overview row's total.
#[test]
fn project_without_id_lists_the_projects() {
    let dir = fixture("podman-4.3.1/projects");
    let out = replay(&dir, &["--format", "json", "project"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The compose labels of the containers in the recorded `podman ps -a`.
    let ps: Value = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            serde_json::from_slice::<Value>(&std::fs::read(e.unwrap().path()).ok()?).ok()
        })
        .find(|r| r["argv"][1] == "ps")
        .expect("a recorded `podman ps`");
    let ps: Value = serde_json::from_str(ps["stdout"].as_str().unwrap()).unwrap();
    let labelled: std::collections::BTreeSet<&str> = ps
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["Labels"]["io.podman.compose.project"].as_str())
        .collect();
    let ov: Value = serde_json::from_slice(&replay(&dir, &["--format", "json"]).stdout).unwrap();
    let projects = list["projects"].as_array().unwrap();
    let ids: std::collections::BTreeSet<&str> =
        projects.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, labelled, "{list}");
    for p in projects {
        let id = p["id"].as_str().unwrap();
        assert_eq!(p["kind"], "compose");
        let row = ov["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap();
        assert_eq!(p["total_bytes"], row["total_bytes"]);
        assert_eq!(p["containers"], row["containers"]);
    }
    let table = text(&replay(&dir, &["project"]).stdout);
    assert!(table.starts_with("PROJECT  KIND"), "{table}");
}

/// A config pattern and a compose label that disagree: one warning naming
/// the image, the pattern and the label's project; the config wins.
#[test]
fn a_config_pattern_against_a_compose_label_is_warned_about_once() {
    let dir = fixture("podman-4.3.1/projects");
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        "[[projects]]\nid = \"web\"\nimages = [\"localhost/alpha_*\"]\n",
    )
    .unwrap();
    let out = replay(
        &dir,
        &["--config", config.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "a warning, not a failure");
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    for part in [
        "localhost/alpha_web",
        "\"localhost/alpha_*\"",
        "project web",
        "project alpha",
    ] {
        assert!(lines[0].contains(part), "{part} missing: {}", lines[0]);
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
    // Without the conflict, no warning.
    std::fs::write(
        &config,
        "[[projects]]\nid = \"alpha\"\nimages = [\"localhost/alpha_*\"]\n",
    )
    .unwrap();
    let out = replay(&dir, &["--config", config.to_str().unwrap()]);
    assert_eq!(text(&out.stderr), "");
}

/// One policy for a path the user named that does not exist: a warning line
/// and exit 1, whether named to `prune caches` or listed in the config's
/// `[caches] paths` (for the overview and `df`).
#[test]
fn a_named_cache_that_does_not_exist_is_a_warning_and_exit_1_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let gone = tmp.path().join("no-cache");
    let line = format!(
        "podman-storage: warning: {}: does not exist",
        gone.display()
    );
    let out = ours(tmp.path(), &["prune", "caches", gone.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr).trim_end(), line);

    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[caches]\npaths = [\"{}\"]\n", gone.display()),
    )
    .unwrap();
    let dir = fixture("podman-4.3.1/projects");
    for view in [&["overview"][..], &["df"]] {
        let mut args = vec!["--config", config.to_str().unwrap()];
        args.extend_from_slice(view);
        let out = replay(&dir, &args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{view:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert_eq!(err.matches(&line).count(), 1, "{view:?}: {err}");
    }
    // Without the config, the same recording reports cleanly.
    assert_eq!(replay(&dir, &["df"]).status.code(), Some(0));
}
