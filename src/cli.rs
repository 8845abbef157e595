//! Command-line definitions (clap derive only).
//!
//! This file has no `crate::` imports so that the man-page generator can
//! `include!` it; the library converts these types into its own.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Where did my disk go, and what can I safely get back?";

const LONG_ABOUT: &str = "\
Where did my disk go, and what can I safely get back?

podman-storage measures everything a container workflow writes to disk: podman
(or docker) images, containers' writable layers and volumes, OCI blob caches
and project workspaces. Every byte is counted exactly once: layers shared by
several images are not added up twice, and the rows of a report sum to its
total.

Without a subcommand it prints the per-project overview.";

const EXIT_CODES: &str = "\
Exit codes:
  0  complete report
  1  report printed, but a source failed or was only partly measured
  2  fatal: bad arguments or config, or nothing could be measured
  3  report printed, but a total is over its budget (config `budget`,
     `--fail-over`); takes precedence over 1";

/// Ends every subcommand's help, which lists only the subcommand's own options.
const GLOBALS_POINTER: &str = "\
Global options (--format json, --bytes, --engine, --podman, --config, ...) are
accepted before or after the subcommand: see `podman-storage --help`.";

/// The command line. Global options parse after any subcommand, but each
/// subcommand's help lists only its own options: clap copies a global
/// option into a subcommand only when the subcommand has none of that id,
/// so each gets a hidden copy first (still global: its value reaches
/// [`GlobalArgs`]), and a line pointing to the root help.
pub fn command() -> clap::Command {
    let root = Cli::command();
    let globals: Vec<clap::Arg> = root
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    hide_globals(root, &globals)
}

fn hide_globals(cmd: clap::Command, globals: &[clap::Arg]) -> clap::Command {
    cmd.mut_subcommands(|sub| {
        let after = match sub.get_after_help() {
            Some(own) => format!("{own}\n\n{GLOBALS_POINTER}"),
            None => GLOBALS_POINTER.to_string(),
        };
        let sub = globals
            .iter()
            .fold(sub, |sub, a| sub.arg(a.clone().hide(true)))
            .after_help(after);
        hide_globals(sub, globals)
    })
}

/// The podman versions, users, drivers and databases the real-setups tests
/// run (README "Tested setups").
pub const TESTED_WITH: &str = "\
tested with:
  podman 4.3.1 (Debian 12): root overlay, rootless vfs; BoltDB
  podman 5.4.2 (Debian 13): root and rootless overlay; SQLite, BoltDB";

/// `--version`: the version, the commit it was built from (build.rs) and
/// what it is tested with. `-V` stays one line.
fn long_version() -> String {
    let commit = option_env!("PODMAN_STORAGE_COMMIT").unwrap_or("unknown");
    format!(
        "{}\ncommit {commit}\n{TESTED_WITH}",
        env!("CARGO_PKG_VERSION")
    )
}

