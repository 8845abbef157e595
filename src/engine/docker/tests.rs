use super::*;
use std::time::Duration;

// Real output of docker CLI 28.2.2 against dockerd 20.10.24 (Debian 12's
// docker.io): a base from `docker import`, two `DOCKER_BUILDKIT=0 docker
// build`s FROM it with a LABEL and a COPY each (the LABEL step leaves an
// intermediate image).
const IMAGES: &str = r#"{"Containers":"N/A","CreatedAt":"2026-11-24 04:33:05 +0000 UTC","CreatedSince":"1 second ago","Digest":"\u003cnone\u003e","ID":"sha256:234f1ce2aeaca364b0785197cfffd4544db076108edd99304748b236af90fa8f","Repository":"local/app2","SharedSize":"N/A","Size":"8.38MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"8.382MB"}
{"Containers":"N/A","CreatedAt":"2026-11-24 04:33:05 +0000 UTC","CreatedSince":"1 second ago","Digest":"\u003cnone\u003e","ID":"sha256:a0ed2f3e2517abaca41a2ef40bf72c25cd5e4842851db9fe0f0f3de564fd4a7b","Repository":"\u003cnone\u003e","SharedSize":"N/A","Size":"5.38MB","Tag":"\u003cnone\u003e","UniqueSize":"N/A","VirtualSize":"5.382MB"}
{"Containers":"N/A","CreatedAt":"2026-11-24 04:33:05 +0000 UTC","CreatedSince":"1 second ago","Digest":"\u003cnone\u003e","ID":"sha256:2e9df7bb614b9a840509cbdb35195c5cbf5948b1b2dff6e3574e72c9c82b2c4c","Repository":"local/app1","SharedSize":"N/A","Size":"7.38MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"7.382MB"}
{"Containers":"N/A","CreatedAt":"2026-11-24 04:33:04 +0000 UTC","CreatedSince":"2 seconds ago","Digest":"\u003cnone\u003e","ID":"sha256:e52ee721ca76a317a9d5426fddeeea51b51b267b873619339a737dfe58c09448","Repository":"local/base","SharedSize":"N/A","Size":"5.38MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"5.382MB"}
"#;

// `docker image inspect` of the above (app2's intermediate left out;
// fields that play no part cut).
const IMAGE_INSPECT: &str = r#"[{"Id": "sha256:e52ee721ca76a317a9d5426fddeeea51b51b267b873619339a737dfe58c09448", "RepoTags": ["local/base:1"], "RepoDigests": [], "Parent": "", "Size": 5382263, "VirtualSize": 5382263, "RootFS": {"Type": "layers", "Layers": ["sha256:846e538340cf051b2786654f58589a6422e86ac09586f44aecc0a16f83f94546"]}, "Config": {"Labels": null}},
 {"Id": "sha256:2e9df7bb614b9a840509cbdb35195c5cbf5948b1b2dff6e3574e72c9c82b2c4c", "RepoTags": ["local/app1:1"], "RepoDigests": [], "Parent": "sha256:a0ed2f3e2517abaca41a2ef40bf72c25cd5e4842851db9fe0f0f3de564fd4a7b", "Size": 7382263, "VirtualSize": 7382263, "RootFS": {"Type": "layers", "Layers": ["sha256:846e538340cf051b2786654f58589a6422e86ac09586f44aecc0a16f83f94546", "sha256:256199b4b42ca1dde8dd3995edcb57b53c0dce02c56ae9c5b43bbcb37802c4eb"]}, "Config": {"Labels": {"app": "1"}}},
 {"Id": "sha256:a0ed2f3e2517abaca41a2ef40bf72c25cd5e4842851db9fe0f0f3de564fd4a7b", "RepoTags": [], "RepoDigests": [], "Parent": "sha256:e52ee721ca76a317a9d5426fddeeea51b51b267b873619339a737dfe58c09448", "Size": 5382263, "VirtualSize": 5382263, "RootFS": {"Type": "layers", "Layers": ["sha256:846e538340cf051b2786654f58589a6422e86ac09586f44aecc0a16f83f94546"]}, "Config": {"Labels": {"app": "1"}}},
 {"Id": "sha256:234f1ce2aeaca364b0785197cfffd4544db076108edd99304748b236af90fa8f", "RepoTags": ["local/app2:1"], "Parent": "sha256:5a4262bf41960678eab10ab65c7d7bccf2e79b4085763683e34cdfc72f71b0f7", "Size": 8382263, "RootFS": {"Type": "layers", "Layers": ["sha256:846e538340cf051b2786654f58589a6422e86ac09586f44aecc0a16f83f94546", "sha256:f0248d120eadb51e1617c3d2a55decaa04ab3058d1be0143e5afe9bdc5f5a077"]}, "Config": {"Labels": {"app": "2"}}}]"#;

const PS: &str = r#"{"Command":"\"sh -c 'head -c 500000 /dev/urandom \u003e /written; head -c 1200000 /dev/urandom \u003e /data/blob'\"","CreatedAt":"2026-11-24 04:33:11 +0000 UTC","ID":"93d5860a43f94df4886d8e9f6f3718828cd8ebb7e7e52f32584e958efb23bf94","Image":"local/app1:1","Labels":"app=1,com.docker.compose.project=proj,weird=a,b=c","LocalVolumes":"1","Mounts":"data","Names":"written","Networks":"none","Platform":null,"Ports":"","RunningFor":"Less than a second ago","Size":"500kB (virtual 7.88MB)","State":"exited","Status":"Exited (0) Less than a second ago"}
"#;

// `docker container inspect --size written`, cut to the fields that matter.
const CONTAINER_INSPECT: &str = r#"[{"Id": "93d5860a43f94df4886d8e9f6f3718828cd8ebb7e7e52f32584e958efb23bf94", "Created": "2026-11-24T04:33:11.008390902Z", "Path": "sh", "Image": "sha256:2e9df7bb614b9a840509cbdb35195c5cbf5948b1b2dff6e3574e72c9c82b2c4c", "Name": "/written", "Driver": "overlay2", "SizeRw": 500000, "SizeRootFs": 7882263, "Mounts": [{"Type": "volume", "Name": "data", "Source": "/tmp/dexp/data/volumes/data/_data", "Destination": "/data", "Driver": "local", "Mode": "z", "RW": true, "Propagation": ""}], "State": {"Status": "exited", "Running": false, "ExitCode": 0}, "Config": {"Hostname": "93d5860a43f9", "Image": "local/app1:1", "Labels": {"app": "1", "com.docker.compose.project": "proj", "weird": "a,b=c"}}}]"#;

const VOLUMES: &str = r#"{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"owner=team","Links":"N/A","Mountpoint":"/tmp/dexp/data/volumes/data/_data","Name":"data","Scope":"local","Size":"N/A","Status":"N/A"}
{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"","Links":"N/A","Mountpoint":"/tmp/dexp/data/volumes/spare/_data","Name":"spare","Scope":"local","Size":"N/A","Status":"N/A"}
"#;

// `docker system df -v --format '{{json .}}'`: one object, no newline;
// Images and Containers cut.
const DF_V: &str = r#"{"Images":[],"Containers":[],"Volumes":[{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"owner=team","Links":"1","Mountpoint":"/tmp/dexp/data/volumes/data/_data","Name":"data","Scope":"local","Size":"1.2MB","Status":"N/A"},{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"","Links":"0","Mountpoint":"/tmp/dexp/data/volumes/spare/_data","Name":"spare","Scope":"local","Size":"0B","Status":"N/A"}],"BuildCache":[]}"#;

#[test]
fn image_lines_parse_and_none_is_no_name() {
    let lines: Vec<ImageLine> = parse_json_lines(IMAGES).unwrap();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0].name().as_deref(), Some("local/app2:1"));
    assert_eq!(lines[1].name(), None);
    assert_eq!(
        size::parse(&lines[0].size).unwrap(),
        Reading::Bytes(8_380_000)
    );
}

