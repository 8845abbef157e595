//! libpod's own state (containers, pods, volumes) read straight from its
//! BoltDB file, with no podman call.
//!
//! podman 4.x keeps this state in `<graphroot>/libpod/bolt_state.db`, a
//! bbolt database whose values are JSON. Asking podman costs 50-100 ms of
//! process start per call; reading the file costs about a millisecond. The
//! file is read whole, then parsed from memory by a small read-only bbolt
//! reader (below), then mapped onto libpod's schema.
//!
//! Consistency: bbolt serialises access with `flock(2)`. A read-write open
//! holds `LOCK_EX` for as long as the database is open, a read-only open
//! `LOCK_SH`; podman opens the file read-write for every single state
//! operation and closes it right after (`getDBCon`/`closeDBCon` in libpod's
//! `boltdb_state_internal.go`; podman 4.3.1 under strace: 11
//! `flock(LOCK_EX|LOCK_NB)`/`LOCK_UN` pairs for one `podman ps`), and its
//! waiters poll with `LOCK_NB` every 50 ms. So we do what a bbolt reader
//! does: take `LOCK_SH` (polling, for at most a second), read the
//! bytes, release the lock before parsing.
//! Holding the lock means no commit is under way, so the copy is one
//! committed transaction. If the lock cannot be had in time (a podman
//! process stuck inside a transaction), we read anyway and check afterwards,
//! seqlock-style, that no transaction committed while we read; on any
//! structural error or change we retry a few times. The cost to podman: an
//! operation that meets our lock (held ~0.1 ms) waits one 50 ms poll.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{LibpodDbError, LibpodState, Records};

/// How long to wait for podman to finish a transaction before reading
/// without the lock.
const LOCK_WAIT: Duration = Duration::from_secs(1);
/// Reads attempted when a read without the lock saw the file change.
const ATTEMPTS: usize = 5;

/// Where podman 4 keeps the state of the store at `graphroot` (its default
/// static dir is `<graphroot>/libpod`).
pub fn default_path(graphroot: &Path) -> PathBuf {
    crate::engine::resolve::default_bolt_path(graphroot)
}

/// Reads libpod's state. A store podman never used has no database yet:
/// that is an empty state, not an error.
pub fn read(path: &Path) -> Result<LibpodState, LibpodDbError> {
    let io_err = |source| LibpodDbError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        // Which database is this store's is resolve.rs's to say.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LibpodState::default()),
        Err(e) => return Err(io_err(e)),
    };
    read_committed(&mut file, path)?.into_state(path)
}

/// One committed transaction's records, read under the shared lock, or
/// without it and checked afterwards (see the module comment).
fn read_committed(file: &mut File, path: &Path) -> Result<Records, LibpodDbError> {
    let io_err = |source| LibpodDbError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reason = String::new();
    let mut wait = LOCK_WAIT;
    for _ in 0..ATTEMPTS {
        let locked = lock_shared(file, wait).map_err(io_err)?;
        if !locked {
            // One long wait is enough: a podman stuck in a transaction will
            // not finish it for our retries.
            wait = Duration::ZERO;
        }
        let bytes = read_all(file);
        if locked {
            unlock(file);
        }
        let bytes = bytes.map_err(io_err)?;
        if bytes.is_empty() {
            // bbolt writes the first pages while holding the lock; an empty
            // file is one it created and has not initialised: nothing in it.
            if locked {
                return Ok(Records::default());
            }
            reason = "the file is empty".into();
            continue;
        }
        let parsed = bolt::Db::open(&bytes).and_then(|db| {
            let (txid, page_size) = (db.txid, db.page_size);
            decode(db).map(|raw| (raw, txid, page_size))
        });
        match parsed {
            Ok((raw, txid, page_size)) => {
                if locked || current_txid(file, page_size).map_err(io_err)? == Some(txid) {
                    return Ok(raw);
                }
                reason = format!("transaction {txid} was replaced while being read");
            }
            // With the lock held the bytes were one committed state:
            // reading them again would give the same error.
            Err(e) if locked => {
                return Err(LibpodDbError::Corrupt {
                    path: path.to_path_buf(),
                    reason: e.0,
                })
            }
            Err(e) => reason = e.0,
        }
    }
    Err(LibpodDbError::Unstable {
        path: path.to_path_buf(),
        attempts: ATTEMPTS,
        reason,
    })
}

