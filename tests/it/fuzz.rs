//! Fuzzing on stable Rust: proptest drives structure-aware mutations of real
//! inputs into every parser that reads something podman-storage does not
//! control (podman's output, the store's files, libpod's database, OCI
//! layouts, the config file, human sizes).
//!
//! cargo-fuzz needs a nightly toolchain; proptest runs on stable and gives
//! reproducible runs (`FUZZ_SEED`). Mutations start from real recordings
//! (`fixtures/podman-4.3.1/*/*.json`, `fuzz/seeds/`) and then replace JSON
//! nodes with hostile values (huge, negative and fractional numbers, escape
//! sequences, 100 kB strings, path traversal, deep nesting), delete or
//! duplicate nodes, and finally flip, truncate, splice or insert bytes, so
//! most inputs get past the JSON parser and reach the code behind it.
//!
//! Budget: `FUZZ_CASES` inputs per target (default 2,000, so `cargo test`
//! stays fast), `FUZZ_CASES_<TARGET>` for one target. A target runs all its
//! inputs even after a panic, counting distinct panic sites, prints
//! `fuzz <target>: N inputs, M findings (seed S)` and then fails with the
//! first input of each site (also written to `target/fuzz-findings/`).
//! `fuzz/run.sh` runs every target with a large budget.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::SystemTime;

use podman_storage::caches::{self, Discovered, PruneOptions};
use podman_storage::config::{Config, Env};
use podman_storage::engine::collect::collect;
use podman_storage::engine::podman::{self, ContainerEntry, ImageEntry, Podman, VolumeEntry};
use podman_storage::engine::store::{self, StoreLocation};
use podman_storage::engine::Needs;
use podman_storage::projects;
use podman_storage::report::engine::{ContainersView, DfReport, VolumesView};
use podman_storage::report::{json, to_json};
use podman_storage::runner::{Recording, Runner};
use podman_storage::size::{self, Reading, Units};
use podman_storage::{account, views, Warnings};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// The harness: run every input, count panic sites, report.

thread_local! {
    static FUZZING: Cell<bool> = const { Cell::new(false) };
    static SITE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics inside a fuzz input are findings, not noise: record where they
/// happened instead of printing a backtrace per input. Panics elsewhere (other
/// tests in this binary, worker threads) print as usual.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if FUZZING.with(Cell::get) {
                // The first frame in this crate's own sources: a panic inside
                // `Iterator::sum` is located in core, but found in ours.
                let trace = std::backtrace::Backtrace::force_capture().to_string();
                let ours = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");
                let site = trace
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("at ").filter(|f| f.starts_with(ours)))
                    .map(|f| f.trim_start_matches(env!("CARGO_MANIFEST_DIR")).to_string())
                    .or_else(|| {
                        info.location()
                            .map(|l| format!("{}:{}", l.file(), l.line()))
                    })
                    .unwrap_or_else(|| "unknown".into());
                SITE.with(|s| *s.borrow_mut() = Some(site));
            } else {
                previous(info);
            }
        }));
    });
}

fn cases(target: &str) -> u32 {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    var(&format!("FUZZ_CASES_{}", target.to_uppercase()))
        .or_else(|| var("FUZZ_CASES"))
        .unwrap_or(2_000)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic)".into())
}

/// Runs `check` on `cases(target)` inputs drawn from `strategy`.
fn fuzz<S>(target: &str, strategy: S, check: impl Fn(&S::Value))
where
    S: Strategy,
    S::Value: Debug,
{
    install_panic_hook();
    let n = cases(target);
    let seed = seed();
    let config = RunnerConfig {
        cases: n,
        failure_persistence: None,
        max_shrink_iters: 0,
        max_global_rejects: n.saturating_mul(4),
        ..RunnerConfig::default()
    };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let started = std::time::Instant::now();
    let executed = Cell::new(0u64);
    // site -> (message, first input, count)
    let findings: RefCell<BTreeMap<String, (String, String, u64)>> = RefCell::default();
    let outcome = runner.run(&strategy, |input| {
        executed.set(executed.get() + 1);
        FUZZING.with(|f| f.set(true));
        let result = panic::catch_unwind(AssertUnwindSafe(|| check(&input)));
        FUZZING.with(|f| f.set(false));
        if let Err(payload) = result {
            let message = payload_text(payload.as_ref());
            let site = SITE
                .with(|s| s.borrow_mut().take())
                .unwrap_or_else(|| "unknown".into());
            // One finding per site and kind of message (digits masked, so
            // "index 7 out of range" and "index 9 ..." are one finding).
            let kind: String = message
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(80)
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect();
            let mut f = findings.borrow_mut();
            let entry = f
                .entry(format!("{site}: {kind}"))
                .or_insert_with(|| (message, format!("{input:#?}"), 0));
            entry.2 += 1;
        }
        Ok(())
    });
    let findings = findings.into_inner();
    let line = format!(
        "fuzz {target}: {} inputs, {} findings (seed {seed}, {:.1} s)",
        executed.get(),
        findings.len(),
        started.elapsed().as_secs_f64()
    );
    println!("{line}");
    if let Ok(report) = std::env::var("FUZZ_REPORT") {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(report)
            .unwrap();
        writeln!(
            f,
            "{target}\t{}\t{}\t{seed}",
            executed.get(),
            findings.len()
        )
        .unwrap();
    }
    if let Err(e) = outcome {
        panic!("{line}: the runner stopped: {e}");
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../fuzz-findings");
    // This target's findings from an earlier run would mislead.
    for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with(&format!("{target}-"))
        {
            let _ = fs::remove_file(e.path());
        }
    }
    if !findings.is_empty() {
        fs::create_dir_all(&dir).unwrap();
        let mut text = String::new();
        for (i, (site, (message, input, count))) in findings.iter().enumerate() {
            let file = dir.join(format!("{target}-{i}.txt"));
            fs::write(&file, format!("{site}\n{message}\n\n{input}\n")).unwrap();
            let short: String = input.chars().take(1500).collect();
            text.push_str(&format!(
                "\n{site} ({count} inputs): {message}\n  first input ({}): {short}\n",
                file.display()
            ));
        }
        panic!("{line}{text}");
    }
}

// ---------------------------------------------------------------------------
// Mutations.

/// A regex strategy compiled once: a `&str` strategy recompiles its regex
/// for every input, which made up most of the time per input.
fn re(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
    proptest::string::string_regex(pattern).unwrap()
}

/// Numbers no engine should print, and some it does (negative sizes).
fn hostile_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(-2768)),
        Just(json!(i64::MIN)),
        Just(json!(i64::MAX)),
        Just(json!(i64::MAX - 1)),
        Just(json!(u64::MAX)),
        Just(json!(1u64 << 53)),
        Just(json!(1u64 << 62)),
        Just(json!(-1.5)),
        Just(json!(0.5)),
        Just(json!(1e308)),
        Just(json!(-1.399e7)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| json!(f)),
    ]
}

/// Strings that must never reach a terminal raw or become a path.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "",
            "\u{1b}[31mred\u{1b}[0m",
            "\u{1b}]0;pwned\u{7}",
            "\u{1b}[2J\u{1b}[H",
            "two\nlines",
            "carriage\rreturn",
            "tab\tbed",
            "\u{7f}",
            "\u{9b}31m",
            "\u{202e}txt.exe",
            "nul\u{0}byte",
            "../../../../etc/passwd",
            "/",
            "..",
            "(orphans)",
            "(shared)",
            "N/A",
            "-2768B",
            "1e+03kB",
            "45KiB",
            "-1.399e+07B",
            "<none>",
            "<none>:<none>",
            "sha256:",
            "sha256:../../etc",
            "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "sha512:abc",
            "localhost/app:1",
            "😀",
            "running",
            "paused",
        ])
        .prop_map(String::from),
        1 => Just("x".repeat(100_000)),
        2 => re("\\PC{0,40}"),
        2 => re(".{0,40}"),
    ]
}

