//! Container logs as their own figure. With the `k8s-file` driver (podman's
//! default where journald is not there) each container's output goes to a
//! file that nothing rotates unless `log_size_max` is set; it is on this
//! disk but in no writable layer. Both sources say which driver and file;
//! this module measures the files and keeps the writable layer free of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Container, ContainerLog, ContainerState};
use crate::runner::Runner;
use crate::Warnings;

/// What the engine records about one container's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub driver: String,
    pub path: String,
    /// The engine's writable-layer figure already holds this file's bytes
    /// (podman >= 4.6's `ps --size` with the log in `userdata`).
    pub counted_in_rw: bool,
}

/// One stat of a log file, as recorded for replay.
#[derive(Debug, Serialize, Deserialize)]
struct Stat {
    bytes: Option<u64>,
    error: Option<String>,
}

/// Sets each listed container's `log` from `configs` (containers without
/// an entry are left unknown) and stats the k8s-file logs, all recorded as
/// one measurement. A file that should be there and cannot be stat'ed is a
/// lower bound and a warning naming it; a container never started has no
/// file yet (podman makes it at start) and logged nothing. A writable layer
/// that already counts its log gives those bytes back, so no byte is in
/// both figures.
pub fn attach(
    runner: &Runner,
    containers: &mut [Container],
    configs: &BTreeMap<String, LogConfig>,
    warnings: &Warnings,
) {
    let files: Vec<String> = containers
        .iter()
        .filter_map(|c| configs.get(&c.id))
        .filter(|l| l.driver == "k8s-file" && !l.path.is_empty())
        .map(|l| l.path.clone())
        .collect();
    let stats: BTreeMap<String, Stat> = if files.is_empty() {
        BTreeMap::new()
    } else {
        let key = files.join("\n");
        match runner.measured("logs", &key, move || -> Result<_, String> {
            Ok(files
                .iter()
                .map(|p| (p.to_string(), stat(p)))
                .collect::<BTreeMap<String, Stat>>())
        }) {
            Ok(s) => s,
            Err(e) => {
                warnings.push(e);
                BTreeMap::new()
            }
        }
    };
    for c in containers.iter_mut() {
        let Some(config) = configs.get(&c.id) else {
            // Containers podman does not own have no log; one of podman's
            // that it did not describe (created meanwhile) is unmeasured.
            if c.state != ContainerState::External {
                warnings.push(format!(
                    "container {}: podman did not say where its log is; its log is not measured",
                    c.name
                ));
                c.log = Some(ContainerLog {
                    driver: String::new(),
                    path: None,
                    bytes: None,
                    lower_bound: true,
                });
            }
            continue;
        };
        if config.driver.is_empty() {
            continue;
        }
        let mut log = ContainerLog {
            driver: config.driver.clone(),
            path: None,
            bytes: None,
            lower_bound: false,
        };
        if config.driver == "k8s-file" {
            log.path = (!config.path.is_empty()).then(|| config.path.clone());
            match stats.get(&config.path) {
                Some(Stat {
                    bytes: Some(b),
                    error: None,
                }) => log.bytes = Some(*b),
                Some(Stat { error: Some(e), .. })
                    if e == NOT_FOUND && c.state == ContainerState::Created =>
                {
                    log.bytes = Some(0)
                }
                other => {
                    let why = match other {
                        Some(Stat { error: Some(e), .. }) => e.clone(),
                        _ if config.path.is_empty() => "podman names no log file".into(),
                        _ => "not measured".into(),
                    };
                    warnings.push(format!(
                        "container {}: log {}: {why}; its size is a lower bound",
                        c.name,
                        if config.path.is_empty() {
                            "(no path)"
                        } else {
                            &config.path
                        }
                    ));
                    log.bytes = Some(0);
                    log.lower_bound = true;
                }
            }
            if config.counted_in_rw {
                if let (Some(rw), Some(b)) = (c.rw_bytes, log.bytes) {
                    c.rw_bytes = Some(rw.saturating_sub(b));
                }
            }
        }
        c.log = Some(log);
    }
}

