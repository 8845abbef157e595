//! `caches` and `prune caches` against real directories: synthetic flat
//! caches and OCI layouts, and layouts made by skopeo from images podman
//! built in an isolated store.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use assert_cmd::cargo::cargo_bin;
use podman_storage::caches::lock::PruneLock;
use podman_storage::caches::{self, PruneOptions};
use serde_json::Value;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The binary with a fixed, minimal environment: no well-known cache of the
/// machine it runs on can leak into a test.
fn cmd(cwd: &Path) -> Command {
    let mut c = Command::new(cargo_bin("podman-storage"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd.join("no-home"))
        .env("LC_ALL", "C")
        .env("NO_COLOR", "1")
        // LAST USED is an age: from a fixed now, for the snapshots.
        .env("PODMAN_STORAGE_NOW", "2026-12-01T00:00:00Z")
        .current_dir(cwd)
        .stdin(Stdio::null());
    c
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(c: &mut Command) -> Run {
    let out = c.output().expect("run podman-storage");
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn json(c: &mut Command) -> (Value, Run) {
    let r = run(c);
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", r.stdout, r.stderr));
    (v, r)
}

/// A fake but well-formed digest hex; content is never hashed by the tool.
fn hex(n: u64) -> String {
    format!("{n:064x}")
}

/// Deterministic content of a given length.
fn content(seed: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u64 * 31 + seed * 7) % 251) as u8)
        .collect()
}

/// A flat cache of `n` blobs of `size` bytes, named `sha256:<hex>`.
fn flat_cache(dir: &Path, n: u64, size: usize) -> BTreeSet<String> {
    fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let name = format!("sha256:{}", hex(i + 1));
            fs::write(dir.join(&name), content(i, size)).unwrap();
            name
        })
        .collect()
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn set_age(path: &Path, age: Duration) {
    let t = SystemTime::now() - age;
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_times(fs::FileTimes::new().set_accessed(t).set_modified(t))
        .unwrap();
}

/// Builds OCI layouts by hand, with deterministic contents.
struct Layout {
    dir: PathBuf,
    next: u64,
}

impl Layout {
    fn new(dir: &Path) -> Layout {
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
            next: 0x1000,
        }
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir
            .join("blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap())
    }

    /// A digest whose blob is not written.
    fn absent(&mut self) -> String {
        self.next += 1;
        format!("sha256:{}", hex(self.next))
    }

    fn blob(&mut self, data: &[u8]) -> String {
        let d = self.absent();
        fs::write(self.path(&d), data).unwrap();
        d
    }

    fn manifest(&mut self, media_type: &str, config: &str, layers: &[&str]) -> String {
        let layers: Vec<String> = layers
            .iter()
            .map(|l| format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{l}","size":1}}"#))
            .collect();
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":1}},"layers":[{}]}}"#,
            layers.join(",")
        );
        self.blob(m.as_bytes())
    }

