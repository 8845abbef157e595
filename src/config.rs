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

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use regex::Regex;
use thiserror::Error;

mod parse;
mod workspaces;

use parse::{line_of, one_line, Compiler, RawConfig};
pub use workspaces::{expand_workspaces, WorkspaceMatch, Workspaces};

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

#[cfg(test)]
mod tests;
