//! Attribution: every byte to exactly one row, a project or a synthetic row.
//!
//! Pure functions of the collected data, so the invariant "rows sum to the
//! total, no layer twice" is testable without podman.
//!
//! Rules, in order of precedence:
//! * a **container** belongs to the configured project whose label selector it
//!   matches, else to its compose project label, else to its Quadlet unit
//!   (`PODMAN_SYSTEMD_UNIT=web.service` is project `web`), else to its pod;
//! * an **image** belongs to `(global)` when a `[global]` pattern matches it,
//!   else to the configured project whose image pattern matches, else to its
//!   compose label's project, else to the projects of the containers created
//!   from it; a compose label naming a project that no longer exists (not
//!   configured, no container left) makes it an orphan;
//! * a **layer** goes to `(global)` if a global image uses it; else to its one
//!   owner, or `(shared)` when several own it: the owners are the projects
//!   of the images that use it, and `(orphans)` for orphan images (one owner
//!   for all of them); images that belong to no project (build
//!   intermediates, untagged bases) do not compete, so they only get layers
//!   no owner uses, in `(global)`;
//! * a **volume** belongs to the configured project that lists it or whose
//!   labels it matches, else to its compose label's (or Quadlet unit label's)
//!   project (an orphan if that project is gone);
//! * workspaces to their project, shared mounts to `(shared)`, caches and
//!   anything unattributed to `(global)`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::account;
use crate::config::Config;
use crate::engine::{Inventory, Labels};
use crate::size::SumBytes;

/// Compose labels that name a project: docker compose, then podman-compose.
pub const COMPOSE_LABELS: &[&str] = &["com.docker.compose.project", "io.podman.compose.project"];

/// A row of the overview. Synthetic rows use parentheses, which no project
/// id can contain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub enum RowId {
    Project(String),
    Shared,
    Global,
    Orphans,
}

impl RowId {
    pub fn name(&self) -> &str {
        match self {
            RowId::Project(id) => id,
            RowId::Shared => "(shared)",
            RowId::Global => "(global)",
            RowId::Orphans => "(orphans)",
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            RowId::Project(_) => "project",
            RowId::Shared => "shared",
            RowId::Global => "global",
            RowId::Orphans => "orphans",
        }
    }
}

impl From<RowId> for String {
    fn from(r: RowId) -> String {
        r.name().to_string()
    }
}

/// Turns a label value or pod name into a project id (`[a-z0-9][a-z0-9_-]*`),
/// the way compose normalizes project names; `None` if nothing is left.
pub fn normalize_id(raw: &str) -> Option<String> {
    let id: String = raw
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let id = id.trim_start_matches(['-', '_']).to_string();
    (!id.is_empty()).then_some(id)
}

fn compose_project(labels: &Labels) -> Option<String> {
    COMPOSE_LABELS
        .iter()
        .find_map(|k| labels.get(*k))
        .and_then(|v| normalize_id(v))
}

/// The label Quadlet (and `podman generate systemd --new`) puts on each
/// container it runs, naming the systemd unit.
pub const UNIT_LABEL: &str = "PODMAN_SYSTEMD_UNIT";

/// A Quadlet-run service is a project named after its unit: `web.service`
/// is `web`, `app@2.service` is `app-2`.
fn unit_project(labels: &Labels) -> Option<String> {
    let unit = labels.get(UNIT_LABEL)?;
    normalize_id(unit.strip_suffix(".service").unwrap_or(unit))
}

/// The project a container's or volume's own labels name: compose first
/// (a compose project run under systemd stays that project), then the unit.
fn labelled_project(labels: &Labels) -> Option<String> {
    compose_project(labels).or_else(|| unit_project(labels))
}

/// Who owns what.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    /// Per container (same order as the inventory): its project, if any.
    pub containers: Vec<Option<String>>,
    /// Per image: the row its own bytes (metadata) go to, and the projects it
    /// belongs to (empty for global, orphan and unattributed images).
    pub images: Vec<ImageOwner>,
    /// Per layer key: its row.
    pub layers: BTreeMap<String, RowId>,
    /// Per volume: its row.
    pub volumes: Vec<RowId>,
    /// Projects that exist: configured, or with at least one container.
    pub projects: BTreeSet<String>,
    /// One line per image whose config pattern and compose label name
    /// different projects (the config wins): a warning, not a failure.
    pub conflicts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOwner {
    pub row: RowId,
    pub projects: BTreeSet<String>,
    pub global: bool,
    pub orphan: bool,
}

