//! Where the local store and its libpod database are, decided as podman
//! decides it, so the store path reads the store podman would use or none.
//!
//! containers/storage picks its configuration file (`CONTAINERS_STORAGE_CONF`,
//! else a rootless user's own `storage.conf`, else the system's), then the
//! graph root (a rootless user gets `rootless_storage_path` or a path under
//! `$XDG_DATA_HOME`, never the system `graphroot`), then the driver (the
//! configured one, else the one whose directory already exists in the graph
//! root, as c/storage's `ScanPriorDrivers` does). containers.conf says where
//! libpod's database is and which backend it uses. The database itself
//! records the store it was made for; `local.rs` checks that against this.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::libpod::Database;

/// The process environment that decides the store, read once so resolving
/// is a pure function of it (and testable with any other).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub euid: u32,
    pub vars: BTreeMap<String, String>,
    /// The user's name and home as the password database has them.
    pub user: Option<(String, PathBuf)>,
}

impl Env {
    pub fn current() -> Env {
        // SAFETY: geteuid has no failure mode and no memory effects.
        let euid = unsafe { libc::geteuid() };
        Env {
            euid,
            vars: std::env::vars().collect(),
            user: passwd_entry(euid),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn rootless(&self) -> bool {
        self.euid != 0
    }

    fn home(&self) -> Option<PathBuf> {
        self.var("HOME")
            .map(PathBuf::from)
            .or_else(|| self.user.as_ref().map(|u| u.1.clone()))
    }

    fn config_home(&self) -> Option<PathBuf> {
        self.var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| Some(self.home()?.join(".config")))
    }
}

/// The user's name and home directory, from `/etc/passwd` (c/storage expands
/// `$USER` from it, not from the environment).
fn passwd_entry(uid: u32) -> Option<(String, PathBuf)> {
    let text = fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| (f[0].to_string(), PathBuf::from(f[5])))
    })
}

/// Drivers c/storage knows, in the order its `ScanPriorDrivers` tries them.
const DRIVERS: [&str; 6] = ["overlay", "btrfs", "zfs", "vfs", "aufs", "devicemapper"];

/// A store as podman would open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    pub graphroot: PathBuf,
    pub runroot: PathBuf,
    pub driver: String,
    /// The driver was named in storage.conf or `STORAGE_DRIVER`, not found
    /// on disk: a database recording another one makes podman refuse.
    pub driver_configured: bool,
    /// `transient_store`: containers' records live under the run root.
    pub transient: bool,
    /// `imagestore`: images and their layers live there, not in the graph root.
    pub imagestore: Option<PathBuf>,
    /// `additionalimagestores`: read-only stores whose images podman lists.
    pub additional_image_stores: Vec<PathBuf>,
    /// The storage.conf that was read, if any (for messages).
    pub conf: Option<PathBuf>,
}

impl StoreLocation {
    /// A store at `graphroot` with c/storage's defaults for the rest.
    pub fn new(graphroot: PathBuf, driver: &str) -> StoreLocation {
        StoreLocation {
            runroot: graphroot.join("run"),
            graphroot,
            driver: driver.to_string(),
            driver_configured: true,
            transient: false,
            imagestore: None,
            additional_image_stores: Vec::new(),
            conf: None,
        }
    }
}

/// The local store and libpod's database for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub store: StoreLocation,
    pub database: Database,
    /// Where named volumes live unless the database says otherwise.
    pub volume_path: PathBuf,
    /// Both a bolt file and `db.sql` exist and nothing chooses: podman up
    /// to 5.8.0 reads this bolt file, later ones `database`. Only podman's
    /// version can tell which one is live.
    pub bolt_before_5_8_1: Option<Database>,
    /// Where builds and pulls leave files, from the same containers.conf.
    pub build_places: BuildPlaces,
}

/// libpod's database files: BoltDB (podman 4) and SQLite (4.8 and later).
const BOLT_FILE: &str = "bolt_state.db";
const SQLITE_FILE: &str = "db.sql";

/// libpod's static dir when containers.conf sets none.
fn default_static_dir(graphroot: &Path) -> PathBuf {
    graphroot.join("libpod")
}

