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

use super::Registry;
use crate::destructor::Destructors;
use crate::error::{Error, Result};
use crate::ghost::ForwardRecord;
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
            self.ghosts.try_reserve_one()?;
        }
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
        // 3. Hand the forwarding records and the hosted ghost tables to the parent.
        let mut records = prepared.ghost_records;
        for (slot, record) in dying.slots.records().iter().enumerate() {
            if let SlotState::Forwarded(target) = record.state {
                // A record may point at another slot of this very region (a
                // promotion out and back, then compression). That slot is now
                // forwarded to its new home, or its object dies with the
                // region; either way the ghost table must not point into the
                // dead region.
                let Some(target) = Self::beyond_dying(dying, handle, target) else {
                    continue;
                };
                records.insert(
                    slot as u32,
                    ForwardRecord {
                        slot_generation: record.generation,
                        target,
                    },
                );
            }
        }
        let parent_region = self.regions[parent_id as usize]
            .region
            .as_mut()
            .expect("parent is live");
        self.ghosts.splice(&mut parent_region.ghosts, dying.ghosts);
        if !records.is_empty() {
            self.ghosts.add(&mut parent_region.ghosts, handle, records);
        }
        // 4. Recycle the id with a generation bump.
        self.retire_or_recycle(handle.id);
        self.live_regions -= 1;
    }

    /// Follows `target` out of the dying region `handle`: the first handle
    /// on its forwarding chain outside it, or `None` if the chain ends at an
    /// object of the dying region (destroyed with it).
    fn beyond_dying(
        dying: &Region,
        handle: RegionHandle,
        mut target: ObjectHandle,
    ) -> Option<ObjectHandle> {
        // Each step leaves a distinct forwarded slot, so the chain within the
        // region is at most as long as its slot table.
        for _ in 0..=dying.slots.records().len() {
            if target.region != handle {
                return Some(target);
            }
            match dying.slots.record(target.slot) {
                Some(record) if record.generation == target.slot_generation => match record.state {
                    SlotState::Forwarded(next) => target = next,
                    _ => return None,
                },
                _ => return None,
            }
        }
        None
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
