//! Holders and freed bytes on constructed stores, against direct
//! computations and `account`'s unique bytes.

use super::*;
use crate::config::Config;
use crate::engine::{Container, Image, Layer, Volume};
use proptest::prelude::*;

fn layers(spec: &[(&str, u64)]) -> BTreeMap<String, Layer> {
    spec.iter()
        .map(|(k, b)| {
            let layer = Layer {
                key: k.to_string(),
                bytes: *b,
            };
            (k.to_string(), layer)
        })
        .collect()
}

fn image(id: &str, names: &[&str], chain: &[&str], meta: u64, inv: &Inventory) -> Image {
    let size = chain.iter().map(|l| inv.layers[*l].bytes).sum::<u64>() + meta;
    Image {
        id: id.into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        layers: chain.iter().map(|s| s.to_string()).collect(),
        size,
        metadata_bytes: meta,
        ..Default::default()
    }
}

fn container(id: &str, name: &str, image_id: &str, rw: Option<u64>) -> Container {
    Container {
        id: id.into(),
        name: name.into(),
        image: image_id.into(),
        image_id: image_id.into(),
        state: ContainerState::Exited,
        rw_bytes: rw,
        ..Default::default()
    }
}

/// One base, two apps built on it, a container on the base and one on app1.
fn store() -> Inventory {
    let mut inv = Inventory {
        layers: layers(&[("base", 3_400_000), ("a1", 2_000_000), ("a2", 3_000_000)]),
        ..Default::default()
    };
    inv.images = vec![
        image("bbb111", &["localhost/base:1"], &["base"], 1000, &inv),
        image("aaa111", &["localhost/app1:1"], &["base", "a1"], 2000, &inv),
        image(
            "aaa222",
            &["localhost/app2:latest"],
            &["base", "a2"],
            3000,
            &inv,
        ),
    ];
    inv.containers = vec![
        container("ccc111", "idle", "bbb111", Some(10)),
        container("ccc222", "web", "aaa111", Some(500)),
    ];
    inv.volumes = vec![Volume {
        name: "web".into(),
        mountpoint: String::new(),
        in_use: true,
        bytes: Some(7000),
        ..Default::default()
    }];
    inv
}

fn relations(volume_users: &[(&str, &[&str])]) -> Relations {
    Relations {
        volume_users: Some(
            volume_users
                .iter()
                .map(|(v, ids)| (v.to_string(), ids.iter().map(|s| s.to_string()).collect()))
                .collect(),
        ),
        ..Default::default()
    }
}

fn explain_one(inv: &Inventory, rel: &Relations, query: &str, kind: Option<Kind>) -> WhyReport {
    let attr = crate::projects::attribute(inv, &Config::default());
    let store = Store {
        inv,
        attr: &attr,
        relations: rel,
    };
    let found: Vec<Found> = find(&store, query, kind).best().into_iter().collect();
    assert_eq!(found.len(), 1, "{query}: {found:?}");
    explain(&store, query, &found[0])
}

/// Bytes of the layers of `removed` that no other image holds, counted
/// from the layer lists directly.
fn layers_only_in(inv: &Inventory, removed: &[&str]) -> u64 {
    let keep: BTreeSet<&String> = inv
        .images
        .iter()
        .filter(|i| !removed.contains(&i.id.as_str()))
        .flat_map(|i| &i.layers)
        .collect();
    let gone: BTreeSet<&String> = inv
        .images
        .iter()
        .filter(|i| removed.contains(&i.id.as_str()))
        .flat_map(|i| &i.layers)
        .filter(|l| !keep.contains(l))
        .collect();
    gone.iter().map(|l| inv.layers[*l].bytes).sum()
}

#[test]
fn an_image_is_kept_by_its_containers_and_the_images_built_on_it() {
    let inv = store();
    let r = explain_one(&inv, &Relations::default(), "localhost/base:1", None);
    let held: Vec<(&str, Relation)> = r
        .holders
        .iter()
        .map(|h| (h.name.as_str(), h.relation))
        .collect();
    assert_eq!(
        held,
        [
            ("idle", Relation::Container),
            ("localhost/app1:1", Relation::ChildImage),
            ("localhost/app2:latest", Relation::ChildImage)
        ]
    );
    // Alone: only its metadata and its container (the apps keep the layer).
    assert_eq!(r.frees_bytes, Some(1000 + 10));
    let everything = layers_only_in(&inv, &["bbb111", "aaa111", "aaa222"]) + 6000 + 510;
    assert_eq!(r.frees_with_holders_bytes, Some(everything));
    // app1 as a holder: its own layer, metadata and its container.
    let app1 = &r.holders[1];
    assert_eq!(
        app1.frees_bytes,
        Some(layers_only_in(&inv, &["aaa111"]) + 2000 + 500)
    );
    assert_eq!(app1.containers, Some(1));
}