/// Where podman keeps the bolt database of the store at `graphroot` when
/// containers.conf sets no `static_dir` (and the store is not transient).
pub fn default_bolt_path(graphroot: &Path) -> PathBuf {
    default_static_dir(graphroot).join(BOLT_FILE)
}

/// Where podman 4.8+ keeps the SQLite database of the store at `graphroot`
/// when containers.conf sets no `static_dir`: the graph root itself, not
/// the static dir as for bolt (`sqliteStatePath` in libpod).
pub fn default_sqlite_path(graphroot: &Path) -> PathBuf {
    graphroot.join(SQLITE_FILE)
}

/// podman 5.8.1 and later read an existing `db.sql` before a bolt file
/// (libpod's `getDBState`); earlier ones the reverse. `version` as podman
/// prints it (`5.8.1`, `6.0.0-rc1`, `5.4.2-dev`).
pub fn reads_sqlite_first(version: &str) -> Result<bool, String> {
    let mut parts = version
        .trim()
        .split(['.', '-', '+', '~'])
        .map(|p| p.parse::<u32>().ok());
    let mut next = || parts.next().flatten();
    match (next(), next(), next()) {
        (Some(major), Some(minor), patch) => Ok((major, minor, patch.unwrap_or(0)) >= (5, 8, 1)),
        _ => Err(format!("podman printed an unexpected version {version:?}")),
    }
}

#[derive(Debug, Default, Deserialize)]
struct StorageConf {
    #[serde(default)]
    storage: StorageSection,
}

#[derive(Debug, Default, Deserialize)]
struct StorageSection {
    driver: Option<String>,
    graphroot: Option<PathBuf>,
    runroot: Option<PathBuf>,
    rootless_storage_path: Option<String>,
    imagestore: Option<PathBuf>,
    transient_store: Option<bool>,
    #[serde(default)]
    options: StorageOptions,
}

#[derive(Debug, Default, Deserialize)]
struct StorageOptions {
    additionalimagestores: Option<Vec<PathBuf>>,
}

/// The `[engine]` keys of containers.conf that place libpod's database.
#[derive(Debug, Default, Deserialize)]
struct ContainersConf {
    #[serde(default)]
    engine: EngineSection,
}

#[derive(Debug, Default, Deserialize)]
struct EngineSection {
    static_dir: Option<PathBuf>,
    volume_path: Option<PathBuf>,
    database_backend: Option<String>,
    tmp_dir: Option<PathBuf>,
    image_copy_tmp_dir: Option<String>,
}

/// Resolves the store and database; an error names the file that could not
/// be used, and the caller asks podman instead.
pub fn resolve(env: &Env) -> Result<Resolved, String> {
    let store = resolve_store(env)?;
    let engine = engine_config(env)?;
    let build_places = places(env, &engine);
    let static_dir_set = engine.static_dir.is_some();
    let static_dir = engine
        .static_dir
        .unwrap_or_else(|| default_static_dir(&store.graphroot));
    let volume_path = engine
        .volume_path
        .unwrap_or_else(|| store.graphroot.join("volumes"));
    // libpod's `getBoltDBPath`: a transient store keeps it in the tmp dir.
    let bolt = if store.transient {
        engine
            .tmp_dir
            .clone()
            .unwrap_or_else(|| default_tmp_dir(env))
    } else {
        static_dir.clone()
    }
    .join(BOLT_FILE);
    // libpod's `NewSqliteState`: the run root for a transient store, the
    // static dir when one is configured, else the graph root.
    let sqlite_dir = if store.transient {
        store.runroot.clone()
    } else if static_dir_set {
        static_dir.clone()
    } else {
        store.graphroot.clone()
    };
    let sqlite = sqlite_dir.join(SQLITE_FILE);
    let mut bolt_before_5_8_1 = None;
    let database = match engine.database_backend.as_deref().unwrap_or("") {
        "sqlite" => Database::Sqlite(sqlite),
        "boltdb" => Database::Bolt(bolt),
        "" if bolt.exists() && sqlite.exists() => {
            bolt_before_5_8_1 = Some(Database::Bolt(bolt));
            Database::Sqlite(sqlite)
        }
        // Unset: an existing bolt database is kept, else SQLite, the
        // default for new stores.
        "" if bolt.exists() => Database::Bolt(bolt),
        "" if sqlite.exists() => Database::Sqlite(sqlite),
        // A store podman has not used yet. podman before 4.8 would make a
        // bolt file; either way it is empty.
        "" => Database::Bolt(bolt),
        other => {
            return Err(format!(
                "containers.conf: unknown database_backend {other:?}"
            ))
        }
    };
    Ok(Resolved {
        store,
        database,
        volume_path,
        bolt_before_5_8_1,
        build_places,
    })
}

