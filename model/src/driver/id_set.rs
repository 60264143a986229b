//! A sorted set of ids that holds a few without allocating.
//!
//! Each op touches a handful of regions and objects (its operands, their
//! homes, what it moved), and the driver checks each of them after the op.
//! Kept in `BTreeSet`s, the two touched sets cost an allocation each on
//! almost every op, which under the fuzz target's AddressSanitizer is one
//! of the larger costs of an execution (docs/TESTING.md, "Throughput").
//! This set keeps up to [`INLINE`] ids in place and moves to a `BTreeSet`
//! only beyond that (a bulk allocation, a region's death with many
//! objects).

use std::collections::BTreeSet;

/// How many ids an [`IdSet`] holds without allocating.
pub const INLINE: usize = 8;

/// A set of ids, iterated in ascending order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdSet<T> {
    /// While `large` is empty: the ids, ascending, in the first `len`
    /// entries (all `Some`); the rest `None`.
    small: [Option<T>; INLINE],
    len: usize,
    /// Every id, once the set has outgrown `small` (which is then empty).
    large: BTreeSet<T>,
}

impl<T: Copy + Ord> Default for IdSet<T> {
    fn default() -> Self {
        IdSet {
            small: [None; INLINE],
            len: 0,
            large: BTreeSet::new(),
        }
    }
}

impl<T: Copy + Ord> IdSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `id`; returns whether it was new.
    pub fn insert(&mut self, id: T) -> bool {
        if !self.large.is_empty() {
            return self.large.insert(id);
        }
        match self.small[..self.len].binary_search(&Some(id)) {
            Ok(_) => false,
            Err(at) if self.len < INLINE => {
                // `small[len]` is `None`; the rotation moves it to `at`.
                self.small[at..=self.len].rotate_right(1);
                self.small[at] = Some(id);
                self.len += 1;
                true
            }
            Err(_) => {
                self.large = self.small.iter().flatten().copied().collect();
                self.small = [None; INLINE];
                self.len = 0;
                self.large.insert(id)
            }
        }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &T) -> bool {
        self.small[..self.len].binary_search(&Some(*id)).is_ok() || self.large.contains(id)
    }

    /// The ids, ascending.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        let small = self.small[..self.len].iter().flatten().copied();
        small.chain(self.large.iter().copied())
    }
}

impl<T: Copy + Ord> Extend<T> for IdSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, ids: I) {
        for id in ids {
            self.insert(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a `BTreeSet` fed the same ids, across the move from the
    /// inline entries to the tree: same members, same order, same answers.
    #[test]
    fn behaves_like_a_btree_set() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for round in 0..200 {
            let (mut set, mut expected) = (IdSet::new(), BTreeSet::new());
            let count = round % (3 * INLINE);
            let spread = 1 + round as u64 % 24;
            for _ in 0..count {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let id = state % spread;
                assert_eq!(set.insert(id), expected.insert(id), "insert {id}");
                assert_eq!(set.iter().count(), expected.len());
            }
            assert!(set.iter().eq(expected.iter().copied()));
            for id in 0..spread + 1 {
                assert_eq!(set.contains(&id), expected.contains(&id), "contains {id}");
            }
        }
    }

    #[test]
    fn extend_keeps_order_and_drops_repeats() {
        let mut set = IdSet::new();
        set.extend([5u64, 1, 5, 3, 1]);
        assert_eq!(set.iter().collect::<Vec<_>>(), [1, 3, 5]);
        set.extend(10..20);
        assert_eq!(set.iter().count(), 13);
        assert!(set.iter().eq([1, 3, 5].into_iter().chain(10..20)));
    }
}
