//! The config file: which images, containers, volumes and directories belong
//! to which project, which mounts are shared, which images are global, and
//! which extra cache directories to measure.
//!
//! ```toml
//! [[projects]]
//! id = "webapp"
//! images = ["^localhost/webapp(-|$)"]                  # regexes on repository names
//! labels = { "com.docker.compose.project" = "webapp" } # all must match
//! workspaces = ["/srv/webapp/tasks/*"]                 # globs; each match is one workspace
//! volumes = ["webapp-data"]                            # volume names
//! budget = "20GB"                                      # exit 3 when its total is over
//!
//! [shared]
//! mounts = ["/srv/shared-cache"]
//!
//! [global]
//! images = ["^docker.io/library/"]
//! budget = "100GB"                                     # for the overview's total
//!
//! [caches]
//! paths = ["~/.cache/ko"]
//! ```
//!
//! The file is parsed once into [`Config`], with regexes compiled, globs
//! checked and `~`/`$HOME` expanded, so a mistake is reported at start-up as
//! one line naming the file and line, never halfway through a measurement.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use once_cell::sync::Lazy;
use regex::Regex;
use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

/// A loaded, validated config. [`Config::default`] is the empty config used
/// when no file exists.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file this came from; `None` when no config file exists.
    pub origin: Option<PathBuf>,
    /// In file order. Ids are unique.
    pub projects: Vec<Project>,
    pub shared: Shared,
    pub global: Global,
    pub caches: Caches,
}

/// One `[[projects]]` entry: everything that selects what belongs to a project.
#[derive(Debug, Clone)]
pub struct Project {
    /// Matches `^[a-z0-9][a-z0-9_-]*$`, so it can never collide with a
    /// synthetic row such as `(orphans)` or `(shared)`, nor escape a directory.
    pub id: String,
    /// `images`: an image belongs to the project if any regex matches its
    /// repository name (searched, not anchored: write `^` and `$`).
    pub images: Vec<Regex>,
    /// `labels`: a container or volume belongs to the project if it carries
    /// every one of these labels with exactly these values.
    pub labels: BTreeMap<String, String>,
    /// `workspaces`: absolute glob patterns, `~`/`$HOME` already expanded.
    /// See [`Project::expand_workspaces`].
    pub workspaces: Vec<String>,
    /// `volumes`: volume names claimed by the project, compared exactly.
    pub volumes: Vec<String>,
    /// `budget`: bytes its total may reach before views exit 3.
    pub budget: Option<u64>,
}

/// `[shared]`: directories mounted into containers of several projects, so
/// counted once in a row of their own.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    /// `mounts`: absolute paths, `~`/`$HOME` expanded.
    pub mounts: Vec<PathBuf>,
}

/// `[global]`: images that serve every project (base images) and so belong
/// to none.
#[derive(Debug, Clone, Default)]
pub struct Global {
    /// `images`: regexes searched in repository names, like a project's.
    pub images: Vec<Regex>,
    /// `budget`: bytes the overview's total may reach before it exits 3.
    pub budget: Option<u64>,
}

/// `[caches]`: extra cache directories (OCI blob caches, layouts) to measure
/// besides the well-known ones.
#[derive(Debug, Clone, Default)]
pub struct Caches {
    /// `paths`: absolute paths, `~`/`$HOME` expanded.
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file exists (or was named explicitly) but cannot be read.
    #[error("{}: cannot read config file: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    /// Bad TOML, an unknown key, or a value that fails validation.
    #[error("{}", invalid_line(path, *line, message))]
    Invalid {
        path: PathBuf,
        /// 1-based; `None` when the parser gave no position.
        line: Option<usize>,
        message: String,
    },
}

fn invalid_line(path: &Path, line: Option<usize>, message: &str) -> String {
    match line {
        Some(line) => format!("{}:{line}: {message}", path.display()),
        None => format!("{}: {message}", path.display()),
    }
}

/// The environment values config resolution depends on, passed in rather
/// than read deep inside so tests need not mutate the process environment
/// (which is shared by parallel tests).
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `$HOME`, for `~` and `$HOME` in paths and the fallback config location.
    pub home: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
}

impl Env {
    pub fn from_process() -> Env {
        // An empty variable counts as unset, as the XDG spec says.
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Env {
            home: var("HOME"),
            xdg_config_home: var("XDG_CONFIG_HOME"),
        }
    }
}

