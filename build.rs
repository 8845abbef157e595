//! Embeds the git commit the binary is built from, for `--version`.
//! Reads git only and writes nothing into the source tree; outside a git
//! checkout of this crate (a crates.io tarball) the commit is "unknown".

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    // Only our own checkout: a crate unpacked inside some other repository
    // must not report that repository's commit.
    let ours = git(&manifest, &["rev-parse", "--show-toplevel"])
        .and_then(|top| Path::new(&top).canonicalize().ok())
        .zip(manifest.canonicalize().ok())
        .is_some_and(|(top, manifest)| top == manifest);
    let commit = ours
        .then(|| git(&manifest, &["rev-parse", "--short", "HEAD"]))
        .flatten();
    println!(
        "cargo:rustc-env=PODMAN_STORAGE_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!("cargo:rerun-if-changed=build.rs");
    if !ours {
        return;
    }
    // Rerun when HEAD moves: HEAD itself (a checkout) and the branch it
    // names (a commit), loose or packed. Only existing files: cargo reruns
    // a script on every build while a listed file is missing.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(&manifest, &["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        let Some(path) = git(&manifest, &["rev-parse", "--git-path", &name]) else {
            continue;
        };
        let path = manifest.join(path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
