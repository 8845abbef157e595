//! One sort and top-N policy for every list view (`images`, `containers`,
//! `volumes`, `caches`, `du`): which keys a view has, which way each sorts,
//! how ties break, and what the footer says about rows left out.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::engine::Inventory;
use crate::projects::{Attribution, RowId};
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    /// Largest first.
    Size,
    /// Largest first: bytes only this row holds (images).
    Unique,
    /// Newest first.
    Created,
    /// Most recently used first.
    Used,
    /// A to Z.
    Name,
}

impl SortKey {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Size => "size",
            Self::Unique => "unique",
            Self::Created => "created",
            Self::Used => "used",
            Self::Name => "name",
        }
    }
}

/// What a row offers to sort on; `None` where it has no value (not
/// measured, not recorded): such rows go after every row that has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortValues {
    pub name: String,
    pub size: Option<u64>,
    pub unique: Option<u64>,
    pub created: Option<Timestamp>,
    pub used: Option<Timestamp>,
}

/// `--sort` and `--top` as the library takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub sort: Option<SortKey>,
    pub top: Option<usize>,
    /// `--project ID`, for views whose objects projects own.
    pub project: Option<String>,
}

impl Selection {
    /// The one-line error for a key a view has no column for (exit 2).
    pub fn check(&self, view: &str, keys: &[SortKey]) -> Result<(), String> {
        match self.sort {
            Some(k) if !keys.contains(&k) => Err(format!(
                "--sort {} does not apply to {view}; it sorts by {}",
                k.as_str(),
                keys.iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => Ok(()),
        }
    }

    /// Sorts `rows` by the chosen key (unchanged without one: the views'
    /// own order) and keeps the first `top`. Returns what the footer and
    /// the JSON say about it.
    pub fn apply<T>(&self, rows: &mut Vec<T>, values: impl Fn(&T) -> SortValues) -> Shown {
        let matched = rows.len();
        if let Some(key) = self.sort {
            let mut keyed: Vec<(SortValues, T)> = rows.drain(..).map(|r| (values(&r), r)).collect();
            keyed.sort_by(|(a, _), (b, _)| order(key, a, b));
            rows.extend(keyed.into_iter().map(|(_, r)| r));
        }
        if let Some(n) = self.top {
            rows.truncate(n);
        }
        Shown {
            sort: self.sort,
            top: self.top,
            project: self.project.clone(),
            shown: rows.len(),
            matched,
        }
    }
}

/// Sizes and dates descending, names ascending; a missing value last;
/// ties by name (then the caller's order: the sort is stable).
fn order(key: SortKey, a: &SortValues, b: &SortValues) -> std::cmp::Ordering {
    use std::cmp::Reverse;
    let primary = match key {
        SortKey::Size => a.size.map(Reverse).cmp(&b.size.map(Reverse)),
        SortKey::Unique => a.unique.map(Reverse).cmp(&b.unique.map(Reverse)),
        SortKey::Created => a.created.map(Reverse).cmp(&b.created.map(Reverse)),
        SortKey::Used => a.used.map(Reverse).cmp(&b.used.map(Reverse)),
        SortKey::Name => std::cmp::Ordering::Equal,
    };
    // `Some(Reverse(x))` sorts descending by x, but `None` before every
    // `Some`: put it last instead.
    let missing_last = match key {
        SortKey::Size => a.size.is_none().cmp(&b.size.is_none()),
        SortKey::Unique => a.unique.is_none().cmp(&b.unique.is_none()),
        SortKey::Created => a.created.is_none().cmp(&b.created.is_none()),
        SortKey::Used => a.used.is_none().cmp(&b.used.is_none()),
        SortKey::Name => std::cmp::Ordering::Equal,
    };
    missing_last.then(primary).then_with(|| a.name.cmp(&b.name))
}

/// What a view shows of what matched, for its footer and its JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Shown {
    pub sort: Option<SortKey>,
    pub top: Option<usize>,
    pub project: Option<String>,
    /// Rows listed.
    pub shown: usize,
    /// Rows that matched (the project's, or all): the view's total covers
    /// all of them.
    pub matched: usize,
}

impl Shown {
    /// True when no option was given: the JSON then leaves `selection` out.
    pub fn is_default(&self) -> bool {
        self.sort.is_none() && self.top.is_none() && self.project.is_none()
    }

    /// The footer line under a table, or `None` when every row is listed
    /// and no project chosen: "2 of 7 images shown (--top 2); the total
    /// covers all 7". `noun` is singular ("image").
    pub fn footer(&self, noun: &str) -> Option<String> {
        let scope = match &self.project {
            Some(p) => format!(" of project {p}"),
            None => String::new(),
        };
        let counted = |n: usize| format!("{n} {noun}{}", if n == 1 { "" } else { "s" });
        if self.shown < self.matched {
            Some(format!(
                "{} of {}{scope} shown (--top {}); the total covers all {}\n",
                self.shown,
                counted(self.matched),
                self.top.unwrap_or(self.shown),
                self.matched
            ))
        } else {
            self.project.as_ref().map(|_| {
                let them = if self.matched == 1 { "it" } else { "them" };
                format!(
                    "{}{scope}; the total covers {them} alone\n",
                    counted(self.matched)
                )
            })
        }
    }
}

/// The objects `--project ID` keeps: those [`crate::projects::attribute`]
/// gives the project, as the overview does (an image is the project's when
/// the project is among its owners, even if it shares it with another).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    pub images: BTreeSet<String>,
    pub containers: BTreeSet<String>,
    pub volumes: BTreeSet<String>,
}

