//! The prune plan: every object pruning would remove, in the order it is
//! removed, each with the bytes removing it frees given everything before
//! it, and the engine command that removes it.
//!
//! The plan removes exactly what `df` counts as reclaimable, so its total
//! per kind is `df`'s: stopped containers (`container prune`), images no
//! container uses (`image prune -a`), volumes no container uses (`volume
//! prune`), build leftovers and what `prune caches` frees by default. It
//! does not cascade: an image or volume that only a planned container uses
//! is kept (the next plan lists it), so what `df` promises is what `prune`
//! does.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::caches::{CacheReport, Kind as CacheKind};
use crate::engine::build_cache::{Leftover, LeftoverKind};
use crate::engine::{ContainerState, Inventory};
use crate::projects::{Attribution, RowId};
use crate::size::SumBytes;
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    Container,
    Image,
    Volume,
    BuildLeftover,
    Cache,
}

impl PlanKind {
    /// Removal order: containers first (they hold images and volumes).
    pub const ALL: [PlanKind; 5] = [
        PlanKind::Container,
        PlanKind::Image,
        PlanKind::Volume,
        PlanKind::BuildLeftover,
        PlanKind::Cache,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Container => "container",
            Self::Image => "image",
            Self::Volume => "volume",
            Self::BuildLeftover => "build leftover",
            Self::Cache => "cache",
        }
    }

    /// The engine kinds `prune` carries out itself.
    pub fn is_engine_object(self) -> bool {
        matches!(self, Self::Container | Self::Image | Self::Volume)
    }
}

/// One object to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    pub kind: PlanKind,
    /// Container or image id, volume name, path of a leftover or cache.
    pub id: String,
    /// Container name, image names (`<none>` when untagged), volume name, path.
    pub name: String,
    /// Bytes removing it frees after everything before it was removed.
    pub bytes: u64,
    /// `bytes` could not be measured in full: at least this much.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lower_bound: bool,
    /// The command that removes it, argv.
    pub command: Vec<String>,
}

/// Per kind: how many objects and their bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindTotal {
    pub kind: PlanKind,
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub items: Vec<PlanItem>,
    /// One entry per kind asked for, in removal order.
    pub totals: Vec<KindTotal>,
    pub total_bytes: u64,
    /// Some item's bytes are a lower bound.
    pub lower_bound: bool,
    /// Images no remaining container would use once the planned containers
    /// are gone, not in this plan: what a second plan after pruning adds.
    pub images_after_containers_bytes: u64,
}

/// Which objects the plan covers.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Kinds to plan; empty means all.
    pub kinds: BTreeSet<PlanKind>,
    /// Only objects attributed to this project (images: the project is one
    /// of their owners); leftovers and caches belong to none.
    pub project: Option<String>,
    /// Only containers, images and volumes created before this (`--older-than`);
    /// one whose engine gives no creation time is not known to be old and
    /// stays. Leftovers and caches have no creation time here: left out.
    pub created_before: Option<Timestamp>,
}

impl Filter {
    pub fn wants(&self, kind: PlanKind) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && ((self.project.is_none() && self.created_before.is_none())
                || kind.is_engine_object())
    }

    /// Old enough for `--older-than` (always, without it).
    pub fn old_enough(&self, created: Option<Timestamp>) -> bool {
        self.created_before
            .is_none_or(|cutoff| created.is_some_and(|t| t < cutoff))
    }
}

/// What the plan is computed from. `command` turns engine arguments
/// (`["rm", ID]`) into the argv that runs them on this engine.
pub struct Sources<'a> {
    pub inventory: &'a Inventory,
    /// Needed with a project filter.
    pub attribution: Option<&'a Attribution>,
    pub leftovers: Option<&'a [Leftover]>,
    pub caches: Option<&'a [CacheReport]>,
    pub command: &'a dyn Fn(&[&str]) -> Vec<String>,
    /// How this program is invoked, for cache commands.
    pub self_command: &'a str,
}

