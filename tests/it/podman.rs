//! Real-podman tests: build a store with real podman, then check the tool's
//! figures against the truth on disk. CI runs them with `--include-ignored`;
//! without podman they fail (the build script cannot run), never skip.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::{du_sb, file_bytes, within, Store};
use serde_json::Value;

fn image_layer_bytes(store: &Store) -> u64 {
    store.image_layer_bytes()
}

fn component<'a>(df: &'a Value, kind: &str) -> &'a Value {
    df["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} component in {df}"))
}

/// podman 4.3's `system df` Images figure, in bytes, for comparison.
fn podman_df_images(store: &Store) -> u64 {
    let out = store.podman(&["system", "df", "--format", "{{json .}}"]);
    let line = out.lines().find(|l| l.contains("\"Images\"")).unwrap();
    let v: Value = serde_json::from_str(line).unwrap();
    v["RawSize"]
        .as_u64()
        .or_else(|| v["Size"].as_u64())
        .unwrap_or(0)
}

/// What a developer has set in their shell never reaches podman or the
/// tool under test: only the store's own settings and a fixed environment.
#[test]
fn store_env_leaks_nothing_of_the_developer() {
    let store = Store {
        dir: tempfile::tempdir().unwrap(),
    };
    let mut cmd = Command::new("env");
    // As if inherited from the developer's shell.
    for (k, v) in [
        ("PODMAN_STORAGE_ENGINE", "docker"),
        ("XDG_CONFIG_HOME", "/home/dev/.config"),
        ("XDG_CACHE_HOME", "/home/dev/.cache"),
        ("CONTAINERS_REGISTRIES_CONF", "/home/dev/registries.conf"),
        ("CONTAINER_HOST", "ssh://dev@elsewhere"),
        ("HOME", "/home/dev"),
        ("LC_ALL", "de_DE.UTF-8"),
        ("TZ", "Europe/Berlin"),
    ] {
        cmd.env(k, v);
    }
    let out = store.env(&mut cmd).output().unwrap();
    let env = String::from_utf8(out.stdout).unwrap();
    let vars: Vec<(&str, &str)> = env.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    for (name, _) in &vars {
        assert!(
            !name.starts_with("PODMAN_STORAGE_")
                && !name.starts_with("XDG_")
                && !name.starts_with("CONTAINER_")
                && (!name.starts_with("CONTAINERS_")
                    || ["CONTAINERS_STORAGE_CONF", "CONTAINERS_CONF"].contains(name)),
            "{name} leaked into the test environment:\n{env}"
        );
    }
    let home = get("HOME").unwrap();
    assert!(
        std::path::Path::new(home).starts_with(store.dir.path()),
        "HOME={home}"
    );
    assert_eq!((get("LC_ALL"), get("TZ")), (Some("C"), Some("UTC")));
    assert_eq!(
        get("CONTAINERS_STORAGE_CONF").map(PathBuf::from),
        Some(store.dir.path().join("storage.conf"))
    );
}

