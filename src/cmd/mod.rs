//! One function per subcommand: gather with the library, render, print.

mod caches;
mod completions;
pub mod docker_plugin;
mod du;
mod engine_views;
mod growth;
mod overview;
mod plan;
mod prune;
mod shell_init;
mod snapshot;
mod why;

use std::io::Write;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use podman_storage::budget::{self, Budgets};
use podman_storage::config::Config;
use podman_storage::engine::docker::Docker;
use podman_storage::engine::podman::Podman;
use podman_storage::engine::Engine;
use podman_storage::plan::PlanKind;
use podman_storage::runner::Runner;
use podman_storage::select::{Selection, SortKey};
use podman_storage::size::Units;
use podman_storage::Status;

use crate::cli::{Cli, ColorChoice, Command, EngineChoice, Format, GlobalArgs, PruneCommand};

/// What every subcommand needs besides its own arguments.
pub struct Ctx {
    pub global: GlobalArgs,
    /// `--fail-over`, parsed.
    pub fail_over: Option<u64>,
    /// Set when a report printed a total over its budget: exit 3.
    pub over_budget: AtomicBool,
    /// When set, views hand their JSON report here instead of printing it
    /// (how `snapshot` gathers the views it keeps).
    pub capture: Option<Mutex<Vec<serde_json::Value>>>,
}

impl Ctx {
    pub fn json(&self) -> bool {
        self.global.format == Format::Json
    }

    /// The runner every engine command goes through: live, recording or replaying.
    pub fn runner(&self) -> Result<Runner> {
        let timeout = Duration::from_secs(self.global.timeout);
        Ok(match (&self.global.record, &self.global.replay) {
            (Some(dir), _) => Runner::record(dir, timeout)
                .with_context(|| format!("cannot record into {}", dir.display()))?,
            (None, Some(dir)) => Runner::replay(dir)?,
            (None, None) => Runner::live(timeout),
        })
    }

    pub fn podman(&self) -> Result<Podman> {
        let runner = self.runner()?;
        if let Some(name) = &self.global.connection {
            // podman's own message for a wrong name does not say which exist.
            let local = Podman::new(runner.clone(), self.podman_binary(), None, None);
            let known = local.connections()?;
            if !known.iter().any(|c| &c.name == name) {
                let names: Vec<&str> = known.iter().map(|c| c.name.as_str()).collect();
                anyhow::bail!(
                    "unknown connection {name:?}; configured connections: {}",
                    if names.is_empty() {
                        "(none)".to_string()
                    } else {
                        names.join(", ")
                    }
                );
            }
        }
        Ok(Podman::new(
            runner,
            self.podman_binary(),
            self.global.connection.as_deref(),
            self.global.url.as_deref(),
        )
        .cli_only(self.global.cli_only || self.named_podman_missing()))
    }

    /// A `--podman` the user named that is not there. The store path runs
    /// no podman and would report without it; asking the binary instead
    /// makes that a "could not find" error, as for every other view.
    fn named_podman_missing(&self) -> bool {
        self.global.replay.is_none()
            && self
                .global
                .podman
                .as_deref()
                .is_some_and(|p| which::which(p).is_err())
    }

    pub fn podman_binary(&self) -> &str {
        self.global.podman.as_deref().unwrap_or("podman")
    }

    /// The engine to report on: `--engine`, or podman when it is installed
    /// (or replaying), else docker when only docker is, never podman's own
    /// docker shim (it would be the same store twice).
    pub fn engine(&self) -> Result<Engine> {
        let docker = || -> Result<Engine> {
            Ok(Engine::Docker(
                Docker::new(
                    self.runner()?,
                    &self.global.docker,
                    self.global.url.as_deref(),
                    self.global.connection.as_deref(),
                )
                .with_config(self.global.docker_config.as_deref()),
            ))
        };
        match self.global.engine {
            EngineChoice::Podman => Ok(Engine::Podman(self.podman()?)),
            EngineChoice::Docker => docker(),
            EngineChoice::Auto => {
                // Naming a podman binary chooses podman, found or not.
                let podman_chosen = self.global.podman.is_some() || which::which("podman").is_ok();
                if podman_chosen
                    || self.global.replay.is_some()
                    || !real_docker(&self.runner()?, &self.global.docker)
                {
                    Ok(Engine::Podman(self.podman()?))
                } else {
                    docker()
                }
            }
        }
    }

