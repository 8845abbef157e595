use super::*;
use crate::engine::libpod::{state_name, DbVolume};
use proptest::prelude::*;

/// Writes bbolt files byte by byte, the way `bucket.go`/`node.go` lay
/// them out, so the reader can be tested without podman.
mod fixture {
    use super::bolt::{fnv1a64, MAGIC};

    pub const LEAF: u16 = 0x02;
    pub const BRANCH: u16 = 0x01;
    pub const BUCKET: u32 = 0x01;

    pub enum V {
        Data(Vec<u8>),
        /// A bucket value: its root page, or its inline leaf page.
        Bucket(Vec<u8>),
    }

    pub fn data(s: &str) -> V {
        V::Data(s.as_bytes().to_vec())
    }

    pub fn paged(root: u64) -> V {
        let mut v = root.to_ne_bytes().to_vec();
        v.extend(0u64.to_ne_bytes());
        V::Bucket(v)
    }

    pub fn inline(entries: &[(&str, V)]) -> V {
        let mut v = vec![0u8; 16];
        v.extend(leaf_bytes(0, entries));
        V::Bucket(v)
    }

    fn header(id: u64, flags: u16, count: usize, overflow: u32) -> Vec<u8> {
        let mut h = id.to_ne_bytes().to_vec();
        h.extend(flags.to_ne_bytes());
        h.extend((count as u16).to_ne_bytes());
        h.extend(overflow.to_ne_bytes());
        h
    }

    /// A leaf page's bytes, unpadded, `overflow` left 0.
    pub fn leaf_bytes(id: u64, entries: &[(&str, V)]) -> Vec<u8> {
        let mut page = header(id, LEAF, entries.len(), 0);
        let mut body: Vec<u8> = Vec::new();
        let elems_end = 16 + 16 * entries.len();
        for (i, (k, v)) in entries.iter().enumerate() {
            let (flags, value) = match v {
                V::Data(d) => (0u32, d),
                V::Bucket(b) => (BUCKET, b),
            };
            let el = 16 + 16 * i;
            let pos = (elems_end + body.len() - el) as u32;
            page.extend(flags.to_ne_bytes());
            page.extend(pos.to_ne_bytes());
            page.extend((k.len() as u32).to_ne_bytes());
            page.extend((value.len() as u32).to_ne_bytes());
            body.extend(k.as_bytes());
            body.extend(value);
        }
        page.extend(body);
        page
    }

    pub fn branch_bytes(id: u64, children: &[u64]) -> Vec<u8> {
        let mut page = header(id, BRANCH, children.len(), 0);
        for (i, c) in children.iter().enumerate() {
            let pos = (16 * (children.len() - i)) as u32;
            page.extend(pos.to_ne_bytes());
            page.extend(0u32.to_ne_bytes()); // empty keys
            page.extend(c.to_ne_bytes());
        }
        page
    }

    pub fn meta(id: u64, ps: usize, root: u64, high_water: u64, txid: u64) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend(MAGIC.to_ne_bytes());
        m.extend(2u32.to_ne_bytes());
        m.extend((ps as u32).to_ne_bytes());
        m.extend(0u32.to_ne_bytes());
        m.extend(root.to_ne_bytes());
        m.extend(0u64.to_ne_bytes());
        m.extend(0u64.to_ne_bytes()); // freelist
        m.extend(high_water.to_ne_bytes());
        m.extend(txid.to_ne_bytes());
        let sum = fnv1a64(&m);
        m.extend(sum.to_ne_bytes());
        let mut page = header(id, 0x04, 0, 0);
        page.extend(m);
        page
    }

    /// Lays pages out at `id * ps`, fixing each page's overflow count.
    pub fn file(ps: usize, metas: [(u64, u64); 2], pages: Vec<(u64, Vec<u8>)>) -> Vec<u8> {
        let high_water = pages
            .iter()
            .map(|(id, p)| id + (p.len().max(1) as u64).div_ceil(ps as u64))
            .max()
            .unwrap_or(2)
            .max(2);
        let mut out = vec![0u8; high_water as usize * ps];
        for (i, (root, txid)) in metas.into_iter().enumerate() {
            let m = meta(i as u64, ps, root, high_water, txid);
            out[i * ps..i * ps + m.len()].copy_from_slice(&m);
        }
        let mut next_free = 2;
        for (id, mut p) in pages {
            assert!(id >= next_free, "page {id} overlaps the one before");
            let overflow = (p.len().max(1).div_ceil(ps) - 1) as u32;
            next_free = id + 1 + u64::from(overflow);
            p[12..16].copy_from_slice(&overflow.to_ne_bytes());
            let at = id as usize * ps;
            out[at..at + p.len()].copy_from_slice(&p);
        }
        out
    }
}