fn nested(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |v, i| {
        if i % 2 == 0 {
            json!([v])
        } else {
            json!({ "k": v })
        }
    })
}

fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => hostile_number(),
        4 => hostile_string().prop_map(Value::String),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(json!([])),
        1 => Just(json!({})),
        1 => prop::collection::vec(hostile_string(), 0..4).prop_map(|v| json!(v)),
        1 => prop::collection::btree_map(hostile_string(), hostile_string(), 0..3)
            .prop_map(|m| json!(m)),
        // serde_json stops at 128 levels; the values it builds must be dropped
        // without recursion trouble too.
        1 => (1usize..300).prop_map(|d| nested(d, json!(1))),
    ]
}

/// One edit of a JSON tree; `Index` picks a node in pre-order.
#[derive(Debug, Clone)]
enum JsonOp {
    Replace(Index, Value),
    /// Replaces a number (a size, a count) with another number.
    Number(Index, Value),
    /// Replaces a string (a name, a label, an id) with a hostile one.
    Text(Index, String),
    Remove(Index),
    Duplicate(Index),
    RenameKey(Index, String),
}

fn json_op() -> impl Strategy<Value = JsonOp> {
    prop_oneof![
        3 => (any::<Index>(), hostile_value()).prop_map(|(i, v)| JsonOp::Replace(i, v)),
        4 => (any::<Index>(), hostile_number()).prop_map(|(i, v)| JsonOp::Number(i, v)),
        4 => (any::<Index>(), hostile_string()).prop_map(|(i, v)| JsonOp::Text(i, v)),
        2 => any::<Index>().prop_map(JsonOp::Remove),
        1 => any::<Index>().prop_map(JsonOp::Duplicate),
        1 => (any::<Index>(), hostile_string()).prop_map(|(i, k)| JsonOp::RenameKey(i, k)),
    ]
}

