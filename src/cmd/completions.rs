//! `completions SHELL`: generated from the clap definitions at run time.

use anyhow::Result;
use clap::CommandFactory;
use podman_storage::Status;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: &CompletionsArgs) -> Result<Status> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "podman-storage", &mut out);
    super::print(&String::from_utf8_lossy(&out))?;
    Ok(Status::Complete)
}