#[test]
fn inspected_images_give_exact_layers_and_flag_intermediates() {
    let lines: Vec<ImageLine> = parse_json_lines(IMAGES).unwrap();
    let details: Vec<ImageDetails> = parse_json(IMAGE_INSPECT).unwrap();
    // app2's intermediate was left out of the inspect: it counts whole.
    let lines: Vec<ImageLine> = lines
        .into_iter()
        .filter(|l| !l.id.contains("5a4262bf"))
        .collect();
    let r = resolve_images(&lines, Some(&details));
    assert!(!r.approximate);
    let by_name = |n: &str| r.images.iter().find(|i| i.names == [n]).unwrap();
    let base = by_name("local/base:1");
    let app1 = by_name("local/app1:1");
    let app2 = by_name("local/app2:1");
    assert_eq!(base.id.len(), 64, "sha256: prefix stripped");
    assert_eq!(r.layers[&base.layers[0]].bytes, 5_382_263);
    assert_eq!(r.layers[&app1.layers[1]].bytes, 2_000_000);
    assert_eq!(r.layers[&app2.layers[1]].bytes, 3_000_000);
    assert_eq!(app1.layers[0], base.layers[0]);
    assert_eq!(app1.labels["app"], "1");
    let inter = r.images.iter().find(|i| i.names.is_empty()).unwrap();
    assert!(inter.intermediate && !inter.dangling());
    let total: u64 = r.layers.values().map(|l| l.bytes).sum();
    assert_eq!(total, 10_382_263); // dockerd's own /system/df LayersSize
}

