use super::*;
use crate::engine::layers::tests::{chain, img};

fn entry(id: &str, parent: &str) -> ImageEntry {
    ImageEntry {
        created: None,
        id: id.into(),
        parent_id: parent.into(),
        names: Vec::new(),
        size: 0,
        labels: Default::default(),
        containers: 0,
        read_only: false,
    }
}

#[test]
fn the_guess_from_parent_ids_is_the_plan_for_images_built_on_one_another() {
    // A base, two children with a layer each, and a build whose last
    // steps (LABEL, CMD) made images on one top layer: i1 -> i2 -> z.
    let entries = [
        entry("base", ""),
        entry("c1", "base"),
        entry("c2", "base"),
        entry("i1", "base"),
        entry("i2", "i1"),
        entry("z", "i2"),
    ];
    let layers: [&[&str]; 6] = [
        &["a"],
        &["a", "b"],
        &["a", "c"],
        &["a", "d"],
        &["a", "d"],
        &["a", "d"],
    ];
    let refs: Vec<&ImageEntry> = entries.iter().collect();
    let chains: Vec<ImageChain> = layers
        .iter()
        .zip(generations(&refs))
        .map(|(l, generation)| ImageChain {
            keys: chain(l),
            size: 0,
            generation,
        })
        .collect();
    let plan = history_plan(&chains);
    assert_eq!(likely_history_plan(&entries), plan);
    // Of the three on one top layer, the deepest is chosen.
    assert!(plan.contains(&5), "{plan:?}");
}

#[test]
fn pulled_images_on_a_common_base_are_not_guessed() {
    // No image ends where they branch: `podman images` cannot show it,
    // so the plan's history is asked for after `inspect`.
    let entries = [entry("x", ""), entry("y", "")];
    assert!(likely_history_plan(&entries).is_empty());
    let chains = [img(&["a", "b"], 30), img(&["a", "c"], 40)];
    assert_eq!(history_plan(&chains).len(), 1);
}

#[test]
fn a_parent_id_cycle_does_not_hang() {
    let entries = [entry("x", "y"), entry("y", "x")];
    let refs: Vec<&ImageEntry> = entries.iter().collect();
    assert!(generations(&refs).iter().all(|&g| g <= entries.len()));
    likely_history_plan(&entries);
}
