//! Thin binary: parse arguments, run the command, map the outcome to an exit code.

mod cli;
mod cmd;

use std::process::ExitCode;

use clap::FromArgMatches;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    let cli = match cmd::docker_plugin::detect(&args) {
        Some(cmd::docker_plugin::Invocation::Metadata) => {
            print!("{}", cmd::docker_plugin::metadata());
            return ExitCode::SUCCESS;
        }
        Some(cmd::docker_plugin::Invocation::Run(translated)) => {
            parse(translated, cmd::docker_plugin::bin_name(&args))
        }
        None => parse(args, None),
    };
    match cmd::run(cli) {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) => {
            // A closed pipe (`podman-storage | head`) is not a failure.
            if err.chain().any(is_broken_pipe) {
                return ExitCode::SUCCESS;
            }
            // The chain may quote podman's stderr, names and labels: never
            // let their escape sequences reach the terminal.
            let message = podman_storage::report::sanitize(&format!("{err:#}"));
            eprintln!("podman-storage: error: {message}");
            ExitCode::from(podman_storage::Status::FATAL_CODE)
        }
    }
}

/// Parses argv; `bin_name` is how help and errors name the program (`docker
/// storage` when docker runs us as its plugin).
fn parse(args: Vec<std::ffi::OsString>, bin_name: Option<String>) -> cli::Cli {
    let mut command = cli::command();
    if let Some(name) = bin_name {
        command = command.bin_name(name);
    }
    let matches = command.get_matches_from(args);
    cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn is_broken_pipe(cause: &(dyn std::error::Error + 'static)) -> bool {
    cause
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
