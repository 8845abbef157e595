//! Store metadata: what a graph root holds besides image layers, writable
//! layers, volumes and logs. libpod's database, c/storage's records
//! (`*-images/`, `*-layers/` with each layer's `tar-split.gz`,
//! `*-containers/` with each container's userdata), `overlay/l` links,
//! staging and temp dirs, and the directories themselves.
//!
//! Classified by walking, never a residual: one walk of the graph root (one
//! inode set, no mount point crossed, no symlink followed) where each path
//! goes to the line that counts it. What the other lines count in full
//! (vfs layers, volumes, images' big-data files, logs) is fenced off, not
//! walked again. Diff dirs of overlay layers and writable layers are walked:
//! their lines count only non-directories (c/storage's `diff-size` and
//! podman's `rwSize` both leave directories out), so the directories inside
//! them are metadata.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::local::LocalState;
use super::resolve::StoreLocation;
use crate::walk;

/// The store-metadata figure, by part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreMetadata {
    pub graphroot: PathBuf,
    pub bytes: u64,
    /// Bytes per part (`database`, `image records`, ...), summing to `bytes`.
    pub parts: BTreeMap<String, u64>,
    /// Bytes of the paths left out because another line counts them
    /// (containers' logs): not in `bytes`.
    pub excluded_bytes: u64,
    /// Problems met while walking: `bytes` is then a lower bound.
    pub errors: Vec<String>,
}

/// How the walk treats one root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Counted whole by another line: fenced off, not walked.
    Owned,
    /// Counted by another line; its bytes are reported as excluded.
    Excluded,
    /// A diff dir whose line counts the non-directories: its directories
    /// are metadata (`layer directories`).
    Files,
    /// Counted whole by another line, which takes its figure from this
    /// walk ([`measure_with_roots`]): a volume measured with the store.
    Measured,
    /// A writable layer whose line takes its non-directories from this walk
    /// ([`measure_with_roots`]); its directories are metadata, as [`Files`].
    ///
    /// [`Files`]: Role::Files
    Writable,
    /// Metadata, all of it, under this part's name.
    Part(&'static str),
}

const DIRS_IN_LAYERS: &str = "layer directories";

/// The default k8s-file log of each container: `<userdata>/ctr.log`. Until
/// `Container.log` names each container's real log path, these are the
/// paths [`measure`] leaves out.
pub fn default_log_paths(state: &LocalState) -> BTreeSet<PathBuf> {
    let dir = state
        .graphroot
        .join(format!("{}-containers", state.store.driver));
    state
        .libpod
        .containers
        .iter()
        .map(|c| dir.join(&c.id).join("userdata").join("ctr.log"))
        .collect()
}

/// The roots of the walk, earliest first: an earlier root keeps later ones
/// out of it, so what another line counts comes before the graph root.
/// Writable layers and volumes come first, as in the walk that measures them
/// for their own lines: a file hard-linked into one counts there. With
/// `lines_walked` this walk measures them for their lines too
/// ([`Role::Writable`], [`Role::Measured`]); otherwise the volumes in the
/// graph root are fenced off.
pub fn plan(
    state: &LocalState,
    volumes: &[PathBuf],
    lines_walked: bool,
    excluded: &BTreeSet<PathBuf>,
) -> Vec<(PathBuf, Role)> {
    let root = &state.graphroot;
    let driver = &state.store.driver;
    let loc = StoreLocation::new(root.clone(), driver);
    let mut roots: Vec<(PathBuf, Role)> = Vec::new();
    roots.extend(excluded.iter().map(|p| (p.clone(), Role::Excluded)));
    // The containers line counts a writable layer's non-directories, on
    // vfs too (where the layer is a whole tree).
    let writable = if lines_walked {
        Role::Writable
    } else {
        Role::Files
    };
    for c in state.store.containers.values() {
        roots.push((c.dir.clone(), writable));
    }
    if lines_walked {
        roots.extend(volumes.iter().map(|v| (v.clone(), Role::Measured)));
    } else {
        roots.extend(
            volumes
                .iter()
                .filter(|v| v.starts_with(root))
                .map(|v| (v.clone(), Role::Owned)),
        );
    }
    for dir in state.store.layer_dirs.values() {
        roots.push((dir.clone(), Role::Owned));
    }
    let walked_layers = state.store.unsized_layers.iter().map(|u| &u.id);
    for id in state.store.layer_bytes.keys().chain(walked_layers) {
        if state.store.layer_dirs.contains_key(id) {
            continue;
        }
        if let Some(dir) = loc.layer_dir(root, id) {
            roots.push((dir, Role::Files));
        }
    }
    for img in state.store.images.values() {
        roots.extend(img.big_data_files.iter().map(|f| (f.clone(), Role::Owned)));
    }
    roots.push((state.database.clone(), Role::Part("database")));
    for (sub, part) in [
        ("libpod".to_string(), "libpod"),
        (format!("{driver}-images"), "image records"),
        (format!("{driver}-layers"), "layer records"),
        (format!("{driver}-containers"), "container records"),
        (driver.clone(), DIRS_IN_LAYERS),
        ("volumes".to_string(), "volume directories"),
    ] {
        roots.push((root.join(sub), Role::Part(part)));
    }
    roots.push((root.clone(), Role::Part("other")));
    roots
}

/// Walks the graph root once and classifies it (see the module docs).
/// `volumes` are the volumes' mountpoints (walked by the volumes line);
/// `excluded` the files another line counts (containers' logs).
pub fn measure(
    state: &LocalState,
    volumes: &[PathBuf],
    excluded: &BTreeSet<PathBuf>,
) -> StoreMetadata {
    measure_planned(
        state.graphroot.clone(),
        plan(state, volumes, false, excluded),
    )
}

