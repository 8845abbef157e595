//! Finds one blob in the caches, for `why DIGEST`: where it is, its size,
//! and what references it.

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::path::PathBuf;

use serde::Serialize;

use super::digest::Digest;
use super::discover::Discovered;
use super::nofollow;
use super::oci_layout::{self, Referrer};
use super::Kind;

/// One copy of the blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobSite {
    /// The cache or layout it is in.
    pub cache: PathBuf,
    pub kind: Kind,
    /// The blob file itself.
    pub path: PathBuf,
    /// Its apparent size (`lstat` `st_size`).
    pub bytes: u64,
    /// OCI layouts: each path from `index.json` to it, empty for an orphan.
    /// `null` where nothing can reference a blob (a flat cache) or the
    /// references are not traced here (a registry).
    pub referrers: Option<Vec<Referrer>>,
    /// Why `referrers` is unknown for a layout whose references cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every cache in `found` that holds `digest`.
pub fn locate(found: &[Discovered], digest: &Digest) -> Vec<BlobSite> {
    found.iter().filter_map(|f| site(f, digest)).collect()
}

fn site(found: &Discovered, digest: &Digest) -> Option<BlobSite> {
    let root = nofollow::open_root(&found.path).ok()?;
    let entries = nofollow::list(root.as_fd()).ok()?;
    let kind = super::classify_at(root.as_fd(), &entries);
    let (path, bytes) = match kind {
        Kind::OciLayout => {
            let dirs = oci_layout::BlobDirs::open(root.as_fd()).ok()?;
            let dir = dirs.dir(digest.algorithm())?;
            let file = nofollow::open_file(dir, OsStr::new(digest.hex())).ok()?;
            let bytes = file.metadata().ok()?.len();
            (oci_layout::blob_path(&found.path, digest), bytes)
        }
        Kind::Fscache => {
            let name = digest.to_string();
            let file = nofollow::open_file(root.as_fd(), OsStr::new(&name)).ok()?;
            (found.path.join(name), file.metadata().ok()?.len())
        }
        Kind::Registry => {
            let hex = digest.hex();
            let path = found
                .path
                .join("docker/registry/v2/blobs")
                .join(digest.algorithm().name())
                .join(&hex[..2])
                .join(hex)
                .join("data");
            let meta = std::fs::symlink_metadata(&path).ok()?;
            (path, meta.len())
        }
        Kind::Unknown | Kind::Missing => return None,
    };
    let (referrers, error) = match kind {
        Kind::OciLayout => match oci_layout::referrers(&found.path, digest) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        },
        _ => (None, None),
    };
    Some(BlobSite {
        cache: found.path.clone(),
        kind,
        path,
        bytes,
        referrers,
        error,
    })
}
