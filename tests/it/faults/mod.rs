//! Fault injection and hostile input over the real binary: the one
//! fault suite (`basic` has the first, simplest faults).
//!
//! * **Faults**: a fake `podman` (a shell script given with `--podman`) that
//!   is missing, fails, hangs (itself, or through a child), prints truncated
//!   JSON or JSON of another shape, prints sizes in forms podman 4 never
//!   prints, or is slow but within `--timeout`; each for the views `df`,
//!   `images`, `containers --size`, `volumes` and `overview`, with the fault
//!   on every call or only on `images`. Asserted for each: the exit code,
//!   one line per problem naming the command, the rest of the report where
//!   there is a rest, a hang ended at the timeout with no process left; and
//!   every output is snapshotted.
//! * **Hostile names**: escape sequences, newlines, 100 kB strings and
//!   non-UTF-8 bytes in image, container and volume names and labels (from
//!   the fake, and from real podman), config ids such as `../x`, and
//!   workspaces with symlink loops, a symlink to `/`, files vanishing
//!   mid-walk, nesting past `PATH_MAX` and non-UTF-8 file names.
//!
//! `--cli-only` and an empty store (`CONTAINERS_STORAGE_CONF`) make sure
//! the fake is what gets asked.

mod basic;

use crate::common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use serde_json::{json, Value};

const IMAGE: &str = "4f8069fe8a5899d7f0e1c4e3a5b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4";
const CONTAINER: &str = "7bbdf5ed348d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a69788766554433221100ff";

/// The fake podman: global flags skipped, the subcommand mapped to a key,
/// each call logged (`calls`: pid and key), then the fault for that key (or
/// for all) applied, else the answer file for that key (or `[]`) printed.
const FAKE: &str = r#"#!/bin/sh
dir=__DIR__
while :; do
  case "$1" in
    --url|--connection|-c) shift 2 ;;
    *) break ;;
  esac
done
case "$*" in
  "images -a --format json") key=images ;;
  "ps -a --format json") key=ps ;;
  "ps -a --size --format json"|"ps -a --size --filter "*) key=ps-size ;;
  "volume ls --format json") key=volumes ;;
  "volume ls --filter dangling=true --format json") key=dangling ;;
  "pod ps --format json") key=pods ;;
  "image inspect --format json "*) key=inspect ;;
  "history --format json "*) key="history-$4" ;;
  "system df -v") key=df-v ;;
  "ps -a -q --no-trunc") key=ps-ids ;;
  "container inspect --format json "*) key=ctr-inspect ;;
  "version --format json") key=version ;;
  *) key=other ;;
esac
echo "$$ $key" >> "$dir/calls"
fault=ok
[ -f "$dir/fault" ] && fault=$(cat "$dir/fault")
[ -f "$dir/fault.$key" ] && fault=$(cat "$dir/fault.$key")
case "$fault" in
  fail) printf 'Error: %s: cannot connect to Podman socket\n' "$key" >&2; exit 125 ;;
  hang) exec sleep 600 ;;
  hang-child) sleep 600 & echo "$!" >> "$dir/children"; wait; exit 0 ;;
  slow) sleep 1 ;;
  truncated) if [ -f "$dir/answers/$key" ]; then head -c 25 "$dir/answers/$key"; else printf '[{"Id": "4f80'; fi; exit 0 ;;
  shape) printf '{"Images": {"unexpected": [1, 2]}, "Count": "3"}\n'; exit 0 ;;
esac
# podman 4.3 on an image removed since it was listed: nothing on stdout
# when that image is among those asked about.
if [ "$key" = inspect ] && [ -f "$dir/gone" ]; then
  for id; do
    if grep -qx -- "$id" "$dir/gone"; then
      printf 'Error: locating image with ID "%s": image not known\n' "$id" >&2; exit 125
    fi
  done
fi
# Unless a test says otherwise, the log calls answer as podman would for
# the containers listed: their ids, each logging nowhere (driver none).
if [ ! -f "$dir/answers/$key" ]; then
  case "$key" in
    ps-ids) cat "$dir/answers/ps-size" "$dir/answers/ps" 2>/dev/null \
      | grep -o '"Id": *"[0-9a-f]*"' | sed 's/.*"\([0-9a-f]*\)"$/\1/' | sort -u; exit 0 ;;
    ctr-inspect) shift 4; printf '['; sep=
      for id; do printf '%s{"Id":"%s","HostConfig":{"LogConfig":{"Type":"none"}}}' "$sep" "$id"; sep=,; done
      printf ']\n'; exit 0 ;;
    version) echo '{"Client":{"Version":"4.3.1"}}'; exit 0 ;;
  esac
fi
if [ -f "$dir/answers/$key" ]; then cat "$dir/answers/$key"; else echo '[]'; fi
[ -f "$dir/stderr.$key" ] && cat "$dir/stderr.$key" >&2
[ -f "$dir/exit.$key" ] && exit "$(cat "$dir/exit.$key")"
exit 0
"#;

/// Apparent bytes of the world's workspace and volume files.
const WORKSPACE_BYTES: u64 = 20_000_000;
const VOLUME_BYTES: u64 = 30_000_000;

