//! Pure maths over images' layer chains: which image is another's parent,
//! layer keys, and per-layer bytes from image totals and histories. Every
//! engine path uses it (the store path, podman's CLI, docker's CLI).

use std::collections::{BTreeMap, BTreeSet};

/// What decides whether one image is another's parent.
#[derive(Debug, Clone, Copy)]
pub struct TreeImage<'a> {
    /// Layer ids, bottom to top.
    pub layers: &'a [String],
    pub diff_ids: &'a [String],
    /// History entries, compared as opaque values.
    pub history: &'a [String],
}

/// For each image, whether some other image is its child, by c/common's
/// layer tree (libimage `layerTree.children`): the child's top layer is the
/// parent's top layer or sits directly on it, the child's diff ids start
/// with the parent's, and its history is the parent's plus one entry. A
/// build step before a `LABEL`, `CMD` or `ENV` shares the final image's top
/// layer, so it has a child and is an intermediate, not dangling.
pub fn has_child(images: &[TreeImage<'_>]) -> Vec<bool> {
    images
        .iter()
        .enumerate()
        .map(|(i, parent)| {
            images
                .iter()
                .enumerate()
                .any(|(j, child)| i != j && is_parent_of(parent, child))
        })
        .collect()
}

/// For each image, the index of its parent by the same rule (the first
/// found), as `podman images` prints `ParentId`.
pub fn parents(images: &[TreeImage<'_>]) -> Vec<Option<usize>> {
    images
        .iter()
        .enumerate()
        .map(|(j, child)| {
            images
                .iter()
                .enumerate()
                .position(|(i, parent)| i != j && is_parent_of(parent, child))
        })
        .collect()
}

fn is_parent_of(parent: &TreeImage<'_>, child: &TreeImage<'_>) -> bool {
    let layered = match (parent.layers.last(), child.layers.split_last()) {
        (Some(top), Some((child_top, below))) => child_top == top || below.last() == Some(top),
        // Images without layers relate only to each other.
        (None, None) => true,
        _ => false,
    };
    layered
        && child.diff_ids.starts_with(parent.diff_ids)
        && parent.history.len() + 1 == child.history.len()
        && child.history.starts_with(parent.history)
}

/// One image as the layer maths sees it.
#[derive(Debug, Clone)]
pub struct ImageChain {
    /// [`chain_keys`] of its diff ids, bottom first.
    pub keys: Vec<String>,
    /// Its total: layers plus metadata.
    pub size: u64,
    /// How many ancestors `podman images` names for it (`ParentId`s): among
    /// chains of one length, the deepest is the one the CLI path can guess
    /// before `inspect` answers.
    pub generation: usize,
}

/// Which images' `podman history` makes every figure exact, as few as
/// possible. Totals alone fix the layer bytes under a trie node only when
/// that node is the top of exactly one image and nothing branches off
/// above it; wherever two chains branch, an image ends with others built
/// on it, or two images end on one layer, the totals mix layer bytes with
/// per-image metadata. One history gives exact bytes of every layer of its
/// image, so the plan covers each such node with one image through it.
pub fn history_plan(chains: &[ImageChain]) -> Vec<usize> {
    let mut ends: BTreeMap<&str, usize> = BTreeMap::new();
    let mut children: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    for c in chains {
        for (d, pair) in c.keys.windows(2).enumerate() {
            children.entry(&pair[0]).or_default().insert(&pair[1]);
            depth.insert(&pair[1], d + 1);
        }
        if let Some(first) = c.keys.first() {
            depth.insert(first, 0);
        }
        if let Some(top) = c.keys.last() {
            *ends.entry(top).or_default() += 1;
        }
    }
    let kids = |k: &str| children.get(k).map_or(0, BTreeSet::len);
    let ended = |k: &str| ends.get(k).copied().unwrap_or(0);
    let mut needed: Vec<&str> = depth
        .keys()
        .copied()
        .filter(|&k| kids(k) >= 2 || (ended(k) >= 1 && kids(k) >= 1) || ended(k) >= 2)
        .collect();
    // Deepest first: a deep image's history covers the nodes below it too.
    needed.sort_by_key(|k| std::cmp::Reverse(depth[k]));
    let mut covered: BTreeSet<&str> = BTreeSet::new();
    let mut plan = Vec::new();
    for node in needed {
        if covered.contains(node) {
            continue;
        }
        // The longest chain through it covers the most; ties by the
        // deepest by `ParentId` (what the CLI path can guess),
        // then by position.
        let Some(i) = (0..chains.len())
            .filter(|&i| chains[i].keys.iter().any(|k| k == node))
            .max_by_key(|&i| {
                (
                    chains[i].keys.len(),
                    chains[i].generation,
                    std::cmp::Reverse(i),
                )
            })
        else {
            continue;
        };
        covered.extend(chains[i].keys.iter().map(String::as_str));
        plan.push(i);
    }
    plan.sort_unstable();
    plan
}

/// Every layer's bytes: exact where `known` has them, else from the image
/// totals over what is not known (the unknown layers of a chain are always
/// a suffix, since a history covers a whole chain from its bottom). The
/// flag says some are estimated (see [`segment_sizes`]).
pub fn layer_sizes(
    chains: &[ImageChain],
    known: &BTreeMap<String, u64>,
) -> (BTreeMap<String, u64>, bool) {
    let rest: Vec<(Vec<String>, u64)> = chains
        .iter()
        .map(|c| {
            let known_bytes = c
                .keys
                .iter()
                .filter_map(|k| known.get(k))
                .fold(0, |a: u64, b| a.saturating_add(*b));
            let unknown: Vec<String> = c
                .keys
                .iter()
                .filter(|k| !known.contains_key(*k))
                .cloned()
                .collect();
            (unknown, c.size.saturating_sub(known_bytes))
        })
        .collect();
    let (mut sizes, approximate) = segment_sizes(&rest);
    sizes.extend(known.iter().map(|(k, v)| (k.clone(), *v)));
    (sizes, approximate)
}

/// Keys for a diff-id list: each position is identified by its whole prefix,
/// since the same diff on another parent is another layer on disk.
pub fn chain_keys(diff_ids: &[String]) -> Vec<String> {
    let mut keys = Vec::with_capacity(diff_ids.len());
    let mut prefix = String::new();
    for d in diff_ids {
        if !prefix.is_empty() {
            prefix.push('>');
        }
        prefix.push_str(d);
        keys.push(format!(
            "chain:{:016x}:{}",
            crate::fnv::fnv1a64(prefix.as_bytes()),
            d
        ));
    }
    keys
}

/// Per-layer bytes from image totals alone. Images form a trie over their
/// layer chains; a layer's cumulative size is known exactly where an image
/// ends on it. Elsewhere it is taken as the smallest total of the images
/// below it, which keeps every image's layers summing to its own total and
/// is exact unless two images branch at a layer where no image ends (the
/// returned flag says so).
pub fn segment_sizes(images: &[(Vec<String>, u64)]) -> (BTreeMap<String, u64>, bool) {
    let mut parent: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    let mut children: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut cumulative: BTreeMap<&str, u64> = BTreeMap::new();
    let mut ends: BTreeSet<&str> = BTreeSet::new();
    for (chain, size) in images {
        let mut prev: Option<&str> = None;
        for key in chain {
            parent.insert(key, prev);
            if let Some(p) = prev {
                children.entry(p).or_default().insert(key);
            }
            prev = Some(key);
        }
        // Every node on the chain is at most this image's total.
        for key in chain {
            let c = cumulative.entry(key).or_insert(u64::MAX);
            *c = (*c).min(*size);
        }
        if let Some(top) = chain.last() {
            ends.insert(top);
        }
    }
    let approximate = children
        .iter()
        .any(|(node, kids)| kids.len() > 1 && !ends.contains(node));
    let sizes = parent
        .iter()
        .map(|(key, p)| {
            let below = p.map_or(0, |p| cumulative[p]);
            (key.to_string(), cumulative[key].saturating_sub(below))
        })
        .collect();
    (sizes, approximate)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_label_step_sharing_the_top_layer_has_a_child() {
        let (l1, l2) = (s(&["a", "b"]), s(&["a", "b"]));
        let d = s(&["da", "db"]);
        let (h1, h2) = (s(&["import", "copy"]), s(&["import", "copy", "label"]));
        let imgs = [
            TreeImage {
                layers: &l1,
                diff_ids: &d,
                history: &h1,
            },
            TreeImage {
                layers: &l2,
                diff_ids: &d,
                history: &h2,
            },
        ];
        assert_eq!(has_child(&imgs), vec![true, false]);
    }

    #[test]
    fn a_grandchild_or_a_stranger_is_no_child() {
        let base = s(&["a"]);
        let grand = s(&["a", "b", "c"]);
        let other = s(&["a", "x"]);
        let (db, dg, dx) = (s(&["da"]), s(&["da", "db", "dc"]), s(&["da", "dx"]));
        let (hb, hg, hx) = (s(&["i"]), s(&["i", "1", "2"]), s(&["j", "x"]));
        let imgs = [
            TreeImage {
                layers: &base,
                diff_ids: &db,
                history: &hb,
            },
            TreeImage {
                layers: &grand,
                diff_ids: &dg,
                history: &hg,
            },
            // On the base's top layer but with another history: pulled, not built.
            TreeImage {
                layers: &other,
                diff_ids: &dx,
                history: &hx,
            },
        ];
        assert_eq!(has_child(&imgs), vec![false, false, false]);
    }

    #[test]
    fn a_direct_child_one_layer_up_counts() {
        let (p, c) = (s(&["a"]), s(&["a", "b"]));
        let (dp, dc) = (s(&["da"]), s(&["da", "db"]));
        let (hp, hc) = (s(&["i"]), s(&["i", "copy"]));
        let imgs = [
            TreeImage {
                layers: &c,
                diff_ids: &dc,
                history: &hc,
            },
            TreeImage {
                layers: &p,
                diff_ids: &dp,
                history: &hp,
            },
        ];
        assert_eq!(has_child(&imgs), vec![false, true]);
    }

    pub(crate) fn chain(ids: &[&str]) -> Vec<String> {
        chain_keys(&ids.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn segments_from_a_base_and_two_derived_images_are_exact() {
        let base = chain(&["a"]);
        let app1 = chain(&["a", "b"]);
        let app2 = chain(&["a", "c"]);
        let (sizes, approx) = segment_sizes(&[
            (base.clone(), 100),
            (app1.clone(), 130),
            (app2.clone(), 150),
        ]);
        assert!(!approx);
        assert_eq!(sizes[&base[0]], 100);
        assert_eq!(sizes[&app1[1]], 30);
        assert_eq!(sizes[&app2[1]], 50);
    }

    #[test]
    fn branching_without_an_image_is_flagged_and_totals_still_hold() {
        let x = chain(&["a", "b"]);
        let y = chain(&["a", "c"]);
        let (sizes, approx) = segment_sizes(&[(x.clone(), 130), (y.clone(), 150)]);
        assert!(approx);
        assert_eq!(sizes[&x[0]] + sizes[&x[1]], 130);
        assert_eq!(sizes[&y[0]] + sizes[&y[1]], 150);
    }

    pub(crate) fn img(ids: &[&str], size: u64) -> ImageChain {
        ImageChain {
            keys: chain(ids),
            size,
            generation: 0,
        }
    }

    #[test]
    fn history_is_asked_only_where_totals_mix_layers_and_metadata() {
        // Unrelated images: totals are exact, no history.
        assert!(history_plan(&[img(&["a"], 10), img(&["b"], 20)]).is_empty());
        // A base with children: one child's history fixes the base's layer
        // bytes apart from its metadata.
        let plan = history_plan(&[img(&["a"], 10), img(&["a", "b"], 30), img(&["a", "c"], 40)]);
        assert_eq!(plan.len(), 1);
        assert_ne!(
            plan,
            [0],
            "the base's own history would not reach its children"
        );
        // A branch at no image: one history.
        assert_eq!(
            history_plan(&[img(&["a", "b"], 30), img(&["a", "c"], 40)]).len(),
            1
        );
    }

    #[test]
    fn known_layers_make_metadata_exact_and_the_rest_follows_from_totals() {
        // base layer 100 + 5 metadata; children add 30 and 50, metadata 7 and 9.
        let chains = [
            img(&["a"], 105),
            img(&["a", "b"], 137),
            img(&["a", "c"], 159),
        ];
        let known: BTreeMap<String, u64> = [
            (chains[1].keys[0].clone(), 100),
            (chains[1].keys[1].clone(), 30),
        ]
        .into();
        let (sizes, approx) = layer_sizes(&chains, &known);
        assert!(!approx);
        assert_eq!(sizes[&chains[0].keys[0]], 100);
        assert_eq!(sizes[&chains[1].keys[1]], 30);
        // Unknown: its layer and metadata together, so the total holds.
        assert_eq!(sizes[&chains[2].keys[1]], 59);
        let total: u64 = sizes.values().sum::<u64>() + 5 + 7;
        assert_eq!(total, 105 + 30 + 7 + 59);
    }

    #[test]
    fn same_diff_on_another_parent_is_another_layer() {
        let x = chain(&["a", "b"]);
        let y = chain(&["c", "b"]);
        assert_ne!(x[1], y[1]);
    }
}
