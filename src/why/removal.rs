//! What removing images and containers frees, by podman's rules.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Store;
use crate::engine::Inventory;

/// Bytes that removing something frees; a lower bound when a container's
/// writable layer or log was not measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Freed {
    pub bytes: u64,
    pub lower_bound: bool,
}

/// What removing these images and containers frees, as podman does it.
/// A removed image takes its containers (`podman rmi -f`) and the build
/// intermediates that no image left descends from (libimage removes
/// nameless parents that lose their last child); a layer is freed when no
/// image left holds it. Read-only images cannot be removed here.
pub fn frees(store: &Store<'_>, images: &BTreeSet<usize>, containers: &BTreeSet<usize>) -> Freed {
    let inv = store.inv;
    // Only a removed image can take intermediates with it.
    let below: BTreeMap<usize, Vec<usize>> = inv
        .images
        .iter()
        .enumerate()
        .filter(|_| !images.is_empty())
        .filter(|(_, img)| img.intermediate && !img.read_only)
        .map(|(i, _)| (i, descendants(store, i)))
        .collect();
    let mut removed: BTreeSet<usize> = images
        .iter()
        .copied()
        .filter(|&i| !inv.images[i].read_only)
        .collect();
    loop {
        let before = removed.len();
        for (&i, kids) in &below {
            // A same-chain sibling only guessed from layers (no recorded
            // parents) must not keep it: each would wait for the other.
            let layers = &inv.images[i].layers;
            let waits = |j: &usize| {
                let same_chain = inv.images[*j].intermediate && &inv.images[*j].layers == layers;
                !(removed.contains(j) || same_chain)
            };
            if !removed.contains(&i) && !kids.is_empty() && !kids.iter().any(waits) {
                removed.insert(i);
            }
        }
        if removed.len() == before {
            break;
        }
    }
    let ids: BTreeSet<&str> = removed.iter().map(|&i| inv.images[i].id.as_str()).collect();
    let gone_containers = inv
        .containers
        .iter()
        .enumerate()
        .filter(|(n, c)| containers.contains(n) || ids.contains(c.image_id.as_str()));
    let kept: BTreeSet<&String> = inv
        .images
        .iter()
        .enumerate()
        .filter(|(i, _)| !removed.contains(i))
        .flat_map(|(_, img)| &img.layers)
        .collect();
    let layers: BTreeSet<&String> = removed
        .iter()
        .flat_map(|&i| &inv.images[i].layers)
        .filter(|l| !kept.contains(l))
        .collect();
    let mut freed = Freed::default();
    let mut add = |b: u64| freed.bytes = freed.bytes.saturating_add(b);
    for l in layers {
        add(inv.layers.get(l).map_or(0, |l| l.bytes));
    }
    for &i in &removed {
        add(inv.images[i].metadata_bytes);
    }
    for (_, c) in gone_containers {
        match c.rw_bytes {
            Some(b) => add(b),
            None => freed.lower_bound = true,
        }
        freed.lower_bound |= c.lower_bound;
        if let Some(log) = &c.log {
            add(log.bytes.unwrap_or(0));
            freed.lower_bound |= log.lower_bound;
        }
    }
    freed
}

/// Images built on image `i`, children and their children: by the parents
/// the store records (c/common's layer tree, as `podman images` prints
/// them), else by layer chains that start with all of its layers.
pub(super) fn descendants(store: &Store<'_>, i: usize) -> Vec<usize> {
    let inv = store.inv;
    match &store.relations.image_parents {
        Some(parents) => {
            let index: BTreeMap<&str, usize> = inv
                .images
                .iter()
                .enumerate()
                .map(|(n, img)| (img.id.as_str(), n))
                .collect();
            let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (child, parent) in parents {
                if let (Some(&c), Some(&p)) =
                    (index.get(child.as_str()), index.get(parent.as_str()))
                {
                    children.entry(p).or_default().push(c);
                }
            }
            let mut out = BTreeSet::new();
            let mut todo = vec![i];
            while let Some(n) = todo.pop() {
                for &c in children.get(&n).into_iter().flatten() {
                    if c != i && out.insert(c) {
                        todo.push(c);
                    }
                }
            }
            out.into_iter().collect()
        }
        None => {
            let base = &inv.images[i].layers;
            inv.images
                .iter()
                .enumerate()
                .filter(|(j, img)| *j != i && !base.is_empty() && img.layers.starts_with(base))
                .map(|(j, _)| j)
                .collect()
        }
    }
}

pub(super) fn containers_of(inv: &Inventory, image_id: &str) -> BTreeSet<usize> {
    inv.containers
        .iter()
        .enumerate()
        .filter(|(_, c)| c.image_id == image_id)
        .map(|(n, _)| n)
        .collect()
}