pub fn plan(src: &Sources<'_>, filter: &Filter) -> Plan {
    let inv = src.inventory;
    let in_project =
        |row: Option<&RowId>, projects: Option<&BTreeSet<String>>| match &filter.project {
            None => true,
            Some(p) => {
                matches!(row, Some(RowId::Project(r)) if r == p)
                    || projects.is_some_and(|s| s.contains(p))
            }
        };
    let att = src.attribution;
    let mut items = Vec::new();
    let mut planned_containers = BTreeSet::new();
    if filter.wants(PlanKind::Container) {
        for (n, c) in inv.containers.iter().enumerate() {
            let project = att.and_then(|a| a.containers[n].clone());
            let row = project.map(RowId::Project);
            if !c.state.is_prunable()
                || !in_project(row.as_ref(), None)
                || !filter.old_enough(c.created)
            {
                continue;
            }
            planned_containers.insert(c.id.as_str());
            items.push(PlanItem {
                kind: PlanKind::Container,
                id: c.id.clone(),
                name: c.name.clone(),
                bytes: c.rw_bytes.unwrap_or(0),
                lower_bound: c.lower_bound || c.rw_bytes.is_none(),
                command: (src.command)(&["rm", &c.id]),
            });
        }
    }
    let used: BTreeSet<&str> = inv.containers.iter().map(|c| c.image_id.as_str()).collect();
    let eligible = |i: usize| {
        let owner = att.map(|a| &a.images[i]);
        !inv.images[i].read_only
            && in_project(owner.map(|o| &o.row), owner.map(|o| &o.projects))
            && filter.old_enough(inv.images[i].created)
    };
    let removable = |i: usize| eligible(i) && !used.contains(inv.images[i].id.as_str());
    if filter.wants(PlanKind::Image) {
        let chosen: Vec<usize> = (0..inv.images.len()).filter(|&i| removable(i)).collect();
        for (i, bytes) in image_order(inv, &chosen) {
            let img = &inv.images[i];
            // By name when it has names: docker refuses to remove an image
            // with several tags by id, and the last name removed deletes it.
            let mut args = vec!["rmi"];
            if img.names.is_empty() {
                args.push(&img.id);
            } else {
                args.extend(img.names.iter().map(String::as_str));
            }
            items.push(PlanItem {
                kind: PlanKind::Image,
                id: img.id.clone(),
                name: if img.names.is_empty() {
                    "<none>".to_string()
                } else {
                    img.names.join(", ")
                },
                bytes,
                lower_bound: false,
                command: (src.command)(&args),
            });
        }
    }
    if filter.wants(PlanKind::Volume) {
        for (n, v) in inv.volumes.iter().enumerate() {
            let row = att.map(|a| &a.volumes[n]);
            if v.in_use || !in_project(row, None) || !filter.old_enough(v.created) {
                continue;
            }
            items.push(PlanItem {
                kind: PlanKind::Volume,
                id: v.name.clone(),
                name: v.name.clone(),
                bytes: v.bytes.unwrap_or(0),
                lower_bound: v.lower_bound || v.bytes.is_none(),
                command: (src.command)(&["volume", "rm", &v.name]),
            });
        }
    }
    if filter.wants(PlanKind::BuildLeftover) {
        items.extend(leftover_items(src));
    }
    if filter.wants(PlanKind::Cache) {
        items.extend(
            src.caches
                .unwrap_or_default()
                .iter()
                .filter_map(|r| cache_item(r, src.self_command)),
        );
    }
    let totals = PlanKind::ALL
        .iter()
        .filter(|k| filter.wants(**k))
        .map(|&kind| {
            let of_kind = items.iter().filter(|i| i.kind == kind);
            KindTotal {
                kind,
                count: of_kind.clone().count() as u64,
                bytes: of_kind.map(|i| i.bytes).sum_bytes(),
            }
        })
        .collect();
    // What the next plan would add: images only planned containers use.
    let images_after_containers_bytes = if filter.wants(PlanKind::Image) {
        let now: BTreeSet<usize> = (0..inv.images.len()).filter(|&i| removable(i)).collect();
        let kept_users: BTreeSet<&str> = inv
            .containers
            .iter()
            .filter(|c| !planned_containers.contains(c.id.as_str()))
            .map(|c| c.image_id.as_str())
            .collect();
        let later: Vec<usize> = (0..inv.images.len())
            .filter(|&i| {
                now.contains(&i) || (eligible(i) && !kept_users.contains(inv.images[i].id.as_str()))
            })
            .collect();
        let before: u64 = image_order(inv, &now.into_iter().collect::<Vec<_>>())
            .iter()
            .map(|(_, b)| b)
            .sum();
        let after: u64 = image_order(inv, &later).iter().map(|(_, b)| b).sum();
        after.saturating_sub(before)
    } else {
        0
    };
    Plan {
        total_bytes: items.iter().map(|i| i.bytes).sum_bytes(),
        lower_bound: items.iter().any(|i| i.lower_bound),
        items,
        totals,
        images_after_containers_bytes,
    }
}

