//! A static 2-d KD-tree over float32 coordinates: a port of the JavaScript `kdbush` 4.x that
//! supercluster 8.0.1 builds with `new KDBush(n, nodeSize, Float32Array)`.
//!
//! Clusters come out of supercluster in the order this index returns them, so the port keeps
//! everything that decides that order: the Floyd-Rivest selection with its exact swap sequence,
//! the median split, the leaf size, and the depth-first traversal that visits the right half
//! of a node before the left half (the JavaScript pushes left, then right, onto a stack).

/// The smallest and largest leaf sizes kdbush accepts (`Math.min(Math.max(nodeSize, 2), 65535)`).
const NODE_SIZE_RANGE: (usize, usize) = (2, 65535);

/// Above this many items, `select` first recurses into a sample (Floyd-Rivest).
const FLOYD_RIVEST_CUTOFF: isize = 600;

use super::jsmath;

/// One node waiting on the traversal stack: the slice `left..=right`, split on `axis`.
type Frame = (usize, usize, usize);

pub(crate) struct KdBush {
    node_size: usize,
    /// For each sorted slot, the insertion index of the item stored there.
    ids: Vec<usize>,
    /// Interleaved x, y per sorted slot, rounded to float32 like the `Float32Array` in JavaScript.
    coords: Vec<f32>,
}

impl KdBush {
    /// Indexes `points` (projected x, y); item `i` of the iterator gets id `i`.
    pub(crate) fn build(points: impl ExactSizeIterator<Item = (f64, f64)>, node_size: usize) -> Self {
        let mut ids = Vec::with_capacity(points.len());
        let mut coords = Vec::with_capacity(points.len() * 2);
        for (id, (x, y)) in points.enumerate() {
            ids.push(id);
            coords.push(x as f32);
            coords.push(y as f32);
        }
        let mut index = Self {
            node_size: node_size.clamp(NODE_SIZE_RANGE.0, NODE_SIZE_RANGE.1),
            ids,
            coords,
        };
        let last = index.ids.len() as isize - 1;
        index.sort(0, last, 0);
        index
    }

    /// Ids of the items with `min_x <= x <= max_x` and `min_y <= y <= max_y`, in kdbush's order.
    pub(crate) fn range(&self, min_x: f64, min_y: f64, max_x: f64, max_y: f64) -> Vec<usize> {
        let inside = |x: f64, y: f64| x >= min_x && x <= max_x && y >= min_y && y <= max_y;
        let mut found = Vec::new();
        self.search(
            inside,
            |axis, split| {
                if axis == 0 {
                    (min_x <= split, max_x >= split)
                } else {
                    (min_y <= split, max_y >= split)
                }
            },
            &mut found,
        );
        found
    }

    /// Ids of the items at Euclidean distance `<= r` from (`qx`, `qy`), in kdbush's order.
    ///
    /// The distance is computed in f64 between the float32 stored coordinates and the f64
    /// query point, and compared squared against `r * r` — exactly as the JavaScript does.
    #[cfg(test)]
    pub(crate) fn within(&self, qx: f64, qy: f64, r: f64) -> Vec<usize> {
        let mut found = Vec::new();
        self.within_into(qx, qy, r, &mut found);
        found
    }

    /// [`KdBush::within`] into `found` (cleared first): clustering asks once per record of a
    /// level, and reusing one buffer saves an allocation per question.
    pub(crate) fn within_into(&self, qx: f64, qy: f64, r: f64, found: &mut Vec<usize>) {
        let r2 = r * r;
        let inside = |x: f64, y: f64| {
            let dx = x - qx;
            let dy = y - qy;
            dx * dx + dy * dy <= r2
        };
        self.search(
            inside,
            |axis, split| {
                if axis == 0 {
                    (qx - r <= split, qx + r >= split)
                } else {
                    (qy - r <= split, qy + r >= split)
                }
            },
            found,
        );
    }

    /// The traversal shared by `range` and `within`. `visit_halves(axis, split)` says whether
    /// the query reaches the lower and the upper half of a node split at `split` on `axis`.
    /// The found ids go into `result`, which is cleared first.
    fn search(
        &self,
        inside: impl Fn(f64, f64) -> bool,
        visit_halves: impl Fn(usize, f64) -> (bool, bool),
        result: &mut Vec<usize>,
    ) {
        result.clear();
        if self.ids.is_empty() {
            return;
        }
        let mut stack: Vec<Frame> = vec![(0, self.ids.len() - 1, 0)];
        while let Some((left, right, axis)) = stack.pop() {
            if right - left <= self.node_size {
                for i in left..=right {
                    if inside(self.x(i), self.y(i)) {
                        result.push(self.ids[i]);
                    }
                }
                continue;
            }
            // Inner nodes hold more than node_size (>= 2) items, so left < m < right.
            let m = (left + right) >> 1;
            if inside(self.x(m), self.y(m)) {
                result.push(self.ids[m]);
            }
            let (lower, upper) = visit_halves(axis, self.coord(m, axis));
            // Pushed lower first so the upper half is popped (and reported) first, like kdbush.
            if lower {
                stack.push((left, m - 1, 1 - axis));
            }
            if upper {
                stack.push((m + 1, right, 1 - axis));
            }
        }
    }

