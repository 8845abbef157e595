//! `podman-storage caches [PATH...]`: what each blob cache holds.

use anyhow::Result;
use podman_storage::caches::{self, BlobCount, CacheReport, Kind};
use podman_storage::report::table::{Align, Table};
use podman_storage::report::{to_json, SCHEMA};
use podman_storage::size::{self, Units};
use podman_storage::Status;
use serde::Serialize;

use super::{print_warnings, Ctx};

/// `--format json` output.
#[derive(Serialize)]
struct CachesView<'a> {
    schema: u32,
    caches: &'a [CacheReport],
    total_bytes: u64,
    warnings: &'a [String],
}

pub fn run(args: &crate::cli::CachesArgs, ctx: &Ctx) -> Result<Status> {
    let found = if args.paths.is_empty() {
        caches::discover(&ctx.config()?.caches.paths)
    } else {
        caches::discover::from_arguments(&args.paths)
    };
    let spinner = ctx.progress("inspecting caches...");
    let reports = caches::inspect_all(&found);
    drop(spinner);
    let (total, mut warnings) = caches::total_bytes(&reports);
    let mut failed = false;
    for r in &reports {
        failed |= !r.errors.is_empty();
        warnings.extend(r.errors.iter().cloned());
        warnings.extend(r.missing.iter().map(|d| {
            format!(
                "{}: references {d}, which is not in blobs/",
                r.path.display()
            )
        }));
    }
    ctx.emit(
        || {
            to_json(&CachesView {
                schema: SCHEMA,
                caches: &reports,
                total_bytes: total,
                warnings: &warnings,
            })
        },
        || render(&reports, total, ctx.units()),
    )?;
    print_warnings(&warnings);
    // Missing blobs and nested caches are facts about the caches, not
    // failures to measure them: only errors make the report partial.
    Ok(if failed {
        Status::Partial
    } else {
        Status::Complete
    })
}

fn count(c: Option<BlobCount>, units: Units) -> String {
    match c {
        Some(c) => format!("{} ({})", c.blobs, size::display(c.bytes, units)),
        None => "-".to_string(),
    }
}

fn render(reports: &[CacheReport], total: u64, units: Units) -> String {
    if reports.is_empty() {
        return "no blob caches found: pass a PATH, or list them in the config's [caches] paths\n"
            .to_string();
    }
    let mut t = Table::new(&[
        ("KIND", Align::Left),
        ("PATH", Align::Left),
        ("BLOBS", Align::Right),
        ("SIZE", Align::Right),
        ("REFERENCED", Align::Right),
        ("ORPHANS", Align::Right),
        ("TEMP", Align::Right),
    ]);
    for r in reports {
        let blobs = match r.kind {
            Kind::Fscache | Kind::OciLayout => r.blobs.to_string(),
            Kind::Unknown | Kind::Missing => "-".to_string(),
        };
        let temp = match r.kind {
            Kind::Fscache | Kind::OciLayout => count(
                Some(BlobCount {
                    blobs: r.temp.len() as u64,
                    bytes: r.temp_bytes,
                }),
                units,
            ),
            Kind::Unknown | Kind::Missing => "-".to_string(),
        };
        t.row([
            r.kind.as_str().to_string(),
            r.path.display().to_string(),
            blobs,
            size::display(r.bytes, units),
            count(r.referenced, units),
            count(r.orphans, units),
            temp,
        ]);
    }
    t.row([
        "TOTAL".to_string(),
        String::new(),
        String::new(),
        size::display(total, units),
    ]);
    t.render()
}