/// Polls for a shared lock like bbolt does (it has no blocking call with a
/// timeout). `Ok(false)` when podman kept it exclusively for `wait`.
fn lock_shared(file: &File, wait: Duration) -> io::Result<bool> {
    let start = Instant::now();
    loop {
        // SAFETY: flock on a descriptor we own has no memory effects.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => {}
            // A filesystem without flock: the seqlock check still guards us.
            Some(libc::ENOLCK) | Some(libc::EOPNOTSUPP) => return Ok(false),
            _ => return Err(err),
        }
        if start.elapsed() >= wait {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn unlock(file: &File) {
    // SAFETY: as above. Closing the file would release it too.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
}

fn read_all(file: &mut File) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::with_capacity(file.metadata().map_or(0, |m| m.len() as usize));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The committed transaction id as the file says now; `None` when its meta
/// pages cannot be read (then the caller's copy is not trusted either).
fn current_txid(file: &mut File, page_size: usize) -> io::Result<Option<u64>> {
    file.seek(SeekFrom::Start(0))?;
    let mut head = Vec::new();
    file.take(page_size as u64 * 2).read_to_end(&mut head)?;
    Ok(bolt::current_meta(&head).ok().map(|m| m.txid))
}

// ---------------------------------------------------------------------------
// libpod's schema (podman 4.x, `libpod/boltdb_state_internal.go`): top-level
// buckets `ctr` (one sub-bucket per container id, holding `config` and
// `state` JSON), `vol` (one per volume name: `config` JSON and a
// `vol-dependencies` bucket keyed by the ids of containers using it) and
// `pod` (one per pod id: `config` JSON). The name-registry buckets
// (`all-ctrs`, `allVolumes`, `allPods`, ...) only index these.

fn decode(mut db: bolt::Db<'_>) -> Result<Records, bolt::Corrupt> {
    let root = db.root;
    let mut raw = Records::default();
    for (name, value) in db.entries(root)? {
        let bolt::Value::Bucket(bucket) = value else {
            continue;
        };
        match name {
            b"ctr" => {
                for r in records(&mut db, bucket, "container")? {
                    let state = r.values.get(b"state".as_slice()).map(|s| s.to_vec());
                    raw.containers.push((r.key.clone(), r.config()?, state));
                }
            }
            b"vol" => {
                for r in records(&mut db, bucket, "volume")? {
                    let users = match r.buckets.get(b"vol-dependencies".as_slice()) {
                        Some(&deps) => db
                            .entries(deps)?
                            .into_iter()
                            .map(|(id, _)| lossy(id))
                            .collect(),
                        None => Vec::new(),
                    };
                    raw.volumes.push((r.key.clone(), r.config()?, users));
                }
            }
            b"runtime-config" => {
                let text = |v: &[u8]| (!v.is_empty()).then(|| lossy(v));
                for (key, value) in db.entries(bucket)? {
                    let bolt::Value::Data(v) = value else {
                        continue;
                    };
                    let c = &mut raw.config;
                    match key {
                        b"graph-root" => c.graph_root = text(v).map(Into::into),
                        b"run-root" => c.run_root = text(v).map(Into::into),
                        b"graph-driver-name" => c.graph_driver = text(v),
                        b"volume-path" => c.volume_dir = text(v).map(Into::into),
                        b"static-dir" => c.static_dir = text(v).map(Into::into),
                        _ => {}
                    }
                }
            }
            b"pod" => {
                for r in records(&mut db, bucket, "pod")? {
                    raw.pods.push((r.key.clone(), r.config()?));
                }
            }
            _ => {}
        }
    }
    Ok(raw)
}

/// One container, volume or pod: a sub-bucket of `ctr`, `vol` or `pod`.
struct Record<'a> {
    what: &'static str,
    key: String,
    values: BTreeMap<&'a [u8], &'a [u8]>,
    buckets: BTreeMap<&'a [u8], bolt::BucketRef<'a>>,
}

impl Record<'_> {
    fn config(&self) -> Result<Vec<u8>, bolt::Corrupt> {
        match self.values.get(b"config".as_slice()) {
            Some(c) => Ok(c.to_vec()),
            None => Err(bolt::Corrupt(format!(
                "{} {} has no config",
                self.what, self.key
            ))),
        }
    }
}

