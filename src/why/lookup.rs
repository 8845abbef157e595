//! Which objects a TARGET names: names, full ids and digests exactly,
//! else id prefixes.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Found, Kind, Store};
use crate::engine::Image;

/// One of several objects an ambiguous TARGET names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub kind: Kind,
    pub id: String,
    pub name: String,
}

/// What TARGET names: exact matches (a name, a full id or digest), else
/// id prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matches {
    pub exact: BTreeSet<Found>,
    pub prefix: BTreeSet<Found>,
}

impl Matches {
    /// Exact matches win over prefixes, as in podman's own lookups.
    pub fn best(self) -> BTreeSet<Found> {
        if self.exact.is_empty() {
            self.prefix
        } else {
            self.exact
        }
    }
}

/// An id prefix must be at least this long: shorter ones match by chance.
pub const MIN_PREFIX: usize = 3;

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `app`, `app:1`, `localhost/app:1` all name `localhost/app:1`; a name
/// without a tag means `:latest`, as podman reads it.
fn names_image(name: &str, query: &str) -> bool {
    let tagged = crate::engine::repository_of(query) != query;
    let full = if tagged {
        query.to_string()
    } else {
        format!("{query}:latest")
    };
    name == full || name.ends_with(&format!("/{full}"))
}

/// The diff digest of a layer: from the store's records, or the tail of a
/// CLI chain key (`chain:<hash>:<digest>`).
pub(super) fn diff_id<'a>(store: &Store<'a>, key: &'a str) -> Option<&'a str> {
    store
        .relations
        .diff_ids
        .get(key)
        .map(String::as_str)
        .or_else(|| {
            key.strip_prefix("chain:")
                .and_then(|k| k.split_once(':'))
                .map(|(_, d)| d)
        })
}

/// Every object of `kind` (all kinds when `None`) that `query` names.
pub fn find(store: &Store<'_>, query: &str, kind: Option<Kind>) -> Matches {
    let mut m = Matches::default();
    let want = |k: Kind| kind.is_none_or(|w| w == k);
    let bare = query.strip_prefix("sha256:").unwrap_or(query);
    let prefix_ok = is_hex(bare) && bare.len() >= MIN_PREFIX;
    let id_match = |id: &str, found: Found, m: &mut Matches| {
        let id = id.strip_prefix("sha256:").unwrap_or(id);
        if id == bare {
            m.exact.insert(found);
        } else if prefix_ok && id.starts_with(bare) {
            m.prefix.insert(found);
        }
    };
    let inv = store.inv;
    if want(Kind::Image) {
        for (i, img) in inv.images.iter().enumerate() {
            if img.names.iter().any(|n| names_image(n, query)) {
                m.exact.insert(Found::Image(i));
            }
            id_match(&img.id, Found::Image(i), &mut m);
        }
    }
    if want(Kind::Layer) {
        for key in inv.layers.keys() {
            id_match(key, Found::Layer(key.clone()), &mut m);
            if let Some(d) = diff_id(store, key) {
                id_match(d, Found::Layer(key.clone()), &mut m);
            }
        }
    }
    if want(Kind::Volume) {
        for (i, v) in inv.volumes.iter().enumerate() {
            if v.name == query {
                m.exact.insert(Found::Volume(i));
            }
        }
    }
    if want(Kind::Container) {
        for (i, c) in inv.containers.iter().enumerate() {
            if c.name == query {
                m.exact.insert(Found::Container(i));
            }
            id_match(&c.id, Found::Container(i), &mut m);
        }
    }
    m
}

pub fn candidate(store: &Store<'_>, found: &Found) -> Candidate {
    let inv = store.inv;
    let (id, name) = match found {
        Found::Image(i) => {
            let img = &inv.images[*i];
            (img.id.clone(), image_name(img))
        }
        Found::Layer(key) => (
            key.clone(),
            diff_id(store, key).unwrap_or_default().to_string(),
        ),
        Found::Volume(i) => (inv.volumes[*i].name.clone(), inv.volumes[*i].name.clone()),
        Found::Container(i) => (
            inv.containers[*i].id.clone(),
            inv.containers[*i].name.clone(),
        ),
    };
    Candidate {
        kind: found.kind(),
        id,
        name,
    }
}

pub(super) fn image_name(img: &Image) -> String {
    img.names.first().cloned().unwrap_or_else(|| {
        if img.intermediate {
            "<none> (build intermediate)".into()
        } else {
            "<none>".into()
        }
    })
}
