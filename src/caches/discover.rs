//! Where blob caches live: paths the user names, paths from the config, and
//! the well-known locations of tools built on go-containerregistry.
//!
//! Well-known locations, read from each tool's source:
//! - **ko**: with `KOCACHE` set, base images are kept in an OCI image layout
//!   at `$KOCACHE/img` (ko `pkg/commands/cache.go`: `layout.FromPath(
//!   filepath.Join(kc, "img"))`); `$KOCACHE/bin/...` holds `go build`
//!   outputs, not blobs. `KOCACHE` has no default (ko `pkg/build/gobuild.go`:
//!   "TODO(#264): if KOCACHE is unset, default to ...").
//! - **zarf**: pulled image layers go to a go-containerregistry flat cache at
//!   `<zarf-cache>/images` (zarf `src/pkg/images/pull.go`:
//!   `cache.NewFilesystemCache(filepath.Join(config.GetAbsCachePath(),
//!   layout.ImagesDir))`, `ImagesDir = "images"`), where `--zarf-cache`
//!   defaults to `~/.zarf-cache` (`config.ZarfDefaultCachePath`).
//! - **crane**: `crane pull --cache_path/-c PATH` (go-containerregistry
//!   `cmd/crane/cmd/pull.go`) has no default and no environment variable, so
//!   there is nothing to discover: name the path on the command line or in
//!   the config's `[caches] paths`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Why a path is on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Named on the command line.
    Argument,
    /// From the config's `[caches] paths`.
    Config,
    /// ko's `$KOCACHE/img`.
    Ko,
    /// zarf's `~/.zarf-cache/images`.
    Zarf,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Argument => "argument",
            Origin::Config => "config",
            Origin::Ko => "ko",
            Origin::Zarf => "zarf",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovered {
    pub path: PathBuf,
    pub origin: Origin,
}

impl Discovered {
    pub fn argument(path: impl Into<PathBuf>) -> Discovered {
        Discovered {
            path: path.into(),
            origin: Origin::Argument,
        }
    }
}

/// Paths named on the command line, exactly as given (a missing one is
/// reported as missing, not dropped).
pub fn from_arguments(paths: &[PathBuf]) -> Vec<Discovered> {
    dedup(paths.iter().map(Discovered::argument).collect())
}

/// Configured paths (always listed, so a missing one shows as zero) plus the
/// well-known locations that exist on this machine.
pub fn discover(configured: &[PathBuf]) -> Vec<Discovered> {
    let mut found: Vec<Discovered> = configured
        .iter()
        .map(|p| Discovered {
            path: p.clone(),
            origin: Origin::Config,
        })
        .collect();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    found.extend(
        well_known(|k| std::env::var_os(k), home.as_deref())
            .into_iter()
            .filter(|d| d.path.exists()),
    );
    dedup(found)
}

/// The well-known locations for an environment, whether they exist or not.
pub fn well_known(env: impl Fn(&str) -> Option<OsString>, home: Option<&Path>) -> Vec<Discovered> {
    let mut out = Vec::new();
    if let Some(kc) = env("KOCACHE").filter(|v| !v.is_empty()) {
        out.push(Discovered {
            path: PathBuf::from(kc).join("img"),
            origin: Origin::Ko,
        });
    }
    if let Some(home) = home {
        out.push(Discovered {
            path: home.join(".zarf-cache").join("images"),
            origin: Origin::Zarf,
        });
    }
    out
}

/// Drops later entries that name the same directory as an earlier one
/// (after resolving symlinks where the path exists), so nothing is counted twice.
fn dedup(list: Vec<Discovered>) -> Vec<Discovered> {
    let mut seen = std::collections::HashSet::new();
    list.into_iter()
        .filter(|d| seen.insert(std::fs::canonicalize(&d.path).unwrap_or_else(|_| d.path.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_reads_kocache_and_home() {
        let env = |k: &str| (k == "KOCACHE").then(|| OsString::from("/k"));
        let got = well_known(env, Some(Path::new("/home/u")));
        assert_eq!(
            got,
            vec![
                Discovered {
                    path: "/k/img".into(),
                    origin: Origin::Ko
                },
                Discovered {
                    path: "/home/u/.zarf-cache/images".into(),
                    origin: Origin::Zarf
                },
            ]
        );
        assert!(well_known(|_| Some(OsString::new()), None).is_empty());
    }

    #[test]
    fn discover_keeps_missing_configured_paths_and_dedups() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        std::fs::create_dir(&a).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        let missing = tmp.path().join("missing");
        let got = discover(&[a.clone(), link, missing.clone()]);
        let paths: Vec<_> = got
            .iter()
            .filter(|d| d.origin == Origin::Config)
            .map(|d| d.path.clone())
            .collect();
        assert_eq!(paths, vec![a, missing]);
    }
}
