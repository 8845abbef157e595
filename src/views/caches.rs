//! `caches` and `prune caches`: the blob caches found, inspected or pruned.

use crate::caches::{self, Discovered, PruneOptions};
use crate::report::caches::{CachesView, PruneView};
use crate::report::SCHEMA;
use crate::select::{Selection, SortValues};
use crate::size::sum;

/// What each cache holds; missing blobs, nested caches and named paths
/// that do not exist are warnings.
/// `sel` orders and cuts the rows; the total covers every cache.
pub fn caches(found: &[Discovered], sel: &Selection) -> CachesView {
    let mut reports = caches::inspect_all(found);
    let (total, mut warnings) = caches::total_bytes(&reports);
    for r in &reports {
        warnings.extend(r.errors.iter().cloned());
        warnings.extend(r.missing.iter().map(|d| {
            format!(
                "{}: references {d}, which is not in blobs/",
                r.path.display()
            )
        }));
    }
    warnings.extend(caches::missing_named(&reports));
    let selection = sel.apply(&mut reports, |r| SortValues {
        name: r.path.display().to_string(),
        size: Some(r.bytes),
        used: r.last_used,
        ..SortValues::default()
    });
    CachesView {
        schema: SCHEMA,
        caches: reports,
        total_bytes: total,
        selection,
        warnings,
    }
}

/// Prunes each cache (or, under `opts.dry_run`, says what it would free).
pub fn prune(found: &[Discovered], opts: &PruneOptions) -> PruneView {
    let reports: Vec<_> = found.iter().map(|d| caches::prune(&d.path, opts)).collect();
    PruneView {
        schema: SCHEMA,
        dry_run: opts.dry_run,
        total_bytes: sum(reports.iter().map(|r| r.freed_bytes)),
        // A named path that does not exist is an error line, as in `caches`.
        warnings: reports
            .iter()
            .flat_map(|r| r.errors.iter().cloned())
            .chain(
                reports
                    .iter()
                    .filter(|r| r.kind == caches::Kind::Missing)
                    .map(|r| format!("{}: does not exist", r.path.display())),
            )
            .collect(),
        caches: reports,
    }
}
