use super::*;

const DF_V: &str = "Images space usage:

REPOSITORY      TAG         IMAGE ID      CREATED     SIZE        SHARED SIZE  UNIQUE SIZE  CONTAINERS
localhost/base  1           4f8069fe8a58  53 seconds  5.398MB     5.398MB      0B           1

Containers space usage:

CONTAINER ID  IMAGE         COMMAND            LOCAL VOLUMES  SIZE        CREATED     STATUS      NAMES
7bbdf5ed348d  4f8069fe8a58  /bin/busybox true  0              0B          51 seconds  created     c3

Local Volumes space usage:

VOLUME NAME  LINKS       SIZE
vol1         1           1MB
vol2         0           0B
";

#[test]
fn parses_volume_rows_of_df_verbose() {
    let df = parse_df_verbose(DF_V).unwrap();
    assert_eq!(df.volumes.len(), 2);
    assert_eq!(
        df.volumes["vol1"],
        DfVolume {
            links: 1,
            size: size::Reading::Bytes(1_000_000)
        }
    );
    assert_eq!(df.volumes["vol2"].links, 0);
}

#[test]
fn garbage_df_output_is_an_error() {
    assert!(parse_df_verbose("hello\n").is_err());
    let bad = "Local Volumes space usage:\n\nVOLUME NAME  LINKS  SIZE\nvol1  x  1MB\n";
    assert!(parse_df_verbose(bad).unwrap_err().contains("LINKS"));
}

#[test]
fn images_json_tolerates_nulls() {
    let text = r#"[{"Id":"a","ParentId":"","RepoTags":null,"Names":null,"Size":5,"Labels":null,"Containers":0}]"#;
    let imgs: Vec<ImageEntry> = parse_json(text).unwrap();
    assert!(imgs[0].names.is_empty());
    assert!(imgs[0].labels.is_empty());
}

#[test]
fn ps_size_counts_the_log_from_podman_4_6() {
    assert!(!rw_size_counts_userdata("4.3.1"));
    assert!(!rw_size_counts_userdata("4.5.1"));
    assert!(rw_size_counts_userdata("4.6.0"));
    assert!(rw_size_counts_userdata("5.4.2"));
    assert!(rw_size_counts_userdata("6.0.0-dev"));
}

#[test]
fn container_inspect_gives_log_driver_path_and_userdata() {
    let text = r#"[{"Id":"a","StaticDir":"/s/a/userdata","HostConfig":{"LogConfig":{"Type":"k8s-file","Config":null,"Path":"/s/a/userdata/ctr.log","Tag":"","Size":"0B"}}},
                   {"Id":"b","StaticDir":"/s/b/userdata","HostConfig":{"LogConfig":{"Type":"journald","Path":""}}}]"#;
    let c: Vec<ContainerInspectEntry> = parse_json(text).unwrap();
    assert_eq!(c[0].host_config.log_config.driver, "k8s-file");
    assert_eq!(c[0].host_config.log_config.path, "/s/a/userdata/ctr.log");
    assert_eq!(c[1].static_dir, "/s/b/userdata");
    assert_eq!(c[1].host_config.log_config.driver, "journald");
}

#[test]
fn truncated_json_is_an_error_not_a_panic() {
    assert!(parse_json::<Vec<ImageEntry>>("[{\"Id\": \"a\", \"Si").is_err());
    assert!(parse_json::<Vec<ImageEntry>>("").is_err());
    assert!(parse_json::<Vec<ImageEntry>>("{\"unexpected\": true}").is_err());
}
