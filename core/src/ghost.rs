//! Ghost tables: the forwarding records of dead regions.
//!
//! When a region dies, the forwarding records of its slot table (objects it
//! promoted, by hand or by its death) become a ghost table keyed by the dead
//! region's `(id, generation)`. A global hash index makes finding the table of
//! a handle O(1) however many tables exist. Each table hangs off a *host*
//! region (first the dead region's parent); when the host dies, its tables pass
//! to its parent by splicing one linked list onto another in O(1).

use alloc::vec::Vec;

use hashbrown::HashMap;

use crate::error::{Error, Result};
use crate::handle::{ObjectHandle, RegionHandle};

/// Marks the end of a host list.
const NO_TABLE: u32 = u32::MAX;

/// Where a handle of a dead slot goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ForwardRecord {
    /// The slot generation old handles carry.
    pub slot_generation: u32,
    /// A newer handle of the same object (compressed to its home on `resolve`).
    pub target: ObjectHandle,
}

/// The forwarding records of one dead region incarnation.
#[derive(Debug)]
pub(crate) struct GhostTable {
    /// The dead region incarnation whose handles this table answers for.
    pub source: RegionHandle,
    /// Records by slot id.
    pub records: HashMap<u32, ForwardRecord>,
    /// Next table with the same host, or `NO_TABLE`.
    next_in_host: u32,
}

/// The ghost tables a region hosts: a singly linked list through the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HostedGhosts {
    head: u32,
    tail: u32,
    len: u32,
}

impl Default for HostedGhosts {
    fn default() -> Self {
        HostedGhosts {
            head: NO_TABLE,
            tail: NO_TABLE,
            len: 0,
        }
    }
}

impl HostedGhosts {
    /// Number of tables hosted.
    pub fn len(&self) -> u32 {
        self.len
    }
}

/// Every ghost table of a registry, plus the O(1) index.
#[derive(Debug, Default)]
pub(crate) struct Ghosts {
    tables: Vec<GhostTable>,
    /// `(region id, region generation)` → index in `tables`.
    index: HashMap<(u32, u32), u32>,
}

impl Ghosts {
    /// The number of ghost tables.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// The record for `handle`'s slot, if `handle`'s region incarnation is
    /// dead and forwarded that slot at that generation.
    #[inline]
    pub fn lookup(&self, handle: ObjectHandle) -> Option<&ForwardRecord> {
        let region = handle.region();
        let index = *self.index.get(&(region.id(), region.generation()))?;
        let record = self.tables[index as usize].records.get(&handle.slot())?;
        (record.slot_generation == handle.slot_generation()).then_some(record)
    }

    /// Mutable access to the record [`lookup`](Self::lookup) finds.
    pub fn lookup_mut(&mut self, handle: ObjectHandle) -> Option<&mut ForwardRecord> {
        let region = handle.region();
        let index = *self.index.get(&(region.id(), region.generation()))?;
        let record = self.tables[index as usize]
            .records
            .get_mut(&handle.slot())?;
        (record.slot_generation == handle.slot_generation()).then_some(record)
    }

    /// Makes room for one more table, so that [`add`](Self::add) cannot fail.
    pub fn try_reserve_one(&mut self) -> Result<()> {
        let oom = |_| Error::OutOfMemory {
            requested: core::mem::size_of::<GhostTable>(),
        };
        self.tables.try_reserve(1).map_err(oom)?;
        self.index.try_reserve(1).map_err(|_| Error::OutOfMemory {
            requested: core::mem::size_of::<(u32, u32, u32)>(),
        })
    }

    /// Adds the table of dead incarnation `source` to `host`'s list.
    /// Capacity must have been reserved.
    pub fn add(
        &mut self,
        host: &mut HostedGhosts,
        source: RegionHandle,
        records: HashMap<u32, ForwardRecord>,
    ) {
        let index = self.tables.len() as u32;
        debug_assert!(!self.index.contains_key(&(source.id(), source.generation())));
        self.tables.push(GhostTable {
            source,
            records,
            next_in_host: NO_TABLE,
        });
        self.index.insert((source.id(), source.generation()), index);
        self.splice(
            host,
            HostedGhosts {
                head: index,
                tail: index,
                len: 1,
            },
        );
    }