/// JSON pointers of every node, root first.
fn pointers(v: &Value) -> Vec<String> {
    fn walk(v: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, format!("{at}/{i}"), out);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let k = k.replace('~', "~0").replace('/', "~1");
                    walk(item, format!("{at}/{k}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, String::new(), &mut out);
    out
}

fn parent_and_key(ptr: &str) -> Option<(&str, String)> {
    let cut = ptr.rfind('/')?;
    Some((
        &ptr[..cut],
        ptr[cut + 1..].replace("~1", "/").replace("~0", "~"),
    ))
}

fn apply_json(v: &mut Value, op: &JsonOp) {
    let ptrs = pointers(v);
    let pick = |i: &Index| ptrs[i.index(ptrs.len())].clone();
    let leaf = |i: &Index, want: fn(&Value) -> bool| {
        let of_kind: Vec<&String> = ptrs
            .iter()
            .filter(|p| v.pointer(p).is_some_and(want))
            .collect();
        (!of_kind.is_empty()).then(|| of_kind[i.index(of_kind.len())].clone())
    };
    match op {
        JsonOp::Replace(i, new) => {
            if let Some(node) = v.pointer_mut(&pick(i)) {
                *node = new.clone();
            }
        }
        JsonOp::Number(i, new) => {
            if let Some(p) = leaf(i, Value::is_number) {
                *v.pointer_mut(&p).unwrap() = new.clone();
            }
        }
        JsonOp::Text(i, new) => {
            if let Some(p) = leaf(i, Value::is_string) {
                *v.pointer_mut(&p).unwrap() = Value::String(new.clone());
            }
        }
        JsonOp::Remove(i) | JsonOp::Duplicate(i) | JsonOp::RenameKey(i, _) => {
            let ptr = pick(i);
            let Some((parent, key)) = parent_and_key(&ptr) else {
                return;
            };
            let Some(parent) = v.pointer_mut(parent) else {
                return;
            };
            match (parent, op) {
                (Value::Object(map), JsonOp::Remove(_)) => {
                    map.remove(&key);
                }
                (Value::Array(items), JsonOp::Remove(_)) => {
                    if let Ok(n) = key.parse::<usize>() {
                        items.remove(n);
                    }
                }
                (Value::Array(items), JsonOp::Duplicate(_)) => {
                    if let Ok(n) = key.parse::<usize>() {
                        let copy = items[n].clone();
                        items.insert(n, copy);
                    }
                }
                (Value::Object(map), JsonOp::Duplicate(_)) => {
                    if let Some(copy) = map.get(&key).cloned() {
                        map.insert(format!("{key}2"), copy);
                    }
                }
                (Value::Object(map), JsonOp::RenameKey(_, new)) => {
                    if let Some(item) = map.remove(&key) {
                        map.insert(new.clone(), item);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Raw text that breaks JSON in the ways truncated or foreign output does.
const TOKENS: &[&[u8]] = &[
    b"\"\\ud800\"",
    b"1e999999",
    b"-0",
    b"\"\\u0000\"",
    b"\"\\u001b[31m\"",
    b"99999999999999999999999",
    b"-9223372036854775809",
    b"NaN",
    b"null",
    b",",
    b"}",
    b"]",
    b"\"",
    b"\\",
    b"\xff\xfe",
    b"\xc3",
    b"\n",
    b"\x1b[31m",
];

#[derive(Debug, Clone)]
enum ByteOp {
    Flip(Index, u8),
    Truncate(Index),
    Delete(Index, usize),
    Insert(Index, usize),
    /// Copies a chunk of the text to another place (splices fields).
    Splice(Index, Index, usize),
    /// Opens `n` arrays or objects: nesting no real output has.
    Deep(Index, usize, bool),
}

fn byte_op() -> impl Strategy<Value = ByteOp> {
    prop_oneof![
        3 => (any::<Index>(), 1u8..=255).prop_map(|(i, x)| ByteOp::Flip(i, x)),
        2 => any::<Index>().prop_map(ByteOp::Truncate),
        1 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| ByteOp::Delete(i, n)),
        3 => (any::<Index>(), 0..TOKENS.len()).prop_map(|(i, t)| ByteOp::Insert(i, t)),
        2 => (any::<Index>(), any::<Index>(), 1usize..200)
            .prop_map(|(a, b, n)| ByteOp::Splice(a, b, n)),
        1 => (any::<Index>(), prop_oneof![1usize..200, Just(100_000)], any::<bool>())
            .prop_map(|(i, n, obj)| ByteOp::Deep(i, n, obj)),
    ]
}

fn apply_bytes(b: &mut Vec<u8>, op: &ByteOp) {
    let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
    match op {
        ByteOp::Flip(i, x) => {
            if !b.is_empty() {
                let n = i.index(b.len());
                b[n] ^= x;
            }
        }
        ByteOp::Truncate(i) => {
            let n = at(i, b.len());
            b.truncate(n);
        }
        ByteOp::Delete(i, n) => {
            let start = at(i, b.len());
            let end = (start + n).min(b.len());
            b.drain(start..end);
        }
        ByteOp::Insert(i, t) => {
            let n = at(i, b.len());
            b.splice(n..n, TOKENS[*t].iter().copied());
        }
        ByteOp::Splice(from, to, n) => {
            if b.is_empty() {
                return;
            }
            let start = from.index(b.len());
            let chunk: Vec<u8> = b[start..(start + n).min(b.len())].to_vec();
            let dest = at(to, b.len());
            b.splice(dest..dest, chunk);
        }
        ByteOp::Deep(i, n, obj) => {
            let open: &[u8] = if *obj { b"{\"a\":" } else { b"[" };
            let at = at(i, b.len());
            let deep: Vec<u8> = open.iter().copied().cycle().take(open.len() * n).collect();
            b.splice(at..at, deep);
        }
    }
}

/// How one seed document is mutated: tree edits, then (a third of the
/// time) byte edits of its serialization.
#[derive(Debug, Clone)]
struct Mutation {
    json: Vec<JsonOp>,
    pretty: bool,
    bytes: Vec<ByteOp>,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        prop::collection::vec(json_op(), 0..5),
        any::<bool>(),
        prop_oneof![2 => Just(Vec::new()), 1 => prop::collection::vec(byte_op(), 1..4)],
    )
        .prop_map(|(json, pretty, bytes)| Mutation {
            json,
            pretty,
            bytes,
        })
}

impl Mutation {
    fn apply(&self, seed: &[u8]) -> Vec<u8> {
        let mut out = match serde_json::from_slice::<Value>(seed) {
            Ok(mut v) => {
                for op in &self.json {
                    apply_json(&mut v, op);
                }
                if self.pretty {
                    serde_json::to_vec_pretty(&v).unwrap()
                } else {
                    serde_json::to_vec(&v).unwrap()
                }
            }
            Err(_) => seed.to_vec(),
        };
        for op in &self.bytes {
            apply_bytes(&mut out, op);
        }
        out
    }

    fn apply_str(&self, seed: &str) -> String {
        String::from_utf8_lossy(&self.apply(seed.as_bytes())).into_owned()
    }
}

// ---------------------------------------------------------------------------
// Seeds.

/// A temp directory on tmpfs when there is one: the file-system targets
/// create and delete a few directories per input, three times faster there.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("fuzz-")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A recorded scenario: its name and its recordings by file name.
type Scenario = (String, Vec<(String, Recording)>);

/// Every recorded scenario.
fn scenarios() -> &'static Vec<Scenario> {
    static SCENARIOS: std::sync::OnceLock<Vec<Scenario>> = std::sync::OnceLock::new();
    SCENARIOS.get_or_init(|| {
        let dir = root().join("fixtures/podman-4.3.1");
        let mut out: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .map(|scenario| {
                let mut recs: Vec<(String, Recording)> = fs::read_dir(&scenario)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .map(|p| {
                        let rec: Recording =
                            serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
                        (p.file_name().unwrap().to_str().unwrap().to_string(), rec)
                    })
                    .collect();
                recs.sort_by(|a, b| a.0.cmp(&b.0));
                (
                    scenario.file_name().unwrap().to_str().unwrap().to_string(),
                    recs,
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(out.len() >= 5, "fixtures missing");
        out
    })
}

/// Podman's own JSON outputs among the recordings, with what they list.
fn podman_outputs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (_, recs) in scenarios() {
        for (_, r) in recs {
            if r.argv.first().map(String::as_str) == Some("podman") {
                out.push((r.argv[1..].join(" "), r.stdout.clone()));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Checks shared by the targets.

/// A table may hold newlines and nothing else below 0x20, no DEL, no C1
/// controls (which some terminals take as escape sequences too).
/// Some characters either side of byte `i`, cut at character boundaries.
fn context(s: &str, i: usize) -> String {
    let before: Vec<char> = s[..i].chars().rev().take(40).collect();
    let after: String = s[i..].chars().take(20).collect();
    before.into_iter().rev().collect::<String>() + &after
}

fn assert_printable(what: &str, text: &str) {
    for (i, c) in text.char_indices() {
        let bad = (c < ' ' && c != '\n') || ('\u{7f}'..='\u{9f}').contains(&c);
        assert!(
            !bad,
            "{what}: control character {c:?} at byte {i}: {:?}",
            context(text, i)
        );
    }
}

fn assert_json(what: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: invalid JSON ({e})"))
}

// ---------------------------------------------------------------------------
// Targets.

/// A size as some tool might print it: sign, digits, fraction, exponent,
/// space, unit, annotation, each part sometimes odd.
fn size_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        any::<u32>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| format!("{a}.{b}")),
        (1u8..10, -30i32..40).prop_map(|(m, e)| format!("{m}e{e:+}")),
        (any::<u16>(), 0u8..3, -5i32..30).prop_map(|(m, f, e)| format!("{m}.{f}e{e}")),
        re("[0-9]{20,60}"),
        re("0*[0-9]{1,5}(\\.[0-9]{0,30})?"),
        prop::sample::select(vec![
            ".5", "5.", "-", "+1", "1e", "e3", "1..2", "١٢", "1_000", "0x10"
        ])
        .prop_map(String::from),
    ];
    let unit = prop_oneof![
        prop::sample::select(vec![
            "", "B", "kB", "KB", "kb", "MB", "mb", "GB", "TB", "PB", "EB", "ZB", "YB", "KiB",
            "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB", "Ki", "Mi", "K", "M", "b", "iB", "XB",
            "kiB", "B B", "bytes",
        ])
        .prop_map(String::from),
        re("[a-zA-Z]{1,4}"),
    ];
    let annotation = prop_oneof![
        4 => Just(String::new()),
        1 => (0u16..200, 0u8..100).prop_map(|(p, f)| format!(" ({p}.{f}%)")),
        1 => Just(" (virtual 3.36MB)".to_string()),
        1 => Just(" (virtual -5B)".to_string()),
        1 => Just(" (virtual3MB)".to_string()),
        1 => Just(" (NaN%)".to_string()),
        1 => Just(" (".to_string()),
        1 => re(".{0,10}"),
    ];
    (
        prop::sample::select(vec!["", "-", " ", "+", "--"]),
        number,
        prop::sample::select(vec!["", " ", "  ", "\t"]),
        unit,
        annotation,
    )
        .prop_map(|(sign, n, gap, unit, ann)| format!("{sign}{n}{gap}{unit}{ann}"))
}

#[test]
fn fuzz_size_parse() {
    let input = prop_oneof![
        6 => size_text(),
        1 => hostile_string(),
        1 => re(".{0,30}"),
    ];
    fuzz("size_parse", input, |s| {
        let plain = size::parse(s);
        // parse_bytes is parse restricted to addable byte counts.
        match (&plain, size::parse_bytes(s)) {
            (Ok(Reading::Bytes(b)), Ok(c)) => assert_eq!(*b, c, "{s:?}"),
            (_, Ok(c)) => panic!("{s:?}: parse_bytes gave {c} where parse gave {plain:?}"),
            (_, Err(_)) => assert!(!matches!(plain, Ok(Reading::Bytes(_))), "{s:?}"),
        }
        // Without a parenthesis the annotated parse is the plain one.
        if !s.contains('(') {
            let annotated = size::parse_annotated(s).map(|a| a.size);
            assert_eq!(annotated.ok(), plain.clone().ok(), "{s:?}");
        }
        // An error names its input (cut to 64 characters).
        if let Err(e) = &plain {
            let mut shown: String = s.chars().take(64).collect();
            if s.chars().count() > 64 {
                shown.push_str("...");
            }
            assert!(e.to_string().contains(&format!("{shown:?}")), "{s:?}: {e}");
        }
        // An oracle for the common shape: integer digits and an SI unit.
        if let Some((digits, mult)) = simple_size(s) {
            let expected = (digits as u128) * mult;
            match plain {
                Ok(Reading::Bytes(b)) => assert_eq!(u128::from(b), expected, "{s:?}"),
                Err(size::SizeError::Overflow(_)) => assert!(expected > u128::from(u64::MAX)),
                other => panic!("{s:?} parsed as {other:?}, expected {expected}"),
            }
        }
    });
}

/// `^\d{1,18} ?(B|kB|MB|GB)$` and its exact value.
fn simple_size(s: &str) -> Option<(u64, u128)> {
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits_end == 0 || digits_end > 18 {
        return None;
    }
    let n: u64 = s[..digits_end].parse().ok()?;
    let unit = s[digits_end..]
        .strip_prefix(' ')
        .unwrap_or(&s[digits_end..]);
    let mult = match unit {
        "B" | "" => 1,
        "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    Some((n, mult))
}

#[test]
fn fuzz_size_format_round_trip() {
    let bytes = prop_oneof![
        any::<u64>(),
        0u64..1_000_000,
        prop::sample::select(vec![0, 999, 999_499, 999_500, 999_999, u64::MAX, 1 << 53]),
    ];
    fuzz("size_format", bytes, |&b| {
        let text = size::format(b);
        assert_printable("format", &text);
        let back = size::parse_bytes(&text).unwrap_or_else(|e| panic!("{b}: {text:?}: {e}"));
        // Three significant digits: within 0.5% (and exact below 1 kB).
        let err = back.abs_diff(b);
        assert!(err <= b / 200 + 1, "{b} -> {text:?} -> {back}");
        assert_eq!(size::display(b, Units::Bytes), b.to_string());
    });
}

#[test]
fn fuzz_podman_json() {
    let seeds: Vec<String> = podman_outputs().into_iter().map(|(_, s)| s).collect();
    let n = seeds.len();
    // Mostly mutated real outputs; some arbitrary bytes and text too.
    let input = prop_oneof![
        8 => (0..n, mutation()).prop_map(move |(i, m)| (i, Some(m), Vec::new())),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| (0, None, b)),
        1 => re(".{0,300}").prop_map(|t| (0, None, t.into_bytes())),
    ];
    fuzz(
        "podman_json",
        input,
        |(i, m, raw): &(usize, Option<Mutation>, Vec<u8>)| {
            let text = match m {
                Some(m) => m.apply_str(&seeds[*i]),
                None => String::from_utf8_lossy(raw).into_owned(),
            };
            // Each listing read as every type: a wrong-shaped answer (podman
            // printing one list where another was asked) must be an error too.
            let images = serde_json::from_str::<Vec<ImageEntry>>(&text);
            let containers = serde_json::from_str::<Vec<ContainerEntry>>(&text);
            let volumes = serde_json::from_str::<Vec<VolumeEntry>>(&text);
            // An independent reading of the same text: what a typed parse
            // accepts, it must have read field for field.
            let value = serde_json::from_str::<Value>(&text);
            let any_ok = images.is_ok() || containers.is_ok() || volumes.is_ok();
            let list = match &value {
                Ok(Value::Array(list)) => list,
                // `Value` stops at 128 levels and at numbers past f64;
                // typed parses skip unknown fields whatever they hold: no
                // reference to compare with.
                Err(e)
                    if ["recursion limit", "number out of range"]
                        .iter()
                        .any(|m| e.to_string().contains(m)) =>
                {
                    return
                }
                _ => {
                    let why = value.as_ref().err().map(|e| e.to_string());
                    assert!(
                        !any_ok,
                        "a typed parse accepted a non-list ({why:?}): {text:?}"
                    );
                    return;
                }
            };
            let str_at =
                |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            if let Ok(images) = &images {
                assert_eq!(images.len(), list.len());
                for (e, v) in images.iter().zip(list) {
                    if !v.is_object() {
                        continue;
                    }
                    assert_eq!(Some(e.id.as_str()), v["Id"].as_str());
                    assert_eq!(Some(e.size), v["Size"].as_i64());
                    let names: Vec<&str> = v
                        .get("Names")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    assert_eq!(e.names, names);
                }
            }
            if let Ok(containers) = &containers {
                assert_eq!(containers.len(), list.len());
                for (c, v) in containers.iter().zip(list) {
                    if !v.is_object() {
                        continue; // see `from_array` below
                    }
                    assert_eq!(Some(c.id.as_str()), v["Id"].as_str());
                    assert_eq!(c.state, str_at(v, "State"));
                    let rw = c.size.as_ref().map(|s| s.rw_size);
                    assert_eq!(rw, v.get("Size").and_then(|s| s["rwSize"].as_i64()));
                }
            }
            if let Ok(volumes) = &volumes {
                assert_eq!(volumes.len(), list.len());
                for (vol, v) in volumes.iter().zip(list) {
                    if !v.is_object() {
                        continue;
                    }
                    assert_eq!(Some(vol.name.as_str()), v["Name"].as_str());
                    assert_eq!(vol.mountpoint, str_at(v, "Mountpoint"));
                }
            } else {
                // Volumes need only a string Name; Mountpoint and Labels
                // are optional strings (Labels may be null): such a list
                // must parse, unless a mutation wrote one of those keys
                // twice in an object (Value keeps the last; the typed parse
                // refuses a duplicate field, and podman never prints one).
                let once = |key: &str| text.matches(&format!("\"{key}\"")).count() <= list.len();
                let volume_shaped = once("Name")
                    && once("Mountpoint")
                    && once("Labels")
                    && list.iter().all(|v| {
                        v["Name"].is_string()
                            && v.get("Mountpoint").is_none_or(Value::is_string)
                            && v.get("Labels").is_none_or(|l| {
                                l.is_null()
                                    || l.as_object()
                                        .is_some_and(|m| m.values().all(Value::is_string))
                            })
                    });
                assert!(!volume_shaped, "a volume list was refused: {text:?}");
            }
        },
    );
}

/// `podman system df -v` text: sections, a header, rows with odd sizes.
fn df_verbose_text() -> impl Strategy<Value = String> {
    let row = (
        prop_oneof![3 => re("[a-z][a-z0-9_.-]{0,20}"), 1 => hostile_string()],
        prop_oneof![3 => (0u32..5).prop_map(|n| n.to_string()), 1 => re("[-a-z0-9]{0,5}")],
        prop_oneof![3 => size_text(), 1 => hostile_string()],
    );
    (
        prop::collection::vec(row, 0..6),
        any::<bool>(),
        prop::collection::vec(byte_op(), 0..2),
    )
        .prop_map(|(rows, header, ops)| {
            let mut t = String::from(
                "Images space usage:\n\nREPOSITORY  TAG  IMAGE ID  CREATED  SIZE  SHARED SIZE  UNIQUE SIZE  CONTAINERS\n\nLocal Volumes space usage:\n\n",
            );
            if header {
                t.push_str("VOLUME NAME  LINKS       SIZE\n");
            }
            for (name, links, size) in rows {
                t.push_str(&format!("{name}  {links}  {size}\n"));
            }
            let mut b = t.into_bytes();
            for op in &ops {
                apply_bytes(&mut b, op);
            }
            String::from_utf8_lossy(&b).into_owned()
        })
}

#[test]
fn fuzz_df_verbose() {
    fuzz("df_verbose", df_verbose_text(), |text| {
        if let Ok(df) = podman::parse_df_verbose(text) {
            for (name, v) in &df.volumes {
                assert!(!name.is_empty());
                // Only a byte count is addable; the other readings are not.
                assert_eq!(
                    v.size.bytes().is_some(),
                    matches!(v.size, Reading::Bytes(_)),
                    "{name}: {:?}",
                    v.size
                );
                // A name is one cell of one line: no line break and no
                // column gap (two spaces) inside it.
                assert!(!name.contains('\n') && !name.contains("  "), "{name:?}");
                assert!(text.contains(name.as_str()), "{name:?} is not in the input");
            }
        }
    });
}

/// Which path a replayed run takes and what it asks for.
#[derive(Debug, Clone)]
struct PipelineCase {
    scenario: usize,
    /// (recording index, mutation) pairs.
    edits: Vec<(Index, Mutation)>,
    /// A recording that now reports a failure, with a hostile stderr.
    fail: Option<(Index, String)>,
    cli_only: bool,
    sizes: bool,
}

fn pipeline_case() -> impl Strategy<Value = PipelineCase> {
    (
        0..5usize,
        prop::collection::vec((any::<Index>(), mutation()), 1..3),
        prop::option::weighted(0.2, (any::<Index>(), hostile_string())),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(scenario, edits, fail, cli_only, sizes)| PipelineCase {
            scenario,
            edits,
            fail,
            cli_only,
            sizes,
        })
}

/// Replays a mutated recording through collection, accounting and every
/// renderer, the way the binary's views do.
fn run_pipeline(dir: &Path, case: &PipelineCase) {
    let (_, recs) = &scenarios()[case.scenario % scenarios().len()];
    let mut recs: Vec<(String, Recording)> = recs.clone();
    for (i, m) in &case.edits {
        let n = i.index(recs.len());
        recs[n].1.stdout = m.apply_str(&recs[n].1.stdout);
    }
    if let Some((i, stderr)) = &case.fail {
        let n = i.index(recs.len());
        recs[n].1.exit_code = Some(125);
        recs[n].1.stderr = stderr.clone();
    }
    for (name, rec) in &recs {
        fs::write(dir.join(name), serde_json::to_vec(rec).unwrap()).unwrap();
    }
    let runner = Runner::replay(dir).unwrap();
    let podman = Podman::new(runner, "podman", None, None).cli_only(case.cli_only);
    let needs = Needs {
        container_sizes: case.sizes,
        ..Needs::all()
    };
    let warnings = Warnings::new();
    let c = collect(&podman, needs, &warnings);
    let inv = &c.inventory;

    // Exact once: the images' total is every distinct layer once plus each
    // image's metadata, computed here independently of `account`.
    let report = account::images(inv);
    let distinct: BTreeSet<&String> = inv.images.iter().flat_map(|i| &i.layers).collect();
    let expected: u128 = distinct
        .iter()
        .map(|k| u128::from(inv.layers.get(*k).map_or(0, |l| l.bytes)))
        .sum::<u128>()
        + inv
            .images
            .iter()
            .map(|i| u128::from(i.metadata_bytes))
            .sum::<u128>();
    // Sums saturate at u64::MAX rather than wrap (sizes are unbounded).
    let capped = |n: u128| u64::try_from(n).unwrap_or(u64::MAX);
    assert_eq!(report.total_bytes, capped(expected), "images total");

    // The views as the binary builds them.
    let images = views::engine::images(&c, None, &Default::default(), &warnings);
    let df = views::engine::df(&c, None, &warnings);
    let containers = views::engine::containers(&c, None, &Default::default(), &warnings);
    let volumes = views::engine::volumes(&c, None, &Default::default(), &warnings);
    let overview = views::overview::assemble(
        inv,
        &Config::default(),
        &projects::Dirs::default(),
        0,
        warnings.to_vec(),
    );
    // Every byte once across the rows: the overview's total is the images'
    // exact total (computed above, not by `account`), plus every volume; the
    // overview never counts writable layers, and has no directories here.
    let volumes_sum: u128 = inv
        .volumes
        .iter()
        .map(|v| u128::from(v.bytes.unwrap_or(0)))
        .sum();
    assert_eq!(
        overview.total_bytes,
        capped(expected + volumes_sum),
        "the overview holds every layer and volume once"
    );
    for units in [Units::Si, Units::Bytes] {
        assert_printable("df", &df.table(units));
        assert_printable("images", &images.table(units));
        assert_printable("containers", &containers.table(units));
        assert_printable("volumes", &volumes.table(units));
        assert_printable("overview", &overview.table(units));
    }
    for (what, text) in [
        ("df", to_json(&json::Df::from(&df))),
        ("images", to_json(&json::Images::from(&images))),
        ("containers", to_json(&json::Containers::from(&containers))),
        ("volumes", to_json(&json::Volumes::from(&volumes))),
        ("overview", to_json(&json::Overview::from(&overview))),
    ] {
        assert_json(what, &text);
    }
    for w in warnings.to_vec() {
        assert!(!w.contains('\n'), "a warning is one line: {w:?}");
        assert_printable("warning", &podman_storage::report::sanitize(&w));
    }
}

#[test]
fn fuzz_pipeline() {
    let dir = scratch();
    fuzz("pipeline", pipeline_case(), |case| {
        // One directory per input, emptied each time: replay reads only
        // the files this input wrote.
        let d = dir.path().join("rec");
        let _ = fs::remove_dir_all(&d);
        fs::create_dir(&d).unwrap();
        run_pipeline(&d, case);
    });
}

fn store_seed(name: &str) -> Vec<u8> {
    fs::read(root().join("fuzz/seeds/store").join(name)).unwrap()
}

#[derive(Debug, Clone)]
struct StoreCase {
    layers: Mutation,
    images: Mutation,
    containers: Mutation,
    config: Mutation,
    driver: String,
}

fn store_case() -> impl Strategy<Value = StoreCase> {
    (
        mutation(),
        mutation(),
        mutation(),
        mutation(),
        prop_oneof![4 => Just("overlay".to_string()), 1 => hostile_string()],
    )
        .prop_map(|(layers, images, containers, config, driver)| StoreCase {
            layers,
            images,
            containers,
            config,
            driver,
        })
}

fn is_hex_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn fuzz_store_read() {
    let dir = scratch();
    let (layers, images, containers, config) = (
        store_seed("layers.json"),
        store_seed("images.json"),
        store_seed("containers.json"),
        store_seed("config.json"),
    );
    fuzz("store_read", store_case(), |case| {
        let g = dir.path().join("graphroot");
        let _ = fs::remove_dir_all(&g);
        // A hostile driver name is a path component too: only write where
        // the store would be if it were a plain name.
        let plain = !case.driver.is_empty()
            && !case.driver.contains(['/', '\0'])
            && case.driver != ".."
            && case.driver != "."
            && case.driver.len() < 200;
        let loc = StoreLocation::new(g.clone(), &case.driver);
        if plain {
            let d = &case.driver;
            for (sub, name, seed, m) in [
                ("layers", "layers.json", &layers, &case.layers),
                ("images", "images.json", &images, &case.images),
                (
                    "containers",
                    "containers.json",
                    &containers,
                    &case.containers,
                ),
            ] {
                let at = g.join(format!("{d}-{sub}"));
                fs::create_dir_all(&at).unwrap();
                fs::write(at.join(name), m.apply(seed)).unwrap();
            }
            // Each image's config, where store.rs looks for its labels.
            let text = fs::read(g.join(format!("{d}-images/images.json"))).unwrap();
            if let Ok(Value::Array(imgs)) = serde_json::from_slice::<Value>(&text) {
                for img in imgs {
                    if let Some(id) = img
                        .get("id")
                        .and_then(Value::as_str)
                        .filter(|i| is_hex_id(i))
                    {
                        use base64::Engine as _;
                        let name = format!(
                            "={}",
                            base64::engine::general_purpose::STANDARD
                                .encode(format!("sha256:{id}"))
                        );
                        let at = g.join(format!("{d}-images")).join(id);
                        fs::create_dir_all(&at).unwrap();
                        fs::write(at.join(name), case.config.apply(&config)).unwrap();
                    }
                }
            }
        }
        if let Ok(snap) = store::read(&loc) {
            // No image layer is silently without a figure: each has its
            // diff size, is to be walked (vfs), or is named unsized.
            for (id, img) in &snap.images {
                for l in &img.layers {
                    assert!(
                        snap.layer_bytes.contains_key(l)
                            || snap.layer_dirs.contains_key(l)
                            || snap.unsized_layers.iter().any(|u| &u.id == l),
                        "image {id}: layer {l} has no figure and is not flagged"
                    );
                }
            }
            serde_json::to_string(&snap).unwrap();
        }
    });
}

/// A small OCI layout: a nested index, OCI and Docker manifests, shared and
/// unique layers, orphans. Returns every blob's hex.
fn write_layout(dir: &Path) -> Vec<String> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut n = 0x100u64;
    let mut put = |data: &[u8]| -> String {
        n += 1;
        let hex = format!("{n:064x}");
        fs::write(blobs.join(&hex), data).unwrap();
        hex
    };
    let config = put(br#"{"architecture":"amd64","os":"linux","config":{}}"#);
    let shared = put(&[7u8; 3000]);
    let only_a = put(&[8u8; 1000]);
    let only_b = put(&[9u8; 500]);
    let manifest = |media: &str, config: &str, layers: &[&str]| {
        let layers: Vec<Value> = layers
            .iter()
            .map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{l}"), "size": 1}))
            .collect();
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config}"), "size": 1},
            "layers": layers,
        }))
        .unwrap()
    };
    let m_a = put(&manifest(
        "application/vnd.oci.image.manifest.v1+json",
        &config,
        &[&shared, &only_a],
    ));
    let m_b = put(&manifest(
        "application/vnd.docker.distribution.manifest.v2+json",
        &config,
        &[&shared, &only_b],
    ));
    let nested = put(
        &serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{m_b}"), "size": 1}],
        }))
        .unwrap(),
    );
    let _orphan1 = put(&[1u8; 700]);
    let _orphan2 = put(&[2u8; 1500]);
    fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{m_a}"), "size": 1,
                 "annotations": {"org.opencontainers.image.ref.name": "a"}},
                {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": format!("sha256:{nested}"), "size": 1,
                 "annotations": {"org.opencontainers.image.ref.name": "b"}},
            ],
        }))
        .unwrap(),
    )
    .unwrap();
    let mut all: Vec<String> = fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    all.sort();
    all
}

