//! The one way an engine's CLI is called, for podman and docker alike: the
//! binary and the global flags that pick its host, each call run through
//! the [`Runner`] (timeout, `--record`/`--replay`), its output parsed once.
//! Engines add only what differs: their subcommands, their output types and
//! how their errors read.

use std::cell::Cell;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::runner::{Argv, Recording, RunError, Runner};
use crate::Warnings;

/// An engine's binary with its global flags.
#[derive(Debug, Clone)]
pub struct EngineCli {
    runner: Runner,
    prefix: Vec<String>,
    /// How to install the binary, for the error when it is missing.
    install_hint: &'static str,
}

/// What one call printed, with the command line that printed it.
#[derive(Debug)]
pub struct Answer {
    pub argv: String,
    pub stdout: String,
    pub stderr: String,
}

impl EngineCli {
    pub fn new(runner: Runner, binary: &str, install_hint: &'static str) -> Self {
        EngineCli {
            runner,
            prefix: vec![binary.to_string()],
            install_hint,
        }
    }

    /// Adds a global flag after those already given.
    pub fn global(mut self, flag: &str, value: &str) -> Self {
        self.prefix.extend([flag.to_string(), value.to_string()]);
        self
    }

    /// Adds a global flag right after the binary, before all others.
    pub fn first_global(mut self, flag: &str, value: &str) -> Self {
        self.prefix
            .splice(1..1, [flag.to_string(), value.to_string()]);
        self
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        self.prefix
            .iter()
            .cloned()
            .chain(args.iter().map(|s| s.to_string()))
            .collect()
    }

    /// Runs one call; a non-zero exit is an error.
    pub fn run(&self, args: &[&str]) -> Result<Answer, RunError> {
        let argv = self.argv(args);
        let out = self.runner.run(&argv, self.install_hint)?;
        Ok(Answer {
            argv: Argv(argv).to_string(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Runs one call whatever its exit status, for the callers that read
    /// what a failing call printed (podman names the ids it could not find).
    /// The command line comes back for messages.
    pub fn run_any(&self, args: &[&str]) -> Result<(String, Recording), RunError> {
        let argv = self.argv(args);
        let out = self.runner.run_any(&argv, self.install_hint)?;
        Ok((Argv(argv).to_string(), out))
    }
}

/// One JSON document; empty output is an error, not an empty list (an
/// engine that printed nothing failed to say what it has).
pub fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    if text.trim().is_empty() {
        return Err("no output".into());
    }
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// `--format '{{json .}}'` on a list: one JSON object per line.
pub fn parse_json_lines<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// Engines print `null` where a list or map is empty.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Turns failed calls into warnings. A failure every call would repeat (a
/// missing binary, an unreachable daemon) is said once, not once per call.
pub struct Failures<'a, E> {
    warnings: &'a Warnings,
    repeats: fn(&E) -> bool,
    said: Cell<bool>,
}

impl<'a, E: std::fmt::Display> Failures<'a, E> {
    pub fn new(warnings: &'a Warnings, repeats: fn(&E) -> bool) -> Self {
        Failures {
            warnings,
            repeats,
            said: Cell::new(false),
        }
    }

    pub fn take<T>(&self, r: Option<Result<T, E>>) -> Option<T> {
        self.take_or(r, "")
    }

    /// Like `take`, with what the caller does instead appended to the warning.
    pub fn take_or<T>(&self, r: Option<Result<T, E>>, instead: &str) -> Option<T> {
        let e = match r? {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        if (self.repeats)(&e) && self.said.replace(true) {
            return None;
        }
        if instead.is_empty() {
            self.warnings.push(e);
        } else {
            self.warnings.push(format!("{e}; {instead}"));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_cut_output_is_an_error_naming_where() {
        assert_eq!(parse_json::<Vec<u8>>(" \n").unwrap_err(), "no output");
        assert!(parse_json::<Vec<u8>>("[1, 2").is_err());
        let e = parse_json_lines::<Vec<u8>>("[1]\n\n[2, x]\n").unwrap_err();
        assert!(e.starts_with("line 3:"), "{e}");
    }

    #[test]
    fn a_repeated_failure_is_said_once_and_others_each_time() {
        let warnings = Warnings::new();
        let f = Failures::new(&warnings, |e: &String| e.starts_with("missing"));
        for _ in 0..3 {
            assert_eq!(f.take::<u8>(Some(Err("missing podman".into()))), None);
            assert_eq!(f.take::<u8>(Some(Err("parse".into()))), None);
        }
        assert_eq!(f.take(Some(Ok::<u8, String>(7))), Some(7));
        assert_eq!(f.take::<u8>(None), None);
        let said = warnings.to_vec();
        assert_eq!(said.iter().filter(|w| w.starts_with("missing")).count(), 1);
        assert_eq!(said.iter().filter(|w| *w == "parse").count(), 3);
    }
}
