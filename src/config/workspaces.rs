//! Workspace globs: each match of a project's pattern is one workspace.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::PathBuf;

/// The directories a set of workspace globs matches now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workspaces {
    /// Each matched directory once, sorted by path.
    pub dirs: Vec<WorkspaceMatch>,
    /// The fixed (glob-free) leading directory of a pattern that does not
    /// exist or is not a directory: the caller keeps the row at zero bytes and
    /// warns, since a typo and a not-yet-created directory look the same.
    pub missing_roots: Vec<PathBuf>,
    /// One line per entry that could not be read while matching (e.g.
    /// permission denied), naming the path.
    pub warnings: Vec<String>,
}

/// One workspace: a directory one of the globs matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceMatch {
    pub path: PathBuf,
    /// The (first) pattern that matched it.
    pub glob: String,
}

/// Expands workspace globs. Each match that is a directory (not a symlink
/// to one, whose bytes would then be counted at its target too) is one
/// workspace. `*` does not match a leading `.`, as in the shell; `**` matches
/// any number of directories.
pub fn expand_workspaces(globs: &[String]) -> Workspaces {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let mut found: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut out = Workspaces::default();
    for pattern in globs {
        let root = fixed_prefix(pattern);
        match fs::metadata(&root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                out.missing_roots.push(root);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                out.missing_roots.push(root);
                continue;
            }
            Err(e) => {
                out.warnings.push(format!("{}: {e}", root.display()));
                continue;
            }
        }
        // glob 0.3 panics listing a directory that holds a name which is
        // not UTF-8 when told to skip dot files (rust-lang/glob#162). So
        // list without that rule and apply it to each match instead, on the
        // lossy text (a leading dot survives it).
        let listing = glob::MatchOptions {
            require_literal_leading_dot: false,
            ..options
        };
        let dot_rule = glob::Pattern::new(pattern).ok();
        let paths = match glob::glob_with(pattern, listing) {
            Ok(paths) => paths,
            // Validated at load time; only a hand-built Project gets here.
            Err(e) => {
                out.warnings
                    .push(format!("workspace glob {pattern:?} is invalid: {e}"));
                continue;
            }
        };
        for entry in paths {
            match entry {
                Ok(path) => {
                    let shown = dot_rule
                        .as_ref()
                        .is_some_and(|p| p.matches_with(&path.to_string_lossy(), options));
                    let is_dir = shown && fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
                    if let (true, Entry::Vacant(slot)) = (is_dir, found.entry(path)) {
                        slot.insert(pattern.clone());
                    }
                }
                Err(e) => out
                    .warnings
                    .push(format!("{}: {}", e.path().display(), e.error())),
            }
        }
    }
    out.dirs = found
        .into_iter()
        .map(|(path, glob)| WorkspaceMatch { path, glob })
        .collect();
    out.missing_roots.sort();
    out.missing_roots.dedup();
    out
}

/// The leading components of a glob that contain no wildcard:
/// `/srv/webapp/tasks/*/src` → `/srv/webapp/tasks`.
pub(super) fn fixed_prefix(pattern: &str) -> PathBuf {
    let literal: Vec<&str> = pattern
        .split('/')
        .take_while(|c| !c.contains(['*', '?', '[']))
        .collect();
    match literal.join("/") {
        s if s.is_empty() => PathBuf::from("/"),
        s => PathBuf::from(s),
    }
}

// ---- the file as written, before validation ----
