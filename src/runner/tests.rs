use super::*;

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

#[test]
fn record_then_replay_returns_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Runner::record(dir.path(), Duration::from_secs(10)).unwrap();
    let live = rec
        .run(&argv(&["sh", "-c", "echo out; echo err >&2"]), "")
        .unwrap();
    assert_eq!(live.stdout, "out\n");
    assert_eq!(live.stderr, "err\n");
    let replay = Runner::replay(dir.path()).unwrap();
    let again = replay
        .run(&argv(&["/bin/sh", "-c", "echo out; echo err >&2"]), "")
        .unwrap();
    assert_eq!(again.stdout, live.stdout);
    assert_eq!(again.stderr, live.stderr);
}

#[test]
fn unrecorded_argv_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let replay = Runner::replay(dir.path()).unwrap();
    let err = replay
        .run(&argv(&["podman", "images", "--format", "json"]), "")
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`podman images --format json` was not recorded"),
        "{msg}"
    );
}

#[test]
fn failure_names_argv_exit_code_and_first_stderr_line() {
    let runner = Runner::live(Duration::from_secs(10));
    let err = runner
        .run(
            &argv(&["sh", "-c", "echo; echo boom >&2; echo more >&2; exit 3"]),
            "",
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`sh -c 'echo; echo boom >&2; echo more >&2; exit 3'` failed with exit code 3: boom"
    );
}

#[test]
fn timeout_kills_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pid");
    let script = format!("echo $$ > {}; exec sleep 30", marker.display());
    let runner = Runner::live(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = runner.run(&argv(&["sh", "-c", &script]), "").unwrap_err();
    assert!(matches!(err, RunError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let pid: i32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    // The child was killed and reaped: the pid no longer exists.
    assert_eq!(unsafe { libc::kill(pid, 0) }, -1);
}

#[test]
fn timeout_kills_the_childs_own_children_too() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pid");
    // A hung command whose own child does the hanging (`sleep &; wait`).
    let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
    let runner = Runner::live(Duration::from_millis(300));
    let err = runner.run(&argv(&["sh", "-c", &script]), "").unwrap_err();
    assert!(matches!(err, RunError::Timeout { .. }), "{err}");
    let pid: i32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    // Killed; re-parented to init, which reaps it.
    let started = std::time::Instant::now();
    while unsafe { libc::kill(pid, 0) } == 0 {
        let zombie = fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        });
        if zombie {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "grandchild {pid} survived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_measurement_past_the_timeout_is_left_behind_and_named() {
    let runner = Runner::live(Duration::from_secs(1));
    let started = std::time::Instant::now();
    let err = runner
        .measured("walk", "/hung/mount\n/other", || -> Result<u8, String> {
            std::thread::sleep(Duration::from_secs(20));
            Ok(1)
        })
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        err.to_string(),
        "walk /hung/mount did not finish within 1 s; not waited for (raise --timeout?)"
    );
    let quick = runner.measured("walk", "/", || -> Result<u8, String> { Ok(7) });
    assert_eq!(quick.unwrap(), 7);
}

#[test]
fn a_huge_timeout_waits_instead_of_panicking() {
    let runner = Runner::live(Duration::from_secs(u64::MAX));
    let out = runner.run(&argv(&["sh", "-c", "echo ok"]), "").unwrap();
    assert_eq!(out.stdout, "ok\n");
}

#[test]
fn missing_program_says_how_to_install_it() {
    let runner = Runner::live(Duration::from_secs(1));
    let err = runner
        .run(
            &argv(&["no-such-program-xyz", "ps"]),
            "install it with apt-get install -y xyz",
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not find `no-such-program-xyz` on PATH; install it with apt-get install -y xyz"
    );
}
