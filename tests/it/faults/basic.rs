//! Fault injection: a fake `podman` (a small script) that is missing, fails,
//! hangs, or prints garbage. Each case gets a one-line message naming the
//! command, a documented exit code, and the rest of the report.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::TestContext;
use std::time::{Duration, Instant};

/// A fake podman in `ctx`'s bin/: `mode` picks what the `images` call
/// does; every other call answers an empty JSON list, as an empty store would.
fn fake_podman(ctx: &TestContext, mode: &str) -> PathBuf {
    let images = match mode {
        "ok" => "echo '[]'".to_string(),
        "fail" => "echo 'Error: cannot connect to the podman socket' >&2; exit 125".to_string(),
        "hang" => format!(
            "echo $$ > {}/hung.pid; exec sleep 600",
            ctx.path().display()
        ),
        "garbage" => "echo 'this is not json'".to_string(),
        "truncated" => "printf '[{\"Id\": \"abc\", \"Si'".to_string(),
        "shape" => "echo '{\"Images\": []}'".to_string(),
        _ => unreachable!(),
    };
    ctx.fake(
        "podman",
        &format!("case \"$1\" in\n  images) {images} ;;\n  *) echo '[]' ;;\nesac\n"),
    )
}

/// The tool asking `podman`, over an empty store of its own, so nothing
/// on this machine is read.
fn run(ctx: &TestContext, podman: &Path, args: &[&str]) -> Output {
    ctx.command(true)
        .env("CONTAINERS_STORAGE_CONF", ctx.empty_store())
        .arg("--podman")
        .arg(podman)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_podman_says_how_to_install_it() {
    let ctx = TestContext::new();
    let out = run(&ctx, &ctx.path().join("no-podman-here"), &["df"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("could not find") && err.contains("apt-get install -y podman"),
        "{err}"
    );
}

#[test]
fn missing_podman_still_prints_the_overview_of_directories() {
    let ctx = TestContext::new();
    std::fs::create_dir_all(ctx.path().join("ws/t1")).unwrap();
    std::fs::write(ctx.path().join("ws/t1/f"), vec![0u8; 10_000]).unwrap();
    let config = ctx.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[projects]]\nid = \"p\"\nworkspaces = [\"{}/ws/*\"]\n",
            ctx.path().display()
        ),
    )
    .unwrap();
    let out = run(
        &ctx,
        &ctx.path().join("no-podman-here"),
        &[
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
            "overview",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).lines().count(),
        1,
        "said once: {}",
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "p")
        .unwrap();
    assert!(p["workspaces_bytes"].as_u64().unwrap() >= 10_000);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn failing_podman_is_named_with_exit_code_and_message() {
    let ctx = TestContext::new();
    let podman = fake_podman(&ctx, "fail");
    let out = run(&ctx, &podman, &["images"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("images -a --format json` failed with exit code 125: Error: cannot connect to the podman socket"),
        "{err}"
    );
}

#[test]
fn partial_failure_prints_the_rest_and_exits_1() {
    let ctx = TestContext::new();
    let podman = fake_podman(&ctx, "fail");
    // df also asks for containers and volumes, which answer.
    let out = run(&ctx, &podman, &["--format", "json", "df"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["complete"], false);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
    assert_eq!(v["components"][0]["kind"], "images");
    assert_eq!(v["components"][0]["measured"], false);
    assert_eq!(v["components"][1]["measured"], true);
}

#[test]
fn hung_podman_is_killed_at_the_timeout() {
    let ctx = TestContext::new();
    let podman = fake_podman(&ctx, "hang");
    let start = Instant::now();
    let out = run(&ctx, &podman, &["--timeout", "1", "images"]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("did not finish within 1 s and was killed"),
        "{err}"
    );
    let pid: i32 = std::fs::read_to_string(ctx.path().join("hung.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the hung podman (pid {pid}) was left behind"
    );
}

#[test]
fn unparseable_output_is_an_error_never_a_number() {
    for mode in ["garbage", "truncated", "shape"] {
        let ctx = TestContext::new();
        let podman = fake_podman(&ctx, mode);
        let out = run(&ctx, &podman, &["images"]);
        assert_eq!(out.status.code(), Some(2), "{mode}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{mode}: {err}");
        assert!(
            err.contains("printed output that is not what podman 4 prints"),
            "{mode}: {err}"
        );
        assert!(
            out.stdout.is_empty(),
            "{mode}: no report with made-up numbers"
        );
    }
}

#[test]
fn an_empty_store_reports_zeros_exactly() {
    let ctx = TestContext::new();
    let podman = fake_podman(&ctx, "ok");
    let out = run(&ctx, &podman, &["--format", "json", "df"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total_bytes"], 0);
    assert_eq!(v["components"].as_array().unwrap().len(), 3);
}

/// A bin/ holding only a fake `docker` (no podman), so `--engine auto`
/// asks `docker --version` whether docker is real.
fn fake_docker_only(ctx: &TestContext, version: &str) {
    ctx.fake(
        "docker",
        &format!("case \"$1\" in\n  --version) {version} ;;\n  *) echo 'Error: no daemon here' >&2; exit 1 ;;\nesac\n"),
    );
}

fn run_auto(ctx: &TestContext, args: &[&str]) -> Output {
    ctx.command(false).args(args).output().unwrap()
}

#[test]
fn docker_version_probe_obeys_the_timeout() {
    let ctx = TestContext::new();
    fake_docker_only(
        &ctx,
        &format!(
            "echo $$ > {}/hung.pid; exec /bin/sleep 60",
            ctx.path().display()
        ),
    );
    let start = Instant::now();
    // --cli-only: podman is asked, never the host's store read instead.
    let out = run_auto(&ctx, &["--timeout", "1", "--cli-only", "images"]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "`docker --version` was waited for {:?}, past --timeout 1",
        start.elapsed()
    );
    // Not known to be a real docker: podman is asked, and it is missing.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not find `podman`"),
        "{}",
        stderr(&out)
    );
    let pid = std::fs::read_to_string(ctx.path().join("hung.pid")).unwrap();
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the hung docker (pid {pid}) was left behind"
    );
}

#[test]
fn docker_version_probe_is_recorded() {
    let ctx = TestContext::new();
    fake_docker_only(&ctx, "echo 'Docker version 27.5.1, build 9f9e405'");
    let rec = ctx.path().join("rec");
    let out = run_auto(&ctx, &["--record", rec.to_str().unwrap(), "images"]);
    // The fake daemon fails: docker was picked, and said so.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no daemon here"), "{}", stderr(&out));
    let argvs: Vec<Vec<String>> = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            serde_json::from_value(v["argv"].clone()).unwrap()
        })
        .collect();
    assert!(
        argvs.iter().any(|a| a.len() == 2 && a[1] == "--version"),
        "`docker --version` is not in the recording: {argvs:?}"
    );
}
