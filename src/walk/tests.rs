//! Unit tests of the walk's rules; byte-for-byte comparisons with GNU `du`
//! on generated trees are in `tests/it/du.rs`.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

fn opts() -> WalkOptions {
    WalkOptions::default()
}

fn write(path: &Path, len: usize) {
    fs::write(path, vec![b'x'; len]).unwrap();
}

/// `du`'s figures for a tree built here: every directory and file is
/// counted by `st_size` (apparent), so they can be computed from metadata.
fn expected(root: &Path) -> (u64, u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut bytes, mut files, mut dirs) = (0, 0, 0);
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        bytes += md.size();
        if md.is_dir() {
            dirs += 1;
            for e in fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else {
            files += 1;
        }
    }
    (bytes, files, dirs)
}

#[test]
fn counts_a_small_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    fs::create_dir_all(r.join("a/b/c")).unwrap();
    write(&r.join("a/one"), 1);
    write(&r.join("a/b/big"), 100_000);
    write(&r.join("a/b/c/empty"), 0);
    symlink("one", r.join("a/link")).unwrap();
    let u = measure_one(r, &opts());
    assert_eq!((u.apparent_bytes, u.files, u.dirs), expected(r));
    assert_eq!((u.files, u.dirs), (4, 4));
    assert!(u.disk_bytes >= 100_000, "{u:?}");
    assert!(!u.incomplete());
}

#[test]
fn missing_root_is_an_error_with_zeros() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let u = measure_one(&missing, &opts());
    assert_eq!(
        (u.apparent_bytes, u.disk_bytes, u.files, u.dirs),
        (0, 0, 0, 0)
    );
    assert_eq!(u.errors.len(), 1);
    assert_eq!(u.errors[0].path, missing);
    assert!(
        u.errors[0].message.contains("No such file"),
        "{:?}",
        u.errors
    );
}

#[test]
fn symlink_root_is_the_link_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let link = tmp.path().join("root-link");
    symlink("/", &link).unwrap();
    let u = measure_one(&link, &opts());
    assert_eq!((u.apparent_bytes, u.files, u.dirs), (1, 1, 0));
    assert!(!u.incomplete());
}

#[test]
fn file_root_counts_as_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("f");
    write(&f, 1234);
    let u = measure_one(&f, &opts());
    assert_eq!((u.apparent_bytes, u.files, u.dirs), (1234, 1, 0));
}

#[test]
fn hard_links_count_once_in_the_first_root() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    write(&a.join("f"), 5000);
    fs::hard_link(a.join("f"), a.join("f2")).unwrap();
    fs::hard_link(a.join("f"), b.join("g")).unwrap();
    let dir = fs::symlink_metadata(&a).unwrap().len();

    let [ua, ub]: [Usage; 2] = measure(&[a.clone(), b.clone()], &opts())
        .try_into()
        .unwrap();
    assert_eq!((ua.apparent_bytes, ua.files), (dir + 5000, 1));
    assert_eq!((ub.apparent_bytes, ub.files), (dir, 0));

    // The other order gives the file to `b`, whatever the thread timing.
    for _ in 0..20 {
        let [ub, ua]: [Usage; 2] = measure(&[b.clone(), a.clone()], &opts())
            .try_into()
            .unwrap();
        assert_eq!((ub.apparent_bytes, ub.files), (dir + 5000, 1));
        assert_eq!((ua.apparent_bytes, ua.files), (dir, 0));
    }
}

#[test]
fn overlapping_roots_count_once_like_du() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let sub = a.join("sub");
    fs::create_dir_all(&sub).unwrap();
    write(&a.join("top"), 10);
    write(&sub.join("inner"), 7000);
    let (whole, _, _) = expected(&a);
    let (part, _, _) = expected(&sub);

    let u = measure(&[a.clone(), sub.clone(), a.clone()], &opts());
    assert_eq!(u[0].apparent_bytes, whole);
    assert_eq!(u[1], Usage::default(), "inside the first root");
    assert_eq!(u[2], Usage::default(), "same as the first root");

    let u = measure(&[sub.clone(), a.clone()], &opts());
    assert_eq!(u[0].apparent_bytes, part);
    assert_eq!(u[1].apparent_bytes, whole - part, "earlier root left out");
}

