//! CREATED, LAST USED, `--sort`, `--top` and `--project` on real podman 4.3
//! (root, an isolated store from `tests/scenarios/build.sh`) and podman 5.4
//! (root in the chroot of `tests/scenarios/podman5.sh`, a store from
//! `podman5-store.sh`): every object's creation time, by both paths, equals
//! what podman itself says, and the top two by size are podman's largest.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::root;
use serde_json::Value;

/// The chroot's root as seen from the host.
const TREE: &str = "/var/cache/podman-storage/root5";

enum Place {
    Root43(common::Store),
    /// The store's directory as podman sees it inside the chroot.
    Root5(PathBuf),
}

impl Place {
    fn root5() -> Place {
        let host = tempfile::Builder::new()
            .prefix("pssort-")
            .tempdir_in(Path::new(TREE).join("var/tmp"))
            .expect("the podman 5 chroot exists (tests/scenarios/podman5.sh setup)")
            .keep();
        std::fs::copy(
            root().join("tests/scenarios/podman5-store.sh"),
            host.join("podman5-store.sh"),
        )
        .unwrap();
        std::fs::copy(
            env!("CARGO_BIN_EXE_podman-storage"),
            host.join("podman-storage"),
        )
        .unwrap();
        let inner = Path::new("/").join(host.strip_prefix(TREE).unwrap());
        let place = Place::Root5(inner);
        place.chroot(&[
            "bash",
            &place.inner("podman5-store.sh"),
            "build",
            &place.dir(),
        ]);
        // A third image, larger than the two imported ones, so the top two
        // by size are a choice.
        place.podman(&[
            "run",
            "--network",
            "none",
            "--name",
            "grow",
            "localhost/base:1",
            "sh",
            "-c",
            "busybox head -c 900000 /dev/urandom > /grown",
        ]);
        place.podman(&["commit", "-q", "grow", "localhost/grown:1"]);
        place
    }

    fn dir(&self) -> String {
        match self {
            Place::Root5(inner) => inner.display().to_string(),
            Place::Root43(_) => unreachable!("only the chroot's store has an inner path"),
        }
    }

    fn inner(&self, name: &str) -> String {
        format!("{}/{name}", self.dir())
    }

    fn chroot(&self, argv: &[&str]) -> String {
        let dir = self.dir();
        let out = Command::new("bash")
            .arg(root().join("tests/scenarios/podman5.sh"))
            .arg("root")
            .arg(format!("CONTAINERS_STORAGE_CONF={dir}/storage.conf"))
            .arg(format!("CONTAINERS_CONF={dir}/containers.conf"))
            .arg("TZ=UTC")
            .args(argv)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "podman 5: {argv:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn podman(&self, args: &[&str]) -> String {
        match self {
            Place::Root43(store) => store.podman(args),
            Place::Root5(_) => {
                let mut argv = vec!["podman"];
                argv.extend_from_slice(args);
                self.chroot(&argv)
            }
        }
    }

    fn podman_json(&self, args: &[&str]) -> Vec<Value> {
        serde_json::from_str(&self.podman(args)).unwrap()
    }