use fixture::*;

fn ctr_config(id: &str, name: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}","name":"{name}","rootfsImageID":"img-{id}","rootfsImageName":"localhost/x:1","RawImageName":"x:1","labels":{{"l":"{name}"}}{extra}}}"#
    )
}

/// A database shaped like libpod's: a paged `ctr` bucket with inline
/// container buckets, a volume with a stale dependency, a pod.
fn libpod_like(ps: usize) -> Vec<u8> {
    let c1 = inline(&[
        (
            "config",
            data(&ctr_config(
                "c1",
                "one",
                r#","namedVolumes":[{"volumeName":"v1","dest":"/v"}]"#,
            )),
        ),
        ("dependencies", inline(&[])),
        ("state", data(r#"{"state":3}"#)),
    ]);
    let c2 = inline(&[
        (
            "config",
            data(&ctr_config("c2", "two", r#","pod":"p1","pause":true"#)),
        ),
        ("dependencies", inline(&[])),
        ("state", data(r#"{"state":1}"#)),
    ]);
    let v1 = leaf_bytes(
        5,
        &[
            (
                "config",
                data(
                    r#"{"name":"v1","labels":{"owner":"a"},"mountPoint":"/vol/v1/_data","volumeDriver":"local"}"#,
                ),
            ),
            (
                "vol-dependencies",
                inline(&[("c1", data("c1")), ("gone", data("gone"))]),
            ),
        ],
    );
    let root = leaf_bytes(
        2,
        &[
            (
                "all-ctrs",
                inline(&[("c1", data("one")), ("c2", data("two"))]),
            ),
            ("ctr", paged(3)),
            (
                "pod",
                inline(&[(
                    "p1",
                    inline(&[(
                        "config",
                        data(r#"{"id":"p1","name":"pod-one","labels":{"k":"v"}}"#),
                    )]),
                )]),
            ),
            ("vol", paged(4)),
        ],
    );
    file(
        ps,
        [(2, 4), (2, 5)],
        vec![
            (2, root),
            (3, leaf_bytes(3, &[("c1", c1), ("c2", c2)])),
            (4, leaf_bytes(4, &[("v1", paged(5))])),
            (5, v1),
        ],
    )
}

fn read_bytes(bytes: &[u8]) -> Result<LibpodState, LibpodDbError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bolt_state.db");
    std::fs::write(&path, bytes).unwrap();
    read(&path)
}

#[test]
fn reads_containers_volumes_and_pods() {
    let state = read_bytes(&libpod_like(4096)).unwrap();
    assert_eq!(read_bytes(&libpod_like(1024)).unwrap(), state);
    let c1 = &state.containers[0];
    assert_eq!(
        (c1.id.as_str(), c1.name.as_str(), c1.state.as_str()),
        ("c1", "one", "running")
    );
    assert_eq!(c1.image_id, "img-c1");
    assert_eq!(c1.image_name, "localhost/x:1", "the resolved name wins");
    assert_eq!(c1.volumes, vec!["v1"]);
    assert_eq!(c1.pod, None);
    let c2 = &state.containers[1];
    assert_eq!((c2.state.as_str(), c2.infra), ("created", true));
    assert_eq!(c2.pod.as_deref(), Some("p1"));
    assert_eq!(c2.labels.get("l").map(String::as_str), Some("two"));
    assert_eq!(
        state.volumes,
        vec![DbVolume {
            created: None,
            name: "v1".into(),
            labels: [("owner".to_string(), "a".to_string())].into(),
            mountpoint: "/vol/v1/_data".into(),
            users: vec!["c1".into()],
        }],
        "a dependency whose container is gone is no user"
    );
    assert_eq!(state.pods.len(), 1);
    assert_eq!(state.pods[0].name, "pod-one");
}

#[test]
fn walks_branch_pages_and_overflow_pages() {
    let ps = 512;
    let big_labels: String = (0..60).map(|i| format!(r#","k{i}":"{i:0>20}""#)).collect();
    let big = format!(r#"{{"id":"c3","name":"big","labels":{{"a":"b"{big_labels}}}}}"#);
    assert!(big.len() > 2 * ps, "the value must need overflow pages");
    let c = |cfg: String| inline(&[("config", data(&cfg)), ("state", data(r#"{"state":6}"#))]);
    let bytes = file(
        ps,
        [(2, 1), (2, 2)],
        vec![
            (2, leaf_bytes(2, &[("ctr", paged(3))])),
            (3, branch_bytes(3, &[4, 5])),
            (4, leaf_bytes(4, &[("c1", c(ctr_config("c1", "a", "")))])),
            (5, leaf_bytes(5, &[("c3", c(big))])),
        ],
    );
    let state = read_bytes(&bytes).unwrap();
    let names: Vec<_> = state.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "big"]);
    assert_eq!(state.containers[1].labels.len(), 61);
    assert_eq!(state.containers[1].state, "exited");
}

#[test]
fn picks_the_newest_valid_meta() {
    let mut bytes = libpod_like(4096);
    // Meta 1 (txid 5) points at the real root; make meta 0 (txid 4)
    // point at a different, empty root.
    let empty = leaf_bytes(6, &[]);
    bytes.resize(7 * 4096, 0);
    bytes[6 * 4096..6 * 4096 + empty.len()].copy_from_slice(&empty);
    let m0 = meta(0, 4096, 6, 7, 4);
    bytes[..m0.len()].copy_from_slice(&m0);
    let m1 = meta(1, 4096, 2, 7, 5);
    bytes[4096..4096 + m1.len()].copy_from_slice(&m1);
    assert_eq!(read_bytes(&bytes).unwrap().containers.len(), 2);
    // A torn meta 1 (bad checksum) falls back to meta 0's tree.
    bytes[4096 + 16 + 48] ^= 0xff;
    assert_eq!(read_bytes(&bytes).unwrap(), LibpodState::default());
}

#[test]
fn cycles_and_misplaced_pages_are_errors() {
    let looped = file(
        4096,
        [(2, 1), (2, 2)],
        vec![
            (2, leaf_bytes(2, &[("ctr", paged(3))])),
            (3, branch_bytes(3, &[3])),
        ],
    );
    let err = read_bytes(&looped).unwrap_err().to_string();
    assert!(err.contains("reached twice"), "{err}");

    let mut misplaced = libpod_like(4096);
    misplaced[3 * 4096] = 9; // page 3 now claims another id
    let err = read_bytes(&misplaced).unwrap_err().to_string();
    assert!(err.contains("page 3 says it is page 9"), "{err}");

    let mut truncated = libpod_like(4096);
    truncated.truncate(4 * 4096 + 100);
    assert!(matches!(
        read_bytes(&truncated),
        Err(LibpodDbError::Corrupt { .. })
    ));
}

#[test]
fn bad_json_names_the_record() {
    let bytes = file(
        4096,
        [(2, 1), (2, 2)],
        vec![
            (2, leaf_bytes(2, &[("ctr", inline(&[]))])),
            (3, leaf_bytes(3, &[])),
        ],
    );
    assert_eq!(read_bytes(&bytes).unwrap(), LibpodState::default());
    let bytes = file(
        4096,
        [(2, 1), (2, 2)],
        vec![(
            2,
            leaf_bytes(
                2,
                &[(
                    "pod",
                    inline(&[("p1", inline(&[("config", data("{not json"))]))]),
                )],
            ),
        )],
    );
    let err = read_bytes(&bytes).unwrap_err().to_string();
    assert!(err.contains("pod \"p1\" config"), "{err}");
    // A damaged key (found by tests/it/fuzz.rs, libpod_db target): the
    // message quotes it and stays one line.
    let bytes = file(
        4096,
        [(2, 1), (2, 2)],
        vec![(
            2,
            leaf_bytes(
                2,
                &[(
                    "pod",
                    inline(&[("p\n\u{1b}1", inline(&[("config", data("{not json"))]))]),
                )],
            ),
        )],
    );
    let err = read_bytes(&bytes).unwrap_err().to_string();
    assert!(err.contains(r#"pod "p\n\u{1b}1" config"#), "{err}");
}

#[test]
fn missing_file_is_an_empty_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = read(&default_path(dir.path())).unwrap();
    assert_eq!(state, LibpodState::default());
}

#[test]
fn garbage_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bolt_state.db");
    std::fs::write(&path, vec![0x5a; 16384]).unwrap();
    let err = read(&path).unwrap_err();
    assert!(matches!(err, LibpodDbError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

fn flock(file: &File, op: i32) {
    assert_eq!(unsafe { libc::flock(file.as_raw_fd(), op) }, 0);
}

#[test]
fn waits_for_a_writer_to_release_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bolt_state.db");
    std::fs::write(&path, libpod_like(4096)).unwrap();
    let writer = File::open(&path).unwrap();
    flock(&writer, libc::LOCK_EX);
    let hold = Duration::from_millis(200);
    let start = Instant::now();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(hold);
        flock(&writer, libc::LOCK_UN);
    });
    let state = read(&path).unwrap();
    assert!(
        start.elapsed() >= hold,
        "read while the writer held the lock"
    );
    assert_eq!(state.containers.len(), 2);
    releaser.join().unwrap();
}

#[test]
fn reads_unlocked_when_the_lock_is_never_released() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bolt_state.db");
    std::fs::write(&path, libpod_like(4096)).unwrap();
    let writer = File::open(&path).unwrap();
    flock(&writer, libc::LOCK_EX);
    let start = Instant::now();
    let state = read(&path).unwrap();
    assert!(start.elapsed() >= LOCK_WAIT);
    assert_eq!(state.volumes.len(), 1);
}

#[test]
fn state_names_follow_libpod() {
    assert_eq!(state_name(1), "created");
    assert_eq!(state_name(2), "initialized");
    assert_eq!(state_name(3), "running");
    assert_eq!(state_name(6), "exited");
    assert_eq!(state_name(42), "bad state");
}

fn walk_all(bytes: &[u8]) {
    if let Ok(db) = bolt::Db::open(bytes) {
        let _ = decode(db);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..20_000)) {
        walk_all(&bytes);
    }

    /// Valid metas over random pages whose headers claim to be branch or
    /// leaf pages: the walker gets past the meta check and meets every
    /// kind of bad offset.
    #[test]
    fn random_pages_behind_valid_metas_never_panic(
        pages in proptest::collection::vec(
            (any::<bool>(), 0u16..40, 0u32..3, proptest::collection::vec(any::<u8>(), 0..496)),
            1..12,
        ),
        root in 2u64..14,
    ) {
        let ps = 512;
        let built = pages
            .into_iter()
            .enumerate()
            .map(|(i, (is_leaf, count, overflow, body))| {
                let id = i as u64 + 2;
                let mut p = id.to_ne_bytes().to_vec();
                p.extend(if is_leaf { LEAF } else { BRANCH }.to_ne_bytes());
                p.extend(count.to_ne_bytes());
                p.extend(overflow.to_ne_bytes());
                p.extend(body);
                (id, p)
            })
            .collect();
        let mut bytes = file(ps, [(root, 1), (root, 2)], built);
        // `file` fixes overflow counts; put random ones back in.
        for chunk in bytes.chunks_mut(ps).skip(2) {
            chunk[12] = chunk[20 % chunk.len()] % 3;
        }
        walk_all(&bytes);
    }

    /// Any single flipped byte of a real-shaped file is an error or a
    /// state, never a panic.
    #[test]
    fn flipped_bytes_never_panic(at in 0usize..6 * 1024, bit in 0u8..8) {
        let mut bytes = libpod_like(1024);
        if at < bytes.len() {
            bytes[at] ^= 1 << bit;
        }
        walk_all(&bytes);
    }
}