#[derive(Debug, Parser)]
#[command(
    name = "podman-storage",
    version,
    long_version = long_version(),
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    pub format: Format,

    /// Write the report to FILE (atomically: a reader never sees half of
    /// it) instead of stdout, e.g. for node_exporter's textfile collector.
    #[arg(long, global = true, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,

    /// Exit 3 when the view's total is over SIZE (e.g. 20GB); the report
    /// still prints in full. Budgets in the config work alike.
    #[arg(long, global = true, value_name = "SIZE", help_heading = "Output")]
    pub fail_over: Option<String>,

    /// Print sizes as integer bytes instead of SI units (tables only; JSON is always bytes).
    #[arg(long, global = true)]
    pub bytes: bool,

    /// Podman connection to use (passed to podman as --connection).
    #[arg(
        long,
        short = 'c',
        global = true,
        value_name = "NAME",
        help_heading = "Engine"
    )]
    pub connection: Option<String>,

    /// URL of a remote podman service (passed to podman as --url).
    #[arg(long, global = true, value_name = "URL", help_heading = "Engine")]
    pub url: Option<String>,

    /// Engine to ask: podman, docker, or auto (podman when it is installed
    /// or its store exists, else docker).
    #[arg(
        long,
        value_enum,
        global = true,
        env = "PODMAN_STORAGE_ENGINE",
        default_value_t = EngineChoice::Auto,
        help_heading = "Engine"
    )]
    pub engine: EngineChoice,

    /// Run the overview on every connection in `podman system connection
    /// list`, one section per host, plus a grand total.
    #[arg(long, global = true, conflicts_with_all = ["connection", "url"], help_heading = "Engine")]
    pub all_connections: bool,

    /// Docker binary to run (with --engine docker).
    #[arg(
        long,
        global = true,
        env = "PODMAN_STORAGE_DOCKER",
        default_value = "docker",
        value_name = "PATH",
        help_heading = "Engine"
    )]
    pub docker: String,

    /// Docker's configuration directory, passed to docker as --config (set
    /// when docker runs us as its `storage` plugin with `--config`).
    #[arg(long, global = true, hide = true, value_name = "DIR")]
    pub docker_config: Option<PathBuf>,

    /// Podman binary to run [default: podman]. Naming one also means
    /// `--engine auto` picks podman.
    #[arg(
        long,
        global = true,
        env = "PODMAN_STORAGE_PODMAN",
        value_name = "PATH",
        help_heading = "Engine"
    )]
    pub podman: Option<String>,

    /// Ask podman for everything instead of reading the local store's files
    /// and database (slower; what a remote connection does).
    #[arg(long, global = true, help_heading = "Engine")]
    pub cli_only: bool,

    /// Seconds to wait for any one engine command before killing it.
    #[arg(
        long,
        global = true,
        default_value_t = 120,
        value_name = "SECS",
        help_heading = "Engine"
    )]
    pub timeout: u64,

    /// When to use colors: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, global = true, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Never show a progress spinner (it is only ever shown on a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// Config file [default: $XDG_CONFIG_HOME/podman-storage/config.toml].
    #[arg(
        long,
        global = true,
        env = "PODMAN_STORAGE_CONFIG",
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,

    /// Record every engine command (argv, stdout, stderr, exit code) into DIR.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        conflicts_with = "replay",
        help_heading = "Recording"
    )]
    pub record: Option<PathBuf>,

    /// Answer engine commands from a recording made with --record instead of running them.
    #[arg(long, global = true, value_name = "DIR", help_heading = "Recording")]
    pub replay: Option<PathBuf>,
}

const OVERVIEW_HELP: &str = "\
Columns:
  PROJECT     a project (configured, or named by compose or Quadlet labels or a pod),
              or a synthetic row: (shared) layers of several projects' images and
              shared mounts; (global) [global] images, layers no project's image
              uses, and blob caches; (orphans) images and volumes of compose
              projects that have no container left
  IMAGES      image bytes attributed to the row: layers only its images use, once
  VOLUMES     its volumes' files
  WORKSPACES  its workspace directories (how many in parentheses)
  CACHES      blob caches; SHARED: shared mounts
  CTRS        its containers (their writable layers: `project ID`, `df`)
  TOTAL       the row's sum; the Total line sums the rows, each byte once

Example:
  PROJECT     IMAGES  VOLUMES  WORKSPACES  CACHES  SHARED  CTRS    TOTAL
  alpha       804 kB   404 kB         0 B     0 B     0 B     1  1.21 MB  ██████
  beta        1.5 MB   404 kB         0 B     0 B     0 B     1  1.91 MB  ██████████
  (shared)   3.99 MB      0 B         0 B     0 B     0 B     0  3.99 MB  ████████████████████
  (global)   1.09 kB      0 B         0 B     0 B     0 B     0  1.09 kB  █
  (orphans)      0 B   4.1 kB         0 B     0 B     0 B     0   4.1 kB  █
  Total                                                          7.12 MB";

