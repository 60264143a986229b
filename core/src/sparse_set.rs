//! A sparse set of `u32` ids: O(1) insert, remove and membership, and a dense
//! array for iteration.
//!
//! `sparse[id]` is the position of `id` in `dense` (or [`ABSENT`]); `dense`
//! is packed. Removal swaps the last id into the hole, so positions move but
//! `dense` stays packed; callers that keep a parallel packed array (the pool)
//! apply the same `swap_remove`.

use alloc::collections::TryReserveError;
use alloc::vec::Vec;

/// Marks an id with no position.
const ABSENT: u32 = u32::MAX;

/// A set of small integer ids with a packed member array.
#[derive(Debug, Default)]
pub(crate) struct SparseSet {
    /// `sparse[id]` = position of `id` in `dense`, or `ABSENT`. Only
    /// meaningful when `dense[sparse[id]] == id`.
    sparse: Vec<u32>,
    /// The members, packed, in no particular order.
    dense: Vec<u32>,
}

/// What [`SparseSet::remove`] did to the packed array.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Removal {
    /// The position the removed id had.
    pub position: u32,
    /// The id that was moved into `position` (the former last member), if any.
    pub moved: Option<u32>,
}

impl SparseSet {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.dense.len()
    }

    /// Whether the set has no members.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.dense.is_empty()
    }

    /// The members, packed.
    pub fn members(&self) -> &[u32] {
        &self.dense
    }

    /// The position of `id` in [`members`](Self::members), if it is a member.
    #[inline]
    pub fn position(&self, id: u32) -> Option<u32> {
        let position = *self.sparse.get(id as usize)?;
        match self.dense.get(position as usize) {
            Some(&member) if member == id => Some(position),
            _ => None,
        }
    }

    /// The position of `id`, which the caller knows to be a member (one load
    /// instead of two).
    #[inline]
    pub fn position_of_member(&self, id: u32) -> u32 {
        let position = self.sparse[id as usize];
        debug_assert_eq!(
            self.dense.get(position as usize),
            Some(&id),
            "{id} is not a member"
        );
        position
    }

    /// Whether `id` is a member.
    pub fn contains(&self, id: u32) -> bool {
        self.position(id).is_some()
    }

    /// Makes room so that inserting any id below `id_bound`, `additional`
    /// times, cannot allocate.
    #[inline]
    pub fn try_reserve(
        &mut self,
        id_bound: usize,
        additional: usize,
    ) -> Result<(), TryReserveError> {
        self.sparse
            .try_reserve(id_bound.saturating_sub(self.sparse.len()))?;
        self.dense.try_reserve(additional)
    }

    /// Inserts `id`, which must not be a member, and returns its position
    /// (always the last one).
    #[inline]
    pub fn insert(&mut self, id: u32) -> u32 {
        debug_assert!(!self.contains(id), "sparse set: {id} inserted twice");
        let index = id as usize;
        if index >= self.sparse.len() {
            self.sparse.resize(index + 1, ABSENT);
        }
        let position = self.dense.len() as u32;
        self.sparse[index] = position;
        self.dense.push(id);
        position
    }

    /// Removes `id` if it is a member, by swapping the last member into its place.
    #[inline]
    pub fn remove(&mut self, id: u32) -> Option<Removal> {
        let position = self.position(id)?;
        self.dense.swap_remove(position as usize);
        self.sparse[id as usize] = ABSENT;
        let moved = self.dense.get(position as usize).copied();
        if let Some(moved_id) = moved {
            self.sparse[moved_id as usize] = position;
        }
        Some(Removal { position, moved })
    }

    /// Checks that `sparse` and `dense` describe the same set; returns a
    /// description of the first disagreement.
    pub fn check(&self) -> Result<(), alloc::string::String> {
        use alloc::format;
        for (position, &id) in self.dense.iter().enumerate() {
            match self.sparse.get(id as usize) {
                Some(&p) if p as usize == position => {}
                other => {
                    return Err(format!(
                        "member {id} at position {position} has sparse entry {other:?}"
                    ))
                }
            }
        }
        let mapped = self
            .sparse
            .iter()
            .enumerate()
            .filter(|&(id, &p)| self.dense.get(p as usize) == Some(&(id as u32)))
            .count();
        if mapped != self.dense.len() {
            return Err(format!(
                "{mapped} sparse entries map into {} members",
                self.dense.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_set_contains_nothing() {
        let set = SparseSet::default();
        assert!(set.is_empty());
        assert!(!set.contains(0));
        assert!(!set.contains(u32::MAX - 1));
        assert_eq!(set.position(3), None);
        set.check().unwrap();
    }

    #[test]
    fn single_member_insert_contains_remove() {
        let mut set = SparseSet::default();
        assert_eq!(set.insert(5), 0);
        assert!(set.contains(5));
        assert!(!set.contains(4));
        assert_eq!(set.members(), &[5]);
        assert_eq!(
            set.remove(5),
            Some(Removal {
                position: 0,
                moved: None
            })
        );
        assert!(!set.contains(5));
        assert_eq!(set.remove(5), None);
        set.check().unwrap();
    }

    #[test]
    fn removal_moves_the_last_member_into_the_hole() {
        let mut set = SparseSet::default();
        for id in [10, 20, 30] {
            set.insert(id);
        }
        assert_eq!(
            set.remove(10),
            Some(Removal {
                position: 0,
                moved: Some(30)
            })
        );
        assert_eq!(set.members(), &[30, 20]);
        assert_eq!(set.position(30), Some(0));
        set.check().unwrap();
    }

    #[test]
    fn stale_sparse_entries_do_not_count_as_members() {
        let mut set = SparseSet::default();
        set.insert(1);
        set.insert(2);
        set.remove(1);
        // sparse[1] still holds an old position value that now points at 2.
        assert!(!set.contains(1));
        assert!(set.contains(2));
    }

    #[test]
    fn many_members_against_a_simple_oracle() {
        let mut set = SparseSet::default();
        let mut oracle = alloc::collections::BTreeSet::new();
        let mut x: u32 = 12345;
        let rounds = if cfg!(miri) { 300 } else { 20_000 };
        for _ in 0..rounds {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let id = (x >> 8) % 512;
            if oracle.contains(&id) {
                assert!(set.remove(id).is_some());
                oracle.remove(&id);
            } else {
                set.insert(id);
                oracle.insert(id);
            }
            assert_eq!(set.len(), oracle.len());
        }
        for id in 0..512 {
            assert_eq!(set.contains(id), oracle.contains(&id), "id {id}");
        }
        set.check().unwrap();
    }
}
