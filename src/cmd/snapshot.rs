//! `snapshot`: the overview, df, images, volumes and caches, measured by
//! the views themselves (so whatever they report is kept), into one file of
//! the history.

use std::path::PathBuf;

use anyhow::{anyhow, Context as _, Result};
use podman_storage::caches::prune::parse_age;
use podman_storage::history::{self, SNAPSHOT_KIND};
use podman_storage::report::{prometheus, to_json, SCHEMA};
use podman_storage::Status;
use serde_json::{Map, Value};

use super::{caches, engine_views, overview, print_warnings, Ctx};
use crate::cli::{CachesArgs, HistoryArgs, SnapshotArgs, SortArgs};
use podman_storage::select::Selection;

/// A view measured into the snapshot, under its section name.
type View = fn(&Ctx) -> Result<Status>;

fn caches_default(ctx: &Ctx) -> Result<Status> {
    caches::run(
        &CachesArgs {
            paths: Vec::new(),
            sort: SortArgs {
                sort: None,
                top: None,
            },
        },
        ctx,
    )
}

/// Measures everything a snapshot keeps. The overview is essential (a
/// snapshot without it has nothing to compare); another view that fails is
/// a warning and a `null` section.
pub fn measure(ctx: &Ctx) -> Result<(Value, Status)> {
    let sub = ctx.capturing();
    let taken_at = history::now_ms();
    let mut doc = Map::new();
    doc.insert("kind".into(), SNAPSHOT_KIND.into());
    doc.insert("schema".into(), SCHEMA.into());
    doc.insert("taken_at".into(), history::format_utc(taken_at).into());
    doc.insert("taken_at_ms".into(), taken_at.into());
    let views: [(&str, View); 5] = [
        ("overview", overview::overview),
        ("df", engine_views::df),
        ("images", |c| engine_views::images(c, &Selection::default())),
        ("volumes", |c| {
            engine_views::volumes(c, &Selection::default())
        }),
        ("caches", caches_default),
    ];
    let mut status = Status::Complete;
    for (name, view) in views {
        match view(&sub) {
            Ok(s) => {
                if s != Status::Complete {
                    status = Status::Partial;
                }
                let section = sub.take_captured().pop().unwrap_or(Value::Null);
                // The caches view's list is what growth compares by path.
                let section = match name {
                    "caches" => section.get("caches").cloned().unwrap_or(Value::Null),
                    _ => section,
                };
                doc.insert(name.into(), section);
            }
            Err(e) if name == "overview" => return Err(e),
            Err(e) => {
                print_warnings(&[format!("snapshot: {name}: {e:#}")]);
                status = Status::Partial;
                doc.insert(name.into(), Value::Null);
            }
        }
    }
    Ok((Value::Object(doc), status))
}

/// `--history`, else the default for this user.
pub fn history_dir(args: &HistoryArgs) -> Result<PathBuf> {
    if let Some(d) = &args.history {
        return Ok(d.clone());
    }
    let var = |n| {
        std::env::var_os(n)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    history::default_dir(
        unsafe { libc::geteuid() } == 0,
        var("HOME").as_deref(),
        var("XDG_STATE_HOME").as_deref(),
    )
    .ok_or_else(|| anyhow!("no history directory: give --history DIR or set $HOME"))
}

pub fn run(args: &SnapshotArgs, ctx: &Ctx) -> Result<Status> {
    let keep = parse_age(&args.keep).context("--keep")?;
    let dir = history_dir(&args.history)?;
    let (doc, mut status) = measure(ctx)?;
    let text = to_json(&doc);
    let taken_at = doc["taken_at_ms"].as_i64().unwrap_or_else(history::now_ms);
    // The history failing (unreadable, full) is one line: the metrics and
    // the budgets below are still done.
    let mut problems = Vec::new();
    let summary = match history::write(&dir, taken_at, text.as_bytes()) {
        Ok(path) => {
            let pruned = match history::list(&dir) {
                Ok(listing) => {
                    problems.extend(listing.foreign_warning(&dir));
                    let (removed, errors) =
                        history::prune(&listing, taken_at, keep.as_millis() as i64);
                    problems.extend(errors);
                    removed
                }
                Err(e) => {
                    problems.push(format!("cannot list {}: {e}", dir.display()));
                    0
                }
            };
            format!(
                "snapshot: {} ({pruned} older than {} removed)\n",
                path.display(),
                args.keep
            )
        }
        Err(e) => {
            status = Status::Partial;
            problems.push(format!(
                "cannot write the snapshot into {}: {e}",
                dir.display()
            ));
            "snapshot: not written\n".to_string()
        }
    };
    if let Some(path) = &args.metrics {
        let metrics = prometheus::render(&doc, &super::budget_figures(&ctx.budgets()));
        if let Err(e) = history::write_atomic(path, metrics.as_bytes()) {
            status = Status::Partial;
            problems.push(format!("cannot write {}: {e}", path.display()));
        }
    }
    print_warnings(&problems);
    ctx.emit(|| text.clone(), || summary.clone())?;
    Ok(status)
}