pub fn attribute(inv: &Inventory, config: &Config) -> Attribution {
    let pods: BTreeMap<&str, &str> = inv
        .pods
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let containers: Vec<Option<String>> = inv
        .containers
        .iter()
        .map(|c| {
            config
                .projects
                .iter()
                .find(|p| p.matches_labels(&c.labels))
                .map(|p| p.id.clone())
                .or_else(|| labelled_project(&c.labels))
                .or_else(|| {
                    c.pod
                        .as_deref()
                        .and_then(|id| pods.get(id))
                        .and_then(|n| normalize_id(n))
                })
        })
        .collect();
    let mut projects: BTreeSet<String> = config.projects.iter().map(|p| p.id.clone()).collect();
    projects.extend(containers.iter().flatten().cloned());

    // Projects of the containers created from each image.
    let mut users: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (c, p) in inv.containers.iter().zip(&containers) {
        if let Some(p) = p {
            users
                .entry(c.image_id.as_str())
                .or_default()
                .insert(p.clone());
        }
    }
    // Compose projects named by the labels of each image's containers.
    let mut composed: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for c in &inv.containers {
        if let Some(p) = compose_project(&c.labels) {
            composed.entry(c.image_id.as_str()).or_default().insert(p);
        }
    }
    let mut conflicts = Vec::new();
    let images: Vec<ImageOwner> = inv
        .images
        .iter()
        .map(|img| {
            let repos: Vec<&str> = img.repositories().collect();
            if repos.iter().any(|r| config.global.matches_image(r)) {
                return ImageOwner {
                    row: RowId::Global,
                    projects: BTreeSet::new(),
                    global: true,
                    orphan: false,
                };
            }
            let configured = config
                .projects
                .iter()
                .find(|p| repos.iter().any(|r| p.matches_image(r)));
            let labelled = compose_project(&img.labels);
            // The label on the image, else on a container created from it.
            let other = labelled
                .iter()
                .chain(composed.get(img.id.as_str()).into_iter().flatten())
                .find(|l| configured.is_some_and(|p| &p.id != *l));
            if let (Some(p), Some(l)) = (configured, other) {
                conflicts.push(label_conflict(img, p, l));
            }
            let configured = configured.map(|p| p.id.clone());
            let set: BTreeSet<String> = match (configured, labelled) {
                (Some(p), _) => [p].into(),
                (None, Some(p)) if projects.contains(&p) => [p].into(),
                (None, Some(_)) => {
                    return ImageOwner {
                        row: RowId::Orphans,
                        projects: BTreeSet::new(),
                        global: false,
                        orphan: true,
                    }
                }
                (None, None) => users.get(img.id.as_str()).cloned().unwrap_or_default(),
            };
            let row = match set.len() {
                0 => RowId::Global,
                1 => RowId::Project(set.iter().next().unwrap().clone()),
                _ => RowId::Shared,
            };
            ImageOwner {
                row,
                projects: set,
                global: false,
                orphan: false,
            }
        })
        .collect();

    let mut layers = BTreeMap::new();
    let mut layer_users: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, img) in inv.images.iter().enumerate() {
        for l in &img.layers {
            layer_users.entry(l.as_str()).or_default().push(i);
        }
    }
    for (layer, idx) in layer_users {
        let owners = idx.iter().map(|i| &images[*i]);
        let row = if owners.clone().any(|o| o.global) {
            RowId::Global
        } else {
            // Orphan images own like a project (one owner, `(orphans)`):
            // what only they use is theirs, a layer they share with a
            // project's images is `(shared)`, never wholly that project's.
            let rows: BTreeSet<RowId> = owners
                .flat_map(|o| {
                    let orphan = o.orphan.then_some(RowId::Orphans);
                    o.projects.iter().cloned().map(RowId::Project).chain(orphan)
                })
                .collect();
            match rows.len() {
                0 => RowId::Global,
                1 => rows.into_iter().next().expect("one row"),
                _ => RowId::Shared,
            }
        };
        layers.insert(layer.to_string(), row);
    }

    let volumes = inv
        .volumes
        .iter()
        .map(|v| {
            if let Some(p) = config
                .projects
                .iter()
                .find(|p| p.claims_volume(&v.name) || p.matches_labels(&v.labels))
            {
                return RowId::Project(p.id.clone());
            }
            if let Some(p) = labelled_project(&v.labels) {
                return if projects.contains(&p) {
                    RowId::Project(p)
                } else {
                    RowId::Orphans
                };
            }
            RowId::Global
        })
        .collect();

    Attribution {
        containers,
        images,
        layers,
        volumes,
        projects,
        conflicts,
    }
}