    /// Appends the list `moved` to `host` in O(1).
    pub fn splice(&mut self, host: &mut HostedGhosts, moved: HostedGhosts) {
        if moved.len == 0 {
            return;
        }
        if host.len == 0 {
            *host = moved;
        } else {
            self.tables[host.tail as usize].next_in_host = moved.head;
            host.tail = moved.tail;
            host.len += moved.len;
        }
    }

    /// The tables on a host list, in order.
    pub fn hosted<'a>(
        &'a self,
        host: &HostedGhosts,
    ) -> impl Iterator<Item = (u32, &'a GhostTable)> + 'a {
        let mut cursor = host.head;
        let mut remaining = host.len;
        core::iter::from_fn(move || {
            if remaining == 0 || cursor == NO_TABLE {
                return None;
            }
            remaining -= 1;
            let index = cursor;
            let table = self.tables.get(index as usize)?;
            cursor = table.next_in_host;
            Some((index, table))
        })
    }

    /// Checks the index against the tables; each table must be indexed under
    /// its source exactly once. Host lists are checked by the registry.
    pub fn check(&self, problems: &mut Vec<alloc::string::String>) {
        use alloc::format;
        if self.index.len() != self.tables.len() {
            problems.push(format!(
                "{} ghost index entries for {} tables",
                self.index.len(),
                self.tables.len()
            ));
        }
        for (index, table) in self.tables.iter().enumerate() {
            let key = (table.source.id(), table.source.generation());
            if self.index.get(&key) != Some(&(index as u32)) {
                problems.push(format!(
                    "ghost table {index} of {} is not indexed under it",
                    table.source
                ));
            }
            if let Some((slot, _)) = table
                .records
                .iter()
                .find(|(_, r)| r.target.region() == table.source)
            {
                problems.push(format!(
                    "ghost table {index} forwards slot {slot} into its own dead region"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(slot: u32, generation: u32, target: ObjectHandle) -> HashMap<u32, ForwardRecord> {
        let mut map = HashMap::new();
        map.insert(
            slot,
            ForwardRecord {
                slot_generation: generation,
                target,
            },
        );
        map
    }

    #[test]
    fn lookup_matches_region_incarnation_slot_and_generation() {
        let mut ghosts = Ghosts::default();
        let mut host = HostedGhosts::default();
        let target = ObjectHandle::from_raw_parts(0, 0, 7, 0);
        ghosts.try_reserve_one().unwrap();
        ghosts.add(
            &mut host,
            RegionHandle::from_raw_parts(3, 1),
            records(5, 2, target),
        );
        let hit = ObjectHandle::from_raw_parts(3, 1, 5, 2);
        assert_eq!(ghosts.lookup(hit).map(|r| r.target), Some(target));
        for miss in [
            ObjectHandle::from_raw_parts(3, 2, 5, 2),
            ObjectHandle::from_raw_parts(4, 1, 5, 2),
            ObjectHandle::from_raw_parts(3, 1, 6, 2),
            ObjectHandle::from_raw_parts(3, 1, 5, 3),
        ] {
            assert!(ghosts.lookup(miss).is_none(), "{miss}");
        }
    }

    #[test]
    fn splicing_moves_every_hosted_table() {
        let mut ghosts = Ghosts::default();
        let (mut a, mut b) = (HostedGhosts::default(), HostedGhosts::default());
        let target = ObjectHandle::from_raw_parts(0, 0, 0, 0);
        for id in 1..=3 {
            ghosts.try_reserve_one().unwrap();
            ghosts.add(
                &mut a,
                RegionHandle::from_raw_parts(id, 0),
                records(0, 0, target),
            );
        }
        ghosts.try_reserve_one().unwrap();
        ghosts.add(
            &mut b,
            RegionHandle::from_raw_parts(9, 0),
            records(0, 0, target),
        );
        ghosts.splice(&mut b, a);
        let sources: Vec<u32> = ghosts.hosted(&b).map(|(_, t)| t.source.id()).collect();
        assert_eq!(sources, [9, 1, 2, 3]);
        assert_eq!(b.len(), 4);
        let mut problems = Vec::new();
        ghosts.check(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