fn sparse(path: &Path, len: u64) {
    fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// `du -sb DIR`: the workspace's figure, measured by du.
fn du_sb(dir: &Path) -> u64 {
    common::du_sb(&[dir.to_path_buf()])
}

/// One test's world: a temp dir with the fake podman, its answers, an
/// empty store, a config with a workspace, and a volume directory.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::Builder::new()
            .prefix("psrel-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let w = World { dir };
        let d = w.path();
        fs::create_dir_all(d.join("answers")).unwrap();
        fs::create_dir_all(d.join("store/root")).unwrap();
        fs::write(
            d.join("store/storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}/store/root\"\n",
                d.display()
            ),
        )
        .unwrap();
        let fake = FAKE.replace("__DIR__", &sh_quote(d));
        fs::write(d.join("podman"), fake).unwrap();
        chmod_x(&d.join("podman"));
        // The project's workspace: the rest of the overview.
        fs::create_dir_all(d.join("ws/task1")).unwrap();
        // Sparse, tens of MB: a directory's own size (4 kB on ext4, tens of
        // bytes on tmpfs, XFS, btrfs) vanishes in three significant
        // digits, so the snapshots hold on any file system.
        sparse(&d.join("ws/task1/data"), WORKSPACE_BYTES);
        fs::write(
            d.join("config.toml"),
            format!(
                "[[projects]]\nid = \"proj\"\nworkspaces = [\"{}/ws/*\"]\nlabels = {{ \"com.docker.compose.project\" = \"proj\" }}\n",
                d.display()
            ),
        )
        .unwrap();
        fs::create_dir_all(d.join("vol/data")).unwrap();
        sparse(&d.join("vol/data/blob"), VOLUME_BYTES);
        w.answers_ok();
        w
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn answer(&self, key: &str, text: impl AsRef<[u8]>) {
        fs::write(self.path().join("answers").join(key), text).unwrap();
    }

    /// What the fake prints on stderr for `key` after its answer, and the
    /// code it then exits with (podman's partial answers).
    fn stderr(&self, key: &str, text: &str, exit: i32) {
        fs::write(self.path().join(format!("stderr.{key}")), text).unwrap();
        fs::write(self.path().join(format!("exit.{key}")), exit.to_string()).unwrap();
    }

    fn fault(&self, key: Option<&str>, mode: &str) {
        let name = key.map_or("fault".to_string(), |k| format!("fault.{k}"));
        fs::write(self.path().join(name), mode).unwrap();
    }

    /// A small healthy store: one image of two layers, one running
    /// container of project `proj` that wrote 12,345 bytes, one volume.
    fn answers_ok(&self) {
        let image = json!([{
            "Id": IMAGE, "ParentId": "", "Names": ["localhost/app:1"],
            "Size": 5_000_000, "Labels": {"org.example": "x"}, "Containers": 1
        }]);
        let ctr = |size: Option<Value>| {
            let mut c = json!({
                "Id": CONTAINER, "Names": ["web"], "Image": "localhost/app:1",
                "ImageID": IMAGE, "State": "running",
                "Labels": {"com.docker.compose.project": "proj"}, "Pod": "", "IsInfra": false
            });
            if let Some(s) = size {
                c["Size"] = s;
            }
            json!([c])
        };
        self.answer("images", image.to_string());
        self.answer("ps", ctr(None).to_string());
        self.answer(
            "ps-size",
            ctr(Some(json!({"rwSize": 12_345, "rootFsSize": 5_012_345}))).to_string(),
        );
        self.answer(
            "inspect",
            json!([{"Id": IMAGE, "RootFS": {"Type": "layers", "Layers": [
                "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                "sha256:2222222222222222222222222222222222222222222222222222222222222222"
            ]}}])
            .to_string(),
        );
        self.answer(
            "volumes",
            json!([{"Name": "data", "Driver": "local",
                    "Mountpoint": self.path().join("vol/data"),
                    "Labels": {"owner": "team-a"}, "Scope": "local"}])
            .to_string(),
        );
        self.answer("dangling", "[]");
        self.answer("pods", "[]");
        self.answer(
            "df-v",
            "Images space usage:\n\nREPOSITORY  TAG  IMAGE ID  CREATED  SIZE  SHARED SIZE  UNIQUE SIZE  CONTAINERS\n\nLocal Volumes space usage:\n\nVOLUME NAME  LINKS       SIZE\ndata         1           30.1kB\n",
        );
    }

    fn command(&self, podman: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(cargo_bin("podman-storage"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path().join("home"))
            .env("LC_ALL", "C")
            .env("NO_COLOR", "1")
            .env(
                "CONTAINERS_STORAGE_CONF",
                self.path().join("store/storage.conf"),
            )
            .arg("--podman")
            .arg(podman)
            .arg("--cli-only")
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(&self.path().join("podman"), args)
            .output()
            .unwrap()
    }

    fn config(&self) -> String {
        self.path().join("config.toml").display().to_string()
    }

    /// Pids the fake was started as.
    fn call_pids(&self) -> Vec<i32> {
        self.log("calls")
            .iter()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }

    fn log(&self, name: &str) -> Vec<String> {
        fs::read_to_string(self.path().join(name))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn chmod_x(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
}

fn alive(pid: i32) -> bool {
    // A zombie is no orphan, but it is a child not reaped: count it alive
    // unless /proc says it is gone or a zombie of someone else's.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Table output may hold newlines and nothing else below 0x20, no DEL, no
/// C1 control characters.
/// Some characters either side of byte `i`, cut at character boundaries.
fn context(s: &str, i: usize) -> String {
    let before: Vec<char> = s[..i].chars().rev().take(40).collect();
    let after: String = s[i..].chars().take(20).collect();
    before.into_iter().rev().collect::<String>() + &after
}

fn assert_printable(what: &str, out: &[u8]) {
    let s = String::from_utf8(out.to_vec())
        .unwrap_or_else(|_| panic!("{what}: output is not UTF-8: {}", text(out)));
    for (i, c) in s.char_indices() {
        let bad = (c < ' ' && c != '\n') || ('\u{7f}'..='\u{9f}').contains(&c);
        assert!(
            !bad,
            "{what}: control character {c:?} at byte {i}: {:?}",
            context(&s, i)
        );
    }
}

// ---------------------------------------------------------------------------
// Faults.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    Missing,
    Fails,
    Hangs,
    HangsWithChild,
    Truncated,
    Shape,
    Slow,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Missing => "missing",
            Fault::Fails => "fails",
            Fault::Hangs => "hangs",
            Fault::HangsWithChild => "hangs_with_child",
            Fault::Truncated => "truncated",
            Fault::Shape => "shape",
            Fault::Slow => "slow",
        }
    }

    fn mode(self) -> &'static str {
        match self {
            Fault::Missing => "ok",
            Fault::Fails => "fail",
            Fault::Hangs => "hang",
            Fault::HangsWithChild => "hang-child",
            Fault::Truncated => "truncated",
            Fault::Shape => "shape",
            Fault::Slow => "slow",
        }
    }

    fn timeout(self) -> u64 {
        match self {
            Fault::Hangs | Fault::HangsWithChild => 1,
            _ => 20,
        }
    }

    /// The words each problem line must contain.
    fn says(self) -> &'static str {
        match self {
            Fault::Missing => "could not find",
            Fault::Fails => "failed with exit code 125: Error:",
            Fault::Hangs | Fault::HangsWithChild => "did not finish within 1 s and was killed",
            Fault::Truncated | Fault::Shape => "printed output that is not what podman 4 prints",
            Fault::Slow => "",
        }
    }
}

const VIEWS: [(&str, &[&str]); 5] = [
    ("df", &["df"]),
    ("images", &["images"]),
    ("containers_size", &["containers", "--size"]),
    ("volumes", &["volumes"]),
    ("overview", &["overview"]),
];

