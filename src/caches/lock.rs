//! One prune per cache at a time.
//!
//! The lock is an exclusive `flock` on `<parent>/.<name>.podman-storage-lock`,
//! a sibling of the cache directory, not a file inside it: a whole-cache
//! prune swaps the cache directory for an empty one, and a lock file inside
//! would move with the old contents, letting a second prune lock the new,
//! empty directory while the first is still deleting. The sibling stays put
//! across the swap. The path is resolved first (`canonicalize`), so two
//! spellings of one cache share one lock. The holder writes its pid into the
//! file so a second prune can say who holds it; the file itself is left in
//! place afterwards (removing a lock file races with the next locker).

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};
use rustix::io::Errno;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LockError {
    #[error("{cache}: another prune holds the lock {} ({})", lock.display(), holder(*pid))]
    Held {
        cache: PathBuf,
        lock: PathBuf,
        pid: Option<u32>,
    },
    #[error("{}: cannot lock: {source}", lock.display())]
    Io {
        lock: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: has no parent directory to hold its lock", cache.display())]
    NoParent { cache: PathBuf },
}

fn holder(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("pid {pid}"),
        None => "pid unknown".to_string(),
    }
}

/// Held until dropped (closing the file releases the `flock`).
#[derive(Debug)]
pub struct PruneLock {
    file: File,
    path: PathBuf,
}

/// Where the lock for a (canonical) cache path lives.
pub fn lock_path(cache: &Path) -> Option<PathBuf> {
    let parent = cache.parent()?;
    let mut name = OsString::from(".");
    name.push(cache.file_name()?);
    name.push(".podman-storage-lock");
    Some(parent.join(name))
}

impl PruneLock {
    /// Takes the lock without waiting; `cache` must already be canonical.
    pub fn acquire(cache: &Path) -> Result<PruneLock, LockError> {
        let path = lock_path(cache).ok_or_else(|| LockError::NoParent {
            cache: cache.to_path_buf(),
        })?;
        let io = |source| LockError::Io {
            lock: path.clone(),
            source,
        };
        let mut opts = OpenOptions::new();
        opts.read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .mode(0o644);
        // Read-write to record our pid; read-only is enough for flock when
        // another user (say root) created the file.
        let file = match opts.clone().write(true).create(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                opts.open(&path).map_err(io)?
            }
            Err(e) => return Err(io(e)),
        };
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => {
                return Err(LockError::Held {
                    cache: cache.to_path_buf(),
                    pid: read_pid(&file),
                    lock: path,
                })
            }
            Err(e) => return Err(io(e.into())),
        }
        let mut lock = PruneLock { file, path };
        // Best effort: a read-only handle cannot record the pid.
        let _ = lock.record_pid();
        Ok(lock)
    }

    fn record_pid(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        writeln!(self.file, "{}", std::process::id())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PruneLock {
    fn drop(&mut self) {
        // Clear the pid before the flock goes with the fd, so a stale pid is
        // never read as the holder's.
        let _ = self.file.set_len(0);
    }
}

fn read_pid(mut file: &File) -> Option<u32> {
    let mut s = String::new();
    file.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_and_names_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        std::fs::create_dir(&cache).unwrap();
        let held = PruneLock::acquire(&cache).unwrap();
        assert_eq!(held.path(), tmp.path().join(".cache.podman-storage-lock"));
        match PruneLock::acquire(&cache) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(held);
        PruneLock::acquire(&cache).unwrap();
    }
}
