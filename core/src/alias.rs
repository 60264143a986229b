//! Alias lists: for each object that ghost tables forward to, which tables.
//!
//! An object's entry names its list (`Entry::aliases`); a table appears once
//! per record it holds for the object. When the object is destroyed, each
//! listed table loses a live target (see `ghost.rs`). Lists are recycled
//! through a free list, so steady-state promotion does not allocate.

use alloc::vec::Vec;

use crate::pool::NO_ALIASES;

/// A slab of alias lists.
#[derive(Debug, Default)]
pub(crate) struct Aliases {
    /// `lists[id]` is the list of the entry whose `aliases == id`; free ids
    /// hold empty lists.
    lists: Vec<Vec<u32>>,
    free: Vec<u32>,
}

impl Aliases {
    /// Whether no object has an alias list (so death can skip the scan).
    pub fn is_empty(&self) -> bool {
        self.lists.len() == self.free.len()
    }

    /// The tables in list `id`.
    pub fn list(&self, id: u32) -> &[u32] {
        self.lists.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// Number of list ids ever created, and the free ones.
    pub fn ids(&self) -> (usize, &[u32]) {
        (self.lists.len(), &self.free)
    }

    /// Adds `table` to the list `aliases` names, creating it if needed.
    /// Returns `false` (changing nothing) if memory ran out.
    pub fn add(&mut self, aliases: &mut u32, table: u32) -> bool {
        if *aliases == NO_ALIASES {
            match self.free.pop() {
                Some(id) => *aliases = id,
                None => {
                    if self.lists.try_reserve(1).is_err() || self.lists.len() >= NO_ALIASES as usize
                    {
                        return false;
                    }
                    self.lists.push(Vec::new());
                    *aliases = self.lists.len() as u32 - 1;
                }
            }
        }
        let list = &mut self.lists[*aliases as usize];
        if list.try_reserve(1).is_err() {
            if list.is_empty() {
                self.free.push(*aliases);
                *aliases = NO_ALIASES;
            }
            return false;
        }
        list.push(table);
        true
    }

    /// Removes list `id` (of a destroyed object) and returns its tables.
    pub fn take(&mut self, id: u32) -> Vec<u32> {
        if id == NO_ALIASES {
            return Vec::new();
        }
        let list = core::mem::take(&mut self.lists[id as usize]);
        // The slot is reused only if the free list can grow; never fails.
        if self.free.try_reserve(1).is_ok() {
            self.free.push(id);
        }
        list
    }
}
