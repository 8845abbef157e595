//! Growth: what changed between two reports. Pure: it reads the JSON the
//! reports serialize to, by stable keys (project id and component, df
//! component kind, image id, volume name, cache path), so a row, column or
//! component added to a report later is compared without a change here.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::history::SNAPSHOT_KIND;

/// One figure of one thing, as found in a report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// Connection name with `--all-connections`; empty for this host.
    pub host: String,
    /// `project`, `component`, `image`, `volume` or `cache`.
    pub kind: &'static str,
    /// Stable id: project id, component kind, image id, volume name, path.
    pub name: String,
    /// Which figure: a row's column (`images`, `total`...), `bytes`, `size`.
    pub measure: String,
}

/// The figures of one report, and a readable label for each thing.
#[derive(Debug, Default)]
pub struct Figures {
    pub bytes: BTreeMap<Key, u64>,
    /// `(host, kind, name)` → label (an image's first name, else its id).
    pub labels: BTreeMap<(String, &'static str, String), String>,
}

/// Collects every byte figure of a snapshot or of any `--format json`
/// report (overview, `--all-connections`, df, images, volumes, caches).
pub fn figures(report: &Value) -> Figures {
    let mut f = Figures::default();
    f.part("", report);
    f
}

impl Figures {
    fn part(&mut self, host: &str, v: &Value) {
        if v.get("kind").and_then(Value::as_str) == Some(SNAPSHOT_KIND) {
            for section in ["overview", "df", "images", "volumes", "caches"] {
                if let Some(s) = v.get(section) {
                    self.part(host, s);
                }
            }
            return;
        }
        if let (Some(hosts), Some(local)) =
            (v.get("hosts").and_then(Value::as_array), v.get("local"))
        {
            for h in hosts {
                let name = h.get("connection").and_then(Value::as_str).unwrap_or("?");
                if let Some(r) = h.get("report").filter(|r| !r.is_null()) {
                    self.part(name, r);
                }
            }
            self.part(host, local);
            return;
        }
        if let Some(list) = v.as_array() {
            // A bare list (the snapshot's `caches`).
            return self.items(host, list, "cache", "path", &[("bytes", "bytes")]);
        }
        if let Some(rows) = v.get("rows").and_then(Value::as_array) {
            for r in rows {
                if let (Some(id), Some(o)) = (r.get("id").and_then(Value::as_str), r.as_object()) {
                    self.all_bytes(host, "project", id, o);
                }
            }
        }
        if let Some(comps) = v.get("components").and_then(Value::as_array) {
            for c in comps {
                if let (Some(kind), Some(o)) =
                    (c.get("kind").and_then(Value::as_str), c.as_object())
                {
                    self.all_bytes(host, "component", kind, o);
                }
            }
        }
        if let Some(list) = v.get("images").and_then(Value::as_array) {
            self.items(host, list, "image", "id", &[("size_bytes", "size")]);
        }
        if let Some(list) = v.get("volumes").and_then(Value::as_array) {
            self.items(host, list, "volume", "name", &[("bytes", "bytes")]);
        }
        if let Some(list) = v.get("caches").and_then(Value::as_array) {
            self.items(host, list, "cache", "path", &[("bytes", "bytes")]);
        }
    }

    /// Every byte figure of a row or component, by its stem.
    fn all_bytes(&mut self, host: &str, kind: &'static str, name: &str, o: &Map<String, Value>) {
        self.labels
            .insert((host.into(), kind, name.into()), name.into());
        for (field, value) in o {
            // `bytes` itself (a df component's) or a `*_bytes` column.
            let stem = match field.as_str() {
                "bytes" => Some("bytes"),
                f => f.strip_suffix("_bytes"),
            };
            if let (Some(stem), Some(n)) = (stem, value.as_u64()) {
                self.bytes.insert(
                    Key {
                        host: host.into(),
                        kind,
                        name: name.into(),
                        measure: stem.into(),
                    },
                    n,
                );
            }
        }
    }

