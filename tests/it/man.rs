//! Man pages are generated from the clap definitions and checked in; this
//! test fails when they are stale. Regenerate with:
//!
//!     UPDATE_MAN=1 cargo test --test it man::

#[allow(dead_code)]
#[path = "../../src/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};

/// `podman-storage.1` for the root, `podman-storage-SUB.1` per subcommand
/// (and `podman-storage-prune-caches.1` for nested ones).
fn pages() -> Vec<(String, String)> {
    // The long version names the commit: pages keep the short one, so they
    // do not go stale with every commit. Subcommand pages list their own
    // options; the root page the globals.
    let mut root = cli::command().long_version(None::<&str>);
    root.build();
    let mut out = Vec::new();
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, String)>) {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd.clone().name(prefix.to_string()))
            .render(&mut buf)
            .unwrap();
        out.push((format!("{prefix}.1"), String::from_utf8(buf).unwrap()));
        // `build()` added clap's `help` subcommand: not a command of ours.
        let real = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help");
        for sub in real {
            walk(sub, &format!("{prefix}-{}", sub.get_name()), out);
        }
    }
    walk(&root, "podman-storage", &mut out);
    out
}

#[test]
fn man_pages_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let update = std::env::var_os("UPDATE_MAN").is_some();
    let pages = pages();
    let mut stale = Vec::new();
    for (name, text) in &pages {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name.clone());
        }
    }
    let expected: Vec<PathBuf> = pages.iter().map(|(n, _)| dir.join(n)).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "1") && !expected.contains(&p) {
            stale.push(format!("{} (no such command)", p.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages: {stale:?}; run UPDATE_MAN=1 cargo test --test it man::"
    );
}

/// clap's `build()` adds a `help` subcommand (and one under each command
/// with subcommands); it is not a command of ours and gets no page.
#[test]
fn no_page_for_clap_help() {
    let names: Vec<String> = pages().into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"podman-storage-prune-caches.1".to_string()));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in names.iter().chain(&on_disk) {
        let words: Vec<&str> = name.trim_end_matches(".1").split('-').collect();
        assert!(
            !words.contains(&"help"),
            "a man page for clap's help: {name}"
        );
    }
}

#[test]
fn cli_definition_is_consistent() {
    cli::command().debug_assert();
}