    fn descriptors(entries: &[(&str, &str)]) -> String {
        entries
            .iter()
            .map(|(d, tag)| {
                format!(r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":1,"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}"#)
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn index_blob(&mut self, manifests: &[&str]) -> String {
        let entries: Vec<(&str, &str)> = manifests.iter().map(|m| (*m, "")).collect();
        let i = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
            Self::descriptors(&entries)
        );
        self.blob(i.as_bytes())
    }

    fn write_index(&self, entries: &[(&str, &str)]) {
        let i = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            Self::descriptors(entries)
        );
        fs::write(self.dir.join("index.json"), i).unwrap();
    }
}

/// The synthetic layout used by several tests: two tags (one through a
/// nested index, one a Docker v2 manifest), a shared layer, a missing layer,
/// two orphans, and a temp file of each kind. Returns the orphans' digests.
fn sample_layout(dir: &Path) -> (Layout, Vec<String>) {
    let mut l = Layout::new(dir);
    let config_a = l.blob(&content(1, 300));
    let config_b = l.blob(&content(2, 310));
    let shared = l.blob(&content(3, 4000));
    let only_a = l.blob(&content(4, 2000));
    let missing = l.absent();
    let m_a = l.manifest(OCI_MANIFEST, &config_a, &[&shared, &only_a]);
    let m_b = l.manifest(DOCKER_MANIFEST, &config_b, &[&shared, &missing]);
    let nested = l.index_blob(&[&m_b]);
    l.write_index(&[(&m_a, "a"), (&nested, "b")]);
    let orphans = vec![l.blob(&content(5, 700)), l.blob(&content(6, 1500))];
    fs::write(dir.join("oci-put-blob4242"), content(7, 10)).unwrap();
    fs::write(
        dir.join("blobs/sha256").join(format!("{}123", hex(9))),
        content(8, 20),
    )
    .unwrap();
    (l, orphans)
}

/// `du -sb` of a directory minus the sizes of the directories in it: the
/// files a prune can remove.
fn du_minus_dirs(dir: &Path) -> u64 {
    let du = Command::new("du").arg("-sb").arg(dir).output().unwrap();
    assert!(du.status.success(), "du failed");
    let du: u64 = String::from_utf8(du.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let dirs = Command::new("find")
        .arg(dir)
        .args(["-type", "d", "-printf", "%s\\n"])
        .output()
        .unwrap();
    let dirs: u64 = String::from_utf8(dirs.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse::<u64>().unwrap())
        .sum();
    du - dirs
}

/// `du -sb DIR...` (one inode set), the figure `bytes` is documented to be.
fn du_sb(dirs: &[&Path]) -> u64 {
    let du = Command::new("du").arg("-sbc").args(dirs).output().unwrap();
    assert!(du.status.success(), "du failed");
    let text = String::from_utf8(du.stdout).unwrap();
    let total = text.lines().last().unwrap().split_whitespace().next();
    total.unwrap().parse().unwrap()
}

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("caches/snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]");
    s
}

/// The snapshot fixture's `du -sb` figures (which hold directory sizes, so
/// depend on the file system) as names; the tests check them against `du`.
fn du_filters(s: &mut insta::Settings, tmp: &Path) {
    let names = ["layout", "flat", "other"];
    let dirs: Vec<PathBuf> = names.iter().map(|n| tmp.join(n)).collect();
    let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    s.add_filter(&format!(r"\b{}\b", du_sb(&refs)), "[DU TOTAL]");
    for (n, d) in names.iter().zip(&refs) {
        s.add_filter(&format!(r"\b{}\b", du_sb(&[d])), format!("[DU {n}]"));
    }
}

/// The fixture behind the snapshot tests, in a temp dir used as the working
/// directory so paths print short and stable.
fn snapshot_fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    sample_layout(&tmp.path().join("layout"));
    let flat = tmp.path().join("flat");
    flat_cache(&flat, 3, 1000);
    fs::write(flat.join(format!("sha256:{}.tmp", hex(77))), content(9, 33)).unwrap();
    fs::create_dir(tmp.path().join("other")).unwrap();
    fs::write(tmp.path().join("other/notes.txt"), content(10, 12)).unwrap();
    // 2026-11-20T00:00:00Z, ten days before the tests' now: LAST USED
    // reads the same every run.
    set_times(
        tmp.path(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_132_800),
    );
    tmp
}

/// Sets atime and mtime of every file below `dir`.
fn set_times(dir: &Path, t: SystemTime) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            set_times(&p, t);
        } else {
            let f = fs::File::options().write(true).open(&p).unwrap();
            f.set_times(fs::FileTimes::new().set_accessed(t).set_modified(t))
                .unwrap();
        }
    }
}

#[test]
fn caches_table_snapshot() {
    let tmp = snapshot_fixture();
    let r = run(cmd(tmp.path()).args(["--bytes", "caches", "layout", "flat", "other", "gone"]));
    // `gone` was named and does not exist: a warning and exit 1, as in `du`.
    assert_eq!(r.code, 1, "stderr: {}", r.stderr);
    let mut s = snapshot_settings();
    du_filters(&mut s, tmp.path());
    s.bind(|| {
        insta::assert_snapshot!("caches_table", r.stdout);
        insta::assert_snapshot!("caches_table_stderr", r.stderr);
    });
}

#[test]
fn caches_json_snapshot() {
    let tmp = snapshot_fixture();
    let (v, r) = json(cmd(tmp.path()).args([
        "--format", "json", "caches", "layout", "flat", "other", "gone",
    ]));
    assert_eq!(r.code, 1, "stderr: {}", r.stderr);
    // The contract, checked independently of the snapshot.
    assert_eq!(v["schema"], 1);
    let dirs = ["layout", "flat", "other"].map(|n| tmp.path().join(n));
    let total = du_sb(&dirs.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    assert_eq!(v["total_bytes"].as_u64().unwrap(), total);
    let layout = &v["caches"][0];
    assert_eq!(layout["kind"], "oci-layout");
    assert_eq!(layout["orphans"]["blobs"], 2);
    assert_eq!(layout["orphans"]["bytes"], 2200);
    assert_eq!(layout["missing"].as_array().unwrap().len(), 1);
    assert_eq!(v["caches"][3]["kind"], "missing");
    assert_eq!(v["caches"][3]["bytes"], 0);
    let mut s = snapshot_settings();
    du_filters(&mut s, tmp.path());
    s.bind(|| insta::assert_snapshot!("caches_json", r.stdout));
}

#[test]
fn prune_dry_run_snapshot() {
    let tmp = snapshot_fixture();
    let r = run(cmd(tmp.path()).args([
        "--bytes",
        "prune",
        "caches",
        "--dry-run",
        "layout",
        "flat",
        "other",
        "gone",
    ]));
    // `gone` was named and does not exist: one warning, exit 1.
    assert_eq!(r.code, 1, "stderr: {}", r.stderr);
    assert_eq!(r.stderr, "podman-storage: warning: gone: does not exist\n");
    let r2 = run(cmd(tmp.path()).args([
        "--bytes",
        "prune",
        "caches",
        "--dry-run",
        "--orphans",
        "layout",
        "flat",
    ]));
    assert_eq!(r2.code, 0, "stderr: {}", r2.stderr);
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("prune_dry_run", r.stdout);
        insta::assert_snapshot!("prune_dry_run_orphans", r2.stdout);
    });
}

