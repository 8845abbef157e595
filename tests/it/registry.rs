//! `caches` and `prune caches` on a real registry: Debian's `docker-registry`
//! (distribution 2.8) on loopback, filled by skopeo from an OCI layout umoci
//! builds, checked against `du -sb`, the files on disk, and distribution's own
//! `garbage-collect` (dry run and real).
//!
//! The registry holds: images sharing a base layer in two repositories, a
//! tag deleted through the API, a tag overwritten (its old manifest is
//! untagged), a tagged OCI index whose children are only in it, and an
//! abandoned upload.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

const NEEDS: &str = "needs docker-registry and skopeo";

fn cmd(cwd: &Path) -> Command {
    let mut c = Command::new(cargo_bin("podman-storage"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd.join("no-home"))
        .env("LC_ALL", "C")
        .env("NO_COLOR", "1")
        .current_dir(cwd)
        .stdin(Stdio::null());
    c
}

fn ok(c: &mut Command) -> String {
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("{c:?}: {e} (is it installed? {NEEDS})"));
    assert!(
        out.status.success(),
        "{c:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn tool(name: &str, args: &[&str]) -> String {
    ok(Command::new(name).args(args))
}

fn json(c: &mut Command) -> (Value, i32, String) {
    let out = c.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (v, out.status.code().unwrap(), stderr)
}

/// A running `docker-registry serve`, killed when dropped.
struct Registry {
    tmp: tempfile::TempDir,
    config: PathBuf,
    root: PathBuf,
    addr: String,
    child: Option<Child>,
}

impl Registry {
    fn start() -> Registry {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let config = tmp.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
                 delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
                root.display()
            ),
        )
        .unwrap();
        let mut r = Registry {
            tmp,
            config,
            root,
            addr,
            child: None,
        };
        r.serve();
        r
    }

    fn serve(&mut self) {
        let log = fs::File::create(self.tmp.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&self.config)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("docker-registry: {e} ({NEEDS})"));
        self.child = Some(child);
        let t0 = Instant::now();
        while TcpStream::connect(&self.addr).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "registry never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn push(&self, from: &str, to: &str, all: bool) {
        let dest = format!("docker://{}/{to}", self.addr);
        let mut args = vec!["copy", "-q", "--dest-tls-verify=false"];
        if all {
            args.push("--all");
        }
        args.extend([from, dest.as_str()]);
        tool("skopeo", &args);
    }

    fn pull_all(&self, name: &str, into: &Path) {
        let src = format!("docker://{}/{name}", self.addr);
        let dest = format!("oci:{}:x", into.display());
        tool(
            "skopeo",
            &["copy", "-q", "--all", "--src-tls-verify=false", &src, &dest],
        );
    }

    /// `garbage-collect [--dry-run] [--delete-untagged]` on this registry's config.
    fn gc(&self, config: &Path, dry_run: bool, untagged: bool) -> Gc {
        let mut c = Command::new("docker-registry");
        c.arg("garbage-collect");
        if dry_run {
            c.arg("--dry-run");
        }
        if untagged {
            c.arg("--delete-untagged");
        }
        Gc::parse(&ok(c.arg(config)))
    }

    fn v2(&self) -> PathBuf {
        self.root.join("docker/registry/v2")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What `garbage-collect --dry-run` printed.
#[derive(Debug, Default)]
struct Gc {
    marked: BTreeSet<String>,
    marked_count: u64,
    blobs: BTreeSet<String>,
    blob_count: u64,
    manifests: BTreeSet<String>,
    manifest_count: u64,
}

impl Gc {
    fn parse(out: &str) -> Gc {
        let mut g = Gc::default();
        for line in out.lines() {
            let line = line.trim();
            if let Some((_, d)) = line.split_once(": marking manifest ") {
                g.marked.insert(d.trim().to_string());
            } else if let Some((_, d)) = line.split_once(": marking blob ") {
                g.marked.insert(d.trim().to_string());
            } else if let Some(d) = line.strip_prefix("blob eligible for deletion: ") {
                g.blobs.insert(d.to_string());
            } else if let Some(d) = line.strip_prefix("manifest eligible for deletion: ") {
                g.manifests.insert(d.to_string());
            } else if line.contains("blobs marked,") {
                let n: Vec<u64> = line
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                (g.marked_count, g.blob_count, g.manifest_count) = (n[0], n[1], n[2]);
            }
        }
        g
    }
}

fn sha256(path: &Path) -> String {
    let out = tool("sha256sum", &[path.to_str().unwrap()]);
    out.split_whitespace().next().unwrap().to_string()
}

/// Deterministic, incompressible-enough content.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An OCI layout built with umoci: `base` plus one layer per tag, and a
/// `multi` index over `f` (amd64) and `g` (arm64).
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn build(dir: &Path) -> Layout {
        let lay = dir.join("lay");
        let l = lay.to_str().unwrap();
        tool("umoci", &["init", "--layout", l]);
        tool("umoci", &["new", "--image", &format!("{l}:base")]);
        let files = dir.join("files");
        fs::create_dir_all(&files).unwrap();
        let base = files.join("base");
        fs::write(&base, content(1, 40_000)).unwrap();
        tool(
            "umoci",
            &[
                "insert",
                "--image",
                &format!("{l}:base"),
                base.to_str().unwrap(),
                "/base",
            ],
        );
        for (i, t) in ["a", "b", "c", "d", "e", "f", "g"].iter().enumerate() {
            let f = files.join(t);
            fs::write(&f, content(10 + i as u64, 20_000 + 1000 * i)).unwrap();
            tool(
                "umoci",
                &[
                    "insert",
                    "--image",
                    &format!("{l}:base"),
                    "--tag",
                    t,
                    f.to_str().unwrap(),
                    &format!("/{t}"),
                ],
            );
        }
        let layout = Layout { dir: lay };
        layout.add_index("multi", &[("f", "amd64"), ("g", "arm64")]);
        layout
    }

    fn index(&self) -> Value {
        serde_json::from_slice(&fs::read(self.dir.join("index.json")).unwrap()).unwrap()
    }

    fn descriptor(&self, tag: &str) -> Value {
        self.index()["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap_or_else(|| panic!("no tag {tag}"))
            .clone()
    }

    fn blob(&self, digest: &str) -> Value {
        let hex = digest.strip_prefix("sha256:").unwrap();
        serde_json::from_slice(&fs::read(self.dir.join("blobs/sha256").join(hex)).unwrap()).unwrap()
    }

    /// The manifest digest of a tag.
    fn manifest(&self, tag: &str) -> String {
        self.descriptor(tag)["digest"].as_str().unwrap().to_string()
    }

    /// Config and layer digests of a tag's manifest.
    fn references(&self, tag: &str) -> BTreeSet<String> {
        let m = self.blob(&self.manifest(tag));
        std::iter::once(&m["config"])
            .chain(m["layers"].as_array().unwrap())
            .map(|d| d["digest"].as_str().unwrap().to_string())
            .collect()
    }

    fn add_index(&self, tag: &str, children: &[(&str, &str)]) {
        let manifests: Vec<Value> = children
            .iter()
            .map(|(t, arch)| {
                let mut d = self.descriptor(t);
                d.as_object_mut().unwrap().remove("annotations");
                d["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
                d
            })
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        }))
        .unwrap();
        let tmp = self.dir.join("index-blob");
        fs::write(&tmp, &body).unwrap();
        let hex = sha256(&tmp);
        fs::rename(&tmp, self.dir.join("blobs/sha256").join(&hex)).unwrap();
        let mut index = self.index();
        index["manifests"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": format!("sha256:{hex}"),
                "size": body.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }));
        fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }

    fn src(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }
}

