//! The `--format json` schema of every view, snapshotted: each key path with
//! the JSON types seen there, derived by walking the binary's real output
//! (replayed podman recordings, real directories). A renamed, dropped or
//! retyped field changes a snapshot; `src/report/json/` is where the schema
//! is defined and documented.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Key path (`.rows[].total_bytes`) to the JSON types seen there.
type Schema = BTreeMap<String, BTreeSet<&'static str>>;

/// Objects whose keys are data (label names), not schema.
const MAPS: &[&str] = &["labels"];

fn walk(v: &Value, at: &str, out: &mut Schema) {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    out.entry(at.to_string()).or_default().insert(kind);
    match v {
        Value::Array(items) => {
            for x in items {
                walk(x, &format!("{at}[]"), out);
            }
        }
        Value::Object(m) if MAPS.iter().any(|k| at.ends_with(&format!(".{k}"))) => {
            for x in m.values() {
                walk(x, &format!("{at}.*"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                walk(x, &format!("{at}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// One line per key path; an array never seen non-empty shows as `array`
/// with no element lines, so the fixtures below fill every array.
fn render(values: &[Value]) -> String {
    let mut schema = Schema::new();
    for v in values {
        walk(v, "", &mut schema);
    }
    schema
        .iter()
        .map(|(path, kinds)| {
            let kinds: Vec<&str> = kinds.iter().copied().collect();
            format!(
                "{}: {}\n",
                if path.is_empty() { "." } else { path },
                kinds.join(" | ")
            )
        })
        .collect()
}

fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_podman-storage"));
    c.env_clear()
        .env("PATH", "/nonexistent")
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    c
}

fn json(c: &mut Command) -> Value {
    let out = c.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "exit {:?}; stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs = Vec::new();
    for version in fs::read_dir(&root).unwrap().filter_map(|e| e.ok()) {
        if !version.path().is_dir() {
            continue;
        }
        for s in fs::read_dir(version.path()).unwrap().filter_map(|e| e.ok()) {
            if s.path().is_dir() {
                dirs.push(s.path());
            }
        }
    }
    dirs.sort();
    assert!(dirs.len() >= 4, "recorded scenarios: {dirs:?}");
    dirs
}

/// A view replayed over every recorded scenario, through the store reader
/// and through podman's CLI.
fn replayed(args: &[&str]) -> Vec<Value> {
    let home = tempfile::tempdir().unwrap();
    let mut values = Vec::new();
    for dir in scenarios() {
        for cli_only in [false, true] {
            let mut c = binary();
            c.env("HOME", home.path()).arg("--replay").arg(&dir);
            if cli_only {
                c.arg("--cli-only");
            }
            values.push(json(c.args(["--format", "json"]).args(args)));
        }
    }
    values
}

fn snapshot(name: &str, values: &[Value]) {
    let mut s = insta::Settings::clone_current();
    s.set_omit_expression(true);
    s.bind(|| insta::assert_snapshot!(name, render(values)));
}

#[test]
fn engine_views() {
    for (name, args) in [
        ("df", &["df"][..]),
        ("images", &["images"]),
        ("containers", &["containers", "--size"]),
        ("volumes", &["volumes"]),
    ] {
        snapshot(name, &replayed(args));
    }
}

/// A config that fills the overview's `global` section, a workspace, and a
/// warning (a workspace glob whose root is missing).
fn config(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir.join("ws/a")).unwrap();
    fs::create_dir_all(dir.join("mnt")).unwrap();
    fs::write(dir.join("ws/a/f"), b"abc").unwrap();
    let d = dir.display();
    let path = dir.join("config.toml");
    fs::write(
        &path,
        format!(
            "[[projects]]\nid = \"alpha\"\nworkspaces = [\"{d}/ws/*\", \"{d}/gone/*\"]\n\
             [shared]\nmounts = [\"{d}/mnt\"]\n[global]\nimages = [\"^localhost/base$\"]\n"
        ),
    )
    .unwrap();
    path
}

/// A view of the `projects` recording with [`config`].
fn configured(args: &[&str]) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/podman-4.3.1/projects");
    let home = tempfile::tempdir().unwrap();
    let config = config(home.path());
    json(
        binary()
            .env("HOME", home.path())
            .arg("--replay")
            .arg(&dir)
            .arg("--config")
            .arg(&config)
            .args(["--format", "json"])
            .args(args),
    )
}

#[test]
fn overview_with_config() {
    let mut values = replayed(&["overview"]);
    values.push(configured(&["overview"]));
    snapshot("overview", &values);
}

#[test]
fn project_view() {
    snapshot("project", &[configured(&["project", "alpha"])]);
}

#[test]
fn du_view() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("d")).unwrap();
    fs::write(tmp.path().join("d/f"), b"abc").unwrap();
    // A path that cannot be read fills `errors`.
    let v = json(
        binary()
            .env("HOME", tmp.path())
            .args(["--format", "json", "du"])
            .arg(tmp.path().join("d"))
            .arg(tmp.path().join("gone")),
    );
    snapshot("du", &[v]);
}

fn sha(n: u64) -> String {
    format!("sha256:{n:064x}")
}

/// An OCI layout with a tagged manifest, a missing layer, an orphan and a
/// temp file.
fn layout(dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |n: u64, body: &[u8]| fs::write(blobs.join(&sha(n)[7..]), body).unwrap();
    put(1, b"{}");
    put(3, &[5; 700]);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":1}}]}}"#,
        sha(1),
        sha(2)
    );
    let m = 0x10;
    put(m, manifest.as_bytes());
    fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1,"annotations":{{"org.opencontainers.image.ref.name":"a"}}}}]}}"#,
            sha(m)
        ),
    )
    .unwrap();
    fs::write(dir.join("oci-put-blob4242"), b"partial").unwrap();
}

