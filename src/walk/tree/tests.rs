use super::*;

fn chain(depth: usize) -> Arc<Node> {
    let mut node = Arc::new(Node {
        parent: None,
        name: c"/r".into(),
        dev: 1,
        ino: 0,
    });
    for i in 1..depth {
        node = Arc::new(Node {
            parent: Some(node),
            name: c"d".into(),
            dev: 1,
            ino: i as u64,
        });
    }
    node
}

#[test]
fn dropping_a_very_deep_chain_does_not_overflow_the_stack() {
    let node = chain(1_000_000);
    assert!(node.is_or_has_ancestor(1, 0));
    drop(node);
}

#[test]
fn an_entry_gone_before_its_stat_is_an_error_naming_it() {
    // What a file removed between getdents and fstatat looks like: the
    // name is listed, the inode is gone.
    let tmp = tempfile::tempdir().unwrap();
    let root = CString::new(tmp.path().as_os_str().as_bytes()).unwrap();
    let st = sys::lstat_at(libc::AT_FDCWD, &root).unwrap();
    let opts = WalkOptions::default();
    let walk = Walk::new(1, &opts);
    let fd = sys::open_dir_at(libc::AT_FDCWD, &root, true).unwrap();
    let raw = fd.as_raw_fd();
    let dir = Arc::new(DirRef {
        fd: Some(fd),
        node: Arc::new(Node {
            parent: None,
            name: root.into_boxed_c_str(),
            dev: st.dev,
            ino: st.ino,
        }),
        lingering: &walk.lingering,
    });
    let (mut tally, mut links) = (Tally::default(), Vec::new());
    rayon::scope(|s| {
        walk.entry(s, 0, st.dev, &dir, raw, c"vanished", &mut tally, &mut links);
    });
    drop(dir);
    let usage = walk.finish().pop().unwrap();
    assert_eq!(usage.errors.len(), 1);
    assert_eq!(usage.errors[0].path, tmp.path().join("vanished"));
    assert!(
        usage.errors[0]
            .message
            .starts_with("cannot stat: No such file"),
        "{:?}",
        usage.errors
    );
    assert_eq!((tally.files, tally.dirs), (0, 0));
}

#[test]
fn node_path_and_ancestors() {
    let node = chain(3);
    assert_eq!(node.path(), PathBuf::from("/r/d/d"));
    assert!(node.is_or_has_ancestor(1, 2));
    assert!(!node.is_or_has_ancestor(2, 0));
    assert!(!node.is_or_has_ancestor(1, 3));
}
