use super::workspaces::fixed_prefix;
use super::*;
use proptest::prelude::*;

const ORIGIN: &str = "/etc/podman-storage/config.toml";

fn env() -> Env {
    Env {
        home: Some(PathBuf::from("/home/u")),
        xdg_config_home: None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse_in(text, Path::new(ORIGIN), &env())
}

/// Asserts the error is at `line` and its message contains `needle`.
#[track_caller]
fn error_at(text: &str, line: usize, needle: &str) {
    let err = parse(text).expect_err("config should be rejected");
    let shown = err.to_string();
    assert!(!shown.contains('\n'), "not one line: {shown}");
    assert!(
        shown.starts_with(&format!("{ORIGIN}:{line}: ")),
        "wrong file or line: {shown}"
    );
    assert!(!needle.is_empty(), "an empty needle asserts nothing");
    assert!(shown.contains(needle), "{shown:?} lacks {needle:?}");
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const EXAMPLE: &str = r#"
[[projects]]
id = "webapp"
images = ["^localhost/webapp(-|$)"]                  # regex on repository names
labels = { "com.docker.compose.project" = "webapp" } # all must match
workspaces = ["/srv/webapp/tasks/*"]                 # globs; each match is one task/workspace
volumes = ["webapp-data"]                            # volume names

[[projects]]
id = "ml_2"
images = ["^localhost/ml_2_", "^quay.io/me/trainer$"]
workspaces = ["~/ml/runs/*", "$HOME/ml/scratch"]

[shared]
mounts = ["/srv/shared-cache"]
[global]
images = ["^docker.io/library/"]
[caches]
paths = ["~/.cache/ko", "${HOME}/oci"]
"#;

#[test]
fn parses_the_documented_example() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(c.origin.as_deref(), Some(Path::new(ORIGIN)));
    let ids: Vec<_> = c.projects.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["webapp", "ml_2"]);
    let web = c.project("webapp").unwrap();
    assert!(web.matches_image("localhost/webapp"));
    assert!(web.matches_image("localhost/webapp-worker"));
    assert!(!web.matches_image("localhost/webapplication"));
    assert!(!web.matches_image("docker.io/localhost/webapp"));
    assert_eq!(web.workspaces, ["/srv/webapp/tasks/*"]);
    assert!(web.claims_volume("webapp-data"));
    assert!(!web.claims_volume("webapp"));
    let ml = c.project("ml_2").unwrap();
    assert_eq!(ml.workspaces, ["/home/u/ml/runs/*", "/home/u/ml/scratch"]);
    assert!(ml.matches_image("quay.io/me/trainer"));
    assert!(!ml.matches_image("quay.io/me/trainer2"));
    assert_eq!(c.shared.mounts, [PathBuf::from("/srv/shared-cache")]);
    assert!(c.global.matches_image("docker.io/library/alpine"));
    assert!(!c.global.matches_image("localhost/webapp"));
    assert_eq!(
        c.caches.paths,
        [
            PathBuf::from("/home/u/.cache/ko"),
            PathBuf::from("/home/u/oci")
        ]
    );
    assert!(c.project("nope").is_none());
}

#[test]
fn budgets_are_sizes_and_a_bad_one_names_its_line() {
    let c =
        parse("[[projects]]\nid = \"web\"\nbudget = \"20GB\"\n[global]\nbudget = \"1.5 TiB\"\n")
            .unwrap();
    assert_eq!(c.project("web").unwrap().budget, Some(20_000_000_000));
    assert_eq!(c.global.budget, Some(1_649_267_441_664));
    error_at(
        "[[projects]]\nid = \"web\"\nbudget = \"lots\"\n",
        3,
        "project \"web\": budget:",
    );
}

#[test]
fn empty_text_is_an_empty_config() {
    let c = parse("# nothing yet\n").unwrap();
    assert!(c.projects.is_empty() && c.shared.mounts.is_empty());
    assert!(c.global.images.is_empty() && c.caches.paths.is_empty());
}

#[test]
fn label_selector_needs_every_pair() {
    let c = parse(
        "[[projects]]\nid = \"a\"\nlabels = { p = \"a\", tier = \"web\" }\n\
         [[projects]]\nid = \"nolabels\"\n",
    )
    .unwrap();
    let a = c.project("a").unwrap();
    assert!(a.matches_labels(&labels(&[("p", "a"), ("tier", "web"), ("x", "y")])));
    assert!(!a.matches_labels(&labels(&[("p", "a")])));
    assert!(!a.matches_labels(&labels(&[("p", "a"), ("tier", "db")])));
    assert!(!a.matches_labels(&labels(&[])));
    // No selector claims nothing, rather than everything.
    let none = c.project("nolabels").unwrap();
    assert!(!none.matches_labels(&labels(&[])));
    assert!(!none.matches_labels(&labels(&[("p", "a")])));
}