#[test]
fn without_inspect_images_count_whole_at_their_rounded_size() {
    let lines: Vec<ImageLine> = parse_json_lines(IMAGES).unwrap();
    let r = resolve_images(&lines, None);
    assert!(r.approximate);
    assert_eq!(r.images.len(), 4);
    let app1 = r
        .images
        .iter()
        .find(|i| i.names == ["local/app1:1"])
        .unwrap();
    assert_eq!(r.layers[&app1.layers[0]].bytes, 7_380_000);
}

#[test]
fn a_negative_size_rw_is_said_and_not_counted() {
    let text = CONTAINER_INSPECT.replacen("\"SizeRw\": ", "\"SizeRw\": -", 1);
    assert_ne!(text, CONTAINER_INSPECT);
    let d: Vec<ContainerDetails> = parse_json(&text).unwrap();
    let w = Warnings::new();
    let c = &containers_from_details(&d, &w)[0];
    assert_eq!(c.rw_bytes, None);
    let said = w.to_vec();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("container written: docker reports its writable layer as -"),
        "{said:?}"
    );
}

#[test]
fn container_inspect_gives_exact_labels_image_id_and_rw_bytes() {
    let d: Vec<ContainerDetails> = parse_json(CONTAINER_INSPECT).unwrap();
    let c = d[0].to_container();
    assert_eq!(c.name, "written");
    assert_eq!(c.image, "local/app1:1");
    assert_eq!(
        c.image_id,
        "2e9df7bb614b9a840509cbdb35195c5cbf5948b1b2dff6e3574e72c9c82b2c4c"
    );
    assert_eq!(c.state, ContainerState::Exited);
    assert_eq!(c.rw_bytes, Some(500_000));
    assert_eq!(c.labels["com.docker.compose.project"], "proj");
    assert_eq!(c.labels["weird"], "a,b=c");
}

#[test]
fn ps_fallback_resolves_the_image_and_splits_labels_at_commas() {
    let lines: Vec<ContainerLine> = parse_json_lines(PS).unwrap();
    let images: Vec<ImageLine> = parse_json_lines(IMAGES).unwrap();
    let c = lines[0].to_container(&image_names(&images));
    assert_eq!(c.name, "written");
    assert_eq!(
        c.image_id,
        "2e9df7bb614b9a840509cbdb35195c5cbf5948b1b2dff6e3574e72c9c82b2c4c"
    );
    assert_eq!(c.rw_bytes, None);
    assert_eq!(c.labels["com.docker.compose.project"], "proj");
    // The ambiguity the inspect avoids: `weird=a,b=c` reads as two labels.
    assert_eq!(c.labels["weird"], "a");
    assert_eq!(c.labels["b"], "c");
    // The `ps -s` size, for reference: rounded to three digits.
    let size: serde_json::Value = serde_json::from_str(PS.trim()).unwrap();
    let a = size::parse_annotated(size["Size"].as_str().unwrap()).unwrap();
    assert_eq!(a.size, Reading::Bytes(500_000));
    assert_eq!(a.virtual_size, Some(Reading::Bytes(7_880_000)));
}

