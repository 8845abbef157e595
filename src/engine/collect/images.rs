//! Per-layer bytes on podman's CLI path: `images`, `image inspect` and the
//! fewest `podman history` calls that make every figure exact.

use super::*;

/// Images with their layers, from podman's output alone.
pub(super) struct ResolvedImages {
    pub(super) layers: BTreeMap<String, Layer>,
    pub(super) images: Vec<Image>,
    /// Some shared bytes are estimated from image totals.
    pub(super) approximate: bool,
    /// Image id -> its parent's id, as `podman images` says.
    pub(super) parents: BTreeMap<String, String>,
}

/// Every image's layers with exact sizes from podman's public output:
/// `image inspect` gives each image's diff ids and total, the trie over
/// those chains gives segment sizes, and `podman history` of a few images
/// gives the exact layer bytes where the totals alone cannot (see
/// [`history_plan`]). Sizes, layers and histories all come from `inspect`'s
/// moment or from immutable per-id data; the list from `images` only names
/// which ids to ask about, so an image removed in between is dropped, never
/// mixed with what was read before.
pub(super) fn resolve_layers(
    podman: &Podman,
    entries: Vec<ImageEntry>,
    warnings: &Warnings,
) -> Result<ResolvedImages, PodmanError> {
    for e in &entries {
        let object = format!("image {}", e.names.first().unwrap_or(&e.id));
        crate::engine::engine_bytes("podman", &object, "size", e.size, warnings);
    }
    let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
    // The histories the plan will most likely ask for run beside `inspect`
    // rather than after it: each podman call is mostly start-up, and this
    // chain is the longest of the view.
    let likely: Vec<&str> = likely_history_plan(&entries)
        .into_iter()
        .map(|i| entries[i].id.as_str())
        .collect();
    std::thread::scope(|s| {
        let early = spawn_histories(s, podman, &likely);
        // Without the chains, totals would count shared layers once per
        // image: the images are unmeasured rather than over-counted.
        let inspected = podman.inspect_images(&ids)?;
        Ok(resolve_inspected(
            s, podman, &entries, &inspected, early, warnings,
        ))
    })
}

/// The rest of [`resolve_layers`] once `inspect` has answered: `early`
/// holds the histories started beside it.
pub(super) fn resolve_inspected<'scope, 'env>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    podman: &'env Podman,
    entries: &[ImageEntry],
    inspected: &Inspected,
    early: Histories<'scope>,
    warnings: &Warnings,
) -> ResolvedImages {
    if !inspected.gone.is_empty() {
        let short: Vec<String> = inspected
            .gone
            .iter()
            .map(|id| id.chars().take(12).collect())
            .collect();
        warnings.note(format!(
            "{} image(s) removed while the store was being read, not counted: {}",
            short.len(),
            short.join(", ")
        ));
    }
    let by_id: BTreeMap<&str, &InspectEntry> = inspected
        .images
        .iter()
        .map(|i| (i.id.as_str(), i))
        .collect();
    let entries: Vec<&ImageEntry> = entries
        .iter()
        .filter(|e| by_id.contains_key(e.id.as_str()))
        .collect();
    let parents: BTreeSet<&str> = entries.iter().map(|e| e.parent_id.as_str()).collect();
    let chains: Vec<ImageChain> = entries
        .iter()
        .zip(generations(&entries))
        .map(|(e, generation)| {
            let inspect = by_id[e.id.as_str()];
            ImageChain {
                keys: chain_keys(&inspect.root_fs.layers),
                size: inspect.size.unwrap_or(e.size).max(0) as u64,
                generation,
            }
        })
        .collect();

    let known = exact_layer_bytes(s, podman, &chains, &entries, &by_id, early, warnings);
    let (sizes, approximate) = layer_sizes(&chains, &known);
    if approximate {
        warnings.push(
            "some images share layers where no image ends; shared bytes between them are estimated from image totals",
        );
    }
    let mut layers = BTreeMap::new();
    let mut images = Vec::new();
    for (e, chain) in entries.iter().zip(chains) {
        let layer_total = chain.keys.iter().map(|k| sizes[k]).sum_bytes();
        for key in &chain.keys {
            layers.insert(
                key.clone(),
                Layer {
                    key: key.clone(),
                    bytes: sizes[key],
                },
            );
        }
        images.push(Image {
            id: e.id.clone(),
            names: e.names.clone(),
            size: chain.size,
            metadata_bytes: chain.size.saturating_sub(layer_total),
            layers: chain.keys,
            labels: e.labels.clone(),
            intermediate: Image::is_intermediate(&e.names, parents.contains(e.id.as_str())),
            read_only: e.read_only,
            created: e.created,
        });
    }
    let parents = entries
        .iter()
        .filter(|e| !e.parent_id.is_empty())
        .map(|e| (e.id.clone(), e.parent_id.clone()))
        .collect();
    ResolvedImages {
        layers,
        images,
        approximate,
        parents,
    }
}