#[test]
fn bad_toml_names_file_line_and_expectation() {
    error_at(
        "[global]\nimages = [\"a\"\n",
        2,
        "unclosed array, expected `]`",
    );
    error_at("\n\n[global\n", 3, "expected `]`");
    error_at("[shared]\nmounts = /x\n", 2, "string values must be quoted");
    error_at("a = 1\nb = 2\na = 3\n", 3, "duplicate key");
}

#[test]
fn unknown_keys_are_errors() {
    error_at(
        "[[projects]]\nid = \"web\"\nimagez = []\n",
        3,
        "unknown field `imagez`",
    );
    error_at(
        "[global]\nimages = []\n\n[cache]\n",
        4,
        "unknown field `cache`",
    );
    error_at("[shared]\nmount = []\n", 2, "unknown field `mount`");
}

#[test]
fn wrong_types_are_errors() {
    error_at("[shared]\nmounts = \"/a\"\n", 2, "expected a sequence");
    error_at(
        "[[projects]]\nid = \"a\"\nlabels = { b = 1 }\n",
        3,
        "expected a string",
    );
    error_at("\n[[projects]]\nimages = []\n", 2, "missing field `id`");
}

#[test]
fn project_ids_are_validated() {
    for bad in [
        "../x",
        "(orphans)",
        "Web",
        "",
        "-a",
        "_a",
        "a b",
        "a/b",
        "é",
    ] {
        let text = format!("[[projects]]\nid = \"a\"\n\n[[projects]]\nid = {bad:?}\n");
        error_at(&text, 5, "project id");
    }
    for good in ["a", "0", "web-app_2", "9lives"] {
        assert!(
            parse(&format!("[[projects]]\nid = {good:?}\n")).is_ok(),
            "{good}"
        );
    }
}

#[test]
fn duplicate_ids_are_rejected_at_the_second() {
    error_at(
        "[[projects]]\nid = \"web\"\n\n[[projects]]\nid = \"db\"\n\n[[projects]]\nid = \"web\"\n",
        8,
        "duplicate project id \"web\" (first defined on line 2)",
    );
}

#[test]
fn bad_regexes_name_project_and_pattern() {
    error_at(
        "[[projects]]\nid = \"web\"\nimages = [\"^ok\",\n  \"(\"]\n",
        4,
        "project \"web\": image pattern \"(\" is not a valid regex: unclosed group",
    );
    error_at(
        "[global]\nimages = [\"[z-a]\"]\n",
        2,
        "global: image pattern \"[z-a]\" is not a valid regex",
    );
    error_at(
        "[[projects]]\nid = \"web\"\nimages = [\"\"]\n",
        3,
        "empty image pattern",
    );
}

#[test]
fn paths_and_globs_are_validated() {
    error_at(
        "[[projects]]\nid = \"a\"\nworkspaces = [\"/x/**a\"]\n",
        3,
        "project \"a\": workspace glob \"/x/**a\" is invalid",
    );
    error_at(
        "[caches]\npaths = [\"/ok\", \"$XDG_CACHE_HOME/ko\"]\n",
        2,
        "$XDG_CACHE_HOME is not expanded",
    );
    error_at("[shared]\nmounts = [\"data\"]\n", 2, "must be absolute");
    error_at(
        "[shared]\nmounts = [\"~bob/x\"]\n",
        2,
        "`~user` is not supported",
    );
    error_at(
        "[[projects]]\nid = \"a\"\nvolumes = [\"\"]\n",
        3,
        "empty volume name",
    );
    error_at(
        "[[projects]]\nid = \"a\"\nlabels = { \"\" = \"x\" }\n",
        3,
        "empty label name",
    );
}

#[test]
fn a_volume_belongs_to_one_project() {
    error_at(
        "[[projects]]\nid = \"a\"\nvolumes = [\"v\"]\n[[projects]]\nid = \"b\"\nvolumes = [\"w\", \"v\"]\n",
        6,
        "volume \"v\" is claimed by both project \"a\" and \"b\"",
    );
    error_at(
        "[[projects]]\nid = \"a\"\nvolumes = [\"v\",\n\"v\"]\n",
        4,
        "project \"a\": volume \"v\" is listed twice",
    );
}

