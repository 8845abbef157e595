//! The file's raw form and its compilation into [`Config`]: regexes
//! compiled, globs checked, `~`/`$HOME` expanded, each mistake one line
//! naming the file and line.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use once_cell::sync::Lazy;
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    projects: Vec<RawProject>,
    #[serde(default)]
    shared: RawShared,
    #[serde(default)]
    global: RawGlobal,
    #[serde(default)]
    caches: RawCaches,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    id: Spanned<String>,
    #[serde(default)]
    images: Vec<Spanned<String>>,
    #[serde(default)]
    labels: BTreeMap<Spanned<String>, String>,
    #[serde(default)]
    workspaces: Vec<Spanned<String>>,
    #[serde(default)]
    volumes: Vec<Spanned<String>>,
    budget: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShared {
    #[serde(default)]
    mounts: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlobal {
    #[serde(default)]
    images: Vec<Spanned<String>>,
    budget: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaches {
    #[serde(default)]
    paths: Vec<Spanned<String>>,
}

/// A validation failure: where in the text, and what is wrong.
type Failure = (Range<usize>, String);

static PROJECT_ID: Lazy<Regex> =
    Lazy::new(|| Regex::new("^[a-z0-9][a-z0-9_-]*$").expect("valid regex"));

/// Turns the raw file into the typed config, checking every value.
pub(super) struct Compiler<'a> {
    pub(super) home: Option<&'a Path>,
    /// The file's text, to name the line of an earlier definition.
    pub(super) text: &'a str,
}

impl Compiler<'_> {
    pub(super) fn compile(&self, raw: RawConfig, origin: &Path) -> Result<Config, Failure> {
        let mut projects = Vec::with_capacity(raw.projects.len());
        let mut seen_ids: HashMap<String, Range<usize>> = HashMap::new();
        let mut volume_owner: HashMap<String, String> = HashMap::new();
        for p in raw.projects {
            let id = p.id.get_ref().clone();
            if !PROJECT_ID.is_match(&id) {
                return Err((
                    p.id.span(),
                    format!(
                        "project id {id:?} is invalid: use lowercase letters, digits, `_` and `-`, \
                         starting with a letter or digit"
                    ),
                ));
            }
            if let Some(first) = seen_ids.insert(id.clone(), p.id.span()) {
                let first = line_of(self.text, first.start);
                return Err((
                    p.id.span(),
                    format!("duplicate project id {id:?} (first defined on line {first})"),
                ));
            }
            let what = format!("project {id:?}");
            let images = self.regexes(&p.images, &what)?;
            let mut labels = BTreeMap::new();
            for (key, value) in p.labels {
                if key.get_ref().is_empty() {
                    return Err((key.span(), format!("{what}: empty label name")));
                }
                labels.insert(key.into_inner(), value);
            }
            let workspaces = p
                .workspaces
                .iter()
                .map(|g| self.glob(g, &what))
                .collect::<Result<_, _>>()?;
            let mut volumes = Vec::with_capacity(p.volumes.len());
            for v in &p.volumes {
                let name = non_empty(v, &what, "volume name")?;
                // Exact names: a volume claimed twice is a mistake, not an
                // overlap for attribution order to settle.
                if let Some(owner) = volume_owner.insert(name.to_string(), id.clone()) {
                    let message = if owner == id {
                        format!("{what}: volume {name:?} is listed twice")
                    } else {
                        format!("volume {name:?} is claimed by both project {owner:?} and {id:?}")
                    };
                    return Err((v.span(), message));
                }
                volumes.push(name.to_string());
            }
            let budget = self.budget(p.budget.as_ref(), &what)?;
            projects.push(Project {
                id,
                images,
                labels,
                workspaces,
                volumes,
                budget,
            });
        }
        let paths = |list: &[Spanned<String>], what: &str| {
            list.iter()
                .map(|p| self.path(p, what).map(PathBuf::from))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Config {
            origin: Some(origin.to_path_buf()),
            projects,
            shared: Shared {
                mounts: paths(&raw.shared.mounts, "shared")?,
            },
            global: Global {
                images: self.regexes(&raw.global.images, "global")?,
                budget: self.budget(raw.global.budget.as_ref(), "global")?,
            },
            caches: Caches {
                paths: paths(&raw.caches.paths, "caches")?,
            },
        })
    }

    fn regexes(&self, patterns: &[Spanned<String>], what: &str) -> Result<Vec<Regex>, Failure> {
        patterns
            .iter()
            .map(|p| {
                // An empty regex matches every image: surely not what was meant.
                let text = non_empty(p, what, "image pattern")?;
                Regex::new(text).map_err(|e| {
                    (
                        p.span(),
                        format!(
                            "{what}: image pattern {text:?} is not a valid regex: {}",
                            regex_reason(&e)
                        ),
                    )
                })
            })
            .collect()
    }

    /// A size such as `20GB`, `1.5 TiB` or `500000000`.
    fn budget(&self, raw: Option<&Spanned<String>>, what: &str) -> Result<Option<u64>, Failure> {
        let Some(raw) = raw else { return Ok(None) };
        crate::size::parse_bytes(raw.get_ref())
            .map(Some)
            .map_err(|e| (raw.span(), format!("{what}: budget: {e}")))
    }

    fn glob(&self, raw: &Spanned<String>, what: &str) -> Result<String, Failure> {
        let text = non_empty(raw, what, "workspace glob")?;
        let expanded = self
            .expand(text, glob::Pattern::escape)
            .map_err(|m| (raw.span(), format!("{what}: workspace glob {text:?}: {m}")))?;
        glob::Pattern::new(&expanded).map_err(|e| {
            (
                raw.span(),
                format!("{what}: workspace glob {text:?} is invalid: {}", e.msg),
            )
        })?;
        Ok(expanded)
    }

    fn path(&self, raw: &Spanned<String>, what: &str) -> Result<String, Failure> {
        let text = non_empty(raw, what, "path")?;
        self.expand(text, str::to_string)
            .map_err(|m| (raw.span(), format!("{what}: path {text:?}: {m}")))
    }

    /// Expands a leading `~` or `$HOME` (`${HOME}`) and insists on an
    /// absolute result: a relative path would depend on where the command
    /// happens to run. `quote_home` escapes the home directory for globs.
    fn expand(&self, text: &str, quote_home: fn(&str) -> String) -> Result<String, String> {
        let after_home = ["~", "$HOME", "${HOME}"].iter().find_map(|prefix| {
            text.strip_prefix(prefix)
                .filter(|r| r.is_empty() || r.starts_with('/'))
        });
        let unexpanded = after_home.unwrap_or(text);
        if let Some(i) = unexpanded.find('$') {
            // Up to the next `/`, and never past a control character: the
            // message is one line (a TOML string can hold "\n").
            let var: String = unexpanded[i..]
                .chars()
                .take_while(|c| *c != '/' && !c.is_control())
                .collect();
            return Err(format!(
                "{var} is not expanded: only a leading ~ or $HOME is"
            ));
        }
        let expanded = match after_home {
            Some(rest) => {
                let home = self
                    .home
                    .ok_or("needs $HOME, which is not set")?
                    .to_str()
                    .ok_or("$HOME is not valid UTF-8")?;
                format!("{}{rest}", quote_home(home))
            }
            None if text.starts_with('~') => {
                return Err("`~user` is not supported, write the full path".into())
            }
            None => text.to_string(),
        };
        if !expanded.starts_with('/') {
            return Err("must be absolute (or start with ~ or $HOME)".into());
        }
        Ok(expanded)
    }
}

fn non_empty<'a>(value: &'a Spanned<String>, what: &str, kind: &str) -> Result<&'a str, Failure> {
    match value.get_ref().as_str() {
        "" => Err((value.span(), format!("{what}: empty {kind}"))),
        s => Ok(s),
    }
}

/// The regex crate's syntax errors span several lines (pattern, caret,
/// `error: ...`); keep the reason only.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| one_line(&text))
}

pub(super) fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