/// Where the config lives when `--config` is not given:
/// `$XDG_CONFIG_HOME/podman-storage/config.toml`, else
/// `$HOME/.config/podman-storage/config.toml`. A relative `XDG_CONFIG_HOME`
/// is ignored, as the XDG base directory spec requires.
pub fn default_path(env: &Env) -> Option<PathBuf> {
    let base = match &env.xdg_config_home {
        Some(xdg) if xdg.is_absolute() => xdg.clone(),
        _ => env.home.as_ref()?.join(".config"),
    };
    Some(base.join("podman-storage").join("config.toml"))
}

impl Config {
    /// Loads `explicit` (which must exist) or else the default location (a
    /// missing default file gives the empty config).
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_in(explicit, &Env::from_process())
    }

    /// [`Config::load`] with the environment given explicitly.
    pub fn load_in(explicit: Option<&Path>, env: &Env) -> Result<Config, ConfigError> {
        let read = |path: &Path| {
            fs::read_to_string(path).map_err(|error| ConfigError::Read {
                path: path.to_path_buf(),
                error,
            })
        };
        if let Some(path) = explicit {
            return Config::parse_in(&read(path)?, path, env);
        }
        let Some(path) = default_path(env) else {
            return Ok(Config::default());
        };
        match read(&path) {
            Ok(text) => Config::parse_in(&text, &path, env),
            Err(ConfigError::Read { error, .. }) if error.kind() == io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(e) => Err(e),
        }
    }

    /// Parses and validates config text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        Config::parse_in(text, origin, &Env::from_process())
    }

    /// [`Config::parse`] with the environment given explicitly.
    pub fn parse_in(text: &str, origin: &Path, env: &Env) -> Result<Config, ConfigError> {
        let fail = |span: Option<Range<usize>>, message: String| ConfigError::Invalid {
            path: origin.to_path_buf(),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| fail(e.span(), one_line(e.message())))?;
        Compiler {
            home: env.home.as_deref(),
            text,
        }
        .compile(raw, origin)
        .map_err(|(span, message)| fail(Some(span), message))
    }

    pub fn project(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }
}

impl Project {
    pub fn matches_image(&self, repository: &str) -> bool {
        self.images.iter().any(|re| re.is_match(repository))
    }

    /// True if `labels` carries every label of the project's selector with
    /// the same value. An empty selector matches nothing: a project without
    /// `labels` must not claim every container.
    pub fn matches_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.labels.is_empty()
            && self
                .labels
                .iter()
                .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
    }

    pub fn claims_volume(&self, name: &str) -> bool {
        self.volumes.iter().any(|v| v == name)
    }

    /// Expands the `workspaces` globs; see [`expand_workspaces`].
    pub fn expand_workspaces(&self) -> Workspaces {
        expand_workspaces(&self.workspaces)
    }
}

impl Global {
    pub fn matches_image(&self, repository: &str) -> bool {
        self.images.iter().any(|re| re.is_match(repository))
    }
}

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
fn fixed_prefix(pattern: &str) -> PathBuf {
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
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
struct Compiler<'a> {
    home: Option<&'a Path>,
    /// The file's text, to name the line of an earlier definition.
    text: &'a str,
}

