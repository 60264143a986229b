//! Region death: reparent, promote, destroy, hand over forwarding, recycle.
//!
//! Everything that can fail (memory for the parent's new slots, entries,
//! arena storage, ghost table and index) is reserved before anything changes,
//! so a death that cannot get memory is an `Err` that leaves the region alive.
//! Destructors run last, on the detached region, when the registry is already
//! consistent again: a panicking destructor cannot leave it half-updated.
//! Nothing here recurses, so any depth of nesting is fine.

use alloc::vec::Vec;

use hashbrown::HashMap;

use super::resolve::{Location, Step};
use super::Registry;
use crate::alias::Alias;
use crate::destructor::Destructors;
use crate::error::{Error, Result};
use crate::ghost::{ForwardRecord, NO_HOST_LIST};
use crate::handle::{ObjectHandle, RegionHandle};
use crate::pool::Pool;
use crate::region::Region;
use crate::slot_table::SlotState;

impl Registry {
    /// Kills live, non-root region `id` whose last reference is being released.
    pub(crate) fn kill(&mut self, id: u32) -> Result<()> {
        let handle = self.live_handle(id);
        let mut dying = self.regions[id as usize]
            .region
            .take()
            .expect("dying region is live");
        match self.prepare_death(&mut dying) {
            Ok(prepared) => {
                self.commit_death(handle, &mut dying, prepared);
                run_destructors(&mut self.destructors, handle, &mut dying);
                Ok(())
            }
            Err(error) => {
                self.regions[id as usize].region = Some(dying);
                Err(error)
            }
        }
    }

    /// Reserves everything the death needs.
    fn prepare_death(&mut self, dying: &mut Region) -> Result<Prepared> {
        let oom = |bytes: usize| Error::OutOfMemory { requested: bytes };
        let survivors: Vec<u32> = if dying.strong_objects == 0 {
            Vec::new()
        } else {
            let mut survivors = Vec::new();
            survivors
                .try_reserve_exact(dying.strong_objects as usize)
                .map_err(|_| oom(dying.strong_objects as usize * 4))?;
            // Descending, so that swap-removing one never moves another.
            survivors.extend(
                (0..dying.pool.len() as u32)
                    .rev()
                    .filter(|&position| dying.pool.entry(position).strong > 0),
            );
            survivors
        };
        let records = survivors.len() + dying.slots.forwarded_len() as usize;
        let mut ghost_records = HashMap::new();
        if records > 0 {
            ghost_records
                .try_reserve(records)
                .map_err(|_| oom(records * core::mem::size_of::<(u32, ForwardRecord)>()))?;
        }
        let table = if records > 0 || dying.ghost_host != NO_HOST_LIST {
            let table = self.ghosts.reserve_table()?;
            let mut host = self.live(dying.parent).ghost_host;
            // A host list created here is empty, so keeping it on failure is harmless.
            let reserved = self.ghosts.reserve_host(&mut host, dying.ghost_host);
            self.live_mut(dying.parent).ghost_host = host;
            reserved?;
            table
        } else {
            0
        };
        self.free_region_ids.try_reserve(1).map_err(|_| oom(4))?;
        let parent = self.live_mut(dying.parent);
        parent
            .children
            .try_reserve(dying.children.len())
            .map_err(|_| oom(dying.children.len() * 4))?;
        if !parent.slots.has_ids_for(survivors.len()) {
            return Err(Error::IdSpaceExhausted);
        }
        parent.slots.try_reserve(survivors.len())?;
        parent.pool.try_reserve(survivors.len())?;
        let storage = self.reserve_moves(dying.pool.entries(), &survivors, dying.parent)?;
        Ok(Prepared {
            survivors,
            storage,
            ghost_records,
            table,
        })
    }