impl Members {
    /// An id no project has is an error naming those that exist.
    pub fn of(inv: &Inventory, attr: &Attribution, id: &str) -> Result<Members, String> {
        if !attr.projects.contains(id) {
            let known: Vec<&str> = attr.projects.iter().map(String::as_str).collect();
            return Err(format!(
                "unknown project {id:?}; known projects: {}",
                if known.is_empty() {
                    "(none)".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
        let row = RowId::Project(id.to_string());
        Ok(Members {
            images: inv
                .images
                .iter()
                .zip(&attr.images)
                .filter(|(_, o)| o.projects.contains(id))
                .map(|(i, _)| i.id.clone())
                .collect(),
            containers: inv
                .containers
                .iter()
                .zip(&attr.containers)
                .filter(|(_, p)| p.as_deref() == Some(id))
                .map(|(c, _)| c.id.clone())
                .collect(),
            volumes: inv
                .volumes
                .iter()
                .zip(&attr.volumes)
                .filter(|(_, r)| **r == row)
                .map(|(v, _)| v.name.clone())
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, size: Option<u64>, created: Option<i64>) -> SortValues {
        SortValues {
            name: name.to_string(),
            size,
            unique: size.map(|s| s / 2),
            created: created.map(Timestamp),
            used: None,
        }
    }

    fn sorted(key: SortKey, top: Option<usize>, rows: &[SortValues]) -> (Vec<String>, Shown) {
        let mut rows = rows.to_vec();
        let shown = Selection {
            sort: Some(key),
            top,
            project: None,
        }
        .apply(&mut rows, Clone::clone);
        (rows.into_iter().map(|r| r.name).collect(), shown)
    }

    #[test]
    fn sizes_descend_with_unmeasured_last_and_ties_by_name() {
        let rows = [
            row("b", Some(10), None),
            row("z", None, None),
            row("c", Some(30), None),
            row("a", Some(10), None),
        ];
        assert_eq!(sorted(SortKey::Size, None, &rows).0, ["c", "a", "b", "z"]);
        assert_eq!(sorted(SortKey::Unique, None, &rows).0, ["c", "a", "b", "z"]);
    }

    #[test]
    fn dates_descend_names_ascend() {
        let rows = [
            row("old", None, Some(100)),
            row("never", None, None),
            row("new", None, Some(300)),
            row("mid", None, Some(200)),
        ];
        assert_eq!(
            sorted(SortKey::Created, None, &rows).0,
            ["new", "mid", "old", "never"]
        );
        assert_eq!(
            sorted(SortKey::Name, None, &rows).0,
            ["mid", "never", "new", "old"]
        );
        // No value at all: by name, so the order is the same every run.
        assert_eq!(
            sorted(SortKey::Used, None, &rows).0,
            ["mid", "never", "new", "old"]
        );
    }

    #[test]
    fn top_keeps_the_first_n_and_counts_the_rest() {
        let rows = [
            row("a", Some(1), None),
            row("b", Some(3), None),
            row("c", Some(2), None),
        ];
        let (names, shown) = sorted(SortKey::Size, Some(2), &rows);
        assert_eq!(names, ["b", "c"]);
        assert_eq!((shown.shown, shown.matched), (2, 3));
        assert_eq!(
            shown.footer("image").unwrap(),
            "2 of 3 images shown (--top 2); the total covers all 3\n"
        );
        let (_, all) = sorted(SortKey::Size, Some(5), &rows);
        assert_eq!((all.shown, all.footer("image")), (3, None));
        let project = Shown {
            project: Some("web".into()),
            shown: 1,
            matched: 1,
            ..Shown::default()
        };
        assert_eq!(
            project.footer("volume").unwrap(),
            "1 volume of project web; the total covers it alone\n"
        );
    }

    #[test]
    fn without_a_key_the_views_order_stays() {
        let mut rows = vec![row("b", Some(1), None), row("a", Some(2), None)];
        Selection {
            top: Some(1),
            ..Default::default()
        }
        .apply(&mut rows, Clone::clone);
        assert_eq!(rows[0].name, "b");
    }

    #[test]
    fn a_key_the_view_lacks_is_one_line() {
        let sel = Selection {
            sort: Some(SortKey::Unique),
            ..Default::default()
        };
        let err = sel
            .check("volumes", &[SortKey::Size, SortKey::Created, SortKey::Name])
            .unwrap_err();
        assert_eq!(
            err,
            "--sort unique does not apply to volumes; it sorts by size, created, name"
        );
        assert!(sel.check("images", &[SortKey::Unique]).is_ok());
    }
}