#[test]
fn bytes_equal_du_sb() {
    let tmp = snapshot_fixture();
    let other = tmp.path().join("other");
    fs::create_dir_all(other.join("a/b")).unwrap();
    fs::write(other.join("a/b/big"), content(11, 12345)).unwrap();
    fs::hard_link(other.join("a/b/big"), other.join("a/hard")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", other.join("a/link")).unwrap();
    let (v, r) =
        json(cmd(tmp.path()).args(["--format", "json", "caches", "layout", "flat", "other"]));
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    for (i, name) in ["layout", "flat", "other"].iter().enumerate() {
        assert_eq!(
            v["caches"][i]["bytes"].as_u64().unwrap(),
            du_sb(&[&tmp.path().join(name)]),
            "{name}"
        );
    }
}

/// One policy with `du`: a path the user named that does not exist is a
/// warning line and exit 1, never a quiet `missing 0 B` row with exit 0.
#[test]
fn missing_named_dir_is_a_warning_and_exit_1_as_in_du() {
    let tmp = tempfile::tempdir().unwrap();
    let (v, r) = json(cmd(tmp.path()).args(["--format", "json", "caches", "nope"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(v["total_bytes"], 0);
    assert_eq!(v["caches"][0]["kind"], "missing");
    assert_eq!(v["warnings"], serde_json::json!(["nope: does not exist"]));
    assert_eq!(
        r.stderr, "podman-storage: warning: nope: does not exist\n",
        "one line"
    );
    let du = run(cmd(tmp.path()).args(["du", "nope"]));
    assert_eq!(du.code, r.code, "du and caches agree: {}", du.stderr);
    assert_eq!(du.stderr.lines().count(), 1, "{}", du.stderr);
}

/// Absent well-known caches (ko's, zarf's) are simply not listed.
#[test]
fn absent_well_known_caches_are_not_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let (v, r) = json(
        cmd(tmp.path())
            .env("KOCACHE", tmp.path().join("no-ko"))
            .args(["--format", "json", "caches"]),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(v["caches"], serde_json::json!([]));
    assert_eq!(r.stderr, "");
}

#[test]
fn discovers_kocache_layout() {
    let tmp = tempfile::tempdir().unwrap();
    sample_layout(&tmp.path().join("ko/img"));
    let (v, r) = json(
        cmd(tmp.path())
            .env("KOCACHE", tmp.path().join("ko"))
            .args(["--format", "json", "caches"]),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let caches = v["caches"].as_array().unwrap();
    assert_eq!(caches.len(), 1);
    assert_eq!(caches[0]["origin"], "ko");
    assert_eq!(caches[0]["kind"], "oci-layout");
}

/// Runs `prune caches ARGS --format json` and returns (freed, blobs, run).
fn prune_json(dir: &Path, args: &[&str]) -> (u64, u64, Run) {
    let (v, r) = json(
        cmd(dir)
            .args(["--format", "json", "prune", "caches"])
            .args(args),
    );
    let freed = v["total_bytes"].as_u64().unwrap();
    let files = v["caches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["removed_files"].as_u64().unwrap())
        .sum();
    (freed, files, r)
}

#[test]
fn dry_run_equals_real_run() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Whole flat cache, with a leftover aside from an interrupted prune.
    flat_cache(&d.join("whole"), 40, 2500);
    flat_cache(&d.join(".pruning-whole.0123456789abcdef"), 5, 100);
    // Eviction by age and by size.
    let aged = d.join("aged");
    let all = flat_cache(&aged, 20, 1000);
    for (i, n) in all.iter().enumerate() {
        set_age(&aged.join(n), Duration::from_secs(3600 * i as u64 + 1800));
    }
    // OCI orphans.
    sample_layout(&d.join("layout"));

    for args in [
        vec!["whole"],
        vec!["--older-than", "10h", "aged"],
        vec!["--orphans", "layout"],
    ] {
        let before = du_minus_dirs(d);
        let mut dry = vec!["--dry-run"];
        dry.extend(&args);
        let (would, would_files, r) = prune_json(d, &dry);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert_eq!(
            du_minus_dirs(d),
            before,
            "{args:?}: dry run removed something"
        );
        assert!(would > 0, "{args:?}: nothing to prune in the fixture");
        let mut real = vec!["--force"];
        real.extend(&args);
        let (freed, files, r) = prune_json(d, &real);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert_eq!((would, would_files), (freed, files), "{args:?}");
        // The lock file is the only thing a prune adds (empty once released).
        assert_eq!(
            before - du_minus_dirs(d),
            freed,
            "{args:?}: reported != removed"
        );
    }
    assert_eq!(
        names(&d.join("aged")).len(),
        10,
        "the 10 blobs used within 10h stay"
    );
    assert!(!d.join(".pruning-whole.0123456789abcdef").exists());
}

#[test]
fn whole_prune_recreates_dir_with_mode_and_sweeps_asides() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    flat_cache(&cache, 10, 100);
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o750)).unwrap();
    let before = fs::metadata(&cache).unwrap();
    let aside = tmp.path().join(".pruning-cache.feedfacefeedface");
    flat_cache(&aside, 3, 10);
    // Another cache's aside is not ours to sweep.
    let foreign = tmp.path().join(".pruning-cache.old.feedfacefeedface");
    flat_cache(&foreign, 1, 10);
    let r = run(cmd(tmp.path()).args(["--bytes", "prune", "caches", "-f", "cache"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "freed 1030 B across 13 blob(s) in cache\n");
    let after = fs::metadata(&cache).unwrap();
    assert!(after.is_dir());
    assert_eq!(after.mode() & 0o7777, 0o750);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    assert_ne!(
        after.ino(),
        before.ino(),
        "a fresh directory, not an emptied one"
    );
    assert!(names(&cache).is_empty());
    assert!(!aside.exists());
    assert!(foreign.exists());
}

#[test]
fn sigkill_at_random_points_never_leaves_a_partial_cache() {
    const BLOBS: u64 = 3000;
    const RUNS: usize = 60;
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let full = flat_cache(&cache, BLOBS, 64);
    let bin = cargo_bin("podman-storage");
    let prune = || {
        let mut c = Command::new(&bin);
        c.args(["prune", "caches", "--force"])
            .arg(&cache)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let asides = || -> Vec<String> {
        names(tmp.path())
            .into_iter()
            .filter(|n| n.starts_with(".pruning-"))
            .collect()
    };
    // How long a whole run takes here decides the range of kill points.
    let start = Instant::now();
    assert!(prune().status().unwrap().success());
    let span = start.elapsed().as_micros() as u64 * 6 / 5 + 1;
    assert!(names(&cache).is_empty());

    let mut seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}, kill window {span} µs");
    let (mut intact, mut pruned, mut interrupted) = (0, 0, 0);
    for i in 0..RUNS {
        if names(&cache).is_empty() {
            flat_cache(&cache, BLOBS, 64);
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % span);
        let mut child = prune().spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL; an already-finished child is fine
        child.wait().unwrap();
        let now = names(&cache);
        assert!(cache.is_dir(), "run {i}: cache directory missing");
        if now == full {
            intact += 1;
        } else if now.is_empty() {
            pruned += 1;
        } else {
            panic!(
                "run {i} (killed after {delay:?}): partial cache, {} of {BLOBS} blobs",
                now.len()
            );
        }
        if !asides().is_empty() {
            interrupted += 1;
        }
    }
    eprintln!("{intact} intact, {pruned} pruned, {interrupted} left an aside");
    assert!(
        interrupted > 0,
        "no run was killed mid-removal; the test proved nothing"
    );
    assert!(prune().status().unwrap().success());
    assert!(
        asides().is_empty(),
        "asides left after a clean run: {:?}",
        asides()
    );
    assert!(names(&cache).is_empty());
}

#[test]
fn symlinks_out_of_the_root_are_removed_as_links() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("precious"), b"keep").unwrap();
    fs::write(outside.join(hex(0xdead)), b"keep too").unwrap();

    // Flat cache: a blob that links out, pruned whole.
    let flat = tmp.path().join("flat");
    flat_cache(&flat, 2, 10);
    std::os::unix::fs::symlink(
        outside.join("precious"),
        flat.join(format!("sha256:{}", hex(50))),
    )
    .unwrap();
    let r = run(cmd(tmp.path()).args(["prune", "caches", "-f", "flat"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(names(&flat).is_empty());

    // OCI layout: an orphan that links out.
    let (l, _) = sample_layout(&tmp.path().join("layout"));
    let link = l.dir.join("blobs/sha256").join(hex(0xdead));
    std::os::unix::fs::symlink(outside.join(hex(0xdead)), &link).unwrap();
    let r = run(cmd(tmp.path()).args(["prune", "caches", "-f", "--orphans", "layout"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        fs::symlink_metadata(&link).is_err(),
        "orphan link not removed"
    );

    // OCI layout whose blobs/sha256 is a symlink to a directory outside:
    // nothing there may be touched.
    let evil = tmp.path().join("evil");
    Layout::new(&evil);
    fs::remove_dir(evil.join("blobs/sha256")).unwrap();
    std::os::unix::fs::symlink(&outside, evil.join("blobs/sha256")).unwrap();
    fs::write(
        evil.join("index.json"),
        r#"{"schemaVersion":2,"manifests":[]}"#,
    )
    .unwrap();
    let r = run(cmd(tmp.path()).args(["prune", "caches", "-f", "--orphans", "evil"]));
    assert_eq!(r.code, 0, "{}", r.stderr);

    assert_eq!(fs::read(outside.join("precious")).unwrap(), b"keep");
    assert_eq!(fs::read(outside.join(hex(0xdead))).unwrap(), b"keep too");
}

#[test]
fn bad_digest_names_the_layout_and_deletes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, bad) in [("top", "sha256:../../../outside"), ("nested", "sha256:ZZZ")] {
        let dir = tmp.path().join(name);
        let (mut l, _) = sample_layout(&dir);
        if name == "top" {
            l.write_index(&[(bad, "x")]);
        } else {
            let c = l.blob(b"{}");
            let m = l.manifest(OCI_MANIFEST, &c, &[bad]);
            l.write_index(&[(&m, "x")]);
        }
        let before = names(&dir.join("blobs/sha256"));
        let r = run(cmd(tmp.path()).args(["prune", "caches", "-f", "--orphans", name]));
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("warning: {name}: ")) && r.stderr.contains("invalid digest"),
            "{name}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("nothing removed from this layout"),
            "{}",
            r.stderr
        );
        assert_eq!(
            names(&dir.join("blobs/sha256")),
            before,
            "{name}: something was deleted"
        );
        let (v, _) = json(cmd(tmp.path()).args(["--format", "json", "caches", name]));
        assert!(
            v["caches"][0]["orphans"].is_null(),
            "orphans must be unknown"
        );
    }
}

#[test]
fn missing_manifest_blocks_orphan_prune() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut l, _) = sample_layout(&tmp.path().join("layout"));
    let gone = l.absent();
    l.write_index(&[(&gone, "x")]);
    let r = run(cmd(tmp.path()).args(["prune", "caches", "-f", "--orphans", "layout"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is missing"), "{}", r.stderr);
    assert_eq!(names(&l.dir.join("blobs/sha256")).len(), 10);
}

#[test]
fn concurrent_prune_is_refused_and_names_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let all = flat_cache(&cache, 5, 10);
    let (_, orphans) = sample_layout(&tmp.path().join("layout"));
    let held = PruneLock::acquire(&fs::canonicalize(&cache).unwrap()).unwrap();
    let r = run(cmd(tmp.path()).args([
        "prune",
        "caches",
        "-f",
        "cache",
        "layout",
        "--orphans",
        "--older-than",
        "0s",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let pid = format!("pid {}", std::process::id());
    assert!(
        r.stderr.contains(&pid) && r.stderr.contains("another prune holds the lock"),
        "{}",
        r.stderr
    );
    assert_eq!(names(&cache), all, "the locked cache was touched");
    // The other cache was still pruned.
    assert!(orphans.iter().all(|o| !tmp
        .path()
        .join("layout/blobs/sha256")
        .join(&o[7..])
        .exists()));
    drop(held);
    let r = run(cmd(tmp.path()).args(["prune", "caches", "-f", "cache", "--older-than", "0s"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(names(&cache).is_empty());
}

#[test]
fn max_size_evicts_least_recently_used_first() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let all: Vec<String> = flat_cache(&cache, 10, 1000).into_iter().collect();
    for (i, n) in all.iter().enumerate() {
        // all[0] is the most recently used.
        set_age(&cache.join(n), Duration::from_secs(60 * (i as u64 + 1)));
    }
    let opts = |dry_run| PruneOptions {
        dry_run,
        orphans: false,
        older_than: None,
        max_size: Some(4500),
        registry_offline: false,
        delete_untagged: false,
        now: SystemTime::now(),
    };
    let dry = caches::prune(&cache, &opts(true));
    let real = caches::prune(&cache, &opts(false));
    assert!(real.errors.is_empty(), "{:?}", real.errors);
    assert_eq!((dry.freed_bytes, dry.removed_files), (6000, 6));
    assert_eq!((real.freed_bytes, real.removed_files), (6000, 6));
    let kept: BTreeSet<String> = all[..4].iter().cloned().collect();
    assert_eq!(names(&cache), kept);
}

#[test]
fn max_size_flag_parses_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    flat_cache(&tmp.path().join("cache"), 10, 1000);
    let (freed, files, r) = prune_json(tmp.path(), &["-f", "--max-size", "4.5kB", "cache"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((freed, files), (6000, 6));
}

#[test]
fn bad_duration_is_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(cmd(tmp.path()).args(["prune", "caches", "-f", "--older-than", "7 days", "x"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--older-than"), "{}", r.stderr);
}

#[test]
fn refuses_without_a_terminal_and_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let all = flat_cache(&tmp.path().join("cache"), 3, 10);
    let r = run(cmd(tmp.path()).args(["prune", "caches", "cache"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("standard input is not a terminal"),
        "{}",
        r.stderr
    );
    assert_eq!(names(&tmp.path().join("cache")), all);
}

/// With nothing to remove there is nothing to confirm: the plan is the
/// answer, exit 0, even without a terminal (and nothing is touched).
#[test]
fn nothing_to_prune_says_so_and_exits_0_without_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    sample_layout(&tmp.path().join("layout"));
    let before = names(&tmp.path().join("layout/blobs/sha256"));
    // An OCI layout is only pruned with --orphans.
    let r = run(cmd(tmp.path()).args(["prune", "caches", "layout"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.ends_with("nothing to prune\n"), "{}", r.stdout);
    assert!(r.stdout.contains("skipped layout:"), "{}", r.stdout);
    assert_eq!(names(&tmp.path().join("layout/blobs/sha256")), before);
    let (v, r) = json(cmd(tmp.path()).args(["--format", "json", "prune", "caches", "layout"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(v["total_bytes"], 0);
}

#[test]
fn asks_on_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    flat_cache(&cache, 3, 10);
    let bin = cargo_bin("podman-storage");
    // `script` gives the command a pseudo-terminal fed from our stdin.
    let ask = |answer: &str| {
        let mut c = Command::new("script");
        c.args([
            "-qec",
            &format!("{} prune caches {}", bin.display(), cache.display()),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
        let mut child = c.spawn().expect("script (util-linux) is needed");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = ask("n\n");
    assert!(
        out.contains("Are you sure you want to continue? [y/N]"),
        "{out}"
    );
    assert!(out.contains("nothing removed"), "{out}");
    assert_eq!(names(&cache).len(), 3);
    let out = ask("y\n");
    assert!(out.contains("freed"), "{out}");
    assert!(names(&cache).is_empty());
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
}

#[test]
#[ignore = "needs root, setpriv and chattr"]
fn permission_denied_on_one_blob_is_reported_and_the_rest_proceeds() {
    assert!(
        is_root(),
        "run as root: the test drops to uid 65534 with setpriv"
    );
    const NOBODY: u32 = 65534;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    chown(d, NOBODY);

    // Flat cache in a sticky, world-writable root-owned dir: nobody may
    // remove its own blobs but not root's.
    let flat = d.join("flat");
    let all = flat_cache(&flat, 6, 100);
    fs::set_permissions(&flat, fs::Permissions::from_mode(0o1777)).unwrap();
    let roots_blob = all.iter().next().unwrap().clone();
    for n in &all {
        if *n != roots_blob {
            chown(&flat.join(n), NOBODY);
        }
    }
    // OCI layout, same trick on blobs/sha256 with one root-owned orphan.
    let (l, orphans) = sample_layout(&d.join("layout"));
    let blobs = l.dir.join("blobs/sha256");
    fs::set_permissions(&blobs, fs::Permissions::from_mode(0o1777)).unwrap();
    for n in names(&blobs) {
        if n[..64] != orphans[0][7..] {
            chown(&blobs.join(n), NOBODY);
        }
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(cargo_bin("podman-storage"))
        .args([
            "prune",
            "caches",
            "-f",
            "--older-than",
            "0s",
            "--orphans",
            "flat",
            "layout",
        ])
        .current_dir(d)
        .env("HOME", d)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("flat/{roots_blob}: Operation not permitted")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}: Operation not permitted", &orphans[0][7..])),
        "{stderr}"
    );
    assert_eq!(names(&flat), BTreeSet::from([roots_blob]));
    assert!(blobs.join(&orphans[0][7..]).exists());
    assert!(
        !blobs.join(&orphans[1][7..]).exists(),
        "the other orphan must go"
    );
    assert!(
        stdout.contains("freed 500 B across 5 blob(s) in flat (1 error(s), see warnings)"),
        "{stdout}"
    );

    // Whole prune as root: an immutable blob cannot be removed from the
    // aside; it is reported, everything else goes, and the cache is empty.
    let whole = d.join("whole");
    let all = flat_cache(&whole, 4, 100);
    let stuck = whole.join(all.iter().next().unwrap());
    let chattr = Command::new("chattr")
        .arg("+i")
        .arg(&stuck)
        .status()
        .unwrap();
    assert!(
        chattr.success(),
        "chattr +i failed (file system without immutable files?)"
    );
    let r = run(cmd(d).args(["--bytes", "prune", "caches", "-f", "whole"]));
    let asides: Vec<PathBuf> = names(d)
        .into_iter()
        .filter(|n| n.starts_with(".pruning-whole."))
        .map(|n| d.join(n))
        .collect();
    for a in &asides {
        let _ = Command::new("chattr").arg("-R").arg("-i").arg(a).status();
    }
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "freed 300 B across 3 blob(s) in whole (2 error(s), see warnings)\n"
    );
    assert!(names(&whole).is_empty());
    assert_eq!(
        asides.len(),
        1,
        "the aside with the stuck blob stays for the next prune"
    );
    let r = run(cmd(d).args(["--bytes", "prune", "caches", "-f", "whole"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "freed 100 B across 1 blob(s) in whole\n");
}

/// An isolated podman/skopeo store: its own graphroot, runroot and engine
/// tmp dir, chosen with `CONTAINERS_STORAGE_CONF` and `CONTAINERS_CONF`.
struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    fn new() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        fs::write(
            p.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
                p.display()
            ),
        )
        .unwrap();
        fs::write(
            p.join("containers.conf"),
            format!(
                "[engine]\ntmp_dir = \"{0}/tmp\"\nevents_logger = \"file\"\nevents_logfile_path = \"{0}/tmp/events.log\"\n",
                p.display()
            ),
        )
        .unwrap();
        Store { dir }
    }

    fn tool(&self, name: &str) -> Command {
        let path = which::which(name).unwrap_or_else(|_| panic!("{name} is not installed"));
        let mut c = Command::new(path);
        c.env(
            "CONTAINERS_STORAGE_CONF",
            self.dir.path().join("storage.conf"),
        )
        .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
        .current_dir(self.dir.path());
        c
    }

    fn ok(&self, name: &str, args: &[&str]) -> String {
        let out = self.tool(name).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{name} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

#[test]
#[ignore = "needs podman and skopeo"]
fn orphan_prune_of_a_skopeo_layout_keeps_both_tags_usable() {
    let store = Store::new();
    let p = store.dir.path();
    // A small rootfs tar and a derived image: two tags sharing the base layer.
    fs::create_dir_all(p.join("rootfs/etc")).unwrap();
    fs::write(p.join("rootfs/etc/data"), content(1, 200_000)).unwrap();
    fs::write(p.join("rootfs/etc/hello"), b"hello\n").unwrap();
    let tar = Command::new("tar")
        .arg("-C")
        .arg(p.join("rootfs"))
        .arg("-cf")
        .arg(p.join("rootfs.tar"))
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success());
    store.ok(
        "podman",
        &[
            "import",
            "-q",
            "rootfs.tar",
            "localhost/pstest-caches-base:1",
        ],
    );
    fs::create_dir(p.join("ctx")).unwrap();
    fs::write(p.join("ctx/extra"), content(2, 50_000)).unwrap();
    fs::write(
        p.join("ctx/Containerfile"),
        "FROM localhost/pstest-caches-base:1\nCOPY extra /extra\n",
    )
    .unwrap();
    store.ok(
        "podman",
        &[
            "build",
            "-q",
            "--pull=never",
            "-t",
            "localhost/pstest-caches-derived:1",
            "ctx",
        ],
    );
    let layout = p.join("layout");
    for (image, tag) in [("base", "base"), ("derived", "derived")] {
        store.ok(
            "skopeo",
            &[
                "copy",
                "-q",
                &format!("containers-storage:localhost/pstest-caches-{image}:1"),
                &format!("oci:{}:{tag}", layout.display()),
            ],
        );
    }
    let blobs = layout.join("blobs/sha256");
    let referenced = names(&blobs);
    assert!(referenced.len() >= 5, "skopeo wrote {referenced:?}");
    let planted: BTreeSet<String> = [hex(0xaaa), hex(0xbbb)].into_iter().collect();
    for (i, o) in planted.iter().enumerate() {
        fs::write(blobs.join(o), content(i as u64, 1000 * (i + 1))).unwrap();
    }

    let (v, r) = json(cmd(p).args(["--format", "json", "caches", "layout"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        v["caches"][0]["referenced"]["blobs"].as_u64().unwrap(),
        referenced.len() as u64
    );
    assert_eq!(v["caches"][0]["orphans"]["blobs"], 2);
    assert_eq!(v["caches"][0]["orphans"]["bytes"], 3000);
    assert_eq!(v["caches"][0]["bytes"].as_u64().unwrap(), du_sb(&[&layout]));

    let (would, _, r) = prune_json(p, &["--dry-run", "--orphans", "layout"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (freed, files, r) = prune_json(p, &["--orphans", "--force", "layout"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((would, freed, files), (3000, 3000, 2));
    assert_eq!(
        names(&blobs),
        referenced,
        "orphans gone, every referenced blob kept"
    );

    for tag in ["base", "derived"] {
        store.ok(
            "skopeo",
            &["inspect", &format!("oci:{}:{tag}", layout.display())],
        );
        store.ok(
            "skopeo",
            &[
                "copy",
                "-q",
                &format!("oci:{}:{tag}", layout.display()),
                &format!("dir:{}/out-{tag}", p.display()),
            ],
        );
    }
}

#[test]
fn a_cache_named_through_a_symlink_is_refused_and_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    flat_cache(&tmp.path().join("real"), 3, 100);
    std::os::unix::fs::symlink(tmp.path().join("real"), tmp.path().join("link")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podman-storage"))
        .current_dir(tmp.path())
        .args(["prune", "caches", "-f", "link"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("link is a symlink"), "{all}");
    assert_eq!(
        std::fs::read_dir(tmp.path().join("real")).unwrap().count(),
        3,
        "nothing removed"
    );
}

/// A tmpfs mounted at `dir`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path) -> Tmpfs {
        fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount -t tmpfs {} failed", dir.display());
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn prune_never_crosses_a_mount_point() {
    assert!(is_root(), "run as root: the test mounts a tmpfs");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // An interrupted prune's aside holding a tmpfs: the sweep that removes
    // the aside must stop at the mount.
    flat_cache(&d.join("c"), 4, 100);
    let aside = d.join(".pruning-c.0123456789abcdef");
    flat_cache(&aside, 2, 50);
    let mnt = aside.join("mnt");
    let _aside_mount = Tmpfs::mount(&mnt);
    fs::write(mnt.join("precious"), content(9, 3000)).unwrap();
    fs::create_dir(mnt.join("sub")).unwrap();
    fs::write(mnt.join("sub/deeper"), content(8, 1000)).unwrap();
    // An OCI layout whose blob directory is a tmpfs: its orphans stay too.
    let (l, orphans) = sample_layout(&d.join("layout"));
    let blobs = l.dir.join("blobs/sha256");
    let saved = d.join("saved-blobs");
    fs::rename(&blobs, &saved).unwrap();
    let _blobs_mount = Tmpfs::mount(&blobs);
    for n in names(&saved) {
        fs::copy(saved.join(&n), blobs.join(&n)).unwrap();
    }
    fs::remove_dir_all(&saved).unwrap();

    for (args, mount) in [(vec!["c"], &mnt), (vec!["--orphans", "layout"], &blobs)] {
        let before = du_minus_dirs(d);
        let mut dry = vec!["--dry-run"];
        dry.extend(&args);
        let (would, would_files, r) = prune_json(d, &dry);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        let mut real = vec!["--force"];
        real.extend(&args);
        let (freed, files, r) = prune_json(d, &real);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&mount.strip_prefix(d).unwrap().display().to_string())
                && r.stderr.contains("another file system"),
            "{args:?}: the report must name the mount: {}",
            r.stderr
        );
        assert_eq!((would, would_files), (freed, files), "{args:?}");
        assert_eq!(
            before - du_minus_dirs(d),
            freed,
            "{args:?}: reported != removed"
        );
    }
    // What lies on the tmpfs survives, byte for byte.
    assert_eq!(fs::read(mnt.join("precious")).unwrap(), content(9, 3000));
    assert_eq!(fs::read(mnt.join("sub/deeper")).unwrap(), content(8, 1000));
    for o in &orphans {
        assert!(
            blobs.join(&o[7..]).exists(),
            "orphan {o} on the tmpfs was removed"
        );
    }
    // The same-device files of the aside and the cache went.
    assert_eq!(names(&aside), BTreeSet::from(["mnt".to_string()]));
    assert!(names(&d.join("c")).is_empty());
}

/// `--sort used` orders caches by their newest blob's last use (atime or
/// mtime, as `prune caches --older-than` judges), `--sort size --top 1`
/// keeps the largest while the total still counts both, and a key caches
/// have no column for is an error.
#[test]
fn caches_sort_by_last_use_and_size_with_top() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = (tmp.path().join("old"), tmp.path().join("new"));
    flat_cache(&old, 3, 5000);
    flat_cache(&new, 2, 1000);
    let epoch = SystemTime::UNIX_EPOCH;
    set_times(&old, epoch + Duration::from_secs(1_795_132_800));
    set_times(
        &new,
        epoch + Duration::from_secs(1_795_132_800 + 3 * 86_400),
    );
    // One blob of `old` read later than its mtime: the later of the two counts.
    let late = old.join(format!("sha256:{}", hex(2)));
    let f = fs::File::options().write(true).open(&late).unwrap();
    f.set_times(
        fs::FileTimes::new()
            .set_accessed(epoch + Duration::from_secs(1_795_132_800 + 5 * 86_400))
            .set_modified(epoch + Duration::from_secs(1_795_132_800)),
    )
    .unwrap();

    let paths = |v: &Value| -> Vec<String> {
        v["caches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["path"].as_str().unwrap().to_string())
            .collect()
    };
    let (v, r) =
        json(cmd(tmp.path()).args(["--format", "json", "caches", "--sort", "used", "new", "old"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(paths(&v), ["old", "new"], "old's newest use is the later");
    assert_eq!(v["caches"][0]["last_used"], "2026-11-25T00:00:00Z");
    assert_eq!(v["caches"][1]["last_used"], "2026-11-23T00:00:00Z");

    let (v, r) = json(cmd(tmp.path()).args([
        "--format", "json", "caches", "--sort", "size", "--top", "1", "new", "old",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(paths(&v), ["old"]);
    let on_disk = du_sb(&[old.as_path(), new.as_path()]);
    assert_eq!(v["total_bytes"], on_disk, "the total covers both caches");
    assert_eq!(
        (
            v["selection"]["shown"].as_u64(),
            v["selection"]["matched"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let r = run(cmd(tmp.path()).args(["caches", "--sort", "size", "--top", "1", "new", "old"]));
    assert!(
        r.stdout
            .ends_with("1 of 2 caches shown (--top 1); the total covers all 2\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("6 days ago"), "{}", r.stdout);

    let r = run(cmd(tmp.path()).args(["caches", "--sort", "created", "new"]));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "podman-storage: error: --sort created does not apply to caches; it sorts by size, used, name\n"
    );
}
