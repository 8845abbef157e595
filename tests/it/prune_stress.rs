//! `prune caches` under stress: writers adding blobs during a prune, two
//! prunes at once, SIGKILL at random points of orphan and LRU prunes, and
//! symlink swaps (TOCTOU) on blob paths, directories and the cache root.
//! Every loop is bounded in count and in time; figures are printed for
//! `benches/reliability.sh` (`stress <name>: ...`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant, SystemTime};

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

/// Loops stop early past this, whatever their count: the suite stays cheap
/// on a busy machine.
const TIME_BOX: Duration = Duration::from_secs(25);

/// A temp directory on tmpfs when there is one: the loops create and delete
/// thousands of files, several times faster there, with the same
/// semantics (`RENAME_EXCHANGE`, `flock`, `unlinkat`).
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("stress-")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}

fn hex(n: u64) -> String {
    format!("{n:064x}")
}

fn blob_name(n: u64) -> String {
    format!("sha256:{}", hex(n))
}

fn content(seed: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u64).wrapping_mul(31).wrapping_add(seed * 7) % 251) as u8)
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

fn ino(p: &Path) -> u64 {
    fs::symlink_metadata(p).map(|m| m.ino()).unwrap_or(0)
}

/// The binary with a fixed environment: no cache of this machine leaks in.
fn prune_cmd(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(cargo_bin("podman-storage"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd.join("no-home"))
        .env("LC_ALL", "C")
        .current_dir(cwd)
        .args(["--format", "json", "prune", "caches", "--force"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

struct Pruned {
    code: i32,
    json: Value,
    stderr: String,
}

fn finish(child: Child) -> Pruned {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Pruned {
        code: out.status.code().expect("exited"),
        json: serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}")),
        stderr,
    }
}

fn fill(dir: &Path, from: u64, n: u64, size: usize) {
    fs::create_dir_all(dir).unwrap();
    for i in from..from + n {
        fs::write(dir.join(blob_name(i)), content(i, size)).unwrap();
    }
}

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn time_seed() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1
}

// ---------------------------------------------------------------------------
// Writers during a prune.

/// One blob a writer made, with the cache directory's inode seen just
/// before its `open(O_CREAT)` and just after its `close`.
struct Written {
    name: String,
    data: Vec<u8>,
    dir_before: u64,
    dir_after: u64,
}

/// What "written after the prune" means, given that a whole-cache prune
/// swaps the directory atomically (`RENAME_EXCHANGE`) and deletes the old
/// one: a blob whose `open(O_CREAT)` looked the cache path up *after* the
/// swap lands in the new directory and must survive, whole. We know the
/// lookup came after the swap when the path already named the new
/// directory (a different inode from the one the prune started on) just
/// before the open. A blob whose writer finished before the swap (the path
/// still named the old directory after its close) is in the old directory
/// and must be gone. A blob opened before and closed after the swap is in
/// the old directory too (go-containerregistry writes in place, so its
/// file is deleted under it): counted, not asserted.
#[test]
fn writers_during_a_whole_prune_lose_nothing_written_after_the_swap() {
    const ITERATIONS: usize = 100;
    const WRITERS: u64 = 2;
    let tmp = scratch();
    let cache = tmp.path().join("cache");
    let started = Instant::now();
    let (mut swapped, mut after, mut before, mut straddling, mut lost_after) = (0, 0, 0, 0, 0);
    let mut straddling_lost = 0;
    let mut iterations = 0;
    let failed = AtomicU64::new(0);
    for it in 0..ITERATIONS {
        if started.elapsed() > TIME_BOX {
            break;
        }
        iterations += 1;
        let _ = fs::remove_dir_all(&cache);
        fill(&cache, 1_000_000, 200, 1000);
        let i0 = ino(&cache);
        let stop = AtomicBool::new(false);
        let go = Barrier::new(WRITERS as usize + 1);
        let written: Vec<Vec<Written>> = std::thread::scope(|s| {
            let writers: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let (cache, stop, go, failed) = (&cache, &stop, &go, &failed);
                    s.spawn(move || {
                        go.wait();
                        let mut out = Vec::new();
                        let mut seq = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            let n = ((it as u64) << 32) | (w << 24) | seq;
                            seq += 1;
                            let name = blob_name(n);
                            let data = content(n, 4096);
                            let dir_before = ino(cache);
                            // go-containerregistry's fscache: create under
                            // the final name, stream into it, close.
                            let mut f = match fs::File::create(cache.join(&name)) {
                                Ok(f) => f,
                                // The lookup found the old directory just
                                // before it was removed: the writer sees
                                // the error (nothing is silently lost).
                                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                                    failed.fetch_add(1, Ordering::Relaxed);
                                    continue;
                                }
                                Err(e) => panic!("create {name}: {e}"),
                            };
                            for chunk in data.chunks(1024) {
                                f.write_all(chunk).unwrap();
                            }
                            drop(f);
                            let dir_after = ino(cache);
                            out.push(Written {
                                name,
                                data,
                                dir_before,
                                dir_after,
                            });
                        }
                        out
                    })
                })
                .collect();
            go.wait();
            // Let the writers get going, then prune under them.
            std::thread::sleep(Duration::from_millis(2));
            let p = finish(prune_cmd(tmp.path(), &["cache"]).spawn().unwrap());
            // Keep writing a little after the prune, into the new directory.
            std::thread::sleep(Duration::from_millis(2));
            stop.store(true, Ordering::Relaxed);
            assert_eq!(p.code, 0, "iteration {it}: {}", p.stderr);
            writers.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let i1 = ino(&cache);
        if i1 != i0 {
            swapped += 1;
        }
        let present = names(&cache);
        for w in written.iter().flatten() {
            let kept = present.contains(&w.name);
            if w.dir_before != i0 {
                assert_eq!(w.dir_before, i1, "a third directory?");
                after += 1;
                if !kept {
                    lost_after += 1;
                    continue;
                }
                assert_eq!(fs::read(cache.join(&w.name)).unwrap(), w.data, "whole");
            } else if w.dir_after == i0 {
                before += 1;
                if i1 != i0 {
                    assert!(!kept, "{} was written before the swap yet kept", w.name);
                }
            } else {
                straddling += 1;
                straddling_lost += usize::from(!kept);
            }
        }
        // The old directory is gone, and no aside is left behind.
        let asides: Vec<String> = names(tmp.path())
            .into_iter()
            .filter(|n| n.starts_with(".pruning-"))
            .collect();
        assert!(asides.is_empty(), "{asides:?}");
    }
    println!(
        "stress writers: {iterations} prunes, {swapped} swaps, blobs written after the swap {after} (lost {lost_after}), before {before} (all pruned), straddling {straddling} ({straddling_lost} lost with the old directory), {} creates refused",
        failed.load(Ordering::Relaxed)
    );
    assert_eq!(lost_after, 0, "blobs written after the swap were lost");
    assert!(swapped > 0 && after > 0, "the writers never met a prune");
}