/// The walk itself, from [`plan`]'s roots: what runs on the walker's thread.
pub fn measure_planned(graphroot: PathBuf, planned: Vec<(PathBuf, Role)>) -> StoreMetadata {
    measure_with_roots(graphroot, planned).0
}

/// [`measure_planned`], also giving each planned root's own figures (in
/// plan order), for the lines that take theirs from this walk: writable
/// layers (`file_bytes`) and volumes (`apparent_bytes`).
pub fn measure_with_roots(
    graphroot: PathBuf,
    planned: Vec<(PathBuf, Role)>,
) -> (StoreMetadata, Vec<walk::Usage>) {
    // An optional part that is not there is no error; the graph root is, and
    // so is a writable layer or volume that another line needs measured
    // (that line says so: not the metadata's problem).
    let exists: Vec<bool> = planned
        .iter()
        .map(|(p, _)| p == &graphroot || std::fs::symlink_metadata(p).is_ok())
        .collect();
    let present: Vec<bool> = planned
        .iter()
        .zip(&exists)
        .map(|((_, role), e)| *e || matches!(role, Role::Measured | Role::Writable))
        .collect();
    let walked: Vec<(&(PathBuf, Role), bool)> = planned
        .iter()
        .zip(exists)
        .zip(&present)
        .filter_map(|(p, keep)| keep.then_some(p))
        .collect();
    let roots: Vec<PathBuf> = walked.iter().map(|((p, _), _)| p.clone()).collect();
    let fences: Vec<bool> = walked.iter().map(|((_, r), _)| *r == Role::Owned).collect();
    let usages = walk::measure_around(&roots, &fences, &walk::WalkOptions::default());
    let mut m = StoreMetadata {
        graphroot,
        ..StoreMetadata::default()
    };
    for (((_, role), exists), u) in walked.iter().zip(&usages) {
        let (part, bytes) = match role {
            Role::Owned | Role::Measured => continue,
            Role::Writable if !exists => continue,
            Role::Excluded => {
                m.excluded_bytes = m.excluded_bytes.saturating_add(u.apparent_bytes);
                continue;
            }
            Role::Files | Role::Writable => (
                DIRS_IN_LAYERS,
                u.apparent_bytes.saturating_sub(u.file_bytes),
            ),
            Role::Part(name) => (*name, u.apparent_bytes),
        };
        let e = m.parts.entry(part.to_string()).or_insert(0);
        *e = e.saturating_add(bytes);
        m.bytes = m.bytes.saturating_add(bytes);
        m.errors.extend(
            u.errors
                .iter()
                .filter(|e| !is_overlay_scratch(e))
                .map(|e| format!("{}: {}", e.path.display(), e.message)),
        );
    }
    let mut usages = usages.into_iter();
    let per_root = present
        .into_iter()
        .map(|walked| {
            if walked {
                usages.next().unwrap_or_default()
            } else {
                walk::Usage::default()
            }
        })
        .collect();
    (m, per_root)
}

/// Overlay's `work/work` is the kernel's scratch dir, made mode 000 by the
/// kernel, so a rootless user (and podman itself) cannot read it. Its own
/// inode is counted; what the kernel leaves in it (a few empty dirs after
/// copy-ups: 8 kB for two containers on podman 5.4) is not, and is no
/// reason to fail every rootless overlay report.
fn is_overlay_scratch(e: &walk::WalkError) -> bool {
    let mut names = e.path.iter().rev();
    names.next() == Some("work".as_ref())
        && names.next() == Some("work".as_ref())
        && e.message.contains("Permission denied")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn du_sb(path: &std::path::Path) -> u64 {
        let out = Command::new("du").arg("-sb").arg(path).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_whitespace().next().unwrap().parse().unwrap()
    }

    #[test]
    fn one_walk_gives_writable_layers_volumes_and_metadata_each_byte_once() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let diff = root.join("overlay/c1/diff");
        let volume = root.join("volumes/v/_data");
        std::fs::create_dir_all(diff.join("etc/deep")).unwrap();
        std::fs::create_dir_all(&volume).unwrap();
        std::fs::create_dir_all(root.join("libpod")).unwrap();
        std::fs::write(diff.join("etc/deep/f"), vec![1u8; 12_345]).unwrap();
        std::fs::write(volume.join("data"), vec![2u8; 50_000]).unwrap();
        // libpod's directory holds a hard link to the volume's file.
        std::fs::hard_link(volume.join("data"), root.join("libpod/data")).unwrap();
        let planned = vec![
            (diff.clone(), Role::Writable),
            (volume.clone(), Role::Measured),
            (root.join("missing-volume"), Role::Measured),
            (root.join("libpod"), Role::Part("libpod")),
            (root.clone(), Role::Part("other")),
        ];
        let (m, usages) = measure_with_roots(root.clone(), planned);
        assert_eq!(usages.len(), 5);
        assert_eq!(usages[0].file_bytes, 12_345);
        assert_eq!(usages[1].apparent_bytes, du_sb(&volume));
        assert!(usages[2].incomplete(), "a missing volume is an error");
        // What du counts once, the three lines count once between them.
        assert_eq!(
            m.bytes + usages[0].file_bytes + usages[1].apparent_bytes,
            du_sb(&root)
        );
        assert_eq!(m.parts["libpod"], du_sb(&root.join("libpod")) - 50_000);
        assert!(m.errors.is_empty(), "{:?}", m.errors);
    }
}