    fn x(&self, slot: usize) -> f64 {
        self.coord(slot, 0)
    }

    fn y(&self, slot: usize) -> f64 {
        self.coord(slot, 1)
    }

    fn coord(&self, slot: usize, axis: usize) -> f64 {
        f64::from(self.coords[2 * slot + axis])
    }

    /// kd-sorts `left..=right`: median on `axis` in the middle, halves sorted on the other axis.
    /// Signed indices: an empty index sorts `0..=-1`, and `select` can move `right` to `left - 1`.
    fn sort(&mut self, left: isize, right: isize, axis: usize) {
        if right - left <= self.node_size as isize {
            return;
        }
        let m = (left + right) >> 1;
        self.select(m, left, right, axis);
        self.sort(left, m - 1, 1 - axis);
        self.sort(m + 1, right, 1 - axis);
    }

    /// Floyd-Rivest selection: afterwards slot `k` holds the k-th smallest on `axis`, smaller
    /// items are before it and larger ones after. Ported statement by statement, because the
    /// order items end up in within each half decides the order of query results.
    fn select(&mut self, k: isize, mut left: isize, mut right: isize, axis: usize) {
        while right > left {
            if right - left > FLOYD_RIVEST_CUTOFF {
                let n = (right - left + 1) as f64;
                let m = (k - left + 1) as f64;
                // V8's Math.log/exp: the sample bounds steer the swaps, hence the result order.
                let z = jsmath::log(n);
                let s = 0.5 * jsmath::exp(2.0 * z / 3.0);
                let sign = if m - n / 2.0 < 0.0 { -1.0 } else { 1.0 };
                let sd = 0.5 * (z * s * (n - s) / n).sqrt() * sign;
                let new_left = left.max((k as f64 - m * s / n + sd).floor() as isize);
                let new_right = right.min((k as f64 + (n - m) * s / n + sd).floor() as isize);
                self.select(k, new_left, new_right, axis);
            }

            let t = self.at(k, axis);
            let mut i = left;
            let mut j = right;

            self.swap_items(left, k);
            if self.at(right, axis) > t {
                self.swap_items(left, right);
            }

            while i < j {
                self.swap_items(i, j);
                i += 1;
                j -= 1;
                while self.at(i, axis) < t {
                    i += 1;
                }
                while self.at(j, axis) > t {
                    j -= 1;
                }
            }

            if self.at(left, axis) == t {
                self.swap_items(left, j);
            } else {
                j += 1;
                self.swap_items(j, right);
            }

            if j <= k {
                left = j + 1;
            }
            if k <= j {
                right = j - 1;
            }
        }
    }

    fn at(&self, slot: isize, axis: usize) -> f32 {
        self.coords[2 * slot as usize + axis]
    }

    fn swap_items(&mut self, a: isize, b: isize) {
        let (a, b) = (a as usize, b as usize);
        self.ids.swap(a, b);
        self.coords.swap(2 * a, 2 * b);
        self.coords.swap(2 * a + 1, 2 * b + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of points (no PRNG dependency needed).
    fn scattered(n: usize) -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| (((i * 7919) % 1000) as f64 / 1000.0, ((i * 104729) % 997) as f64 / 997.0))
            .collect()
    }

    fn sorted(mut ids: Vec<usize>) -> Vec<usize> {
        ids.sort_unstable();
        ids
    }

    #[test]
    fn range_and_within_find_exactly_the_brute_force_sets() {
        // 2000 items: the Floyd-Rivest branch (> 600) and several tree levels are used.
        let points = scattered(2000);
        let index = KdBush::build(points.iter().copied(), 16);
        let as_f32 = |v: f64| f64::from(v as f32);

        let expected: Vec<usize> = (0..points.len())
            .filter(|&i| {
                let (x, y) = (as_f32(points[i].0), as_f32(points[i].1));
                (0.2..=0.45).contains(&x) && (0.1..=0.3).contains(&y)
            })
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(sorted(index.range(0.2, 0.1, 0.45, 0.3)), expected);

        let (qx, qy, r) = (0.5, 0.5, 0.07);
        let expected: Vec<usize> = (0..points.len())
            .filter(|&i| {
                let (dx, dy) = (as_f32(points[i].0) - qx, as_f32(points[i].1) - qy);
                dx * dx + dy * dy <= r * r
            })
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(sorted(index.within(qx, qy, r)), expected);
    }

    #[test]
    fn empty_index_finds_nothing() {
        let index = KdBush::build(std::iter::empty(), 64);
        assert!(index.range(0.0, 0.0, 1.0, 1.0).is_empty());
        assert!(index.within(0.5, 0.5, 1.0).is_empty());
    }

    #[test]
    fn leaf_size_is_clamped_like_kdbush() {
        assert_eq!(KdBush::build(std::iter::empty(), 0).node_size, 2);
        assert_eq!(KdBush::build(std::iter::empty(), 100_000).node_size, 65535);
    }
}
