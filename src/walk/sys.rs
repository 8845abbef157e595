//! The four system calls a walk is made of: `openat`, `getdents64`,
//! `fstatat` and `fstat`, wrapped so the rest of the walk is safe code.
//!
//! Everything works on names relative to an open directory: the kernel then
//! resolves one component per entry instead of a whole path, and no path is
//! ever built except for an error message.

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The fields of `struct stat` a walk needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    /// `st_size`, what `du --apparent-size` adds up.
    pub size: u64,
    /// `st_blocks * 512`, what `du` adds up by default.
    pub disk: u64,
}

impl Stat {
    fn from_raw(st: &libc::stat) -> Stat {
        Stat {
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            // `nlink_t` is u64 on x86_64 and u32 on aarch64.
            #[allow(clippy::useless_conversion)]
            nlink: u64::from(st.st_nlink),
            // Negative sizes do not occur on Linux file systems; treat one as
            // empty rather than wrapping to 16 EB.
            size: u64::try_from(st.st_size).unwrap_or(0),
            disk: u64::try_from(st.st_blocks).unwrap_or(0).saturating_mul(512),
        }
    }

    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
}

/// `lstat` of `name` relative to the directory `dir` (or the current
/// directory for `libc::AT_FDCWD`): symlinks are never followed.
pub(super) fn lstat_at(dir: RawFd, name: &CStr) -> io::Result<Stat> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `name` is NUL-terminated and `st` is a valid out-pointer.
    let rc = unsafe {
        libc::fstatat(
            dir,
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstatat succeeded, so it filled `st`.
    Ok(Stat::from_raw(unsafe { st.assume_init_ref() }))
}

/// `fstat` of an open descriptor.
pub(super) fn fstat(fd: &OwnedFd) -> io::Result<Stat> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `fd` is open and `st` is a valid out-pointer.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded, so it filled `st`.
    Ok(Stat::from_raw(unsafe { st.assume_init_ref() }))
}

/// Opens the directory `name` relative to `dir` for reading its entries.
///
/// With `follow_last == false` a symlink (even one swapped in after we
/// stat'ed a directory there) fails with `ELOOP` instead of leading the walk
/// out of the tree; `O_DIRECTORY` likewise refuses anything not a directory,
/// so a FIFO put in its place cannot block us.
pub(super) fn open_dir_at(dir: RawFd, name: &CStr, follow_last: bool) -> io::Result<OwnedFd> {
    let mut flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOCTTY;
    if !follow_last {
        flags |= libc::O_NOFOLLOW;
    }
    loop {
        // SAFETY: `name` is NUL-terminated; the returned descriptor is owned below.
        let fd = unsafe { libc::openat(dir, name.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: `fd` was just opened and nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Size of the buffer handed to `getdents64`. glibc's `readdir` uses 32 KiB;
/// twice that halves the calls on large directories (a blob cache holds
/// thousands of entries in one directory) at no cost worth counting.
pub(super) const DIRENT_BUF: usize = 64 * 1024;

/// Offset of `d_name` in `struct linux_dirent64`
/// (`u64 d_ino, i64 d_off, u16 d_reclen, u8 d_type, char d_name[]`).
const NAME_OFFSET: usize = 19;

/// Reads the next batch of entries of `dir` into `buf`; `Ok(0)` at the end.
///
/// Raw `getdents64` rather than `fdopendir`/`readdir`: `fdopendir` costs an
/// `fstat` and an `fcntl` per directory and a heap-allocated `DIR`, and
/// the entries are parsed straight out of our own buffer.
pub(super) fn getdents(dir: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir,
                buf.as_mut_ptr().cast::<libc::c_void>(),
                buf.len(),
            )
        };
        if n >= 0 {
            // Bounded by buf.len(), so it fits.
            return Ok(usize::try_from(n).unwrap_or(0).min(buf.len()));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// The names in one `getdents64` batch, without `.` and `..`.
pub(super) struct Names<'b> {
    buf: &'b [u8],
}

impl<'b> Names<'b> {
    /// `buf` is the filled part of a buffer passed to [`getdents`].
    pub fn new(buf: &'b [u8]) -> Self {
        Names { buf }
    }
}

impl<'b> Iterator for Names<'b> {
    type Item = &'b CStr;

    fn next(&mut self) -> Option<&'b CStr> {
        loop {
            let reclen_bytes = self.buf.get(16..18)?;
            let reclen = usize::from(u16::from_ne_bytes([reclen_bytes[0], reclen_bytes[1]]));
            // A record the kernel would never produce ends the batch rather
            // than reading out of bounds or looping forever.
            if reclen <= NAME_OFFSET || reclen > self.buf.len() {
                self.buf = &[];
                return None;
            }
            let (record, rest) = self.buf.split_at(reclen);
            self.buf = rest;
            let Ok(name) = CStr::from_bytes_until_nul(&record[NAME_OFFSET..]) else {
                continue;
            };
            match name.to_bytes() {
                b"." | b".." => continue,
                _ => return Some(name),
            }
        }
    }
}

/// How many descriptors this process may have open (`RLIMIT_NOFILE`, soft).
pub(super) fn open_file_limit() -> u64 {
    let mut lim = MaybeUninit::<libc::rlimit>::uninit();
    // SAFETY: `lim` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, lim.as_mut_ptr()) } != 0 {
        return 1024;
    }
    // SAFETY: getrlimit succeeded, so it filled `lim`.
    unsafe { lim.assume_init() }.rlim_cur
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    fn record(name: &[u8]) -> Vec<u8> {
        let reclen = (NAME_OFFSET + name.len() + 1).next_multiple_of(8);
        let mut r = vec![0u8; reclen];
        r[16..18].copy_from_slice(&(reclen as u16).to_ne_bytes());
        r[NAME_OFFSET..NAME_OFFSET + name.len()].copy_from_slice(name);
        r
    }

    #[test]
    fn names_skip_dot_entries_and_stop_at_garbage() {
        let mut buf = Vec::new();
        for n in [&b"."[..], b"..", b"a", b"..b", b"\xff\xfe"] {
            buf.extend(record(n));
        }
        buf.extend([0u8; 18]); // reclen 0: malformed, must end the batch
        buf.extend(record(b"never"));
        let names: Vec<&[u8]> = Names::new(&buf).map(CStr::to_bytes).collect();
        assert_eq!(names, vec![&b"a"[..], b"..b", b"\xff\xfe"]);
    }

    #[test]
    fn reads_a_real_directory() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..2000 {
            std::fs::write(tmp.path().join(format!("f{i:04}")), b"x").unwrap();
        }
        let path = CString::new(tmp.path().as_os_str().as_encoded_bytes()).unwrap();
        let fd = open_dir_at(libc::AT_FDCWD, &path, false).unwrap();
        // A small buffer forces several batches.
        let mut buf = vec![0u8; 1024];
        let mut seen = Vec::new();
        loop {
            let n = getdents(fd.as_raw_fd(), &mut buf).unwrap();
            if n == 0 {
                break;
            }
            for name in Names::new(&buf[..n]) {
                let st = lstat_at(fd.as_raw_fd(), name).unwrap();
                assert_eq!(st.size, 1);
                seen.push(name.to_bytes().to_vec());
            }
        }
        seen.sort();
        assert_eq!(seen.len(), 2000);
        assert_eq!(seen[0], b"f0000");
        assert!(fstat(&fd).unwrap().is_dir());
    }
}
