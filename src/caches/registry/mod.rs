//! Registry storage: the filesystem driver's tree of a CNCF distribution
//! registry (Debian's `docker-registry`), `<root>/docker/registry/v2`.
//!
//! Layout (distribution `registry/storage/paths.go`):
//! - `blobs/<alg>/<2 hex>/<hex>/data`: each blob once;
//! - `repositories/<name>/_layers/<alg>/<hex>/link`: blobs the repository
//!   serves (a link file holds a digest);
//! - `repositories/<name>/_manifests/revisions/<alg>/<hex>/link`: its
//!   manifests; `_manifests/tags/<tag>/current/link` what a tag points at,
//!   `_manifests/tags/<tag>/index/<alg>/<hex>/link` what it pointed at;
//! - `repositories/<name>/_uploads/<id>/`: uploads in progress or abandoned
//!   (`data`, `startedat`, `hashstates/`).
//!
//! A repository is a directory holding `_layers`; names nest
//! (`library/alpine`), and other `_`-directories are not descended, as in
//! distribution's catalog walk.
//!
//! **What garbage-collect deletes** (distribution 2.8
//! `registry/storage/garbagecollect.go`, `MarkAndSweep`): for every
//! repository, every revision whose blob exists is marked with the digests it
//! references (a manifest's config and layers, a list's or index's
//! manifests, schema 1 `fsLayers`; not `subject`). Every blob in `blobs/` not
//! marked is deleted (its whole `<hex>` directory); `_layers` links are left.
//! With `--delete-untagged`, a revision no tag's `current` link names is not
//! marked but deleted (its revision directory and its entry in every tag's
//! index). Distribution 2.8 also deletes, that way, the untagged children of a
//! tagged manifest list, and then the layers only they reference (fixed in
//! distribution 3 by marking through lists and keeping marked manifests):
//! here the list's children are marked and kept, as in 3, so the plan never
//! breaks a tagged multi-platform image.
//!
//! Anything that makes the marks unknown is an error naming the path, and
//! then nothing is eligible: a link or manifest that cannot be read or
//! parsed, a directory that cannot be listed, no `repositories/`
//! (distribution's GC stops on each of these), or a symlink in the tree
//! (distribution's driver follows it, we never do, so what it hides is
//! unknown).
//!
//! `walk` reads the tree, this module turns it into the plan and the
//! report, `sweep` prunes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::nofollow::{self, Entry, EntryKind, Tally};
use super::BlobCount;

mod repos;
pub(crate) mod sweep;
mod walk;

pub use walk::scan;

/// The path below a registry's root directory (`storage.filesystem.rootdirectory`).
pub const V2: [&str; 3] = ["docker", "registry", "v2"];
const BLOBS: &str = "blobs";
const REPOSITORIES: &str = "repositories";
const DATA: &str = "data";
const LINK: &str = "link";
const LAYERS: &str = "_layers";
const MANIFESTS: &str = "_manifests";
const UPLOADS: &str = "_uploads";
const STARTED_AT: &str = "startedat";

/// Manifests larger than this are refused rather than read; distribution
/// itself refuses manifests over 4 MiB.
const MAX_MANIFEST_BYTES: u64 = 64 << 20;
/// A link file holds one digest.
const MAX_LINK_BYTES: u64 = 4096;

/// Whether the root listing and the tree below it hold `docker/registry/v2`.
pub fn looks_like(root: BorrowedFd<'_>, entries: &[Entry]) -> bool {
    entries
        .iter()
        .any(|e| e.kind == EntryKind::Dir && e.name == OsStr::new(V2[0]))
        && open_v2(root).is_ok()
}

/// Opens `docker/registry/v2` below a registry root.
pub(crate) fn open_v2(root: BorrowedFd<'_>) -> std::io::Result<OwnedFd> {
    let docker = nofollow::open_dir(root, OsStr::new(V2[0]))?;
    let registry = nofollow::open_dir(docker.as_fd(), OsStr::new(V2[1]))?;
    nofollow::open_dir(registry.as_fd(), OsStr::new(V2[2]))
}