// ---------------------------------------------------------------------------
// Two prunes at once.

/// Two prunes of one cache started together: one holds the lock, the
/// other is refused or (if it came second) finds an empty cache. The bytes
/// they report freed add up to exactly what was there: nothing counted
/// twice, nothing missed.
#[test]
fn two_prunes_at_once_free_each_byte_once() {
    const ITERATIONS: usize = 100;
    const BLOBS: u64 = 300;
    const SIZE: usize = 1000;
    let tmp = scratch();
    let cache = tmp.path().join("cache");
    let started = Instant::now();
    let (mut refused, mut sequential, mut iterations) = (0, 0, 0);
    for it in 0..ITERATIONS {
        if started.elapsed() > TIME_BOX {
            break;
        }
        iterations += 1;
        fill(&cache, 1, BLOBS, SIZE);
        // Alternate flag sets so both whole prunes and evictions race.
        let args: &[&str] = if it % 2 == 0 {
            &["cache"]
        } else {
            &["cache", "--max-size", "0"]
        };
        let a = prune_cmd(tmp.path(), args).spawn().unwrap();
        let b = prune_cmd(tmp.path(), args).spawn().unwrap();
        let (a, b) = (finish(a), finish(b));
        let freed = |p: &Pruned| p.json["total_bytes"].as_u64().unwrap();
        assert_eq!(
            freed(&a) + freed(&b),
            BLOBS * SIZE as u64,
            "iteration {it}: {} + {}\n{}\n{}",
            freed(&a),
            freed(&b),
            a.stderr,
            b.stderr
        );
        for p in [&a, &b] {
            match p.code {
                0 => {}
                1 => {
                    assert!(
                        p.stderr.contains("another prune holds the lock"),
                        "{}",
                        p.stderr
                    );
                    assert_eq!(freed(p), 0);
                    refused += 1;
                }
                c => panic!("exit {c}: {}", p.stderr),
            }
        }
        if a.code == 0 && b.code == 0 {
            sequential += 1;
        }
        assert!(names(&cache).is_empty(), "iteration {it}");
    }
    println!(
        "stress two-prunes: {iterations} races, {refused} refused by the lock, {sequential} ran one after the other, bytes double-counted 0"
    );
}

