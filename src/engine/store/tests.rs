use super::*;

fn loc(root: &Path, driver: &str) -> StoreLocation {
    StoreLocation::new(root.to_path_buf(), driver)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn follows_chains_reads_volatile_files_and_flags_unsized_layers() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(
        &r.join("overlay-layers/layers.json"),
        r#"[{"id":"a","diff-size":10},{"id":"b","parent":"a","diff-size":-1},{"id":"c","parent":"b"}]"#,
    );
    write(
        &r.join("overlay-layers/volatile-layers.json"),
        r#"[{"id":"v","parent":"b"}]"#,
    );
    write(
        &r.join("overlay-images/images.json"),
        r#"[{"id":"img","layer":"b","big-data-sizes":{"manifest":7}}]"#,
    );
    write(
        &r.join("overlay-containers/containers.json"),
        r#"[{"id":"c1","layer":"c","image":"img","names":["one"]}]"#,
    );
    write(
        &r.join("overlay-containers/volatile-containers.json"),
        r#"[{"id":"c2","layer":"v","image":"img"}]"#,
    );
    let snap = read(&loc(r, "overlay")).unwrap();
    assert_eq!(snap.images["img"].layers, vec!["a", "b"]);
    assert_eq!(snap.images["img"].metadata_bytes, 7);
    assert_eq!(snap.layer_bytes.get("a"), Some(&10));
    // -1 is a size to compute, never 0.
    assert_eq!(snap.layer_bytes.get("b"), None);
    assert_eq!(snap.unsized_layers.len(), 1);
    assert_eq!(snap.unsized_layers[0].dir, r.join("overlay/b/diff"));
    assert_eq!(snap.containers["c1"].dir, r.join("overlay/c/diff"));
    assert_eq!(snap.containers["c1"].name, "one");
    assert_eq!(snap.containers["c2"].dir, r.join("overlay/v/diff"));
}

#[test]
fn vfs_layers_are_directories_to_walk() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(
        &r.join("vfs-layers/layers.json"),
        r#"[{"id":"a","diff-size":10}]"#,
    );
    write(
        &r.join("vfs-images/images.json"),
        r#"[{"id":"i","layer":"a"}]"#,
    );
    let snap = read(&loc(r, "vfs")).unwrap();
    assert_eq!(snap.layer_dirs["a"], r.join("vfs/dir/a"));
    assert!(snap.layer_bytes.is_empty());
}

#[test]
fn a_fifo_in_place_of_a_record_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overlay-layers/layers.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let err = read(&loc(dir.path(), "overlay")).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn a_writers_fcntl_lock_is_waited_for_then_reported() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("overlay-layers/layers.lock");
    write(&lock, "");
    // A writer in another process (fcntl locks are per process).
    let holder = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import fcntl,time,sys\nf=open('{}','r+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(3)",
            lock.display()
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut holder = holder;
    let mut buf = [0u8; 7];
    holder.stdout.take().unwrap().read_exact(&mut buf).unwrap();
    let err = ReadLocks::take(std::slice::from_ref(&lock), Duration::from_millis(200)).err();
    let _ = holder.kill();
    let _ = holder.wait();
    let err = err.expect("the writer's lock excludes readers");
    assert!(err.to_string().contains("still locked"), "{err}");
}

#[test]
fn a_missing_parent_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(
        &r.join("overlay-layers/layers.json"),
        r#"[{"id":"b","parent":"a","diff-size":5}]"#,
    );
    write(
        &r.join("overlay-images/images.json"),
        r#"[{"id":"i","layer":"b"}]"#,
    );
    let err = read(&loc(r, "overlay")).unwrap_err().to_string();
    assert!(err.contains("layers.json"), "{err}");
    assert!(err.contains("missing a"), "{err}");
}

#[test]
fn a_parent_loop_terminates_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(
        &r.join("overlay-layers/layers.json"),
        r#"[{"id":"a","parent":"b"},{"id":"b","parent":"a"}]"#,
    );
    write(
        &r.join("overlay-images/images.json"),
        r#"[{"id":"i","layer":"a"}]"#,
    );
    assert!(read(&loc(r, "overlay")).is_err());
}
