use super::*;
use crate::engine::{Container, ContainerState, Layer};
use proptest::prelude::*;

fn image(
    id: &str,
    names: &[&str],
    layers: &[&str],
    meta: u64,
    inv_layers: &BTreeMap<String, Layer>,
) -> Image {
    let size = layers.iter().map(|l| inv_layers[*l].bytes).sum::<u64>() + meta;
    Image {
        created: None,
        id: id.into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        layers: layers.iter().map(|s| s.to_string()).collect(),
        size,
        metadata_bytes: meta,
        labels: Default::default(),
        intermediate: false,
        read_only: false,
    }
}

fn layers(spec: &[(&str, u64)]) -> BTreeMap<String, Layer> {
    spec.iter()
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

fn container(image_id: &str, state: ContainerState, rw: u64) -> Container {
    Container {
        id: format!("c-{image_id}-{rw}"),
        name: "c".into(),
        image: image_id.into(),
        image_id: image_id.into(),
        state,
        rw_bytes: Some(rw),
        ..Default::default()
    }
}

/// DESIGN.md's store: one base and two derived images.
fn base_and_two_apps() -> Inventory {
    let l = layers(&[("base", 3_400_000), ("a1", 2_000_000), ("a2", 3_000_000)]);
    let imgs = vec![
        image("b", &["localhost/base:1"], &["base"], 1000, &l),
        image("x", &["localhost/app1:1"], &["base", "a1"], 2000, &l),
        image("y", &["localhost/app2:1"], &["base", "a2"], 2000, &l),
    ];
    Inventory {
        layers: l,
        images: imgs,
        ..Default::default()
    }
}

#[test]
fn shared_base_is_counted_once() {
    let inv = base_and_two_apps();
    let r = images(&inv);
    assert_eq!(r.total_bytes, 8_400_000 + 5000);
    assert_eq!(r.shared_layers_bytes, 3_400_000);
    assert_eq!(r.images[1].unique_bytes, 2_002_000);
    assert_eq!(r.images[1].shared_bytes, 3_400_000);
    // podman 4.3's system df adds the three sizes: 3.4 + 5.4 + 6.4 MB.
    let naive: u64 = inv.images.iter().map(|i| i.size).sum();
    assert_eq!(naive, 15_205_000);
}

#[test]
fn intermediates_do_not_make_a_layer_shared() {
    let mut inv = base_and_two_apps();
    let mut step = inv.images[1].clone();
    step.id = "step".into();
    step.names.clear();
    step.intermediate = true;
    inv.images.push(step);
    let r = images(&inv);
    assert_eq!(r.images[1].unique_bytes, 2_002_000);
    assert_eq!(r.images[3].unique_bytes, 2000, "only its own metadata");
}

#[test]
fn reclaimable_keeps_layers_of_used_images() {
    let mut inv = base_and_two_apps();
    inv.containers
        .push(container("x", ContainerState::Exited, 10));
    // Removing base (metadata only: app1 needs its layer) and app2.
    assert_eq!(images_reclaimable(&inv), 1000 + 3_000_000 + 2000);
    let df = components(&inv);
    assert_eq!(df[0].active, 1);
    assert_eq!(df[1].reclaimable_bytes, 10);
}

/// Random stores: images are random paths in a random layer tree.
fn arb_inventory() -> impl Strategy<Value = Inventory> {
    let tree = prop::collection::vec((any::<prop::sample::Index>(), 0u64..10_000_000), 1..20);
    let imgs = prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            0u64..5000,
            any::<bool>(),
            0u8..3,
        ),
        0..12,
    );
    (tree, imgs).prop_map(|(tree, imgs)| {
        // Layer i's parent is an earlier layer (or none).
        let mut parent: Vec<Option<usize>> = Vec::new();
        let mut l = BTreeMap::new();
        for (i, (p, bytes)) in tree.iter().enumerate() {
            parent.push(if i == 0 || p.index(i + 1) == i {
                None
            } else {
                Some(p.index(i))
            });
            l.insert(
                format!("l{i}"),
                Layer {
                    key: format!("l{i}"),
                    bytes: *bytes,
                },
            );
        }
        let mut inv = Inventory {
            layers: l,
            ..Default::default()
        };
        for (n, (top, meta, named, containers)) in imgs.into_iter().enumerate() {
            let mut chain = Vec::new();
            let mut cur = Some(top.index(tree.len()));
            while let Some(c) = cur {
                chain.push(format!("l{c}"));
                cur = parent[c];
            }
            chain.reverse();
            let size = chain.iter().map(|k| inv.layers[k].bytes).sum::<u64>() + meta;
            inv.images.push(Image {
                id: format!("i{n}"),
                names: if named {
                    vec![format!("localhost/i{n}:1")]
                } else {
                    vec![]
                },
                layers: chain,
                size,
                metadata_bytes: meta,
                intermediate: !named && n % 2 == 0,
                ..Default::default()
            });
            for k in 0..containers {
                inv.containers.push(container(
                    &format!("i{n}"),
                    ContainerState::Exited,
                    u64::from(k),
                ));
            }
        }
        inv
    })
}

proptest! {
    #[test]
    fn every_layer_is_counted_exactly_once(inv in arb_inventory()) {
        let r = images(&inv);
        let distinct: BTreeSet<&String> = inv.images.iter().flat_map(|i| &i.layers).collect();
        let truth: u64 = distinct.iter().map(|k| inv.layers[*k].bytes).sum::<u64>()
            + inv.images.iter().map(|i| i.metadata_bytes).sum::<u64>();
        prop_assert_eq!(r.total_bytes, truth);
        // The split, brute force: a layer belongs to the named images
        // holding it (to the intermediates only when no named one
        // does); two or more owners make it shared.
        let owners = |k: &String| -> Vec<usize> {
            let holders = |named: bool| -> Vec<usize> {
                (0..inv.images.len())
                    .filter(|&n| inv.images[n].intermediate != named && inv.images[n].layers.contains(k))
                    .collect()
            };
            let named = holders(true);
            if named.is_empty() { holders(false) } else { named }
        };
        let shared: u64 = distinct.iter().filter(|k| owners(k).len() > 1).map(|k| inv.layers[*k].bytes).sum();
        prop_assert_eq!(r.shared_layers_bytes, shared);
        for (n, (i, img)) in r.images.iter().zip(&inv.images).enumerate() {
            let own: u64 = img.layers.iter().filter(|k| owners(k) == [n]).map(|k| inv.layers[k].bytes).sum();
            prop_assert_eq!(i.unique_bytes, own + img.metadata_bytes);
            let others: u64 = img.layers.iter().filter(|k| owners(k) != [n]).map(|k| inv.layers[k].bytes).sum();
            prop_assert_eq!(i.shared_bytes, others);
        }
        let df = components(&inv);
        prop_assert!(df[0].reclaimable_bytes <= df[0].bytes);
        prop_assert_eq!(df[0].bytes, truth);
    }
}
