//! `podman-storage du` against GNU `du` on generated trees: the same bytes
//! (`du -sb` apparent, `du -s -B1` on disk, `du -s --inodes` files + dirs),
//! hard links counted once across paths, symlinks never followed, and what
//! happens when part of a tree cannot be read.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_podman-storage");

/// Runs the binary in `cwd` with a fixed environment.
fn ours(cwd: &Path, args: &[&OsStr]) -> Output {
    Command::new(BIN)
        .env_clear()
        .env("LC_ALL", "C")
        .current_dir(cwd)
        .arg("du")
        .args(args)
        .output()
        .unwrap()
}

fn ours_json(cwd: &Path, paths: &[&OsStr]) -> (i32, Value) {
    let mut args: Vec<&OsStr> = vec!["--format".as_ref(), "json".as_ref()];
    args.extend_from_slice(paths);
    let out = ours(cwd, &args);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    });
    (out.status.code().unwrap(), json)
}

/// GNU du's `(path, figure)` lines; du prints nothing for an argument it has
/// already counted.
fn gnu_du(cwd: &Path, flags: &[&str], paths: &[&OsStr]) -> Vec<(OsString, u64)> {
    let out = Command::new("du")
        .env_clear()
        .env("LC_ALL", "C")
        .current_dir(cwd)
        .args(flags)
        .args(paths)
        .output()
        .expect("GNU du must be installed");
    out.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let tab = line.iter().position(|&b| b == b'\t').unwrap();
            let n = std::str::from_utf8(&line[..tab]).unwrap().parse().unwrap();
            (OsStr::from_bytes(&line[tab + 1..]).to_owned(), n)
        })
        .collect()
}

/// Asserts our apparent bytes, disk bytes and inode count for each path
/// equal GNU du's for the same argument list; a path du skipped as already
/// counted must be all zeros here.
fn assert_matches_du(cwd: &Path, paths: &[&OsStr]) -> Value {
    let (code, json) = ours_json(cwd, paths);
    assert_eq!(code, 0, "{json:#}");
    let apparent = gnu_du(cwd, &["-s", "-b"], paths);
    let disk = gnu_du(cwd, &["-s", "-B1"], paths);
    let inodes = gnu_du(cwd, &["-s", "--inodes"], paths);
    let rows = json["paths"].as_array().unwrap();
    assert_eq!(rows.len(), paths.len());
    // du prints one line per argument it did not skip, in argument order.
    let mut next = [0usize; 3];
    for (row, path) in rows.iter().zip(paths) {
        let mut k = 0;
        let mut find = |list: &[(OsString, u64)]| {
            let i = &mut next[k];
            k += 1;
            match list.get(*i) {
                Some((p, n)) if p == path => {
                    *i += 1;
                    Some(*n)
                }
                _ => None,
            }
        };
        let ours = (
            row["apparent_bytes"].as_u64().unwrap(),
            row["disk_bytes"].as_u64().unwrap(),
            row["files"].as_u64().unwrap() + row["dirs"].as_u64().unwrap(),
        );
        let theirs = (
            find(&apparent).unwrap_or(0),
            find(&disk).unwrap_or(0),
            find(&inodes).unwrap_or(0),
        );
        assert_eq!(
            ours, theirs,
            "{path:?}: (apparent, disk, inodes) ours vs du"
        );
        assert_eq!(row["incomplete"], false);
    }
    let sum = |key: &str| rows.iter().map(|r| r[key].as_u64().unwrap()).sum::<u64>();
    assert_eq!(json["total_bytes"].as_u64().unwrap(), sum("disk_bytes"));
    assert_eq!(
        json["total_apparent_bytes"].as_u64().unwrap(),
        sum("apparent_bytes")
    );
    json
}