    /// Items of a list keyed by `id_field`; only the named figures.
    fn items(
        &mut self,
        host: &str,
        list: &[Value],
        kind: &'static str,
        id_field: &str,
        wanted: &[(&str, &str)],
    ) {
        for item in list {
            let Some(id) = item.get(id_field).and_then(Value::as_str) else {
                continue;
            };
            let label = item
                .get("names")
                .and_then(Value::as_array)
                .and_then(|n| n.first())
                .and_then(Value::as_str)
                .unwrap_or(id);
            self.labels
                .insert((host.into(), kind, id.into()), label.into());
            for (field, measure) in wanted {
                // An unmeasured figure (null) is no figure: never a zero.
                if let Some(n) = item.get(*field).and_then(Value::as_u64) {
                    self.bytes.insert(
                        Key {
                            host: host.into(),
                            kind,
                            name: id.into(),
                            measure: (*measure).into(),
                        },
                        n,
                    );
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    New,
    Vanished,
    Changed,
    Same,
}

/// One figure, then and now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub kind: &'static str,
    pub name: String,
    pub label: String,
    pub measure: String,
    pub then_bytes: Option<u64>,
    pub now_bytes: Option<u64>,
    pub change_bytes: i64,
    /// The change scaled to one day (0 when the two reports are simultaneous).
    pub per_day_bytes: i64,
    pub state: State,
}

/// A thing (project, image, volume, cache, component) present in only one report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Thing {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub kind: &'static str,
    pub name: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Growth {
    /// Largest change first (by magnitude); unchanged figures last.
    pub changes: Vec<Change>,
    pub new: Vec<Thing>,
    pub vanished: Vec<Thing>,
}

/// Compares two reports taken `seconds` apart.
pub fn compare(then: &Value, now: &Value, seconds: f64) -> Growth {
    let (a, b) = (figures(then), figures(now));
    let keys: BTreeSet<&Key> = a.bytes.keys().chain(b.bytes.keys()).collect();
    let label = |k: &Key| {
        let t = (k.host.clone(), k.kind, k.name.clone());
        b.labels
            .get(&t)
            .or_else(|| a.labels.get(&t))
            .cloned()
            .unwrap_or_else(|| k.name.clone())
    };
    let mut changes: Vec<Change> = keys
        .into_iter()
        .map(|k| {
            let (t, n) = (a.bytes.get(k).copied(), b.bytes.get(k).copied());
            let change = n.unwrap_or(0) as i128 - t.unwrap_or(0) as i128;
            let per_day = if seconds > 0.0 {
                (change as f64 * 86_400.0 / seconds).round() as i64
            } else {
                0
            };
            Change {
                host: k.host.clone(),
                kind: k.kind,
                name: k.name.clone(),
                label: label(k),
                measure: k.measure.clone(),
                then_bytes: t,
                now_bytes: n,
                change_bytes: change.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
                per_day_bytes: per_day,
                state: match (t, n) {
                    (None, _) => State::New,
                    (_, None) => State::Vanished,
                    (Some(x), Some(y)) if x == y => State::Same,
                    _ => State::Changed,
                },
            }
        })
        .collect();
    changes.sort_by(|x, y| {
        y.change_bytes
            .unsigned_abs()
            .cmp(&x.change_bytes.unsigned_abs())
    });
    let things = |f: &Figures| -> BTreeSet<(String, &'static str, String)> {
        f.labels.keys().cloned().collect()
    };
    let (ta, tb) = (things(&a), things(&b));
    let thing = |(host, kind, name): &(String, &'static str, String), f: &Figures| Thing {
        host: host.clone(),
        kind,
        name: name.clone(),
        label: f.labels[&(host.clone(), *kind, name.clone())].clone(),
    };
    Growth {
        changes,
        new: tb.difference(&ta).map(|t| thing(t, &b)).collect(),
        vanished: ta.difference(&tb).map(|t| thing(t, &a)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot(rows: Value, images: Value, volumes: Value) -> Value {
        json!({
            "kind": SNAPSHOT_KIND, "schema": 1,
            "overview": {"rows": rows, "total_bytes": 0},
            "df": {"components": [{"kind": "images", "bytes": rows.as_array().unwrap().len(), "reclaimable_bytes": 0}]},
            "images": {"images": images},
            "volumes": {"volumes": volumes},
            "caches": [{"path": "/c", "bytes": 7}],
        })
    }

    #[test]
    fn reports_changes_by_stable_keys_and_names_new_and_vanished_things() {
        let then = snapshot(
            json!([{"id": "web", "images_bytes": 100, "containers_bytes": null, "total_bytes": 100, "new_column_bytes": 1}]),
            json!([{"id": "aa", "names": ["localhost/a"], "size_bytes": 50}]),
            json!([{"name": "data", "bytes": 5}, {"name": "unmeasured", "bytes": null}]),
        );
        let now = snapshot(
            json!([{"id": "web", "images_bytes": 300, "containers_bytes": null, "total_bytes": 300, "new_column_bytes": 1},
                   {"id": "api", "images_bytes": 0, "total_bytes": 0}]),
            json!([{"id": "aa", "names": ["localhost/a"], "size_bytes": 50},
                   {"id": "bb", "names": ["localhost/b"], "size_bytes": 200}]),
            json!([{"name": "unmeasured", "bytes": null}]),
        );
        let g = compare(&then, &now, 2.0 * 86_400.0);
        let find = |kind: &str, name: &str, measure: &str| {
            g.changes
                .iter()
                .find(|c| c.kind == kind && c.name == name && c.measure == measure)
                .unwrap_or_else(|| panic!("{kind} {name} {measure} in {:#?}", g.changes))
        };
        let web = find("project", "web", "images");
        assert_eq!(
            (web.then_bytes, web.now_bytes, web.change_bytes),
            (Some(100), Some(300), 200)
        );
        assert_eq!(web.per_day_bytes, 100);
        assert_eq!(find("project", "web", "new_column").state, State::Same);
        let b = find("image", "bb", "size");
        assert_eq!(
            (b.state, b.change_bytes, b.label.as_str()),
            (State::New, 200, "localhost/b")
        );
        assert_eq!(find("volume", "data", "bytes").change_bytes, -5);
        assert_eq!(find("component", "images", "bytes").change_bytes, 1);
        // A null figure is never read as zero.
        assert!(!g
            .changes
            .iter()
            .any(|c| c.name == "unmeasured" || c.measure == "containers"));
        assert_eq!(g.changes[0].change_bytes.abs(), 200);
        let named = |v: &[Thing]| {
            v.iter()
                .map(|t| format!("{} {}", t.kind, t.label))
                .collect::<Vec<_>>()
        };
        assert_eq!(named(&g.new), ["image localhost/b", "project api"]);
        assert_eq!(named(&g.vanished), ["volume data"]);
    }

    #[test]
    fn multi_host_reports_key_by_connection() {
        let host = |bytes: u64| {
            json!({"hosts": [{"connection": "a", "report": {"rows": [{"id": "web", "total_bytes": bytes}]}},
                             {"connection": "b", "report": null, "error": "down"}],
                   "local": {"rows": [{"id": "web", "total_bytes": 1}]}})
        };
        let g = compare(&host(1), &host(4), 86_400.0);
        let a = g.changes.iter().find(|c| c.host == "a").unwrap();
        assert_eq!(a.change_bytes, 3);
        let local = g.changes.iter().find(|c| c.host.is_empty()).unwrap();
        assert_eq!(local.state, State::Same);
    }
}