// ---------------------------------------------------------------------------
// SIGKILL at random points.

/// Builds an OCI layout: one manifest referencing a config and two layers,
/// plus `orphans` unreferenced blobs. Returns (referenced, orphans) names
/// under `blobs/sha256`.
fn layout(dir: &Path, orphans: u64) -> (BTreeSet<String>, BTreeSet<String>) {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let (config, l1, l2) = (hex(1), hex(2), hex(3));
    for (n, h) in [(1, &config), (2, &l1), (3, &l2)] {
        fs::write(blobs.join(h), content(n, 500)).unwrap();
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{config}","size":500}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:{l1}","size":500}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:{l2}","size":500}}]}}"#
    );
    let m = hex(4);
    fs::write(blobs.join(&m), &manifest).unwrap();
    fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{m}","size":{}}}]}}"#,
            manifest.len()
        ),
    )
    .unwrap();
    let orphans: BTreeSet<String> = (0..orphans)
        .map(|i| {
            let h = hex(0x1000 + i);
            fs::write(blobs.join(&h), content(i, 64)).unwrap();
            h
        })
        .collect();
    (BTreeSet::from([config, l1, l2, m]), orphans)
}

/// Every file below `dir` with its contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                todo.push(p);
            } else {
                let data = if m.is_file() {
                    fs::read(&p).unwrap()
                } else {
                    Vec::new()
                };
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), data);
            }
        }
    }
    out
}

/// Kills `make()`'s process after a random delay within `span`; returns
/// how long it waited.
fn kill_after(mut child: Child, seed: &mut u64, span: u64) -> Duration {
    let delay = Duration::from_micros(xorshift(seed) % span);
    std::thread::sleep(delay);
    let _ = child.kill();
    child.wait().unwrap();
    delay
}

/// How long one uninterrupted run takes, which sets the range of kill points.
fn kill_window(run: impl Fn() -> Command) -> u64 {
    let start = Instant::now();
    assert!(run().status().unwrap().success());
    start.elapsed().as_micros() as u64 * 6 / 5 + 1
}