#[test]
fn a_bad_root_does_not_stop_the_others() {
    // Unreadable directories need an unprivileged user: see tests/it/du.rs.
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("file");
    write(&f, 3);
    let u = measure(&[f.join("below"), tmp.path().to_path_buf()], &opts());
    assert!(u[0].incomplete());
    assert_eq!(u[0].errors[0].path, f.join("below"));
    assert!(!u[1].incomplete());
    assert_eq!(u[1].files, 1);
}

#[test]
fn deep_nesting_is_fine() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = tmp.path().to_path_buf();
    for _ in 0..1000 {
        p.push("d");
    }
    fs::create_dir_all(&p).unwrap();
    write(&p.join("leaf"), 42);
    let u = measure_one(tmp.path(), &opts());
    assert_eq!(u.dirs, 1001);
    assert_eq!(u.files, 1);
    assert!(!u.incomplete(), "{:?}", u.errors);
}

#[test]
fn children_are_measured_separately() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    fs::create_dir_all(r.join("b/x")).unwrap();
    write(&r.join("a"), 10);
    write(&r.join("b/x/f"), 20);
    fs::hard_link(r.join("a"), r.join("b/x/a")).unwrap();
    let rows = measure_children(r, &opts()).unwrap();
    let names: Vec<_> = rows.iter().map(|(n, _)| n.to_str().unwrap()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!((rows[0].1.apparent_bytes, rows[0].1.files), (10, 1));
    let (b_bytes, _, _) = expected(&r.join("b"));
    assert_eq!(
        rows[1].1.apparent_bytes,
        b_bytes - 10,
        "link counted in `a`"
    );
    assert!(measure_children(&r.join("missing"), &opts()).is_err());
}

/// Apparent sizes of sparse files can add up past `u64::MAX` (tmpfs and XFS
/// allow 2^63 - 1 byte files): the sum saturates instead of wrapping around
/// (which printed three 8 EiB files as 4 kB) or panicking.
#[test]
fn sparse_sizes_past_u64_saturate() {
    // tmpfs: ext4's 16 TiB file limit cannot reach 2^64 with three files.
    let tmp = tempfile::Builder::new()
        .tempdir_in("/dev/shm")
        .expect("this test needs a tmpfs at /dev/shm");
    for name in ["a", "b", "c"] {
        let f = fs::File::create(tmp.path().join(name)).unwrap();
        f.set_len(i64::MAX as u64).unwrap();
    }
    let u = measure_one(tmp.path(), &opts());
    assert_eq!(u.apparent_bytes, u64::MAX);
    assert_eq!(u.file_bytes, u64::MAX);
    assert_eq!(u.files, 3);
}

#[test]
fn a_fence_is_neither_walked_nor_counted_but_keeps_later_roots_out() {
    let t = tempfile::tempdir().unwrap();
    let top = t.path().join("top");
    let fenced = top.join("fenced");
    fs::create_dir_all(fenced.join("deep")).unwrap();
    write(&fenced.join("deep/big"), 5000);
    let file = top.join("counted-elsewhere");
    write(&file, 700);
    write(&top.join("mine"), 30);
    let roots = vec![fenced.clone(), file.clone(), top.clone()];
    let u = measure_around(&roots, &[true, true, false], &opts());
    assert_eq!(u[0], Usage::default());
    assert_eq!(u[1], Usage::default());
    let (all, _, _) = expected(&top);
    let (inside, _, _) = expected(&fenced);
    assert_eq!(u[2].apparent_bytes, all - inside - 700);
    assert_eq!(u[2].files, 1);
    assert!(u[2].errors.is_empty());
}