    /// The config file; a missing default file is an empty config.
    pub fn config(&self) -> Result<Config> {
        Ok(Config::load(self.global.config.as_deref())?)
    }

    pub fn units(&self) -> Units {
        if self.global.bytes {
            Units::Bytes
        } else {
            Units::Si
        }
    }
}

pub fn run(cli: Cli) -> Result<Status> {
    let fail_over = match &cli.global.fail_over {
        Some(s) => Some(
            podman_storage::size::parse_bytes(s)
                .map_err(|e| anyhow::anyhow!("--fail-over: {e}"))?,
        ),
        None => None,
    };
    let command = cli.command.unwrap_or(Command::Overview);
    if cli.global.format == Format::Prometheus
        && !matches!(
            command,
            Command::Overview | Command::Df | Command::Snapshot(_)
        )
    {
        bail!("--format prometheus is for overview, df and snapshot");
    }
    if cli.global.format == Format::Script && !matches!(command, Command::Plan(_)) {
        bail!("--format script is for plan");
    }
    let ctx = Ctx {
        global: cli.global,
        fail_over,
        over_budget: AtomicBool::new(false),
        capture: None,
    };
    let status = dispatch(&ctx, command)?;
    Ok(if ctx.over_budget.load(Ordering::Relaxed) {
        Status::OverBudget
    } else {
        status
    })
}

fn dispatch(ctx: &Ctx, command: Command) -> Result<Status> {
    match command {
        Command::Completions(args) => completions::run(&args),
        Command::ShellInit(args) => shell_init::run(&args),
        Command::Overview => overview::overview(ctx),
        Command::Project(args) => match &args.id {
            Some(id) => overview::project(ctx, id),
            None => overview::project_list(ctx),
        },
        Command::Df => engine_views::df(ctx),
        Command::Images(args) => engine_views::images(ctx, &selection(&args)),
        Command::Containers(args) => {
            engine_views::containers(ctx, args.size, &selection(&args.select))
        }
        Command::Volumes(args) => engine_views::volumes(ctx, &selection(&args)),
        Command::Du(args) => du::run(&args, ctx),
        Command::Caches(args) => caches::run(&args, ctx),
        Command::Prune(PruneCommand::Caches(args)) => prune::run(&args, ctx),
        Command::Plan(args) => plan::run(&args, ctx),
        Command::Prune(PruneCommand::Images(args)) => plan::prune(&args, ctx, &[PlanKind::Image]),
        Command::Prune(PruneCommand::Containers(args)) => {
            plan::prune(&args, ctx, &[PlanKind::Container])
        }
        Command::Prune(PruneCommand::Volumes(args)) => plan::prune(&args, ctx, &[PlanKind::Volume]),
        Command::Prune(PruneCommand::All(args)) => plan::prune(
            &args,
            ctx,
            &[PlanKind::Container, PlanKind::Image, PlanKind::Volume],
        ),
        Command::Why(args) => why::run(&args, ctx),
        Command::Snapshot(args) => snapshot::run(&args, ctx),
        Command::Growth(args) => growth::run(&args, ctx),
    }
}

/// `--sort`, `--top` and `--project` as the library takes them.
pub fn selection(args: &crate::cli::SelectArgs) -> Selection {
    Selection {
        project: args.project.clone(),
        ..sorting(&args.sort)
    }
}

/// `--sort` and `--top` as the library takes them.
pub fn sorting(args: &crate::cli::SortArgs) -> Selection {
    use crate::cli::SortKey as K;
    Selection {
        sort: args.sort.map(|k| match k {
            K::Size => SortKey::Size,
            K::Unique => SortKey::Unique,
            K::Created => SortKey::Created,
            K::Used => SortKey::Used,
            K::Name => SortKey::Name,
        }),
        top: args.top.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        project: None,
    }
}

impl Ctx {
    /// Colors on stdout: `--color`, else a terminal without `NO_COLOR`.
    pub fn color(&self) -> bool {
        match self.global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }

