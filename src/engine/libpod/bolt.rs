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
mod tests;
