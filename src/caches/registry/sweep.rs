//! Pruning a registry: what garbage-collect deletes (with
//! `--registry-offline`) and old uploads (with `--older-than`), reached only
//! through directories opened without following links, from names the scan
//! listed and validated digests.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs as rfs;

use super::super::nofollow::{self, Tally};
use super::super::prune::PruneOptions;
use super::{blob_dir, Digest};

/// Garbage-collects a registry (with `--registry-offline`) and removes old
/// uploads (with `--older-than`). Every path is built from directory names
/// the scan listed and validated digests, opened without following links.
pub(crate) fn prune(
    shown: &Path,
    root: BorrowedFd<'_>,
    opts: &PruneOptions,
    tally: &mut Tally,
) -> Result<(), String> {
    let entries = nofollow::list(root).map_err(|e| nofollow::describe(shown, &e))?;
    let scan = super::scan(root, entries, shown);
    let v2_path = super::v2_path(shown);
    let v2 = super::open_v2(root).map_err(|e| nofollow::describe(&v2_path, &e))?;
    let repos_path = v2_path.join("repositories");
    let mut result = Ok(());
    if opts.registry_offline {
        match scan.plan(opts.delete_untagged) {
            Err(e) => result = Err(format!("{e}; nothing collected in this registry")),
            Ok(plan) => {
                let repos = nofollow::open_dir(v2.as_fd(), OsStr::new("repositories")).ok();
                for m in &plan.manifests {
                    let Some((rel, tags)) = scan.repo(&m.repository) else {
                        continue;
                    };
                    let repo_path = repos_path.join(rel).join("_manifests");
                    let manifests = match &repos {
                        Some(r) => open_rel(r.as_fd(), &rel.join("_manifests")),
                        None => Err(std::io::ErrorKind::NotFound.into()),
                    };
                    let manifests = match manifests {
                        Ok(fd) => fd,
                        Err(e) => {
                            tally.errors.push(nofollow::describe(&repo_path, &e));
                            continue;
                        }
                    };
                    let alg = m.digest.algorithm().name();
                    let hex = OsStr::new(m.digest.hex());
                    for tag in tags {
                        let rel = Path::new("tags").join(tag).join("index").join(alg);
                        if let Ok(dir) = open_rel(manifests.as_fd(), &rel) {
                            if rfs::statat(dir.as_fd(), hex, rfs::AtFlags::SYMLINK_NOFOLLOW).is_ok()
                            {
                                remove_dir(
                                    dir.as_fd(),
                                    hex,
                                    &repo_path.join(&rel).join(hex),
                                    opts.dry_run,
                                    tally,
                                );
                            }
                        }
                    }
                    let rel = Path::new("revisions").join(alg);
                    match open_rel(manifests.as_fd(), &rel) {
                        Ok(dir) => remove_dir(
                            dir.as_fd(),
                            hex,
                            &repo_path.join(&rel).join(hex),
                            opts.dry_run,
                            tally,
                        ),
                        Err(e) => tally
                            .errors
                            .push(nofollow::describe(&repo_path.join(&rel), &e)),
                    }
                }
                let blobs_path = v2_path.join("blobs");
                match nofollow::open_dir(v2.as_fd(), OsStr::new("blobs")) {
                    Ok(blobs) => {
                        for d in &plan.blobs {
                            remove_blob(blobs.as_fd(), &blobs_path, d, opts.dry_run, tally);
                        }
                    }
                    Err(e) if plan.blobs.is_empty() && e.kind() == std::io::ErrorKind::NotFound => {
                    }
                    Err(e) => tally.errors.push(nofollow::describe(&blobs_path, &e)),
                }
            }
        }
    }
    if let Some(cutoff) = opts.older_than.and_then(|d| opts.now.checked_sub(d)) {
        let repos = nofollow::open_dir(v2.as_fd(), OsStr::new("repositories")).ok();
        for (rel, u) in scan.uploads().filter(|(_, u)| u.started <= cutoff) {
            let Some(id) = u.path.file_name() else {
                continue;
            };
            let dir = match &repos {
                Some(r) => open_rel(r.as_fd(), &rel.join("_uploads")),
                None => Err(std::io::ErrorKind::NotFound.into()),
            };
            match dir {
                Ok(dir) => remove_dir(dir.as_fd(), id, &u.path, opts.dry_run, tally),
                Err(e) => tally.errors.push(nofollow::describe(&u.path, &e)),
            }
        }
    }
    result
}

/// Removes a directory tree, or under `dry_run` measures it.
fn remove_dir(dir: BorrowedFd<'_>, name: &OsStr, path: &Path, dry_run: bool, tally: &mut Tally) {
    if dry_run {
        tally.add_tree(dir, name, path);
    } else {
        tally.remove_tree(dir, name, path);
    }
}

/// Removes one blob's `<hex>` directory (dry: measures it), as
/// distribution's `Vacuum.RemoveBlob` does.
fn remove_blob(
    blobs: BorrowedFd<'_>,
    blobs_path: &Path,
    d: &Digest,
    dry_run: bool,
    tally: &mut Tally,
) {
    let p = blob_dir(blobs_path, d);
    let prefix = nofollow::open_dir(blobs, OsStr::new(d.algorithm().name()))
        .and_then(|a| nofollow::open_dir(a.as_fd(), OsStr::new(&d.hex()[..2])));
    match prefix {
        Ok(fd) if dry_run => tally.add_tree(fd.as_fd(), OsStr::new(d.hex()), &p),
        Ok(fd) => tally.remove_tree(fd.as_fd(), OsStr::new(d.hex()), &p),
        Err(e) => tally.errors.push(nofollow::describe(&p, &e)),
    }
}

/// Opens `rel` (relative, from the repository walk) below `dir`, one
/// component at a time, never following a link.
fn open_rel(dir: BorrowedFd<'_>, rel: &Path) -> std::io::Result<OwnedFd> {
    let mut cur: Option<OwnedFd> = None;
    for c in rel.components() {
        let std::path::Component::Normal(name) = c else {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        };
        let here = cur.as_ref().map_or(dir, |d| d.as_fd());
        cur = Some(nofollow::open_dir(here, name)?);
    }
    match cur {
        Some(fd) => Ok(fd),
        None => Ok(rustix::io::dup(dir)?),
    }
}
