//! Running as a docker CLI plugin: a binary named `docker-storage` in
//! `~/.docker/cli-plugins/` (or `$DOCKER_CONFIG/cli-plugins`) makes
//! `docker storage ...` work.
//!
//! The protocol (docker/cli `docs/extend/cli_plugins.md`): docker first runs
//! `docker-storage docker-cli-plugin-metadata`, which must print one JSON
//! object and exit 0; then `docker-storage [GLOBAL OPTIONS] storage [ARGS]`,
//! where the global options are docker's own (`-H`, `--context`, ...).

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// What an invocation as `docker-<name>` asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    Metadata,
    /// Our own argv to parse, with docker's options translated.
    Run(Vec<OsString>),
}

/// `None` unless the binary was invoked under a `docker-` name.
pub fn detect(args: &[OsString]) -> Option<Invocation> {
    let name = Path::new(args.first()?).file_name()?.to_str()?;
    let plugin = name.strip_prefix("docker-")?;
    if args.get(1).map(OsString::as_os_str) == Some(OsStr::new("docker-cli-plugin-metadata")) {
        return Some(Invocation::Metadata);
    }
    Some(Invocation::Run(translate(plugin, &args[1..])))
}

/// How docker users call us (`docker storage`), for help and usage lines;
/// `None` unless invoked under a `docker-` name.
pub fn bin_name(args: &[OsString]) -> Option<String> {
    let name = Path::new(args.first()?).file_name()?.to_str()?;
    Some(format!("docker {}", name.strip_prefix("docker-")?))
}

pub fn metadata() -> String {
    serde_json::json!({
        "SchemaVersion": "0.1.0",
        "Vendor": "podman-storage",
        "Version": env!("CARGO_PKG_VERSION"),
        "ShortDescription": "Where did my disk go? Exact-once storage accounting",
        "URL": "https://crates.io/crates/podman-storage",
    })
    .to_string()
        + "\n"
}

/// Docker's global options that take a value (docker/cli `cli/flags`).
const VALUED: &[&str] = &[
    "-H",
    "--host",
    "-c",
    "--context",
    "--config",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
];

/// Turns `[GLOBAL OPTIONS] storage ARGS` into our argv: `--engine docker`,
/// docker's `-H HOST` as `--url HOST`, `--context NAME` as `--connection
/// NAME` and `--config DIR` as `--docker-config DIR`, which the docker we run
/// is given back as its own flags (arguments, not `set_var`: changing the
/// environment is unsound once threads run). Other global options (debug,
/// TLS) are docker's alone. Without the `storage` word (run by hand as
/// `docker-storage df`) the arguments are ours, taken as they are.
fn translate(plugin: &str, args: &[OsString]) -> Vec<OsString> {
    let mut out: Vec<OsString> = vec!["podman-storage".into(), "--engine".into(), "docker".into()];
    let Some(word) = plugin_word(plugin, args) else {
        out.extend(args.iter().cloned());
        return out;
    };
    let mut i = 0;
    while i < word {
        let arg = args[i].to_string_lossy();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(OsString::from(v))),
            _ => (arg.to_string(), None),
        };
        let mut value = inline;
        if value.is_none() && VALUED.contains(&flag.as_str()) {
            value = args.get(i + 1).cloned();
            i += 1;
        }
        let ours = match flag.as_str() {
            "-H" | "--host" => "--url",
            "-c" | "--context" => "--connection",
            "--config" => "--docker-config",
            _ => "",
        };
        if let (false, Some(v)) = (ours.is_empty(), value) {
            out.extend([ours.into(), v]);
        }
        i += 1;
    }
    out.extend(args[word + 1..].iter().cloned());
    out
}

/// Where the plugin's own name stands among docker's global options: the
/// first word that is neither an option nor an option's value.
fn plugin_word(plugin: &str, args: &[OsString]) -> Option<usize> {
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_string_lossy();
        if arg == plugin {
            return Some(i);
        }
        if !arg.starts_with('-') {
            return None;
        }
        if VALUED.contains(&arg.as_ref()) {
            i += 1;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn metadata_is_what_docker_expects() {
        assert_eq!(
            detect(&os(&[
                "/x/cli-plugins/docker-storage",
                "docker-cli-plugin-metadata"
            ])),
            Some(Invocation::Metadata)
        );
        let v: serde_json::Value = serde_json::from_str(&metadata()).unwrap();
        assert_eq!(v["SchemaVersion"], "0.1.0");
        assert!(v["Vendor"].is_string() && v["ShortDescription"].is_string());
    }

    #[test]
    fn docker_global_options_are_translated() {
        let got = detect(&os(&[
            "docker-storage",
            "-H",
            "unix:///d.sock",
            "--debug",
            "storage",
            "df",
            "--format",
            "json",
        ]));
        assert_eq!(
            got,
            Some(Invocation::Run(os(&[
                "podman-storage",
                "--engine",
                "docker",
                "--url",
                "unix:///d.sock",
                "df",
                "--format",
                "json"
            ])))
        );
        let got = detect(&os(&["docker-storage", "--host=tcp://h:2375", "storage"]));
        assert_eq!(
            got,
            Some(Invocation::Run(os(&[
                "podman-storage",
                "--engine",
                "docker",
                "--url",
                "tcp://h:2375"
            ])))
        );
    }

    /// Run by hand without the `storage` word, the arguments are ours: taken
    /// once, untranslated (`--config` is our config file, not docker's).
    #[test]
    fn without_the_plugin_word_arguments_are_ours_once() {
        let got = detect(&os(&[
            "docker-storage",
            "--host=tcp://h:2375",
            "--config",
            "/my/podman-storage.toml",
            "df",
        ]));
        assert_eq!(
            got,
            Some(Invocation::Run(os(&[
                "podman-storage",
                "--engine",
                "docker",
                "--host=tcp://h:2375",
                "--config",
                "/my/podman-storage.toml",
                "df"
            ])))
        );
        assert_eq!(std::env::var_os("DOCKER_CONFIG"), None);
    }

    /// docker's `--context` and `--config` reach the docker we run as
    /// arguments, never by changing this process's environment.
    #[test]
    fn context_and_config_become_arguments() {
        let got = detect(&os(&[
            "docker-storage",
            "--context",
            "remote",
            "--config=/home/u/.docker",
            "storage",
            "images",
        ]));
        assert_eq!(
            got,
            Some(Invocation::Run(os(&[
                "podman-storage",
                "--engine",
                "docker",
                "--connection",
                "remote",
                "--docker-config",
                "/home/u/.docker",
                "images"
            ])))
        );
        assert_eq!(std::env::var_os("DOCKER_CONTEXT"), None);
        assert_eq!(std::env::var_os("DOCKER_CONFIG"), None);
    }

    #[test]
    fn any_other_name_is_not_a_plugin() {
        assert_eq!(detect(&os(&["podman-storage", "df"])), None);
        assert_eq!(bin_name(&os(&["podman-storage", "df"])), None);
        assert_eq!(
            bin_name(&os(&["/p/cli-plugins/docker-storage", "storage"])).as_deref(),
            Some("docker storage")
        );
        assert_eq!(detect(&os(&["/usr/bin/podman-storage"])), None);
    }
}