/// Names the image, the pattern that claimed it and the label it carries.
fn label_conflict(img: &crate::engine::Image, p: &crate::config::Project, label: &str) -> String {
    let repos: Vec<&str> = img.repositories().collect();
    let pattern = p
        .images
        .iter()
        .find(|re| repos.iter().any(|r| re.is_match(r)))
        .map_or("", |re| re.as_str());
    let name = img.names.first().map_or(img.id.as_str(), String::as_str);
    format!(
        "image {name}: config pattern {pattern:?} puts it in project {}, a compose label (on it \
         or a container from it) in project {label}; counted in {}",
        p.id, p.id
    )
}

/// How a project is known: `config`, or from its containers' labels
/// (`compose`, `quadlet`) or pod (`pod`).
pub fn project_kind(
    id: &str,
    inv: &Inventory,
    attr: &Attribution,
    config: &Config,
) -> &'static str {
    if config.projects.iter().any(|p| p.id == id) {
        return "config";
    }
    let labels = inv
        .containers
        .iter()
        .zip(&attr.containers)
        .filter(|(_, p)| p.as_deref() == Some(id))
        .map(|(c, _)| &c.labels);
    let mut kind = "pod";
    for l in labels {
        if compose_project(l).is_some() {
            return "compose";
        }
        if unit_project(l).is_some() {
            kind = "quadlet";
        }
    }
    kind
}

/// Directories measured for the overview, with the row they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasuredDir {
    pub row: RowId,
    pub path: PathBuf,
    pub bytes: u64,
    pub files: u64,
    pub incomplete: bool,
}

/// What kind of directory a [`MeasuredDir`] is.
#[derive(Debug, Clone, Default)]
pub struct Dirs {
    pub workspaces: Vec<MeasuredDir>,
    pub shared_mounts: Vec<MeasuredDir>,
    pub caches: Vec<MeasuredDir>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub id: RowId,
    pub kind: &'static str,
    pub images_bytes: u64,
    /// Writable layers; null where not measured (the overview never asks).
    pub containers_bytes: Option<u64>,
    pub volumes_bytes: u64,
    pub workspaces_bytes: u64,
    pub caches_bytes: u64,
    pub shared_mounts_bytes: u64,
    pub total_bytes: u64,
    pub containers: u64,
    pub workspaces: u64,
    pub volumes: u64,
    pub images: u64,
    /// A directory of this row could only be partly measured.
    pub incomplete: bool,
}

impl Row {
    fn new(id: RowId) -> Self {
        Row {
            kind: id.kind(),
            id,
            images_bytes: 0,
            containers_bytes: None,
            volumes_bytes: 0,
            workspaces_bytes: 0,
            caches_bytes: 0,
            shared_mounts_bytes: 0,
            total_bytes: 0,
            containers: 0,
            workspaces: 0,
            volumes: 0,
            images: 0,
            incomplete: false,
        }
    }
}

