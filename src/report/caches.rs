//! `caches` and `prune caches`: what each blob cache holds, what a prune
//! freed; the reports and their tables.

use super::table::{Align, Table};
use crate::caches::prune::Action;
use crate::caches::registry::RegistryReport;
use crate::caches::{BlobCount, CacheReport, Kind, PruneReport};
use crate::select::Shown;
use crate::size::{self, Units};
use crate::timestamp::{self, Timestamp};

/// `caches`.
#[derive(Debug)]
pub struct CachesView {
    pub schema: u32,
    pub caches: Vec<CacheReport>,
    /// Every cache once, nested ones inside their parent.
    pub total_bytes: u64,
    /// `--sort`, `--top` as applied; the total covers every cache.
    pub selection: Shown,
    pub warnings: Vec<String>,
}

/// `prune caches`.
#[derive(Debug)]
pub struct PruneView {
    pub schema: u32,
    pub dry_run: bool,
    pub caches: Vec<PruneReport>,
    /// Bytes freed (or, under `--dry-run`, that would be freed).
    pub total_bytes: u64,
    pub warnings: Vec<String>,
}

fn count(c: Option<BlobCount>, units: Units) -> String {
    match c {
        Some(c) => format!("{} ({})", c.blobs, size::display(c.bytes, units)),
        None => "-".to_string(),
    }
}

impl CachesView {
    pub fn table(&self, units: Units) -> String {
        let mut out = render(&self.caches, self.total_bytes, units, timestamp::now());
        out.extend(self.selection.footer("cache"));
        out
    }

    /// Errors and named paths that do not exist make the report partial,
    /// as in `du`; missing blobs and nested caches are facts, not failures.
    pub fn incomplete(&self) -> bool {
        self.caches
            .iter()
            .any(|r| !r.errors.is_empty() || r.kind == crate::caches::Kind::Missing)
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
            super::engine::ago(r.last_used, now),
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
        super::sanitize(&r.path.display().to_string())
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
            super::sanitize(&repo.name),
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
    let gc = |plan: &Option<crate::caches::registry::GcPlan>| match plan {
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
            super::sanitize(&u.path.display().to_string()),
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

impl PruneView {
    pub fn table(&self, units: Units) -> String {
        render_prune(&self.caches, units)
    }
}

/// What each cache's prune did (or would do), one line each.
impl PruneView {
    /// Every cache is skipped or would free nothing.
    pub fn frees_nothing(&self) -> bool {
        self.caches.iter().all(frees_nothing)
    }
}

fn frees_nothing(r: &PruneReport) -> bool {
    r.action == Action::Skip || (r.freed_bytes == 0 && r.removed_files == 0)
}

fn render_prune(reports: &[PruneReport], units: Units) -> String {
    if reports.is_empty() {
        return "no blob caches found: pass a PATH, or list them in the config's [caches] paths\n"
            .to_string();
    }
    let mut out = String::new();
    for r in reports {
        let path = super::sanitize(&r.path.display().to_string());
        if r.action == Action::Skip {
            let note = r.note.as_deref().unwrap_or("nothing to do");
            out.push_str(&format!("skipped {path}: {note}\n"));
            continue;
        }
        let verb = if r.dry_run { "would free" } else { "freed" };
        out.push_str(&format!(
            "{verb} {} across {} blob(s) in {path}",
            size::phrase(r.freed_bytes, units),
            r.removed_files
        ));
        if !r.errors.is_empty() {
            out.push_str(&format!(" ({} error(s), see warnings)", r.errors.len()));
        }
        out.push('\n');
    }
    if reports.iter().all(frees_nothing) {
        out.push_str("nothing to prune\n");
    }
    out
}