/// Runs one view against one fault (on every call, or on `images` only)
/// and checks what must hold whatever the output; returns the snapshot text.
fn fault_case(fault: Fault, view: &str, args: &[&str], only_images: bool) -> (String, i32) {
    let w = World::new();
    let podman = if fault == Fault::Missing {
        w.path().join("no-such-podman")
    } else {
        w.path().join("podman")
    };
    w.fault(only_images.then_some("images"), fault.mode());
    let timeout = fault.timeout().to_string();
    let config = w.config();
    let mut all = vec!["--timeout", &timeout, "--config", &config];
    all.extend_from_slice(args);
    let started = Instant::now();
    let out = w.command(&podman, &all).output().unwrap();
    let took = started.elapsed();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let code = out.status.code().expect("exited, not killed by a signal");
    let ctx = format!("{} / {view} / only images {only_images}:\nexit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}", fault.name());

    // Hangs end at the timeout, and nothing the fake started outlives us.
    if matches!(fault, Fault::Hangs | Fault::HangsWithChild) {
        assert!(took < Duration::from_secs(8), "{ctx}\ntook {took:?}");
        assert!(
            took >= Duration::from_secs(1),
            "{ctx}\nreturned before the timeout"
        );
    }
    let mut left: Vec<i32> = w.call_pids();
    left.extend(
        w.log("children")
            .iter()
            .filter_map(|p| p.parse::<i32>().ok()),
    );
    let left: Vec<i32> = left.into_iter().filter(|p| alive(*p)).collect();
    for p in &left {
        // Do not leave them behind for the next test either.
        unsafe { libc::kill(*p, libc::SIGKILL) };
    }
    assert!(left.is_empty(), "{ctx}\nprocesses left running: {left:?}");

    let healthy = matches!(fault, Fault::Slow);
    // A view whose own list failed has nothing true to show (exit 2); `df`
    // with only images failing, and the overview (workspaces), still report.
    let has_rest = view == "overview" || (view == "df" && only_images);
    let expected = if healthy {
        0
    } else if has_rest {
        1
    } else {
        2
    };
    assert_eq!(code, expected, "{ctx}");
    assert_printable("stdout", &out.stdout);
    assert_printable("stderr", &out.stderr);
    match code {
        0 => assert!(stderr.is_empty(), "{ctx}"),
        2 => {
            assert!(stdout.is_empty(), "{ctx}\nno report with made-up numbers");
            assert_eq!(stderr.lines().count(), 1, "{ctx}\none line");
            assert!(stderr.starts_with("podman-storage: error: "), "{ctx}");
        }
        _ => {
            assert!(!stdout.is_empty(), "{ctx}\nthe rest is printed");
            for l in stderr.lines() {
                assert!(l.starts_with("podman-storage: warning: "), "{ctx}");
            }
        }
    }
    if !healthy {
        // Every problem line names the command (or the missing binary).
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(!lines.is_empty(), "{ctx}");
        assert!(
            lines.iter().any(|l| l.contains(fault.says())),
            "{ctx}\nexpected {:?}",
            fault.says()
        );
        for l in &lines {
            assert!(
                l.contains("podman") && (l.contains('`') || l.contains("could not find")),
                "{ctx}\nline does not name the command: {l}"
            );
        }
        // Said once, not once per call.
        if fault == Fault::Missing {
            assert_eq!(lines.len(), 1, "{ctx}");
        }
    }
    if view == "overview" && code != 2 {
        // The project row holds its workspace as du measures it.
        let ws = podman_storage::size::format(du_sb(&w.path().join("ws/task1")));
        let row = stdout.lines().find(|l| l.starts_with("proj "));
        assert!(
            row.is_some_and(|r| r.contains(&format!("{ws} (1)"))),
            "{ctx}\nthe workspace is measured: {ws}"
        );
    }
    if view == "df" && only_images && !healthy {
        assert!(stdout.contains("Images") && stdout.contains('?'), "{ctx}");
        assert!(stdout.contains("Local Volumes"), "{ctx}");
    }
    (
        format!("exit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}"),
        code,
    )
}

/// What the cases ended as, by exit code: the summary benches read.
fn outcomes(codes: &[i32]) -> String {
    let n = |c: i32| codes.iter().filter(|&&x| x == c).count();
    format!(
        "{} complete, {} partial (exit 1, the rest reported), {} refused (exit 2, one line)",
        n(0),
        n(1),
        n(2)
    )
}

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(true);
    s.add_filter(
        &format!(
            "{}/psrel-[A-Za-z0-9]+",
            regex::escape(env!("CARGO_TARGET_TMPDIR"))
        ),
        "[TMP]",
    );
    s
}

fn fault_suite(fault: Fault) {
    // Views run at the same time: most of a hang's cost is waiting.
    let results: Vec<(String, (String, i32))> = std::thread::scope(|s| {
        let handles: Vec<_> = VIEWS
            .iter()
            .map(|(view, args)| (format!("{}__{view}", fault.name()), false, *view, *args))
            .chain([
                (
                    format!("{}__df__only_images", fault.name()),
                    true,
                    "df",
                    &["df"][..],
                ),
                (
                    format!("{}__overview__only_images", fault.name()),
                    true,
                    "overview",
                    &["overview"][..],
                ),
            ])
            .filter(|(_, only, _, _)| !(*only && fault == Fault::Missing))
            .map(|(name, only, view, args)| {
                s.spawn(move || (name, fault_case(fault, view, args, only)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let cases = results.len();
    let codes: Vec<i32> = results.iter().map(|(_, (_, code))| *code).collect();
    let settings = snapshot_settings();
    settings.bind(|| {
        for (name, (out, _)) in results {
            insta::assert_snapshot!(name, out);
        }
    });
    // Read by benches/reliability.sh.
    println!(
        "faults {}: {cases} injected: {}",
        fault.name(),
        outcomes(&codes)
    );
}

#[test]
fn fault_missing_podman() {
    fault_suite(Fault::Missing);
}

#[test]
fn fault_failing_podman() {
    fault_suite(Fault::Fails);
}

#[test]
fn fault_hanging_podman() {
    fault_suite(Fault::Hangs);
}

#[test]
fn fault_hanging_podman_with_a_child() {
    fault_suite(Fault::HangsWithChild);
}

#[test]
fn fault_truncated_json() {
    fault_suite(Fault::Truncated);
}

#[test]
fn fault_json_of_another_shape() {
    fault_suite(Fault::Shape);
}

#[test]
fn fault_slow_podman_within_the_timeout() {
    fault_suite(Fault::Slow);
}

/// Sizes in forms podman 4 never prints: a negative writable layer, a
/// negative image, numbers as strings or fractions. Negative sizes are
/// reported, never added; other forms are errors naming the command.
#[test]
fn sizes_never_seen_before() {
    let cases: Vec<(&str, &str, Value, &[&str])> = vec![
        (
            "negative_rw_size",
            "ps-size",
            json!([{"Id": CONTAINER, "Names": ["web"], "Image": "localhost/app:1", "ImageID": IMAGE,
                    "State": "exited", "Size": {"rwSize": -2768, "rootFsSize": 5_000_000}}]),
            &["containers", "--size"],
        ),
        (
            "negative_image_size",
            "images",
            json!([{"Id": IMAGE, "ParentId": "", "Names": ["localhost/app:1"], "Size": -1_399_000, "Containers": 0}]),
            &["images"],
        ),
        (
            "fractional_rw_size",
            "ps-size",
            json!([{"Id": CONTAINER, "Names": ["web"], "Image": "x", "ImageID": IMAGE,
                    "State": "exited", "Size": {"rwSize": 1.5e3, "rootFsSize": 0}}]),
            &["containers", "--size"],
        ),
        (
            "size_as_text",
            "images",
            json!([{"Id": IMAGE, "Names": ["localhost/app:1"], "Size": "3.37 MB"}]),
            &["images"],
        ),
    ];
    let mut snaps = Vec::new();
    let mut codes = Vec::new();
    for (name, key, answer, args) in cases {
        let w = World::new();
        w.answer(key, answer.to_string());
        let mut all = vec!["--timeout", "20"];
        all.extend_from_slice(args);
        let out = w.run(&all);
        let code = out.status.code().unwrap();
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        let ctx = format!("{name}: exit {code}\n{stdout}\n{stderr}");
        assert!(
            code == 1 || code == 2,
            "{ctx}\na size podman 4 never prints is not a complete report"
        );
        assert!(!stderr.is_empty(), "{ctx}");
        assert!(
            !stdout.contains("-2768") && !stdout.contains("-1.4"),
            "{ctx}"
        );
        let json = w.run(&[&["--format", "json"][..], &all].concat());
        if json.status.code() != Some(2) {
            let v: Value = serde_json::from_slice(&json.stdout).unwrap();
            assert!(v["total_bytes"].is_u64(), "{ctx}");
            assert!(!v["warnings"].as_array().unwrap().is_empty(), "{ctx}");
        }
        codes.push(code);
        snaps.push((
            name,
            format!("exit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}"),
        ));
    }
    let cases = snaps.len();
    snapshot_settings().bind(|| {
        for (name, out) in snaps {
            insta::assert_snapshot!(format!("sizes__{name}"), out);
        }
    });
    println!("faults odd-sizes: {cases} injected: {}", outcomes(&codes));
}

/// Sizes no disk holds: three unrelated images of `i64::MAX` bytes each.
/// Not an error (podman said so), but the sums saturate at `u64::MAX`
/// instead of panicking or wrapping around to a small figure.
#[test]
fn huge_sizes_saturate() {
    let w = World::new();
    let ids = [IMAGE, CONTAINER, &"9".repeat(64)];
    let images: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"Id": id, "Names": [format!("localhost/a{i}:1")], "Size": i64::MAX}))
        .collect();
    let inspect: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"Id": id, "RootFS": {"Layers": [format!("sha256:{i:064x}")]}}))
        .collect();
    w.answer("images", json!(images).to_string());
    w.answer("inspect", json!(inspect).to_string());
    w.answer("ps", "[]");
    w.answer("ps-size", "[]");
    let mut codes = Vec::new();
    for view in [&["df"][..], &["images"], &["overview"]] {
        let out = w.run(&[&["--format", "json"][..], view].concat());
        codes.push(out.status.code().unwrap_or(-1));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{view:?}: {}",
            text(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["total_bytes"], json!(u64::MAX), "{view:?}: {v}");
    }
    let out = w.run(&["df"]);
    insta::assert_snapshot!("huge_sizes_df", text(&out.stdout));
    println!("faults huge-sizes: 3 injected: {}", outcomes(&codes));
}

