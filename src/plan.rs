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
mod tests;