/// Every file below `dir`, relative, with its contents.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, at: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(at).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                walk(base, &p, out);
            } else {
                let data = if m.is_file() {
                    fs::read(&p).unwrap()
                } else {
                    Vec::new()
                };
                out.insert(p.strip_prefix(base).unwrap().to_path_buf(), data);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The blobs an index reaches, by an independent reading of the image spec:
/// `None` when any reachable document cannot be read (then nothing may be
/// removed at all).
fn reachable(layout: &Path) -> Option<BTreeSet<String>> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<(Value, bool)> = vec![(
        serde_json::from_slice(&fs::read(layout.join("index.json")).ok()?).ok()?,
        true,
    )];
    while let Some((doc, _)) = todo.pop() {
        let mut refs: Vec<(String, bool)> = Vec::new();
        let digest = |d: &Value| d.get("digest").and_then(Value::as_str).map(String::from);
        for d in doc
            .get("manifests")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            refs.push((digest(d)?, true));
        }
        if let Some(s) = doc.get("subject") {
            refs.push((digest(s)?, true));
        }
        for key in ["config"] {
            if let Some(d) = doc.get(key) {
                refs.push((digest(d)?, false));
            }
        }
        for key in ["layers", "blobs"] {
            for d in doc.get(key).and_then(Value::as_array).into_iter().flatten() {
                refs.push((digest(d)?, false));
            }
        }
        for d in doc
            .get("fsLayers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            refs.push((d.get("blobSum")?.as_str()?.to_string(), false));
        }
        for (d, parse) in refs {
            let hex = d.strip_prefix("sha256:")?.to_string();
            if !seen.insert(hex.clone()) {
                continue;
            }
            let path = layout.join("blobs/sha256").join(&hex);
            if parse && path.exists() {
                todo.push((serde_json::from_slice(&fs::read(&path).ok()?).ok()?, true));
            }
        }
    }
    Some(seen)
}

