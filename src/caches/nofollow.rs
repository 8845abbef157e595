//! Directory access that never follows a symlink below the root it was given.
//!
//! Everything below a cache root is reached with `openat`/`statat`/`unlinkat`
//! relative to a directory fd opened with `O_NOFOLLOW`: a blob that is a
//! symlink is seen (and removed) as a link, and a directory swapped for a
//! symlink between listing and removal makes the open fail instead of leading
//! the removal out of the cache. Only the root itself is opened by path, and
//! it follows symlinks: that path is the user's own choice.
//!
//! Sizes are apparent sizes from `lstat` (`st_size`), the figure `du -sb`
//! adds up; a file with several hard links inside one tree counts once, as in
//! `du`.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use rustix::fs::{self as rfs, AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

/// Deeper trees than this are reported, not walked: no cache nests this deep,
/// and each level holds an open fd.
const MAX_DEPTH: usize = 128;

/// Directories with at least this many entries are `lstat`ed in parallel.
const PARALLEL_STAT_MIN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// One directory entry with its `lstat` data.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: OsString,
    pub kind: EntryKind,
    pub size: u64,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub atime: SystemTime,
    pub mtime: SystemTime,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Entry {
    // `stat` field types differ between targets; the casts are no-ops on some.
    #[allow(clippy::unnecessary_cast)]
    pub(crate) fn from_stat(name: OsString, st: &Stat) -> Entry {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => EntryKind::File,
            FileType::Directory => EntryKind::Dir,
            FileType::Symlink => EntryKind::Symlink,
            _ => EntryKind::Other,
        };
        Entry {
            name,
            kind,
            size: u64::try_from(st.st_size).unwrap_or(0),
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            nlink: st.st_nlink as u64,
            atime: time(st.st_atime as i64, st.st_atime_nsec as u64),
            mtime: time(st.st_mtime as i64, st.st_mtime_nsec as u64),
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
        }
    }

    /// When the file was last read or written, as far as the file system
    /// tells: the later of atime and mtime. Under the default `relatime`
    /// mount option atime is only refreshed once a day (or when older than
    /// mtime), so this is exact to within 24 hours.
    pub fn last_used(&self) -> SystemTime {
        self.atime.max(self.mtime)
    }

    pub fn name_str(&self) -> Option<&str> {
        self.name.to_str()
    }
}

/// The device a `stat` names, as [`Entry::dev`] holds it.
// `stat` field types differ between targets; the cast is a no-op on some.
#[allow(clippy::unnecessary_cast)]
pub fn device(st: &Stat) -> u64 {
    st.st_dev as u64
}

fn time(secs: i64, nsecs: u64) -> SystemTime {
    let nanos = Duration::from_nanos(nsecs);
    match u64::try_from(secs) {
        Ok(s) => UNIX_EPOCH + Duration::from_secs(s) + nanos,
        Err(_) => UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + nanos,
    }
}

