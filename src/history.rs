//! The snapshot history: one JSON file per snapshot in one directory, named
//! by its UTC time, so listing the directory orders and dates the history
//! without opening a file.
//!
//! Every file is written atomically (temp file in the same directory, fsync,
//! rename, fsync of the directory): a reader sees a snapshot complete or not
//! at all, whatever kills the writer. Temp files a killed writer left are
//! removed by the next write. Files the history did not write (foreign names,
//! torn or other JSON) are skipped with a warning, never fatal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// `kind` of a snapshot file, so a report saved by hand is told apart.
pub const SNAPSHOT_KIND: &str = "podman-storage-snapshot";

const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".json";
const TEMP_SUFFIX: &str = ".tmp";

/// Where the history lives by default: `/var/lib/podman-storage` for root,
/// else `$XDG_STATE_HOME/podman-storage` (`~/.local/state/podman-storage`).
pub fn default_dir(
    root: bool,
    home: Option<&Path>,
    xdg_state_home: Option<&Path>,
) -> Option<PathBuf> {
    if root {
        return Some(PathBuf::from("/var/lib/podman-storage"));
    }
    let base = match xdg_state_home {
        // A relative XDG_STATE_HOME is ignored, as the XDG spec requires.
        Some(x) if x.is_absolute() => x.to_path_buf(),
        _ => home?.join(".local/state"),
    };
    Some(base.join("podman-storage"))
}

/// The file name of a snapshot taken at `ms` (Unix milliseconds).
pub fn file_name(ms: i64) -> String {
    let (date, time) = utc_parts(ms);
    format!(
        "{PREFIX}{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z{SUFFIX}",
        date.0,
        date.1,
        date.2,
        time.0,
        time.1,
        time.2,
        ms.rem_euclid(1000)
    )
}

/// The time a snapshot file name carries; `None` for any other name.
pub fn parse_name(name: &str) -> Option<i64> {
    let t = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let b = t.as_bytes();
    if b.len() != 20 || b[8] != b'T' || b[15] != b'.' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let secs = civil_to_unix(
        num(0..4)?,
        num(4..6)?,
        num(6..8)?,
        num(9..11)?,
        num(11..13)?,
        num(13..15)?,
    )?;
    Some(secs * 1000 + num(16..19)?)
}

/// RFC 3339 UTC time of `ms`, to the second: `2026-11-30T00:10:47Z`.
pub fn format_utc(ms: i64) -> String {
    let ((y, mo, d), (h, mi, s)) = utc_parts(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Parses `2026-11-29`, `2026-11-29T12:00:00Z` or `2026-11-29 12:00:00`
/// (UTC) into Unix milliseconds.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').unwrap_or(t))),
        None => (s, None),
    };
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    if d.next().is_some() {
        return None;
    }
    let (h, mi, se) = match time {
        None => (0, 0, 0),
        Some(t) => {
            let mut p = t.split(':').map(|p| p.parse::<i64>().ok());
            let h = p.next()??;
            let mi = p.next()??;
            let se = p.next().unwrap_or(Some(0))?;
            if p.next().is_some() {
                return None;
            }
            (h, mi, se)
        }
    };
    Some(civil_to_unix(y, mo, da, h, mi, se)? * 1000)
}

fn civil_to_unix(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    let valid = (1..=12).contains(&mo)
        && (1..=days_in_month(y, mo)).contains(&d)
        && (0..24).contains(&h)
        && (0..60).contains(&mi)
        && (0..61).contains(&s);
    valid.then(|| days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn utc_parts(ms: i64) -> ((i64, i64, i64), (i64, i64, i64)) {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    ((y, m, d), (rem / 3600, rem % 3600 / 60, rem % 60))
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Writes `bytes` to `path` so that `path` is at every moment either its old
/// content or the new one in full: a temp file beside it (same file system,
/// so the rename is atomic), fsync, rename, fsync of the directory (so the
/// rename itself survives a crash). Temp files of earlier writers to the
/// same path that were killed are removed first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    remove_stale_temps(dir, Some(name));
    let tmp = dir.join(format!(
        ".{name}.{}.{:x}{TEMP_SUFFIX}",
        std::process::id(),
        random()
    ));
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn random() -> u64 {
    let mut b = [0u8; 8];
    if rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty()).is_err() {
        return now_ms() as u64;
    }
    u64::from_ne_bytes(b)
}

/// Removes `.NAME.PID.RAND.tmp` files in `dir` whose writer is gone (`only`:
/// just those for target NAME). A live writer's temp file is left alone.
/// Returns how many were removed.
pub fn remove_stale_temps(dir: &Path, only: Option<&str>) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((target, pid)) = temp_owner(name) else {
            continue;
        };
        if only.is_some_and(|o| o != target) || process_alive(pid) {
            continue;
        }
        if fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// `(target name, writer pid)` of a temp file name made by [`write_atomic`].
fn temp_owner(name: &str) -> Option<(&str, i32)> {
    let inner = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let (rest, _rand) = inner.rsplit_once('.')?;
    let (target, pid) = rest.rsplit_once('.')?;
    Some((target, pid.parse().ok()?))
}

fn process_alive(pid: i32) -> bool {
    if pid == std::process::id() as i32 {
        return true;
    }
    // Signal 0 checks existence; EPERM means it exists but is not ours.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// One snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    /// Unix milliseconds, from the name.
    pub taken_at: i64,
}

/// What a history directory holds.
#[derive(Debug, Default)]
pub struct Listing {
    /// Oldest first.
    pub entries: Vec<Entry>,
    /// Names that are neither snapshots nor our temp files.
    pub foreign: Vec<String>,
}

impl Listing {
    /// One line naming the foreign files, if any.
    pub fn foreign_warning(&self, dir: &Path) -> Option<String> {
        let first = self.foreign.first()?;
        Some(format!(
            "{}: skipped {} file(s) that are not snapshots (first: {first:?})",
            dir.display(),
            self.foreign.len()
        ))
    }
}

/// Lists a history directory by name only (no file is opened). A missing
/// directory is an empty history.
pub fn list(dir: &Path) -> io::Result<Listing> {
    let mut listing = Listing::default();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(listing),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        match parse_name(&name) {
            Some(taken_at) => listing.entries.push(Entry {
                path: e.path(),
                taken_at,
            }),
            None if temp_owner(&name).is_some() => {}
            None => listing.foreign.push(name.into_owned()),
        }
    }
    listing.entries.sort_by_key(|e| e.taken_at);
    listing.foreign.sort();
    Ok(listing)
}

/// Reads one snapshot file; `Err` says in one line why it is not one.
pub fn load(path: &Path) -> Result<Value, String> {
    let text = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: Value = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: not a complete JSON document ({e})", path.display()))?;
    if value.get("kind").and_then(Value::as_str) != Some(SNAPSHOT_KIND) {
        return Err(format!("{}: not a podman-storage snapshot", path.display()));
    }
    let schema = value.get("schema").and_then(Value::as_u64);
    if schema != Some(u64::from(crate::report::SCHEMA)) {
        return Err(format!(
            "{}: snapshot schema {schema:?}, this version reads {}",
            path.display(),
            crate::report::SCHEMA
        ));
    }
    Ok(value)
}

/// Writes a snapshot taken at `taken_at` into `dir` (created if need be).
pub fn write(dir: &Path, taken_at: i64, bytes: &[u8]) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let path = dir.join(file_name(taken_at));
    write_atomic(&path, bytes)?;
    // Killed writers for other names (an earlier snapshot's time) too.
    remove_stale_temps(dir, None);
    Ok(path)
}