/// The overview's rows: every configured or labelled project (even empty),
/// then `(shared)`, `(global)`, `(orphans)`. Rows sum to the total by
/// construction: each byte is added to exactly one row here.
pub fn rows(
    inv: &Inventory,
    attr: &Attribution,
    dirs: &Dirs,
    with_container_bytes: bool,
) -> Vec<Row> {
    let mut rows: BTreeMap<RowId, Row> = BTreeMap::new();
    fn row<'a>(rows: &'a mut BTreeMap<RowId, Row>, id: &RowId) -> &'a mut Row {
        rows.entry(id.clone())
            .or_insert_with(|| Row::new(id.clone()))
    }
    for p in &attr.projects {
        row(&mut rows, &RowId::Project(p.clone()));
    }
    for synthetic in [RowId::Shared, RowId::Global, RowId::Orphans] {
        row(&mut rows, &synthetic);
    }
    for (layer, id) in &attr.layers {
        let r = row(&mut rows, id);
        r.images_bytes = r
            .images_bytes
            .saturating_add(inv.layers.get(layer).map_or(0, |l| l.bytes));
    }
    for (img, owner) in inv.images.iter().zip(&attr.images) {
        let r = row(&mut rows, &owner.row);
        r.images_bytes = r.images_bytes.saturating_add(img.metadata_bytes);
        if !img.intermediate {
            r.images += 1;
        }
    }
    for (c, p) in inv.containers.iter().zip(&attr.containers) {
        let id = p.clone().map_or(RowId::Global, RowId::Project);
        let r = row(&mut rows, &id);
        r.containers += 1;
        if with_container_bytes {
            let sum = r.containers_bytes.get_or_insert(0);
            *sum = sum.saturating_add(c.rw_bytes.unwrap_or(0));
        }
    }
    for (v, id) in inv.volumes.iter().zip(&attr.volumes) {
        let r = row(&mut rows, id);
        r.volumes += 1;
        r.volumes_bytes = r.volumes_bytes.saturating_add(v.bytes.unwrap_or(0));
    }
    for d in &dirs.workspaces {
        let r = row(&mut rows, &d.row);
        r.workspaces += 1;
        r.workspaces_bytes = r.workspaces_bytes.saturating_add(d.bytes);
        r.incomplete |= d.incomplete;
    }
    for d in &dirs.shared_mounts {
        let r = row(&mut rows, &d.row);
        r.shared_mounts_bytes = r.shared_mounts_bytes.saturating_add(d.bytes);
        r.incomplete |= d.incomplete;
    }
    for d in &dirs.caches {
        let r = row(&mut rows, &d.row);
        r.caches_bytes = r.caches_bytes.saturating_add(d.bytes);
        r.incomplete |= d.incomplete;
    }
    let mut out: Vec<Row> = rows.into_values().collect();
    for r in &mut out {
        if with_container_bytes && r.containers_bytes.is_none() {
            r.containers_bytes = Some(0);
        }
        // Saturating, like every sum of engine-reported and walked sizes.
        r.total_bytes = [
            r.images_bytes,
            r.containers_bytes.unwrap_or(0),
            r.volumes_bytes,
            r.workspaces_bytes,
            r.caches_bytes,
            r.shared_mounts_bytes,
        ]
        .into_iter()
        .sum_bytes();
    }
    out
}