/// `--orphans` removes blob by blob: a kill anywhere leaves `index.json`
/// and every referenced blob byte-identical, removes only orphans, and the
/// next run finishes the job.
#[test]
fn sigkill_during_an_orphan_prune_keeps_the_layout_valid() {
    const ORPHANS: u64 = 1500;
    const RUNS: usize = 30;
    let tmp = scratch();
    let dir = tmp.path().join("layout");
    let run = || {
        let mut c = prune_cmd(tmp.path(), &["--orphans", "layout"]);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    layout(&dir, ORPHANS);
    let span = kill_window(run);
    let mut seed = time_seed();
    let (mut intact, mut partial, mut done) = (0, 0, 0);
    let started = Instant::now();
    let mut runs = 0;
    for i in 0..RUNS {
        if started.elapsed() > TIME_BOX {
            break;
        }
        runs += 1;
        let _ = fs::remove_dir_all(&dir);
        let (referenced, orphans) = layout(&dir, ORPHANS);
        let before = snapshot(&dir);
        let delay = kill_after(run().spawn().unwrap(), &mut seed, span);
        let after = snapshot(&dir);
        for (p, data) in &after {
            assert_eq!(
                before.get(p),
                Some(data),
                "run {i}: {} changed",
                p.display()
            );
        }
        let left = names(&dir.join("blobs/sha256"));
        assert!(
            referenced.is_subset(&left),
            "run {i} ({delay:?}): a referenced blob went"
        );
        let orphans_left = left.difference(&referenced).count() as u64;
        assert!(left.difference(&referenced).all(|n| orphans.contains(n)));
        match orphans_left {
            ORPHANS => intact += 1,
            0 => done += 1,
            _ => partial += 1,
        }
        assert!(run().status().unwrap().success(), "run {i}: the next prune");
        assert_eq!(names(&dir.join("blobs/sha256")), referenced);
    }
    println!(
        "stress kill-orphans: {runs} kills ({intact} before any removal, {partial} mid-way, {done} after), layouts broken 0"
    );
    assert!(
        partial > 0,
        "no kill landed mid-prune; the test proved nothing"
    );
}

/// `--max-size` evicts least recently used first: a kill anywhere leaves the
/// most recently used blobs, never a hole in the order.
#[test]
fn sigkill_during_an_lru_eviction_keeps_the_newest_blobs() {
    const BLOBS: u64 = 1000;
    const RUNS: usize = 30;
    let tmp = scratch();
    let cache = tmp.path().join("cache");
    let now = SystemTime::now();
    let make = || {
        let _ = fs::remove_dir_all(&cache);
        fill(&cache, 1, BLOBS, 100);
        // Blob i last used i minutes ago: blob 1 is the newest.
        for i in 1..=BLOBS {
            let t = now - Duration::from_secs(60 * i);
            let f = fs::File::options()
                .write(true)
                .open(cache.join(blob_name(i)))
                .unwrap();
            f.set_times(fs::FileTimes::new().set_accessed(t).set_modified(t))
                .unwrap();
        }
    };
    // Keep 50 blobs of 100 bytes.
    let run = || {
        let mut c = prune_cmd(tmp.path(), &["--max-size", "5000B", "cache"]);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    make();
    let span = kill_window(run);
    assert_eq!(names(&cache).len(), 50);
    let mut seed = time_seed();
    let (mut partial, mut runs) = (0, 0);
    let started = Instant::now();
    for i in 0..RUNS {
        if started.elapsed() > TIME_BOX {
            break;
        }
        runs += 1;
        make();
        let delay = kill_after(run().spawn().unwrap(), &mut seed, span);
        let left = names(&cache);
        let k = left.len() as u64;
        let newest: BTreeSet<String> = (1..=k).map(blob_name).collect();
        assert_eq!(left, newest, "run {i} ({delay:?}): not the {k} newest");
        if k > 50 && k < BLOBS {
            partial += 1;
        }
    }
    println!("stress kill-lru: {runs} kills, {partial} mid-way, order broken 0");
    assert!(
        partial > 0,
        "no kill landed mid-eviction; the test proved nothing"
    );
}

// ---------------------------------------------------------------------------
// Symlink swaps (TOCTOU).

/// What lies outside the cache and must never be touched: a file, and a
/// directory of files named like the cache's blobs (a followed symlink to
/// it would delete them by name).
struct Canary {
    dir: PathBuf,
    before: BTreeMap<PathBuf, Vec<u8>>,
}

impl Canary {
    fn new(base: &Path, blob_names: &[String]) -> Canary {
        let dir = base.join("outside");
        fs::create_dir_all(dir.join("blobs")).unwrap();
        fs::write(dir.join("precious"), content(99, 10_000)).unwrap();
        for n in blob_names {
            fs::write(dir.join("blobs").join(n), b"canary").unwrap();
        }
        Canary {
            before: snapshot(&dir),
            dir,
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("precious")
    }

    fn blobs(&self) -> PathBuf {
        self.dir.join("blobs")
    }

    fn assert_intact(&self, when: &str) {
        assert_eq!(
            snapshot(&self.dir),
            self.before,
            "{when}: the canary was touched"
        );
    }
}

/// Replaces `path` atomically with a symlink to `target` (through a temp
/// name the cache accepts as temp), or back with a regular file.
fn swap_in_link(path: &Path, target: &Path, tmp_name: &Path) {
    let _ = fs::remove_file(tmp_name);
    if symlink(target, tmp_name).is_ok() {
        let _ = fs::rename(tmp_name, path);
    }
}

fn swap_in_file(path: &Path, tmp_name: &Path) {
    if fs::write(tmp_name, b"blob").is_ok() {
        let _ = fs::rename(tmp_name, path);
    }
}

/// A thread replaces blob files with symlinks to the canary file and to
/// the canary directory, and back, as fast as it can, while whole prunes
/// and LRU evictions run: the links are removed as links.
#[test]
fn blob_symlink_swaps_during_flat_prunes_never_touch_the_canary() {
    const ITERATIONS: usize = 50;
    let tmp = scratch();
    let cache = tmp.path().join("cache");
    let names_: Vec<String> = (1..=40).map(blob_name).collect();
    let canary = Canary::new(tmp.path(), &names_);
    let started = Instant::now();
    let swaps = AtomicU64::new(0);
    let mut iterations = 0;
    for it in 0..ITERATIONS {
        if started.elapsed() > TIME_BOX {
            break;
        }
        iterations += 1;
        let _ = fs::remove_dir_all(&cache);
        fill(&cache, 1, 40, 200);
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut k = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let name = &names_[k % names_.len()];
                    let path = cache.join(name);
                    let tmp_name = cache.join(format!("{name}.tmp"));
                    match k % 3 {
                        0 => swap_in_link(&path, &canary.file(), &tmp_name),
                        1 => swap_in_link(&path, &canary.blobs(), &tmp_name),
                        _ => swap_in_file(&path, &tmp_name),
                    }
                    k += 1;
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            });
            let args: &[&str] = match it % 3 {
                0 => &["cache"],
                1 => &["cache", "--max-size", "0"],
                _ => &["cache", "--older-than", "0s"],
            };
            let p = finish(prune_cmd(tmp.path(), args).spawn().unwrap());
            stop.store(true, Ordering::Relaxed);
            assert!(p.code == 0 || p.code == 1, "{}", p.stderr);
        });
        canary.assert_intact(&format!("iteration {it}"));
    }
    println!(
        "stress toctou-blobs: {iterations} prunes during {} symlink swaps, canary intact",
        swaps.load(Ordering::Relaxed)
    );
}

