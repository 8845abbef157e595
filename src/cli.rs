//! Command-line definitions (clap derive only).
//!
//! This file has no `crate::` imports so that the man-page generator can
//! `include!` it; the library converts these types into its own.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

#[derive(Debug, Parser)]
#[command(
    name = "podman-storage",
    version,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    /// Prometheus text exposition format (overview, df, snapshot).
    Prometheus,
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
    Overview,
    /// Per-project detail, including containers' writable layers.
    Project(ProjectArgs),
    /// Engine totals by component, each layer counted once.
    Df,
    /// Images with their unique and shared bytes.
    Images(SelectArgs),
    /// Containers with their writable-layer bytes.
    Containers(ContainersArgs),
    /// Volumes with their bytes and users.
    Volumes(SelectArgs),
    /// Measure directories (apparent and on-disk bytes), like `du -s`.
    Du(DuArgs),
    /// OCI blob caches and image layouts: blobs, bytes, orphans.
    Caches(CachesArgs),
    /// Record the overview and df into the history (for `growth`), pruning old snapshots.
    Snapshot(SnapshotArgs),
    /// What grew: per project and component, then, now, the change and the rate per day.
    Growth(GrowthArgs),
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
    /// Project id (from the config or from compose labels).
    pub id: String,
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

#[derive(Debug, Subcommand)]
pub enum PruneCommand {
    /// Prune blob caches and OCI layouts.
    Caches(PruneCachesArgs),
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
