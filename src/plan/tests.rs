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
        id: id.into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        layers: layers.iter().map(|s| s.to_string()).collect(),
        metadata_bytes: meta,
        ..Default::default()
    }
}

fn container(id: &str, image_id: &str, state: ContainerState, rw: u64) -> Container {
    Container {
        id: id.into(),
        name: format!("n-{id}"),
        image: image_id.into(),
        image_id: image_id.into(),
        state,
        rw_bytes: Some(rw),
        ..Default::default()
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
            name: "data".into(),
            mountpoint: "/v".into(),
            in_use: false,
            bytes: Some(100),
            ..Default::default()
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
