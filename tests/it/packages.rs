//! The .deb and the .rpm that `packaging/build.sh` builds, installed for
//! real: the .deb into the Debian 13 tree of the podman 5 tests and into
//! this host, each purged afterwards; the .rpm read with Debian's `rpm`.
//! Their file lists are compared with `packaging/{deb,rpm}.contents`, so a
//! file that silently drops out fails here. After a deliberate change:
//!
//!     UPDATE_PACKAGING=1 cargo test --test it packages:: -- --include-ignored
//!
//! Run it holding /tmp/podman-storage-real.lock when others use the tree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

const ROOT5: &str = "/var/cache/podman-storage/root5";
const PACKAGE: &str = env!("CARGO_PKG_NAME");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cmd`, asserts it succeeded, returns its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn sh(script: &str) -> String {
    run(Command::new("bash").args(["-c", script]))
}

/// A command in the Debian 13 tree, as root (tests/scenarios/podman5.sh).
fn chroot(args: &[&str]) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("tests/scenarios/podman5.sh"))
        .arg("root")
        .args(args);
    cmd
}

struct Packages {
    deb: PathBuf,
    rpm: PathBuf,
}

/// One build per test run, shared by the tests (cargo only relinks when the
/// sources changed).
fn packages() -> &'static Packages {
    static BUILT: OnceLock<Packages> = OnceLock::new();
    BUILT.get_or_init(|| {
        let t0 = Instant::now();
        let out = run(Command::new("bash").arg(repo().join("packaging/build.sh")));
        eprintln!("packaging/build.sh: {:.0?}", t0.elapsed());
        let find = |ext: &str| {
            let found: Vec<&str> = out.lines().filter(|l| l.ends_with(ext)).collect();
            assert_eq!(
                found.len(),
                1,
                "one {ext} path in build.sh's output:\n{out}"
            );
            PathBuf::from(found[0])
        };
        Packages {
            deb: find(".deb"),
            rpm: find(".rpm"),
        }
    })
}

fn sorted_lines(text: &str) -> Vec<String> {
    let set: BTreeSet<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    set.into_iter().map(str::to_string).collect()
}

/// `actual` equals the checked-in list `packaging/NAME` (or rewrites it
/// under UPDATE_PACKAGING).
fn check_contents(name: &str, actual: &[String]) {
    let path = repo().join("packaging").join(name);
    if std::env::var_os("UPDATE_PACKAGING").is_some() {
        std::fs::write(&path, actual.join("\n") + "\n").unwrap();
        return;
    }
    let expected = sorted_lines(&std::fs::read_to_string(&path).unwrap_or_default());
    let missing: Vec<_> = expected.iter().filter(|p| !actual.contains(p)).collect();
    let extra: Vec<_> = actual.iter().filter(|p| !expected.contains(p)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{name}: missing from the package {missing:?}, not in the list {extra:?}; \
         after a deliberate change run UPDATE_PACKAGING=1 cargo test --test it packages:: -- --include-ignored"
    );
}

/// Every checked-in man page, gzipped, and no other page.
fn man_pages_listed(contents: &[String]) {
    let mut pages: Vec<String> = std::fs::read_dir(repo().join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".1"))
        .map(|n| format!("/usr/share/man/man1/{n}.gz"))
        .collect();
    pages.sort();
    let listed: Vec<&String> = contents
        .iter()
        .filter(|p| p.starts_with("/usr/share/man/man1/"))
        .collect();
    assert_eq!(listed, pages.iter().collect::<Vec<_>>());
}

fn git_commit() -> String {
    run(Command::new("git")
        .arg("-C")
        .arg(repo())
        .args(["rev-parse", "--short", "HEAD"]))
    .trim()
    .to_string()
}

/// `podman-storage --version` of an installed binary: this version, built
/// from this commit.
fn check_version(output: &str) {
    let mut lines = output.lines();
    assert_eq!(
        lines.next(),
        Some(format!("{PACKAGE} {}", env!("CARGO_PKG_VERSION")).as_str()),
        "{output}"
    );
    assert_eq!(
        lines.next(),
        Some(format!("commit {}", git_commit()).as_str()),
        "{output}"
    );
    assert!(output.contains("podman 5."), "{output}");
}

/// After a purge, each listed path is gone, but for directories that still
/// hold other files or belong to another package too (`/usr/bin`): dpkg
/// leaves those. `root` prefixes the paths; `owned` asks dpkg there.
fn nothing_left(root: &str, contents: &[String], owned: impl Fn(&str) -> bool) {
    let left: Vec<&String> = contents
        .iter()
        .filter(|p| p.as_str() != "/.")
        .filter(|p| {
            let on_disk = PathBuf::from(format!("{root}{p}"));
            match std::fs::symlink_metadata(&on_disk) {
                Err(_) => false,
                Ok(meta) if !meta.is_dir() => true,
                Ok(_) => {
                    let empty = std::fs::read_dir(&on_disk).unwrap().next().is_none();
                    empty && !owned(p)
                }
            }
        })
        .collect();
    assert!(left.is_empty(), "left behind after purge: {left:?}");
}

/// Purges the package when dropped, so a failed assertion leaves neither
/// the shared tree nor the host with it installed.
struct Installed<F: Fn()>(F);

impl<F: Fn()> Drop for Installed<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// The control fields as a podman user expects: libc from dpkg-shlibdeps
/// (`$auto`), podman recommended, not required.
#[test]
#[ignore = "needs root, the podman 5 chroot, cargo-deb, cargo-generate-rpm and rpm (.ci/run)"]
fn deb_control_fields() {
    let deb = &packages().deb;
    let field = |name: &str| {
        run(Command::new("dpkg-deb").arg("-f").arg(deb).arg(name))
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), PACKAGE);
    assert!(field("Version").starts_with(&format!("{}-", env!("CARGO_PKG_VERSION"))));
    let depends = field("Depends");
    assert!(depends.contains("libc6"), "{depends}");
    assert!(!depends.contains("podman"), "{depends}");
    assert_eq!(field("Recommends"), "podman");
}

/// Installed into Debian 13 (podman 5's tree) with apt-get, working from
/// the installed files, purged without a trace.
#[test]
#[ignore = "needs root, the podman 5 chroot, cargo-deb, cargo-generate-rpm and rpm (.ci/run)"]
fn deb_installs_and_purges_in_debian_13() {
    let deb = &packages().deb;
    let t0 = Instant::now();
    run(Command::new("bash")
        .arg(repo().join("tests/scenarios/podman5.sh"))
        .arg("setup"));
    let inside = "/tmp/podman-storage-packages-test.deb";
    std::fs::copy(deb, format!("{ROOT5}{inside}")).unwrap();
    let purge = || {
        let _ = chroot(&["dpkg", "--purge", PACKAGE]).output();
        let _ = std::fs::remove_file(format!("{ROOT5}{inside}"));
    };
    let guard = Installed(purge);
    run(&mut chroot(&[
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "-q",
        inside,
    ]));

    check_version(&run(&mut chroot(&["podman-storage", "--version"])));
    let contents = sorted_lines(&run(&mut chroot(&["dpkg", "-L", PACKAGE])));
    check_contents("deb.contents", &contents);
    man_pages_listed(&contents);
    assert_eq!(
        run(&mut chroot(&[
            "readlink",
            "-f",
            "/usr/libexec/docker/cli-plugins/docker-storage"
        ]))
        .trim(),
        "/usr/bin/podman-storage"
    );
    let complete = run(&mut chroot(&[
        "bash",
        "-c",
        "source /usr/share/bash-completion/completions/podman-storage; complete -p podman-storage",
    ]));
    assert!(
        complete.trim_end().ends_with(" podman-storage"),
        "{complete}"
    );
    // The units run the packaged binary.
    for unit in ["system", "user"] {
        let text = std::fs::read_to_string(format!(
            "{ROOT5}/usr/lib/systemd/{unit}/podman-storage-snapshot.service"
        ))
        .unwrap();
        assert!(
            text.contains("\nExecStart=/usr/bin/podman-storage "),
            "{text}"
        );
    }

    run(&mut chroot(&["dpkg", "--purge", PACKAGE]));
    nothing_left(ROOT5, &contents, |p| {
        chroot(&["dpkg", "-S", p])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    drop(guard);
    eprintln!("Debian 13 install, checks and purge: {:.0?}", t0.elapsed());
}

/// Installed into this host (Debian 12) with apt-get: the man pages, docker
/// plugin and completions work for man, docker, bash, zsh and fish; purged
/// without a trace.
#[test]
#[ignore = "needs root, the podman 5 chroot, cargo-deb, cargo-generate-rpm and rpm (.ci/run)"]
fn deb_installs_and_purges_on_this_host() {
    let deb = &packages().deb;
    let t0 = Instant::now();
    let purge = || {
        let _ = Command::new("dpkg").args(["--purge", PACKAGE]).output();
    };
    let guard = Installed(purge);
    run(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"])
        .arg(deb));

    check_version(&run(
        Command::new("/usr/bin/podman-storage").arg("--version")
    ));
    let contents = sorted_lines(&run(Command::new("dpkg").args(["-L", PACKAGE])));
    check_contents("deb.contents", &contents);

    assert_eq!(
        sh("man -w podman-storage").trim(),
        "/usr/share/man/man1/podman-storage.1.gz"
    );
    let page = sh("MANWIDTH=80 man -P cat podman-storage-df 2>/dev/null | head -5");
    assert!(page.contains("podman-storage-df"), "{page}");

    // Only the system plugin directory: an empty DOCKER_CONFIG.
    let config = tempfile::tempdir().unwrap();
    let docker = |args: &[&str]| {
        run(Command::new("docker")
            .env("DOCKER_CONFIG", config.path())
            .args(args))
    };
    let help = docker(&["--help"]);
    assert!(help.contains("storage*"), "{help}");
    let help = docker(&["storage", "--help"]);
    assert!(help.contains("Where did my disk go"), "{help}");
    // The .rpm's plugin is a wrapper script: run it the same way, as docker
    // would find it, against the installed binary.
    std::fs::create_dir(config.path().join("cli-plugins")).unwrap();
    std::fs::copy(
        repo().join("packaging/docker-storage"),
        config.path().join("cli-plugins/docker-storage"),
    )
    .unwrap();
    let version = docker(&["storage", "--version"]);
    assert!(version.starts_with("podman-storage "), "{version}");
    let help = docker(&["--help"]);
    assert!(help.contains("storage*"), "{help}");

    let bash = sh(
        "source /usr/share/bash-completion/completions/podman-storage; complete -p podman-storage",
    );
    assert!(bash.trim_end().ends_with(" podman-storage"), "{bash}");
    // Debian's zsh has vendor-completions on its fpath; compinit finds ours.
    let zsh = run(Command::new("zsh").args([
        "-fc",
        "autoload -U compinit; compinit -u -D; print -r -- $_comps[podman-storage]",
    ]));
    assert_eq!(zsh.trim(), "_podman-storage");
    // fish loads vendor_completions.d on demand: complete a subcommand.
    // (not --no-config: that also skips fish's own setup of the paths).
    let home = tempfile::tempdir().unwrap();
    let fish = run(Command::new("fish")
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .args(["-c", "complete -C 'podman-storage '"]));
    assert!(
        fish.lines().any(|l| l.starts_with("df\t") || l == "df"),
        "{fish}"
    );

    run(Command::new("dpkg").args(["--purge", PACKAGE]));
    nothing_left("", &contents, |p| {
        Command::new("dpkg")
            .args(["-S", p])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    drop(guard);
    eprintln!("host install, checks and purge: {:.0?}", t0.elapsed());
}

/// The .rpm's files and metadata, read by Debian's rpm.
#[test]
#[ignore = "needs root, the podman 5 chroot, cargo-deb, cargo-generate-rpm and rpm (.ci/run)"]
fn rpm_contents_and_metadata() {
    let rpm = &packages().rpm;
    let query = |args: &[&str]| run(Command::new("rpm").args(args).arg(rpm));

    let contents = sorted_lines(&query(&["-qlp"]));
    check_contents("rpm.contents", &contents);
    man_pages_listed(&contents);

    let info = query(&["-qip"]);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| {
                let (key, value) = l.split_once(':')?;
                (key.trim() == name).then(|| value.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {name} in rpm -qip:\n{info}"))
    };
    assert_eq!(field("Name"), PACKAGE);
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(field("License"), env!("CARGO_PKG_LICENSE"));
    assert_eq!(field("Summary"), env!("CARGO_PKG_DESCRIPTION"));

    assert_eq!(query(&["-qp", "--recommends"]).trim(), "podman");
    let requires = query(&["-qp", "--requires"]);
    assert!(requires.contains("libc.so.6"), "{requires}");

    // --dump: path size mtime digest mode owner group ...
    let dump = query(&["-qp", "--dump"]);
    let entry = |path: &str| -> Vec<String> {
        dump.lines()
            .find(|l| l.split(' ').next() == Some(path))
            .unwrap_or_else(|| panic!("{path} not in the rpm:\n{dump}"))
            .split(' ')
            .map(str::to_string)
            .collect()
    };
    assert_eq!(entry("/usr/bin/podman-storage")[4], "0100755");
    let plugin = entry("/usr/libexec/docker/cli-plugins/docker-storage");
    assert_eq!(plugin[4], "0100755");
    let wrapper = std::fs::read(repo().join("packaging/docker-storage")).unwrap();
    assert_eq!(plugin[1], wrapper.len().to_string());
    assert_eq!(
        plugin[3],
        sh(&format!(
            "sha256sum {}",
            repo().join("packaging/docker-storage").display()
        ))
        .split(' ')
        .next()
        .unwrap()
    );
}