#[test]
fn a_layer_is_kept_by_every_image_holding_it() {
    let inv = store();
    let r = explain_one(&inv, &Relations::default(), "base", Some(Kind::Layer));
    assert_eq!(r.target.bytes, Some(3_400_000));
    assert_eq!(r.holders.len(), 3);
    assert_eq!(r.frees_bytes, None);
    let all = layers_only_in(&inv, &["bbb111", "aaa111", "aaa222"]) + 6000 + 510;
    assert_eq!(r.frees_with_holders_bytes, Some(all));
}

#[test]
fn intermediates_go_with_the_last_image_built_on_them() {
    let mut inv = store();
    inv.layers.insert(
        "s1".into(),
        Layer {
            key: "s1".into(),
            bytes: 400,
        },
    );
    // base -> step1 (LABEL: same chain) -> step2 (+s1) -> app3, app4 (+s1 only).
    let mut step1 = image("5e1", &[], &["base"], 50, &inv);
    let mut step2 = image("5e2", &[], &["base", "s1"], 60, &inv);
    step1.intermediate = true;
    step2.intermediate = true;
    let app3 = image("aaa333", &["localhost/app3:1"], &["base", "s1"], 70, &inv);
    let app4 = image("aaa444", &["localhost/app4:1"], &["base", "s1"], 80, &inv);
    inv.images.extend([step1, step2, app3, app4]);
    let rel = Relations {
        image_parents: Some(
            [
                ("5e1", "bbb111"),
                ("5e2", "5e1"),
                ("aaa333", "5e2"),
                ("aaa444", "5e2"),
                ("aaa111", "bbb111"),
                ("aaa222", "bbb111"),
            ]
            .iter()
            .map(|(c, p)| (c.to_string(), p.to_string()))
            .collect(),
        ),
        ..Default::default()
    };
    // app4 keeps the steps and s1: removing app3 frees its metadata only.
    let r = explain_one(&inv, &rel, "app3:1", None);
    assert_eq!(r.frees_bytes, Some(70));
    // Both apps gone: the steps go too, and s1 with them.
    let attr = crate::projects::attribute(&inv, &Config::default());
    let store = Store {
        inv: &inv,
        attr: &attr,
        relations: &rel,
    };
    let both = frees(&store, &[5, 6].into(), &BTreeSet::new());
    assert_eq!(both.bytes, 400 + 50 + 60 + 70 + 80);
    // The base's children by recorded parents, step1 included.
    let r = explain_one(&inv, &rel, "base:1", None);
    let kids: BTreeSet<&str> = r
        .holders
        .iter()
        .filter(|h| h.relation == Relation::ChildImage)
        .map(|h| h.id.as_str())
        .collect();
    assert_eq!(
        kids,
        ["5e1", "5e2", "aaa111", "aaa222", "aaa333", "aaa444"].into()
    );
}

#[test]
fn a_volume_is_kept_by_the_containers_mounting_it() {
    let inv = store();
    let rel = relations(&[("web", &["ccc222"])]);
    let r = explain_one(&inv, &rel, "web", Some(Kind::Volume));
    assert_eq!(r.holders.len(), 1);
    assert_eq!(r.holders[0].name, "web");
    assert_eq!(r.holders[0].frees_bytes, Some(500));
    assert_eq!(r.frees_bytes, Some(7000));
    assert_eq!(r.frees_with_holders_bytes, Some(7500));
    // The container keeps its image and the volume; nothing keeps it.
    let c = explain_one(&inv, &rel, "web", Some(Kind::Container));
    assert!(c.holders.is_empty());
    let kept: Vec<Relation> = c.related.iter().map(|h| h.relation).collect();
    assert_eq!(kept, [Relation::CreatedFrom, Relation::MountedVolume]);
    assert_eq!(c.frees_bytes, Some(500));
}

#[test]
fn a_container_in_a_pod_is_kept_by_its_pod() {
    let mut inv = store();
    inv.pods.push(crate::engine::Pod {
        id: "pod1".into(),
        name: "shop".into(),
        labels: Default::default(),
    });
    inv.containers[1].pod = Some("pod1".into());
    let r = explain_one(&inv, &Relations::default(), "ccc222", None);
    assert_eq!(r.holders.len(), 1);
    let pod = &r.holders[0];
    assert_eq!((pod.relation, pod.name.as_str()), (Relation::Pod, "shop"));
    assert_eq!(pod.containers, Some(1));
    // Attribution puts a pod's containers in the pod's project.
    assert_eq!(pod.project.as_deref(), Some("shop"));
    assert_eq!(r.target.row.as_deref(), Some("shop"));
}

