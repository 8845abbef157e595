//! `growth`: compare now (or `--to FILE`) with a snapshot of the history
//! (or a report FILE).

use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};
use podman_storage::caches::prune::parse_age;
use podman_storage::history;
use podman_storage::report::growth::{GrowthReport, Point};
use podman_storage::report::to_json;
use podman_storage::{growth, Status};
use serde_json::Value;

use super::{print_warnings, snapshot, Ctx};
use crate::cli::GrowthArgs;

/// A report read from a file, and when it was taken: its `taken_at_ms`
/// (snapshots), else the file's modification time.
fn load_report(path: &Path) -> Result<(Value, i64)> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not a JSON report", path.display()))?;
    let taken_at = match value.get("taken_at_ms").and_then(Value::as_i64) {
        Some(t) => t,
        None => std::fs::metadata(path)?
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    };
    Ok((value, taken_at))
}

pub fn run(args: &GrowthArgs, ctx: &Ctx) -> Result<Status> {
    let mut warnings = Vec::new();
    let now_ms = history::now_ms();
    let since = Path::new(&args.since);
    let (then, then_ms, then_source) = if since.is_file() {
        let (v, t) = load_report(since)?;
        (v, t, since.display().to_string())
    } else {
        let at = match parse_age(&args.since) {
            Ok(d) => now_ms - d.as_millis() as i64,
            Err(_) => history::parse_date(&args.since).ok_or_else(|| {
                anyhow!(
                    "--since {:?}: not a duration (7d), a UTC date (2026-11-01) or a file",
                    args.since
                )
            })?,
        };
        let dir = snapshot::history_dir(&args.history)?;
        let listing = history::list(&dir)
            .with_context(|| format!("cannot read the history {}", dir.display()))?;
        warnings.extend(listing.foreign_warning(&dir));
        let (found, skipped) = history::newest_at_or_before(&listing, at);
        warnings.extend(skipped);
        let Some((entry, value)) = found else {
            print_warnings(&warnings);
            bail!(
                "no snapshot in {} at or before {} ({} there{}); take one with `podman-storage snapshot`",
                dir.display(),
                history::format_utc(at),
                listing.entries.len(),
                listing
                    .entries
                    .first()
                    .map(|e| format!(", the oldest from {}", history::format_utc(e.taken_at)))
                    .unwrap_or_default()
            );
        };
        (value, entry.taken_at, entry.path.display().to_string())
    };
    let (now, now_taken, now_source, status) = match &args.to {
        Some(path) => {
            let (v, t) = load_report(path)?;
            (v, t, Some(path.display().to_string()), Status::Complete)
        }
        None => {
            let (v, s) = snapshot::measure(ctx)?;
            (v, now_ms, None, s)
        }
    };
    let elapsed_ms = (now_taken - then_ms).max(0);
    let seconds = (elapsed_ms / 1000) as u64;
    let g = growth::compare(&then, &now, elapsed_ms as f64 / 1000.0);
    print_warnings(&warnings);
    let report = GrowthReport::new(
        Point {
            taken_at: history::format_utc(then_ms),
            source: Some(then_source),
        },
        Point {
            taken_at: history::format_utc(now_taken),
            source: now_source,
        },
        seconds,
        g,
        warnings.clone(),
    );
    ctx.emit(|| to_json(&report), || report.table(ctx.units()))?;
    Ok(if warnings.is_empty() {
        status
    } else {
        Status::Partial
    })
}
