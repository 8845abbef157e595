//! Shared by the real-podman tests: a scenario store built by
//! `tests/scenarios/build.sh` in an isolated graphroot, and independent
//! measures of the truth on disk (find, du), never our own walker.

#![allow(dead_code)]

pub mod scene;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A scenario store, destroyed on drop.
pub struct Store {
    pub dir: tempfile::TempDir,
}

impl Store {
    /// Builds SCENARIO; fails (never skips) when podman is missing.
    pub fn build(scenario: &str) -> Store {
        let dir = tempfile::Builder::new()
            .prefix("pstest-")
            .tempdir()
            .unwrap();
        let out = Command::new("bash")
            .arg(root().join("tests/scenarios/build.sh"))
            .args([scenario, dir.path().to_str().unwrap()])
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "building scenario {scenario} failed (are podman and podman-compose installed?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Store { dir }
    }

    pub fn graphroot(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Points podman (and the tool) at this store only, in an environment
    /// of its own (see [`isolate`]).
    pub fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        isolate(cmd, &self.dir.path().join("home"))
            .env(
                "CONTAINERS_STORAGE_CONF",
                self.dir.path().join("storage.conf"),
            )
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
    }

    pub fn podman(&self, args: &[&str]) -> String {
        let out = self
            .env(Command::new("podman").args(args))
            .output()
            .expect("podman runs");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn tool(&self, args: &[&str]) -> Output {
        self.env(Command::new(env!("CARGO_BIN_EXE_podman-storage")).args(args))
            .output()
            .unwrap()
    }

    /// Runs the tool with `--format json` and expects exit code 0.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let out = self.tool(&all);
        assert_eq!(
            out.status.code(),
            Some(0),
            "podman-storage {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A container's or image's top layer directory, from podman's inspect.
    pub fn upper_dir(&self, kind: &str, name: &str) -> PathBuf {
        PathBuf::from(self.podman(&[
            kind,
            "inspect",
            "--format",
            "{{.GraphDriver.Data.UpperDir}}",
            name,
        ]))
    }

    /// Truth for images: file bytes in every image layer's diff dir (every
    /// overlay dir that is not a container's upper dir).
    pub fn image_layer_bytes(&self) -> u64 {
        let uppers: Vec<PathBuf> = self.container_upper_dirs();
        let mut total = 0;
        for entry in std::fs::read_dir(self.graphroot().join("overlay")).unwrap() {
            let diff = entry.unwrap().path().join("diff");
            if diff.is_dir() && !uppers.contains(&diff) {
                total += file_bytes(&diff);
            }
        }
        total
    }

    /// `du -sb` of every volume's mountpoint, as podman lists them.
    pub fn volume_bytes(&self) -> u64 {
        let dirs: Vec<PathBuf> = self
            .podman(&["volume", "ls", "--format", "{{.Mountpoint}}"])
            .lines()
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect();
        if dirs.is_empty() {
            0
        } else {
            du_sb(&dirs)
        }
    }

    pub fn container_upper_dirs(&self) -> Vec<PathBuf> {
        self.podman(&["ps", "-aq", "--no-trunc"])
            .lines()
            .filter(|l| !l.is_empty())
            .map(|id| self.upper_dir("container", id))
            .collect()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("tests/scenarios/destroy.sh"))
            .arg(self.dir.path())
            .status();
    }
}

/// A fixed environment, as uv's and ruff's tests have: nothing of the
/// developer's own leaks in (no `PODMAN_STORAGE_*`, `XDG_*`, `CONTAINERS_*`,
/// `CONTAINER_HOST`, `DOCKER_*`, no config or cache under their `HOME`);
/// `HOME` is `home` (created), the locale `C`, the time zone UTC. Only
/// `PATH` is kept.
pub fn isolate<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    std::fs::create_dir_all(home).unwrap();
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env("NO_COLOR", "1")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Bytes of regular files below `dir` (what a layer's tar stream holds, less
/// its headers), counted by `find`.
pub fn file_bytes(dir: &Path) -> u64 {
    let out = Command::new("find")
        .arg(dir)
        .args(["-type", "f", "-printf", "%s\n"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse::<u64>().unwrap())
        .sum()
}

/// Whether a layer under `overlay` (a driver dir) holds `diff/NAME` of
/// exactly `len` bytes: a build's RUN has written it.
pub fn some_diff_holds(overlay: &Path, name: &str, len: u64) -> bool {
    std::fs::read_dir(overlay)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            e.path()
                .join("diff")
                .join(name)
                .metadata()
                .is_ok_and(|m| m.len() == len)
        })
}

/// `du -sbx DIR`: apparent bytes on DIR's file system only (mounts below it,
/// such as running containers' merged dirs, left out, as the tool does).
pub fn du_sbx(dir: &Path) -> u64 {
    let out = Command::new("du").arg("-sbx").arg(dir).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// `find -printf` over `dir`, one number per line, summed (each inode once).
pub fn find_sum(dir: &Path, args: &[&str]) -> u64 {
    let out = Command::new("find")
        .arg(dir)
        .args(args)
        .args(["-printf", "%i %s\\n"])
        .output()
        .unwrap();
    let mut seen = BTreeSet::new();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (ino, size) = l.split_once(' ')?;
            seen.insert(ino.to_string())
                .then(|| size.parse::<u64>().unwrap())
        })
        .sum()
}