/// Opens a cache root (following a symlink at the root itself).
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    Ok(rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens a subdirectory; fails with `ELOOP`/`ENOTDIR` if `name` is a symlink.
pub fn open_dir(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens a file for reading; fails with `ELOOP` if `name` is a symlink.
pub fn open_file(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<std::fs::File> {
    let fd = rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    Ok(std::fs::File::from(fd))
}

/// Every entry of a directory with its `lstat` data. Entries that vanish
/// between `readdir` and `lstat` (a concurrent writer renaming a temp file)
/// are skipped. Large directories (a layout's `blobs/sha256`) are `lstat`ed
/// from several threads: the kernel serves them on both cores.
pub fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<Entry>> {
    let mut names = Vec::new();
    for item in Dir::read_from(dir)? {
        let item = item?;
        let name = item.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    let stat = |name: OsString| match rfs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(Entry::from_stat(name, &st))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(io::Error::from(e)),
    };
    let stated: io::Result<Vec<Option<Entry>>> = if names.len() >= PARALLEL_STAT_MIN {
        names.into_par_iter().with_min_len(256).map(stat).collect()
    } else {
        names.into_iter().map(stat).collect()
    };
    Ok(stated?.into_iter().flatten().collect())
}

/// Removes one non-directory entry (a symlink is removed as a link).
pub fn unlink(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    Ok(rfs::unlinkat(dir, name, AtFlags::empty())?)
}

/// One-line error naming the path.
pub fn describe(path: &Path, err: &io::Error) -> String {
    format!("{}: {}", path.display(), err)
}

/// Adds up apparent sizes, counting a hard-linked file once.
#[derive(Debug, Default)]
pub struct Tally {
    seen: HashSet<(u64, u64)>,
    /// Apparent bytes of every non-directory entry.
    pub bytes: u64,
    /// Non-directory entries.
    pub files: u64,
    /// One line per failure, naming the path.
    pub errors: Vec<String>,
}

impl Tally {
    /// Counts one entry; directories add nothing (their `st_size` is
    /// file-system bookkeeping, not content). Returns the bytes added.
    pub fn add(&mut self, e: &Entry) -> u64 {
        if e.kind == EntryKind::Dir {
            return 0;
        }
        if e.nlink > 1 && !self.seen.insert((e.dev, e.ino)) {
            return 0;
        }
        // Saturating: sparse files' apparent sizes can pass u64::MAX.
        self.bytes = self.bytes.saturating_add(e.size);
        self.files += 1;
        e.size
    }

    /// Counts everything below `name` (a directory inside `dir`).
    pub fn add_tree(&mut self, dir: BorrowedFd<'_>, name: &OsStr, path: &Path) {
        self.walk(dir, name, path, 0);
    }

    fn walk(&mut self, dir: BorrowedFd<'_>, name: &OsStr, path: &Path, depth: usize) {
        if depth > MAX_DEPTH {
            self.errors
                .push(format!("{}: nested too deep, not measured", path.display()));
            return;
        }
        let fd = match open_dir(dir, name) {
            Ok(fd) => fd,
            Err(e) => return self.errors.push(describe(path, &e)),
        };
        let entries = match list(fd.as_fd()) {
            Ok(entries) => entries,
            Err(e) => return self.errors.push(describe(path, &e)),
        };
        for e in &entries {
            if e.kind == EntryKind::Dir {
                self.walk(fd.as_fd(), &e.name, &path.join(&e.name), depth + 1);
            } else {
                self.add(e);
            }
        }
    }

    /// Measures the contents of an open directory (the root itself is not an entry).
    pub fn add_contents(&mut self, fd: BorrowedFd<'_>, path: &Path) {
        match list(fd) {
            Ok(entries) => {
                for e in &entries {
                    if e.kind == EntryKind::Dir {
                        self.walk(fd, &e.name, &path.join(&e.name), 1);
                    } else {
                        self.add(e);
                    }
                }
            }
            Err(e) => self.errors.push(describe(path, &e)),
        }
    }

    /// Removes `name` (a directory inside `dir`) and everything below it,
    /// counting what was removed. Failures are recorded and the rest goes on;
    /// a directory that could not be emptied is left in place. Nothing on
    /// another file system than `dir` is removed (see [`Self::refuse_mount`]).
    pub fn remove_tree(&mut self, dir: BorrowedFd<'_>, name: &OsStr, path: &Path) {
        self.removal(dir, name, path, false);
    }

    /// What [`Self::remove_tree`] would remove, counted and not removed: a
    /// dry run's figure, with the same refusals.
    pub fn count_removable(&mut self, dir: BorrowedFd<'_>, name: &OsStr, path: &Path) {
        self.removal(dir, name, path, true);
    }

    fn removal(&mut self, dir: BorrowedFd<'_>, name: &OsStr, path: &Path, dry: bool) {
        let root_dev = match rfs::fstat(dir) {
            Ok(st) => device(&st),
            Err(e) => return self.errors.push(describe(path, &e.into())),
        };
        match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if device(&st) != root_dev => self.refused(path),
            Ok(_) => {
                self.remove_walk(dir, name, path, 0, root_dev, dry);
            }
            Err(Errno::NOENT) => {}
            Err(e) => self.errors.push(describe(path, &e.into())),
        }
    }

    /// Returns false when something below was left on purpose (a mount),
    /// so the directories above it are not tried and reported again.
    fn remove_walk(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        path: &Path,
        depth: usize,
        root_dev: u64,
        dry: bool,
    ) -> bool {
        if depth > MAX_DEPTH {
            self.errors
                .push(format!("{}: nested too deep, not removed", path.display()));
            return false;
        }
        let fd = match open_dir(dir, name) {
            Ok(fd) => fd,
            Err(e) => {
                self.errors.push(describe(path, &e));
                return false;
            }
        };
        let entries = match list(fd.as_fd()) {
            Ok(entries) => entries,
            Err(e) => {
                self.errors.push(describe(path, &e));
                return false;
            }
        };
        let mut emptied = true;
        for e in &entries {
            let child = path.join(&e.name);
            if self.refuse_mount(e, root_dev, &child) {
                emptied = false;
            } else if e.kind == EntryKind::Dir {
                emptied &= self.remove_walk(fd.as_fd(), &e.name, &child, depth + 1, root_dev, dry);
            } else if dry {
                self.add(e);
            } else {
                self.remove_file(fd.as_fd(), e, &child);
            }
        }
        if emptied && !dry {
            if let Err(e) = rfs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
                self.errors.push(describe(path, &e.into()));
            }
        }
        emptied
    }

    /// A removal never crosses into another file system (`rm
    /// --one-file-system`): an entry whose device is not `root_dev` (a mount
    /// point, a bind-mounted file) is reported and left, with all below it.
    /// Returns true when `e` was refused.
    pub fn refuse_mount(&mut self, e: &Entry, root_dev: u64, path: &Path) -> bool {
        if e.dev == root_dev {
            return false;
        }
        self.refused(path);
        true
    }

    fn refused(&mut self, path: &Path) {
        self.errors.push(format!(
            "{}: on another file system (a mount point); left alone",
            path.display()
        ));
    }

    /// Removes one non-directory entry and counts it if that worked.
    pub fn remove_file(&mut self, dir: BorrowedFd<'_>, e: &Entry, path: &Path) -> bool {
        match unlink(dir, &e.name) {
            Ok(()) => {
                self.add(e);
                true
            }
            // Gone already (a concurrent writer or prune): nothing freed, no failure.
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => false,
            Err(err) => {
                self.errors.push(describe(path, &err));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_hard_links_once_and_ignores_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        std::fs::write(tmp.path().join("a"), b"12345").unwrap();
        std::fs::hard_link(tmp.path().join("a"), tmp.path().join("sub/b")).unwrap();
        std::fs::write(tmp.path().join("sub/c"), b"123").unwrap();
        let root = open_root(tmp.path()).unwrap();
        let mut t = Tally::default();
        t.add_contents(root.as_fd(), tmp.path());
        assert_eq!((t.bytes, t.files), (8, 2));
        assert!(t.errors.is_empty());
    }

    #[test]
    fn remove_tree_unlinks_symlinks_without_touching_targets() {
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("precious");
        std::fs::write(&target, b"keep me").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let doomed = tmp.path().join("doomed");
        std::fs::create_dir(&doomed).unwrap();
        std::os::unix::fs::symlink(&target, doomed.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), doomed.join("dirlink")).unwrap();
        let root = open_root(tmp.path()).unwrap();
        let mut t = Tally::default();
        t.remove_tree(root.as_fd(), OsStr::new("doomed"), &doomed);
        assert!(t.errors.is_empty(), "{:?}", t.errors);
        assert!(!doomed.exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
        assert_eq!(t.files, 2);
    }

    #[test]
    fn open_dir_refuses_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/", tmp.path().join("up")).unwrap();
        let root = open_root(tmp.path()).unwrap();
        assert!(open_dir(root.as_fd(), OsStr::new("up")).is_err());
    }
}