/// One repository's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Repository {
    pub name: String,
    /// Tags whose `current` link names a manifest.
    pub tags: u64,
    /// Revisions whose blob is present.
    pub manifests: u64,
    /// Present blobs this repository links (`_layers` and revisions) and no
    /// other repository does.
    pub unique: BlobCount,
    /// Present blobs this repository links that others link too; counted
    /// once in the registry's total.
    pub shared: BlobCount,
    /// Its abandoned or running uploads.
    pub uploads: BlobCount,
}

/// An upload directory (`_uploads/<id>`).
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub repository: String,
    pub path: PathBuf,
    pub bytes: u64,
    /// Modification time of its `startedat` file (written once, when the
    /// upload began), else of the directory.
    #[serde(serialize_with = "unix_secs")]
    pub started: SystemTime,
}

fn unix_secs<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    s.serialize_u64(secs)
}

/// A manifest revision `--delete-untagged` removes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ManifestRef {
    pub repository: String,
    pub digest: Digest,
}

/// What one garbage-collect run would delete.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcPlan {
    /// Digests marked (referenced), present or not: distribution's
    /// "N blobs marked".
    pub marked: u64,
    /// Present blobs not marked.
    pub blobs: BTreeSet<Digest>,
    pub blob_bytes: u64,
    /// Untagged revisions (only with `--delete-untagged`).
    pub manifests: BTreeSet<ManifestRef>,
    #[serde(skip)]
    pub marked_set: HashSet<Digest>,
}

/// The `registry` section of a cache report.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryReport {
    pub repositories: Vec<Repository>,
    /// Present blobs no repository links.
    pub unlinked: BlobCount,
    pub uploads: Vec<Upload>,
    /// What `garbage-collect` would delete; `None` when marks are unknown.
    pub gc: Option<GcPlan>,
    /// What `garbage-collect --delete-untagged` would delete.
    pub gc_untagged: Option<GcPlan>,
}

/// Links and manifests of one repository, as read from disk.
#[derive(Debug, Default)]
struct RepoLinks {
    name: String,
    /// Repository directory relative to `repositories/`.
    rel: PathBuf,
    layers: Vec<Digest>,
    revisions: Vec<Digest>,
    /// Tag name to its `current` digest (`None`: no current link).
    tags: BTreeMap<OsString, Option<Digest>>,
    uploads: Vec<Upload>,
}

/// The contents of a registry.
#[derive(Debug)]
pub struct Scan {
    pub blobs: BTreeMap<Digest, Entry>,
    pub tally: Tally,
    pub blob_bytes: u64,
    repos: Vec<RepoLinks>,
    /// Manifest references by digest (present, parsed manifests only).
    references: HashMap<Digest, Vec<Digest>>,
    /// `Err` names the path and why marks are unknown.
    marks_known: Result<(), String>,
}

pub(crate) fn v2_path(root: &Path) -> PathBuf {
    V2.iter().fold(root.to_path_buf(), |p, c| p.join(c))
}

/// The fields of a manifest, list or index that reference other blobs, as
/// distribution 2.8's `References()` reads them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default)]
    manifests: Vec<Descriptor>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    fs_layers: Vec<FsLayer>,
}