#[test]
fn unmeasured_containers_make_a_lower_bound() {
    let mut inv = store();
    inv.containers[1].rw_bytes = None;
    let r = explain_one(&inv, &Relations::default(), "app1:1", None);
    assert!(r.lower_bound);
    assert_eq!(r.frees_bytes, Some(2_000_000 + 2000));
}

#[test]
fn names_ids_and_prefixes() {
    let inv = store();
    let attr = crate::projects::attribute(&inv, &Config::default());
    let rel = Relations::default();
    let store = Store {
        inv: &inv,
        attr: &attr,
        relations: &rel,
    };
    let best = |q: &str| find(&store, q, None).best();
    // A container and a volume of one name: ambiguous.
    assert_eq!(best("web"), [Found::Volume(0), Found::Container(1)].into());
    // `app2` means `:latest`; a tag must match.
    assert_eq!(best("app2"), [Found::Image(2)].into());
    assert_eq!(best("app1"), BTreeSet::new());
    assert_eq!(best("app1:1"), [Found::Image(1)].into());
    // Prefixes of at least MIN_PREFIX hex digits; several match: all.
    assert_eq!(best("aaa"), [Found::Image(1), Found::Image(2)].into());
    assert_eq!(best("aa"), BTreeSet::new());
    assert_eq!(best("sha256:aaa2"), [Found::Image(2)].into());
    // An exact id beats another object's prefix.
    assert_eq!(best("ccc111"), [Found::Container(0)].into());
}

/// Random stores without intermediates: removing an image frees exactly
/// what `account` calls its unique bytes, plus its containers.
fn arb_inventory() -> impl Strategy<Value = Inventory> {
    let tree = prop::collection::vec((any::<prop::sample::Index>(), 0u64..1_000_000), 1..12);
    let imgs = prop::collection::vec((any::<prop::sample::Index>(), 0u64..5000, 0u8..3), 1..8);
    (tree, imgs).prop_map(|(tree, imgs)| {
        let mut parent: Vec<Option<usize>> = Vec::new();
        let mut inv = Inventory::default();
        for (i, (p, bytes)) in tree.iter().enumerate() {
            parent.push((i > 0).then(|| p.index(i)));
            let key = format!("l{i}");
            inv.layers.insert(key.clone(), Layer { key, bytes: *bytes });
        }
        for (n, (top, meta, containers)) in imgs.into_iter().enumerate() {
            let mut chain = Vec::new();
            let mut cur = Some(top.index(tree.len()));
            while let Some(c) = cur {
                chain.push(format!("l{c}"));
                cur = parent[c];
            }
            chain.reverse();
            let chain: Vec<&str> = chain.iter().map(String::as_str).collect();
            let name = format!("localhost/i{n}:1");
            let img = image(&format!("{n:06x}"), &[&name], &chain, meta, &inv);
            inv.images.push(img);
            for k in 0..containers {
                let id = format!("c{n}{k}");
                inv.containers.push(container(
                    &id,
                    &id,
                    &format!("{n:06x}"),
                    Some(u64::from(k) * 7),
                ));
            }
        }
        inv
    })
}

proptest! {
    #[test]
    fn removing_an_image_frees_its_unique_bytes(inv in arb_inventory()) {
        let attr = crate::projects::attribute(&inv, &Config::default());
        let rel = Relations::default();
        let store = Store { inv: &inv, attr: &attr, relations: &rel };
        let usage = crate::account::images(&inv);
        for (i, img) in inv.images.iter().enumerate() {
            let own = containers_of(&inv, &img.id);
            let rw: u64 = own.iter().map(|&c| inv.containers[c].rw_bytes.unwrap()).sum();
            let f = frees(&store, &[i].into(), &own);
            prop_assert_eq!(f.bytes, usage.images[i].unique_bytes + rw);
            // Removing the image and everything that keeps it leaves no
            // layer of it on disk.
            let r = explain(&store, &img.id, &Found::Image(i));
            let family: Vec<&str> = descendants(&store, i)
                .into_iter()
                .chain([i])
                .map(|j| inv.images[j].id.as_str())
                .collect();
            let meta: u64 = family.iter().map(|id| inv.images.iter().find(|x| x.id == *id).unwrap().metadata_bytes).sum();
            let rw_all: u64 = inv.containers.iter().filter(|c| family.contains(&c.image_id.as_str())).map(|c| c.rw_bytes.unwrap()).sum();
            prop_assert_eq!(r.frees_with_holders_bytes, Some(layers_only_in(&inv, &family) + meta + rw_all));
        }
    }
}