fn write(path: &Path, len: usize) {
    fs::write(path, vec![b'x'; len]).unwrap();
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A tree with every kind of entry `du` has rules for.
fn build_tree(root: &Path) {
    fs::create_dir_all(root.join("a/b/c")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    for (i, len) in [0, 1, 511, 4095, 4096, 4097, 100_000, 1_234_567]
        .iter()
        .enumerate()
    {
        write(&root.join(format!("a/f{i}")), *len);
        write(&root.join(format!("a/b/c/g{i}")), len / 3);
    }
    // Sparse: 50 MB apparent, a few KB allocated.
    let sparse = fs::File::create(root.join("a/sparse")).unwrap();
    sparse.set_len(50_000_000).unwrap();
    std::os::unix::fs::FileExt::write_at(&sparse, b"data", 1_000_000).unwrap();
    // Symlinks are measured as links, never followed.
    symlink("/", root.join("to-root")).unwrap();
    symlink("a", root.join("to-a")).unwrap();
    symlink("loop2", root.join("loop1")).unwrap();
    symlink("loop1", root.join("loop2")).unwrap();
    symlink("nowhere", root.join("a/dangling")).unwrap();
    // Hard links inside the tree count once.
    fs::hard_link(root.join("a/f6"), root.join("a/b/f6-again")).unwrap();
    fs::hard_link(root.join("a/f6"), root.join("f6-top")).unwrap();
    // Names that are not UTF-8.
    let latin1 = OsStr::from_bytes(b"caf\xe9");
    fs::create_dir_all(root.join(latin1)).unwrap();
    write(&root.join(latin1).join(OsStr::from_bytes(b"\xff\xfe")), 300);
    mkfifo(&root.join("a/fifo"));
}

#[test]
fn one_tree_matches_du() {
    let tmp = tempfile::tempdir().unwrap();
    build_tree(&tmp.path().join("t"));
    let json = assert_matches_du(tmp.path(), &["t".as_ref()]);
    let row = &json["paths"][0];
    // a, a/b, a/b/c, empty, caf\xe9 and the root.
    assert_eq!(row["dirs"], 6);
    assert!(
        row["apparent_bytes"].as_u64().unwrap() > 50_000_000,
        "sparse file's length"
    );
    assert!(
        row["disk_bytes"].as_u64().unwrap() < 10_000_000,
        "sparse file's blocks"
    );
    // Also given as an absolute path and as `t/`.
    let abs = tmp.path().join("t");
    assert_matches_du(tmp.path(), &[abs.as_os_str()]);
    assert_matches_du(tmp.path(), &["t/".as_ref()]);
}

#[test]
fn symlink_roots_are_the_links_themselves() {
    let tmp = tempfile::tempdir().unwrap();
    build_tree(&tmp.path().join("t"));
    let json = assert_matches_du(
        tmp.path(),
        &["t/to-root".as_ref(), "t/loop1".as_ref(), "t/to-a".as_ref()],
    );
    for row in json["paths"].as_array().unwrap() {
        assert_eq!(
            (row["files"].as_u64(), row["dirs"].as_u64()),
            (Some(1), Some(0))
        );
    }
}

#[test]
fn hard_links_across_paths_count_once_in_the_first_like_du() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    fs::create_dir_all(r.join("A/x")).unwrap();
    fs::create_dir_all(r.join("B/y")).unwrap();
    write(&r.join("A/x/shared"), 70_000);
    write(&r.join("B/own"), 5_000);
    fs::hard_link(r.join("A/x/shared"), r.join("B/y/shared")).unwrap();
    fs::hard_link(r.join("A/x/shared"), r.join("B/shared2")).unwrap();
    let ab = assert_matches_du(r, &["A".as_ref(), "B".as_ref()]);
    let ba = assert_matches_du(r, &["B".as_ref(), "A".as_ref()]);
    // The link moved with the order, the total did not.
    assert_eq!(ab["total_bytes"], ba["total_bytes"]);
    assert!(ab["paths"][0]["apparent_bytes"].as_u64() > ba["paths"][1]["apparent_bytes"].as_u64());
}

#[test]
fn overlapping_paths_count_once_like_du() {
    let tmp = tempfile::tempdir().unwrap();
    build_tree(&tmp.path().join("t"));
    for paths in [
        &["t", "t/a/b"][..],
        &["t/a/b", "t"],
        &["t", "t"],
        &["t/a/b/c/g7", "t/a"],
        &["t/a", "t/a/b/c/g7"],
    ] {
        let paths: Vec<&OsStr> = paths.iter().map(OsStr::new).collect();
        assert_matches_du(tmp.path(), &paths);
    }
}

/// `depth` nested directories below `top`, a file every 100 levels. std's
/// fs functions take whole paths, which stop at PATH_MAX (4096 bytes), so
/// this goes down one directory descriptor at a time.
fn make_deep(top: &Path, depth: usize) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    fs::create_dir(top).unwrap();
    let mut dir = OwnedFd::from(fs::File::open(top).unwrap());
    for i in 0..depth {
        let name = c"nested-directory";
        // SAFETY: valid descriptors and NUL-terminated names; every
        // returned descriptor is owned at once.
        unsafe {
            assert_eq!(libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755), 0);
            let fd = libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::O_DIRECTORY | libc::O_CLOEXEC,
            );
            assert!(fd >= 0);
            dir = OwnedFd::from_raw_fd(fd);
            if i % 100 == 0 {
                let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC;
                let f = libc::openat(dir.as_raw_fd(), c"file".as_ptr(), flags, 0o644);
                assert!(f >= 0);
                let mut file = fs::File::from_raw_fd(f);
                std::io::Write::write_all(&mut file, &vec![b'x'; i]).unwrap();
            }
        }
    }
}