/// `du -sbc`: apparent bytes of files and directories, the definition the
/// tool uses for every directory it walks.
pub fn du_sb(dirs: &[PathBuf]) -> u64 {
    let out = Command::new("du").arg("-sbc").args(dirs).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn within(actual: u64, truth: u64, pct: f64) -> bool {
    (actual as f64 - truth as f64).abs() <= truth as f64 * pct / 100.0
}

/// Real-podman tests whose stores share podman's run dir, the host's
/// default store, the podman 5 tree or the rootless user take turns (one
/// store's `system reset` removes state another's podman uses). They were
/// separate binaries, which cargo runs one after another; in one binary
/// this lock keeps them apart.
pub static REAL_PODMAN: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn real_podman_turn() -> std::sync::MutexGuard<'static, ()> {
    REAL_PODMAN.lock().unwrap_or_else(|p| p.into_inner())
}

/// One test's world, in the style of uv's `TestContext`: a temp dir with
/// `home/` (the tool's `HOME`) and `bin/` (fake engines, first on `PATH`),
/// and the tool run in the fixed environment of [`isolate`].
pub struct TestContext {
    dir: tempfile::TempDir,
}

impl TestContext {
    pub fn new() -> TestContext {
        let dir = tempfile::Builder::new()
            .prefix("psit-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        TestContext { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn bin(&self) -> PathBuf {
        self.path().join("bin")
    }

    /// Writes an executable `bin/NAME` with this `/bin/sh` body.
    pub fn fake(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.bin().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// An empty overlay store of its own, so the store path reads nothing
    /// of this machine's; its `storage.conf`.
    pub fn empty_store(&self) -> PathBuf {
        let conf = self.path().join("storage.conf");
        std::fs::write(
            &conf,
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}/root\"\n",
                self.path().display()
            ),
        )
        .unwrap();
        conf
    }

    /// The tool, isolated, with `bin/` alone on `PATH` unless `system_path`
    /// (then `bin/` first).
    pub fn command(&self, system_path: bool) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_podman-storage"));
        isolate(&mut cmd, &self.path().join("home"));
        let path = match (system_path, std::env::var_os("PATH")) {
            (true, Some(p)) => {
                let mut dirs = vec![self.bin()];
                dirs.extend(std::env::split_paths(&p));
                std::env::join_paths(dirs).unwrap()
            }
            _ => self.bin().into_os_string(),
        };
        cmd.env("PATH", path);
        cmd
    }

    /// insta settings that print this world's directory as `[TMP]`.
    pub fn insta(&self) -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        s.add_filter(&regex::escape(&self.path().display().to_string()), "[TMP]");
        s
    }
}