    /// Prints a view: JSON as is, a table painted when colors are on, or
    /// Prometheus samples; to `--output` when given. Then checks the
    /// report's totals against the budgets: one line per breach, exit 3.
    pub fn emit(
        &self,
        json: impl FnOnce() -> String,
        table: impl FnOnce() -> String,
    ) -> Result<()> {
        let text = json();
        let value: serde_json::Value =
            serde_json::from_str(&text).expect("reports serialize to valid JSON");
        if let Some(capture) = &self.capture {
            capture
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(value);
            return Ok(());
        }
        let budgets = self.budgets();
        match (self.global.format, &self.global.output) {
            (Format::Json, _) => self.write_out(&text)?,
            (Format::Prometheus, _) => {
                self.write_out(&podman_storage::report::prometheus::render(
                    &value,
                    &budget_figures(&budgets),
                ))?;
            }
            (Format::Table, Some(_)) => self.write_out(&table())?,
            (Format::Table, None) => self.print_table(&table())?,
            (Format::Script, _) => unreachable!("run() refuses --format script outside plan"),
        }
        let breaches = budget::check(&value, &budgets);
        for b in &breaches {
            eprintln!(
                "podman-storage: over budget: {}",
                podman_storage::report::sanitize(&b.to_string())
            );
        }
        if !breaches.is_empty() {
            self.over_budget.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// stdout, or `--output FILE` written atomically.
    pub fn write_out(&self, text: &str) -> Result<()> {
        match &self.global.output {
            Some(path) => podman_storage::history::write_atomic(path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display())),
            None => print(text),
        }
    }

    /// The config's budgets plus `--fail-over`. A config that cannot be
    /// loaded has no budgets here: views that read it already failed on it.
    pub fn budgets(&self) -> Budgets {
        let config = self.config().unwrap_or_default();
        Budgets {
            projects: config
                .projects
                .iter()
                .filter_map(|p| Some((p.id.clone(), p.budget?)))
                .collect(),
            total: config.global.budget,
            fail_over: self.fail_over,
        }
    }

    /// A context whose views hand their JSON reports to `take_captured`.
    pub fn capturing(&self) -> Ctx {
        let mut global = self.global.clone();
        global.format = Format::Json;
        global.output = None;
        Ctx {
            global,
            fail_over: None,
            over_budget: AtomicBool::new(false),
            capture: Some(Mutex::new(Vec::new())),
        }
    }

    /// The reports captured since the last call.
    pub fn take_captured(&self) -> Vec<serde_json::Value> {
        self.capture
            .as_ref()
            .map(|c| std::mem::take(&mut *c.lock().unwrap_or_else(|e| e.into_inner())))
            .unwrap_or_default()
    }

    pub fn print_table(&self, table: &str) -> Result<()> {
        if self.color() {
            print(&podman_storage::report::paint(table))
        } else {
            print(table)
        }
    }

    /// A spinner on stderr for a step that can take a while; only on a
    /// terminal, never with `--no-progress`. It clears itself when dropped.
    pub fn progress(&self, message: &'static str) -> Option<Spinner> {
        if self.global.no_progress || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        Some(Spinner(bar))
    }
}

/// Clears its spinner on drop, so an error message never lands mid-line.
pub struct Spinner(indicatif::ProgressBar);

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// A docker CLI that is not podman's `docker` shim (podman-docker). Asked
/// through the runner, so the probe obeys `--timeout` and is recorded.
fn real_docker(runner: &Runner, binary: &str) -> bool {
    which::which(binary).is_ok()
        && runner
            .run(&[binary.to_string(), "--version".to_string()], "")
            .is_ok_and(|o| !o.stdout.to_lowercase().starts_with("podman"))
}

/// Writes a rendered report to stdout; a closed pipe surfaces as an error the
/// caller treats as success.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Prints notes on stderr, one line each: how figures were obtained when
/// that did not make them partial (exit code unchanged).
pub fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!(
            "podman-storage: note: {}",
            podman_storage::report::sanitize(n)
        );
    }
}

/// Prints collected warnings on stderr, one line each.
pub fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!(
            "podman-storage: warning: {}",
            podman_storage::report::sanitize(w)
        );
    }
}

fn budget_figures(b: &Budgets) -> podman_storage::report::prometheus::BudgetFigures {
    podman_storage::report::prometheus::BudgetFigures {
        projects: b.projects.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        total: b.total,
    }
}
