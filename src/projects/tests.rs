use super::*;
use crate::engine::{Container, ContainerState, Image, Layer, Volume};
use proptest::prelude::*;
use std::path::Path;

fn cfg(text: &str) -> Config {
    Config::parse(text, Path::new("/test/config.toml")).unwrap()
}

fn img(id: &str, names: &[&str], layers: &[&str], labels: &[(&str, &str)]) -> Image {
    Image {
        id: id.into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        layers: layers.iter().map(|s| s.to_string()).collect(),
        metadata_bytes: 1,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn ctr(image_id: &str, labels: &[(&str, &str)]) -> Container {
    Container {
        id: format!("c-{image_id}"),
        name: "c".into(),
        image: image_id.into(),
        image_id: image_id.into(),
        state: ContainerState::Running,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        rw_bytes: Some(5),
        ..Default::default()
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
            name: "gone_data".into(),
            mountpoint: "/v".into(),
            labels: [("com.docker.compose.project".to_string(), "gone".to_string())].into(),
            in_use: false,
            bytes: Some(7),
            ..Default::default()
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
        name: "web-data".into(),
        mountpoint: "/w".into(),
        labels: [(UNIT_LABEL.to_string(), "web.service".to_string())].into(),
        in_use: true,
        bytes: Some(3),
        ..Default::default()
    });
    let attr = attribute(&inv, &Config::default());
    assert_eq!(attr.containers[2].as_deref(), Some("web"));
    assert_eq!(attr.containers[3].as_deref(), Some("worker-2"));
    assert_eq!(attr.containers[4].as_deref(), Some("alpha"));
    assert!(attr.projects.contains("web"));
    assert_eq!(attr.layers["w"], RowId::Project("web".into()));
    assert_eq!(attr.volumes[1], RowId::Project("web".into()));

    // The TOML config still wins over the unit.
    let config =
        cfg("[[projects]]\nid = \"site\"\nlabels = { PODMAN_SYSTEMD_UNIT = \"Web.service\" }\n");
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
                name: format!("v{n}"),
                mountpoint: String::new(),
                labels,
                in_use,
                bytes: Some(bytes),
                ..Default::default()
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