/// Orders the images to remove (children before their parents, as the
/// engine requires) and gives each the bytes its removal frees once those
/// before it are gone: its metadata, plus each layer no image still on
/// disk holds. A layer shared by several removed images is freed by the
/// last of them.
pub fn image_order(inv: &Inventory, chosen: &[usize]) -> Vec<(usize, u64)> {
    let mut order = chosen.to_vec();
    // A child's layer chain extends its parent's: longer chains first.
    order.sort_by(|&a, &b| {
        let (a, b) = (&inv.images[a], &inv.images[b]);
        b.layers
            .len()
            .cmp(&a.layers.len())
            .then(a.names.is_empty().cmp(&b.names.is_empty()))
            .then(a.names.cmp(&b.names))
            .then(a.id.cmp(&b.id))
    });
    let mut holders: BTreeMap<&str, u64> = BTreeMap::new();
    for img in &inv.images {
        let distinct: BTreeSet<&str> = img.layers.iter().map(String::as_str).collect();
        for l in distinct {
            *holders.entry(l).or_default() += 1;
        }
    }
    order
        .into_iter()
        .map(|i| {
            let img = &inv.images[i];
            let distinct: BTreeSet<&str> = img.layers.iter().map(String::as_str).collect();
            let mut freed = img.metadata_bytes;
            for l in distinct {
                let n = holders
                    .get_mut(l)
                    .expect("every layer of an image is counted");
                *n -= 1;
                if *n == 0 {
                    freed = freed.saturating_add(inv.layers.get(l).map_or(0, |x| x.bytes));
                }
            }
            (i, freed)
        })
        .collect()
}

/// External containers (`podman rm -f` removes them with their layer) and
/// the temp dirs and blob-info cache (removed as paths).
fn leftover_items(src: &Sources<'_>) -> Vec<PlanItem> {
    let Some(leftovers) = src.leftovers else {
        return Vec::new();
    };
    let mut items: Vec<PlanItem> = src
        .inventory
        .containers
        .iter()
        .filter(|c| c.state == ContainerState::External)
        .map(|c| PlanItem {
            kind: PlanKind::BuildLeftover,
            id: c.id.clone(),
            name: format!("external container {}", c.name),
            bytes: c.rw_bytes.unwrap_or(0),
            lower_bound: c.lower_bound || c.rw_bytes.is_none(),
            command: (src.command)(&["rm", "--force", &c.id]),
        })
        .collect();
    items.extend(
        leftovers
            .iter()
            .filter(|l| l.kind != LeftoverKind::ExternalContainer)
            .map(|l| {
                let path = l.path.display().to_string();
                PlanItem {
                    kind: PlanKind::BuildLeftover,
                    id: path.clone(),
                    name: l.kind.as_str().to_string(),
                    bytes: l.bytes,
                    lower_bound: l.lower_bound,
                    command: vec!["rm".into(), "-rf".into(), "--".into(), path],
                }
            }),
    );
    items
}