const PROJECT_HELP: &str = "\
Sections:
  IMAGES      SIZE: all its layers; UNIQUE: layers only that image uses; SHARED:
              layers other images use too. `attributed to ID` is the project's
              IMAGES cell in the overview: layers only its images use, once each.
  CONTAINERS  SIZE: the writable layer; LOGS: its log file
  WORKSPACES  PATH, SIZE (apparent bytes), FILES
  VOLUMES     NAME, SIZE, IN USE (a container mounts it)
  Total       its overview row + its containers' writable layers + logs

Without ID: PROJECT, KIND (config, compose, quadlet, pod), CTRS, TOTAL (its
overview row).

Example:
  $ podman-storage project
  PROJECT  KIND     CTRS    TOTAL
  alpha    compose     1  1.21 MB";

const DF_HELP: &str = "\
Columns:
  TYPE         Images, Containers (writable layers), Local Volumes, Container logs,
               Store metadata (records and databases in the graph root), Build
               cache (build leftovers), Blob caches
  TOTAL        how many
  ACTIVE       in use: images a container uses, running or paused containers,
               volumes a container mounts, blob caches (OCI layouts, registries)
               whose tags reference blobs; `-` where nothing is ever in use
  SIZE         bytes on disk, each layer once
  RECLAIMABLE  what removing the unused ones frees, and its share of SIZE

Example:
  TYPE            TOTAL  ACTIVE     SIZE    RECLAIMABLE
  Images              3       2   6.3 MB   1.09 kB (0%)
  Containers          2       2   600 kB       0 B (0%)
  Local Volumes       3       2   812 kB    4.1 kB (0%)
  Container logs      2       2      0 B       0 B (0%)
  Store metadata      8       -   404 kB       0 B (0%)
  Build cache         1       -   2.1 MB  2.1 MB (100%)
  Total                          10.2 MB   2.1 MB (20%)";

const IMAGES_HELP: &str = "\
Columns:
  SIZE        all the image's layers
  UNIQUE      layers only this image uses: what removing it alone frees
  SHARED      layers other images use too (counted once, in the shared row)
  CONTAINERS  containers created from it
  CREATED     when the image was created; LAST USED: its newest container's
              creation (`-` none)
Rows in parentheses: build intermediates (nameless step images) and the shared
layers; Total = the UNIQUE column + shared layers = `df`'s Images row.

Example:
  REPOSITORY:TAG              IMAGE ID         SIZE   UNIQUE   SHARED  CONTAINERS  CREATED     LAST USED
  localhost/alpha_web:latest  84ed7ac5198c   4.8 MB   804 kB  3.99 MB           1  2 days ago  2 days ago
  localhost/base:1            1cd7a8ac64d6  3.99 MB  1.09 kB  3.99 MB           0  2 days ago  -
  (shared layers, counted once)                      3.99 MB
  Total                                               4.8 MB";

const CONTAINERS_HELP: &str = "\
Columns:
  SIZE  the writable layer (with --size; `-` not measured, `?` could not be)
  LOGS  its log file (`in the journal` for journald, `-` none or not measured)
  CREATED  when it was created

Example:
  CONTAINER ID  NAME         IMAGE                       STATE      SIZE  LOGS  CREATED
  273e536ac633  alpha_web_1  localhost/alpha_web:latest  running  300 kB   0 B  2 days ago";

const VOLUMES_HELP: &str = "\
Columns:
  SIZE    its files (`~` approximate, `>=` a lower bound, `?` unknown)
  IN USE  a container mounts it
  CREATED when it was created
  LABELS  its labels, k=v

Example:
  VOLUME NAME    SIZE  IN USE  CREATED     LABELS
  alpha_data   404 kB  yes     2 days ago  com.docker.compose.project=alpha";

const DU_HELP: &str = "\
Columns:
  APPARENT  bytes of files, directories and symlinks (`du -sb`)
  ON DISK   blocks allocated (`du -s` in bytes)
  FILES     files; DIRS: directories