#[derive(Debug, Clone)]
struct LayoutCase {
    index: Mutation,
    /// A manifest or nested index (by position among the blobs) and its edit.
    blob: Option<(Index, Mutation)>,
    /// Digests of this layout's own blobs are the interesting replacements.
    point_at: Option<(Index, Index)>,
}

fn layout_case() -> impl Strategy<Value = LayoutCase> {
    (
        mutation(),
        prop::option::of((any::<Index>(), mutation())),
        prop::option::weighted(0.3, (any::<Index>(), any::<Index>())),
    )
        .prop_map(|(index, blob, point_at)| LayoutCase {
            index,
            blob,
            point_at,
        })
}

#[test]
fn fuzz_oci_layout() {
    let tmp = scratch();
    let canary = tmp.path().join("canary");
    fs::write(&canary, b"outside the layout").unwrap();
    fuzz("oci_layout", layout_case(), |case| {
        let dir = tmp.path().join("layout");
        let _ = fs::remove_dir_all(&dir);
        let hexes = write_layout(&dir);
        let index = dir.join("index.json");
        let mut text = case.index.apply(&fs::read(&index).unwrap());
        if let Some((which, to)) = &case.point_at {
            // Re-point one digest of the index at another blob of the layout.
            if let Ok(mut v) = serde_json::from_slice::<Value>(&text) {
                let ptrs: Vec<String> = pointers(&v)
                    .into_iter()
                    .filter(|p| p.ends_with("/digest"))
                    .collect();
                if !ptrs.is_empty() {
                    let p = &ptrs[which.index(ptrs.len())];
                    *v.pointer_mut(p).unwrap() =
                        json!(format!("sha256:{}", hexes[to.index(hexes.len())]));
                    text = serde_json::to_vec(&v).unwrap();
                }
            }
        }
        fs::write(&index, text).unwrap();
        if let Some((which, m)) = &case.blob {
            let p = dir
                .join("blobs/sha256")
                .join(&hexes[which.index(hexes.len())]);
            let data = fs::read(&p).unwrap();
            fs::write(&p, m.apply(&data)).unwrap();
        }
        let before = files(&dir);
        let report = caches::inspect(&Discovered::argument(&dir));
        let _ = serde_json::to_string(&report).unwrap();
        let must_keep = reachable(&dir);
        let pruned = caches::prune(
            &dir,
            &PruneOptions {
                dry_run: false,
                orphans: true,
                older_than: None,
                max_size: None,
                registry_offline: false,
                delete_untagged: false,
                now: SystemTime::now(),
            },
        );
        let after = files(&dir);
        assert_eq!(fs::read(&canary).unwrap(), b"outside the layout");
        let removed: Vec<&PathBuf> = before.keys().filter(|p| !after.contains_key(*p)).collect();
        for p in &removed {
            assert!(
                p.starts_with("blobs/sha256"),
                "removed {} which is no blob",
                p.display()
            );
        }
        for (p, data) in &after {
            assert_eq!(before.get(p), Some(data), "{} changed", p.display());
        }
        match &report.orphans {
            None => assert!(
                removed.is_empty(),
                "references unknown ({:?}) yet {removed:?} removed",
                report.errors
            ),
            Some(o) => assert_eq!(removed.len() as u64, o.blobs, "{pruned:?}"),
        }
        if let Some(keep) = must_keep {
            for p in &removed {
                let hex = p.file_name().unwrap().to_str().unwrap();
                assert!(!keep.contains(hex), "removed referenced blob {hex}");
            }
        }
    });
}

