use super::*;

fn env(euid: u32, vars: &[(&str, &str)]) -> Env {
    Env {
        euid,
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        user: Some(("alice".into(), "/home/alice".into())),
    }
}

#[test]
fn rootless_storage_path_expands_home_uid_and_user() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("storage.conf");
    fs::write(
        &conf,
        "[storage]\ndriver = \"vfs\"\ngraphroot = \"/system\"\nrootless_storage_path = \"$HOME/s/$UID/$USER\"\n",
    )
    .unwrap();
    let e = env(
        1000,
        &[
            ("CONTAINERS_STORAGE_CONF", conf.to_str().unwrap()),
            ("HOME", "/h"),
            ("CONTAINERS_CONF", "/nonexistent"),
        ],
    );
    let r = resolve(&e).unwrap();
    // The system graphroot is never a rootless user's.
    assert_eq!(r.store.graphroot, PathBuf::from("/h/s/1000/alice"));
    assert_eq!(r.store.driver, "vfs");
    assert!(r.store.driver_configured);
}

#[test]
fn a_rootless_users_own_conf_graphroot_is_used() {
    let home = tempfile::tempdir().unwrap();
    let own = home.path().join(".config/containers/storage.conf");
    fs::create_dir_all(own.parent().unwrap()).unwrap();
    fs::write(&own, "[storage]\ngraphroot = \"/elsewhere\"\n").unwrap();
    let e = env(
        1000,
        &[
            ("HOME", home.path().to_str().unwrap()),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
            ("CONTAINERS_CONF", "/nonexistent"),
        ],
    );
    let r = resolve(&e).unwrap();
    assert_eq!(r.store.graphroot, PathBuf::from("/elsewhere"));
    assert_eq!(r.store.conf.as_deref(), Some(own.as_path()));
    assert_eq!(r.store.runroot, PathBuf::from("/run/user/1000/containers"));
}

#[test]
fn rootless_default_is_under_xdg_data_home() {
    let e = env(
        1000,
        &[
            ("CONTAINERS_STORAGE_CONF", "/nonexistent/storage.conf"),
            ("XDG_DATA_HOME", "/data"),
            ("CONTAINERS_CONF", "/nonexistent"),
        ],
    );
    let r = resolve(&e).unwrap();
    assert_eq!(r.store.graphroot, PathBuf::from("/data/containers/storage"));
    assert_eq!(
        r.database,
        Database::Bolt("/data/containers/storage/libpod/bolt_state.db".into())
    );
}

#[test]
fn the_driver_on_disk_is_used_when_none_is_configured() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("vfs-layers")).unwrap();
    let conf = root.path().join("storage.conf");
    fs::write(
        &conf,
        format!("[storage]\ngraphroot = \"{}\"\n", root.path().display()),
    )
    .unwrap();
    let e = env(
        0,
        &[
            ("CONTAINERS_STORAGE_CONF", conf.to_str().unwrap()),
            ("CONTAINERS_CONF", "/nonexistent"),
        ],
    );
    let r = resolve(&e).unwrap();
    assert_eq!(r.store.driver, "vfs");
    assert!(!r.store.driver_configured);
    fs::create_dir(root.path().join("overlay-layers")).unwrap();
    let err = resolve(&e).unwrap_err();
    assert!(err.contains("overlay, vfs"), "{err}");
}

#[test]
fn with_both_databases_the_choice_is_left_to_podmans_version() {
    let root = tempfile::tempdir().unwrap();
    let conf = root.path().join("storage.conf");
    fs::write(
        &conf,
        format!("[storage]\ngraphroot = \"{}\"\n", root.path().display()),
    )
    .unwrap();
    let e = env(
        0,
        &[
            ("CONTAINERS_STORAGE_CONF", conf.to_str().unwrap()),
            ("CONTAINERS_CONF", "/nonexistent"),
        ],
    );
    fs::write(root.path().join("db.sql"), "").unwrap();
    assert_eq!(
        resolve(&e).unwrap().database,
        Database::Sqlite(root.path().join("db.sql"))
    );
    assert_eq!(resolve(&e).unwrap().bolt_before_5_8_1, None);
    fs::create_dir(root.path().join("libpod")).unwrap();
    fs::write(root.path().join("libpod/bolt_state.db"), "").unwrap();
    let both = resolve(&e).unwrap();
    assert_eq!(both.database, Database::Sqlite(root.path().join("db.sql")));
    assert_eq!(
        both.bolt_before_5_8_1,
        Some(Database::Bolt(root.path().join("libpod/bolt_state.db")))
    );
    fs::remove_file(root.path().join("db.sql")).unwrap();
    assert_eq!(
        resolve(&e).unwrap().database,
        Database::Bolt(root.path().join("libpod/bolt_state.db"))
    );
    fs::write(root.path().join("db.sql"), "").unwrap();
    let cc = root.path().join("containers.conf");
    fs::write(&cc, "[engine]\ndatabase_backend = \"sqlite\"\n").unwrap();
    let mut e = e;
    e.vars
        .insert("CONTAINERS_CONF".into(), cc.display().to_string());
    let chosen = resolve(&e).unwrap();
    assert_eq!(
        chosen.database,
        Database::Sqlite(root.path().join("db.sql"))
    );
    assert_eq!(chosen.bolt_before_5_8_1, None);
}

#[test]
fn podman_5_8_1_and_later_read_sqlite_first() {
    for (v, first) in [
        ("4.3.1", false),
        ("5.4.2", false),
        ("5.8.0", false),
        ("5.8.1", true),
        ("5.8.2-dev", true),
        ("6.0.0-rc1", true),
        ("5.9", true),
    ] {
        assert_eq!(reads_sqlite_first(v), Ok(first), "{v}");
    }
    assert!(reads_sqlite_first("dev").unwrap_err().contains("\"dev\""));
}

#[test]
fn a_broken_storage_conf_is_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("storage.conf");
    fs::write(&conf, "[storage\ndriver = 1\n").unwrap();
    let e = env(0, &[("CONTAINERS_STORAGE_CONF", conf.to_str().unwrap())]);
    let err = resolve(&e).unwrap_err();
    assert!(err.contains(conf.to_str().unwrap()), "{err}");
    assert!(!err.contains('\n'), "{err}");
}