#[test]
fn thousand_deep_nesting_matches_du() {
    let tmp = tempfile::tempdir().unwrap();
    make_deep(&tmp.path().join("deep"), 1000);
    let p: PathBuf = std::iter::once("deep")
        .chain(["nested-directory"; 1000])
        .collect();
    // Longer than PATH_MAX: errors or reopening by path would show here.
    assert!(p.as_os_str().len() > 4096);
    let json = assert_matches_du(tmp.path(), &["deep".as_ref()]);
    assert_eq!(json["paths"][0]["dirs"], 1001);
}

#[test]
fn a_deep_bushy_tree_within_a_small_descriptor_limit() {
    // With one worker, rayon runs the newest task first: at every level
    // where `down` is not the first name listed, the walk goes deeper while
    // siblings wait, and the directory's descriptor stays open for them.
    // Names differ per level so that the listing order (a hash on ext4)
    // does too. Without the walk's descriptor budget this runs out of
    // descriptors under a limit of 64.
    let tmp = tempfile::tempdir().unwrap();
    let mut p = tmp.path().join("bushy");
    for level in 0..300 {
        for s in 0..3 {
            fs::create_dir_all(p.join(format!("side{level}-{s}"))).unwrap();
            write(&p.join(format!("side{level}-{s}/f")), 10);
        }
        p.push("down");
    }
    fs::create_dir_all(&p).unwrap();
    let out = Command::new("sh")
        .current_dir(tmp.path())
        .env("RAYON_NUM_THREADS", "1")
        .args([
            "-c",
            r#"ulimit -n 64 && exec "$0" du --format json bushy"#,
            BIN,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let du = gnu_du(tmp.path(), &["-s", "-b"], &["bushy".as_ref()]);
    assert_eq!(json["paths"][0]["apparent_bytes"].as_u64(), Some(du[0].1));
    assert_eq!(json["paths"][0]["dirs"], 1 + 300 * 4);
}

#[test]
fn missing_path_is_reported_and_the_others_measured() {
    let tmp = tempfile::tempdir().unwrap();
    build_tree(&tmp.path().join("t"));
    let out = ours(
        tmp.path(),
        &[
            "--format".as_ref(),
            "json".as_ref(),
            "t".as_ref(),
            "gone".as_ref(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("gone: cannot access: No such file or directory"),
        "{stderr}"
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["paths"][0]["incomplete"], false);
    assert_eq!(json["paths"][1]["incomplete"], true);
    assert_eq!(json["paths"][1]["apparent_bytes"], 0);
    assert_eq!(json["paths"][1]["errors"][0]["path"], "gone");
    assert_eq!(json["warnings"].as_array().unwrap().len(), 1);
    let du = gnu_du(tmp.path(), &["-s", "-b"], &["t".as_ref()]);
    assert_eq!(json["total_apparent_bytes"].as_u64(), Some(du[0].1));
}

/// Runs `program args` as user `nobody`: root reads any directory, so an
/// unreadable one needs an unprivileged user. Not root: run as we are.
fn as_nobody(cwd: &Path, program: &str, args: &[&str]) -> Output {
    // SAFETY: geteuid has no preconditions.
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", program]);
        c
    } else {
        Command::new(program)
    };
    cmd.env_clear()
        .env("LC_ALL", "C")
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("setpriv (util-linux) must be installed")
}

#[test]
fn unreadable_directory_makes_the_report_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    build_tree(&r.join("t"));
    fs::create_dir_all(r.join("t/a/locked/inside")).unwrap();
    write(&r.join("t/a/locked/inside/secret"), 99_999);
    // The binary and the tree must be reachable by `nobody`.
    let bin = r.join("podman-storage");
    fs::copy(BIN, &bin).unwrap();
    fs::set_permissions(r, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(r.join("t/a/locked"), fs::Permissions::from_mode(0o000)).unwrap();

    let out = as_nobody(r, bin.to_str().unwrap(), &["du", "--format", "json", "t"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "podman-storage: warning: t/a/locked: cannot read directory: Permission denied (os error 13)\n"
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &json["paths"][0];
    assert_eq!(row["incomplete"], true);
    assert_eq!(row["errors"][0]["path"], "t/a/locked");
    // The rest was measured: the same partial figure du gives as `nobody`.
    let du = as_nobody(r, "du", &["-sb", "t"]);
    assert_eq!(du.status.code(), Some(1), "du also fails on it");
    let du_bytes: u64 = String::from_utf8(du.stdout)
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(row["apparent_bytes"].as_u64(), Some(du_bytes));

    // The table marks the row and says why.
    let out = as_nobody(r, bin.to_str().unwrap(), &["du", "--bytes", "t"]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.lines().nth(1).unwrap().ends_with('*'), "{table}");
    assert!(
        table.lines().last().unwrap().starts_with("* incomplete"),
        "{table}"
    );
    fs::set_permissions(r.join("t/a/locked"), fs::Permissions::from_mode(0o755)).unwrap();
}

/// Mounts a tmpfs for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Tmpfs {
        fs::create_dir_all(at).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "tmpfs"])
            .arg(at)
            .status()
            .unwrap();
        assert!(st.success(), "mount -t tmpfs failed: run as root");
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn stays_on_one_file_system_unless_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    build_tree(&r.join("t"));
    let mnt = Tmpfs::mount(&r.join("t/a/mnt"));
    write(&mnt.0.join("on-tmpfs"), 123_456);

    let (code, json) = ours_json(r, &["t".as_ref()]);
    assert_eq!(code, 0);
    let du = gnu_du(r, &["-s", "-b", "-x"], &["t".as_ref()]);
    assert_eq!(json["paths"][0]["apparent_bytes"].as_u64(), Some(du[0].1));

    let out = ours(
        r,
        &[
            "--format".as_ref(),
            "json".as_ref(),
            "--cross-file-systems".as_ref(),
            "t".as_ref(),
        ],
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let du = gnu_du(r, &["-s", "-b"], &["t".as_ref()]);
    assert_eq!(json["paths"][0]["apparent_bytes"].as_u64(), Some(du[0].1));
}

/// Snapshot filters that turn each figure GNU du reports into a named
/// placeholder: the snapshot then holds only if our numbers equal du's,
/// whatever file system the temp dir is on.
fn du_filters(cwd: &Path, paths: &[&str]) -> Vec<(String, String)> {
    let os: Vec<&OsStr> = paths.iter().map(OsStr::new).collect();
    let mut filters = Vec::new();
    let mut totals = [0u64; 2];
    for (k, (flags, tag)) in [(&["-s", "-b"][..], "APPARENT"), (&["-s", "-B1"], "DISK")]
        .iter()
        .enumerate()
    {
        for (path, n) in gnu_du(cwd, flags, &os) {
            totals[k] += n;
            filters.push((
                format!(r"\b{n}\b"),
                format!("[{}_{tag}]", path.to_string_lossy()),
            ));
        }
        filters.push((format!(r"\b{}\b", totals[k]), format!("[TOTAL_{tag}]")));
    }
    filters
}

#[test]
fn snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    // Sizes chosen so that every figure has the same number of digits on
    // ext4, xfs, btrfs and tmpfs: the table's alignment stays put.
    fs::create_dir_all(r.join("src/sub")).unwrap();
    write(&r.join("src/main.rs"), 123_456);
    write(&r.join("src/sub/lib.rs"), 234_567);
    fs::create_dir_all(r.join("cache")).unwrap();
    write(&r.join("cache/blob"), 765_432);
    let filters = du_filters(r, &["src", "cache"]);
    let mut settings = insta::Settings::clone_current();
    for (re, with) in &filters {
        settings.add_filter(re, with.as_str());
    }
    settings.bind(|| {
        let runs = [
            ("table", &["--bytes", "src", "cache", "missing"][..]),
            ("json", &["--format", "json", "src", "cache"]),
        ];
        for (name, args) in runs {
            let os: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
            let out = ours(r, &os);
            let report = format!(
                "args: {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
                args.join(" "),
                out.status.code().unwrap(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            insta::assert_snapshot!(name, report);
        }
    });
}

/// `--sort size` orders paths by bytes on disk as GNU du counts them,
/// `--top 2` keeps the two largest while TOTAL covers all three, and a key
/// du has no column for is an error.
#[test]
fn sort_by_size_and_top_keep_the_total_whole() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, len) in [("small", 10_000), ("large", 300_000), ("middle", 90_000)] {
        fs::create_dir(tmp.path().join(name)).unwrap();
        write(&tmp.path().join(name).join("f"), len);
    }
    let names: Vec<&OsStr> = vec!["small".as_ref(), "large".as_ref(), "middle".as_ref()];
    let du = gnu_du(tmp.path(), &["-s", "-B1"], &names);
    let mut by_du = du.clone();
    by_du.sort_by_key(|d| std::cmp::Reverse(d.1));

    let mut args: Vec<&OsStr> = ["--format", "json", "--sort", "size", "--top", "2"]
        .iter()
        .map(|s| s.as_ref())
        .collect();
    args.extend_from_slice(&names);
    let out = ours(tmp.path(), &args);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<(OsString, u64)> = v["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                OsString::from(p["path"].as_str().unwrap()),
                p["disk_bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        by_du[..2],
        "the two largest, largest first, as du sizes them"
    );
    let du_total: u64 = du.iter().map(|(_, b)| b).sum();
    assert_eq!(v["total_bytes"], du_total, "the total covers all three");

    let out = ours(
        tmp.path(),
        &[
            "--top".as_ref(),
            "1".as_ref(),
            "--sort".as_ref(),
            "name".as_ref(),
            "small".as_ref(),
            "large".as_ref(),
        ],
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("PATH"), "{table}");
    assert_eq!(
        table.lines().nth(1).unwrap().split_whitespace().next(),
        Some("large")
    );
    assert!(
        table.contains("1 of 2 paths shown (--top 1); the total covers all 2\n"),
        "{table}"
    );

    let out = ours(
        tmp.path(),
        &["--sort".as_ref(), "used".as_ref(), "small".as_ref()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "podman-storage: error: --sort used does not apply to du; it sorts by size, name\n"
    );
}