#[test]
fn home_expansion() {
    let c = parse(
        "[caches]\npaths = [\"~\", \"~/a\", \"$HOME\", \"$HOME/b\", \"${HOME}/c\", \"/d/~/e\"]\n",
    )
    .unwrap();
    let want: Vec<PathBuf> = [
        "/home/u",
        "/home/u/a",
        "/home/u",
        "/home/u/b",
        "/home/u/c",
        "/d/~/e",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(c.caches.paths, want);
    // `$HOMEDIR` is not `$HOME`.
    assert!(parse("[caches]\npaths = [\"$HOMEDIR/x\"]\n").is_err());
    // Without HOME, `~` cannot be expanded: say so rather than guess.
    let no_home = Env::default();
    let err = Config::parse_in(
        "\n[caches]\npaths = [\"~/x\"]\n",
        Path::new(ORIGIN),
        &no_home,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(&format!("{ORIGIN}:3: ")) && err.contains("$HOME"),
        "{err}"
    );
}

#[test]
fn glob_special_characters_in_home_are_escaped() {
    let weird = Env {
        home: Some(PathBuf::from("/home/a[1]")),
        xdg_config_home: None,
    };
    let c = Config::parse_in(
        "[[projects]]\nid = \"a\"\nworkspaces = [\"~/t/*\"]\n",
        Path::new(ORIGIN),
        &weird,
    )
    .unwrap();
    assert_eq!(c.projects[0].workspaces, ["/home/a[[]1[]]/t/*"]);
}

#[test]
fn default_path_prefers_absolute_xdg_config_home() {
    let both = Env {
        home: Some("/home/u".into()),
        xdg_config_home: Some("/xdg".into()),
    };
    assert_eq!(
        default_path(&both),
        Some(PathBuf::from("/xdg/podman-storage/config.toml"))
    );
    let relative_xdg = Env {
        home: Some("/home/u".into()),
        xdg_config_home: Some("rel".into()),
    };
    assert_eq!(
        default_path(&relative_xdg),
        Some(PathBuf::from("/home/u/.config/podman-storage/config.toml"))
    );
    let home_only = Env {
        home: Some("/home/u".into()),
        xdg_config_home: None,
    };
    assert_eq!(
        default_path(&home_only),
        Some(PathBuf::from("/home/u/.config/podman-storage/config.toml"))
    );
    let xdg_only = Env {
        home: None,
        xdg_config_home: Some("/xdg".into()),
    };
    assert_eq!(
        default_path(&xdg_only),
        Some(PathBuf::from("/xdg/podman-storage/config.toml"))
    );
    assert_eq!(default_path(&Env::default()), None);
}

#[test]
fn load_resolves_defaults_and_explicit_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let env = Env {
        home: Some(tmp.path().join("home")),
        xdg_config_home: Some(xdg.clone()),
    };
    // No file at the default location: the empty config.
    let c = Config::load_in(None, &env).unwrap();
    assert!(c.origin.is_none() && c.projects.is_empty());

    let file = xdg.join("podman-storage/config.toml");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, "[[projects]]\nid = \"fromxdg\"\n").unwrap();
    let c = Config::load_in(None, &env).unwrap();
    assert_eq!(c.origin.as_deref(), Some(file.as_path()));
    assert_eq!(c.projects[0].id, "fromxdg");

    // An explicit path wins, and must exist.
    let explicit = tmp.path().join("other.toml");
    fs::write(&explicit, "[[projects]]\nid = \"explicit\"\n").unwrap();
    let c = Config::load_in(Some(&explicit), &env).unwrap();
    assert_eq!(c.projects[0].id, "explicit");
    let missing = tmp.path().join("missing.toml");
    let err = Config::load_in(Some(&missing), &env).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.toml"), "{err}");

    // A default file that exists but is broken is an error, not ignored.
    fs::write(&file, "[[projects]]\nid = \"Bad\"\n").unwrap();
    let err = Config::load_in(None, &env).unwrap_err().to_string();
    assert_eq!(
        err.split(": ").next().unwrap(),
        format!("{}:2", file.display())
    );
    // A default path that is a directory cannot be read: also an error.
    fs::remove_file(&file).unwrap();
    fs::create_dir(&file).unwrap();
    assert!(matches!(
        Config::load_in(None, &env),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn expands_workspaces_to_sorted_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for d in [
        "tasks/t2",
        "tasks/t1",
        "tasks/t10",
        "tasks/.hidden",
        "other/o1",
    ] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::write(root.join("tasks/notes.txt"), "x").unwrap();
    std::os::unix::fs::symlink(root.join("other/o1"), root.join("tasks/link")).unwrap();
    let r = root.display();
    let text = format!(
        "[[projects]]\nid = \"a\"\nworkspaces = [\"{r}/tasks/*\", \"{r}/tasks/t1\", \
         \"{r}/missing/*\", \"{r}/tasks/notes.txt/*\", \"{r}/nothing-here\"]\n"
    );
    let c = parse(&text).unwrap();
    let w = c.projects[0].expand_workspaces();
    let got: Vec<_> = w
        .dirs
        .iter()
        .map(|m| m.path.strip_prefix(root).unwrap().to_str().unwrap())
        .collect();
    assert_eq!(got, ["tasks/t1", "tasks/t10", "tasks/t2"]);
    // t1 is matched by two globs and kept once, under the first.
    assert!(w.dirs.iter().all(|m| m.glob == format!("{r}/tasks/*")));
    assert_eq!(
        w.missing_roots,
        [
            root.join("missing"),
            root.join("nothing-here"),
            root.join("tasks/notes.txt"),
        ]
    );
    assert!(w.warnings.is_empty(), "{:?}", w.warnings);
}

#[test]
fn dot_directories_are_skipped_unless_named() {
    let tmp = tempfile::tempdir().unwrap();
    for d in ["a/ws", ".hidden/ws", "a/.git", "b/.cache/ws"] {
        fs::create_dir_all(tmp.path().join(d)).unwrap();
    }
    let t = tmp.path().display();
    let got = |globs: &[String]| -> Vec<PathBuf> {
        expand_workspaces(globs)
            .dirs
            .into_iter()
            .map(|m| m.path.strip_prefix(tmp.path()).unwrap().to_path_buf())
            .collect()
    };
    assert_eq!(got(&[format!("{t}/*")]), [PathBuf::from("a"), "b".into()]);
    assert_eq!(got(&[format!("{t}/**/ws")]), [PathBuf::from("a/ws")]);
    assert_eq!(
        got(&[format!("{t}/*/.cache/*")]),
        [PathBuf::from("b/.cache/ws")]
    );
}

/// glob 0.3 panicked listing a directory holding a name that is not
/// UTF-8 (the overview crashed on such a workspace root).
#[test]
fn names_that_are_not_utf8_do_not_panic() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join(std::ffi::OsStr::from_bytes(b"\xff\xfe"))).unwrap();
    fs::create_dir(tmp.path().join("ok")).unwrap();
    fs::create_dir(tmp.path().join(".dot")).unwrap();
    let w = expand_workspaces(&[format!("{}/*", tmp.path().display())]);
    let got: Vec<_> = w.dirs.iter().map(|m| m.path.clone()).collect();
    // glob itself never matches a name that is not UTF-8.
    assert_eq!(got, [tmp.path().join("ok")]);
}

