//! STUB: the real implementation replaces this file.

use anyhow::Result;
use podman_storage::Status;

use super::Ctx;

pub fn run(args: &crate::cli::DuArgs, ctx: &Ctx) -> Result<Status> {
    let _ = (args, ctx);
    anyhow::bail!("du: not implemented yet")
}