/// Over a remote connection volume sizes come from `system df -v` text:
/// `-2768B` and `N/A` are reported, not added; `1e+03kB` and `45KiB` are
/// read exactly.
#[test]
fn remote_volume_sizes_in_odd_forms() {
    let w = World::new();
    let vols: Vec<Value> = ["neg", "na", "exp", "kib"]
        .iter()
        .map(|n| json!({"Name": n, "Mountpoint": format!("/remote/{n}"), "Labels": {}}))
        .collect();
    w.answer("volumes", json!(vols).to_string());
    w.answer(
        "df-v",
        "Local Volumes space usage:\n\nVOLUME NAME  LINKS       SIZE\nneg          0           -2768B\nna           0           N/A\nexp          1           1e+03kB\nkib          0           45KiB\n",
    );
    let out = w.run(&[
        "--url",
        "unix:///nowhere.sock",
        "--format",
        "json",
        "volumes",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bytes = |name: &str| {
        v["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()["bytes"]
            .clone()
    };
    assert_eq!(bytes("exp"), json!(1_000_000));
    assert_eq!(bytes("kib"), json!(46_080));
    assert_eq!(bytes("neg"), Value::Null);
    assert_eq!(bytes("na"), Value::Null);
    assert_eq!(v["total_bytes"], json!(1_046_080));
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    assert!(
        stderr.contains("volume neg") && stderr.contains("volume na"),
        "{stderr}"
    );
    assert_printable("stderr", &out.stderr);
    let table = w.run(&["--url", "unix:///nowhere.sock", "volumes"]);
    insta::assert_snapshot!("remote_volume_sizes", text(&table.stdout));
    let unmeasured = v["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["bytes"].is_null())
        .count();
    println!(
        "faults df-v-sizes: 4 injected: {} read exactly, {unmeasured} reported unmeasured",
        4 - unmeasured
    );
}

// ---------------------------------------------------------------------------
// Hostile names and labels.

/// Strings that must never reach a terminal raw.
fn hostile() -> Vec<String> {
    vec![
        "\u{1b}[31mred\u{1b}[0m".into(),
        "\u{1b}]0;pwned\u{7}".into(),
        "two\nlines\r\n".into(),
        "del\u{7f}c1\u{9b}31m".into(),
        "nul\u{0}tab\t".into(),
        "x".repeat(100_000),
    ]
}

/// Answers whose every name and label is hostile; `raw` appends a byte
/// sequence that is not UTF-8 inside the JSON strings (podman, written in
/// Go, would print U+FFFD; a fake can print anything).
fn hostile_world(raw: bool) -> World {
    let w = World::new();
    let h = hostile();
    let labels: serde_json::Map<String, Value> = h
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                format!("k{i}{}", s.chars().take(12).collect::<String>()),
                json!(s),
            )
        })
        .chain([(
            "com.docker.compose.project".to_string(),
            json!("\u{1b}[2Jproj"),
        )])
        .collect();
    let images: Vec<Value> = h
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"Id": format!("{i:064x}"), "ParentId": "", "Names": [format!("localhost/{s}:1")],
                   "Size": 1000 + i, "Labels": labels, "Containers": 1})
        })
        .collect();
    let containers: Vec<Value> = h
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"Id": format!("{:064x}", i + 100), "Names": [s], "Image": s, "ImageID": format!("{i:064x}"),
                   "State": s, "Labels": labels, "Pod": "", "IsInfra": false,
                   "Size": {"rwSize": 10 * i, "rootFsSize": 0}})
        })
        .collect();
    let volumes: Vec<Value> = h
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mount = w.path().join(format!("vol/{i}"));
            fs::create_dir_all(&mount).unwrap();
            json!({"Name": s, "Mountpoint": mount, "Labels": labels})
        })
        .collect();
    let inspect: Vec<Value> = (0..h.len())
        .map(|i| json!({"Id": format!("{i:064x}"), "RootFS": {"Layers": [format!("sha256:{i:064x}")]}}))
        .collect();
    let bytes = |v: Vec<Value>| {
        let t = serde_json::to_vec(&v).unwrap();
        if !raw {
            return t;
        }
        let t = replace_bytes(&t, b"\"Names\":[\"", b"\"Names\":[\"\xff\xfe\xc3(");
        replace_bytes(&t, b"\"Name\":\"", b"\"Name\":\"\xff\xfe\xc3(")
    };
    w.answer("images", bytes(images));
    w.answer("ps", bytes(containers.clone()));
    w.answer("ps-size", bytes(containers));
    w.answer("volumes", bytes(volumes));
    w.answer("inspect", serde_json::to_vec(&inspect).unwrap());
    w
}

fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

const HOSTILE_VIEWS: [&[&str]; 6] = [
    &["df"],
    &["images"],
    &["containers", "--size"],
    &["volumes"],
    &["overview"],
    &["project", "proj"],
];

#[test]
fn hostile_names_never_reach_the_terminal() {
    for raw in [false, true] {
        let w = hostile_world(raw);
        let config = w.config();
        for view in HOSTILE_VIEWS {
            let mut args = vec!["--timeout", "20", "--config", &config];
            args.extend_from_slice(view);
            let out = w.run(&args);
            let ctx = format!(
                "{view:?} raw={raw}: exit {:?}\n{}",
                out.status.code(),
                text(&out.stderr)
            );
            assert!(
                out.status.code() == Some(0) || out.status.code() == Some(1),
                "{ctx}"
            );
            assert_printable(&format!("{view:?} stdout"), &out.stdout);
            assert_printable(&format!("{view:?} stderr"), &out.stderr);
            assert!(!out.stdout.is_empty(), "{ctx}");

            args.extend(["--format", "json"]);
            let out = w.run(&args);
            let v: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{ctx}: invalid JSON: {e}"));
            assert!(v["total_bytes"].is_u64(), "{ctx}");
            assert_printable(&format!("{view:?} json stderr"), &out.stderr);
            // The names arrive intact in JSON: escaped, not lost.
            let dump = v.to_string();
            if !raw && ["images", "volumes"].contains(&view[0]) {
                assert!(dump.contains("\\u001b[31mred"), "{ctx}");
                assert!(dump.contains(&"x".repeat(100_000)), "{ctx}");
            }
        }
    }
    println!(
        "hostile names: {} runs ({} strings in image, container, volume names and labels, UTF-8 and not; {} views, table and JSON), control characters on the terminal 0",
        2 * HOSTILE_VIEWS.len() * 2,
        hostile().len(),
        HOSTILE_VIEWS.len()
    );
}

/// A failing podman whose message carries escape sequences: the one fatal
/// line must not carry them to the terminal.
#[test]
fn hostile_error_messages_are_sanitized() {
    let w = World::new();
    fs::write(
        w.path().join("podman"),
        "#!/bin/sh\nprintf 'Error: \\033[31mred\\033]0;title\\007 \\233J\\n' >&2\nexit 125\n",
    )
    .unwrap();
    for view in [&["images"][..], &["df"], &["volumes"], &["overview"]] {
        let out = w.run(view);
        assert!(out.status.code() == Some(2) || out.status.code() == Some(1));
        assert!(text(&out.stderr).contains("red"), "{}", text(&out.stderr));
        assert_printable(&format!("{view:?} stderr"), &out.stderr);
    }
    println!("hostile error-messages: 4 runs, control characters on the terminal 0");
}

