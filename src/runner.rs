//! The one way external commands are run: with a timeout, stderr captured
//! for error messages, and two test hooks.
//!
//! * **record** writes every invocation (argv, stdout, stderr, exit code) to a
//!   fixture directory, one JSON file per distinct argv;
//! * **replay** answers from such a directory instead of running anything; an
//!   argv that was never recorded is an error naming it.
//!
//! Snapshot tests replay recordings of real podman, and users can attach a
//! recording to a bug report.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A finished command, as it ran or as it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    pub argv: Vec<String>,
    pub stdout: String,
    pub stderr: String,
    /// `None` when the process was killed by a signal.
    pub exit_code: Option<i32>,
}

#[derive(Debug, Error)]
pub enum RunError {
    #[error("could not find `{program}` on PATH; {hint}")]
    NotFound { program: String, hint: String },
    #[error("`{argv}` did not finish within {secs} s and was killed (raise --timeout?)")]
    Timeout { argv: Argv, secs: u64 },
    /// A measurement made without a command failed; its own message names
    /// the path or record.
    #[error("{message}")]
    Measured { message: String },
    #[error("{what} did not finish within {secs} s; not waited for (raise --timeout?)")]
    TooSlow { what: String, secs: u64 },
    #[error("`{argv}` failed with {status}: {stderr}")]
    Failed {
        argv: Argv,
        status: ExitStatusText,
        stderr: String,
    },
    #[error("could not run `{argv}`: {source}")]
    Io {
        argv: Argv,
        #[source]
        source: io::Error,
    },
    #[error("`{argv}` was not recorded in {dir} (re-record with --record)")]
    NotRecorded { argv: Argv, dir: PathBuf },
    #[error("recording {path}: {message}")]
    BadRecording { path: PathBuf, message: String },
}

/// An argv printed the way a user would type it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv(pub Vec<String>);

impl fmt::Display for Argv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.0.iter().map(|w| shell_quote(w)).collect();
        f.write_str(&words.join(" "))
    }
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatusText(pub Option<i32>);

impl fmt::Display for ExitStatusText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(code) => write!(f, "exit code {code}"),
            None => f.write_str("a signal"),
        }
    }
}

#[derive(Debug, Clone)]
enum Mode {
    Live,
    Record(PathBuf),
    Replay(PathBuf),
}

/// Runs commands; cheap to clone and safe to share between threads.
#[derive(Debug, Clone)]
pub struct Runner {
    mode: Mode,
    timeout: Duration,
}

impl Runner {
    pub fn live(timeout: Duration) -> Self {
        Runner {
            mode: Mode::Live,
            timeout,
        }
    }

    /// Runs commands for real and writes each one into `dir`.
    pub fn record(dir: impl Into<PathBuf>, timeout: Duration) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Runner {
            mode: Mode::Record(dir),
            timeout,
        })
    }

    /// Answers from a recording; runs nothing.
    pub fn replay(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("replay directory {} does not exist", dir.display()),
            ));
        }
        Ok(Runner {
            mode: Mode::Replay(dir),
            timeout: Duration::ZERO,
        })
    }

    pub fn is_replay(&self) -> bool {
        matches!(self.mode, Mode::Replay(_))
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs `argv` and returns its output if it exited 0; `hint` says how to
    /// install the program when it is missing.
    pub fn run(&self, argv: &[String], hint: &str) -> Result<Recording, RunError> {
        let rec = self.run_any(argv, hint)?;
        if rec.exit_code != Some(0) {
            return Err(RunError::Failed {
                argv: Argv(argv.to_vec()),
                status: ExitStatusText(rec.exit_code),
                stderr: first_line(&rec.stderr),
            });
        }
        Ok(rec)
    }

    /// Runs `argv` and returns its output whatever its exit code, for
    /// commands whose partial answer is still worth reading (`podman image
    /// inspect A B` prints A when B is gone, then exits 125).
    pub fn run_any(&self, argv: &[String], hint: &str) -> Result<Recording, RunError> {
        let rec = match &self.mode {
            Mode::Replay(dir) => load(dir, argv)?,
            Mode::Live => self.spawn(argv, hint)?,
            Mode::Record(dir) => {
                let rec = self.spawn(argv, hint)?;
                save(dir, &rec).map_err(|source| RunError::Io {
                    argv: Argv(argv.to_vec()),
                    source,
                })?;
                rec
            }
        };
        Ok(rec)
    }

    /// The error [`Self::run`] gives for a recording that did not exit 0.
    pub fn failure(rec: &Recording) -> RunError {
        RunError::Failed {
            argv: Argv(rec.argv.clone()),
            status: ExitStatusText(rec.exit_code),
            stderr: first_line(&rec.stderr),
        }
    }

    /// A measurement made without a command (a store file read, a directory
    /// walk) that must still be recorded and replayed with the commands:
    /// live mode computes it, record mode computes and saves it under
    /// `kind`/`key`, replay mode loads it and never touches the machine.
    ///
    /// A computation is bounded by `--timeout` like a command: a store file
    /// on a hung mount or a walk of a vast tree is left behind on its
    /// thread, and the report goes on without it.
    pub fn measured<T, E, F>(&self, kind: &str, key: &str, compute: F) -> Result<T, RunError>
    where
        T: Serialize + serde::de::DeserializeOwned + Send + 'static,
        E: fmt::Display + Send + 'static,
        F: FnOnce() -> Result<T, E> + Send + 'static,
    {
        let argv = vec![format!("({kind})"), key.to_string()];
        let failed = |e: E| RunError::Measured {
            message: e.to_string(),
        };
        let bounded = |compute: F| -> Result<Result<T, E>, RunError> {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(compute());
            });
            rx.recv_timeout(self.timeout.min(Duration::from_secs(100 * 365 * 86_400)))
                .map_err(|_| RunError::TooSlow {
                    what: format!("{kind} {}", key.lines().next().unwrap_or_default()),
                    secs: self.timeout.as_secs(),
                })
        };
        match &self.mode {
            Mode::Live => bounded(compute)?.map_err(failed),
            Mode::Record(dir) => {
                let result = bounded(compute)?;
                let rec = Recording {
                    argv: argv.clone(),
                    stdout: match &result {
                        Ok(v) => serde_json::to_string(v).expect("measurements serialize"),
                        Err(_) => String::new(),
                    },
                    stderr: result
                        .as_ref()
                        .err()
                        .map(|e| e.to_string())
                        .unwrap_or_default(),
                    exit_code: Some(if result.is_ok() { 0 } else { 1 }),
                };
                save(dir, &rec).map_err(|source| RunError::Io {
                    argv: Argv(argv.clone()),
                    source,
                })?;
                result.map_err(failed)
            }
            Mode::Replay(dir) => {
                let rec = load(dir, &argv)?;
                if rec.exit_code != Some(0) {
                    return Err(RunError::Measured {
                        message: first_line(&rec.stderr),
                    });
                }
                serde_json::from_str(&rec.stdout).map_err(|e| RunError::BadRecording {
                    path: dir.join(file_name(&argv)),
                    message: e.to_string(),
                })
            }
        }
    }

    fn spawn(&self, argv: &[String], hint: &str) -> Result<Recording, RunError> {
        let (program, args) = argv.split_first().expect("argv has a program");
        let resolved = which::which(program).map_err(|_| RunError::NotFound {
            program: program.clone(),
            hint: hint.to_string(),
        })?;
        let io_err = |source| RunError::Io {
            argv: Argv(argv.to_vec()),
            source,
        };
        let handle = duct::cmd(resolved, args)
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .start()
            .map_err(io_err)?;
        // `Instant + Duration` panics past the clock's range: `--timeout`
        // with a huge value means "wait as long as it takes", a century here.
        let timeout = self.timeout.min(Duration::from_secs(100 * 365 * 86_400));
        match handle.wait_timeout(timeout).map_err(io_err)? {
            Some(out) => Ok(Recording {
                argv: argv.to_vec(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                exit_code: out.status.code(),
            }),
            None => {
                // Kill and reap so no orphan outlives us; the reap is bounded
                // because a grandchild holding our pipes would keep it waiting.
                // The child's own children are killed first: once their
                // parent is gone they would be re-parented out of reach.
                for pid in handle.pids() {
                    kill_descendants(pid);
                }
                let _ = handle.kill();
                let _ = handle.wait_timeout(Duration::from_secs(2));
                Err(RunError::Timeout {
                    argv: Argv(argv.to_vec()),
                    secs: self.timeout.as_secs(),
                })
            }
        }
    }
}

