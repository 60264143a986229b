//! Ghost tables: the forwarding records of dead regions.
//!
//! When a region dies, the forwarding records of its slot table (objects it
//! promoted, by hand or by its death) become a ghost table keyed by the dead
//! region's `(id, generation)`. A global hash index makes finding the table of
//! a handle O(1) however many tables exist.
//!
//! Each table hangs off a *host* region (first the dead region's parent):
//! tables are grouped in host lists, and a region owns one list. When the host
//! dies its list merges into its parent's, smaller into larger, so a table
//! changes list O(log n) times over its life.
//!
//! A table is freed once nothing it forwards to is alive: it counts its
//! records whose object is alive (`live_targets`), and every object lists the
//! tables that forward to it (`alias.rs`), so an object's destruction
//! decrements exactly the right counts.

use alloc::vec::Vec;

use hashbrown::HashMap;

use crate::error::{Error, Result};
use crate::handle::{ObjectHandle, RegionHandle};

/// A region with no host list yet.
pub(crate) const NO_HOST_LIST: u32 = u32::MAX;

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
    /// Records whose object is alive; the table is freed when it reaches 0.
    pub live_targets: u32,
    /// Set when an object's alias list could not grow (out of memory): the
    /// table is then never freed, which is safe, merely wasteful.
    pub pinned: bool,
    /// The host list holding this table, and its position there.
    host_list: u32,
    host_position: u32,
}

/// Every ghost table of a registry, the O(1) index, and the host lists.
#[derive(Debug, Default)]
pub(crate) struct Ghosts {
    /// Slab of tables; `None` slots are on `free_tables`.
    tables: Vec<Option<GhostTable>>,
    free_tables: Vec<u32>,
    /// `(region id, region generation)` → index in `tables`.
    index: HashMap<(u32, u32), u32>,
    /// Host lists: table indices. A list id is owned by one live region or free.
    host_lists: Vec<Vec<u32>>,
    free_host_lists: Vec<u32>,
}

fn oom<T>(count: usize) -> Error {
    Error::OutOfMemory {
        requested: count.saturating_mul(core::mem::size_of::<T>()),
    }
}

impl Ghosts {
    /// The number of live ghost tables.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The number of tables on host list `list` (0 for `NO_HOST_LIST`).
    pub fn hosted_len(&self, list: u32) -> usize {
        self.host_lists.get(list as usize).map_or(0, Vec::len)
    }

    fn table(&self, handle: ObjectHandle) -> Option<u32> {
        let region = handle.region();
        self.index.get(&(region.id(), region.generation())).copied()
    }

    /// The record for `handle`'s slot, if `handle`'s region incarnation is
    /// dead and forwarded that slot at that generation.
    #[inline]
    pub fn lookup(&self, handle: ObjectHandle) -> Option<&ForwardRecord> {
        let table = self.tables[self.table(handle)? as usize].as_ref()?;
        let record = table.records.get(&handle.slot())?;
        (record.slot_generation == handle.slot_generation()).then_some(record)
    }

    /// Mutable access to the record [`lookup`](Self::lookup) finds.
    pub fn lookup_mut(&mut self, handle: ObjectHandle) -> Option<&mut ForwardRecord> {
        let index = self.table(handle)?;
        let table = self.tables[index as usize].as_mut()?;
        let record = table.records.get_mut(&handle.slot())?;
        (record.slot_generation == handle.slot_generation()).then_some(record)
    }

    /// Makes room for one more table, so that [`insert`](Self::insert) cannot
    /// fail; returns the index it will use.
    pub fn reserve_table(&mut self) -> Result<u32> {
        self.index
            .try_reserve(1)
            .map_err(|_| oom::<(u32, u32, u32)>(1))?;
        match self.free_tables.last() {
            Some(&index) => Ok(index),
            None => {
                self.tables
                    .try_reserve(1)
                    .map_err(|_| oom::<GhostTable>(1))?;
                Ok(self.tables.len() as u32)
            }
        }
    }

