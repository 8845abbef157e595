//! Thin binary: parse arguments, run the command, map the outcome to an exit code.

mod cli;
mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    let cli = match cmd::docker_plugin::detect(&args) {
        Some(cmd::docker_plugin::Invocation::Metadata) => {
            print!("{}", cmd::docker_plugin::metadata());
            return ExitCode::SUCCESS;
        }
        Some(cmd::docker_plugin::Invocation::Run(translated)) => cli::Cli::parse_from(translated),
        None => cli::Cli::parse_from(args),
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

fn is_broken_pipe(cause: &(dyn std::error::Error + 'static)) -> bool {
    cause
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
