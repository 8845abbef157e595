//! `podman-storage caches [PATH...]`: what each blob cache holds.

use anyhow::Result;
use podman_storage::caches::registry::RegistryReport;
use podman_storage::caches::{self, BlobCount, CacheReport, Kind};
use podman_storage::report::engine::ago;
use podman_storage::report::table::{Align, Table};
use podman_storage::report::{to_json, SCHEMA};
use podman_storage::select::{Shown, SortKey, SortValues};
use podman_storage::size::{self, Units};
use podman_storage::timestamp::{self, Timestamp};
use podman_storage::Status;
use serde::Serialize;

use super::{print_warnings, Ctx};

/// `--format json` output.
#[derive(Serialize)]
struct CachesView<'a> {
    schema: u32,
    caches: &'a [CacheReport],
    total_bytes: u64,
    /// `--sort`, `--top`: absent when neither was given.
    #[serde(skip_serializing_if = "Shown::is_default")]
    selection: &'a Shown,
    warnings: &'a [String],
}

pub fn run(args: &crate::cli::CachesArgs, ctx: &Ctx) -> Result<Status> {
    let sel = super::sorting(&args.sort);
    sel.check("caches", &[SortKey::Size, SortKey::Used, SortKey::Name])
        .map_err(anyhow::Error::msg)?;
    let found = if args.paths.is_empty() {
        caches::discover(&ctx.config()?.caches.paths)
    } else {
        caches::discover::from_arguments(&args.paths)
    };
    let spinner = ctx.progress("inspecting caches...");
    let mut reports = caches::inspect_all(&found);
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
    // The total (above) covers every cache; the selection only what is listed.
    let shown = sel.apply(&mut reports, |r| SortValues {
        name: r.path.display().to_string(),
        size: Some(r.bytes),
        used: r.last_used,
        ..SortValues::default()
    });
    let now = timestamp::now();
    ctx.emit(
        || {
            to_json(&CachesView {
                schema: SCHEMA,
                caches: &reports,
                total_bytes: total,
                selection: &shown,
                warnings: &warnings,
            })
        },
        || {
            let mut out = render(&reports, total, ctx.units(), now);
            out.extend(shown.footer("cache"));
            out
        },
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

fn render(reports: &[CacheReport], total: u64, units: Units, now: Timestamp) -> String {
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
        ("LAST USED", Align::Left),
    ]);
    for r in reports {
        let blobs = match r.kind {
            Kind::Fscache | Kind::OciLayout | Kind::Registry => r.blobs.to_string(),
            Kind::Unknown | Kind::Missing => "-".to_string(),
        };
        let temp = match r.kind {
            Kind::Fscache | Kind::OciLayout | Kind::Registry => count(
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
            ago(r.last_used, now),
        ]);
    }
    t.row([
        "TOTAL".to_string(),
        String::new(),
        String::new(),
        size::display(total, units),
    ]);
    let mut out = t.render();
    for r in reports {
        if let Some(reg) = &r.registry {
            out.push('\n');
            out.push_str(&render_registry(r, reg, units));
        }
    }
    out
}

/// Per-repository lines of one registry: UNIQUE is what only it links,
/// SHARED what others link too (counted once in the registry's size).
fn render_registry(r: &CacheReport, reg: &RegistryReport, units: Units) -> String {
    let mut out = format!(
        "registry {}\n",
        podman_storage::report::sanitize(&r.path.display().to_string())
    );
    let mut t = Table::new(&[
        ("REPOSITORY", Align::Left),
        ("TAGS", Align::Right),
        ("MANIFESTS", Align::Right),
        ("UNIQUE", Align::Right),
        ("SHARED", Align::Right),
        ("UPLOADS", Align::Right),
    ]);
    for repo in &reg.repositories {
        t.row([
            podman_storage::report::sanitize(&repo.name),
            repo.tags.to_string(),
            repo.manifests.to_string(),
            count(Some(repo.unique), units),
            count(Some(repo.shared), units),
            count(Some(repo.uploads), units),
        ]);
    }
    if reg.unlinked.blobs > 0 {
        t.row([
            "(linked by no repository)".to_string(),
            String::new(),
            String::new(),
            count(Some(reg.unlinked), units),
        ]);
    }
    out.push_str(&t.render());
    let gc = |plan: &Option<podman_storage::caches::registry::GcPlan>| match plan {
        Some(p) => format!(
            "{} blob(s) ({}), {} manifest(s)",
            p.blobs.len(),
            size::display(p.blob_bytes, units),
            p.manifests.len()
        ),
        None => "unknown (see warnings)".to_string(),
    };
    out.push_str(&format!("garbage-collect would delete: {}\n", gc(&reg.gc)));
    out.push_str(&format!(
        "with --delete-untagged: {}\n",
        gc(&reg.gc_untagged)
    ));
    let now = std::time::SystemTime::now();
    for u in &reg.uploads {
        let age = now.duration_since(u.started).unwrap_or_default();
        out.push_str(&format!(
            "upload {} ({}), started {} ago\n",
            podman_storage::report::sanitize(&u.path.display().to_string()),
            size::display(u.bytes, units),
            human_age(age)
        ));
    }
    out
}

fn human_age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}