#[test]
fn an_existing_root_with_no_match_is_not_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let w = expand_workspaces(&[format!("{}/*", tmp.path().display())]);
    assert_eq!(w, Workspaces::default());
}

#[test]
fn recursive_globs_match_nested_directories() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("a/b/ws")).unwrap();
    fs::create_dir_all(tmp.path().join("c/ws")).unwrap();
    let w = expand_workspaces(&[format!("{}/**/ws", tmp.path().display())]);
    let got: Vec<_> = w.dirs.iter().map(|m| m.path.clone()).collect();
    assert_eq!(got, [tmp.path().join("a/b/ws"), tmp.path().join("c/ws")]);
}

#[test]
fn fixed_prefix_stops_at_the_first_wildcard() {
    assert_eq!(
        fixed_prefix("/srv/a/tasks/*"),
        PathBuf::from("/srv/a/tasks")
    );
    assert_eq!(fixed_prefix("/srv/a/t?/x"), PathBuf::from("/srv/a"));
    assert_eq!(fixed_prefix("/srv/[ab]/x"), PathBuf::from("/srv"));
    assert_eq!(fixed_prefix("/srv/a"), PathBuf::from("/srv/a"));
    assert_eq!(fixed_prefix("/*"), PathBuf::from("/"));
}

proptest! {
    #[test]
    fn parse_never_panics(text in ".*") {
        let _ = parse(&text);
    }

    #[test]
    fn parse_never_panics_on_config_like_text(
        text in r#"(\[\[projects\]\]|\[shared\]|\[global\]|\[caches\]|id = "[a-zA-Z(./]{0,4}"|images = \["[\^(a-z\[\]*]{0,5}"\]|workspaces = \["[~$/a-z*\[]{0,8}"\]|volumes = \["[a-z]{0,2}"\]|mounts = \["[~$/a-z{}]{0,6}"\]|labels = \{ [a-z]{0,2} = "x" \}|\n){0,12}"#
    ) {
        match parse(&text) {
            Ok(_) => {}
            Err(e) => {
                let shown = e.to_string();
                prop_assert!(!shown.contains('\n'), "{}", shown);
                prop_assert!(shown.starts_with(ORIGIN));
            }
        }
    }
}