#[test]
fn config_ids_that_could_escape_are_rejected() {
    let w = World::new();
    for (id, why) in [
        ("../x", "path"),
        ("(orphans)", "synthetic row"),
        ("(shared)", "synthetic row"),
        ("A", "uppercase"),
        ("", "empty"),
        ("a/b", "path"),
        ("\u{1b}[31m", "escape"),
    ] {
        let cfg = w.path().join("bad.toml");
        fs::write(
            &cfg,
            format!(
                "# {why}\n[[projects]]\nid = {}\n",
                toml::Value::String(id.into())
            ),
        )
        .unwrap();
        let out = w.run(&["--config", cfg.to_str().unwrap(), "overview"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{id:?}: {err}");
        assert!(out.stdout.is_empty(), "{id:?}");
        assert_eq!(err.lines().count(), 1, "{id:?}: {err}");
        assert!(
            err.contains(&format!("{}:3:", cfg.display())),
            "{id:?}: {err}"
        );
        assert_printable("stderr", &out.stderr);
    }
    println!("hostile config-ids: 7 cases, 7 rejected");
}

// ---------------------------------------------------------------------------
// Hostile directory trees.

/// A directory `levels` deep made with `mkdirat` relative to each parent:
/// its full path is longer than `PATH_MAX`, which `mkdir -p` cannot make.
fn deep_chain(top: &Path, levels: usize) {
    use rustix::fs::{mkdirat, openat, Mode, OFlags, CWD};
    let mut fd = openat(CWD, top, OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).unwrap();
    for _ in 0..levels {
        mkdirat(&fd, "dd", Mode::from_raw_mode(0o755)).unwrap();
        fd = openat(&fd, "dd", OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).unwrap();
    }
    let f = openat(
        &fd,
        "bottom",
        OFlags::CREATE | OFlags::WRONLY,
        Mode::from_raw_mode(0o644),
    )
    .unwrap();
    rustix::io::write(&f, &[0u8; 1000]).unwrap();
}

/// Bytes outside every root, reachable only through symlinks: a sparse
/// terabyte that any followed link would make obvious.
const CANARY: u64 = 1 << 40;

/// Traps in `hostile_tree`: two loops, `.`, `..`, `/`, two canary links,
/// a name that is not UTF-8 holding a file named with escapes, 1,500-deep
/// nesting, two workspace-level links, an escape-named workspace, a
/// workspace named with bytes that are not UTF-8.
const TRAPS: usize = 14;

/// A workspace named with an escape sequence, a bell and a newline.
const EVIL: &str = "\u{1b}]0;title\u{7}\nevil";

/// A workspace root full of traps, beside a canary directory.
fn hostile_tree(base: &Path) -> PathBuf {
    let outside = base.join("outside");
    fs::create_dir_all(&outside).unwrap();
    let f = fs::File::create(outside.join("terabyte")).unwrap();
    f.set_len(CANARY).unwrap();
    let ws = base.join("workspaces");
    let t = ws.join("task");
    fs::create_dir_all(&t).unwrap();
    fs::write(t.join("real"), vec![3u8; 5000]).unwrap();
    symlink("loop-b", t.join("loop-a")).unwrap();
    symlink("loop-a", t.join("loop-b")).unwrap();
    symlink(".", t.join("self")).unwrap();
    symlink("..", t.join("parent")).unwrap();
    symlink("/", t.join("root")).unwrap();
    symlink(&outside, t.join("canary-dir")).unwrap();
    symlink(outside.join("terabyte"), t.join("canary-file")).unwrap();
    // Names no UTF-8 decoder likes, and names with controls in them.
    let odd = t.join(OsStr::from_bytes(b"\xff\xfe-not-utf8"));
    fs::create_dir(&odd).unwrap();
    fs::write(
        odd.join(OsStr::from_bytes(b"\x1b[31m\nfile\xc3(")),
        b"12345",
    )
    .unwrap();
    deep_chain(&t, 1500);
    // Workspace globs: a symlink to `/` and to the canary match `*` too.
    symlink("/", ws.join("link-to-root")).unwrap();
    symlink(&outside, ws.join("link-to-canary")).unwrap();
    let evil = ws.join(EVIL);
    fs::create_dir(&evil).unwrap();
    fs::write(evil.join("x"), b"abc").unwrap();
    // glob (0.3) never matches a name that is not UTF-8: not a workspace,
    // but it must not crash the overview (it did: glob panicked).
    let odd = ws.join(OsStr::from_bytes(b"\xff-not-utf8-ws"));
    fs::create_dir(&odd).unwrap();
    fs::write(odd.join("y"), b"abc").unwrap();
    ws
}

fn gnu_du_sb(path: &Path) -> u64 {
    let out = Command::new("du").arg("-sb").arg(path).output().unwrap();
    text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn hostile_trees_in_du_stay_inside_their_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = hostile_tree(tmp.path());
    let w = World::new();
    let started = Instant::now();
    let out = w
        .command(Path::new("podman"), &["--format", "json", "du"])
        .arg(&ws)
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let apparent = v["paths"][0]["apparent_bytes"].as_u64().unwrap();
    assert!(apparent < CANARY, "the canary behind a symlink was counted");
    assert_eq!(apparent, gnu_du_sb(&ws), "same as du -sb");
    // 1500 nested directories, the odd ones, the task and the root.
    assert!(v["paths"][0]["dirs"].as_u64().unwrap() >= 1500);
    let table = w
        .command(Path::new("podman"), &["du"])
        .arg(&ws)
        .arg(ws.join(EVIL))
        .arg(ws.join(OsStr::from_bytes(b"\xff-not-utf8-ws")))
        .output()
        .unwrap();
    assert_eq!(table.status.code(), Some(0), "{}", text(&table.stderr));
    assert_printable("du table", &table.stdout);
    println!("hostile trees-du: 2 runs over {TRAPS} traps, canary counted 0, escapes 0");
}

#[test]
fn hostile_trees_as_workspaces_stay_inside_their_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = hostile_tree(tmp.path());
    let w = World::new();
    let cfg = w.path().join("ws.toml");
    fs::write(
        &cfg,
        format!(
            "[[projects]]\nid = \"p\"\nworkspaces = [\"{}/*\"]\n",
            ws.display()
        ),
    )
    .unwrap();
    let config = cfg.display().to_string();
    let out = w.run(&["--config", &config, "--format", "json", "overview"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "p")
        .unwrap()
        .clone();
    let bytes = p["workspaces_bytes"].as_u64().unwrap();
    assert!(bytes < CANARY, "the canary was counted");
    // Symlinked matches are no workspaces: the task and the odd one.
    assert_eq!(p["workspaces"], 2, "{p}");
    let expected = gnu_du_sb(&ws.join("task")) + gnu_du_sb(&ws.join(EVIL));
    assert_eq!(bytes, expected);
    for view in [&["overview"][..], &["project", "p"]] {
        let out = w.run(&[&["--config", &config][..], view].concat());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_printable(&format!("{view:?}"), &out.stdout);
    }
    println!("hostile trees-workspaces: 3 runs over {TRAPS} traps, canary counted 0, escapes 0");
}

/// Files and directories created and removed while walks run: every walk
/// ends, reports (exit 0, or 1 with a warning naming a path inside the
/// root), and never counts more than was ever there.
#[test]
fn files_vanishing_mid_walk() {
    const RUNS: usize = 40;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("churn");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("stable"), vec![0u8; 10_000]).unwrap();
    let stop = AtomicBool::new(false);
    let churned = AtomicU64::new(0);
    let w = World::new();
    let (mut clean, mut warned) = (0, 0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let d = root.join(format!("d{}", n % 8));
                let _ = fs::create_dir_all(d.join("sub"));
                for i in 0..20 {
                    let _ = fs::write(d.join(format!("f{i}")), [1u8; 100]);
                    let _ = fs::write(d.join("sub").join(format!("g{i}")), [1u8; 100]);
                }
                let _ = fs::remove_dir_all(&d);
                n += 1;
            }
            churned.store(n, Ordering::Relaxed);
        });
        for _ in 0..RUNS {
            let out = w
                .command(Path::new("podman"), &["--format", "json", "du"])
                .arg(&root)
                .output()
                .unwrap();
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            let apparent = v["paths"][0]["apparent_bytes"].as_u64().unwrap();
            // At most 8 directories of 40 files of 100 bytes, plus the stable file and dirs.
            assert!(
                apparent < 10_000 + 8 * 4000 + 8 * 2 * 4096 + 4096 * 2,
                "{apparent}"
            );
            assert!(apparent >= 10_000);
            match out.status.code() {
                Some(0) => clean += 1,
                Some(1) => {
                    warned += 1;
                    for e in v["paths"][0]["errors"].as_array().unwrap() {
                        assert!(
                            e["path"]
                                .as_str()
                                .unwrap()
                                .starts_with(root.to_str().unwrap()),
                            "{e}"
                        );
                    }
                    assert_printable("stderr", &out.stderr);
                }
                other => panic!("exit {other:?}: {}", text(&out.stderr)),
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    println!(
        "hostile vanishing: {RUNS} walks during {} churn rounds ({clean} clean, {warned} with a vanished entry), runaway counts 0",
        churned.load(Ordering::Relaxed)
    );
    assert!(churned.load(Ordering::Relaxed) > 0);
}

/// Sparse files whose apparent sizes add up past 2^64 bytes (tmpfs and XFS
/// allow files of 2^63 - 1 bytes): every figure saturates, none wraps
/// around to a small number, nothing panics; `--max-size` still evicts by
/// the true sum.
#[test]
fn sparse_files_past_two_to_the_64() {
    let tmp = tempfile::Builder::new()
        .prefix("sparse-")
        .tempdir_in("/dev/shm")
        .expect("this test needs a tmpfs at /dev/shm (tmpfs allows 8 EiB files)");
    let huge = i64::MAX as u64;
    let plain = tmp.path().join("plain");
    let flat = tmp.path().join("flat");
    for (dir, names) in [
        (&plain, ["a", "b", "c"].map(String::from)),
        (&flat, [1, 2, 3].map(|i| format!("sha256:{i:064x}"))),
    ] {
        fs::create_dir(dir).unwrap();
        for (age, name) in names.iter().enumerate() {
            let f = fs::File::create(dir.join(name)).unwrap();
            f.set_len(huge).unwrap();
            let t = std::time::SystemTime::now() - Duration::from_secs(3600 * (age as u64 + 1));
            f.set_times(fs::FileTimes::new().set_accessed(t).set_modified(t))
                .unwrap();
        }
    }
    let w = World::new();
    let json = |args: &[&str]| -> Value {
        let mut c = w.command(
            Path::new("podman"),
            &[&["--format", "json"][..], args].concat(),
        );
        let out = c.output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {:?}\n{}",
            out.status,
            text(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (p, f) = (plain.to_str().unwrap(), flat.to_str().unwrap());
    let du = json(&["du", p, f]);
    assert_eq!(du["paths"][0]["apparent_bytes"], json!(u64::MAX));
    assert_eq!(du["total_apparent_bytes"], json!(u64::MAX));
    let caches = json(&["caches", p, f]);
    assert_eq!(caches["caches"][1]["kind"], "fscache");
    assert_eq!(caches["caches"][1]["blob_bytes"], json!(u64::MAX));
    assert_eq!(caches["total_bytes"], json!(u64::MAX));
    // Evicting down to 10 EB removes the two oldest 8 EiB blobs.
    let prune = json(&["prune", "caches", "--dry-run", "--max-size", "10EB", f]);
    assert_eq!(prune["total_bytes"], json!(2 * huge), "{prune}");
    println!("hostile sparse: 3 runs past 2^64 bytes, wrapped figures 0");
}

// ---------------------------------------------------------------------------
// Real podman.

/// Labels carry what names cannot through real podman (podman validates
/// names, and cuts label values at a newline): escape sequences, tabs, DEL
/// and C1 controls in volume and container labels, read through both the
/// local store and the CLI.
#[test]
#[ignore = "needs podman"]
fn real_podman_labels_with_escape_sequences() {
    let store = common::Store::build("one-image");
    let esc = "\u{1b}[31mred\u{1b}]0;title\u{7}";
    store.podman(&[
        "volume",
        "create",
        "--label",
        &format!("x={esc}"),
        "--label",
        "note=tab\there\u{7f}\u{9b}2J",
        "evilvol",
    ]);
    store.podman(&[
        "create",
        "--name",
        "evilctr",
        "--label",
        &format!("com.docker.compose.project={esc}"),
        "--label",
        "y=\u{9b}2J",
        "-v",
        "evilvol:/v",
        "localhost/solo:1",
        "true",
    ]);
    for cli in [false, true] {
        for view in HOSTILE_VIEWS.iter().filter(|v| v[0] != "project") {
            let mut args: Vec<&str> = if cli { vec!["--cli-only"] } else { vec![] };
            args.extend_from_slice(view);
            let out = store.tool(&args);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{view:?}: {}",
                text(&out.stderr)
            );
            assert_printable(&format!("{view:?} cli={cli}"), &out.stdout);
            assert_printable(&format!("{view:?} cli={cli} stderr"), &out.stderr);
        }
        let mut args: Vec<&str> = if cli { vec!["--cli-only"] } else { vec![] };
        args.push("volumes");
        let v = store.json(&args);
        let vol = v["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "evilvol")
            .unwrap();
        // Intact in JSON: as podman itself reports them.
        let truth: Value = serde_json::from_str(&store.podman(&[
            "volume",
            "inspect",
            "--format",
            "{{json .Labels}}",
            "evilvol",
        ]))
        .unwrap();
        assert_eq!(vol["labels"], truth);
        assert_eq!(vol["labels"]["x"], esc);
    }
    println!("hostile real-podman-labels: 10 runs, control characters on the terminal 0");
}

// ---------------------------------------------------------------------------
// The CLI path: podman's output only, exact, and failures never zeros.

fn diff(n: u8) -> String {
    format!("sha256:{}", format!("{n:x}").repeat(64))
}

/// `image inspect` entries: (id, total, diff ids); every layer has a
/// history step, the last one preceded by an empty (LABEL) step.
fn inspect_answer(images: &[(&str, u64, Vec<String>)]) -> String {
    let entries: Vec<Value> = images
        .iter()
        .map(|(id, size, layers)| {
            let mut history: Vec<Value> = layers.iter().map(|_| json!({"created_by": "COPY"})).collect();
            history.insert(history.len() - 1, json!({"created_by": "LABEL", "empty_layer": true}));
            json!({"Id": id, "Size": size, "RootFS": {"Type": "layers", "Layers": layers}, "History": history})
        })
        .collect();
    json!(entries).to_string()
}

/// `podman history` of an image: top first, one entry per config step,
/// the empty step (see [`inspect_answer`]) as size 0.
fn history_answer(id: &str, layer_sizes: &[u64]) -> String {
    let mut steps: Vec<Value> = layer_sizes
        .iter()
        .map(|s| json!({"id": id, "size": s}))
        .collect();
    steps.insert(steps.len() - 1, json!({"id": id, "size": 0}));
    steps.reverse();
    json!(steps).to_string()
}

/// Two pulled images on one base that is no image: the totals cannot
/// separate the base from what each adds (the old path estimated, warned
/// and counted metadata as layers). One `podman history` makes it exact:
/// the total is every layer once plus each image's metadata.
#[test]
fn cli_path_is_exact_where_images_branch_where_no_image_ends() {
    let w = World::new();
    let (a, b) = ("a".repeat(64), "b".repeat(64));
    // Layers: base 3,000,000; a adds 1,000,000; b adds 2,000,000.
    // Metadata: a 1,500 B, b 2,500 B.
    w.answer(
        "images",
        json!([
            {"Id": a, "Names": ["localhost/a:1"], "Size": 4_001_500, "ParentId": ""},
            {"Id": b, "Names": ["localhost/b:1"], "Size": 5_002_500, "ParentId": ""}
        ])
        .to_string(),
    );
    w.answer(
        "inspect",
        inspect_answer(&[
            (&a, 4_001_500, vec![diff(1), diff(2)]),
            (&b, 5_002_500, vec![diff(1), diff(3)]),
        ]),
    );
    w.answer(
        &format!("history-{a}"),
        history_answer(&a, &[3_000_000, 1_000_000]),
    );
    w.answer(
        &format!("history-{b}"),
        history_answer(&b, &[3_000_000, 2_000_000]),
    );
    w.answer("ps", "[]");
    w.answer("ps-size", "[]");
    let out = w.run(&["--format", "json", "images"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total_bytes"], json!(6_004_000u64), "{v}");
    assert_eq!(v["shared_layers_bytes"], json!(3_000_000u64), "{v}");
    let unique: Vec<u64> = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["unique_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(unique, [1_001_500, 2_002_500], "{v}");
    // Only one history was needed: either image covers the branch point.
    let histories = w
        .log("calls")
        .iter()
        .filter(|l| l.contains("history-"))
        .count();
    assert_eq!(histories, 1, "{:?}", w.log("calls"));
}

/// An image removed between `images` and `image inspect`: podman prints
/// the others and exits 125 with `image not known`. The image is dropped
/// (said once, as a note), nothing read before is mixed in, and the
/// remaining figures are complete.
#[test]
fn an_image_removed_mid_read_is_dropped_and_said_once() {
    let w = World::new();
    let gone = "9".repeat(64);
    w.answer(
        "images",
        json!([
            {"Id": IMAGE, "Names": ["localhost/app:1"], "Size": 5_000_000, "ParentId": ""},
            {"Id": gone, "Names": ["localhost/old:1"], "Size": 5_400_000, "ParentId": ""}
        ])
        .to_string(),
    );
    w.answer(
        "inspect",
        json!([{"Id": IMAGE, "Size": 5_000_000, "RootFS": {"Layers": [diff(1)]}}]).to_string(),
    );
    w.stderr(
        "inspect",
        &format!("Error: inspecting object: {gone}: image not known\n"),
        125,
    );
    let out = w.run(&["--format", "json", "images"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("note:") && err.contains(&gone[..12]), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total_bytes"], json!(5_000_000u64), "{v}");
    assert_eq!(v["images"].as_array().unwrap().len(), 1, "{v}");
}

/// As above, when podman prints nothing but the error (the image was
/// among the last asked about): the others are asked again, never counted
/// whole with their shared layers twice.
#[test]
fn an_image_removed_mid_read_with_nothing_printed_is_asked_again() {
    let w = World::new();
    let gone = "9".repeat(64);
    w.answer(
        "images",
        json!([
            {"Id": IMAGE, "Names": ["localhost/app:1"], "Size": 5_000_000, "ParentId": ""},
            {"Id": gone, "Names": ["localhost/old:1"], "Size": 5_400_000, "ParentId": ""}
        ])
        .to_string(),
    );
    w.answer(
        "inspect",
        json!([{"Id": IMAGE, "Size": 5_000_000, "RootFS": {"Layers": [diff(1)]}}]).to_string(),
    );
    fs::write(w.path().join("gone"), format!("{gone}\n")).unwrap();
    let out = w.run(&["--format", "json", "images"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("note:") && err.contains(&gone[..12]), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total_bytes"], json!(5_000_000u64), "{v}");
    let inspects = w
        .log("calls")
        .iter()
        .filter(|l| l.ends_with(" inspect"))
        .count();
    assert_eq!(inspects, 2, "{:?}", w.log("calls"));
}

/// `image inspect` failing for another reason: the images are unmeasured
/// (`?`, exit 1), never each counted whole with shared layers twice.
#[test]
fn images_without_their_chains_are_unmeasured_not_counted_whole() {
    let w = World::new();
    w.fault(Some("inspect"), "fail");
    let out = w.run(&["--format", "json", "df"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("inspect"), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let images = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "images")
        .unwrap();
    assert_eq!(images["measured"], json!(false), "{v}");
}

/// podman 4.3 prints `Getting rw size for "ID": ... container not known`
/// on stderr, reports that container's size as 0 and exits 0: a warning,
/// and the size is unmeasured (a lower bound), never 0.
#[test]
fn ps_size_errors_on_stderr_are_warnings_and_not_zeros() {
    let w = World::new();
    w.answer(
        "ps-size",
        json!([{"Id": CONTAINER, "Names": ["web"], "Image": "localhost/app:1", "ImageID": IMAGE,
                "State": "exited", "Size": {"rwSize": 0, "rootFsSize": 0}}])
        .to_string(),
    );
    w.stderr(
        "ps-size",
        &format!("time=\"2026-11-29T22:41:22Z\" level=error msg=\"Getting rw size for \\\"{CONTAINER}\\\": container not known\"\n"),
        0,
    );
    let out = w.run(&["--format", "json", "containers", "--size"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Getting rw size"), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["containers"][0]["rw_bytes"], Value::Null, "{v}");
    assert_eq!(v["containers"][0]["lower_bound"], json!(true), "{v}");
    let df = w.run(&["--format", "json", "df"]);
    assert_eq!(df.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&df.stdout).unwrap();
    let containers = &v["components"][1];
    assert_eq!(containers["kind"], "containers", "{v}");
    assert_eq!(containers["incomplete"], json!(true), "{v}");
    let table = text(&w.run(&["containers", "--size"]).stdout);
    assert!(table.contains(" ?"), "{table}");
}

/// A volume whose mountpoint cannot be walked is a lower bound: flagged
/// in JSON, `>=` in tables, exit 1, a warning naming the path.
#[test]
fn an_unwalkable_volume_is_a_lower_bound_not_a_figure() {
    let w = World::new();
    let missing = w.path().join("vol/missing");
    w.answer(
        "volumes",
        json!([{"Name": "data", "Mountpoint": missing, "Labels": {}}]).to_string(),
    );
    let out = w.run(&["--format", "json", "volumes"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&missing.display().to_string()), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["volumes"][0]["lower_bound"], json!(true), "{v}");
    let df: Value = serde_json::from_slice(&w.run(&["--format", "json", "df"]).stdout).unwrap();
    assert_eq!(df["components"][2]["kind"], "volumes", "{df}");
    assert_eq!(df["components"][2]["incomplete"], json!(true), "{df}");
    let table = text(&w.run(&["volumes"]).stdout);
    assert!(table.contains(">= "), "{table}");
    let table = text(&w.run(&["df"]).stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Local Volumes") && l.contains(">= ")),
        "{table}"
    );
}

/// The store path falls back (libpod's database is unreadable) and then
/// podman fails: the fatal line is podman's own error, the fallback a
/// note before it. A fallback that then succeeds is a note, exit 0.
#[test]
fn a_fallback_is_a_note_and_never_hides_podmans_error() {
    let w = World::new();
    let db = w.path().join("store/root/libpod/bolt_state.db");
    fs::create_dir_all(db.parent().unwrap()).unwrap();
    fs::write(&db, b"not a bolt database").unwrap();
    let run = |args: &[&str]| {
        let mut c = Command::new(cargo_bin("podman-storage"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", w.path().join("home"))
            .env(
                "CONTAINERS_STORAGE_CONF",
                w.path().join("store/storage.conf"),
            )
            .arg("--podman")
            .arg(w.path().join("podman"))
            .args(args)
            .output()
            .unwrap()
    };
    let ok = run(&["images"]);
    let err = text(&ok.stderr);
    assert_eq!(ok.status.code(), Some(0), "{err}");
    assert!(
        err.contains("note: local store") && !err.contains("warning"),
        "{err}"
    );

    w.fault(None, "fail");
    let failed = run(&["images"]);
    let err = text(&failed.stderr);
    assert_eq!(failed.status.code(), Some(2), "{err}");
    let fatal = err.lines().last().unwrap();
    assert!(
        fatal.contains("error:") && fatal.contains("cannot connect to Podman socket"),
        "{err}"
    );
    assert!(err.contains("note: local store"), "{err}");
}