/// Removes snapshots older than `keep_ms` before `now`; returns how many
/// went and one line per file that could not be removed.
pub fn prune(listing: &Listing, now: i64, keep_ms: i64) -> (usize, Vec<String>) {
    let cutoff = now.saturating_sub(keep_ms);
    let mut removed = 0;
    let mut errors = Vec::new();
    for e in listing.entries.iter().filter(|e| e.taken_at < cutoff) {
        match fs::remove_file(&e.path) {
            Ok(()) => removed += 1,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => errors.push(format!("cannot remove {}: {err}", e.path.display())),
        }
    }
    (removed, errors)
}

/// The newest snapshot taken at or before `at` that loads; each one skipped
/// on the way (torn, foreign JSON) is a warning line.
pub fn newest_at_or_before(listing: &Listing, at: i64) -> (Option<(Entry, Value)>, Vec<String>) {
    let mut skipped = Vec::new();
    for e in listing.entries.iter().rev().filter(|e| e.taken_at <= at) {
        match load(&e.path) {
            Ok(v) => return (Some((e.clone(), v)), skipped),
            Err(why) => skipped.push(format!("skipped {why}")),
        }
    }
    (None, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_time() {
        for ms in [0, 1_764_460_247_123, 951_782_400_000 /* 2000-02-29 */] {
            assert_eq!(parse_name(&file_name(ms)), Some(ms), "{}", file_name(ms));
        }
        assert_eq!(
            file_name(1_796_000_000_001),
            "snapshot-20261130T005320.001Z.json"
        );
        assert_eq!(parse_name("snapshot-20261131T000000.000Z.json"), None);
        assert_eq!(parse_name("snapshot-2026113xT000000.000Z.json"), None);
        assert_eq!(parse_name("notes.txt"), None);
    }

    #[test]
    fn dates_parse_as_utc() {
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_date("2026-11-30T00:53:20Z"), Some(1_796_000_000_000));
        assert_eq!(parse_date("2026-11-30 00:53:20"), Some(1_796_000_000_000));
        assert_eq!(format_utc(1_796_000_000_999), "2026-11-30T00:53:20Z");
        assert_eq!(parse_date("2026-02-29"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn atomic_write_leaves_no_temp_and_stale_temps_go() {
        let dir = tempfile::tempdir().unwrap();
        // A temp file of a writer that no longer exists (pid far above pid_max).
        let stale = dir.path().join(".out.prom.999999999.ab.tmp");
        fs::write(&stale, "half").unwrap();
        let target = dir.path().join("out.prom");
        write_atomic(&target, b"x 1\n").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"x 1\n");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["out.prom"]);
    }

    #[test]
    fn listing_skips_foreign_names_and_loading_rejects_torn_files() {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            "{{\"kind\":\"{SNAPSHOT_KIND}\",\"schema\":{}}}",
            crate::report::SCHEMA
        );
        let old = write(dir.path(), 1_000_000, body.as_bytes()).unwrap();
        let torn = dir.path().join(file_name(2_000_000));
        fs::write(&torn, &body[..body.len() / 2]).unwrap();
        fs::write(dir.path().join("README"), "hi").unwrap();
        let l = list(dir.path()).unwrap();
        assert_eq!(l.entries.len(), 2);
        assert_eq!(l.foreign, ["README"]);
        let (found, skipped) = newest_at_or_before(&l, 3_000_000);
        assert_eq!(found.unwrap().0.path, old);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].contains("not a complete JSON"), "{skipped:?}");
        let (removed, errors) = prune(&l, 2_500_000, 1_000_000);
        assert_eq!((removed, errors.len()), (1, 0));
        assert!(!old.exists() && torn.exists());
    }
}
