//! `podman-storage why TARGET`: find what TARGET names, explain it.

use anyhow::{bail, Result};
use podman_storage::caches::{self, locate, Digest};
use podman_storage::engine::Needs;
use podman_storage::report::why::Ambiguous;
use podman_storage::report::{to_json, SCHEMA};
use podman_storage::why::{self, Candidate, Kind, Store};
use podman_storage::{projects, Status, Warnings};

use super::{print_notes, print_warnings, Ctx};
use crate::cli::{WhyArgs, WhyKind};

impl From<WhyKind> for Kind {
    fn from(k: WhyKind) -> Kind {
        match k {
            WhyKind::Image => Kind::Image,
            WhyKind::Layer => Kind::Layer,
            WhyKind::Volume => Kind::Volume,
            WhyKind::Container => Kind::Container,
            WhyKind::Blob => Kind::Blob,
        }
    }
}

/// A full digest, with or without `sha256:`: what a blob can be named by.
fn blob_digest(target: &str) -> Option<Digest> {
    target
        .parse()
        .ok()
        .or_else(|| format!("sha256:{target}").parse().ok())
}

pub fn run(args: &WhyArgs, ctx: &Ctx) -> Result<Status> {
    let kind = args.kind.map(Kind::from);
    let config = ctx.config()?;
    let warnings = Warnings::new();
    let digest = blob_digest(&args.target).filter(|_| kind.is_none_or(|k| k == Kind::Blob));
    let wants_engine = kind != Some(Kind::Blob);
    let engine = wants_engine.then(|| ctx.engine()).transpose()?;
    let spinner = ctx.progress("measuring the store...");
    let (collected, sites) = std::thread::scope(|s| {
        let sites = s.spawn(|| {
            digest.as_ref().map_or_else(Vec::new, |d| {
                let mut found = caches::discover(&config.caches.paths);
                found.extend(caches::discover::from_arguments(&args.cache));
                locate::locate(&found, d)
            })
        });
        let needs = Needs {
            images: true,
            containers: true,
            container_sizes: true,
            volumes: true,
            pods: true,
            ..Needs::default()
        };
        let collected = engine.as_ref().map(|e| e.collect(needs, &warnings));
        (
            collected,
            sites.join().expect("locating a blob does not panic"),
        )
    });
    drop(spinner);
    let collected = collected.filter(|c| c.reachable);
    if wants_engine && collected.is_none() && sites.is_empty() {
        print_notes(&warnings.notes());
        let lines = warnings.to_vec();
        bail!(
            "{}",
            lines
                .first()
                .map(String::as_str)
                .unwrap_or("podman did not answer")
        );
    }
    let mut collected = collected.unwrap_or_default();
    let attr = projects::attribute(&collected.inventory, &config);
    let store = Store {
        inv: &collected.inventory,
        attr: &attr,
        relations: &collected.relations,
    };
    let matches = why::find(&store, &args.target, kind);
    let found: Vec<why::Found> = if matches.exact.is_empty() && !sites.is_empty() {
        Vec::new()
    } else {
        matches.best().into_iter().collect()
    };
    let mut candidates: Vec<Candidate> = found.iter().map(|f| why::candidate(&store, f)).collect();
    if let (Some(d), false) = (&digest, sites.is_empty()) {
        candidates.push(Candidate {
            kind: Kind::Blob,
            id: d.to_string(),
            name: format!("in {} cache(s)", sites.len()),
        });
    }
    print_notes(&warnings.notes());
    match candidates.len() {
        0 => {
            print_warnings(&warnings.to_vec());
            let what = kind.map_or("image, layer, volume, container or cached blob", |k| {
                k.as_str()
            });
            bail!("no {what} is named {:?}", args.target)
        }
        1 => {}
        n => {
            let view = Ambiguous {
                schema: SCHEMA,
                query: &args.target,
                candidates: &candidates,
            };
            ctx.emit(|| to_json(&view), || view.table())?;
            bail!(
                "{:?} names {n} objects; name one with a longer id or --kind",
                args.target
            )
        }
    }
    let mut report = match found.first() {
        Some(why::Found::Volume(n)) if collected.relations.volume_users.is_none() => {
            // podman's CLI lists mount destinations only: ask who mounts this one.
            let name = collected.inventory.volumes[*n].name.clone();
            match engine.as_ref().map(|e| e.volume_users(&name)) {
                Some(Ok(Some(users))) => {
                    collected.relations.volume_users = Some([(name, users)].into());
                }
                Some(Err(e)) => warnings.push(e),
                _ => {}
            }
            let store = Store {
                inv: &collected.inventory,
                attr: &attr,
                relations: &collected.relations,
            };
            why::explain(&store, &args.target, &found[0])
        }
        Some(f) => why::explain(&store, &args.target, f),
        None => why::explain_blob(
            &args.target,
            &digest.map(|d| d.to_string()).unwrap_or_default(),
            sites,
        ),
    };
    report.warnings = warnings.to_vec();
    print_warnings(&report.warnings);
    ctx.emit(|| to_json(&report), || report.table(ctx.units()))?;
    Ok(if report.lower_bound || !report.warnings.is_empty() {
        Status::Partial
    } else {
        warnings.status()
    })
}
