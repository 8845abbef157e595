//! `plan` and `prune images|containers|volumes|all` on real podman 4.3 and
//! 5.4: the plan's totals are `df`'s reclaimable, a prune frees what the
//! plan said (against `df` and `du -sbx` of the graph root), keeps what a
//! running container uses, and skips an object that changed since planning.

use crate::common;

use std::process::{Command, Output};

use common::scene::{text, Podman, Scene};
use common::{root, within};
use serde_json::Value;

/// On top of `base-derived` (a shared base; app1 used by an exited
/// container, app2 by a running one, base by a created one): a chain of
/// unused images sharing a middle layer, a dangling image, a volume used by
/// the running container, one used by an exited container, one unused.
const EXTRA: &str = r#"
set -e
run="podman run --network none"
img() { # FROM NAME KB
  w=$(mktemp -d -p "$D"); head -c $(($3 * 1000)) /dev/urandom > "$w/data"
  printf 'FROM %s\nCOPY data /data-%s\n' "$1" "$RANDOM" > "$w/Containerfile"
  podman build -q -t "$2" "$w" >/dev/null; rm -rf "$w"
}
img localhost/base:1 localhost/mid:1 4000
img localhost/mid:1 localhost/top1:1 3000
img localhost/mid:1 localhost/top2:1 2500
img localhost/base:1 localhost/dang:1 2000
img localhost/base:1 localhost/dang:1 2200
podman volume create live >/dev/null
podman volume create kept >/dev/null
podman volume create unused >/dev/null
$run -d --name runvol -v live:/v localhost/app2:1 sh -c 'head -c 300000 /dev/urandom > /v/x; exec sleep 100000' >/dev/null
$run --name volwriter -v kept:/v localhost/app1:1 sh -c 'head -c 2000000 /dev/urandom > /v/x; head -c 1500000 /dev/urandom > /w' >/dev/null
$run --rm -v unused:/v localhost/base:1 sh -c 'head -c 2500000 /dev/urandom > /v/x' >/dev/null
"#;

fn component<'a>(df: &'a Value, kind: &str) -> &'a Value {
    df["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {df:#}"))
}

fn plan_total(plan: &Value, kind: &str) -> u64 {
    plan["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {plan:#}"))["bytes"]
        .as_u64()
        .unwrap()
}