/// Valid configs to start from: every key, odd but legal values.
const CONFIG_SEEDS: &[&str] = &[
    r#"
[[projects]]
id = "webapp"
images = ["^localhost/webapp(-|$)"]
labels = { "com.docker.compose.project" = "webapp" }
workspaces = ["/srv/webapp/tasks/*"]
volumes = ["webapp-data"]

[[projects]]
id = "ml"
images = ["^localhost/ml_", "^quay.io/me/trainer$"]
workspaces = ["~/ml/runs/*", "$HOME/x/**", "${HOME}/y/[ab]?"]

[shared]
mounts = ["/srv/shared-cache"]

[global]
images = ["^docker.io/library/"]

[caches]
paths = ["~/.cache/ko", "$HOME/oci-layouts/base"]
"#,
    "[[projects]]\nid = \"a\"\n",
    "",
];

#[derive(Debug, Clone)]
enum TomlOp {
    Replace(Index, TomlHostile),
    Remove(Index),
}

#[derive(Debug, Clone)]
enum TomlHostile {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<String>),
    Table,
    Nested(usize),
}

impl TomlHostile {
    fn value(&self) -> toml::Value {
        match self {
            TomlHostile::Str(s) => toml::Value::String(s.clone()),
            TomlHostile::Int(n) => toml::Value::Integer(*n),
            TomlHostile::Float(f) => toml::Value::Float(*f),
            TomlHostile::Bool(b) => toml::Value::Boolean(*b),
            TomlHostile::Array(v) => {
                toml::Value::Array(v.iter().cloned().map(toml::Value::String).collect())
            }
            TomlHostile::Table => toml::Value::Table(Default::default()),
            TomlHostile::Nested(d) => {
                (0..*d).fold(toml::Value::Integer(1), |v, _| toml::Value::Array(vec![v]))
            }
        }
    }
}