    /// Makes sure `host` (a region's list id) names a list, and that the
    /// lists of `host` and `dying` can absorb each other plus one new table.
    pub fn reserve_host(&mut self, host: &mut u32, dying: u32) -> Result<()> {
        if *host == NO_HOST_LIST {
            let list = match self.free_host_lists.pop() {
                Some(list) => list,
                None => {
                    self.host_lists
                        .try_reserve(1)
                        .map_err(|_| oom::<Vec<u32>>(1))?;
                    self.host_lists.push(Vec::new());
                    self.host_lists.len() as u32 - 1
                }
            };
            *host = list;
        }
        let (host_len, dying_len) = (self.hosted_len(*host), self.hosted_len(dying));
        self.host_lists[*host as usize]
            .try_reserve(dying_len + 1)
            .map_err(|_| oom::<u32>(dying_len + 1))?;
        if let Some(list) = self.host_lists.get_mut(dying as usize) {
            list.try_reserve(host_len + 1)
                .map_err(|_| oom::<u32>(host_len + 1))?;
        }
        Ok(())
    }

    /// Adds the table of dead incarnation `source` to host list `host`, at the
    /// index [`reserve_table`](Self::reserve_table) returned.
    pub fn insert(
        &mut self,
        host: u32,
        source: RegionHandle,
        records: HashMap<u32, ForwardRecord>,
        live_targets: u32,
        pinned: bool,
    ) -> u32 {
        let list = &mut self.host_lists[host as usize];
        let table = GhostTable {
            source,
            records,
            live_targets,
            pinned,
            host_list: host,
            host_position: list.len() as u32,
        };
        let index = match self.free_tables.pop() {
            Some(index) => {
                self.tables[index as usize] = Some(table);
                index
            }
            None => {
                self.tables.push(Some(table));
                self.tables.len() as u32 - 1
            }
        };
        list.push(index);
        let previous = self.index.insert((source.id(), source.generation()), index);
        debug_assert!(previous.is_none(), "{source} got a second ghost table");
        index
    }

    /// Merges host list `dying` into `host` (capacity reserved), smaller into
    /// larger; `host` ends up naming the merged list.
    pub fn merge_hosts(&mut self, host: &mut u32, dying: u32) {
        if dying == NO_HOST_LIST {
            return;
        }
        if *host == NO_HOST_LIST {
            *host = dying;
            return;
        }
        let (big, small) = if self.hosted_len(*host) >= self.hosted_len(dying) {
            (*host, dying)
        } else {
            (dying, *host)
        };
        let moved = core::mem::take(&mut self.host_lists[small as usize]);
        for table_index in moved {
            let list = &mut self.host_lists[big as usize];
            let table = self.tables[table_index as usize]
                .as_mut()
                .expect("listed table is live");
            table.host_list = big;
            table.host_position = list.len() as u32;
            list.push(table_index);
        }
        self.free_host_lists.push(small);
        *host = big;
    }

    /// Records that an object table `index` forwards to has been destroyed;
    /// frees the table when it forwards to nothing alive.
    pub fn release_target(&mut self, index: u32) {
        let table = self.tables[index as usize]
            .as_mut()
            .expect("aliased table is live");
        table.live_targets -= 1;
        if table.live_targets > 0 || table.pinned {
            return;
        }
        let table = self.tables[index as usize].take().expect("checked above");
        self.index
            .remove(&(table.source.id(), table.source.generation()));
        let list = &mut self.host_lists[table.host_list as usize];
        list.swap_remove(table.host_position as usize);
        if let Some(&moved) = list.get(table.host_position as usize) {
            self.tables[moved as usize]
                .as_mut()
                .expect("listed table is live")
                .host_position = table.host_position;
        }
        // Freeing never fails: if the free list cannot grow, the slot is not reused.
        if self.free_tables.try_reserve(1).is_ok() {
            self.free_tables.push(index);
        }
    }