fn plan_and_prune_agree_with_the_disk(podman: Podman) {
    let s = Scene::new(podman, "plan");
    s.ok(&format!(
        "bash {0}/build.sh base-derived {0}/store >/dev/null && D={0} && {EXTRA}",
        s.dir
    ));
    let version = s.ok("podman --version");
    assert!(
        version.contains(match podman {
            Podman::V43 => "version 4.3",
            Podman::V54 => "version 5.4",
        }),
        "{version}"
    );
    let dangling = s.ok("podman images -q --no-trunc --filter dangling=true");
    let dangling = dangling.trim().trim_start_matches("sha256:").to_string();
    assert_eq!(dangling.len(), 64, "one dangling image: {dangling}");

    // Each kind alone, and all three at once: the plan's total is df's.
    let df = s.tool_json("df");
    let all = s.tool_json("plan --images --containers --volumes");
    for (flag, kind, row) in [
        ("--images", "image", "images"),
        ("--containers", "container", "containers"),
        ("--volumes", "volume", "volumes"),
    ] {
        let reclaimable = component(&df, row)["reclaimable_bytes"].as_u64().unwrap();
        assert!(reclaimable > 0, "{row}: {df:#}");
        let one = s.tool_json(&format!("plan {flag}"));
        assert_eq!(plan_total(&one, kind), reclaimable, "{flag}: {one:#}");
        assert_eq!(plan_total(&all, kind), reclaimable, "{kind}");
    }
    let items = all["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    let at = |n: &str| names.iter().position(|x| *x == n).unwrap_or(usize::MAX);
    // Children before their parent, which frees the layer they shared.
    assert!(at("localhost/top1:1") < at("localhost/mid:1"), "{names:?}");
    assert!(at("localhost/top2:1") < at("localhost/mid:1"), "{names:?}");
    assert!(at("localhost/mid:1") < usize::MAX);
    for kept in ["localhost/app1:1", "localhost/app2:1", "localhost/base:1"] {
        assert_eq!(at(kept), usize::MAX, "{kept} is used: {names:?}");
    }
    for kept in ["running", "runvol", "live", "kept"] {
        assert!(!names.contains(&kept), "{kept} is in use: {names:?}");
    }
    for gone in ["idle", "written", "volwriter", "unused"] {
        assert!(names.contains(&gone), "{gone}: {names:?}");
    }
    let script = s.tool("--format script plan --images --containers --volumes");
    let script = text(&script.stdout);
    assert!(script.starts_with("#!/bin/sh\n"), "{script}");
    assert!(script.contains("\nset -e\n") && script.contains("\npodman rmi localhost/top1:1\n"));

    // Plan to a file; then a new container uses the dangling image.
    std::fs::write(s.host("/plan.json"), serde_json::to_vec(&all).unwrap()).unwrap();
    s.ok(&format!(
        "podman create --name late {dangling} true >/dev/null"
    ));
    let df_before = s.tool_json("df");
    let podman_df =
        s.ok("podman system df --format '{{.Type}} {{.Size}} {{.Reclaimable}}' | tr '\\n' ';'");
    let du_before = s.graphroot_bytes();
    let out = s.tool(&format!(
        "--format json prune all --force --from {}/plan.json",
        s.dir
    ));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let du_after = s.graphroot_bytes();
    let df_after = s.tool_json("df");

    let results = result["items"].as_array().unwrap();
    let skipped: Vec<&Value> = results
        .iter()
        .filter(|i| i["outcome"] != "removed")
        .collect();
    assert_eq!(skipped.len(), 1, "{result:#}");
    assert_eq!(skipped[0]["outcome"], "skipped");
    assert_eq!(skipped[0]["id"], dangling.as_str());
    assert!(
        skipped[0]["reason"].as_str().unwrap().contains("late"),
        "{result:#}"
    );
    let removed_bytes = |kind: &str| -> u64 {
        results
            .iter()
            .filter(|i| i["kind"] == kind && i["outcome"] == "removed")
            .map(|i| i["bytes"].as_u64().unwrap())
            .sum()
    };
    let mut all_removed = 0;
    for (kind, row) in [
        ("container", "containers"),
        ("image", "images"),
        ("volume", "volumes"),
    ] {
        let planned = removed_bytes(kind);
        all_removed += planned;
        eprintln!(
            "{podman:?} {kind}: plan {}, removed {planned}",
            plan_total(&all, kind)
        );
        let k = result["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == kind)
            .unwrap();
        let freed = k["freed_bytes"].as_u64().unwrap();
        assert!(
            within(freed, planned, 1.0),
            "{kind}: freed {freed}, planned {planned}"
        );
        let df_freed = component(&df_before, row)["bytes"].as_u64().unwrap()
            - component(&df_after, row)["bytes"].as_u64().unwrap();
        assert!(
            within(df_freed, planned, 1.0),
            "{kind}: df says {df_freed} freed, planned {planned}"
        );
    }
    // The graph root also loses what the removed objects kept besides
    // their bytes (directories, configs, logs): df's metadata and logs rows.
    let other = |df: &Value| -> u64 {
        ["metadata", "logs"]
            .iter()
            .filter_map(|k| {
                df["components"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["kind"] == *k)
            })
            .map(|c| c["bytes"].as_u64().unwrap())
            .sum()
    };
    let other_freed = other(&df_before).saturating_sub(other(&df_after));
    let du_freed = du_before - du_after;
    eprintln!(
        "{podman:?}: planned {all_removed}, du -sbx freed {du_freed}, df metadata+logs freed {other_freed}; \
         podman system df before: {podman_df}",
    );
    assert!(
        within(du_freed, all_removed + other_freed, 1.0),
        "du -sbx of the graph root: {du_freed} freed, planned {all_removed} + {other_freed}"
    );
    // What the running container uses is still there, and so is what
    // only a removed container used (the next plan's).
    s.ok("podman container exists running && podman container exists runvol");
    s.ok("podman image exists localhost/app2:1 && podman volume exists live");
    s.ok(&format!("podman image exists {dangling}"));
    s.ok("podman volume exists kept");
    let gone = s.sh("podman image exists localhost/mid:1 || podman volume exists unused || podman container exists idle");
    assert!(!gone.status.success(), "mid, unused and idle were removed");
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn plan_and_prune_agree_with_the_disk_on_podman_4_3() {
    plan_and_prune_agree_with_the_disk(Podman::V43);
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn plan_and_prune_agree_with_the_disk_on_podman_5_4() {
    plan_and_prune_agree_with_the_disk(Podman::V54);
}

fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podman-storage"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .arg("--replay")
        .arg(root().join("fixtures/podman-4.3.1/projects"))
        .arg("--no-progress")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// On a recording of real podman 4.3: each kind's plan total is `df`'s
/// reclaimable for it, and each object's command names it.
#[test]
fn plan_totals_are_df_reclaimable_on_a_recording() {
    let json = |args: &[&str]| -> Value {
        let out = replay(args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let df = json(&["--format", "json", "df"]);
    let plan = json(&["--format", "json", "plan"]);
    for (kind, row) in [
        ("container", "containers"),
        ("image", "images"),
        ("volume", "volumes"),
        ("build_leftover", "build_cache"),
    ] {
        let reclaimable = component(&df, row)["reclaimable_bytes"].as_u64().unwrap();
        assert_eq!(plan_total(&plan, kind), reclaimable, "{kind}");
    }
    for item in plan["items"].as_array().unwrap() {
        let argv = item["command"].to_string();
        let named = if item["kind"] == "image" && item["name"] != "<none>" {
            item["name"].as_str().unwrap().split(", ").next().unwrap()
        } else {
            item["id"].as_str().unwrap()
        };
        assert!(argv.contains(named), "{item}");
    }
}

/// `--older-than`: an age every recorded object has keeps the engine
/// objects of the unfiltered plan, an age none has keeps none; the ages
/// are the objects' CREATED, pinned by `PODMAN_STORAGE_NOW`.
#[test]
fn older_than_filters_by_creation_time_on_a_recording() {
    let ids = |args: &[&str], now: &str| -> Vec<String> {
        let out = Command::new(env!("CARGO_BIN_EXE_podman-storage"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", "/nonexistent")
            .env("PODMAN_STORAGE_NOW", now)
            .arg("--replay")
            .arg(root().join("fixtures/podman-4.3.1/projects"))
            .args(["--no-progress", "--format", "json", "plan"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| ["container", "image", "volume"].contains(&i["kind"].as_str().unwrap()))
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let now = "2100-01-01T00:00:00Z";
    let all = ids(&[], now);
    assert!(!all.is_empty(), "the recording has something to prune");
    assert_eq!(ids(&["--older-than", "1d"], now), all);
    assert!(ids(&["--older-than", "1d"], "2000-01-01T00:00:00Z").is_empty());
}

/// Without a terminal and without --force nothing is removed (exit 2);
/// `--format script` is refused outside `plan`.
#[test]
fn prune_refuses_without_a_terminal_and_script_is_plan_only() {
    let run = |args: &[&str]| replay(args);
    let out = run(&["--format", "script", "df"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--format script is for plan"));
    let out = run(&["prune", "all"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not a terminal"),
        "{}",
        text(&out.stderr)
    );
}

struct Service(std::process::Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--engine docker` against podman's Docker API socket: docker's commands,
/// the same totals as docker's `df`, and a prune that frees them.
#[test]
#[ignore = "needs podman and the docker CLI"]
fn plan_and_prune_through_the_docker_api() {
    use std::time::{Duration, Instant};
    let store = common::Store::build("volumes-dangling");
    let url = format!("unix://{}", store.dir.path().join("docker.sock").display());
    let _svc = Service(
        store
            .env(Command::new("podman").args(["system", "service", "--time=0", &url]))
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Command::new("docker")
        .args(["-H", &url, "version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(Instant::now() < deadline, "the Docker API did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let docker = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_podman-storage"))
            .args(["--engine", "docker", "--url", &url, "--no-progress"])
            .args(args)
            .output()
            .unwrap()
    };
    let json = |args: &[&str]| -> Value {
        let out = docker(args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let df = json(&["--format", "json", "df"]);
    let plan = json(&[
        "--format",
        "json",
        "plan",
        "--images",
        "--containers",
        "--volumes",
    ]);
    for (kind, row) in [
        ("container", "containers"),
        ("image", "images"),
        ("volume", "volumes"),
    ] {
        let reclaimable = component(&df, row)["reclaimable_bytes"].as_u64().unwrap();
        assert!(reclaimable > 0, "{row}");
        assert_eq!(plan_total(&plan, kind), reclaimable, "{kind}");
    }
    for item in plan["items"].as_array().unwrap() {
        let argv: Vec<&str> = item["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(argv[..3], ["docker", "-H", url.as_str()], "{argv:?}");
    }
    let out = docker(&["--format", "json", "prune", "all", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in result["kinds"].as_array().unwrap() {
        let (planned, freed) = (
            k["planned_bytes"].as_u64().unwrap(),
            k["freed_bytes"].as_u64().unwrap(),
        );
        assert!(within(freed, planned, 1.0), "{k}");
    }
    // podman itself agrees: the dangling image, the stopped container and
    // the unused volume are gone, the used volume stays.
    assert_eq!(
        store.podman(&["images", "-q", "--filter", "dangling=true"]),
        ""
    );
    assert_eq!(store.podman(&["ps", "-aq"]), "");
    assert_eq!(store.podman(&["volume", "ls", "-q"]), "data");
}

/// On a terminal `prune` shows the plan and asks; anything but yes removes
/// nothing (the recording answers no removal command, so one would fail).
#[test]
#[ignore = "needs script (util-linux) for a pseudo-terminal"]
fn prune_asks_on_a_terminal_and_no_removes_nothing() {
    let cmd = format!(
        "printf 'n\\n' | script -qec 'env -i PATH=/usr/bin:/bin HOME=/nonexistent {} --replay {} --no-progress prune all' /dev/null",
        env!("CARGO_BIN_EXE_podman-storage"),
        root().join("fixtures/podman-4.3.1/projects").display()
    );
    let out = Command::new("sh").args(["-c", &cmd]).output().unwrap();
    let all = text(&out.stdout);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("podman volume rm gone_data"), "{all}");
    assert!(
        all.contains("Are you sure you want to continue? [y/N]"),
        "{all}"
    );
    assert!(all.contains("nothing removed"), "{all}");
    assert!(!all.contains("REMOVED"), "{all}");
}
