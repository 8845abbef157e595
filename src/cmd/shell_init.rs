//! `shell-init SHELL`: a `podman` shell function that routes `podman storage
//! ...` here. podman has no external-subcommand plugins (`podman foo` exits
//! 125, podman issue 17619), so a wrapper is the only way in.
//!
//! The function understands podman's connection flags before `storage`
//! (`podman -c NAME storage df`, `--connection`, `--url`) and passes them on;
//! anything else goes to the real podman untouched, exit code included.

use anyhow::Result;
use podman_storage::Status;

use crate::cli::{InitShell, ShellInitArgs};

const POSIX: &str = r#"# podman-storage: `podman storage ...` runs podman-storage.
# Added by: eval "$(podman-storage shell-init SHELL)"
podman() {
  local -a __ps_pre
  __ps_pre=()
  while [ $# -gt 0 ]; do
    case "$1" in
      storage)
        shift
        command podman-storage "${__ps_pre[@]}" "$@"
        return
        ;;
      -c|--connection|--url)
        [ $# -ge 2 ] || break
        __ps_pre+=("$1" "$2")
        shift 2
        ;;
      --connection=*|--url=*)
        __ps_pre+=("$1")
        shift
        ;;
      *)
        break
        ;;
    esac
  done
  command podman "${__ps_pre[@]}" "$@"
}
"#;

const FISH: &str = r#"# podman-storage: `podman storage ...` runs podman-storage.
# Added by: podman-storage shell-init fish | source
function podman --wraps podman --description 'podman, with `podman storage` routed to podman-storage'
    set -l pre
    set -l args $argv
    while set -q args[1]
        switch $args[1]
            case storage
                set -e args[1]
                command podman-storage $pre $args
                return $status
            case -c --connection --url
                set -q args[2]; or break
                set -a pre $args[1] $args[2]
                set -e args[1..2]
            case '--connection=*' '--url=*'
                set -a pre $args[1]
                set -e args[1]
            case '*'
                break
        end
    end
    command podman $pre $args
end
"#;

pub fn run(args: &ShellInitArgs) -> Result<Status> {
    super::print(match args.shell {
        InitShell::Bash | InitShell::Zsh => POSIX,
        InitShell::Fish => FISH,
    })?;
    Ok(Status::Complete)
}
