//! Build leftovers: what builds and pulls leave on disk that `podman system
//! df` never shows. buildah's cache mounts (`buildah-cache[-<uid>]`), c/image's
//! pull temp dirs (`container_images_*`) and interrupted builds' dirs
//! (`buildah*`) in the temp dir podman uses, c/image's blob-info cache, and
//! containers libpod does not own (buildah working containers, the build
//! container an interrupted `podman build` leaves), with their writable
//! layers. Only what belongs to the user running the tool is counted: a
//! shared `/var/tmp` holds other users' too.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::resolve::BuildPlaces;
use crate::walk;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeftoverKind {
    /// `RUN --mount=type=cache` dirs (`buildah-cache`, `buildah-cache-<uid>`).
    CacheMount,
    /// `container_images_*`: a pull or copy that did not finish.
    PullTemp,
    /// `buildah*`: the temp dir of a build that did not finish.
    InterruptedBuild,
    /// `blob-info-cache-v1.{boltdb,sqlite}`.
    BlobInfoCache,
    /// A container in c/storage that is not libpod's.
    ExternalContainer,
}

impl LeftoverKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CacheMount => "cache mount",
            Self::PullTemp => "pull temp dir",
            Self::InterruptedBuild => "interrupted build dir",
            Self::BlobInfoCache => "blob-info cache",
            Self::ExternalContainer => "external container",
        }
    }

    /// What a temp-dir entry is, by the name buildah or c/image gives it.
    fn of_temp_entry(name: &str, uid: u32) -> Option<Self> {
        // podman 4.3's buildah (1.28) names it `buildah-cache`, later ones
        // add the uid.
        if name == "buildah-cache" || name == format!("buildah-cache-{uid}") {
            Some(Self::CacheMount)
        } else if name.starts_with("buildah-cache-") {
            None // another user's
        } else if name.starts_with("container_images_") {
            Some(Self::PullTemp)
        } else if name.starts_with("buildah") {
            Some(Self::InterruptedBuild)
        } else {
            None
        }
    }
}

/// One leftover, measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leftover {
    pub kind: LeftoverKind,
    pub path: PathBuf,
    /// `du -sb` of the path (for an external container: its writable
    /// layer's files, as the containers row counts podman's).
    pub bytes: u64,
    /// Part of it could not be measured: `bytes` is a lower bound.
    pub lower_bound: bool,
}

/// The leftovers in the temp dir and the blob-info cache, each walked
/// (one walk for all, one inode set); problems are in `errors`.
pub fn find(places: &BuildPlaces, uid: u32) -> (Vec<Leftover>, Vec<String>) {
    let mut found: Vec<(LeftoverKind, PathBuf)> = Vec::new();
    if let Some(tmp) = &places.tmp_dir {
        found.extend(temp_entries(tmp, uid));
    }
    if let Some(dir) = &places.blob_info_cache_dir {
        for name in ["blob-info-cache-v1.boltdb", "blob-info-cache-v1.sqlite"] {
            let p = dir.join(name);
            if owned_by(&p, uid) {
                found.push((LeftoverKind::BlobInfoCache, p));
            }
        }
    }
    let roots: Vec<PathBuf> = found.iter().map(|(_, p)| p.clone()).collect();
    let usages = walk::measure(&roots, &walk::WalkOptions::default());
    let mut errors = Vec::new();
    let items = found
        .into_iter()
        .zip(usages)
        .map(|((kind, path), u)| {
            errors.extend(
                u.errors
                    .iter()
                    .map(|e| format!("{}: {}", e.path.display(), e.message)),
            );
            Leftover {
                kind,
                path,
                bytes: u.apparent_bytes,
                lower_bound: u.incomplete(),
            }
        })
        .collect();
    (items, errors)
}

fn temp_entries(tmp: &Path, uid: u32) -> Vec<(LeftoverKind, PathBuf)> {
    let Ok(read) = std::fs::read_dir(tmp) else {
        return Vec::new();
    };
    let mut out: Vec<(LeftoverKind, PathBuf)> = read
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let kind = LeftoverKind::of_temp_entry(name.to_str()?, uid)?;
            let path = e.path();
            owned_by(&path, uid).then_some((kind, path))
        })
        .collect();
    out.sort();
    out
}

fn owned_by(path: &Path, uid: u32) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.uid() == uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_entries_are_told_apart_by_buildah_and_c_image_names() {
        use LeftoverKind as K;
        assert_eq!(K::of_temp_entry("buildah-cache-0", 0), Some(K::CacheMount));
        assert_eq!(K::of_temp_entry("buildah-cache", 0), Some(K::CacheMount));
        assert_eq!(K::of_temp_entry("buildah-cache-4242", 0), None);
        assert_eq!(
            K::of_temp_entry("container_images_storage123", 0),
            Some(K::PullTemp)
        );
        assert_eq!(
            K::of_temp_entry("buildah3881416307", 0),
            Some(K::InterruptedBuild)
        );
        assert_eq!(K::of_temp_entry("systemd-private-x", 0), None);
    }
}