    /// The tool's `--format json` report; a complete one (exit 0).
    fn tool(&self, args: &[&str]) -> Value {
        match self {
            Place::Root43(store) => store.json(args),
            Place::Root5(_) => {
                let bin = self.inner("podman-storage");
                let mut argv = vec![bin.as_str(), "--no-progress", "--format", "json"];
                argv.extend_from_slice(args);
                serde_json::from_str(&self.chroot(&argv)).unwrap()
            }
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Place::Root5(_) = self {
            let (script, dir) = (self.inner("podman5-store.sh"), self.dir());
            let _ = Command::new("bash")
                .arg(root().join("tests/scenarios/podman5.sh"))
                .args(["root", "bash", &script, "destroy", &dir])
                .output();
        }
    }
}

/// RFC 3339 UTC to the second, by date(1): podman's Unix seconds or its
/// RFC 3339 with nanoseconds and any offset.
fn utc(date_arg: &str) -> String {
    let out = Command::new("date")
        .env("TZ", "UTC")
        .args(["-u", "-d", date_arg, "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    assert!(out.status.success(), "date -d {date_arg}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn by<'a>(list: &'a Value, key: &str) -> BTreeMap<String, &'a Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| (str_of(&v[key]), v))
        .collect()
}

fn check(place: &Place) {
    // podman's own answers.
    let images: BTreeMap<String, String> = place
        .podman_json(&["images", "-a", "--format", "json"])
        .iter()
        .map(|i| {
            let secs = i["Created"].as_i64().expect("Created is Unix seconds");
            (str_of(&i["Id"]), utc(&format!("@{secs}")))
        })
        .collect();
    let ps = place.podman_json(&["ps", "-a", "--format", "json"]);
    let containers: BTreeMap<String, String> = ps
        .iter()
        .map(|c| {
            let secs = c["Created"].as_i64().expect("Created is Unix seconds");
            (str_of(&c["Id"]), utc(&format!("@{secs}")))
        })
        .collect();
    let mut last_used: BTreeMap<String, String> = BTreeMap::new();
    for c in &ps {
        let t = containers[&str_of(&c["Id"])].clone();
        let e = last_used.entry(str_of(&c["ImageID"])).or_default();
        // RFC 3339 UTC strings of one width order as the times do.
        *e = e.clone().max(t);
    }
    let names: Vec<String> = place
        .podman_json(&["volume", "ls", "--format", "json"])
        .iter()
        .map(|v| str_of(&v["Name"]))
        .collect();
    let mut inspect = vec!["volume", "inspect"];
    inspect.extend(names.iter().map(String::as_str));
    let volumes: BTreeMap<String, String> = place
        .podman_json(&inspect)
        .iter()
        .map(|v| (str_of(&v["Name"]), utc(&str_of(&v["CreatedAt"]))))
        .collect();
    assert!(
        images.len() >= 3 && containers.len() >= 2 && volumes.len() >= 2,
        "the store has objects to compare: {images:?} {containers:?} {volumes:?}"
    );

    for path in [&[][..], &["--cli-only"][..]] {
        let with = |view: &[&str]| -> Value {
            let args: Vec<&str> = path.iter().chain(view).copied().collect();
            place.tool(&args)
        };
        let ours = with(&["images"]);
        let ours = by(&ours["images"], "id");
        assert_eq!(
            ours.keys().collect::<BTreeSet<_>>(),
            images.keys().collect::<BTreeSet<_>>(),
            "{path:?}"
        );
        for (id, created) in &images {
            assert_eq!(
                &str_of(&ours[id]["created"]),
                created,
                "{path:?} image {id}"
            );
            let used = last_used.get(id).cloned().unwrap_or_default();
            assert_eq!(
                str_of(&ours[id]["last_used"]),
                used,
                "{path:?} image {id}: LAST USED is its newest container's creation"
            );
        }
        let ours = with(&["containers"]);
        let ours = by(&ours["containers"], "id");
        for (id, created) in &containers {
            assert_eq!(
                &str_of(&ours[id]["created"]),
                created,
                "{path:?} container {id}"
            );
        }
        let ours = with(&["volumes"]);
        let ours = by(&ours["volumes"], "name");
        for (name, created) in &volumes {
            assert_eq!(
                &str_of(&ours[name]["created"]),
                created,
                "{path:?} volume {name}"
            );
        }

        // The two largest images by podman's own size (`podman images`
        // lists what the view lists: no build intermediates).
        let mut sizes: Vec<(i64, String)> = place
            .podman_json(&["images", "--format", "json"])
            .iter()
            .map(|i| (i["Size"].as_i64().unwrap(), str_of(&i["Id"])))
            .collect();
        sizes.sort_by(|a, b| b.cmp(a));
        assert!(
            sizes[1].0 > sizes[2].0,
            "the second and third largest differ, so the top two are one answer: {sizes:?}"
        );
        let top = with(&["images", "--sort", "size", "--top", "2"]);
        let listed: Vec<&Value> = top["images"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["intermediate"] == false)
            .collect();
        let top_ids: Vec<String> = listed.iter().map(|i| str_of(&i["id"])).collect();
        assert_eq!(
            top_ids,
            [sizes[0].1.clone(), sizes[1].1.clone()],
            "{path:?}: largest first"
        );
        assert_eq!(top["selection"]["shown"], 2);
        assert_eq!(top["selection"]["matched"], sizes.len());
        let all = with(&["images"]);
        assert_eq!(
            top["total_bytes"], all["total_bytes"],
            "{path:?}: --top leaves the total covering every image"
        );
    }
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn created_and_top_two_match_podman_4_3() {
    let place = Place::Root43(common::Store::build("projects"));
    check(&place);

    // --project: what the compose labels put in project alpha, nothing else.
    let Place::Root43(store) = &place else {
        unreachable!()
    };
    let labelled = |kind: &str, format: &str| -> BTreeSet<String> {
        store
            .podman(&[
                kind,
                "ls",
                "--filter",
                "label=com.docker.compose.project=alpha",
                "--format",
                format,
            ])
            .lines()
            .map(String::from)
            .collect()
    };
    let alpha_volumes = labelled("volume", "{{.Name}}");
    let alpha_containers: BTreeSet<String> = store
        .podman(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            "label=com.docker.compose.project=alpha",
            "--format",
            "{{.ID}}",
        ])
        .lines()
        .map(String::from)
        .collect();
    let ids = |report: &Value, list: &str, key: &str| -> BTreeSet<String> {
        report[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| str_of(&v[key]))
            .collect()
    };
    let v = store.json(&["volumes", "--project", "alpha"]);
    assert_eq!(ids(&v, "volumes", "name"), alpha_volumes);
    let c = store.json(&["containers", "--project", "alpha"]);
    assert_eq!(ids(&c, "containers", "id"), alpha_containers);
    let i = store.json(&["images", "--project", "alpha"]);
    assert_eq!(ids(&i, "images", "id").len(), 1, "{i}");
    assert_eq!(i["images"][0]["names"][0], "localhost/alpha_web:latest");
    // Its total is what the one image holds on disk, base layer included:
    // podman's own size of it.
    let podman_size: u64 = store
        .podman(&[
            "image",
            "inspect",
            "--format",
            "{{.Size}}",
            "localhost/alpha_web:latest",
        ])
        .parse()
        .unwrap();
    assert_eq!(i["total_bytes"], podman_size);
    assert_eq!(i["selection"]["project"], "alpha");
}

#[test]
#[ignore = "needs root, podman 4.3 and 5 (tests/scenarios/{podman5,rootless}.sh setup)"]
fn created_and_top_two_match_podman_5() {
    check(&Place::root5());
}