    /// Every live table with its index.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &GhostTable)> {
        self.tables
            .iter()
            .enumerate()
            .filter_map(|(index, table)| Some((index as u32, table.as_ref()?)))
    }

    /// Checks the index, the slab and the host lists against each other.
    /// Which lists belong to which region, and the live-target counts, are
    /// checked by the registry.
    pub fn check(&self, problems: &mut Vec<alloc::string::String>) {
        use alloc::format;
        let live = self.tables.iter().filter(|t| t.is_some()).count();
        if self.index.len() != live {
            problems.push(format!(
                "{} ghost index entries for {live} tables",
                self.index.len()
            ));
        }
        for (index, table) in self.iter() {
            let key = (table.source.id(), table.source.generation());
            if self.index.get(&key) != Some(&index) {
                problems.push(format!(
                    "ghost table {index} of {} is not indexed under it",
                    table.source
                ));
            }
            if self
                .host_lists
                .get(table.host_list as usize)
                .and_then(|l| l.get(table.host_position as usize))
                != Some(&index)
            {
                problems.push(format!(
                    "ghost table {index} is not at its host list position"
                ));
            }
            if table.live_targets == 0 && !table.pinned {
                problems.push(format!(
                    "ghost table {index} forwards to nothing alive but was kept"
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
        let listed: usize = self.host_lists.iter().map(Vec::len).sum();
        if listed != live {
            problems.push(format!("{listed} host list entries for {live} tables"));
        }
        for &list in &self.free_host_lists {
            if self
                .host_lists
                .get(list as usize)
                .map_or(true, |l| !l.is_empty())
            {
                problems.push(format!("free host list {list} is not empty"));
            }
        }
        for &index in &self.free_tables {
            if self
                .tables
                .get(index as usize)
                .map_or(true, Option::is_some)
            {
                problems.push(format!("free ghost slot {index} holds a table"));
            }
        }
    }

    /// Whether `list` is a host list id in use (not free, in range).
    pub fn is_host_list(&self, list: u32) -> bool {
        (list as usize) < self.host_lists.len() && !self.free_host_lists.contains(&list)
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

    fn add(ghosts: &mut Ghosts, host: &mut u32, source: RegionHandle, live_targets: u32) -> u32 {
        let target = ObjectHandle::from_raw_parts(0, 0, 7, 0);
        let index = ghosts.reserve_table().unwrap();
        ghosts.reserve_host(host, NO_HOST_LIST).unwrap();
        assert_eq!(
            ghosts.insert(*host, source, records(5, 2, target), live_targets, false),
            index
        );
        index
    }

    fn check(ghosts: &Ghosts) {
        let mut problems = Vec::new();
        ghosts.check(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn lookup_matches_region_incarnation_slot_and_generation() {
        let mut ghosts = Ghosts::default();
        let mut host = NO_HOST_LIST;
        add(
            &mut ghosts,
            &mut host,
            RegionHandle::from_raw_parts(3, 1),
            1,
        );
        let hit = ObjectHandle::from_raw_parts(3, 1, 5, 2);
        assert_eq!(ghosts.lookup(hit).map(|r| r.target.slot()), Some(7));
        for miss in [
            ObjectHandle::from_raw_parts(3, 2, 5, 2),
            ObjectHandle::from_raw_parts(4, 1, 5, 2),
            ObjectHandle::from_raw_parts(3, 1, 6, 2),
            ObjectHandle::from_raw_parts(3, 1, 5, 3),
        ] {
            assert!(ghosts.lookup(miss).is_none(), "{miss}");
        }
        check(&ghosts);
    }

    #[test]
    fn merging_moves_the_smaller_list_into_the_larger() {
        let mut ghosts = Ghosts::default();
        let (mut a, mut b) = (NO_HOST_LIST, NO_HOST_LIST);
        for id in 1..=3 {
            add(&mut ghosts, &mut a, RegionHandle::from_raw_parts(id, 0), 1);
        }
        add(&mut ghosts, &mut b, RegionHandle::from_raw_parts(9, 0), 1);
        let a_list = a;
        ghosts.reserve_host(&mut b, a).unwrap();
        ghosts.merge_hosts(&mut b, a);
        assert_eq!(b, a_list, "the larger list survives");
        assert_eq!(ghosts.hosted_len(b), 4);
        check(&ghosts);
    }

    #[test]
    fn a_table_is_freed_when_its_last_live_target_dies_and_its_slot_reused() {
        let mut ghosts = Ghosts::default();
        let mut host = NO_HOST_LIST;
        let first = add(
            &mut ghosts,
            &mut host,
            RegionHandle::from_raw_parts(1, 0),
            2,
        );
        add(
            &mut ghosts,
            &mut host,
            RegionHandle::from_raw_parts(2, 0),
            1,
        );
        ghosts.release_target(first);
        assert_eq!(ghosts.len(), 2, "one live target left");
        ghosts.release_target(first);
        assert_eq!(ghosts.len(), 1);
        assert!(ghosts
            .lookup(ObjectHandle::from_raw_parts(1, 0, 5, 2))
            .is_none());
        check(&ghosts);
        assert_eq!(
            add(
                &mut ghosts,
                &mut host,
                RegionHandle::from_raw_parts(3, 0),
                1
            ),
            first
        );
        check(&ghosts);
    }
}
