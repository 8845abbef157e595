use super::*;

#[test]
fn node_reads_index_and_manifest_fields() {
    let n: Node = serde_json::from_str(
        r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"x","digest":"sha256:aa","size":1},
            "layers":[{"digest":"sha256:bb","size":2,"urls":["u"]}],
            "annotations":{"k":"v"}}"#,
    )
    .unwrap();
    assert_eq!(n.config.unwrap().digest, "sha256:aa");
    assert_eq!(n.layers.len(), 1);
    let n: Node = serde_json::from_str(r#"{"fsLayers":[{"blobSum":"sha256:cc"}]}"#).unwrap();
    assert_eq!(n.fs_layers[0].blob_sum, "sha256:cc");
}

#[test]
fn bad_digest_fails_the_walk_naming_the_layout() {
    let node: Node =
        serde_json::from_str(r#"{"manifests":[{"digest":"sha256:../../etc/passwd"}]}"#).unwrap();
    let err = children(&node, Path::new("/lay/out"), INDEX_FILE)
        .err()
        .unwrap();
    assert!(
        err.starts_with("/lay/out: index.json: invalid digest"),
        "{err}"
    );
}

#[test]
fn referrers_name_every_path_from_the_index_with_its_tags() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let hex = |c: char| c.to_string().repeat(64);
    let (layer, config, manifest, nested, orphan) =
        (hex('1'), hex('2'), hex('3'), hex('4'), hex('5'));
    let put = |name: &str, text: String| std::fs::write(blobs.join(name), text).unwrap();
    put(&layer, "layer".into());
    put(&config, "{}".into());
    put(&orphan, "nobody".into());
    put(
        &manifest,
        format!(
            r#"{{"config":{{"digest":"sha256:{config}"}},"layers":[{{"digest":"sha256:{layer}"}}]}}"#
        ),
    );
    put(
        &nested,
        format!(r#"{{"manifests":[{{"digest":"sha256:{manifest}"}}]}}"#),
    );
    std::fs::write(
        dir.path().join(LAYOUT_FILE),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join(INDEX_FILE),
        format!(
            r#"{{"manifests":[{{"digest":"sha256:{nested}","annotations":{{"{REF_NAME}":"v1"}}}},{{"digest":"sha256:{manifest}"}}]}}"#
        ),
    )
    .unwrap();
    let d = |h: &str| format!("sha256:{h}").parse::<Digest>().unwrap();
    let refs = referrers(dir.path(), &d(&layer)).unwrap();
    assert_eq!(
        refs,
        [
            Referrer {
                tags: vec![],
                chain: vec![d(&manifest)]
            },
            Referrer {
                tags: vec!["v1".into()],
                chain: vec![d(&nested), d(&manifest)]
            },
        ]
    );
    // index.json names the nested index itself: an empty chain.
    let top = referrers(dir.path(), &d(&nested)).unwrap();
    assert_eq!(
        top,
        [Referrer {
            tags: vec!["v1".into()],
            chain: vec![]
        }]
    );
    assert!(referrers(dir.path(), &d(&orphan)).unwrap().is_empty());
}
