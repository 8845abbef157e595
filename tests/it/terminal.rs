//! Terminal manners: colors only when asked or on a terminal, a spinner only
//! on a terminal (a real pty from `script`), never in pipes or with
//! `--no-progress`.

use std::path::Path;
use std::process::Command;

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/podman-4.3.1/base-derived")
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_podman-storage")
}

#[test]
fn colors_follow_color_and_no_color() {
    let run = |args: &[&str], no_color: Option<&str>| {
        let mut cmd = Command::new(bin());
        cmd.arg("--replay").arg(fixture()).args(args).arg("images");
        match no_color {
            Some(v) => cmd.env("NO_COLOR", v),
            None => cmd.env_remove("NO_COLOR"),
        };
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    assert!(run(&["--color", "always"], None).contains("\x1b[1m"));
    assert!(!run(&["--color", "never"], None).contains('\x1b'));
    // Not a terminal: auto means none.
    assert!(!run(&[], None).contains('\x1b'));
    // JSON never has colors.
    assert!(!run(&["--color", "always", "--format", "json"], None).contains('\x1b'));
}

/// Runs the binary under a pseudo-terminal; returns everything it printed.
fn in_pty(args: &str, env: &str) -> String {
    let cmd = format!("{env} {} --replay {} {args}", bin(), fixture().display());
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .expect("script (util-linux) is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs script (util-linux) for a pseudo-terminal"]
fn spinner_only_on_a_terminal_and_colors_off_under_no_color() {
    let tty = in_pty("images", "env -u NO_COLOR");
    assert!(tty.contains("measuring the store"), "{tty:?}");
    assert!(tty.contains("\x1b[1m"), "colors on a terminal: {tty:?}");
    let quiet = in_pty("--no-progress images", "env -u NO_COLOR");
    assert!(!quiet.contains("measuring the store"), "{quiet:?}");
    assert!(quiet.contains("localhost/app1:1"), "{quiet:?}");
    let no_color = in_pty("images", "env NO_COLOR=1");
    assert!(!no_color.contains("\x1b[1m"), "{no_color:?}");
    // Piped: no spinner at all.
    let piped = Command::new(bin())
        .arg("--replay")
        .arg(fixture())
        .arg("images")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&piped.stderr).contains("measuring"));
}