/// c/common's default `tmp_dir`.
fn default_tmp_dir(env: &Env) -> PathBuf {
    if !env.rootless() {
        return "/run/libpod".into();
    }
    match env.var("XDG_RUNTIME_DIR") {
        Some(d) => Path::new(d).join("libpod/tmp"),
        None => format!("/run/user/{}/libpod/tmp", env.euid).into(),
    }
}

fn resolve_store(env: &Env) -> Result<StoreLocation, String> {
    let (conf_path, conf) = storage_conf(env)?;
    let s = conf.storage;
    let rootless = env.rootless();
    let own_conf = conf_path.as_ref().is_some_and(|p| is_user_conf(env, p));
    let graphroot = if !rootless || own_conf {
        s.graphroot.clone()
    } else {
        None
    };
    let graphroot = match graphroot {
        Some(g) => g,
        None if rootless => match s.rootless_storage_path.as_deref() {
            Some(p) if !p.is_empty() => expand(p, env),
            _ => {
                let data = env
                    .var("XDG_DATA_HOME")
                    .map(PathBuf::from)
                    .or_else(|| Some(env.home()?.join(".local/share")))
                    .ok_or("no $HOME to find the rootless store under")?;
                data.join("containers/storage")
            }
        },
        None => "/var/lib/containers/storage".into(),
    };
    let runroot = match (&s.runroot, rootless && !own_conf) {
        (Some(r), false) => r.clone(),
        _ if rootless => match env.var("XDG_RUNTIME_DIR") {
            Some(d) => Path::new(d).join("containers"),
            None => format!("/run/user/{}/containers", env.euid).into(),
        },
        _ => "/run/containers/storage".into(),
    };
    let configured = env
        .var("STORAGE_DRIVER")
        .map(str::to_string)
        .or(s.driver.filter(|d| !d.is_empty()));
    let driver_configured = configured.is_some();
    let driver = match configured {
        Some(d) => canonical_driver(&d).to_string(),
        None => prior_driver(&graphroot)?,
    };
    Ok(StoreLocation {
        graphroot,
        runroot,
        driver,
        driver_configured,
        transient: s.transient_store.unwrap_or(false),
        imagestore: s.imagestore.filter(|p| !p.as_os_str().is_empty()),
        additional_image_stores: s.options.additionalimagestores.unwrap_or_default(),
        conf: conf_path,
    })
}

/// `overlay2` is c/storage's alias of `overlay`.
fn canonical_driver(name: &str) -> &str {
    match name {
        "overlay2" => "overlay",
        other => other,
    }
}

/// The driver a store was created with, as c/storage finds it when none is
/// configured: the one driver whose directory is in the graph root. None
/// yet is a new store (podman would pick one when it first runs; nothing is
/// in it); several is an error podman reports too.
fn prior_driver(graphroot: &Path) -> Result<String, String> {
    let found: Vec<&str> = DRIVERS
        .into_iter()
        .filter(|d| graphroot.join(format!("{d}-layers")).is_dir())
        .collect();
    match found.as_slice() {
        [] => Ok("overlay".into()),
        [one] => Ok(one.to_string()),
        many => Err(format!(
            "{}: several storage drivers have layers here ({}) and none is configured",
            graphroot.display(),
            many.join(", ")
        )),
    }
}

fn is_user_conf(env: &Env, path: &Path) -> bool {
    env.config_home()
        .is_some_and(|c| path == c.join("containers/storage.conf"))
}

