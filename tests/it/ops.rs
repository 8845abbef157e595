//! Operations: snapshots (atomic under SIGKILL, a history that is
//! unreadable, full or holds garbage), growth on real podman 4.3 and 5.4,
//! budgets (exit 3), Prometheus output checked with the reference parser,
//! and the systemd units checked with `systemd-analyze verify`.
//!
//! The replay tests run the real binary over a recording made by the
//! tool's own `--record`; workspaces are real directories measured against
//! `du -sb`.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use common::scene::{text, Podman, Scene, TREE};
use common::{du_sb, root};
use podman_storage::history;
use serde_json::Value;

fn fixture() -> PathBuf {
    root().join("fixtures/podman-4.3.1/projects")
}

/// The tool over the `projects` recording, in a fixed environment.
fn replay_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_podman-storage"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .env("LC_ALL", "C")
        .arg("--replay")
        .arg(fixture())
        .arg("--no-progress")
        .args(args);
    cmd
}

fn replay(args: &[&str]) -> Output {
    replay_cmd(args).output().unwrap()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn temps(dir: &Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// A config with one workspace project `ws` of `kb` KB over `dir/ws/*`.
fn workspace_config(dir: &Path, kb: usize, extra: &str) -> PathBuf {
    let ws = dir.join("ws/task1/sub");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("data"), vec![7u8; kb * 1000]).unwrap();
    let conf = dir.join("config.toml");
    std::fs::write(
        &conf,
        format!(
            "[[projects]]\nid = \"ws\"\nworkspaces = [\"{}/ws/*\"]\n{extra}",
            dir.display()
        ),
    )
    .unwrap();
    conf
}

#[test]
fn snapshot_writes_killed_at_random_points_leave_every_file_complete_or_absent() {
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("history");
    let args = |h: &Path| -> Vec<String> {
        vec![
            "snapshot".into(),
            "--history".into(),
            h.display().to_string(),
        ]
    };
    // How long one run takes, to spread the kills over all of it.
    let t0 = Instant::now();
    let out = replay(&args(&hist).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = t0.elapsed();
    std::fs::remove_dir_all(&hist).unwrap();

    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut kills, mut finished, mut temps_seen) = (0, 0, 0);
    for _ in 0..1000 {
        if kills >= 120 {
            break;
        }
        let mut child = replay_cmd(&args(&hist).iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = run.mul_f64((rand() % 1200) as f64 / 1000.0);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_some() {
            finished += 1;
        } else {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        if !hist.exists() {
            continue;
        }
        temps_seen += temps(&hist).len();
        // Complete or absent: every snapshot that exists loads in full.
        let listing = history::list(&hist).unwrap();
        assert!(listing.foreign.is_empty(), "{:?}", listing.foreign);
        for e in &listing.entries {
            history::load(&e.path).unwrap_or_else(|why| panic!("after kill {kills}: {why}"));
        }
    }
    assert!(
        kills >= 100,
        "only {kills} kills ({finished} runs finished first)"
    );
    // The next run removes what killed writers left behind.
    let out = replay(&args(&hist).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(temps(&hist), Vec::<String>::new());
    let listing = history::list(&hist).unwrap();
    assert!(
        listing.entries.len() > finished,
        "{} files",
        listing.entries.len()
    );
    for e in &listing.entries {
        history::load(&e.path).unwrap();
    }
    eprintln!(
        "{kills} kills, {finished} finished, {temps_seen} temp files seen, {} snapshots",
        listing.entries.len()
    );
}

#[test]
fn budgets_exit_3_with_one_line_per_breach_and_the_report_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let conf = workspace_config(dir.path(), 120, "budget = \"100kB\"\n");
    let truth = du_sb(&[dir.path().join("ws/task1")]);
    let c = conf.to_str().unwrap();
    let out = replay(&["--config", c, "--format", "json", "overview"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ws = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "ws")
        .unwrap();
    assert_eq!(ws["total_bytes"].as_u64(), Some(truth));
    let lines: Vec<String> = text(&out.stderr).lines().map(String::from).collect();
    assert_eq!(
        lines,
        [format!(
            "podman-storage: over budget: project ws is {} ({truth} B), {} over its budget of 100 kB",
            podman_storage::size::format(truth),
            podman_storage::size::format(truth - 100_000)
        )]
    );
    // The report is the same as without a budget: printed in full.
    let plain = workspace_config(dir.path(), 120, "");
    let without = replay(&["--config", plain.to_str().unwrap(), "--format", "json"]);
    assert_eq!(without.status.code(), Some(0), "{}", text(&without.stderr));
    let again: Value = serde_json::from_slice(&without.stdout).unwrap();
    assert_eq!(again["rows"], report["rows"]);

    // --fail-over on another view, at its total and one byte under.
    let df: Value = serde_json::from_slice(&replay(&["--format", "json", "df"]).stdout).unwrap();
    let total = df["total_bytes"].as_u64().unwrap();
    assert!(total > 0);
    let at = replay(&["--fail-over", &total.to_string(), "df"]);
    assert_eq!(at.status.code(), Some(0), "{}", text(&at.stderr));
    let under = replay(&["--fail-over", &(total - 1).to_string(), "df"]);
    assert_eq!(under.status.code(), Some(3));
    assert!(text(&under.stdout).contains("Images"), "table printed");
    assert!(
        text(&under.stderr).contains(&format!(
            "the total is {}",
            podman_storage::size::format(total)
        )),
        "{}",
        text(&under.stderr)
    );
    let bad = replay(&["--fail-over", "lots", "df"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Parses exposition text with the reference client's parser.
fn parse_prometheus(text: &str) -> Value {
    let mut child = Command::new("python3")
        .arg(root().join("tests/ops/parse_prometheus.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (.ci/run installs it and prometheus_client)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser rejected:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `(sample name, sorted labels)` → value.
fn samples(parsed: &Value) -> BTreeMap<(String, Vec<(String, String)>), f64> {
    let mut out = BTreeMap::new();
    let mut names = Vec::new();
    for f in parsed["families"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap().to_string();
        assert!(!names.contains(&name), "family {name} appears twice");
        assert_eq!(f["type"], "gauge", "{name}");
        assert!(!f["help"].as_str().unwrap().is_empty(), "{name} has HELP");
        names.push(name);
        for s in f["samples"].as_array().unwrap() {
            let labels: Vec<(String, String)> = s["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let key = (s["name"].as_str().unwrap().to_string(), labels);
            assert!(
                out.insert(key.clone(), s["value"].as_f64().unwrap())
                    .is_none(),
                "{key:?} twice"
            );
        }
    }
    out
}

fn key(name: &str, labels: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let mut l: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.sort();
    (name.to_string(), l)
}

#[test]
fn prometheus_output_parses_with_the_reference_parser_and_matches_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let conf = workspace_config(
        dir.path(),
        30,
        "budget = \"1GB\"\n[global]\nbudget = \"2GB\"\n",
    );
    let c = conf.to_str().unwrap();
    let prom = dir.path().join("textfile/podman_storage.prom");
    std::fs::create_dir_all(prom.parent().unwrap()).unwrap();
    for view in ["overview", "df"] {
        let out = replay(&[
            "--config",
            c,
            "--format",
            "prometheus",
            "--output",
            prom.to_str().unwrap(),
            view,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "--output: nothing on stdout");
        assert_eq!(files(prom.parent().unwrap()), ["podman_storage.prom"]);
        let got = samples(&parse_prometheus(&std::fs::read_to_string(&prom).unwrap()));
        let json: Value =
            serde_json::from_slice(&replay(&["--config", c, "--format", "json", view]).stdout)
                .unwrap();
        let mut checked = 0;
        for r in json["rows"].as_array().into_iter().flatten() {
            let id = r["id"].as_str().unwrap();
            for (field, v) in r.as_object().unwrap() {
                let (Some(stem), Some(n)) = (field.strip_suffix("_bytes"), v.as_u64()) else {
                    continue;
                };
                let k = if stem == "total" {
                    key("podman_storage_project_bytes", &[("project", id)])
                } else {
                    key(
                        "podman_storage_bytes",
                        &[("project", id), ("component", stem)],
                    )
                };
                assert_eq!(got.get(&k), Some(&(n as f64)), "{k:?}");
                checked += 1;
            }
        }
        for comp in json["components"].as_array().into_iter().flatten() {
            let kind = comp["kind"].as_str().unwrap();
            for (field, name) in [
                ("bytes", "podman_storage_component_bytes"),
                ("reclaimable_bytes", "podman_storage_reclaimable_bytes"),
            ] {
                let k = key(name, &[("component", kind)]);
                assert_eq!(got.get(&k), comp[field].as_f64().as_ref(), "{k:?}");
                checked += 1;
            }
        }
        assert!(checked >= 3, "{view}: {checked} samples checked");
        assert_eq!(
            got.get(&key("podman_storage_budget_bytes", &[("project", "ws")])),
            Some(&1e9)
        );
        assert_eq!(
            got.get(&key("podman_storage_total_budget_bytes", &[])),
            Some(&2e9)
        );
    }
    let other = replay(&["--format", "prometheus", "images"]);
    assert_eq!(other.status.code(), Some(2));
}

#[test]
fn prometheus_label_escaping_round_trips_through_the_reference_parser() {
    use podman_storage::report::prometheus::Exposition;
    let nasty = "a\\b \"quoted\"\nnext line, {braces}=x";
    let mut e = Exposition::default();
    e.add(
        "podman_storage_test_bytes",
        "Help with \\ and\nnewline.",
        &[("project", nasty)],
        5,
    );
    e.add(
        "podman_storage_test_bytes",
        "ignored",
        &[("project", "plain")],
        6,
    );
    let parsed = parse_prometheus(&e.render());
    let got = samples(&parsed);
    assert_eq!(
        got.get(&key("podman_storage_test_bytes", &[("project", nasty)])),
        Some(&5.0)
    );
    assert_eq!(
        got.get(&key("podman_storage_test_bytes", &[("project", "plain")])),
        Some(&6.0)
    );
    assert_eq!(parsed["families"][0]["help"], "Help with \\ and\nnewline.");
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let bin = env!("CARGO_BIN_EXE_podman-storage");
    let runtime = tempfile::tempdir().unwrap();
    for (flavour, installed_at) in [
        ("system", "/usr/local/bin/podman-storage"),
        ("user", "%h/.cargo/bin/podman-storage"),
    ] {
        let src = root().join("contrib/systemd").join(flavour);
        let dir = tempfile::tempdir().unwrap();
        let mut units = Vec::new();
        for name in [
            "podman-storage-snapshot.service",
            "podman-storage-snapshot.timer",
        ] {
            let unit = std::fs::read_to_string(src.join(name)).unwrap();
            // Verify checks ExecStart is executable: point it at this build.
            let here = unit.replace(installed_at, bin);
            if name.ends_with(".service") {
                assert_ne!(here, unit, "{flavour}/{name} runs {installed_at}");
            }
            std::fs::write(dir.path().join(name), here).unwrap();
            units.push(dir.path().join(name));
        }
        let mut cmd = Command::new("systemd-analyze");
        cmd.env("XDG_RUNTIME_DIR", runtime.path()).arg("--man=no");
        if flavour == "user" {
            cmd.arg("--user");
        }
        let out = cmd
            .arg("verify")
            .args(&units)
            .output()
            .expect("systemd-analyze runs (.ci/run installs systemd)");
        // Unknown keys are only warnings: any output is a failure.
        assert!(
            out.status.success() && out.stderr.is_empty() && out.stdout.is_empty(),
            "{flavour}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn growth_skips_garbage_and_torn_snapshots_with_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("h");
    let h = hist.to_str().unwrap();
    let conf = workspace_config(dir.path(), 10, "");
    let c = conf.to_str().unwrap();
    let out = replay(&["--config", c, "snapshot", "--history", h]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut good = history::list(&hist).unwrap().entries.pop().unwrap();
    // Back-dated a minute, so that newer than it (and not in the future) a
    // torn snapshot and another tool's JSON under a snapshot's name.
    let older = hist.join(history::file_name(good.taken_at - 60_000));
    std::fs::rename(&good.path, &older).unwrap();
    good.path = older;
    let body = std::fs::read(&good.path).unwrap();
    std::fs::write(
        hist.join(history::file_name(good.taken_at - 20_000)),
        &body[..body.len() / 2],
    )
    .unwrap();
    std::fs::write(
        hist.join(history::file_name(good.taken_at - 10_000)),
        b"{\"rows\": []}",
    )
    .unwrap();
    for g in ["notes.txt", "core", "snapshot-yesterday.json"] {
        std::fs::write(hist.join(g), b"\x00garbage").unwrap();
    }
    // The workspace grows by what we write.
    std::fs::write(dir.path().join("ws/task1/more"), vec![1u8; 4321]).unwrap();
    let out = replay(&[
        "--config",
        c,
        "--format",
        "json",
        "growth",
        "--history",
        h,
        "--since",
        "0s",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].contains("skipped 3 file(s) that are not snapshots"),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("not a complete JSON document")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("not a podman-storage snapshot")),
        "{err}"
    );
    let g: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(g["then"]["source"], good.path.display().to_string());
    let ws = g["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "project" && c["name"] == "ws" && c["measure"] == "workspaces")
        .unwrap();
    assert_eq!(ws["change_bytes"], 4321);
}

fn as_user(cmd: &mut Command) -> &mut Command {
    let prog = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut wrapped = Command::new("setpriv");
    wrapped
        .args(["--reuid=4242", "--regid=4242", "--clear-groups", "--"])
        .arg(prog)
        .args(args);
    wrapped.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            wrapped.env(k, v);
        }
    }
    *cmd = wrapped;
    cmd
}

#[test]
#[ignore = "needs root, setpriv and chattr"]
fn an_unreadable_or_full_history_is_one_line_and_the_rest_is_done() {
    let dir = tempfile::Builder::new()
        .prefix("ops-hist-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let metrics_dir = dir.path().join("metrics");
    std::fs::create_dir(&metrics_dir).unwrap();
    Command::new("chown")
        .args(["4242:4242"])
        .arg(&metrics_dir)
        .status()
        .unwrap();
    let metrics = metrics_dir.join("podman_storage.prom");

    // Unreadable: a root-only history, the tool as another user.
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let h = locked.join("h");
    let mut cmd = replay_cmd(&[
        "snapshot",
        "--history",
        h.to_str().unwrap(),
        "--metrics",
        metrics.to_str().unwrap(),
    ]);
    let out = as_user(&mut cmd).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot write the snapshot into") && err.contains("ermission denied"),
        "{err}"
    );
    assert_eq!(text(&out.stdout), "snapshot: not written\n");
    let parsed = parse_prometheus(&std::fs::read_to_string(&metrics).unwrap());
    assert!(!samples(&parsed).is_empty(), "metrics still written");
    let mut cmd = replay_cmd(&["growth", "--history", h.to_str().unwrap()]);
    let out = as_user(&mut cmd).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot read the history") && err.contains("ermission denied"),
        "{err}"
    );

    // Full: a small tmpfs filled up.
    let mnt = dir.path().join("tmpfs");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(ok.success(), "mount tmpfs");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let h = mnt.join("h");
    std::fs::create_dir(&h).unwrap();
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1k", "count=128"])
        .arg(format!("of={}", mnt.join("filler").display()))
        .stderr(Stdio::null())
        .status();
    std::fs::remove_file(&metrics).unwrap();
    let out = replay(&[
        "snapshot",
        "--history",
        h.to_str().unwrap(),
        "--metrics",
        metrics.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(metrics.is_file(), "metrics still written");
    assert_eq!(files(&h), Vec::<String>::new(), "no snapshot, no temp file");
}

fn change<'a>(g: &'a Value, kind: &str, name: &str, measure: &str) -> &'a Value {
    g["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind && c["name"] == name && c["measure"] == measure)
        .unwrap_or_else(|| panic!("no {kind} {name} {measure} in {g:#}"))
}

/// Build, snapshot, add an image and a workspace, snapshot, remove a
/// volume: growth reports exactly those changes, against podman's and the
/// disk's own figures.
fn growth_equals_the_changes_made(podman: Podman) {
    let s = Scene::new(podman, "ops-growth");
    s.ok(&format!(
        "bash {0}/build.sh volumes-dangling {0}/store >/dev/null",
        s.dir
    ));
    let version = s.ok("podman --version");
    let want = match podman {
        Podman::V43 => "podman version 4.3",
        Podman::V54 => "podman version 5.4",
    };
    assert!(version.starts_with(want), "{version}");
    std::fs::create_dir_all(s.host("/ws/a")).unwrap();
    std::fs::write(s.host("/ws/a/data"), vec![3u8; 200_000]).unwrap();
    std::fs::write(
        s.host("/config.toml"),
        format!(
            "[[projects]]\nid = \"ws\"\nworkspaces = [\"{}/ws/*\"]\n",
            s.dir
        ),
    )
    .unwrap();
    let snap = |s: &Scene| -> PathBuf {
        let out = s.ok(&format!(
            "{} --no-progress --config {}/config.toml snapshot --history {}/h",
            s.bin, s.dir, s.dir
        ));
        let inner = out
            .trim()
            .strip_prefix("snapshot: ")
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        PathBuf::from(inner)
    };
    let s1 = snap(&s);

    // Made: an image of 1.5 MB of random data and a workspace of 300 kB.
    s.ok(&format!(
        "set -e; mkdir -p {0}/img/bin; cp /bin/busybox {0}/img/bin/; head -c 1500000 /dev/urandom > {0}/img/blob; \
         tar -C {0}/img -cf {0}/img.tar .; podman import -q {0}/img.tar localhost/added:1 >/dev/null",
        s.dir
    ));
    std::fs::create_dir_all(s.host("/ws/b/sub")).unwrap();
    std::fs::write(s.host("/ws/b/sub/data"), vec![5u8; 300_000]).unwrap();
    let workspace_truth = du_sb(&[s.host("/ws/b")]);
    let added_id = s
        .ok("podman image inspect --format '{{.Id}}' localhost/added:1")
        .trim()
        .to_string();
    let added_size: u64 = s
        .ok("podman image inspect --format '{{.Size}}' localhost/added:1")
        .trim()
        .parse()
        .unwrap();
    let s2 = snap(&s);

    let g = s.tool_json(&format!(
        "growth --history {0}/h --since {1} --to {2}",
        s.dir,
        s1.display(),
        s2.display()
    ));
    let img = change(&g, "image", &added_id, "size");
    assert_eq!(img["state"], "new");
    assert_eq!(
        img["now_bytes"].as_u64(),
        Some(added_size),
        "podman's own size"
    );
    assert_eq!(img["label"], "localhost/added:1");
    let ws = change(&g, "project", "ws", "workspaces");
    assert_eq!(ws["change_bytes"].as_u64(), Some(workspace_truth), "du -sb");
    assert_eq!(
        change(&g, "project", "ws", "total")["change_bytes"].as_u64(),
        Some(workspace_truth)
    );
    let new: Vec<(&str, &str)> = g["new"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["kind"].as_str().unwrap(), t["label"].as_str().unwrap()))
        .collect();
    assert_eq!(new, [("image", "localhost/added:1")]);
    assert_eq!(g["vanished"], serde_json::json!([]));
    // Nothing else moved: no volume, no other image.
    for c in g["changes"].as_array().unwrap() {
        if c["kind"] == "volume" || (c["kind"] == "image" && c["name"] != added_id.as_str()) {
            assert_eq!(c["change_bytes"], 0, "{c}");
        }
    }
    // df's images grew by the new image: its own layer, nothing shared.
    let df_images = change(&g, "component", "images", "bytes");
    assert_eq!(
        df_images["change_bytes"].as_u64(),
        Some(added_size),
        "podman's own size"
    );

    // Removed: the unused volume `spare`, measured on disk first.
    let mountpoint = s
        .ok("podman volume inspect --format '{{.Mountpoint}}' spare")
        .trim()
        .to_string();
    let spare_truth = du_sb(&[match podman {
        Podman::V43 => PathBuf::from(&mountpoint),
        Podman::V54 => PathBuf::from(format!("{TREE}{mountpoint}")),
    }]);
    assert!(spare_truth >= 300_000, "{spare_truth}");
    s.ok("podman volume rm spare >/dev/null");
    let g = s.tool_json(&format!("growth --history {}/h --since 0s", s.dir));
    assert_eq!(g["then"]["source"], s2.display().to_string());
    let v = change(&g, "volume", "spare", "bytes");
    assert_eq!(v["state"], "vanished");
    assert_eq!(
        v["change_bytes"].as_i64(),
        Some(-(spare_truth as i64)),
        "du -sb"
    );
    let df_volumes = change(&g, "component", "volumes", "bytes");
    assert_eq!(
        df_volumes["change_bytes"].as_i64(),
        Some(-(spare_truth as i64))
    );
    let vanished: Vec<&str> = g["vanished"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(vanished, ["spare"]);
    assert_eq!(g["new"], serde_json::json!([]));
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn growth_on_podman_4_3_equals_the_changes_made() {
    growth_equals_the_changes_made(Podman::V43);
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn growth_on_podman_5_4_equals_the_changes_made() {
    growth_equals_the_changes_made(Podman::V54);
}

#[test]
fn a_snapshot_holds_the_views_own_reports_and_old_ones_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("h");
    std::fs::create_dir(&hist).unwrap();
    let day = 86_400_000;
    let now = history::now_ms();
    let old = hist.join(history::file_name(now - 91 * day));
    let kept = hist.join(history::file_name(now - 89 * day));
    for p in [&old, &kept] {
        std::fs::write(p, b"{}").unwrap();
    }
    let conf = workspace_config(dir.path(), 10, "");
    let c = conf.to_str().unwrap();
    let out = replay(&[
        "--config",
        c,
        "snapshot",
        "--history",
        hist.to_str().unwrap(),
        "--keep",
        "90d",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("(1 older than 90d removed)"),
        "{}",
        text(&out.stdout)
    );
    assert!(!old.exists() && kept.exists());
    let newest = history::list(&hist).unwrap().entries.pop().unwrap();
    let snap = history::load(&newest.path).unwrap();
    for (section, view) in [
        ("overview", "overview"),
        ("df", "df"),
        ("images", "images"),
        ("volumes", "volumes"),
    ] {
        let own: Value =
            serde_json::from_slice(&replay(&["--config", c, "--format", "json", view]).stdout)
                .unwrap();
        assert_eq!(snap[section], own, "{section}");
    }
    assert_eq!(snap["taken_at_ms"].as_i64(), Some(newest.taken_at));
}