/// The registry of the module docs, and the layout it was filled from.
fn fill(reg: &Registry) -> Layout {
    let layout = Layout::build(reg.tmp.path());
    reg.push(&layout.src("a"), "app:a", false);
    reg.push(&layout.src("b"), "app:b", false);
    reg.push(&layout.src("a"), "other:a", false);
    reg.push(&layout.src("c"), "app:tmp", false);
    // Overwrites the tag: c's manifest stays, untagged.
    reg.push(&layout.src("d"), "app:tmp", false);
    reg.push(&layout.src("e"), "gone:e", false);
    tool(
        "skopeo",
        &[
            "delete",
            "--tls-verify=false",
            &format!("docker://{}/gone:e", reg.addr),
        ],
    );
    reg.push(&layout.src("multi"), "multi:latest", true);
    // An upload started and never finished.
    let head = tool(
        "curl",
        &[
            "-sS",
            "-i",
            "-X",
            "POST",
            &format!("http://{}/v2/app/blobs/uploads/", reg.addr),
        ],
    );
    let location = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("Location: ")
                .or_else(|| l.strip_prefix("location: "))
        })
        .expect("upload location")
        .trim()
        .to_string();
    let chunk = reg.tmp.path().join("chunk");
    fs::write(&chunk, content(99, 7777)).unwrap();
    tool(
        "curl",
        &[
            "-sS",
            "-f",
            "-X",
            "PATCH",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", chunk.display()),
            &location,
        ],
    );
    layout
}