#[test]
#[ignore = "needs podman"]
fn df_matches_the_truth_on_disk_for_a_shared_base() {
    let store = Store::build("base-derived");
    let df = store.json(&["df"]);
    let images = component(&df, "images")["bytes"].as_u64().unwrap();
    let truth = image_layer_bytes(&store);
    let podman = podman_df_images(&store);
    eprintln!(
        "images: ours {images} B, truth {truth} B ({:+.2}%); podman system df {podman} B ({:+.2}%)",
        (images as f64 / truth as f64 - 1.0) * 100.0,
        (podman as f64 / truth as f64 - 1.0) * 100.0
    );
    assert!(
        within(images, truth, 1.0),
        "images {images} vs truth {truth}"
    );
    // The base is shared by three images: summing image sizes overcounts it.
    assert!(
        !within(podman, truth, 20.0),
        "podman's figure {podman} should be the over-counted one"
    );

    let containers = component(&df, "containers")["bytes"].as_u64().unwrap();
    let uppers: u64 = store
        .container_upper_dirs()
        .iter()
        .map(|d| file_bytes(d))
        .sum();
    assert!(
        uppers > 1_000_000,
        "the scenario writes 1.2 MB into containers"
    );
    assert!(
        within(containers, uppers, 1.0),
        "containers {containers} vs upper dirs {uppers}"
    );

    // The total against the disk: all the graph root holds (`du -sbx`,
    // volumes, logs and metadata included), plus the build leftovers the
    // Build cache row names outside it (the machine's blob-info cache).
    let gr = store.graphroot();
    let outside: u64 = df["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "build_cache")
        .flat_map(|c| c["details"].as_array().unwrap())
        .filter(|d| {
            !d["path"]
                .as_str()
                .unwrap_or("")
                .starts_with(gr.to_str().unwrap())
        })
        .map(|d| d["bytes"].as_u64().unwrap())
        .sum();
    let total = df["total_bytes"].as_u64().unwrap() - outside;
    let du = common::du_sbx(&gr);
    assert!(total > truth + uppers + store.volume_bytes());
    assert!(within(total, du, 0.5), "total {total} vs du -sbx {du}");
}

#[test]
#[ignore = "needs podman"]
fn reclaimable_equals_what_podman_prune_really_frees() {
    let store = Store::build("volumes-dangling");
    let df = store.json(&["df"]);
    let images = component(&df, "images");
    let reclaimable = images["reclaimable_bytes"].as_u64().unwrap();
    let before = image_layer_bytes(&store);
    store.podman(&["image", "prune", "-a", "-f"]);
    let after = image_layer_bytes(&store);
    let freed = before - after;
    eprintln!("images reclaimable: ours {reclaimable} B, really freed {freed} B");
    assert!(freed > 2_000_000, "the dangling image holds 2.5 MB");
    assert!(
        within(reclaimable, freed, 1.0),
        "reclaimable {reclaimable} vs freed {freed}"
    );

    let volumes = component(&df, "volumes");
    let spare = store.graphroot().join("volumes/spare/_data");
    let data = store.graphroot().join("volumes/data/_data");
    let (spare_b, data_b) = (
        du_sb(std::slice::from_ref(&spare)),
        du_sb(std::slice::from_ref(&data)),
    );
    assert_eq!(volumes["count"], 2);
    assert_eq!(volumes["active"], 1);
    assert_eq!(volumes["bytes"].as_u64().unwrap(), spare_b + data_b);
    assert_eq!(volumes["reclaimable_bytes"].as_u64().unwrap(), spare_b);
}

#[test]
#[ignore = "needs podman"]
fn volumes_view_shows_labels_use_and_exact_bytes() {
    let store = Store::build("volumes-dangling");
    let v = store.json(&["volumes"]);
    let vols = v["volumes"].as_array().unwrap();
    let data = vols.iter().find(|x| x["name"] == "data").unwrap();
    assert_eq!(data["in_use"], true);
    assert_eq!(data["labels"]["owner"], "team-a");
    let truth = du_sb(&[store.graphroot().join("volumes/data/_data")]);
    assert_eq!(data["bytes"].as_u64().unwrap(), truth);
    let spare = vols.iter().find(|x| x["name"] == "spare").unwrap();
    assert_eq!(spare["in_use"], false);
}

#[test]
#[ignore = "needs podman"]
fn images_view_splits_unique_and_shared() {
    let store = Store::build("base-derived");
    let v = store.json(&["images"]);
    let imgs = v["images"].as_array().unwrap();
    let by_name = |n: &str| {
        imgs.iter()
            .find(|i| i["names"].as_array().unwrap().iter().any(|x| x == n))
            .unwrap_or_else(|| panic!("{n} missing"))
    };
    let app1 = by_name("localhost/app1:1");
    let unique = app1["unique_bytes"].as_u64().unwrap();
    assert!(within(unique, 2_000_000, 1.0), "app1 adds 2 MB: {unique}");
    let base_size = by_name("localhost/base:1")["size_bytes"].as_u64().unwrap();
    assert!(within(
        app1["shared_bytes"].as_u64().unwrap(),
        base_size,
        1.0
    ));
    // Shared: the base's layer, which podman sizes on its own; total: every
    // layer file on disk once.
    let base: u64 = store
        .podman(&[
            "image",
            "inspect",
            "--format",
            "{{.Size}}",
            "localhost/base:1",
        ])
        .parse()
        .unwrap();
    let shared = v["shared_layers_bytes"].as_u64().unwrap();
    assert!(within(shared, base, 1.0), "shared {shared} vs base {base}");
    let total = v["total_bytes"].as_u64().unwrap();
    let disk = store.image_layer_bytes();
    assert!(within(total, disk, 1.0), "total {total} vs disk {disk}");
}

#[test]
#[ignore = "needs podman"]
fn remote_path_agrees_with_the_local_store() {
    // The same store through `podman --url` (a service socket): layers then
    // come from `image inspect`, not from the store's files.
    let store = Store::build("base-derived");
    let sock = store.dir.path().join("podman.sock");
    let url = format!("unix://{}", sock.display());
    let mut service = store
        .env(Command::new("podman").args(["system", "service", "--time=0", &url]))
        .spawn()
        .unwrap();
    // Poll until the service answers (bounded), rather than sleeping and hoping.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let ready = loop {
        let up = Command::new("podman")
            .args(["--url", &url, "version"])
            .output()
            .is_ok_and(|o| o.status.success());
        if up || std::time::Instant::now() > deadline {
            break up;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let local = store.json(&["images"]);
    let remote = if ready {
        Some(store.json(&["--url", &url, "images"]))
    } else {
        None
    };
    let _ = service.kill();
    let _ = service.wait();
    let remote = remote.expect("podman system service came up");
    let total = |v: &Value| v["total_bytes"].as_u64().unwrap();
    assert!(
        within(total(&remote), total(&local), 0.1),
        "remote {} vs local {}",
        total(&remote),
        total(&local)
    );
}

#[test]
#[ignore = "needs podman"]
fn local_store_and_podman_cli_give_identical_reports() {
    // The fast path reads the store's files and libpod's database; the
    // reference path asks podman. Every view must be byte-identical.
    for scenario in ["base-derived", "volumes-dangling", "intermediates"] {
        let store = Store::build(scenario);
        for view in [
            &["df"][..],
            &["images"],
            &["containers", "--size"],
            &["volumes"],
            &["overview"],
        ] {
            let mut local = store.json(view);
            if view == ["df"] {
                local = without_metadata(local);
            }
            let mut cli = vec!["--cli-only"];
            cli.extend_from_slice(view);
            assert_eq!(local, store.json(&cli), "{scenario} {view:?}");
        }
        if scenario == "intermediates" {
            // Build steps never make a layer look shared.
            let v = store.json(&["images"]);
            let multi = v["images"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["names"][0] == "localhost/multi:1")
                .unwrap();
            assert!(
                multi["unique_bytes"].as_u64().unwrap() >= 500_000,
                "{multi}"
            );
            assert!(
                v["images"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|i| i["intermediate"] == true)
                    .count()
                    >= 2
            );
        }
    }
}

/// `--cli-only` is an independent reference only if it reads no store
/// record: under strace, no thread of the tool itself (podman children are
/// told apart by their `execve`) opens or stats anything under the graph
/// root but the mountpoints it walks (volumes) and the log files podman
/// named (stat'ed for their size), and its figures still equal the store
/// path's on every scenario, to the byte.
#[test]
#[ignore = "needs podman and strace"]
fn cli_only_reads_no_store_file_and_agrees_to_the_byte() {
    for scenario in ["base-derived", "projects", "intermediates"] {
        let store = Store::build(scenario);
        let log = store.graphroot().with_file_name("strace.log");
        let out = store
            .env(
                Command::new("strace")
                    .args([
                        "-f",
                        "-qq",
                        "-e",
                        "trace=openat,open,stat,lstat,newfstatat,statx,execve,clone,clone3,fork,vfork",
                        "-o",
                    ])
                    .arg(&log)
                    .arg(env!("CARGO_BIN_EXE_podman-storage"))
                    .args(["--cli-only", "--format", "json", "df"]),
            )
            .output()
            .expect("strace runs (apt-get install -y strace)");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{scenario}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let trace = std::fs::read_to_string(&log).unwrap();
        // The tool is the first pid: a pid that execs after it is a child
        // (podman), and so is every thread or process a child starts.
        let pid_of = |l: &str| l.split_whitespace().next().unwrap_or("").to_string();
        let mut children = std::collections::BTreeSet::new();
        for l in trace.lines().skip(1) {
            let pid = pid_of(l);
            if l.contains("execve") && !l.contains("= -1") {
                children.insert(pid);
            } else if (l.contains("clone") || l.contains("fork")) && children.contains(&pid) {
                if let Some(new) = l.rsplit("= ").next().filter(|n| n.parse::<u32>().is_ok()) {
                    children.insert(new.to_string());
                }
            }
        }
        let root = store.graphroot().display().to_string();
        let volumes = format!("{root}/volumes/");
        let read: Vec<&str> = trace
            .lines()
            .filter(|l| !children.contains(&pid_of(l)))
            .filter(|l| l.contains(&root) && !l.contains(&volumes))
            .filter(|l| !(l.contains("stat") && l.contains("/userdata/ctr.log\"")))
            .collect();
        assert!(
            read.is_empty(),
            "{scenario}: --cli-only opened store files:\n{}",
            read.join("\n")
        );
        let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(cli, without_metadata(store.json(&["df"])), "{scenario}");
    }
}

/// The store path's df less its `Store metadata` and `Build cache` rows,
/// which only the local read gives (`--cli-only` is podman's output alone).
fn without_metadata(mut df: Value) -> Value {
    for kind in ["metadata", "build_cache"] {
        let rows = df["components"].as_array_mut().unwrap();
        let at = rows
            .iter()
            .position(|c| c["kind"] == kind)
            .unwrap_or_else(|| panic!("the store path has a {kind} row"));
        let row = rows.remove(at);
        for field in ["total_bytes", "reclaimable_bytes"] {
            let key = if field == "total_bytes" {
                "bytes"
            } else {
                field
            };
            df[field] = (df[field].as_u64().unwrap() - row[key].as_u64().unwrap()).into();
        }
    }
    df
}

/// Containers and images created and removed while the tool reads: every
/// report is one state of the store (images either with or without the
/// churned image, within 1%), never a layer counted twice, on both paths.
#[test]
#[ignore = "needs podman"]
fn reports_under_churn_are_one_state_never_a_double_count() {
    let store = Store::build("base-derived");
    let before = component(&store.json(&["df"]), "images")["bytes"]
        .as_u64()
        .unwrap();
    let ctx = store.dir.path().join("churn");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("d"), vec![7u8; 1_000_000]).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM localhost/base:1\nCOPY d /d\n",
    )
    .unwrap();
    store.podman(&[
        "build",
        "-q",
        "-t",
        "localhost/churn:1",
        ctx.to_str().unwrap(),
    ]);
    let with = component(&store.json(&["df"]), "images")["bytes"]
        .as_u64()
        .unwrap();
    assert!(with > before + 900_000, "the churned image adds 1 MB");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let runs = std::thread::scope(|s| {
        s.spawn(|| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
            while std::time::Instant::now() < deadline {
                store.podman(&["create", "--name", "churner", "localhost/churn:1", "true"]);
                store.podman(&["rm", "churner"]);
                store.podman(&["rmi", "localhost/churn:1"]);
                store.podman(&[
                    "build",
                    "-q",
                    "-t",
                    "localhost/churn:1",
                    ctx.to_str().unwrap(),
                ]);
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut runs = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            for cli in [false, true] {
                let mut args = vec!["--format", "json"];
                if cli {
                    args.push("--cli-only");
                }
                args.push("df");
                let out = store.tool(&args);
                let err = String::from_utf8_lossy(&out.stderr);
                // A report podman could not finish (an image removed between
                // two of its own calls) may say so; a report must not lie.
                if out.status.code() == Some(2) {
                    continue;
                }
                let df: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!("cli={cli}: exit {:?}: {e}: {err}", out.status.code())
                });
                let c = component(&df, "images");
                // podman itself fails `images -a` under churn ("image not
                // known"): then the figure is marked unmeasured, exit 1.
                if c["measured"] == false {
                    assert_eq!(out.status.code(), Some(1), "{err}");
                    continue;
                }
                let images = c["bytes"].as_u64().unwrap();
                assert!(
                    within(images, before, 1.0) || within(images, with, 1.0),
                    "cli={cli}: images {images} is neither state ({before} or {with}): {err}"
                );
                runs += 1;
            }
        }
        runs
    });
    eprintln!("churn: {runs} reports, each one state ({before} or {with} B of images)");
    assert!(runs > 20, "only {runs} reports in 40 s");
}

#[test]
#[ignore = "needs podman"]
fn a_store_locked_by_a_writer_is_waited_for_no_longer_than_the_timeout() {
    let store = Store::build("one-image");
    let lock = store.graphroot().join("overlay-layers/layers.lock");
    assert!(lock.is_file(), "{} exists", lock.display());
    // A writer (c/storage takes fcntl write locks) that outlives the report.
    let mut writer = std::process::Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys,time\nf=open(sys.argv[1],'r+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(60)",
            lock.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(writer.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");

    let started = std::time::Instant::now();
    let out = store.tool(&["--timeout", "1", "df"]);
    let took = started.elapsed();
    writer.kill().unwrap();
    let _ = writer.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The store read gives up at the timeout (not at its own lock wait),
    // then podman, blocked by the same lock, is killed at the timeout too.
    assert!(
        stderr.contains("local state did not finish within 1 s"),
        "{stderr}"
    );
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
}