#[derive(Debug, Deserialize)]
struct Descriptor {
    digest: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FsLayer {
    blob_sum: String,
}

fn manifest_references(bytes: &[u8], what: &str) -> Result<Vec<Digest>, String> {
    let m: Manifest = serde_json::from_slice(bytes).map_err(|e| format!("{what}: {e}"))?;
    let raw = m
        .manifests
        .iter()
        .chain(&m.config)
        .chain(&m.layers)
        .map(|d| d.digest.as_str())
        .chain(m.fs_layers.iter().map(|l| l.blob_sum.as_str()));
    raw.map(|s| s.parse::<Digest>().map_err(|e| format!("{what}: {e}")))
        .collect()
}

/// `blobs/<alg>/<2 hex>/<hex>` for messages.
pub fn blob_dir(blobs: &Path, d: &Digest) -> PathBuf {
    blobs
        .join(d.algorithm().name())
        .join(&d.hex()[..2])
        .join(d.hex())
}

impl Scan {
    /// `garbage-collect`'s plan, or `Err` when marks are unknown.
    pub fn plan(&self, delete_untagged: bool) -> Result<GcPlan, String> {
        self.marks_known.clone()?;
        let mut marked: HashSet<Digest> = HashSet::new();
        let mut candidates: BTreeSet<ManifestRef> = BTreeSet::new();
        for r in &self.repos {
            let present: HashSet<&Digest> = r
                .revisions
                .iter()
                .filter(|d| self.blobs.contains_key(*d))
                .collect();
            let tagged: HashSet<&Digest> = r.tags.values().flatten().collect();
            let mut expanded: HashSet<&Digest> = HashSet::new();
            for d in &r.revisions {
                if !present.contains(d) {
                    continue;
                }
                if delete_untagged && !tagged.contains(d) {
                    candidates.insert(ManifestRef {
                        repository: r.name.clone(),
                        digest: d.clone(),
                    });
                    continue;
                }
                marked.insert(d.clone());
                self.mark_references(d, &present, &mut expanded, &mut marked);
            }
        }
        let mut plan = GcPlan {
            marked: marked.len() as u64,
            ..GcPlan::default()
        };
        plan.manifests = candidates
            .into_iter()
            .filter(|m| !marked.contains(&m.digest))
            .collect();
        let mut seen = HashSet::new();
        for (d, e) in &self.blobs {
            if !marked.contains(d) {
                plan.blobs.insert(d.clone());
                if e.nlink <= 1 || seen.insert((e.dev, e.ino)) {
                    plan.blob_bytes = plan.blob_bytes.saturating_add(e.size);
                }
            }
        }
        plan.marked_set = marked;
        Ok(plan)
    }

    /// Marks what `d` references, and through lists and indexes what their
    /// manifests present in the same repository reference. A manifest is
    /// expanded once per repository whether or not it was marked already:
    /// marked by another repository's index, where it was not present, its
    /// layers were not marked (distribution 3 skips it then, and collects
    /// the layers of an image this repository still serves).
    fn mark_references<'a>(
        &'a self,
        d: &'a Digest,
        present: &HashSet<&'a Digest>,
        expanded: &mut HashSet<&'a Digest>,
        marked: &mut HashSet<Digest>,
    ) {
        if !expanded.insert(d) {
            return;
        }
        let mut stack = vec![d];
        while let Some(d) = stack.pop() {
            for r in self.references.get(d).into_iter().flatten() {
                marked.insert(r.clone());
                if present.contains(r) && expanded.insert(r) {
                    stack.push(r);
                }
            }
        }
    }

    /// Per-repository figures, blobs nobody links, and uploads.
    pub fn report(&self) -> RegistryReport {
        let mut linkers: HashMap<&Digest, u32> = HashMap::new();
        let per_repo: Vec<BTreeSet<&Digest>> = self
            .repos
            .iter()
            .map(|r| {
                r.layers
                    .iter()
                    .chain(&r.revisions)
                    .filter(|d| self.blobs.contains_key(*d))
                    .collect()
            })
            .collect();
        for set in &per_repo {
            for d in set {
                *linkers.entry(d).or_default() += 1;
            }
        }
        let size = |d: &Digest| self.blobs.get(d).map_or(0, |e| e.size);
        let mut repositories = Vec::new();
        let mut uploads = Vec::new();
        for (r, set) in self.repos.iter().zip(&per_repo) {
            let mut rep = Repository {
                name: r.name.clone(),
                tags: r.tags.values().flatten().count() as u64,
                manifests: r
                    .revisions
                    .iter()
                    .filter(|d| self.blobs.contains_key(*d))
                    .collect::<HashSet<_>>()
                    .len() as u64,
                ..Repository::default()
            };
            for d in set {
                let c = if linkers[d] == 1 {
                    &mut rep.unique
                } else {
                    &mut rep.shared
                };
                c.blobs += 1;
                c.bytes = c.bytes.saturating_add(size(d));
            }
            for u in &r.uploads {
                rep.uploads.blobs += 1;
                rep.uploads.bytes = rep.uploads.bytes.saturating_add(u.bytes);
            }
            uploads.extend(r.uploads.iter().cloned());
            repositories.push(rep);
        }
        let mut unlinked = BlobCount::default();
        for (d, e) in &self.blobs {
            if !linkers.contains_key(d) {
                unlinked.blobs += 1;
                unlinked.bytes = unlinked.bytes.saturating_add(e.size);
            }
        }
        RegistryReport {
            repositories,
            unlinked,
            uploads,
            gc: self.plan(false).ok(),
            gc_untagged: self.plan(true).ok(),
        }
    }

