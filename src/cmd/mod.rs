//! One function per subcommand: gather with the library, render, print.

mod caches;
mod du;
mod prune;

use std::io::Write;

use anyhow::Result;
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
        Command::Du(args) => du::run(&args, &ctx),
        Command::Caches(args) => caches::run(&args, &ctx),
        Command::Prune(PruneCommand::Caches(args)) => prune::run(&args, &ctx),
        _ => anyhow::bail!("not implemented yet"),
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
