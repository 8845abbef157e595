//! `--version`: the version, the commit the binary was built from, and the
//! podman setups it is tested with, which must be README's "Tested setups".

use std::process::Command;

fn version(flag: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_podman-storage"))
        .arg(flag)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn short_version_is_one_line() {
    assert_eq!(
        version("-V"),
        format!("podman-storage {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn long_version_names_the_commit() {
    let out = version("--version");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(format!("podman-storage {}", env!("CARGO_PKG_VERSION")).as_str())
    );
    let head = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .expect("git is installed");
    assert!(head.status.success(), "a git checkout");
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(
        lines.next(),
        Some(format!("commit {}", head.trim()).as_str())
    );
}

/// Each row of README's table (podman version, user, driver, database)
/// is on the `--version` line of its podman, and each podman there has a
/// row: one set of facts, said twice.
#[test]
fn long_version_lists_the_tested_setups() {
    let out = version("--version");
    let tested: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("podman "))
        .collect();
    assert!(!tested.is_empty(), "{out}");

    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("### Tested setups")
        .nth(1)
        .expect("README has a Tested setups section");
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip_while(|l| !l.starts_with("| podman |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert!(rows.len() >= 2, "{table}");

    let mut versions_in_readme = Vec::new();
    for row in &rows {
        // "4.3.1 (Debian 12)", "rootless, no storage.conf", "overlay (native)", "SQLite"
        let podman = row[0];
        let user = row[1].split([',', ' ']).next().unwrap();
        let driver = row[2].split(' ').next().unwrap();
        let line = tested
            .iter()
            .find(|l| l.starts_with(podman))
            .unwrap_or_else(|| panic!("README's podman {podman} is not in --version:\n{out}"));
        assert!(line.contains(user), "{user} (README) not in `{line}`");
        assert!(line.contains(driver), "{driver} (README) not in `{line}`");
        // "both" is a row for a store holding both databases.
        if row[3] != "both" {
            assert!(line.contains(row[3]), "{} (README) not in `{line}`", row[3]);
        }
        versions_in_readme.push(podman.split(' ').next().unwrap());
    }
    for line in &tested {
        let v = line.split(' ').next().unwrap();
        assert!(
            versions_in_readme.contains(&v),
            "podman {v} in --version has no README row"
        );
    }
}