/// A thread exchanges an OCI layout's `blobs/sha256` directory with a
/// symlink to a directory of canaries named like its orphans (and orphan
/// files with symlinks to the canary file) while `--orphans` prunes run:
/// the canaries stay, and so does every referenced blob.
#[test]
fn directory_symlink_swaps_during_orphan_prunes_never_touch_the_canary() {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    const ITERATIONS: usize = 50;
    let tmp = scratch();
    let dir = tmp.path().join("layout");
    let (_, orphan_set) = layout(&dir, 30);
    let orphans: Vec<String> = orphan_set.into_iter().collect();
    let canary = Canary::new(tmp.path(), &orphans);
    let started = Instant::now();
    let swaps = AtomicU64::new(0);
    let mut iterations = 0;
    for it in 0..ITERATIONS {
        if started.elapsed() > TIME_BOX {
            break;
        }
        iterations += 1;
        let _ = fs::remove_dir_all(&dir);
        let (referenced, _) = layout(&dir, 30);
        let real = dir.join("blobs/sha256");
        let decoy = dir.join("blobs/decoy");
        symlink(canary.blobs(), &decoy).unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut k = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    // Twice: the directory is back in place between rounds.
                    for _ in 0..2 {
                        let _ = renameat_with(CWD, &real, CWD, &decoy, RenameFlags::EXCHANGE);
                    }
                    let name = &orphans[k % orphans.len()];
                    let tmp_name = real.join(format!("{name}.tmp"));
                    if k % 2 == 0 {
                        swap_in_link(&real.join(name), &canary.file(), &tmp_name);
                    } else {
                        swap_in_file(&real.join(name), &tmp_name);
                    }
                    k += 1;
                    swaps.fetch_add(3, Ordering::Relaxed);
                }
            });
            let p = finish(
                prune_cmd(tmp.path(), &["--orphans", "layout"])
                    .spawn()
                    .unwrap(),
            );
            stop.store(true, Ordering::Relaxed);
            assert!(p.code == 0 || p.code == 1, "{}", p.stderr);
        });
        canary.assert_intact(&format!("iteration {it}"));
        // The exchanger stopped with the real directory in place.
        assert!(fs::symlink_metadata(&real).unwrap().is_dir());
        let left = names(&real);
        assert!(
            referenced.is_subset(&left),
            "iteration {it}: a referenced blob went"
        );
    }
    println!(
        "stress toctou-dirs: {iterations} orphan prunes during {} directory and blob swaps, canary intact",
        swaps.load(Ordering::Relaxed)
    );
}