/// A registry with one tagged repository, an orphan blob and an upload.
fn registry(root: &Path) {
    let v2 = root.join("docker/registry/v2");
    let blob = |n: u64, body: &[u8]| {
        let hex = &sha(n)[7..];
        let d = v2.join("blobs/sha256").join(&hex[..2]).join(hex);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("data"), body).unwrap();
    };
    let link = |dir: PathBuf, n: u64| {
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("link"), sha(n)).unwrap();
    };
    blob(1, b"{}");
    blob(2, &[7; 1000]);
    blob(3, &[9; 500]);
    let manifest = format!(
        r#"{{"schemaVersion":2,"config":{{"digest":"{}"}},"layers":[{{"digest":"{}"}}]}}"#,
        sha(1),
        sha(2)
    );
    blob(4, manifest.as_bytes());
    let repo = v2.join("repositories/app");
    for n in [1, 2] {
        link(repo.join("_layers/sha256").join(&sha(n)[7..]), n);
    }
    link(
        repo.join("_manifests/revisions/sha256").join(&sha(4)[7..]),
        4,
    );
    link(repo.join("_manifests/tags/v1/current"), 4);
    let upload = repo.join("_uploads/0a1b");
    fs::create_dir_all(&upload).unwrap();
    fs::write(upload.join("data"), [1; 64]).unwrap();
    fs::write(upload.join("startedat"), "2020-01-01T00:00:00Z").unwrap();
}

/// A flat cache (fscache), an OCI layout, a registry, and a path that is none.
fn caches() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let flat = tmp.path().join("flat");
    fs::create_dir(&flat).unwrap();
    for n in 0..2 {
        fs::write(flat.join(sha(0x100 + n)), [n as u8; 100]).unwrap();
    }
    layout(&tmp.path().join("layout"));
    registry(&tmp.path().join("registry"));
    fs::create_dir(tmp.path().join("other")).unwrap();
    tmp
}

#[test]
fn caches_view() {
    let tmp = caches();
    let v = json(
        binary()
            .env("HOME", tmp.path().join("no-home"))
            .current_dir(tmp.path())
            .args([
                "--format", "json", "caches", "flat", "layout", "registry", "other", "gone",
            ]),
    );
    snapshot("caches", &[v]);
}

#[test]
fn prune_caches_view() {
    let tmp = caches();
    let v = json(
        binary()
            .env("HOME", tmp.path().join("no-home"))
            .current_dir(tmp.path())
            .args([
                "--format",
                "json",
                "prune",
                "caches",
                "--dry-run",
                "--orphans",
                "--registry-offline",
                "flat",
                "layout",
                "registry",
                "other",
            ]),
    );
    snapshot("prune_caches", &[v]);
}

#[test]
fn the_walk_names_every_key_and_type() {
    let v: Value = serde_json::from_str(
        r#"{"a":[{"b":1,"c":null},{"b":-1,"c":"x"}],"labels":{"k":"v"},"d":{"labels":{"k":true}}}"#,
    )
    .unwrap();
    assert_eq!(
        render(&[v]),
        ".: object\n.a: array\n.a[]: object\n.a[].b: integer | number\n.a[].c: null | string\n\
         .d: object\n.d.labels: object\n.d.labels.*: boolean\n.labels: object\n.labels.*: string\n"
    );
}
