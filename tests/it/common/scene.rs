//! A store of its own for one real podman, 4.3 on the host or 5.4 in the
//! chroot (`tests/scenarios/podman5.sh root`), with the tool beside it:
//! the scene the real-podman modules build, measure and tear down.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use super::{du_sbx, root};

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Podman {
    V43,
    V54,
}

pub const TREE: &str = "/var/cache/podman-storage/root5";

/// A store in DIR for one podman: 4.3 on the host, 5.4 in the chroot
/// (`tests/scenarios/podman5.sh root`), where DIR is a path inside the tree.
pub struct Scene {
    pub podman: Podman,
    pub dir: String,
    pub bin: String,
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Scene {
    pub fn new(podman: Podman, name: &str) -> Scene {
        let dir = format!("/tmp/{name}-{:?}-{}", podman, std::process::id());
        let scene = Scene {
            podman,
            dir: dir.clone(),
            bin: match podman {
                Podman::V43 => env!("CARGO_BIN_EXE_podman-storage").to_string(),
                Podman::V54 => format!("{dir}/bin/podman-storage"),
            },
        };
        let _ = std::fs::remove_dir_all(scene.host(""));
        std::fs::create_dir_all(scene.host("/bin")).unwrap();
        std::fs::copy(
            root().join("tests/scenarios/build.sh"),
            scene.host("/build.sh"),
        )
        .unwrap();
        std::fs::write(scene.host("/config.toml"), "").unwrap();
        if podman == Podman::V54 {
            std::fs::copy(
                env!("CARGO_BIN_EXE_podman-storage"),
                scene.host("/bin/podman-storage"),
            )
            .unwrap();
        }
        scene
    }

    pub fn host(&self, p: &str) -> PathBuf {
        match self.podman {
            Podman::V43 => PathBuf::from(format!("{}{p}", self.dir)),
            Podman::V54 => PathBuf::from(format!("{TREE}{}{p}", self.dir)),
        }
    }

    pub fn sh(&self, script: &str) -> Output {
        let env = [
            format!("CONTAINERS_STORAGE_CONF={}/store/storage.conf", self.dir),
            format!("CONTAINERS_CONF={}/store/containers.conf", self.dir),
            "HOME=/root".to_string(),
        ];
        let mut cmd = match self.podman {
            Podman::V43 => {
                let mut c = Command::new("env");
                c.arg("-i")
                    .arg("PATH=/usr/sbin:/usr/bin:/sbin:/bin")
                    .args(&env);
                c
            }
            Podman::V54 => {
                let mut c = Command::new("bash");
                c.arg(root().join("tests/scenarios/podman5.sh"))
                    .arg("root")
                    .args(&env);
                c
            }
        };
        cmd.args(["bash", "-c", script]).output().unwrap()
    }

    pub fn ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "{:?}: {script}: {}",
            self.podman,
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    pub fn tool(&self, args: &str) -> Output {
        self.sh(&format!(
            "{} --no-progress --config {}/config.toml {args}",
            self.bin, self.dir
        ))
    }

    pub fn tool_json(&self, args: &str) -> Value {
        let out = self.tool(&format!("--format json {args}"));
        assert_eq!(out.status.code(), Some(0), "{args}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn graphroot_bytes(&self) -> u64 {
        du_sbx(&self.host("/store/root"))
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = self.sh(&format!(
            "podman rm -af -t0 >/dev/null 2>&1; podman volume rm -af >/dev/null 2>&1; podman rmi -af >/dev/null 2>&1; rm -rf {}",
            self.dir
        ));
    }
}