const NOT_FOUND: &str = "no such file";

fn stat(path: &str) -> Stat {
    match std::fs::symlink_metadata(path) {
        Ok(m) => Stat {
            bytes: Some(m.len()),
            error: None,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stat {
            bytes: None,
            error: Some(NOT_FOUND.into()),
        },
        Err(e) => Stat {
            bytes: None,
            error: Some(e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(id: &str, state: ContainerState, rw: u64) -> Container {
        Container {
            id: id.into(),
            name: id.into(),
            image: "i".into(),
            image_id: "i".into(),
            state,
            rw_bytes: Some(rw),
            ..Default::default()
        }
    }

    fn config(driver: &str, path: &str, counted_in_rw: bool) -> LogConfig {
        LogConfig {
            driver: driver.into(),
            path: path.into(),
            counted_in_rw,
        }
    }

    #[test]
    fn a_k8s_file_log_is_its_size_on_disk_and_leaves_the_writable_layer() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ctr.log");
        std::fs::write(&log, vec![b'x'; 12_345]).unwrap();
        let path = log.to_str().unwrap();
        let mut cs = vec![
            container("a", ContainerState::Exited, 20_000),
            container("b", ContainerState::Exited, 20_000),
            container("j", ContainerState::Running, 7),
            container("n", ContainerState::Exited, 7),
        ];
        let configs = BTreeMap::from([
            ("a".to_string(), config("k8s-file", path, true)),
            ("b".to_string(), config("k8s-file", path, false)),
            ("j".to_string(), config("journald", "", false)),
            ("n".to_string(), config("none", "", false)),
        ]);
        let w = Warnings::new();
        attach(
            &Runner::live(std::time::Duration::from_secs(5)),
            &mut cs,
            &configs,
            &w,
        );
        assert!(w.to_vec().is_empty(), "{:?}", w.to_vec());
        let a = cs[0].log.as_ref().unwrap();
        assert_eq!(a.bytes, Some(12_345));
        assert_eq!(a.path.as_deref(), Some(path));
        assert_eq!(cs[0].rw_bytes, Some(20_000 - 12_345));
        assert_eq!(cs[1].rw_bytes, Some(20_000), "not counted there: kept");
        assert!(cs[2].log.as_ref().unwrap().in_journal());
        assert_eq!(cs[2].log.as_ref().unwrap().bytes, None);
        assert_eq!(cs[3].log.as_ref().unwrap().bytes, None);
    }

    #[test]
    fn a_missing_log_is_a_lower_bound_unless_never_started() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("ctr.log");
        let gone = gone.to_str().unwrap();
        let mut cs = vec![
            container("x", ContainerState::Exited, 1),
            container("c", ContainerState::Created, 1),
        ];
        let configs = BTreeMap::from([
            ("x".to_string(), config("k8s-file", gone, false)),
            ("c".to_string(), config("k8s-file", gone, false)),
        ]);
        let w = Warnings::new();
        attach(
            &Runner::live(std::time::Duration::from_secs(5)),
            &mut cs,
            &configs,
            &w,
        );
        let x = cs[0].log.as_ref().unwrap();
        assert!(x.lower_bound);
        let lines = w.to_vec();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains(gone), "{lines:?}");
        let c = cs[1].log.as_ref().unwrap();
        assert_eq!((c.bytes, c.lower_bound), (Some(0), false));
    }

    #[test]
    fn a_container_podman_did_not_describe_is_unmeasured_an_external_one_has_no_log() {
        let mut cs = vec![
            container("new", ContainerState::Running, 1),
            container("buildah", ContainerState::External, 1),
        ];
        let w = Warnings::new();
        attach(
            &Runner::live(std::time::Duration::from_secs(5)),
            &mut cs,
            &BTreeMap::new(),
            &w,
        );
        assert!(cs[0].log.as_ref().is_some_and(|l| l.lower_bound));
        assert_eq!(cs[1].log, None);
        assert_eq!(w.to_vec().len(), 1, "{:?}", w.to_vec());
    }
}
