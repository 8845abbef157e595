//! One function per subcommand: gather with the library, render, print.

mod caches;
mod completions;
pub mod docker_plugin;
mod du;
mod engine_views;
mod overview;
mod prune;
mod shell_init;

use std::io::Write;

use std::time::Duration;

use anyhow::{Context as _, Result};
use podman_storage::config::Config;
use podman_storage::engine::podman::Podman;
use podman_storage::runner::Runner;
use podman_storage::size::Units;
use podman_storage::Status;

use crate::cli::{Cli, Command, Format, GlobalArgs, PruneCommand};

/// What every subcommand needs besides its own arguments.
pub struct Ctx {
    pub global: GlobalArgs,
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
            let local = Podman::new(runner.clone(), &self.global.podman, None, None);
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
            &self.global.podman,
            self.global.connection.as_deref(),
            self.global.url.as_deref(),
        )
        .cli_only(self.global.cli_only))
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
    let ctx = Ctx { global: cli.global };
    match cli.command.unwrap_or(Command::Overview) {
        Command::Completions(args) => completions::run(&args),
        Command::ShellInit(args) => shell_init::run(&args),
        Command::Overview => overview::overview(&ctx),
        Command::Project(args) => overview::project(&ctx, &args.id),
        Command::Df => engine_views::df(&ctx),
        Command::Images => engine_views::images(&ctx),
        Command::Containers(args) => engine_views::containers(&ctx, args.size),
        Command::Volumes => engine_views::volumes(&ctx),
        Command::Du(args) => du::run(&args, &ctx),
        Command::Caches(args) => caches::run(&args, &ctx),
        Command::Prune(PruneCommand::Caches(args)) => prune::run(&args, &ctx),
    }
}

/// Writes a rendered report to stdout; a closed pipe surfaces as an error the
/// caller treats as success.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
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