Each inode is counted once across the paths: `^` marks a path inside an earlier
one, `*` one not fully read (a lower bound, exit 1). A PATH that does not exist
is a warning and exit 1.

Example:
  PATH       APPARENT  ON DISK  FILES  DIRS
  proj/root    8.1 MB  8.24 MB     70    62";

const CACHES_HELP: &str = "\
Columns:
  KIND        fscache (flat blob cache), oci-layout, registry, unknown, missing
  BLOBS       blobs it holds; SIZE: its bytes
  REFERENCED  blobs (and bytes) a tag or index references
  ORPHANS     blobs nothing references: `prune caches --orphans` removes them
  TEMP        unfinished downloads
  LAST USED   the newest use of a blob (later of atime and mtime)
A PATH given (or configured) that does not exist is a warning and exit 1;
well-known caches that are absent are not listed.

Example (--bytes):
  KIND        PATH    BLOBS   SIZE  REFERENCED   ORPHANS    TEMP  LAST USED
  oci-layout  layout      9  10698    7 (7991)  2 (2200)  2 (30)  3 days ago
  fscache     flat        3   3033           -         -  1 (33)  2 hours ago
  TOTAL                      13731";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    /// Prometheus text exposition format (overview, df, snapshot).
    Prometheus,
    /// A reviewable `#!/bin/sh` script of the removal commands (plan only).
    Script,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineChoice {
    Auto,
    Podman,
    Docker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Per-project overview: images, volumes, workspaces and caches (the default).
    #[command(after_help = OVERVIEW_HELP)]
    Overview,
    /// Per-project detail, including containers' writable layers; without an
    /// id, the list of projects.
    #[command(after_help = PROJECT_HELP)]
    Project(ProjectArgs),
    /// Engine totals by component, each layer counted once.
    #[command(after_help = DF_HELP)]
    Df,
    /// Images with their unique and shared bytes.
    #[command(after_help = IMAGES_HELP)]
    Images(SelectArgs),
    /// Containers with their writable-layer bytes.
    #[command(after_help = CONTAINERS_HELP)]
    Containers(ContainersArgs),
    /// Volumes with their bytes and users.
    #[command(after_help = VOLUMES_HELP)]
    Volumes(SelectArgs),
    /// Measure directories (apparent and on-disk bytes), like `du -s`.
    #[command(after_help = DU_HELP)]
    Du(DuArgs),
    /// OCI blob caches and image layouts: blobs, bytes, orphans.
    #[command(after_help = CACHES_HELP)]
    Caches(CachesArgs),
    /// Record the overview and df into the history (for `growth`), pruning old snapshots.
    Snapshot(SnapshotArgs),
    /// What grew: per project and component, then, now, the change and the rate per day.
    Growth(GrowthArgs),
    /// What pruning frees, object by object, with the command that removes each.
    ///
    /// Stopped containers, images no container uses, unused volumes, build
    /// leftovers and blob caches, in removal order; each row frees its bytes
    /// once the rows above it are gone (a shared layer goes with the last
    /// image holding it). The total is `df`'s RECLAIMABLE for the kinds shown.
    /// `--format script` prints the commands as a shell script to review.
    Plan(PlanArgs),
    /// What keeps an image, layer, volume, container or cached blob, and what removing each holder frees.
    #[command(long_about = WHY_ABOUT, after_help = WHY_EXAMPLES)]
    Why(WhyArgs),
    /// Remove what is safe to remove.
    #[command(subcommand)]
    Prune(PruneCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print a shell function that makes `podman storage ...` run podman-storage.
    ///
    /// podman has no plugin mechanism for subcommands, so this wraps it: put
    /// `eval "$(podman-storage shell-init bash)"` in ~/.bashrc (zsh alike;
    /// fish: `podman-storage shell-init fish | source`). Every other podman
    /// call passes through unchanged, exit codes included.
    ShellInit(ShellInitArgs),
}

const WHY_ABOUT: &str = "\
What keeps TARGET on disk, and what removing each holder would free.

TARGET is one of:
  an image      name[:tag] (`app` means `app:latest`), or a full or short id
  a layer       its storage id, or its diff digest (sha256:...), or a prefix
  a volume      its name
  a container   its name, or a full or short id
  a blob        a full digest (sha256:<64 hex>) in a blob cache or OCI layout:
                configured and well-known caches, plus any --cache PATH

For an image it lists its tags and compose/Quadlet labels, the containers
created from it (state, project) and the images built on it; for a layer the
images holding it; for a volume the containers mounting it; for a container
its pod, image and volumes; for a blob the index.json -> manifest path(s)
that reference it in each layout, or that nothing does.

FREES is what removing that holder alone frees, each layer counted once: an
image goes with its containers (as `podman rmi -f`) and frees only the layers
no other image holds. The last line gives what removing the target frees,
and what removing it with everything that keeps it frees.

A TARGET that names several objects (a short id that is also another's
prefix, a container and a volume of one name) lists them and exits 2; so does
one that names nothing.";

const WHY_EXAMPLES: &str = "\
Examples:
  podman-storage why localhost/web:1      an image by name
  podman-storage why 3f2a1b               an image, container or layer by id prefix
  podman-storage why pgdata --kind volume a volume, where a container has that name too
  podman-storage why sha256:0688de4d...  --cache ./oci   a blob in an OCI layout";

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// Image, layer, volume, container or blob digest (see above).
    pub target: String,

    /// Look only for this kind of object.
    #[arg(long, value_enum)]
    pub kind: Option<WhyKind>,

    /// Also look for a blob in this cache or OCI layout (repeatable).
    #[arg(long, value_name = "PATH")]
    pub cache: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhyKind {
    Image,
    Layer,
    Volume,
    Container,
    Blob,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// History directory [default: $XDG_STATE_HOME/podman-storage, for root
    /// /var/lib/podman-storage].
    #[arg(long, env = "PODMAN_STORAGE_HISTORY", value_name = "DIR")]
    pub history: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub history: HistoryArgs,

    /// Remove snapshots older than this (e.g. 90d, 12w) after writing.
    #[arg(long, default_value = "90d", value_name = "DURATION")]
    pub keep: String,

    /// Also write the Prometheus text format to FILE (atomically).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GrowthArgs {
    #[command(flatten)]
    pub history: HistoryArgs,

    /// Compare with the newest snapshot at or before this long ago (1d,
    /// 7d, 12h), at or before a UTC date (2026-11-01, 2026-11-01T12:00:00Z),
    /// or with a snapshot or `--format json` report FILE.
    #[arg(long, default_value = "1d", value_name = "WHEN")]
    pub since: String,

    /// Compare with this snapshot or report FILE instead of measuring now.
    #[arg(long, value_name = "FILE")]
    pub to: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ShellInitArgs {
    #[arg(value_enum)]
    pub shell: InitShell,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// Project id (from the config or from compose labels); without it, the
    /// list of projects.
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ContainersArgs {
    /// Measure each container's writable layer (slower: podman walks every
    /// layer). `--sort size` implies it.
    #[arg(long, short = 's')]
    pub size: bool,

    #[command(flatten)]
    pub select: SelectArgs,
}

/// What `--sort` orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortKey {
    /// Bytes, largest first.
    Size,
    /// Bytes only this image holds, largest first (images).
    Unique,
    /// Creation time, newest first (images, containers, volumes).
    Created,
    /// Last use, most recent first (images: newest container; caches: newest blob).
    Used,
    /// Name, A to Z.
    Name,
}

/// `--sort` and `--top`, the same on every list view.
#[derive(Debug, Clone, Args)]
pub struct SortArgs {
    /// Order the rows by KEY (ties by name); a key the view has no column
    /// for is an error.
    #[arg(long, value_enum, value_name = "KEY", help_heading = "Selection")]
    pub sort: Option<SortKey>,

    /// List only the first N rows (after --sort); the total still covers
    /// every row, and a line below the table says how many were left out.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..),
        help_heading = "Selection"
    )]
    pub top: Option<u64>,
}