fn records<'a>(
    db: &mut bolt::Db<'a>,
    bucket: bolt::BucketRef<'a>,
    what: &'static str,
) -> Result<Vec<Record<'a>>, bolt::Corrupt> {
    let mut out = Vec::new();
    for (key, value) in db.entries(bucket)? {
        let bolt::Value::Bucket(b) = value else {
            return Err(bolt::Corrupt(format!(
                "{what} {} is not a bucket",
                lossy(key)
            )));
        };
        let mut record = Record {
            what,
            key: lossy(key),
            values: BTreeMap::new(),
            buckets: BTreeMap::new(),
        };
        for (k, v) in db.entries(b)? {
            match v {
                bolt::Value::Data(d) => {
                    record.values.insert(k, d);
                }
                bolt::Value::Bucket(b) => {
                    record.buckets.insert(k, b);
                }
            }
        }
        out.push(record);
    }
    Ok(out)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A read-only reader of bbolt files (format version 2, as in
/// `etcd-io/bbolt` `page.go`, `bucket.go`, `db.go`), over bytes in memory.
/// Integers are in the writer's native byte order. Every offset is checked:
/// a damaged or half-written file is an error value, never a panic.
// The file format's reader, named for the format inside the module named
// for the backend.
#[allow(clippy::module_inception)]
mod bolt {
    pub const MAGIC: u32 = 0xED0C_DAED;
    const VERSION: u32 = 2;
    const PAGE_HEADER: usize = 16;
    const ELEMENT: usize = 16;
    /// A bucket value: root page id and sequence, then for an inline bucket
    /// (root 0) its leaf page.
    const BUCKET_HEADER: usize = 16;
    const BRANCH_PAGE: u16 = 0x01;
    const LEAF_PAGE: u16 = 0x02;
    const META_PAGE: u16 = 0x04;
    const BUCKET_LEAF: u32 = 0x01;
    /// Offset of the checksum inside the meta, which covers what precedes it.
    const META_CHECKSUM: usize = 56;
    const MIN_PAGE_SIZE: usize = PAGE_HEADER + META_CHECKSUM + 8;
    const MAX_PAGE_SIZE: usize = 1 << 16;
    /// B+tree depth; real trees are a handful of levels deep.
    const MAX_DEPTH: usize = 64;

    /// A structural problem, described.
    #[derive(Debug)]
    pub struct Corrupt(pub String);

    fn corrupt<T>(msg: impl Into<String>) -> Result<T, Corrupt> {
        Err(Corrupt(msg.into()))
    }

    #[derive(Debug, Clone, Copy)]
    pub struct Meta {
        pub page_size: usize,
        pub root: u64,
        pub high_water: u64,
        pub txid: u64,
    }

    #[derive(Debug, Clone, Copy)]
    pub enum BucketRef<'a> {
        Paged(u64),
        /// A small bucket stored inside its parent's value: its leaf page.
        Inline(&'a [u8]),
    }

    #[derive(Debug, Clone, Copy)]
    pub enum Value<'a> {
        Data(&'a [u8]),
        Bucket(BucketRef<'a>),
    }

    fn u16_at(b: &[u8], off: usize) -> Option<u16> {
        Some(u16::from_ne_bytes(
            b.get(off..off.checked_add(2)?)?.try_into().ok()?,
        ))
    }
    fn u32_at(b: &[u8], off: usize) -> Option<u32> {
        Some(u32::from_ne_bytes(
            b.get(off..off.checked_add(4)?)?.try_into().ok()?,
        ))
    }
    fn u64_at(b: &[u8], off: usize) -> Option<u64> {
        Some(u64::from_ne_bytes(
            b.get(off..off.checked_add(8)?)?.try_into().ok()?,
        ))
    }

    pub use crate::fnv::fnv1a64;

    /// The meta page at `off`, if it is a valid one.
    fn meta_at(data: &[u8], off: usize) -> Option<Meta> {
        let flags = u16_at(data, off + 8)?;
        let m = data.get(off + PAGE_HEADER..off + PAGE_HEADER + META_CHECKSUM + 8)?;
        let checksum = u64_at(m, META_CHECKSUM)?;
        // bbolt accepts a zero checksum from files older than checksums.
        let valid = flags & META_PAGE != 0
            && u32_at(m, 0)? == MAGIC
            && u32_at(m, 4)? == VERSION
            && (checksum == 0 || checksum == fnv1a64(&m[..META_CHECKSUM]));
        valid.then_some(Meta {
            page_size: u32_at(m, 8)? as usize,
            root: u64_at(m, 16)?,
            high_water: u64_at(m, 40)?,
            txid: u64_at(m, 48)?,
        })
    }

    /// The newest valid of the two meta pages, as bbolt chooses it.
    pub fn current_meta(data: &[u8]) -> Result<Meta, Corrupt> {
        let sane = |m: &Meta| (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&m.page_size);
        let first = meta_at(data, 0).filter(sane);
        // Page 1 sits one page in, and the page size is in the meta: if page
        // 0 is torn, try the sizes bbolt uses.
        let second = match first {
            Some(m) => meta_at(data, m.page_size),
            None => [4096, 8192, 16384, 65536, 2048, 1024, 32768]
                .into_iter()
                .find_map(|ps| meta_at(data, ps).filter(|m| m.page_size == ps)),
        }
        .filter(sane);
        let meta = match (first, second) {
            (Some(a), Some(b)) if a.page_size == b.page_size => {
                if b.txid > a.txid {
                    b
                } else {
                    a
                }
            }
            (Some(a), _) => a,
            (None, Some(b)) => b,
            (None, None) => return corrupt("no valid meta page (not a bolt file?)"),
        };
        if meta.root < 2 || meta.root >= meta.high_water {
            return corrupt(format!(
                "root page {} outside 2..{}",
                meta.root, meta.high_water
            ));
        }
        Ok(meta)
    }

    pub struct Db<'a> {
        data: &'a [u8],
        pub page_size: usize,
        high_water: u64,
        pub txid: u64,
        pub root: BucketRef<'a>,
        /// Pages already walked: each page belongs to one tree node, so a
        /// second visit means a cycle (or a torn read).
        seen: Vec<bool>,
    }

    impl<'a> Db<'a> {
        pub fn open(data: &'a [u8]) -> Result<Db<'a>, Corrupt> {
            let meta = current_meta(data)?;
            let pages = (data.len() / meta.page_size) as u64;
            Ok(Db {
                data,
                page_size: meta.page_size,
                high_water: meta.high_water,
                txid: meta.txid,
                root: BucketRef::Paged(meta.root),
                seen: vec![false; pages.min(meta.high_water) as usize],
            })
        }

        /// Every key of a bucket with its value, in key order.
        pub fn entries(
            &mut self,
            bucket: BucketRef<'a>,
        ) -> Result<Vec<(&'a [u8], Value<'a>)>, Corrupt> {
            let mut out = Vec::new();
            match bucket {
                BucketRef::Inline(page) => {
                    let flags =
                        u16_at(page, 8).ok_or_else(|| Corrupt("inline bucket too short".into()))?;
                    if flags != LEAF_PAGE {
                        return corrupt(format!("inline bucket page has flags {flags:#x}"));
                    }
                    leaf(page, &mut out)?;
                }
                BucketRef::Paged(id) => self.walk(id, 0, &mut out)?,
            }
            Ok(out)
        }

        fn walk(
            &mut self,
            id: u64,
            depth: usize,
            out: &mut Vec<(&'a [u8], Value<'a>)>,
        ) -> Result<(), Corrupt> {
            if depth > MAX_DEPTH {
                return corrupt(format!("tree deeper than {MAX_DEPTH} at page {id}"));
            }
            if id < 2 || id >= self.high_water {
                return corrupt(format!("page {id} outside 2..{}", self.high_water));
            }
            match self.seen.get_mut(id as usize) {
                Some(s) if *s => return corrupt(format!("page {id} reached twice")),
                Some(s) => *s = true,
                None => return corrupt(format!("page {id} beyond the end of the file")),
            }
            let start = id as usize * self.page_size;
            let header = self
                .data
                .get(start..start + PAGE_HEADER)
                .ok_or_else(|| Corrupt(format!("page {id} beyond the end of the file")))?;
            let (own_id, flags, overflow) = (
                u64_at(header, 0).unwrap_or(u64::MAX),
                u16_at(header, 8).unwrap_or(0),
                u32_at(header, 12).unwrap_or(0),
            );
            if own_id != id {
                return corrupt(format!("page {id} says it is page {own_id}"));
            }
            let span = (overflow as usize + 1)
                .checked_mul(self.page_size)
                .filter(|_| id + u64::from(overflow) < self.high_water)
                .ok_or_else(|| Corrupt(format!("page {id} overflows past the end")))?;
            let page = self
                .data
                .get(start..start.saturating_add(span))
                .filter(|p| p.len() == span)
                .ok_or_else(|| Corrupt(format!("page {id} runs past the end of the file")))?;
            match flags {
                BRANCH_PAGE => {
                    for i in 0..count(page)? {
                        let el = PAGE_HEADER + i * ELEMENT;
                        let child = u64_at(page, el + 8).ok_or_else(|| {
                            Corrupt(format!("branch page {id} element {i} out of bounds"))
                        })?;
                        self.walk(child, depth + 1, out)?;
                    }
                    Ok(())
                }
                LEAF_PAGE => leaf(page, out),
                _ => corrupt(format!(
                    "page {id} has flags {flags:#x}, not a branch or leaf"
                )),
            }
        }
    }

    fn count(page: &[u8]) -> Result<usize, Corrupt> {
        let n = u16_at(page, 10).ok_or_else(|| Corrupt("page header cut short".into()))? as usize;
        if PAGE_HEADER + n * ELEMENT > page.len() {
            return corrupt(format!(
                "{n} elements do not fit in a {}-byte page",
                page.len()
            ));
        }
        Ok(n)
    }

    /// The elements of a leaf page; keys and values sit at `pos` bytes from
    /// their own element header.
    fn leaf<'a>(page: &'a [u8], out: &mut Vec<(&'a [u8], Value<'a>)>) -> Result<(), Corrupt> {
        for i in 0..count(page)? {
            let el = PAGE_HEADER + i * ELEMENT;
            let field = |k: usize| u32_at(page, el + 4 * k).map(|v| v as usize);
            let (flags, pos, ksize, vsize) = match (field(0), field(1), field(2), field(3)) {
                (Some(f), Some(p), Some(k), Some(v)) => (f as u32, p, k, v),
                _ => return corrupt(format!("leaf element {i} out of bounds")),
            };
            let key_start = el + pos;
            let bytes = key_start
                .checked_add(ksize)
                .and_then(|ke| Some((ke, ke.checked_add(vsize)?)))
                .and_then(|(ke, ve)| Some((page.get(key_start..ke)?, page.get(ke..ve)?)));
            let Some((key, value)) = bytes else {
                return corrupt(format!("leaf element {i} points outside its page"));
            };
            let value = if flags & BUCKET_LEAF != 0 {
                let root = u64_at(value, 0)
                    .filter(|_| value.len() >= BUCKET_HEADER)
                    .ok_or_else(|| Corrupt(format!("bucket value of element {i} too short")))?;
                Value::Bucket(if root == 0 {
                    BucketRef::Inline(&value[BUCKET_HEADER..])
                } else {
                    BucketRef::Paged(root)
                })
            } else {
                Value::Data(value)
            };
            out.push((key, value));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
}