impl Compiler<'_> {
    fn compile(&self, raw: RawConfig, origin: &Path) -> Result<Config, Failure> {
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

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ORIGIN: &str = "/etc/podman-storage/config.toml";

    fn env() -> Env {
        Env {
            home: Some(PathBuf::from("/home/u")),
            xdg_config_home: None,
        }
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_in(text, Path::new(ORIGIN), &env())
    }

    /// Asserts the error is at `line` and its message contains `needle`.
    #[track_caller]
    fn error_at(text: &str, line: usize, needle: &str) {
        let err = parse(text).expect_err("config should be rejected");
        let shown = err.to_string();
        assert!(!shown.contains('\n'), "not one line: {shown}");
        assert!(
            shown.starts_with(&format!("{ORIGIN}:{line}: ")),
            "wrong file or line: {shown}"
        );
        assert!(!needle.is_empty(), "an empty needle asserts nothing");
        assert!(shown.contains(needle), "{shown:?} lacks {needle:?}");
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const EXAMPLE: &str = r#"
[[projects]]
id = "webapp"
images = ["^localhost/webapp(-|$)"]                  # regex on repository names
labels = { "com.docker.compose.project" = "webapp" } # all must match
workspaces = ["/srv/webapp/tasks/*"]                 # globs; each match is one task/workspace
volumes = ["webapp-data"]                            # volume names

[[projects]]
id = "ml_2"
images = ["^localhost/ml_2_", "^quay.io/me/trainer$"]
workspaces = ["~/ml/runs/*", "$HOME/ml/scratch"]

[shared]
mounts = ["/srv/shared-cache"]
[global]
images = ["^docker.io/library/"]
[caches]
paths = ["~/.cache/ko", "${HOME}/oci"]
"#;

    #[test]
    fn parses_the_documented_example() {
        let c = parse(EXAMPLE).unwrap();
        assert_eq!(c.origin.as_deref(), Some(Path::new(ORIGIN)));
        let ids: Vec<_> = c.projects.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["webapp", "ml_2"]);
        let web = c.project("webapp").unwrap();
        assert!(web.matches_image("localhost/webapp"));
        assert!(web.matches_image("localhost/webapp-worker"));
        assert!(!web.matches_image("localhost/webapplication"));
        assert!(!web.matches_image("docker.io/localhost/webapp"));
        assert_eq!(web.workspaces, ["/srv/webapp/tasks/*"]);
        assert!(web.claims_volume("webapp-data"));
        assert!(!web.claims_volume("webapp"));
        let ml = c.project("ml_2").unwrap();
        assert_eq!(ml.workspaces, ["/home/u/ml/runs/*", "/home/u/ml/scratch"]);
        assert!(ml.matches_image("quay.io/me/trainer"));
        assert!(!ml.matches_image("quay.io/me/trainer2"));
        assert_eq!(c.shared.mounts, [PathBuf::from("/srv/shared-cache")]);
        assert!(c.global.matches_image("docker.io/library/alpine"));
        assert!(!c.global.matches_image("localhost/webapp"));
        assert_eq!(
            c.caches.paths,
            [
                PathBuf::from("/home/u/.cache/ko"),
                PathBuf::from("/home/u/oci")
            ]
        );
        assert!(c.project("nope").is_none());
    }

    #[test]
    fn budgets_are_sizes_and_a_bad_one_names_its_line() {
        let c = parse(
            "[[projects]]\nid = \"web\"\nbudget = \"20GB\"\n[global]\nbudget = \"1.5 TiB\"\n",
        )
        .unwrap();
        assert_eq!(c.project("web").unwrap().budget, Some(20_000_000_000));
        assert_eq!(c.global.budget, Some(1_649_267_441_664));
        error_at(
            "[[projects]]\nid = \"web\"\nbudget = \"lots\"\n",
            3,
            "project \"web\": budget:",
        );
    }

    #[test]
    fn empty_text_is_an_empty_config() {
        let c = parse("# nothing yet\n").unwrap();
        assert!(c.projects.is_empty() && c.shared.mounts.is_empty());
        assert!(c.global.images.is_empty() && c.caches.paths.is_empty());
    }

    #[test]
    fn label_selector_needs_every_pair() {
        let c = parse(
            "[[projects]]\nid = \"a\"\nlabels = { p = \"a\", tier = \"web\" }\n\
             [[projects]]\nid = \"nolabels\"\n",
        )
        .unwrap();
        let a = c.project("a").unwrap();
        assert!(a.matches_labels(&labels(&[("p", "a"), ("tier", "web"), ("x", "y")])));
        assert!(!a.matches_labels(&labels(&[("p", "a")])));
        assert!(!a.matches_labels(&labels(&[("p", "a"), ("tier", "db")])));
        assert!(!a.matches_labels(&labels(&[])));
        // No selector claims nothing, rather than everything.
        let none = c.project("nolabels").unwrap();
        assert!(!none.matches_labels(&labels(&[])));
        assert!(!none.matches_labels(&labels(&[("p", "a")])));
    }

    #[test]
    fn bad_toml_names_file_line_and_expectation() {
        error_at(
            "[global]\nimages = [\"a\"\n",
            2,
            "unclosed array, expected `]`",
        );
        error_at("\n\n[global\n", 3, "expected `]`");
        error_at("[shared]\nmounts = /x\n", 2, "string values must be quoted");
        error_at("a = 1\nb = 2\na = 3\n", 3, "duplicate key");
    }

    #[test]
    fn unknown_keys_are_errors() {
        error_at(
            "[[projects]]\nid = \"web\"\nimagez = []\n",
            3,
            "unknown field `imagez`",
        );
        error_at(
            "[global]\nimages = []\n\n[cache]\n",
            4,
            "unknown field `cache`",
        );
        error_at("[shared]\nmount = []\n", 2, "unknown field `mount`");
    }

    #[test]
    fn wrong_types_are_errors() {
        error_at("[shared]\nmounts = \"/a\"\n", 2, "expected a sequence");
        error_at(
            "[[projects]]\nid = \"a\"\nlabels = { b = 1 }\n",
            3,
            "expected a string",
        );
        error_at("\n[[projects]]\nimages = []\n", 2, "missing field `id`");
    }

    #[test]
    fn project_ids_are_validated() {
        for bad in [
            "../x",
            "(orphans)",
            "Web",
            "",
            "-a",
            "_a",
            "a b",
            "a/b",
            "é",
        ] {
            let text = format!("[[projects]]\nid = \"a\"\n\n[[projects]]\nid = {bad:?}\n");
            error_at(&text, 5, "project id");
        }
        for good in ["a", "0", "web-app_2", "9lives"] {
            assert!(
                parse(&format!("[[projects]]\nid = {good:?}\n")).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn duplicate_ids_are_rejected_at_the_second() {
        error_at(
            "[[projects]]\nid = \"web\"\n\n[[projects]]\nid = \"db\"\n\n[[projects]]\nid = \"web\"\n",
            8,
            "duplicate project id \"web\" (first defined on line 2)",
        );
    }

    #[test]
    fn bad_regexes_name_project_and_pattern() {
        error_at(
            "[[projects]]\nid = \"web\"\nimages = [\"^ok\",\n  \"(\"]\n",
            4,
            "project \"web\": image pattern \"(\" is not a valid regex: unclosed group",
        );
        error_at(
            "[global]\nimages = [\"[z-a]\"]\n",
            2,
            "global: image pattern \"[z-a]\" is not a valid regex",
        );
        error_at(
            "[[projects]]\nid = \"web\"\nimages = [\"\"]\n",
            3,
            "empty image pattern",
        );
    }

    #[test]
    fn paths_and_globs_are_validated() {
        error_at(
            "[[projects]]\nid = \"a\"\nworkspaces = [\"/x/**a\"]\n",
            3,
            "project \"a\": workspace glob \"/x/**a\" is invalid",
        );
        error_at(
            "[caches]\npaths = [\"/ok\", \"$XDG_CACHE_HOME/ko\"]\n",
            2,
            "$XDG_CACHE_HOME is not expanded",
        );
        error_at("[shared]\nmounts = [\"data\"]\n", 2, "must be absolute");
        error_at(
            "[shared]\nmounts = [\"~bob/x\"]\n",
            2,
            "`~user` is not supported",
        );
        error_at(
            "[[projects]]\nid = \"a\"\nvolumes = [\"\"]\n",
            3,
            "empty volume name",
        );
        error_at(
            "[[projects]]\nid = \"a\"\nlabels = { \"\" = \"x\" }\n",
            3,
            "empty label name",
        );
    }

    #[test]
    fn a_volume_belongs_to_one_project() {
        error_at(
            "[[projects]]\nid = \"a\"\nvolumes = [\"v\"]\n[[projects]]\nid = \"b\"\nvolumes = [\"w\", \"v\"]\n",
            6,
            "volume \"v\" is claimed by both project \"a\" and \"b\"",
        );
        error_at(
            "[[projects]]\nid = \"a\"\nvolumes = [\"v\",\n\"v\"]\n",
            4,
            "project \"a\": volume \"v\" is listed twice",
        );
    }

    #[test]
    fn home_expansion() {
        let c = parse(
            "[caches]\npaths = [\"~\", \"~/a\", \"$HOME\", \"$HOME/b\", \"${HOME}/c\", \"/d/~/e\"]\n",
        )
        .unwrap();
        let want: Vec<PathBuf> = [
            "/home/u",
            "/home/u/a",
            "/home/u",
            "/home/u/b",
            "/home/u/c",
            "/d/~/e",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(c.caches.paths, want);
        // `$HOMEDIR` is not `$HOME`.
        assert!(parse("[caches]\npaths = [\"$HOMEDIR/x\"]\n").is_err());
        // Without HOME, `~` cannot be expanded: say so rather than guess.
        let no_home = Env::default();
        let err = Config::parse_in(
            "\n[caches]\npaths = [\"~/x\"]\n",
            Path::new(ORIGIN),
            &no_home,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(&format!("{ORIGIN}:3: ")) && err.contains("$HOME"),
            "{err}"
        );
    }

    #[test]
    fn glob_special_characters_in_home_are_escaped() {
        let weird = Env {
            home: Some(PathBuf::from("/home/a[1]")),
            xdg_config_home: None,
        };
        let c = Config::parse_in(
            "[[projects]]\nid = \"a\"\nworkspaces = [\"~/t/*\"]\n",
            Path::new(ORIGIN),
            &weird,
        )
        .unwrap();
        assert_eq!(c.projects[0].workspaces, ["/home/a[[]1[]]/t/*"]);
    }

    #[test]
    fn default_path_prefers_absolute_xdg_config_home() {
        let both = Env {
            home: Some("/home/u".into()),
            xdg_config_home: Some("/xdg".into()),
        };
        assert_eq!(
            default_path(&both),
            Some(PathBuf::from("/xdg/podman-storage/config.toml"))
        );
        let relative_xdg = Env {
            home: Some("/home/u".into()),
            xdg_config_home: Some("rel".into()),
        };
        assert_eq!(
            default_path(&relative_xdg),
            Some(PathBuf::from("/home/u/.config/podman-storage/config.toml"))
        );
        let home_only = Env {
            home: Some("/home/u".into()),
            xdg_config_home: None,
        };
        assert_eq!(
            default_path(&home_only),
            Some(PathBuf::from("/home/u/.config/podman-storage/config.toml"))
        );
        let xdg_only = Env {
            home: None,
            xdg_config_home: Some("/xdg".into()),
        };
        assert_eq!(
            default_path(&xdg_only),
            Some(PathBuf::from("/xdg/podman-storage/config.toml"))
        );
        assert_eq!(default_path(&Env::default()), None);
    }

    #[test]
    fn load_resolves_defaults_and_explicit_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let xdg = tmp.path().join("xdg");
        let env = Env {
            home: Some(tmp.path().join("home")),
            xdg_config_home: Some(xdg.clone()),
        };
        // No file at the default location: the empty config.
        let c = Config::load_in(None, &env).unwrap();
        assert!(c.origin.is_none() && c.projects.is_empty());

        let file = xdg.join("podman-storage/config.toml");
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, "[[projects]]\nid = \"fromxdg\"\n").unwrap();
        let c = Config::load_in(None, &env).unwrap();
        assert_eq!(c.origin.as_deref(), Some(file.as_path()));
        assert_eq!(c.projects[0].id, "fromxdg");

        // An explicit path wins, and must exist.
        let explicit = tmp.path().join("other.toml");
        fs::write(&explicit, "[[projects]]\nid = \"explicit\"\n").unwrap();
        let c = Config::load_in(Some(&explicit), &env).unwrap();
        assert_eq!(c.projects[0].id, "explicit");
        let missing = tmp.path().join("missing.toml");
        let err = Config::load_in(Some(&missing), &env).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("missing.toml"), "{err}");

        // A default file that exists but is broken is an error, not ignored.
        fs::write(&file, "[[projects]]\nid = \"Bad\"\n").unwrap();
        let err = Config::load_in(None, &env).unwrap_err().to_string();
        assert_eq!(
            err.split(": ").next().unwrap(),
            format!("{}:2", file.display())
        );
        // A default path that is a directory cannot be read: also an error.
        fs::remove_file(&file).unwrap();
        fs::create_dir(&file).unwrap();
        assert!(matches!(
            Config::load_in(None, &env),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn expands_workspaces_to_sorted_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for d in [
            "tasks/t2",
            "tasks/t1",
            "tasks/t10",
            "tasks/.hidden",
            "other/o1",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::write(root.join("tasks/notes.txt"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("other/o1"), root.join("tasks/link")).unwrap();
        let r = root.display();
        let text = format!(
            "[[projects]]\nid = \"a\"\nworkspaces = [\"{r}/tasks/*\", \"{r}/tasks/t1\", \
             \"{r}/missing/*\", \"{r}/tasks/notes.txt/*\", \"{r}/nothing-here\"]\n"
        );
        let c = parse(&text).unwrap();
        let w = c.projects[0].expand_workspaces();
        let got: Vec<_> = w
            .dirs
            .iter()
            .map(|m| m.path.strip_prefix(root).unwrap().to_str().unwrap())
            .collect();
        assert_eq!(got, ["tasks/t1", "tasks/t10", "tasks/t2"]);
        // t1 is matched by two globs and kept once, under the first.
        assert!(w.dirs.iter().all(|m| m.glob == format!("{r}/tasks/*")));
        assert_eq!(
            w.missing_roots,
            [
                root.join("missing"),
                root.join("nothing-here"),
                root.join("tasks/notes.txt"),
            ]
        );
        assert!(w.warnings.is_empty(), "{:?}", w.warnings);
    }

    #[test]
    fn dot_directories_are_skipped_unless_named() {
        let tmp = tempfile::tempdir().unwrap();
        for d in ["a/ws", ".hidden/ws", "a/.git", "b/.cache/ws"] {
            fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        let t = tmp.path().display();
        let got = |globs: &[String]| -> Vec<PathBuf> {
            expand_workspaces(globs)
                .dirs
                .into_iter()
                .map(|m| m.path.strip_prefix(tmp.path()).unwrap().to_path_buf())
                .collect()
        };
        assert_eq!(got(&[format!("{t}/*")]), [PathBuf::from("a"), "b".into()]);
        assert_eq!(got(&[format!("{t}/**/ws")]), [PathBuf::from("a/ws")]);
        assert_eq!(
            got(&[format!("{t}/*/.cache/*")]),
            [PathBuf::from("b/.cache/ws")]
        );
    }

    /// glob 0.3 panicked listing a directory holding a name that is not
    /// UTF-8 (the overview crashed on such a workspace root).
    #[test]
    fn names_that_are_not_utf8_do_not_panic() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join(std::ffi::OsStr::from_bytes(b"\xff\xfe"))).unwrap();
        fs::create_dir(tmp.path().join("ok")).unwrap();
        fs::create_dir(tmp.path().join(".dot")).unwrap();
        let w = expand_workspaces(&[format!("{}/*", tmp.path().display())]);
        let got: Vec<_> = w.dirs.iter().map(|m| m.path.clone()).collect();
        // glob itself never matches a name that is not UTF-8.
        assert_eq!(got, [tmp.path().join("ok")]);
    }

    #[test]
    fn an_existing_root_with_no_match_is_not_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let w = expand_workspaces(&[format!("{}/*", tmp.path().display())]);
        assert_eq!(w, Workspaces::default());
    }

    #[test]
    fn recursive_globs_match_nested_directories() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("a/b/ws")).unwrap();
        fs::create_dir_all(tmp.path().join("c/ws")).unwrap();
        let w = expand_workspaces(&[format!("{}/**/ws", tmp.path().display())]);
        let got: Vec<_> = w.dirs.iter().map(|m| m.path.clone()).collect();
        assert_eq!(got, [tmp.path().join("a/b/ws"), tmp.path().join("c/ws")]);
    }

    #[test]
    fn fixed_prefix_stops_at_the_first_wildcard() {
        assert_eq!(
            fixed_prefix("/srv/a/tasks/*"),
            PathBuf::from("/srv/a/tasks")
        );
        assert_eq!(fixed_prefix("/srv/a/t?/x"), PathBuf::from("/srv/a"));
        assert_eq!(fixed_prefix("/srv/[ab]/x"), PathBuf::from("/srv"));
        assert_eq!(fixed_prefix("/srv/a"), PathBuf::from("/srv/a"));
        assert_eq!(fixed_prefix("/*"), PathBuf::from("/"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in ".*") {
            let _ = parse(&text);
        }

        #[test]
        fn parse_never_panics_on_config_like_text(
            text in r#"(\[\[projects\]\]|\[shared\]|\[global\]|\[caches\]|id = "[a-zA-Z(./]{0,4}"|images = \["[\^(a-z\[\]*]{0,5}"\]|workspaces = \["[~$/a-z*\[]{0,8}"\]|volumes = \["[a-z]{0,2}"\]|mounts = \["[~$/a-z{}]{0,6}"\]|labels = \{ [a-z]{0,2} = "x" \}|\n){0,12}"#
        ) {
            match parse(&text) {
                Ok(_) => {}
                Err(e) => {
                    let shown = e.to_string();
                    prop_assert!(!shown.contains('\n'), "{}", shown);
                    prop_assert!(shown.starts_with(ORIGIN));
                }
            }
        }
    }
}