/// `--sort`, `--top` and `--project`: for views of engine objects.
#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    #[command(flatten)]
    pub sort: SortArgs,

    /// Only the objects the overview attributes to project ID; the total
    /// then covers them alone.
    #[arg(long, value_name = "ID", help_heading = "Selection")]
    pub project: Option<String>,
}

#[derive(Debug, Args)]
pub struct DuArgs {
    /// Directories (or files) to measure.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Descend into directories on other file systems (default: stay on each root's).
    #[arg(long)]
    pub cross_file_systems: bool,

    #[command(flatten)]
    pub sort: SortArgs,
}

#[derive(Debug, Args)]
pub struct CachesArgs {
    /// Cache directories or OCI layouts to inspect [default: configured and well-known caches].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub sort: SortArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Plan images (no kind flag: every kind).
    #[arg(long)]
    pub images: bool,

    /// Plan stopped containers.
    #[arg(long)]
    pub containers: bool,

    /// Plan unused volumes.
    #[arg(long)]
    pub volumes: bool,

    /// Plan build leftovers (temp dirs, blob-info cache, external containers).
    #[arg(long)]
    pub build_cache: bool,

    /// Plan blob caches (what `prune caches` frees by default).
    #[arg(long)]
    pub caches: bool,

    /// Only this project's containers, images and volumes.
    #[arg(long, value_name = "ID")]
    pub project: Option<String>,