/// What pruning unused images and unused volumes would free (the overview
/// does not measure containers, so their writable layers are not included).
pub fn reclaimable(inv: &Inventory) -> u64 {
    inv.volumes
        .iter()
        .filter(|v| !v.in_use)
        .filter_map(|v| v.bytes)
        .fold(account::images_reclaimable(inv), u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Container, ContainerState, Image, Layer, Volume};
    use proptest::prelude::*;
    use std::path::Path;

    fn cfg(text: &str) -> Config {
        Config::parse(text, Path::new("/test/config.toml")).unwrap()
    }

    fn img(id: &str, names: &[&str], layers: &[&str], labels: &[(&str, &str)]) -> Image {
        Image {
            created: None,
            id: id.into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            layers: layers.iter().map(|s| s.to_string()).collect(),
            size: 0,
            metadata_bytes: 1,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            intermediate: false,
            read_only: false,
        }
    }

    fn ctr(image_id: &str, labels: &[(&str, &str)]) -> Container {
        Container {
            created: None,
            id: format!("c-{image_id}"),
            name: "c".into(),
            image: image_id.into(),
            image_id: image_id.into(),
            state: ContainerState::Running,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            pod: None,
            infra: false,
            rw_bytes: Some(5),
            lower_bound: false,
            log: None,
        }
    }

    fn layers(keys: &[(&str, u64)]) -> BTreeMap<String, Layer> {
        keys.iter()
            .map(|(k, b)| {
                (
                    k.to_string(),
                    Layer {
                        key: k.to_string(),
                        bytes: *b,
                    },
                )
            })
            .collect()
    }

    /// Two compose projects built on one base: the base's layer is shared.
    fn two_projects() -> Inventory {
        Inventory {
            layers: layers(&[("base", 100), ("a", 10), ("b", 20)]),
            images: vec![
                img("base", &["localhost/base:1"], &["base"], &[]),
                img("ia", &["localhost/alpha_web:latest"], &["base", "a"], &[]),
                img("ib", &["localhost/beta_web:latest"], &["base", "b"], &[]),
            ],
            containers: vec![
                ctr("ia", &[("io.podman.compose.project", "alpha")]),
                ctr("ib", &[("com.docker.compose.project", "beta")]),
            ],
            volumes: vec![Volume {
                created: None,
                name: "gone_data".into(),
                mountpoint: "/v".into(),
                labels: [("com.docker.compose.project".to_string(), "gone".to_string())].into(),
                in_use: false,
                bytes: Some(7),
                approximate: false,
                lower_bound: false,
            }],
            pods: vec![],
        }
    }

    #[test]
    fn compose_projects_own_their_layers_and_share_the_base() {
        let inv = two_projects();
        let attr = attribute(&inv, &Config::default());
        assert_eq!(attr.layers["a"], RowId::Project("alpha".into()));
        assert_eq!(attr.layers["b"], RowId::Project("beta".into()));
        assert_eq!(attr.layers["base"], RowId::Shared);
        assert_eq!(attr.volumes[0], RowId::Orphans, "project gone, volume left");
        let rows = rows(&inv, &attr, &Dirs::default(), false);
        let get = |n: &str| rows.iter().find(|r| r.id.name() == n).unwrap();
        assert_eq!(get("alpha").images_bytes, 11);
        assert_eq!(get("(shared)").images_bytes, 100);
        assert_eq!(
            get("(global)").images_bytes,
            1,
            "the unattributed base's metadata"
        );
        assert_eq!(get("(orphans)").volumes_bytes, 7);
        assert_eq!(get("alpha").containers_bytes, None);
    }

    #[test]
    fn global_patterns_take_base_layers_and_config_wins_over_labels() {
        let inv = two_projects();
        let config = cfg(
            "[[projects]]\nid = \"web\"\nimages = [\"_web$\"]\n[global]\nimages = [\"^localhost/base$\"]\n",
        );
        let attr = attribute(&inv, &config);
        assert_eq!(attr.layers["base"], RowId::Global);
        assert_eq!(attr.layers["a"], RowId::Project("web".into()));
        assert_eq!(attr.layers["b"], RowId::Project("web".into()));
    }

    #[test]
    fn a_config_pattern_against_a_compose_label_is_one_conflict_per_image() {
        let mut inv = two_projects();
        // A label on the image itself, for a third image.
        inv.images.push(img(
            "ic",
            &["localhost/cli:1"],
            &["base"],
            &[("com.docker.compose.project", "tools")],
        ));
        let config = cfg("[[projects]]\nid = \"web\"\nimages = [\"_web$\", \"^localhost/cli$\"]\n");
        let attr = attribute(&inv, &config);
        // alpha_web's container says alpha, beta_web's beta, cli's label tools.
        assert_eq!(attr.conflicts.len(), 3, "{:?}", attr.conflicts);
        assert!(attr.conflicts[0].contains("localhost/alpha_web:latest"));
        assert!(attr.conflicts[0].contains("\"_web$\""));
        assert!(attr.conflicts[0].contains("project alpha"));
        assert!(attr.conflicts[2].contains("\"^localhost/cli$\""));
        assert!(attr.conflicts[2].contains("project tools"));
        // A pattern that agrees with the labels is no conflict.
        let config = cfg("[[projects]]\nid = \"alpha\"\nimages = [\"^localhost/alpha_web$\"]\n");
        assert!(attribute(&inv, &config).conflicts.is_empty());
    }

    /// Docker Engine after `compose build` without `up`: an image labelled
    /// with a project that has no container. It owns like a project: its
    /// own layer (also under a nameless build step) is `(orphans)`', the
    /// base it shares with a live project is `(shared)`.
    #[test]
    fn orphan_images_own_their_layers_and_share_the_base() {
        let gone = [("com.docker.compose.project", "gone")];
        let inv = Inventory {
            layers: layers(&[("base", 100), ("a", 10), ("o", 30), ("o2", 7), ("x", 3)]),
            images: vec![
                img("ia", &["alpha_web:latest"], &["base", "a"], &[]),
                img("io", &["gone_web:latest"], &["base", "o", "o2"], &gone),
                // A build step of the orphan: no name, no label.
                img("step", &[], &["base", "o"], &[]),
                // Untagged, unused, on nobody's layers but its own.
                img("dangling", &[], &["x"], &[]),
            ],
            containers: vec![ctr("ia", &[("com.docker.compose.project", "alpha")])],
            volumes: vec![],
            pods: vec![],
        };
        let attr = attribute(&inv, &Config::default());
        // Independently: a layer's owners are the owners of the images that
        // use it (alpha's image: alpha; the labelled image with no
        // container: orphans; the others: nobody); one owner takes it,
        // several share it, none leaves it global.
        let owner_of = |image: &str| match image {
            "ia" => Some("alpha"),
            "io" => Some("(orphans)"),
            _ => None,
        };
        let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
        for (key, layer) in &inv.layers {
            let owners: BTreeSet<&str> = inv
                .images
                .iter()
                .filter(|i| i.layers.contains(key))
                .filter_map(|i| owner_of(&i.id))
                .collect();
            let row = match owners.len() {
                0 => "(global)",
                1 => owners.into_iter().next().unwrap(),
                _ => "(shared)",
            };
            *expected.entry(row).or_default() += layer.bytes;
        }
        for i in &inv.images {
            *expected
                .entry(owner_of(&i.id).unwrap_or("(global)"))
                .or_default() += i.metadata_bytes;
        }
        let rows = rows(&inv, &attr, &Dirs::default(), false);
        let got: BTreeMap<&str, u64> = rows
            .iter()
            .filter(|r| r.images_bytes > 0)
            .map(|r| (r.id.name(), r.images_bytes))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(
            got["(orphans)"],
            30 + 7 + 1,
            "its own layers, under a step too"
        );
        assert_eq!(
            got["alpha"],
            10 + 1,
            "not the base it shares with the orphan"
        );
        assert_eq!(got["(shared)"], 100);
    }

    #[test]
    fn pods_name_projects_and_labels_win_over_pods() {
        let mut inv = two_projects();
        inv.pods.push(crate::engine::Pod {
            id: "pod1".into(),
            name: "Shop API".into(),
            labels: Default::default(),
        });
        let mut c = ctr("base", &[]);
        c.pod = Some("pod1".into());
        inv.containers.push(c);
        let mut labelled = ctr("base", &[("com.docker.compose.project", "alpha")]);
        labelled.pod = Some("pod1".into());
        inv.containers.push(labelled);
        let attr = attribute(&inv, &Config::default());
        assert_eq!(attr.containers[2].as_deref(), Some("shop-api"));
        assert_eq!(attr.containers[3].as_deref(), Some("alpha"));
        assert!(attr.projects.contains("shop-api"));
    }

    #[test]
    fn quadlet_units_are_projects_and_their_images_and_volumes_follow() {
        let mut inv = two_projects();
        inv.images
            .push(img("iw", &["localhost/web:1"], &["base", "w"], &[]));
        inv.layers.insert(
            "w".into(),
            Layer {
                key: "w".into(),
                bytes: 30,
            },
        );
        inv.containers
            .push(ctr("iw", &[(UNIT_LABEL, "Web.service")]));
        inv.containers
            .push(ctr("base", &[(UNIT_LABEL, "worker@2.service")]));
        // A compose project run by systemd stays the compose project.
        inv.containers.push(ctr(
            "ia",
            &[
                (UNIT_LABEL, "alpha-compose.service"),
                ("io.podman.compose.project", "alpha"),
            ],
        ));
        inv.volumes.push(Volume {
            created: None,
            name: "web-data".into(),
            mountpoint: "/w".into(),
            labels: [(UNIT_LABEL.to_string(), "web.service".to_string())].into(),
            in_use: true,
            bytes: Some(3),
            approximate: false,
            lower_bound: false,
        });
        let attr = attribute(&inv, &Config::default());
        assert_eq!(attr.containers[2].as_deref(), Some("web"));
        assert_eq!(attr.containers[3].as_deref(), Some("worker-2"));
        assert_eq!(attr.containers[4].as_deref(), Some("alpha"));
        assert!(attr.projects.contains("web"));
        assert_eq!(attr.layers["w"], RowId::Project("web".into()));
        assert_eq!(attr.volumes[1], RowId::Project("web".into()));

        // The TOML config still wins over the unit.
        let config = cfg(
            "[[projects]]\nid = \"site\"\nlabels = { PODMAN_SYSTEMD_UNIT = \"Web.service\" }\n",
        );
        let attr = attribute(&inv, &config);
        assert_eq!(attr.containers[2].as_deref(), Some("site"));
        assert_eq!(attr.layers["w"], RowId::Project("site".into()));
    }

    #[test]
    fn normalizes_ids_like_compose() {
        assert_eq!(normalize_id("My App").as_deref(), Some("my-app"));
        assert_eq!(normalize_id("--x").as_deref(), Some("x"));
        assert_eq!(normalize_id("(orphans)").as_deref(), Some("orphans-"));
        assert_eq!(normalize_id("()"), None);
    }

    fn arb_inventory() -> impl Strategy<Value = Inventory> {
        let projects = prop::sample::select(vec!["", "alpha", "beta", "gone"]);
        let images = prop::collection::vec(
            (
                prop::collection::vec(0usize..8, 1..4),
                projects.clone(),
                any::<bool>(),
            ),
            0..8,
        );
        let containers = prop::collection::vec((0usize..8, projects.clone()), 0..8);
        let volumes = prop::collection::vec((projects, 0u64..1000, any::<bool>()), 0..5);
        (images, containers, volumes).prop_map(|(images, containers, volumes)| {
            let mut inv = Inventory {
                layers: (0..8)
                    .map(|i| {
                        (
                            format!("l{i}"),
                            Layer {
                                key: format!("l{i}"),
                                bytes: 1 << i,
                            },
                        )
                    })
                    .collect(),
                ..Default::default()
            };
            for (n, (ls, project, named)) in images.iter().enumerate() {
                let mut labels = Labels::new();
                if !project.is_empty() {
                    labels.insert("com.docker.compose.project".into(), project.to_string());
                }
                let mut i = img(&format!("i{n}"), &[], &[], &[]);
                i.layers = ls.iter().map(|l| format!("l{l}")).collect();
                i.labels = labels;
                if *named {
                    i.names = vec![format!("localhost/i{n}:1")];
                }
                inv.images.push(i);
            }
            for (image, project) in containers {
                if inv.images.is_empty() {
                    break;
                }
                let id = format!("i{}", image % inv.images.len());
                let labels: Vec<(&str, &str)> = if project.is_empty() || project == "gone" {
                    vec![]
                } else {
                    vec![("com.docker.compose.project", project)]
                };
                inv.containers.push(ctr(&id, &labels));
            }
            for (n, (project, bytes, in_use)) in volumes.into_iter().enumerate() {
                let mut labels = Labels::new();
                if !project.is_empty() {
                    labels.insert("com.docker.compose.project".into(), project.to_string());
                }
                inv.volumes.push(Volume {
                    created: None,
                    name: format!("v{n}"),
                    mountpoint: String::new(),
                    labels,
                    in_use,
                    bytes: Some(bytes),
                    approximate: false,
                    lower_bound: false,
                });
            }
            inv
        })
    }

    proptest! {
        #[test]
        fn rows_sum_to_the_exact_total(inv in arb_inventory()) {
            let attr = attribute(&inv, &Config::default());
            let rows = rows(&inv, &attr, &Dirs::default(), true);
            let total: u64 = rows.iter().map(|r| r.total_bytes).sum();
            let images = account::images(&inv).total_bytes;
            let containers: u64 = inv.containers.iter().filter_map(|c| c.rw_bytes).sum();
            let volumes: u64 = inv.volumes.iter().filter_map(|v| v.bytes).sum();
            prop_assert_eq!(total, images + containers + volumes);
            // Every layer in exactly one row.
            let used: BTreeSet<&String> = inv.images.iter().flat_map(|i| &i.layers).collect();
            prop_assert_eq!(attr.layers.len(), used.len());
            for r in &rows {
                prop_assert!(!matches!(&r.id, RowId::Project(p) if p.contains('(')));
            }
        }
    }
}
