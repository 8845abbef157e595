use super::*;

#[test]
fn asides_match_their_own_cache_only() {
    let p = aside_prefix(OsStr::new("images"));
    assert!(is_aside_of(&p, b".pruning-images.0123456789abcdef"));
    assert!(!is_aside_of(&p, b".pruning-images.old.0123456789abcdef"));
    assert!(!is_aside_of(&p, b".pruning-images.0123"));
    assert!(!is_aside_of(&p, b".pruning-imagesX0123456789abcdef"));
    assert_eq!(random_suffix().len(), SUFFIX_LEN);
    assert!(is_aside_of(
        &p,
        format!(".pruning-images.{}", random_suffix()).as_bytes()
    ));
}

#[test]
fn parses_ages() {
    assert_eq!(parse_age("30m"), Ok(Duration::from_secs(1800)));
    assert_eq!(parse_age("12h"), Ok(Duration::from_secs(43_200)));
    assert_eq!(parse_age("7d"), Ok(Duration::from_secs(604_800)));
    assert_eq!(parse_age("1d12h"), Ok(Duration::from_secs(129_600)));
    assert_eq!(parse_age("2w"), Ok(Duration::from_secs(1_209_600)));
    for bad in ["", "7", "d", "7x", "-1d", "1.5h", "99999999999999999999d"] {
        assert!(parse_age(bad).is_err(), "{bad:?} accepted");
    }
}

fn entry(name: &str, size: u64, age_secs: u64, now: SystemTime) -> Entry {
    let t = now - Duration::from_secs(age_secs);
    Entry {
        name: name.into(),
        kind: EntryKind::File,
        size,
        dev: 1,
        ino: 0,
        nlink: 1,
        atime: t,
        mtime: t,
        mode: 0o100644,
        uid: 0,
        gid: 0,
    }
}

#[test]
fn sparse_blobs_past_u64_are_evicted_by_their_true_sum() {
    // Three sparse 8 EiB blobs: their sum does not fit in u64.
    let now = SystemTime::now();
    let huge = i64::MAX as u64;
    let es = vec![
        entry("new", huge, 60, now),
        entry("old", huge, 3600, now),
        entry("older", huge, 7200, now),
    ];
    let evicted: Vec<&str> = select_evictions(&es, None, Some(1 << 63), now)
        .iter()
        .map(|e| e.name.to_str().unwrap())
        .collect();
    assert_eq!(evicted, ["older", "old"]);
}

#[test]
fn evicts_old_then_least_recently_used_until_under_budget() {
    let now = SystemTime::now();
    let es = vec![
        entry("new", 10, 60, now),
        entry("old", 10, 10 * 86_400, now),
        entry("mid", 10, 3600, now),
        entry("older", 10, 3 * 86_400, now),
    ];
    let names = |v: Vec<&Entry>| -> Vec<String> {
        v.iter()
            .map(|e| e.name.to_string_lossy().into_owned())
            .collect()
    };
    let day = Some(Duration::from_secs(86_400));
    assert_eq!(
        names(select_evictions(&es, day, None, now)),
        ["old", "older"]
    );
    assert_eq!(
        names(select_evictions(&es, None, Some(25), now)),
        ["old", "older"]
    );
    assert_eq!(
        names(select_evictions(&es, None, Some(9), now)),
        ["old", "older", "mid", "new"]
    );
    assert_eq!(
        names(select_evictions(&es, None, Some(40), now)),
        Vec::<String>::new()
    );
    assert_eq!(
        names(select_evictions(&es, day, Some(15), now)),
        ["old", "older", "mid"]
    );
}