/// The storage.conf c/storage reads for this user, parsed; none at all is
/// c/storage's built-in defaults.
fn storage_conf(env: &Env) -> Result<(Option<PathBuf>, StorageConf), String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = env.var("CONTAINERS_STORAGE_CONF") {
        candidates.push(p.into());
    } else {
        if env.rootless() {
            if let Some(c) = env.config_home() {
                candidates.push(c.join("containers/storage.conf"));
            }
        }
        candidates.push("/etc/containers/storage.conf".into());
        candidates.push("/usr/share/containers/storage.conf".into());
    }
    for path in candidates {
        match fs::read_to_string(&path) {
            Ok(text) => {
                let conf = toml::from_str(&text)
                    .map_err(|e| format!("{}: {}", path.display(), one_line(&e.to_string())))?;
                return Ok((Some(path), conf));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Ok((None, StorageConf::default()))
}

/// containers.conf's `[engine]` keys merged as c/common merges its files:
/// `CONTAINERS_CONF` alone when set, else the system files, drop-ins and
/// then the user's, each later file overriding what it sets.
fn engine_config(env: &Env) -> Result<EngineSection, String> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(p) = env.var("CONTAINERS_CONF") {
        files.push(p.into());
    } else {
        let mut dirs: Vec<PathBuf> = vec!["/usr/share/containers".into(), "/etc/containers".into()];
        if env.rootless() {
            if let Some(c) = env.config_home() {
                dirs.push(c.join("containers"));
            }
        }
        for dir in dirs {
            files.push(dir.join("containers.conf"));
            let mut dropins: Vec<PathBuf> = fs::read_dir(dir.join("containers.conf.d"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            dropins.sort();
            files.extend(dropins);
        }
    }
    if let Some(p) = env.var("CONTAINERS_CONF_OVERRIDE") {
        files.push(p.into());
    }
    let mut merged = EngineSection::default();
    for path in files {
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let conf: ContainersConf = toml::from_str(&text)
            .map_err(|e| format!("{}: {}", path.display(), one_line(&e.to_string())))?;
        let e = conf.engine;
        merged.static_dir = e.static_dir.or(merged.static_dir);
        merged.volume_path = e.volume_path.or(merged.volume_path);
        merged.database_backend = e.database_backend.or(merged.database_backend);
        merged.tmp_dir = e.tmp_dir.or(merged.tmp_dir);
        merged.image_copy_tmp_dir = e.image_copy_tmp_dir.or(merged.image_copy_tmp_dir);
    }
    Ok(merged)
}

/// Where builds and pulls leave files outside the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildPlaces {
    /// buildah's and c/image's temp dir: `TMPDIR`, else containers.conf
    /// `image_copy_tmp_dir`, else `/var/tmp`; `None` when that is the
    /// store's own `tmp` (`"storage"`), already in the graph root.
    pub tmp_dir: Option<PathBuf>,
    /// c/image's blob-info cache: `/var/lib/containers/cache` for root,
    /// `$XDG_DATA_HOME/containers/cache` (`~/.local/share/...`) otherwise.
    /// Seen there on podman 4.3 (`.boltdb`) and 5.4 (`.sqlite`) alike.
    pub blob_info_cache_dir: Option<PathBuf>,
}

fn places(env: &Env, engine: &EngineSection) -> BuildPlaces {
    let tmp_dir = match (env.var("TMPDIR"), engine.image_copy_tmp_dir.as_deref()) {
        (Some(t), _) => Some(PathBuf::from(t)),
        (None, Some("storage")) => None,
        (None, Some(d)) if d.starts_with('/') => Some(PathBuf::from(d)),
        (None, _) => Some(PathBuf::from("/var/tmp")),
    };
    let blob_info_cache_dir = if env.rootless() {
        env.var("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| Some(env.home()?.join(".local/share")))
            .map(|d| d.join("containers/cache"))
    } else {
        Some(PathBuf::from("/var/lib/containers/cache"))
    };
    BuildPlaces {
        tmp_dir,
        blob_info_cache_dir,
    }
}

/// c/storage expands these three in `rootless_storage_path`.
fn expand(path: &str, env: &Env) -> PathBuf {
    let home = env
        .home()
        .map(|h| h.display().to_string())
        .unwrap_or_default();
    let user = env
        .user
        .as_ref()
        .map(|u| u.0.clone())
        .or_else(|| env.var("USER").map(str::to_string))
        .unwrap_or_default();
    path.replace("$HOME", &home)
        .replace("$UID", &env.euid.to_string())
        .replace("$USER", &user)
        .into()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