    /// Performs the death; cannot fail.
    fn commit_death(&mut self, handle: RegionHandle, dying: &mut Region, prepared: Prepared) {
        let parent_id = dying.parent;
        let parent = self.live_handle(parent_id);
        self.unlink_child(parent_id, dying.index_in_parent);
        // 1. Reparent the children, keeping their refcounts.
        for &child in &dying.children {
            let index = self.live(parent_id).children.len() as u32;
            let region = self.live_mut(child);
            region.parent = parent_id;
            region.index_in_parent = index;
            self.live_mut(parent_id).children.push(child);
        }
        // 2. Promote the objects with strong references into the parent.
        for (position, storage) in prepared.survivors.into_iter().zip(prepared.storage) {
            let slot = dying.slots.live_slots()[position as usize];
            let old = ObjectHandle {
                region: handle,
                slot,
                slot_generation: dying.slots.record(slot).expect("live slot").generation,
            };
            let removal = dying.slots.forward(slot, old);
            debug_assert_eq!(removal.position, position);
            let mut entry = dying.pool.swap_remove(position);
            dying.strong_objects -= 1;
            // The old chunk goes away with the dying region's arenas.
            let _ = Pool::rehome(&mut entry, storage);
            let new_home = self.adopt(parent, entry);
            if let Some(record) = dying.slots.record_mut(slot) {
                record.state = SlotState::Forwarded(new_home);
            }
        }
        // 3. Hand the forwarding records and the hosted ghost tables to the
        // parent. Each record is compressed to its object's home; records of
        // objects already destroyed are dropped, and each kept one is listed
        // in its object's alias list so the table can be freed later.
        let mut records = prepared.ghost_records;
        let (mut live_targets, mut pinned) = (0, false);
        for (slot, record) in dying.slots.records().iter().enumerate() {
            let SlotState::Forwarded(target) = record.state else {
                continue;
            };
            let Some(home) = self.home_past(dying, handle, target) else {
                continue;
            };
            records.insert(
                slot as u32,
                ForwardRecord {
                    slot_generation: record.generation,
                    target: home.home,
                },
            );
            let region = self.regions[home.home.region.id as usize]
                .region
                .as_mut()
                .expect("home region is live");
            let entry = region.pool.entry_mut(home.position);
            if self
                .aliases
                .add(&mut entry.aliases, Alias::Table(prepared.table))
            {
                live_targets += 1;
            } else {
                pinned = true;
            }
        }
        let mut host = self.live(parent_id).ghost_host;
        if !records.is_empty() {
            let table = self
                .ghosts
                .insert(host, handle, records, live_targets, pinned);
            debug_assert_eq!(table, prepared.table);
        }
        self.ghosts.merge_hosts(&mut host, dying.ghost_host);
        self.live_mut(parent_id).ghost_host = host;
        // Objects destroyed with the region no longer keep tables alive.
        if !self.aliases.is_empty() {
            for position in 0..dying.pool.len() as u32 {
                let entry = dying.pool.entry_mut(position);
                let aliases = core::mem::replace(&mut entry.aliases, crate::pool::NO_ALIASES);
                self.release_aliases(aliases);
            }
        }
        // 4. Recycle the id with a generation bump.
        self.retire_or_recycle(handle.id);
        self.live_regions -= 1;
    }

    /// Where the chain from `target` ends: the live object's location, or
    /// `None` if the object was destroyed (or dies with `dying`). Records of
    /// the dying region (no longer in the table) are read from `dying`.
    fn home_past(
        &self,
        dying: &Region,
        dying_handle: RegionHandle,
        target: ObjectHandle,
    ) -> Option<Location> {
        // Chains are acyclic: every record points at a handle issued later.
        let mut current = target;
        loop {
            if current.region == dying_handle {
                let record = dying.slots.record(current.slot)?;
                match record.state {
                    SlotState::Forwarded(next) if record.generation == current.slot_generation => {
                        current = next
                    }
                    _ => return None,
                }
            } else {
                match self.step(current) {
                    Step::Home(position) => {
                        return Some(Location {
                            home: current,
                            position,
                        })
                    }
                    Step::Forward(next) => current = next,
                    Step::Dead(_) => return None,
                }
            }
        }
    }

    /// Removes the child at `index` from `parent`'s children.
    fn unlink_child(&mut self, parent: u32, index: u32) {
        let children = &mut self.live_mut(parent).children;
        children.swap_remove(index as usize);
        if let Some(&moved) = children.get(index as usize) {
            self.live_mut(moved).index_in_parent = index;
        }
    }
}

/// What `prepare_death` reserved.
struct Prepared {
    /// Pool positions of the objects to promote, descending.
    survivors: Vec<u32>,
    /// Parent storage for each survivor that lives in an arena.
    storage: Vec<Option<crate::pool::Reserved>>,
    /// Capacity for the ghost table.
    ghost_records: HashMap<u32, ForwardRecord>,
    /// The index the ghost table will get (when there are records).
    table: u32,
}

/// Runs the destructor of every live object of a region that is no longer
/// in the registry (dead, or being dropped with the registry).
pub(crate) fn run_destructors(
    destructors: &mut Destructors,
    region_handle: RegionHandle,
    region: &mut Region,
) {
    if destructors.is_empty() {
        return;
    }
    for position in 0..region.pool.len() as u32 {
        let slot = region.slots.live_slots()[position as usize];
        let handle = ObjectHandle {
            region: region_handle,
            slot,
            slot_generation: region.slots.record(slot).map_or(0, |r| r.generation),
        };
        let entry = region.pool.entry_mut(position);
        let (tag, size) = (entry.tag, entry.size());
        // SAFETY: the entry is live and is destroyed here exactly once; its
        // region has left the registry, so its bytes are never read again.
        unsafe { destructors.run(handle, tag, entry.data_mut(), size) };
    }
}