    pub fn uploads(&self) -> impl Iterator<Item = (&Path, &Upload)> {
        self.repos
            .iter()
            .flat_map(|r| r.uploads.iter().map(move |u| (r.rel.as_path(), u)))
    }

    /// Tag directory names of a repository (for `--delete-untagged`'s cleanup).
    pub(crate) fn repo(&self, name: &str) -> Option<(&Path, Vec<&OsStr>)> {
        self.repos.iter().find(|r| r.name == name).map(|r| {
            (
                r.rel.as_path(),
                r.tags.keys().map(|t| t.as_os_str()).collect(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::walk::dir_entry;
    use super::*;
    use crate::caches::digest::Algorithm;

    fn d(n: u8) -> Digest {
        Digest::new(Algorithm::Sha256, &format!("{n:02x}").repeat(32)).unwrap()
    }

    fn file(n: u8) -> Entry {
        Entry {
            kind: EntryKind::File,
            size: 100 + u64::from(n),
            ino: u64::from(n),
            ..dir_entry(OsString::from("data"))
        }
    }

    #[test]
    fn an_index_marked_elsewhere_still_marks_its_children_here() {
        // Repository a's index names manifest C, which only b holds; b's
        // own index names C too, and C (untagged in b) references layer L.
        let (ia, ib, c, l) = (d(1), d(2), d(3), d(4));
        let repo = |name: &str, revisions: Vec<Digest>, tagged: &Digest| RepoLinks {
            name: name.into(),
            revisions,
            tags: BTreeMap::from([(OsString::from("t"), Some(tagged.clone()))]),
            ..RepoLinks::default()
        };
        let scan = Scan {
            blobs: [&ia, &ib, &c, &l]
                .iter()
                .enumerate()
                .map(|(i, x)| ((*x).clone(), file(i as u8)))
                .collect(),
            tally: Tally::default(),
            blob_bytes: 0,
            repos: vec![
                repo("a", vec![ia.clone()], &ia),
                repo("b", vec![ib.clone(), c.clone()], &ib),
            ],
            references: HashMap::from([
                (ia.clone(), vec![c.clone()]),
                (ib.clone(), vec![c.clone()]),
                (c.clone(), vec![l.clone()]),
            ]),
            marks_known: Ok(()),
        };
        let plan = scan.plan(true).unwrap();
        assert!(plan.blobs.is_empty(), "{:?}", plan.blobs);
        assert!(plan.manifests.is_empty(), "{:?}", plan.manifests);
        assert_eq!(plan.marked, 4);
    }

    #[test]
    fn references_read_as_distribution_2_8_does() {
        let h = |c: char| c.to_string().repeat(64);
        let json = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"sha256:{}"}},
                "layers":[{{"digest":"sha256:{}"}}],
                "subject":{{"digest":"sha256:{}"}}}}"#,
            h('a'),
            h('b'),
            h('c')
        );
        let refs = manifest_references(json.as_bytes(), "m").unwrap();
        assert_eq!(
            refs.iter().map(|d| d.hex().to_string()).collect::<Vec<_>>(),
            [h('a'), h('b')]
        );
        let bad = r#"{"manifests":[{"digest":"sha256:../../x"}]}"#;
        assert!(manifest_references(bad.as_bytes(), "m")
            .unwrap_err()
            .starts_with("m: invalid digest"));
    }
}