/// The cache root itself exchanged with a symlink to a directory that is
/// not a cache (a file that is no blob in it) while prunes run: whichever
/// the prune opens, the canary directory is never emptied.
#[test]
fn cache_root_symlink_swaps_never_empty_the_canary() {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    const ITERATIONS: usize = 50;
    let tmp = scratch();
    let cache = tmp.path().join("cache");
    let decoy = tmp.path().join("decoy");
    let names_: Vec<String> = (1..=20).map(blob_name).collect();
    // Blob-named files plus one that is not: `unknown`, never pruned.
    let mut canary = Canary::new(tmp.path(), &names_);
    fs::write(canary.blobs().join("notes.txt"), b"not a blob").unwrap();
    canary.before = snapshot(&canary.dir);
    symlink(canary.blobs(), &decoy).unwrap();
    let started = Instant::now();
    let swaps = AtomicU64::new(0);
    let (mut pruned, mut left_alone, mut iterations) = (0, 0, 0);
    for it in 0..ITERATIONS {
        if started.elapsed() > TIME_BOX {
            break;
        }
        iterations += 1;
        if !fs::symlink_metadata(&cache).is_ok_and(|m| m.is_dir()) {
            let _ = renameat_with(CWD, &cache, CWD, &decoy, RenameFlags::EXCHANGE);
        }
        fill(&cache, 1, 20, 100);
        let stop = AtomicBool::new(false);
        let p = std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let _ = renameat_with(CWD, &cache, CWD, &decoy, RenameFlags::EXCHANGE);
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            });
            let p = finish(prune_cmd(tmp.path(), &["cache"]).spawn().unwrap());
            stop.store(true, Ordering::Relaxed);
            p
        });
        assert!(p.code == 0 || p.code == 1, "iteration {it}: {}", p.stderr);
        if p.json["total_bytes"].as_u64().unwrap() > 0 {
            pruned += 1;
        } else {
            left_alone += 1;
        }
        canary.assert_intact(&format!("iteration {it}"));
    }
    println!(
        "stress toctou-root: {iterations} prunes during {} root swaps ({pruned} pruned the cache, {left_alone} left it alone), canary intact",
        swaps.load(Ordering::Relaxed)
    );
}