#[test]
fn label_list_keeps_comma_pieces_without_equals_in_the_value() {
    let l = parse_label_list("a=1,b=x,y,c=");
    assert_eq!(l["a"], "1");
    assert_eq!(l["b"], "x,y");
    assert_eq!(l["c"], "");
    assert!(parse_label_list("").is_empty());
}

#[test]
fn volumes_take_sizes_from_df_and_labels_from_inspect() {
    let lines: Vec<VolumeLine> = parse_json_lines(VOLUMES).unwrap();
    let details: Vec<VolumeDetails> = parse_json(
        r#"[{"CreatedAt": "2026-11-24T04:33:11Z", "Driver": "local", "Labels": {"owner": "team"}, "Mountpoint": "/tmp/dexp/data/volumes/data/_data", "Name": "data", "Options": null, "Scope": "local"},
            {"CreatedAt": "2026-11-24T04:33:10Z", "Driver": "local", "Labels": null, "Mountpoint": "/tmp/dexp/data/volumes/spare/_data", "Name": "spare", "Options": null, "Scope": "local"}]"#,
    )
    .unwrap();
    let sizes = parse_df_volume_sizes(DF_V).unwrap();
    let w = Warnings::new();
    let v = to_volumes(
        lines,
        details,
        Some(&["spare".to_string()]),
        Some(&sizes),
        &w,
    );
    assert!(w.is_empty(), "{:?}", w.to_vec());
    assert_eq!(v[0].name, "data");
    assert_eq!(v[0].bytes, Some(1_200_000));
    assert!(v[0].approximate && v[0].in_use);
    assert_eq!(v[0].labels["owner"], "team");
    assert_eq!(v[0].mountpoint, "/tmp/dexp/data/volumes/data/_data");
    assert_eq!(v[1].bytes, Some(0));
    assert!(!v[1].in_use);
    assert_eq!(
        v[0].created.map(|t| t.rfc3339()).as_deref(),
        Some("2026-11-24T04:33:11Z")
    );
}

#[test]
fn creation_times_from_docker_lines_and_inspects() {
    // Go's String() form in `--format '{{json .}}'` lines, RFC 3339
    // with nanoseconds in inspects: the same second.
    let lines: Vec<ImageLine> = parse_json_lines(IMAGES).unwrap();
    let r = resolve_images(&lines, None);
    let app2 = r
        .images
        .iter()
        .find(|i| i.names == ["local/app2:1"])
        .unwrap();
    assert_eq!(
        app2.created.map(|t| t.rfc3339()).as_deref(),
        Some("2026-11-24T04:33:05Z")
    );
    let d: Vec<ContainerDetails> = parse_json(CONTAINER_INSPECT).unwrap();
    let from_inspect = d[0].to_container().created;
    let ps: Vec<ContainerLine> = parse_json_lines(PS).unwrap();
    let from_ps = ps[0].to_container(&BTreeMap::new()).created;
    assert_eq!(
        from_inspect.map(|t| t.rfc3339()).as_deref(),
        Some("2026-11-24T04:33:11Z")
    );
    assert_eq!(from_inspect, from_ps);
}

#[test]
fn df_volume_sizes_from_podmans_docker_api() {
    // Against `podman system service` 4.3.1: no mountpoint, no driver.
    let text = r#"{"Images":[],"Containers":[],"Volumes":[{"Availability":"N/A","Driver":"","Group":"N/A","Labels":"","Links":"0","Mountpoint":"","Name":"vol1","Scope":"local","Size":"0B","Status":"N/A"}],"BuildCache":[]}"#;
    let sizes = parse_df_volume_sizes(text).unwrap();
    assert_eq!(sizes["vol1"], Reading::Bytes(0));
    let bad = r#"{"Volumes":[{"Name":"v","Size":"lots"}]}"#;
    assert!(parse_df_volume_sizes(bad).unwrap_err().contains("volume v"));
}