fn file_sizes(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let out = tool(
        "find",
        &[
            dir.to_str().unwrap(),
            "!",
            "-type",
            "d",
            "-printf",
            "%P\\t%s\\n",
        ],
    );
    out.lines()
        .map(|l| {
            let (p, s) = l.split_once('\t').unwrap();
            (PathBuf::from(p), s.parse().unwrap())
        })
        .collect()
}

fn du_sb(dir: &Path) -> u64 {
    tool("du", &["-sb", dir.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn dir_sizes(dir: &Path) -> u64 {
    tool(
        "find",
        &[dir.to_str().unwrap(), "-type", "d", "-printf", "%s\\n"],
    )
    .lines()
    .map(|l| l.parse::<u64>().unwrap())
    .sum()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn blob_size(reg: &Registry, digest: &str) -> u64 {
    let hex = digest.strip_prefix("sha256:").unwrap();
    fs::metadata(
        reg.v2()
            .join("blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data"),
    )
    .unwrap()
    .len()
}

/// Digests in the `link` files below `dir`.
fn links(dir: &Path) -> BTreeSet<String> {
    file_sizes(dir)
        .keys()
        .filter(|p| p.file_name().is_some_and(|n| n == "link"))
        .map(|p| fs::read_to_string(dir.join(p)).unwrap())
        .collect()
}

#[test]
#[ignore = "needs docker-registry and skopeo"]
fn sizes_and_orphans_match_du_and_garbage_collect() {
    let reg = Registry::start();
    let layout = fill(&reg);
    let (v, code, stderr) = json(cmd(reg.tmp.path()).args(["caches", "--format", "json", "root"]));
    assert_eq!(code, 0, "{stderr}");
    let c = &v["caches"][0];
    assert_eq!(c["kind"], "registry");
    let v2 = reg.v2();

    // Sizes: the whole tree as `du -sb`; blobs as the data files on disk,
    // each once.
    let root = reg.root.as_path();
    assert_eq!(c["bytes"], du_sb(root));
    let data: BTreeMap<PathBuf, u64> = file_sizes(&v2.join("blobs"))
        .into_iter()
        .filter(|(p, _)| p.ends_with("data"))
        .collect();
    assert_eq!(c["blobs"], data.len() as u64);
    assert_eq!(c["blob_bytes"], data.values().sum::<u64>());
    assert_eq!(
        c["blob_bytes"],
        du_sb(&v2.join("blobs")) - dir_sizes(&v2.join("blobs"))
    );

    // Per repository, against the link files on disk.
    let r = &c["registry"];
    let repo = |name: &str| {
        r["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("no repository {name}: {r}"))
            .clone()
    };
    let linked = |name: &str| -> BTreeSet<String> {
        let dir = v2.join("repositories").join(name);
        let mut s = links(&dir.join("_layers"));
        s.extend(links(&dir.join("_manifests/revisions")));
        s.into_iter()
            .filter(|d| {
                let hex = d.strip_prefix("sha256:").unwrap();
                v2.join("blobs/sha256").join(&hex[..2]).join(hex).exists()
            })
            .collect()
    };
    let (app, other) = (linked("app"), linked("other"));
    assert!(other.is_subset(&app), "other's blobs are all app's too");
    let other_r = repo("other");
    assert_eq!(other_r["unique"]["blobs"], 0);
    assert_eq!(other_r["shared"]["blobs"], other.len() as u64);
    assert_eq!(
        other_r["shared"]["bytes"],
        other.iter().map(|d| blob_size(&reg, d)).sum::<u64>()
    );
    let app_r = repo("app");
    let everyone_else: BTreeSet<String> = ["gone", "multi", "other"]
        .iter()
        .flat_map(|n| linked(n))
        .collect();
    let app_unique: BTreeSet<&String> = app.difference(&everyone_else).collect();
    assert_eq!(app_r["unique"]["blobs"], app_unique.len() as u64);
    assert_eq!(
        app_r["unique"]["bytes"],
        app_unique.iter().map(|d| blob_size(&reg, d)).sum::<u64>()
    );
    // a, b and tmp (d); c's manifest is still a revision.
    assert_eq!(
        (app_r["tags"].as_u64(), app_r["manifests"].as_u64()),
        (Some(3), Some(4))
    );
    assert_eq!(
        (
            repo("multi")["tags"].as_u64(),
            repo("multi")["manifests"].as_u64()
        ),
        (Some(1), Some(3))
    );
    assert_eq!(
        (
            repo("gone")["tags"].as_u64(),
            repo("gone")["manifests"].as_u64()
        ),
        (Some(0), Some(0))
    );

    // The abandoned upload, sized as on disk.
    let uploads = r["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 1, "{r}");
    // Paths are shown as given: relative to the working directory here.
    let up = reg.tmp.path().join(uploads[0]["path"].as_str().unwrap());
    assert!(
        up.starts_with(v2.join("repositories/app/_uploads")),
        "{up:?}"
    );
    assert_eq!(uploads[0]["bytes"], du_sb(&up) - dir_sizes(&up));
    assert!(uploads[0]["bytes"].as_u64().unwrap() >= 7777);
    assert_eq!(c["temp_bytes"], uploads[0]["bytes"]);

    // garbage-collect, default: the same marks, the same eligible blobs.
    let gc = reg.gc(&reg.config, true, false);
    let ours = &r["gc"];
    assert!(!gc.blobs.is_empty() && gc.manifests.is_empty());
    assert_eq!(ours["marked"], gc.marked_count);
    assert_eq!(gc.marked.len() as u64, gc.marked_count);
    assert_eq!(strings(&ours["blobs"]), gc.blobs);
    assert_eq!(
        ours["blobs"].as_array().unwrap().len() as u64,
        gc.blob_count
    );
    assert_eq!(ours["manifests"].as_array().unwrap().len(), 0);
    assert_eq!(
        ours["blob_bytes"],
        gc.blobs.iter().map(|d| blob_size(&reg, d)).sum::<u64>()
    );
    assert_eq!(c["orphans"]["bytes"], ours["blob_bytes"]);
    // e's own layer and config were orphaned by the deleted tag.
    let e_only: BTreeSet<String> = layout
        .references("e")
        .difference(&layout.references("a"))
        .cloned()
        .collect();
    assert!(e_only.is_subset(&gc.blobs), "{e_only:?} / {:?}", gc.blobs);

    // --delete-untagged: distribution 2.8 also deletes the untagged children
    // of the tagged index (f, g) and what only they reference; we keep them.
    let gc = reg.gc(&reg.config, true, true);
    let ours = &r["gc_untagged"];
    let ours_manifests: BTreeSet<String> = ours["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ours_manifests, BTreeSet::from([layout.manifest("c")]));
    let children = BTreeSet::from([layout.manifest("f"), layout.manifest("g")]);
    assert_eq!(
        gc.manifests,
        ours_manifests.union(&children).cloned().collect()
    );
    assert_eq!(gc.manifest_count, 3);
    let children_only: BTreeSet<String> = layout
        .references("f")
        .union(&layout.references("g"))
        .filter(|d| !layout.references("a").contains(*d))
        .cloned()
        .collect();
    assert_eq!(children_only.len(), 4, "config and own layer of f and g");
    assert_eq!(
        gc.blobs,
        strings(&ours["blobs"])
            .union(&children_only)
            .cloned()
            .collect()
    );
    assert!(strings(&ours["blobs"]).contains(&layout.manifest("c")));
}

/// The relative paths and sizes of every file below `dir`.
fn tree(dir: &Path) -> BTreeMap<PathBuf, u64> {
    file_sizes(dir)
}

fn copy_tree(from: &Path, to: &Path) {
    tool("cp", &["-a", from.to_str().unwrap(), to.to_str().unwrap()]);
}

#[test]
#[ignore = "needs docker-registry and skopeo"]
fn prune_removes_what_garbage_collect_removes_and_keeps_images_pullable() {
    let mut reg = Registry::start();
    let layout = fill(&reg);
    let dir = reg.tmp.path().to_path_buf();
    let prune = |args: &[&str]| {
        let mut c = cmd(&dir);
        c.args(["prune", "caches", "--format", "json", "-f"])
            .args(args)
            .arg("root");
        json(&mut c)
    };

    // Running: refused, nothing touched.
    let before = tree(&reg.root);
    let (v, code, stderr) = prune(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(v["caches"][0]["action"], "skip");
    assert!(v["caches"][0]["note"]
        .as_str()
        .unwrap()
        .contains("--registry-offline"));
    assert_eq!(tree(&reg.root), before);

    reg.stop();
    // distribution's own garbage-collect on a copy is the reference.
    let copy = dir.join("copy");
    fs::create_dir(&copy).unwrap();
    copy_tree(&reg.root, &copy);
    let copy_config = dir.join("copy.yml");
    let config = fs::read_to_string(&reg.config).unwrap().replace(
        reg.root.to_str().unwrap(),
        copy.join("root").to_str().unwrap(),
    );
    fs::File::create(&copy_config)
        .unwrap()
        .write_all(config.as_bytes())
        .unwrap();
    reg.gc(&copy_config, false, false);

    let (dry, code, stderr) = prune(&["--dry-run", "--registry-offline"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(tree(&reg.root), before, "a dry run removes nothing");
    let (real, code, stderr) = prune(&["--registry-offline"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(real["caches"][0]["action"], "registry");
    let after = tree(&reg.root);
    assert_eq!(
        after,
        tree(&copy.join("root")),
        "same files as garbage-collect left"
    );
    let freed: u64 = before
        .iter()
        .filter(|(p, _)| !after.contains_key(*p))
        .map(|(_, s)| s)
        .sum();
    assert!(freed > 0);
    assert_eq!(real["total_bytes"], freed);
    assert_eq!(dry["total_bytes"], freed);
    assert_eq!(
        dry["caches"][0]["removed_files"],
        real["caches"][0]["removed_files"]
    );
    // The upload is untouched without --older-than.
    assert!(after
        .keys()
        .any(|p| p.starts_with("docker/registry/v2/repositories/app/_uploads")));

    // --delete-untagged: c's manifest goes, the index's children stay.
    let (v, code, stderr) = prune(&["--registry-offline", "--delete-untagged"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(v["total_bytes"].as_u64().unwrap() > 0);
    let rev = |repo: &str, d: &str| {
        reg.v2()
            .join("repositories")
            .join(repo)
            .join("_manifests/revisions/sha256")
            .join(d.strip_prefix("sha256:").unwrap())
    };
    assert!(!rev("app", &layout.manifest("c")).exists());
    assert!(rev("multi", &layout.manifest("f")).exists());
    // Nothing is left for garbage-collect to do.
    let gc = reg.gc(&reg.config, true, false);
    assert_eq!((gc.blob_count, gc.manifest_count), (0, 0), "{gc:?}");

    // Uploads older than 0s go; blobs stay.
    let blobs_before = tree(&reg.v2().join("blobs"));
    let (v, code, stderr) = prune(&["--older-than", "0s"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(v["total_bytes"].as_u64().unwrap() >= 7777);
    assert_eq!(tree(&reg.v2().join("blobs")), blobs_before);
    assert!(fs::read_dir(reg.v2().join("repositories/app/_uploads"))
        .unwrap()
        .next()
        .is_none());

    // Every tag still pulls, every blob of it present.
    reg.serve();
    for (i, name) in ["app:a", "app:b", "app:tmp", "other:a", "multi:latest"]
        .iter()
        .enumerate()
    {
        reg.pull_all(name, &dir.join(format!("pulled{i}")));
    }
}

// ------------------------------------------------------------------------
// Safety on synthetic registries (no server): digests here are well-formed
// but fake; the tool never hashes blob contents.

fn fake(n: u64) -> String {
    format!("sha256:{n:064x}")
}

fn put_blob(v2: &Path, digest: &str, body: &[u8]) {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let d = v2.join("blobs/sha256").join(&hex[..2]).join(hex);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("data"), body).unwrap();
}

fn put_link(dir: &Path, digest: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("link"), digest).unwrap();
}

/// One repository `app` with one tagged manifest (config 1, layer 2) and
/// one orphan blob (3).
fn synthetic(root: &Path) -> PathBuf {
    let v2 = root.join("docker/registry/v2");
    let (cfg, layer, orphan) = (fake(1), fake(2), fake(3));
    put_blob(&v2, &cfg, b"{}");
    put_blob(&v2, &layer, &[7; 1000]);
    put_blob(&v2, &orphan, &[9; 500]);
    let man = format!(
        r#"{{"schemaVersion":2,"config":{{"digest":"{cfg}"}},"layers":[{{"digest":"{layer}"}}]}}"#
    );
    let man_digest = fake(4);
    put_blob(&v2, &man_digest, man.as_bytes());
    let repo = v2.join("repositories/app");
    for d in [&cfg, &layer] {
        put_link(&repo.join("_layers/sha256").join(&d[7..]), d);
    }
    put_link(
        &repo
            .join("_manifests/revisions/sha256")
            .join(&man_digest[7..]),
        &man_digest,
    );
    put_link(&repo.join("_manifests/tags/v1/current"), &man_digest);
    v2
}

fn blob_data(v2: &Path, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").unwrap();
    v2.join("blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

#[test]
fn synthetic_registry_orphan_is_collected_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let v2 = synthetic(&tmp.path().join("reg"));
    let mut c = cmd(tmp.path());
    c.args([
        "prune",
        "caches",
        "-f",
        "--format",
        "json",
        "--registry-offline",
        "reg",
    ]);
    let (v, code, stderr) = json(&mut c);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(v["caches"][0]["freed_bytes"], 500);
    assert!(!blob_data(&v2, &fake(3)).exists());
    for n in [1, 2, 4] {
        assert!(blob_data(&v2, &fake(n)).exists(), "blob {n} removed");
    }
}

#[test]
fn a_bad_link_makes_marks_unknown_and_nothing_is_collected() {
    let tmp = tempfile::tempdir().unwrap();
    let v2 = synthetic(&tmp.path().join("reg"));
    put_link(
        &v2.join("repositories/app/_manifests/revisions/sha256/evil"),
        "sha256:../../../../etc",
    );
    let (v, code, _) = json(cmd(tmp.path()).args(["caches", "--format", "json", "reg"]));
    assert_eq!(code, 1);
    assert!(v["caches"][0]["orphans"].is_null());
    assert!(v["caches"][0]["registry"]["gc"].is_null());
    let mut c = cmd(tmp.path());
    c.args([
        "prune",
        "caches",
        "-f",
        "--format",
        "json",
        "--registry-offline",
        "reg",
    ]);
    let (v, code, _) = json(&mut c);
    assert_eq!(code, 1);
    let err = v["warnings"][0].as_str().unwrap();
    assert!(
        err.contains("evil/link") && err.contains("nothing collected"),
        "{err}"
    );
    assert!(blob_data(&v2, &fake(3)).exists());
}

#[test]
fn a_symlinked_blob_directory_is_never_followed() {
    // distribution's driver would follow it, so what is behind it (a
    // manifest, say) is unknown here: nothing is collected.
    let tmp = tempfile::tempdir().unwrap();
    let v2 = synthetic(&tmp.path().join("reg"));
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("data"), b"precious").unwrap();
    let hex = &fake(5)[7..];
    fs::create_dir_all(v2.join("blobs/sha256").join(&hex[..2])).unwrap();
    std::os::unix::fs::symlink(&outside, v2.join("blobs/sha256").join(&hex[..2]).join(hex))
        .unwrap();
    let mut c = cmd(tmp.path());
    c.args([
        "prune",
        "caches",
        "-f",
        "--format",
        "json",
        "--registry-offline",
        "reg",
    ]);
    let (v, code, _) = json(&mut c);
    assert_eq!(code, 1);
    let w = v["warnings"][0].as_str().unwrap();
    assert!(
        w.contains("a symlink, not followed") && w.contains("nothing collected"),
        "{w}"
    );
    assert_eq!(fs::read(outside.join("data")).unwrap(), b"precious");
    assert!(blob_data(&v2, &fake(3)).exists());
}

#[test]
fn a_registry_is_recognised_by_contents_not_name() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("registry/docker/registry")).unwrap();
    let (v, _, _) = json(cmd(tmp.path()).args(["caches", "--format", "json", "registry"]));
    assert_eq!(v["caches"][0]["kind"], "unknown");
    synthetic(&tmp.path().join("plain"));
    let (v, _, _) = json(cmd(tmp.path()).args(["caches", "--format", "json", "plain"]));
    assert_eq!(v["caches"][0]["kind"], "registry");
}

#[test]
fn prune_holds_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let v2 = synthetic(&tmp.path().join("reg"));
    let real = fs::canonicalize(tmp.path().join("reg")).unwrap();
    let held = podman_storage::caches::lock::PruneLock::acquire(&real).unwrap();
    let mut c = cmd(tmp.path());
    c.args([
        "prune",
        "caches",
        "-f",
        "--format",
        "json",
        "--registry-offline",
        "reg",
    ]);
    let (v, code, _) = json(&mut c);
    assert_eq!(code, 1);
    assert!(v["warnings"][0]
        .as_str()
        .unwrap()
        .contains("another prune holds the lock"));
    assert!(blob_data(&v2, &fake(3)).exists());
    drop(held);
}

#[test]
fn no_repositories_directory_means_nothing_is_collected() {
    // distribution's garbage-collect stops here too ("Path not found").
    let tmp = tempfile::tempdir().unwrap();
    let v2 = synthetic(&tmp.path().join("reg"));
    fs::remove_dir_all(v2.join("repositories")).unwrap();
    let mut c = cmd(tmp.path());
    c.args([
        "prune",
        "caches",
        "-f",
        "--format",
        "json",
        "--registry-offline",
        "reg",
    ]);
    let (v, code, _) = json(&mut c);
    assert_eq!(code, 1);
    assert!(v["warnings"][0]
        .as_str()
        .unwrap()
        .contains("no repositories directory"));
    for n in [1, 2, 3, 4] {
        assert!(blob_data(&v2, &fake(n)).exists(), "blob {n} removed");
    }
}

/// Directories below `dir`, relative.
fn dirs(dir: &Path) -> BTreeSet<PathBuf> {
    tool(
        "find",
        &[
            dir.to_str().unwrap(),
            "-mindepth",
            "1",
            "-type",
            "d",
            "-printf",
            "%P\\n",
        ],
    )
    .lines()
    .map(PathBuf::from)
    .collect()
}

fn config_for(root: &Path, at: &Path) -> PathBuf {
    fs::write(
        at,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n",
            root.display()
        ),
    )
    .unwrap();
    at.to_path_buf()
}

#[test]
#[ignore = "needs docker-registry and skopeo"]
fn random_registries_are_pruned_exactly_as_garbage_collect_prunes_them() {
    // Random valid registries (tests/scenarios/registry-gen.py): after a real
    // `garbage-collect` on a copy and our prune on the original, both trees
    // hold the same files and directories.
    let cases: u64 = std::env::var("REGISTRY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/registry-gen.py");
    let (mut compared, mut untagged_compared) = (0, 0);
    for seed in 0..cases {
        for untagged in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("root");
            let made: Value = serde_json::from_str(&tool(
                "python3",
                &[
                    gen.to_str().unwrap(),
                    &seed.to_string(),
                    root.to_str().unwrap(),
                ],
            ))
            .unwrap();
            // distribution 2.8 deletes the untagged children of a tagged
            // index under --delete-untagged; we keep them (see README).
            if untagged && made["indexes"].as_u64() != Some(0) {
                continue;
            }
            let copy = tmp.path().join("copy");
            fs::create_dir(&copy).unwrap();
            copy_tree(&root, &copy);
            let config = config_for(&copy.join("root"), &tmp.path().join("copy.yml"));
            let mut gc = Command::new("docker-registry");
            gc.arg("garbage-collect");
            if untagged {
                gc.arg("--delete-untagged");
            }
            let out = gc.arg(&config).output().unwrap();
            if !out.status.success() {
                // 2.8 fails on a repository with no tag at all under
                // --delete-untagged ("failed to retrieve tags").
                let text = String::from_utf8_lossy(&out.stdout).to_string()
                    + &String::from_utf8_lossy(&out.stderr);
                assert!(
                    untagged && text.contains("failed to retrieve tags"),
                    "seed {seed}: {text}"
                );
                continue;
            }
            let report = podman_storage::caches::prune(
                &root,
                &podman_storage::caches::PruneOptions {
                    dry_run: false,
                    orphans: false,
                    older_than: None,
                    max_size: None,
                    registry_offline: true,
                    delete_untagged: untagged,
                    now: std::time::SystemTime::now(),
                },
            );
            assert!(report.errors.is_empty(), "seed {seed}: {:?}", report.errors);
            let (ours, theirs) = (tree(&root), tree(&copy.join("root")));
            let only_ours: Vec<_> = ours
                .iter()
                .filter(|(p, _)| !theirs.contains_key(*p))
                .collect();
            let only_theirs: Vec<_> = theirs
                .iter()
                .filter(|(p, _)| !ours.contains_key(*p))
                .collect();
            assert!(
                ours == theirs,
                "seed {seed} untagged {untagged} ({made}): kept only by us {only_ours:?}, only by garbage-collect {only_theirs:?}"
            );
            assert_eq!(
                dirs(&root),
                dirs(&copy.join("root")),
                "seed {seed} untagged {untagged}"
            );
            compared += 1;
            untagged_compared += usize::from(untagged);
        }
    }
    assert!(compared as u64 >= cases, "{compared} comparisons");
    assert!(untagged_compared > 0);
}

#[test]
fn df_and_overview_count_a_configured_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = tmp.path().join("reg");
    synthetic(&reg);
    let config = tmp.path().join("config.toml");
    fs::write(
        &config,
        format!("[caches]\npaths = [{:?}]\n", reg.display().to_string()),
    )
    .unwrap();
    let on_disk = du_sb(&reg);
    let replay = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/podman-4.3.1/empty");
    let view = |args: &[&str]| {
        let mut c = cmd(tmp.path());
        c.env("PODMAN_STORAGE_CONFIG", &config)
            .arg("--replay")
            .arg(&replay)
            .args(["--format", "json"])
            .args(args);
        let (v, code, stderr) = json(&mut c);
        assert_eq!(code, 0, "{stderr}");
        v
    };
    let df = view(&["df"]);
    let caches = df["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "caches")
        .unwrap()
        .clone();
    assert_eq!(caches["bytes"], on_disk);
    // The orphan blob (500 bytes) is what --registry-offline frees.
    assert_eq!(caches["reclaimable_bytes"], 500);
    let overview = view(&[]);
    let global = overview["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "global")
        .unwrap()
        .clone();
    assert_eq!(global["caches_bytes"], on_disk);
}