fn config_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => hostile_string(),
        2 => prop::sample::select(vec![
            "../x", "(orphans)", "(shared)", "A", "-x", "_x", "x y", "ok", "a/b",
            "(", "[", "a{1000}{1000}", "(a*)*$", "\\", "\\p{Nope}", "(?i)x",
            "relative/path", "~user/x", "$OTHER/x", "${HOME", "~", "$HOME", "/ok/*/**/[a-",
            "/a/[!b]/*", "/**", "/tmp/**/**/x", "//", "/./..",
        ])
        .prop_map(String::from),
    ]
}

fn toml_hostile() -> impl Strategy<Value = TomlHostile> {
    prop_oneof![
        6 => config_string().prop_map(TomlHostile::Str),
        1 => any::<i64>().prop_map(TomlHostile::Int),
        1 => any::<f64>().prop_map(TomlHostile::Float),
        1 => any::<bool>().prop_map(TomlHostile::Bool),
        3 => prop::collection::vec(config_string(), 0..4).prop_map(TomlHostile::Array),
        1 => Just(TomlHostile::Table),
        1 => (1usize..100).prop_map(TomlHostile::Nested),
    ]
}

fn toml_paths(v: &toml::Value) -> Vec<Vec<String>> {
    fn walk(v: &toml::Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(at.clone());
        match v {
            toml::Value::Table(t) => {
                for (k, item) in t {
                    let mut next = at.clone();
                    next.push(k.clone());
                    walk(item, next, out);
                }
            }
            toml::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let mut next = at.clone();
                    next.push(i.to_string());
                    walk(item, next, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, Vec::new(), &mut out);
    out
}

fn toml_at<'a>(v: &'a mut toml::Value, path: &[String]) -> Option<&'a mut toml::Value> {
    path.iter().try_fold(v, |v, k| match v {
        toml::Value::Table(t) => t.get_mut(k),
        toml::Value::Array(a) => a.get_mut(k.parse::<usize>().ok()?),
        _ => None,
    })
}