#[test]
fn daemon_errors_name_the_socket() {
    let (at, why) = daemon_unreachable(
        "Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?",
    )
    .unwrap();
    assert_eq!(at.as_deref(), Some("unix:///nonexistent.sock"));
    assert!(why.contains("nothing answers"));
    let (at, _) = daemon_unreachable(
        "Cannot connect to the Docker daemon at tcp://127.0.0.1:1. Is the docker daemon running?",
    )
    .unwrap();
    assert_eq!(at.as_deref(), Some("tcp://127.0.0.1:1"));
    let (at, why) = daemon_unreachable(r#"permission denied while trying to connect to the Docker daemon socket at unix:///tmp/dexp/d.sock: Get "http://%2Ftmp%2Fdexp%2Fd.sock/v1.50/containers/json": dial unix /tmp/dexp/d.sock: connect: permission denied"#).unwrap();
    assert_eq!(at.as_deref(), Some("unix:///tmp/dexp/d.sock"));
    assert!(why.contains("permission denied"));
    let (at, why) = daemon_unreachable(r#"error during connect: Get "http://256.1.1.1:2375/v1.50/containers/json": dial tcp: lookup 256.1.1.1: no such host"#).unwrap();
    assert_eq!(at, None);
    assert!(why.contains("no such host"));
    assert!(daemon_unreachable("Error: No such image: abc").is_none());
}

/// A stand-in `docker` that prints `stdout` and `stderr` and exits with `code`.
fn fake_docker(dir: &std::path::Path, stdout: &str, stderr: &str, code: i32) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("docker");
    std::fs::write(
        &path,
        format!("#!/bin/sh\nprintf '%s' '{stdout}'\nprintf '%s\\n' '{stderr}' >&2\nexit {code}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn runner() -> Runner {
    Runner::live(Duration::from_secs(10))
}

#[test]
fn a_plugin_runs_config_is_docker_global_flag() {
    let docker = Docker::new(runner(), "docker", Some("unix:///x.sock"), None)
        .with_config(Some(std::path::Path::new("/home/u/.docker")));
    assert_eq!(
        docker.cli.argv(&["ps"]),
        [
            "docker",
            "--config",
            "/home/u/.docker",
            "-H",
            "unix:///x.sock",
            "ps"
        ]
    );
}

#[test]
fn unparseable_output_is_an_error_naming_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_docker(dir.path(), "REPOSITORY TAG IMAGE ID", "", 0);
    let docker = Docker::new(runner(), &bin, Some("unix:///x.sock"), None);
    let err = docker.images().unwrap_err().to_string();
    assert!(
        err.contains("-H unix:///x.sock images -a --no-trunc --format '{{json .}}'`"),
        "{err}"
    );
    assert!(err.contains("not what docker prints"), "{err}");
    let w = Warnings::new();
    let c = docker.collect(
        Needs {
            images: true,
            ..Needs::default()
        },
        &w,
    );
    assert!(c.failed.images);
    assert!(
        w.to_vec()
            .iter()
            .any(|l| l.contains("images -a --no-trunc")),
        "{:?}",
        w.to_vec()
    );
}

#[test]
fn unreachable_daemon_is_one_warning_naming_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_docker(
        dir.path(),
        "",
        "Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?",
        1,
    );
    let docker = Docker::new(runner(), &bin, None, None);
    let w = Warnings::new();
    let c = docker.collect(Needs::all(), &w);
    assert!(!c.reachable);
    assert!(c.failed.images && c.failed.containers && c.failed.volumes);
    let lines = w.to_vec();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("the docker daemon at unix:///nonexistent.sock is unreachable"),
        "{}",
        lines[0]
    );
}

#[test]
fn missing_docker_says_how_to_install_it_once() {
    let docker = Docker::new(runner(), "no-such-docker-xyz", None, None);
    let w = Warnings::new();
    let c = docker.collect(Needs::all(), &w);
    assert!(!c.reachable);
    let lines = w.to_vec();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with(
        "could not find `no-such-docker-xyz` on PATH; is docker installed? (Debian/Ubuntu: apt-get install -y docker.io"
    ));
}