/// SIGKILLs every descendant of `pid` (found through `/proc`; a hung
/// podman may be waiting on a child of its own, which would otherwise
/// outlive the timeout). Same process group as ours, so Ctrl-C still reaches
/// them: no new process group is made.
fn kill_descendants(pid: u32) {
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    // (pid, ppid) of every process: the 4th field of /proc/PID/stat, after
    // the command name, which may hold spaces and parentheses.
    let parents: Vec<(u32, u32)> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
            Some((p, ppid.parse().ok()?))
        })
        .collect();
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    for p in tree.into_iter().skip(1) {
        if let Ok(p) = i32::try_from(p) {
            // SAFETY: kill(2) has no memory effects.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
    }
}

/// First non-empty line of stderr, or a placeholder: error messages stay one line.
fn first_line(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(no message on stderr)")
        .to_string()
}

/// The program's own path is not part of the key: a recording made with
/// `podman` replays for `/usr/bin/podman` too.
fn key(argv: &[String]) -> Vec<String> {
    let mut key = argv.to_vec();
    if let Some(first) = key.first_mut() {
        if let Some(name) = Path::new(first.as_str()).file_name() {
            *first = name.to_string_lossy().into_owned();
        }
    }
    key
}

/// A readable, stable file name per argv: the words, made file-safe and cut
/// short, plus a hash of the full key so long argvs cannot collide.
fn file_name(argv: &[String]) -> String {
    let key = key(argv);
    let joined = key.join(" ");
    let mut slug: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    slug.truncate(80);
    format!(
        "{slug}.{:016x}.json",
        crate::fnv::fnv1a64(joined.as_bytes())
    )
}

fn save(dir: &Path, rec: &Recording) -> io::Result<()> {
    let stored = Recording {
        argv: key(&rec.argv),
        ..rec.clone()
    };
    let text = serde_json::to_string_pretty(&stored)? + "\n";
    fs::write(dir.join(file_name(&rec.argv)), text)
}

fn load(dir: &Path, argv: &[String]) -> Result<Recording, RunError> {
    let path = dir.join(file_name(argv));
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(RunError::NotRecorded {
                argv: Argv(argv.to_vec()),
                dir: dir.to_path_buf(),
            })
        }
        Err(e) => {
            return Err(RunError::BadRecording {
                path,
                message: e.to_string(),
            })
        }
    };
    let rec: Recording = serde_json::from_str(&text).map_err(|e| RunError::BadRecording {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if rec.argv != key(argv) {
        return Err(RunError::BadRecording {
            path,
            message: format!("holds `{}`, not `{}`", Argv(rec.argv), Argv(argv.to_vec())),
        });
    }
    Ok(rec)
}

#[cfg(test)]
mod tests;