fn apply_toml(v: &mut toml::Value, op: &TomlOp) {
    let paths = toml_paths(v);
    match op {
        TomlOp::Replace(i, h) => {
            let p = &paths[i.index(paths.len())];
            if let Some(node) = toml_at(v, p) {
                *node = h.value();
            }
        }
        TomlOp::Remove(i) => {
            let p = &paths[i.index(paths.len())];
            if let Some((last, parent)) = p.split_last() {
                match toml_at(v, parent) {
                    Some(toml::Value::Table(t)) => {
                        t.remove(last);
                    }
                    Some(toml::Value::Array(a)) => {
                        if let Ok(n) = last.parse::<usize>() {
                            a.remove(n);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
struct ConfigCase {
    seed: usize,
    ops: Vec<TomlOp>,
    bytes: Vec<ByteOp>,
}

fn config_case() -> impl Strategy<Value = ConfigCase> {
    (
        0..CONFIG_SEEDS.len(),
        prop::collection::vec(
            prop_oneof![
                4 => (any::<Index>(), toml_hostile()).prop_map(|(i, h)| TomlOp::Replace(i, h)),
                1 => any::<Index>().prop_map(TomlOp::Remove),
            ],
            0..4,
        ),
        prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(byte_op(), 1..3)],
    )
        .prop_map(|(seed, ops, bytes)| ConfigCase { seed, ops, bytes })
}

static ID: once_cell::sync::Lazy<regex::Regex> =
    once_cell::sync::Lazy::new(|| regex::Regex::new("^[a-z0-9][a-z0-9_-]*$").unwrap());

#[test]
fn fuzz_config_parse() {
    let env = Env {
        home: Some(PathBuf::from("/home/fuzz")),
        xdg_config_home: None,
    };
    fuzz("config_parse", config_case(), |case| {
        let seed = CONFIG_SEEDS[case.seed];
        let mut text = match seed.parse::<toml::Table>() {
            Ok(t) => {
                let mut v = toml::Value::Table(t);
                for op in &case.ops {
                    apply_toml(&mut v, op);
                }
                toml::to_string(&v).unwrap_or_else(|_| seed.to_string())
            }
            Err(_) => seed.to_string(),
        }
        .into_bytes();
        for op in &case.bytes {
            apply_bytes(&mut text, op);
        }
        let text = String::from_utf8_lossy(&text);
        match Config::parse_in(&text, Path::new("/etc/fuzz.toml"), &env) {
            Ok(c) => {
                let mut ids = BTreeSet::new();
                for p in &c.projects {
                    assert!(ID.is_match(&p.id), "accepted project id {:?}", p.id);
                    assert!(ids.insert(p.id.clone()), "duplicate id {:?}", p.id);
                    for w in &p.workspaces {
                        assert!(w.starts_with('/'), "relative workspace {w:?}");
                    }
                }
                for m in c.shared.mounts.iter().chain(&c.caches.paths) {
                    assert!(m.is_absolute(), "relative path {}", m.display());
                }
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.starts_with("/etc/fuzz.toml"), "{msg}");
                assert!(!msg.contains('\n'), "one line: {msg:?}");
            }
        }
    });
}

/// libpod's bolt database, mutated the way disks and interrupted writes
/// damage it: flipped bytes, truncation, pages copied over others, page
/// header fields set to extremes.
#[derive(Debug, Clone)]
enum DbOp {
    Flip(Index, u8),
    Truncate(Index),
    /// Overwrites one field of a page header (id u64, flags u16, count u16,
    /// overflow u32) or of the meta page with an extreme value.
    Field(Index, usize, u64),
    CopyPage(Index, Index),
    ZeroPage(Index),
}

fn db_op() -> impl Strategy<Value = DbOp> {
    let extreme = prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u64::from(u32::MAX)),
        Just(u64::from(u16::MAX)),
        any::<u64>(),
        0u64..64,
    ];
    prop_oneof![
        4 => (any::<Index>(), 1u8..=255).prop_map(|(i, x)| DbOp::Flip(i, x)),
        1 => any::<Index>().prop_map(DbOp::Truncate),
        4 => (any::<Index>(), 0usize..16, extreme).prop_map(|(p, f, v)| DbOp::Field(p, f, v)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| DbOp::CopyPage(a, b)),
        1 => any::<Index>().prop_map(DbOp::ZeroPage),
    ]
}

const PAGE: usize = 4096;

fn apply_db(b: &mut Vec<u8>, op: &DbOp) {
    let pages = b.len() / PAGE;
    match op {
        DbOp::Flip(i, x) if !b.is_empty() => {
            let n = i.index(b.len());
            b[n] ^= x;
        }
        DbOp::Truncate(i) => {
            let n = i.index(b.len() + 1);
            b.truncate(n);
        }
        DbOp::Field(p, field, v) if pages > 0 => {
            // Header fields, then the meta page's (magic, version, page size,
            // flags, root, freelist, pgid, txid, checksum) at offset 16.
            let offsets = [0, 8, 10, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 72, 80, 88];
            let widths = [8, 2, 2, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8];
            let at = p.index(pages) * PAGE + offsets[*field];
            let w = widths[*field];
            if at + w <= b.len() {
                b[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
            }
        }
        DbOp::CopyPage(from, to) if pages > 0 => {
            let (f, t) = (from.index(pages) * PAGE, to.index(pages) * PAGE);
            let page = b[f..f + PAGE].to_vec();
            b[t..t + PAGE].copy_from_slice(&page);
        }
        DbOp::ZeroPage(p) if pages > 0 => {
            let at = p.index(pages) * PAGE;
            b[at..at + PAGE].fill(0);
        }
        _ => {}
    }
}

#[test]
#[ignore = "needs podman"]
fn fuzz_libpod_db() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let out = std::process::Command::new("bash")
        .arg(root().join("tests/scenarios/build.sh"))
        .arg("volumes-dangling")
        .arg(&store)
        .output()
        .unwrap();
    let db = podman_storage::engine::libpod::bolt::default_path(&store.join("root"));
    let real = fs::read(&db);
    let _ = std::process::Command::new("bash")
        .arg(root().join("tests/scenarios/destroy.sh"))
        .arg(&store)
        .status();
    assert!(
        out.status.success(),
        "building the store failed (is podman installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let real = real.unwrap();
    let copy = tmp.path().join("bolt_state.db");
    fs::write(&copy, &real).unwrap();
    let good = podman_storage::engine::libpod::bolt::read(&copy).unwrap();
    assert!(!good.volumes.is_empty());
    let (errors, same, changed) = (Cell::new(0), Cell::new(0), Cell::new(0));
    fuzz(
        "libpod_db",
        prop::collection::vec(db_op(), 1..4),
        |ops: &Vec<DbOp>| {
            let mut bytes = real.clone();
            for op in ops {
                apply_db(&mut bytes, op);
            }
            fs::write(&copy, &bytes).unwrap();
            match podman_storage::engine::libpod::bolt::read(&copy) {
                Err(e) => {
                    errors.set(errors.get() + 1);
                    let msg = e.to_string();
                    assert!(msg.contains("bolt_state.db"), "names the file: {msg}");
                    assert!(!msg.contains('\n'), "one line: {msg:?}");
                }
                Ok(s) if s == good => same.set(same.get() + 1),
                Ok(_) => changed.set(changed.get() + 1),
            }
        },
    );
    println!(
        "libpod_db outcomes: {} errors, {} unchanged, {} read with other values",
        errors.get(),
        same.get(),
        changed.get()
    );
    // The mutations reach the parser: some are caught as damage.
    assert!(errors.get() > 0);
}

// ---------------------------------------------------------------------------
// The mutators themselves: a fuzzer that never changes anything finds nothing.

#[test]
fn mutations_reach_past_the_json_parser() {
    let seeds = podman_outputs();
    let mut runner = TestRunner::deterministic();
    let (mut parsed, mut changed) = (0, 0);
    for _ in 0..500 {
        let (i, m) = (0..seeds.len(), mutation())
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let text = m.apply_str(&seeds[i].1);
        if text != seeds[i].1 {
            changed += 1;
        }
        if serde_json::from_str::<Value>(&text).is_ok() {
            parsed += 1;
        }
    }
    assert!(changed > 400, "only {changed} of 500 inputs changed");
    assert!(
        (150..490).contains(&parsed),
        "{parsed} of 500 mutated inputs are valid JSON: want most, not all"
    );
}

// ---------------------------------------------------------------------------
// Regressions: each input that crashed a target, kept.

/// `fuzz_pipeline` found (seed 1795495286776368905): a recording whose
/// store snapshot gives two layers sizes near `u64::MAX` made
/// `account::images` panic adding them ("attempt to add with overflow",
/// src/account.rs:154), then `engine::local` (src/engine/local.rs:94) and
/// `Iterator::sum` in the reports. Sums now saturate.
#[test]
fn regression_engine_sizes_past_u64_saturate() {
    use podman_storage::engine::{Container, ContainerState, Image, Inventory, Layer, Volume};
    let mut inv = Inventory::default();
    for (i, key) in ["a", "b", "c"].iter().enumerate() {
        inv.layers.insert(
            key.to_string(),
            Layer {
                key: key.to_string(),
                bytes: u64::MAX - i as u64,
            },
        );
        inv.images.push(Image {
            created: None,
            id: format!("{i:064x}"),
            names: vec![format!("localhost/{key}:1")],
            layers: vec![key.to_string()],
            size: u64::MAX,
            metadata_bytes: u64::MAX,
            labels: Default::default(),
            intermediate: false,
            read_only: false,
        });
        inv.containers.push(Container {
            created: None,
            id: format!("{:064x}", i + 10),
            name: key.to_string(),
            image: String::new(),
            image_id: format!("{i:064x}"),
            state: ContainerState::Exited,
            labels: Default::default(),
            pod: None,
            infra: false,
            rw_bytes: Some(u64::MAX),
            lower_bound: false,
            log: None,
        });
        inv.volumes.push(Volume {
            created: None,
            name: key.to_string(),
            mountpoint: String::new(),
            labels: Default::default(),
            in_use: false,
            bytes: Some(u64::MAX),
            approximate: false,
            lower_bound: false,
        });
    }
    let images = account::images(&inv);
    assert_eq!(images.total_bytes, u64::MAX);
    let components = account::components(&inv);
    assert!(components.iter().all(|c| c.bytes == u64::MAX));
    let df = DfReport::new(components, &Default::default(), Vec::new());
    assert_eq!(df.total_bytes, u64::MAX);
    assert_eq!(projects::reclaimable(&inv), u64::MAX);
    let overview = views::overview::assemble(
        &inv,
        &Config::default(),
        &projects::Dirs::default(),
        u64::MAX,
        Vec::new(),
    );
    assert_eq!(overview.reclaimable_bytes, u64::MAX);
    assert_eq!(overview.total_bytes, u64::MAX);
    assert_printable("overview", &overview.table(Units::Si));
    assert_eq!(
        ContainersView::new(&inv.containers, Vec::new()).total_bytes,
        u64::MAX
    );
    assert_eq!(
        VolumesView::new(inv.volumes.clone(), Vec::new()).total_bytes,
        u64::MAX
    );
}

/// `fuzz_store_read` input shape: an image whose `big-data-sizes` hold
/// several values near `i64::MAX` overflowed the metadata sum.
#[test]
fn regression_store_big_data_sizes_past_u64() {
    let tmp = scratch();
    let g = tmp.path();
    fs::create_dir_all(g.join("overlay-layers")).unwrap();
    fs::create_dir_all(g.join("overlay-images")).unwrap();
    fs::write(
        g.join("overlay-layers/layers.json"),
        r#"[{"id":"l1","diff-size":9223372036854775807}]"#,
    )
    .unwrap();
    fs::write(
        g.join("overlay-images/images.json"),
        r#"[{"id":"i1","layer":"l1","big-data-sizes":{"a":9223372036854775807,"b":9223372036854775807,"c":9223372036854775807}}]"#,
    )
    .unwrap();
    let snap = store::read(&StoreLocation::new(g.to_path_buf(), "overlay")).unwrap();
    assert_eq!(snap.images["i1"].metadata_bytes, u64::MAX);
}

/// `fuzz_config_parse` found (200,000 inputs, seed 1795496592875496385): a
/// path whose `$` is followed by a TOML "\n" made the error message two
/// lines ("${x\nY is not expanded"), the variable name being quoted raw.
#[test]
fn regression_config_error_with_a_newline_stays_one_line() {
    let env = Env {
        home: Some(PathBuf::from("/home/fuzz")),
        xdg_config_home: None,
    };
    let text = "[caches]\npaths = [\"/a/${x\\ny}/b\"]\n";
    let err = Config::parse_in(text, Path::new("/etc/fuzz.toml"), &env)
        .unwrap_err()
        .to_string();
    assert!(!err.contains('\n'), "{err:?}");
    assert!(err.starts_with("/etc/fuzz.toml:2: "), "{err}");
}
