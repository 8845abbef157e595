//! Pure maths over images' layer chains.

/// What decides whether one image is another's parent.
#[derive(Debug, Clone, Copy)]
pub struct TreeImage<'a> {
    /// Layer ids, bottom to top.
    pub layers: &'a [String],
    pub diff_ids: &'a [String],
    /// History entries, compared as opaque values.
    pub history: &'a [String],
}

/// For each image, whether some other image is its child, by c/common's
/// layer tree (libimage `layerTree.children`): the child's top layer is the
/// parent's top layer or sits directly on it, the child's diff ids start
/// with the parent's, and its history is the parent's plus one entry. A
/// build step before a `LABEL`, `CMD` or `ENV` shares the final image's top
/// layer, so it has a child and is an intermediate, not dangling.
pub fn has_child(images: &[TreeImage<'_>]) -> Vec<bool> {
    images
        .iter()
        .enumerate()
        .map(|(i, parent)| {
            images
                .iter()
                .enumerate()
                .any(|(j, child)| i != j && is_parent_of(parent, child))
        })
        .collect()
}

/// For each image, the index of its parent by the same rule (the first
/// found), as `podman images` prints `ParentId`.
pub fn parents(images: &[TreeImage<'_>]) -> Vec<Option<usize>> {
    images
        .iter()
        .enumerate()
        .map(|(j, child)| {
            images
                .iter()
                .enumerate()
                .position(|(i, parent)| i != j && is_parent_of(parent, child))
        })
        .collect()
}

fn is_parent_of(parent: &TreeImage<'_>, child: &TreeImage<'_>) -> bool {
    let layered = match (parent.layers.last(), child.layers.split_last()) {
        (Some(top), Some((child_top, below))) => child_top == top || below.last() == Some(top),
        // Images without layers relate only to each other.
        (None, None) => true,
        _ => false,
    };
    layered
        && child.diff_ids.starts_with(parent.diff_ids)
        && parent.history.len() + 1 == child.history.len()
        && child.history.starts_with(parent.history)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_label_step_sharing_the_top_layer_has_a_child() {
        let (l1, l2) = (s(&["a", "b"]), s(&["a", "b"]));
        let d = s(&["da", "db"]);
        let (h1, h2) = (s(&["import", "copy"]), s(&["import", "copy", "label"]));
        let imgs = [
            TreeImage {
                layers: &l1,
                diff_ids: &d,
                history: &h1,
            },
            TreeImage {
                layers: &l2,
                diff_ids: &d,
                history: &h2,
            },
        ];
        assert_eq!(has_child(&imgs), vec![true, false]);
    }

    #[test]
    fn a_grandchild_or_a_stranger_is_no_child() {
        let base = s(&["a"]);
        let grand = s(&["a", "b", "c"]);
        let other = s(&["a", "x"]);
        let (db, dg, dx) = (s(&["da"]), s(&["da", "db", "dc"]), s(&["da", "dx"]));
        let (hb, hg, hx) = (s(&["i"]), s(&["i", "1", "2"]), s(&["j", "x"]));
        let imgs = [
            TreeImage {
                layers: &base,
                diff_ids: &db,
                history: &hb,
            },
            TreeImage {
                layers: &grand,
                diff_ids: &dg,
                history: &hg,
            },
            // On the base's top layer but with another history: pulled, not built.
            TreeImage {
                layers: &other,
                diff_ids: &dx,
                history: &hx,
            },
        ];
        assert_eq!(has_child(&imgs), vec![false, false, false]);
    }

    #[test]
    fn a_direct_child_one_layer_up_counts() {
        let (p, c) = (s(&["a"]), s(&["a", "b"]));
        let (dp, dc) = (s(&["da"]), s(&["da", "db"]));
        let (hp, hc) = (s(&["i"]), s(&["i", "copy"]));
        let imgs = [
            TreeImage {
                layers: &c,
                diff_ids: &dc,
                history: &hc,
            },
            TreeImage {
                layers: &p,
                diff_ids: &dp,
                history: &hp,
            },
        ];
        assert_eq!(has_child(&imgs), vec![false, true]);
    }
}
