//! go-containerregistry flat layer caches (`pkg/v1/cache/fs.go`).
//!
//! The format, as `fs.go` writes it: one flat directory (created `0700`),
//! one file per layer named by the digest's string form, `sha256:<hex>`
//! (`<alg>-<hex>` on Windows, accepted here too for caches copied over).
//! The compressed layer is stored under its digest and the uncompressed one
//! under its diffID, so both are plain `<alg>:<hex>` files: go-containerregistry
//! never writes a `.uncompressed` suffix, but a `<digest>.uncompressed` file
//! is still counted as a blob so a wrapper's cache is recognised. Files are
//! written in place through a tee while the layer streams (no temp name), so
//! an interrupted pull leaves a short file under the final name; `Get` deletes
//! it when it hits `io.ErrUnexpectedEOF`. Other names that start with a digest
//! prefix, or end in `.tmp`, are temp/partial files of wrappers that write and
//! rename. Nothing else belongs in such a directory: a subdirectory or any
//! other file makes it `unknown`, which is measured but never pruned.

use std::os::fd::BorrowedFd;
use std::path::Path;

use super::digest::{Algorithm, Digest};
use super::nofollow::{self, Entry, EntryKind, Tally};

/// What a file name in a flat cache is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    Blob(Digest),
    /// A partial or temporary file.
    Temp,
    /// Not something go-containerregistry or a wrapper of it writes.
    Foreign,
}

pub fn classify_name(name: &str) -> Name {
    let stem = name.strip_suffix(".uncompressed").unwrap_or(name);
    for alg in Algorithm::ALL {
        for sep in [':', '-'] {
            if let Some(rest) = stem
                .strip_prefix(alg.name())
                .and_then(|r| r.strip_prefix(sep))
            {
                return match Digest::new(alg, rest) {
                    Some(d) => Name::Blob(d),
                    None => Name::Temp,
                };
            }
        }
    }
    if name.ends_with(".tmp") {
        Name::Temp
    } else {
        Name::Foreign
    }
}

/// A directory is a flat cache when it holds nothing but blobs and temp
/// files (an empty directory qualifies: it is what a pruned cache looks like).
pub fn looks_like(entries: &[Entry]) -> bool {
    entries.iter().all(|e| {
        e.kind != EntryKind::Dir
            && e.name_str()
                .is_some_and(|n| classify_name(n) != Name::Foreign)
    })
}

/// The contents of a flat cache.
#[derive(Debug, Default)]
pub struct Scan {
    pub blobs: Vec<(Digest, Entry)>,
    pub temp: Vec<Entry>,
    /// Entries no flat cache holds (a subdirectory, a foreign file): seen
    /// when the directory changed since it was classified. Measured, never
    /// listed as blobs, and prune leaves such a directory alone.
    pub foreign: Vec<Entry>,
    /// Everything below the root, with hard links once.
    pub tally: Tally,
    pub blob_bytes: u64,
}

impl Scan {
    pub fn still_flat(&self) -> bool {
        self.foreign.is_empty()
    }
}

/// Sorts a listing of the cache root into blobs, temp and foreign entries.
pub fn scan(root: BorrowedFd<'_>, entries: Vec<Entry>, path: &Path) -> Scan {
    let mut scan = Scan::default();
    for e in entries {
        if e.kind == EntryKind::Dir {
            scan.tally.add_tree(root, &e.name, &path.join(&e.name));
            scan.foreign.push(e);
            continue;
        }
        let added = scan.tally.add(&e);
        match e.name_str().map(classify_name) {
            Some(Name::Blob(d)) => {
                scan.blob_bytes = scan.blob_bytes.saturating_add(added);
                scan.blobs.push((d, e));
            }
            Some(Name::Temp) => scan.temp.push(e),
            Some(Name::Foreign) | None => scan.foreign.push(e),
        }
    }
    scan.blobs.sort_by(|a, b| a.0.cmp(&b.0));
    scan
}

/// Lists the cache root again (used by prune after taking the lock).
pub fn rescan(root: BorrowedFd<'_>, path: &Path) -> std::io::Result<Scan> {
    let entries = nofollow::list(root)?;
    Ok(scan(root, entries, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0688de4d91f91c369354e14320b9c498ef0bf7cfffcf9a61c7ea7f269545c0f3";

    #[test]
    fn classifies_names() {
        assert!(matches!(
            classify_name(&format!("sha256:{HEX}")),
            Name::Blob(_)
        ));
        assert!(matches!(
            classify_name(&format!("sha256-{HEX}")),
            Name::Blob(_)
        ));
        assert!(matches!(
            classify_name(&format!("sha256:{HEX}.uncompressed")),
            Name::Blob(_)
        ));
        assert_eq!(classify_name(&format!("sha256:{HEX}123456")), Name::Temp);
        assert_eq!(classify_name("sha256:abc"), Name::Temp);
        assert_eq!(classify_name("layer.tmp"), Name::Temp);
        assert_eq!(classify_name("notes.txt"), Name::Foreign);
        assert_eq!(classify_name("oci-layout"), Name::Foreign);
        assert_eq!(classify_name(HEX), Name::Foreign);
    }
}
