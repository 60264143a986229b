//! Alias lists: for each object that forwarding records lead to, where those
//! records are.
//!
//! An object's entry names its list (`Entry::aliases`). A ghost table appears
//! once per record it holds for the object; a live region's slot appears once
//! when a manual promotion left a forwarding record in it. When the object is
//! destroyed, each listed table loses a live target (see `ghost.rs`) and each
//! listed slot is freed, so forwarding records never outlive their object.
//! Lists are recycled through a free list, so steady-state promotion does not
//! allocate.

use alloc::vec::Vec;

use crate::handle::ObjectHandle;
use crate::pool::NO_ALIASES;

/// Where a forwarding record that leads to an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alias {
    /// Ghost table `index` holds a record for the object.
    Table(u32),
    /// This slot was the object's home; a manual promotion left a forwarding
    /// record in it. Stale once that region incarnation dies (its records
    /// then live in a ghost table, listed separately).
    Slot(ObjectHandle),
}

/// A slab of alias lists.
#[derive(Debug, Default)]
pub(crate) struct Aliases {
    /// `lists[id]` is the list of the entry whose `aliases == id`; free ids
    /// hold empty lists.
    lists: Vec<Vec<Alias>>,
    free: Vec<u32>,
}

impl Aliases {
    /// Whether no object has an alias list (so death can skip the scan).
    pub fn is_empty(&self) -> bool {
        self.lists.len() == self.free.len()
    }

    /// The aliases in list `id`.
    pub fn list(&self, id: u32) -> &[Alias] {
        self.lists.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// Number of list ids ever created, and the free ones.
    pub fn ids(&self) -> (usize, &[u32]) {
        (self.lists.len(), &self.free)
    }

    /// Makes sure the list `aliases` names exists and can take one more
    /// alias without allocating. `Err` if memory ran out (a list created
    /// here stays, empty and unobservable).
    pub fn reserve(&mut self, aliases: &mut u32) -> Result<(), ()> {
        if *aliases == NO_ALIASES {
            match self.free.pop() {
                Some(id) => *aliases = id,
                None => {
                    if self.lists.try_reserve(1).is_err() || self.lists.len() >= NO_ALIASES as usize
                    {
                        return Err(());
                    }
                    self.lists.push(Vec::new());
                    *aliases = self.lists.len() as u32 - 1;
                }
            }
        }
        self.lists[*aliases as usize].try_reserve(1).map_err(drop)
    }

    /// Adds `alias` to the list `aliases` names, creating it if needed.
    /// Returns `false` if memory ran out (nothing is added).
    pub fn add(&mut self, aliases: &mut u32, alias: Alias) -> bool {
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
        list.push(alias);
        true
    }

    /// Removes list `id` (of a destroyed object) and returns its aliases.
    pub fn take(&mut self, id: u32) -> Vec<Alias> {
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