/// What `df` counts as a cache's reclaimable bytes (see
/// [`crate::account::caches_component`]), with the prune that frees it.
fn cache_item(r: &CacheReport, self_command: &str) -> Option<PlanItem> {
    let (bytes, flag) = match r.kind {
        CacheKind::Fscache => (r.bytes, None),
        CacheKind::OciLayout => (r.orphans.as_ref()?.bytes, Some("--orphans")),
        CacheKind::Registry => (r.orphans.as_ref()?.bytes, Some("--registry-offline")),
        CacheKind::Unknown | CacheKind::Missing => return None,
    };
    let path = r.path.display().to_string();
    let mut command: Vec<String> = [self_command, "prune", "caches", "--force"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    command.extend(flag.map(str::to_string));
    command.push(path.clone());
    (bytes > 0).then(|| PlanItem {
        kind: PlanKind::Cache,
        id: path.clone(),
        name: format!("{} {path}", r.kind.as_str()),
        bytes,
        lower_bound: !r.errors.is_empty(),
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Container, Image, Layer, Volume};
    use proptest::prelude::*;

    fn cmd(args: &[&str]) -> Vec<String> {
        std::iter::once("podman")
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect()
    }

    fn sources(inv: &Inventory) -> Sources<'_> {
        Sources {
            inventory: inv,
            attribution: None,
            leftovers: None,
            caches: None,
            command: &cmd,
            self_command: "podman-storage",
        }
    }

    fn image(id: &str, names: &[&str], layers: &[&str], meta: u64) -> Image {
        Image {
            created: None,
            id: id.into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            layers: layers.iter().map(|s| s.to_string()).collect(),
            size: 0,
            metadata_bytes: meta,
            labels: Default::default(),
            intermediate: false,
            read_only: false,
        }
    }

    fn container(id: &str, image_id: &str, state: ContainerState, rw: u64) -> Container {
        Container {
            created: None,
            id: id.into(),
            name: format!("n-{id}"),
            image: image_id.into(),
            image_id: image_id.into(),
            state,
            labels: Default::default(),
            pod: None,
            infra: false,
            rw_bytes: Some(rw),
            lower_bound: false,
            log: None,
        }
    }

    fn store() -> Inventory {
        let layers = [("base", 3_000_000), ("a", 2_000_000), ("b", 1_000_000)]
            .into_iter()
            .map(|(k, b)| {
                (
                    k.to_string(),
                    Layer {
                        key: k.into(),
                        bytes: b,
                    },
                )
            })
            .collect();
        Inventory {
            layers,
            images: vec![
                image("base", &["localhost/base:1"], &["base"], 10),
                image("app1", &["localhost/app1:1"], &["base", "a"], 20),
                image("app2", &["localhost/app2:1"], &["base", "b"], 30),
            ],
            containers: vec![
                container("run", "app1", ContainerState::Running, 5),
                container("old", "app1", ContainerState::Exited, 7),
            ],
            volumes: vec![Volume {
                created: None,
                name: "data".into(),
                mountpoint: "/v".into(),
                labels: Default::default(),
                in_use: false,
                bytes: Some(100),
                approximate: false,
                lower_bound: false,
            }],
            pods: vec![],
        }
    }

    #[test]
    fn shared_base_is_freed_by_the_last_image_holding_it() {
        let mut inv = store();
        inv.containers.clear();
        let p = plan(&sources(&inv), &Filter::default());
        let images: Vec<(&str, u64)> = p
            .items
            .iter()
            .filter(|i| i.kind == PlanKind::Image)
            .map(|i| (i.id.as_str(), i.bytes))
            .collect();
        // Children first; the base's layer goes with the last holder.
        assert_eq!(
            images,
            [
                ("app1", 2_000_020),
                ("app2", 1_000_030),
                ("base", 3_000_010)
            ]
        );
        assert_eq!(p.items[0].command, ["podman", "rmi", "localhost/app1:1"]);
    }

    #[test]
    fn totals_are_df_reclaimable_and_running_containers_hold_their_image() {
        let inv = store();
        let p = plan(&sources(&inv), &Filter::default());
        let df = crate::account::components(&inv);
        for (kind, row) in [
            (PlanKind::Image, 0),
            (PlanKind::Container, 1),
            (PlanKind::Volume, 2),
        ] {
            let t = p.totals.iter().find(|t| t.kind == kind).unwrap();
            assert_eq!(t.bytes, df[row].reclaimable_bytes, "{kind:?}");
        }
        assert!(p.items.iter().all(|i| i.id != "run" && i.id != "app1"));
        assert_eq!(p.items[0].command, ["podman", "rm", "old"]);
        // app1 stays (the running container): nothing more after the exited one.
        assert_eq!(p.images_after_containers_bytes, 0);
    }

    #[test]
    fn an_image_only_a_planned_container_uses_is_left_for_the_next_plan() {
        let mut inv = store();
        inv.containers.remove(0);
        let p = plan(&sources(&inv), &Filter::default());
        assert!(p.items.iter().all(|i| i.id != "app1"));
        // Removing app1 then frees its own layer and metadata, and the base
        // (every holder gone).
        assert_eq!(p.images_after_containers_bytes, 2_000_020 + 3_000_000);
    }

    #[test]
    fn filters_pick_kinds() {
        let inv = store();
        let filter = Filter {
            kinds: [PlanKind::Volume].into(),
            project: None,
            created_before: None,
        };
        let p = plan(&sources(&inv), &filter);
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0].command, ["podman", "volume", "rm", "data"]);
        assert_eq!(p.totals.len(), 1);
    }

    #[test]
    fn a_project_keeps_only_its_own_objects() {
        let mut inv = store();
        let label = |p: &str| -> crate::engine::Labels {
            [("com.docker.compose.project".to_string(), p.to_string())].into()
        };
        inv.containers[1].labels = label("web");
        inv.containers
            .push(container("other", "app2", ContainerState::Exited, 3));
        inv.containers[2].labels = label("db");
        let att = crate::projects::attribute(&inv, &Default::default());
        let filter = Filter {
            kinds: Default::default(),
            project: Some("web".into()),
            created_before: None,
        };
        let p = plan(
            &Sources {
                attribution: Some(&att),
                ..sources(&inv)
            },
            &filter,
        );
        let ids: Vec<&str> = p.items.iter().map(|i| i.id.as_str()).collect();
        // db's container and image, the unlabelled volume and the
        // base (nobody's) are not web's.
        assert_eq!(ids, ["old"]);
        assert_eq!(p.totals.len(), 3, "engine kinds only with a project");
    }

    #[test]
    fn older_than_keeps_young_objects_and_those_of_unknown_age() {
        let mut inv = store();
        let t = |s| Some(Timestamp(s));
        // base and app2 unused; app2 is young, base old; "old" container
        // old; the volume's age unknown.
        inv.images[0].created = t(100);
        inv.images[2].created = t(900);
        inv.containers[1].created = t(100);
        let filter = Filter {
            created_before: Some(Timestamp(500)),
            ..Filter::default()
        };
        let p = plan(&sources(&inv), &filter);
        let ids: Vec<&str> = p.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["old", "base"]);
        // base alone frees its metadata only: app1 (kept, in use) and app2
        // (young, kept) still hold its layer.
        assert_eq!(p.items[1].bytes, 10);
        assert_eq!(p.totals.len(), 3, "leftovers and caches have no age here");
    }

    fn arb_store() -> impl Strategy<Value = (Inventory, Vec<usize>)> {
        let tree = prop::collection::vec((any::<prop::sample::Index>(), 0u64..1_000_000), 1..15);
        let imgs = prop::collection::vec((any::<prop::sample::Index>(), 0u64..500), 1..10);
        (tree, imgs, any::<u64>()).prop_map(|(tree, imgs, pick)| {
            let mut parent = Vec::new();
            let mut inv = Inventory::default();
            for (i, (p, bytes)) in tree.iter().enumerate() {
                parent.push((i > 0).then(|| p.index(i)));
                inv.layers.insert(
                    format!("l{i}"),
                    Layer {
                        key: format!("l{i}"),
                        bytes: *bytes,
                    },
                );
            }
            for (n, (top, meta)) in imgs.into_iter().enumerate() {
                let mut chain = Vec::new();
                let mut cur = Some(top.index(tree.len()));
                while let Some(c) = cur {
                    chain.push(format!("l{c}"));
                    cur = parent[c];
                }
                chain.reverse();
                let mut img = image(&format!("i{n}"), &[], &[], meta);
                img.layers = chain;
                inv.images.push(img);
            }
            let chosen = (0..inv.images.len())
                .filter(|i| (pick >> (i % 64)) & 1 == 1)
                .collect();
            (inv, chosen)
        })
    }

    proptest! {
        /// Brute force: each step frees the bytes of the union of layers
        /// (plus metadata) of the images left before it, minus after it.
        #[test]
        fn each_step_frees_the_union_difference((inv, chosen) in arb_store()) {
            let on_disk = |left: &BTreeSet<usize>| -> u64 {
                let layers: BTreeSet<&String> = left.iter().flat_map(|&i| &inv.images[i].layers).collect();
                layers.iter().map(|k| inv.layers[*k].bytes).sum::<u64>()
                    + left.iter().map(|&i| inv.images[i].metadata_bytes).sum::<u64>()
            };
            let mut left: BTreeSet<usize> = (0..inv.images.len()).collect();
            let order = image_order(&inv, &chosen);
            prop_assert_eq!(order.len(), chosen.len());
            for (i, freed) in order {
                let before = on_disk(&left);
                left.remove(&i);
                prop_assert_eq!(freed, before - on_disk(&left));
            }
        }
    }
}