    /// Only containers, images and volumes created longer ago than this
    /// (e.g. 30d, 12h); leftovers and caches are left out. One whose engine
    /// gives no creation time is kept.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PruneCommand {
    /// Prune blob caches and OCI layouts.
    Caches(PruneCachesArgs),
    /// Remove images no container uses (`podman rmi`), as `plan --images` lists them.
    Images(PruneObjectsArgs),
    /// Remove containers that are not running or paused (`podman rm`).
    Containers(PruneObjectsArgs),
    /// Remove volumes no container uses (`podman volume rm`).
    Volumes(PruneObjectsArgs),
    /// Remove stopped containers, then unused images, then unused volumes.
    All(PruneObjectsArgs),
}

#[derive(Debug, Args)]
pub struct PruneObjectsArgs {
    /// Print the plan, remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation.
    #[arg(long, short = 'f')]
    pub force: bool,

    /// Only this project's objects.
    #[arg(long, value_name = "ID")]
    pub project: Option<String>,

    /// Only containers, images and volumes created longer ago than this
    /// (e.g. 30d, 12h); leftovers and caches are left out. One whose engine
    /// gives no creation time is kept.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,

    /// Carry out this plan (`plan --format json` output) instead of planning
    /// now; objects that changed since are skipped and named.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PruneCachesArgs {
    /// Caches to prune [default: configured and well-known caches].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Report what would be freed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation.
    #[arg(long, short = 'f')]
    pub force: bool,

    /// OCI layouts: remove only blobs that no tag references.
    #[arg(long)]
    pub orphans: bool,

    /// Flat caches: remove blobs not used for longer than this (e.g. 7d, 12h, 30m); registries: uploads started longer ago.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,

    /// Flat caches: evict least recently used blobs until the cache fits in SIZE (e.g. 5GB).
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,

    /// Registries: the registry is stopped or read-only, so remove what its garbage-collect would.
    #[arg(long)]
    pub registry_offline: bool,

    /// Registries: garbage-collect untagged manifests too (as garbage-collect --delete-untagged).
    #[arg(long, requires = "registry_offline")]
    pub delete_untagged: bool,
}