/// Each image's number of ancestors by `ParentId` (a cycle, which podman
/// never prints, stops at the list's length).
pub(super) fn generations(entries: &[&ImageEntry]) -> Vec<usize> {
    let index: BTreeMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    entries
        .iter()
        .map(|e| {
            let mut n = 0;
            let mut parent = e.parent_id.as_str();
            while let Some(&p) = index.get(parent) {
                if n == entries.len() {
                    break;
                }
                n += 1;
                parent = entries[p].parent_id.as_str();
            }
            n
        })
        .collect()
}

/// The images [`history_plan`] will most likely choose, guessed from
/// `podman images` alone so their histories can start beside `inspect`:
/// the plan over chains of image ids (each image's `ParentId` ancestors)
/// instead of layers. Exact for images built on one another; a guess that
/// misses only costs a history asked for after `inspect`.
pub(super) fn likely_history_plan(entries: &[ImageEntry]) -> Vec<usize> {
    let refs: Vec<&ImageEntry> = entries.iter().collect();
    let generation = generations(&refs);
    let index: BTreeMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let chains: Vec<ImageChain> = entries
        .iter()
        .zip(&generation)
        .map(|(e, &g)| {
            let mut keys = vec![e.id.clone()];
            let mut parent = e.parent_id.as_str();
            while let Some(&p) = index.get(parent).filter(|_| keys.len() <= g) {
                keys.push(entries[p].id.clone());
                parent = entries[p].parent_id.as_str();
            }
            keys.reverse();
            ImageChain {
                keys,
                size: 0,
                generation: g,
            }
        })
        .collect();
    history_plan(&chains)
}

pub(super) type Histories<'scope> =
    BTreeMap<String, std::thread::ScopedJoinHandle<'scope, Result<Vec<HistoryEntry>, PodmanError>>>;

/// Starts `podman history` of each image, all at once.
pub(super) fn spawn_histories<'scope, 'env>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    podman: &'env Podman,
    ids: &[&str],
) -> Histories<'scope> {
    ids.iter()
        .map(|&id| {
            let owned = id.to_string();
            (id.to_string(), s.spawn(move || podman.history(&owned)))
        })
        .collect()
}

/// Exact bytes of the layers [`history_plan`] asks for: `podman history`
/// of each chosen image, those in `early` already started, the rest all
/// at once now; an early one the plan did not choose is not read, so the
/// figures are the plan's whichever guess was made. A history that fails
/// or does not line up with the image's layers is a warning; those layers
/// are then estimated.
pub(super) fn exact_layer_bytes<'scope, 'env>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    podman: &'env Podman,
    chains: &[ImageChain],
    entries: &[&ImageEntry],
    by_id: &BTreeMap<&str, &InspectEntry>,
    mut early: Histories<'scope>,
    warnings: &Warnings,
) -> BTreeMap<String, u64> {
    let plan = history_plan(chains);
    let late: Vec<&str> = plan
        .iter()
        .map(|&i| entries[i].id.as_str())
        .filter(|id| !early.contains_key(*id))
        .collect();
    let mut started = spawn_histories(s, podman, &late);
    let answers: Vec<_> = plan
        .iter()
        .map(|&i| {
            let id = entries[i].id.as_str();
            let handle = early
                .remove(id)
                .or_else(|| started.remove(id))
                .expect("every planned history was started");
            (i, handle.join().expect("podman calls do not panic"))
        })
        .collect();
    let mut known = BTreeMap::new();
    for (i, answer) in answers {
        let id = &entries[i].id;
        match answer.map(|h| by_id[id.as_str()].layer_sizes(&h)) {
            Ok(Some(sizes)) => known.extend(chains[i].keys.iter().cloned().zip(sizes)),
            Ok(None) => warnings.push(format!(
                "image {}: `podman history` does not line up with its layers; its shared bytes are estimated",
                id.chars().take(12).collect::<String>()
            )),
            Err(e) => warnings.push(format!("{e}; shared bytes of that image are estimated")),
        }
    }
    known
}
