//! Region death: reparent, promote, destroy, hand over forwarding, recycle,
//! give back stored references.
//!
//! Everything that can fail (room for the promoted objects' slots and
//! storage in the parent, forwarding nodes and ghost records) is reserved
//! before anything changes, so a death that cannot get memory is an `Err`
//! that leaves the region alive. Destructors run last, on the dead region,
//! when the registry is consistent again; then the region's pages go back to
//! the block cache in bulk and its tables keep their capacity for the next
//! region that takes its id. With no strong references, no forwarding, no
//! destructors and no dedicated objects, a death does no per-object work.
//! Nothing here recurses, so any depth of nesting is fine.

use super::resolve::Moving;
use super::{RegionSlot, Registry, Reserved};
use crate::block::BlockCache;
use crate::destructor::Destructors;
use crate::error::Result;
use crate::fallible;
use crate::handle::{ObjectHandle, RegionHandle};
use crate::region::{Region, NO_REGION};
use crate::slot_table::Occupant;
use crate::unwind::{each_even_if_panicking, Deferred};

impl Registry {
    /// Kills live, non-root region `id` whose last reference is being released.
    pub(crate) fn kill(&mut self, id: u32) -> Result<()> {
        let handle = self.live_handle(id);
        self.prepare_death(id)?;
        self.commit_death(handle);
        Ok(())
    }

    /// Reserves everything the death needs; on `Err` nothing changed.
    /// The survivors' slots and storage are left in `self.scratch`.
    fn prepare_death(&mut self, id: u32) -> Result<()> {
        let dying = self.live(id);
        let parent = dying.parent;
        let survivors = dying.strong_objects as usize;
        let forwarded = dying.slots.forwarded_len();
        fallible::reserve(&mut self.free_region_ids, 1)?;
        if survivors == 0 && forwarded == 0 {
            return Ok(());
        }
        if !self.live(parent).slots.has_room_for(survivors) {
            self.make_room(parent, survivors)?;
        }
        self.forwarding.reserve(survivors, survivors + forwarded)?;
        #[cfg(feature = "leak-report")]
        self.reserve_retained(parent, survivors)?;
        self.scratch.clear();
        fallible::reserve(&mut self.scratch, survivors)?;
        let slots = self.live(id).slots.len() as u32;
        for slot in 0..slots {
            let dying = self.live(id);
            let record = dying.slots.record(slot).expect("slot in range");
            if !record.is_live() || dying.slots.aux(slot).strong == 0 {
                continue;
            }
            let moving = Moving::of(record, *dying.slots.aux(slot));
            match self.reserve_move(parent, &moving) {
                Ok(storage) => self.scratch.push(Reserved {
                    slot,
                    storage,
                    layout: moving.layout,
                }),
                Err(error) => {
                    self.unreserve_scratch(parent);
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Gives back the storage `prepare_death` reserved in `parent`.
    fn unreserve_scratch(&mut self, parent: u32) {
        let Registry {
            regions,
            blocks,
            scratch,
            ..
        } = self;
        let pool = &mut regions[parent as usize].region.pool;
        for reserved in scratch.drain(..) {
            if let Some(storage) = reserved.storage {
                pool.release(storage, reserved.layout, blocks);
            }
        }
    }

    /// Performs the death; cannot fail.
    fn commit_death(&mut self, handle: RegionHandle) {
        let id = handle.id();
        let parent_id = self.live(id).parent;
        let parent = self.live_handle(parent_id);
        self.unlink_child(id);
        // 1. Reparent the children, keeping their refcounts.
        let mut child = self.live(id).first_child;
        while child != NO_REGION {
            let next = self.live(child).next_sibling;
            self.link_child(parent_id, child);
            child = next;
        }
        self.live_mut(id).first_child = NO_REGION;
        // 2. Promote the objects with strong references into the parent.
        let promoted = self.live(id).strong_objects;
        if promoted > 0 {
            self.promote_survivors(handle, parent);
        }
        let doomed = &self.live(id).slots;
        let (count, bytes) = (doomed.live_len() as u64, doomed.live_bytes());
        self.accounts.region_died(count, bytes, u64::from(promoted));
        if core::mem::take(&mut self.live_mut(id).budgeted) {
            self.accounts.region_budgets.remove(&id);
        }
        // Destroyed objects that had moved here: their nodes die.
        if self.live(id).moved_objects > 0 {
            let Registry {
                regions,
                forwarding,
                ..
            } = self;
            let dying = &mut regions[id as usize].region;
            for (slot, _) in dying.slots.live() {
                if let Some(node) = dying.slots.aux(slot).node() {
                    forwarding.object_died(node);
                }
            }
            dying.moved_objects = 0;
        }
        // 3. Forwarding slots become ghost records (if their object lives).
        if self.live(id).slots.forwarded_len() > 0 {
            self.ghost_forwarded_slots(handle);
        }
        // 4. The id is recycled with a generation bump.
        let used = self.live(id).heap_bytes();
        self.nursery_hint.record(used);
        self.retire_or_recycle(id);
        self.live_regions -= 1;
        // 5. The references it stored are given back (its promotions were
        // decided with them counted; every old handle resolves by now).
        if self.regions[id as usize].region.stores {
            self.release_stored_by(id);
        }
        let Registry {
            regions,
            destructors,
            blocks,
            config,
            retained_bytes,
            #[cfg(feature = "leak-report")]
            leaks,
            ..
        } = self;
        let dying = &mut regions[id as usize].region;
        // Its tables and its nursery page stay for the next region that
        // takes the id (unless the id retired: none will), while the cache's
        // high-water mark allows.
        let keep = !dying.retired
            && *retained_bytes + dying.table_bytes() + dying.pool.nursery_page_bytes()
                <= config.cache_bytes;
        // Its objects' sites go: the survivors' moved with them.
        #[cfg(feature = "leak-report")]
        leaks.region_died(id, keep);
        let teardown = Teardown {
            region: dying,
            blocks,
            keep,
        };
        let panic = run_destructors(destructors, handle, teardown.region);
        drop(teardown);
        let dying = &mut regions[id as usize].region;
        if keep {
            *retained_bytes += dying.retained_bytes();
        } else {
            dying.shrink();
        }
        // The registry is consistent: a destructor's panic may go on.
        panic.resume();
    }

    /// Moves every live object of dying `handle` with a strong count into
    /// `parent`: the ones `prepare_death` listed in `self.scratch`.
    fn promote_survivors(&mut self, handle: RegionHandle, parent: RegionHandle) {
        let id = handle.id();
        let mut reserved = core::mem::take(&mut self.scratch);
        for Reserved { slot, storage, .. } in reserved.drain(..) {
            let dying = self.live(id);
            let record = dying.slots.record(slot).expect("slot in range");
            let moving = Moving::of(record, *dying.slots.aux(slot));
            let old = ObjectHandle::new(handle, slot, record.generation);
            let new_home = self.transfer(old, parent, &moving, storage);
            #[cfg(feature = "leak-report")]
            self.record_retained(old, new_home, moving.layout.size(), moving.tag);
            let node = self.forwarding.moved(moving.aux.node(), new_home);
            self.live_mut(parent.id())
                .slots
                .aux_mut(new_home.slot())
                .set_node(node);
            let Registry {
                regions,
                forwarding,
                ..
            } = self;
            let ghost = &mut regions[id as usize].ghost;
            forwarding.add_ghost(ghost, handle, slot, old.slot_generation(), node, false);
            // The old chunk goes away with the dying region's pages.
            self.live_mut(id).slots.vacate(slot);
        }
        self.scratch = reserved;
        #[cfg(feature = "leak-report")]
        self.leaks.log_death(handle);
    }

    /// Turns the forwarding slots of dying `handle` into ghost records, or
    /// drops them when their object is gone.
    fn ghost_forwarded_slots(&mut self, handle: RegionHandle) {
        let Registry {
            regions,
            forwarding,
            ..
        } = self;
        let RegionSlot { region, ghost, .. } = &mut regions[handle.id() as usize];
        for (slot, record) in region.slots.records() {
            let Occupant::Forwarded(node) = record.occupant() else {
                continue;
            };
            if forwarding.home(node).is_some() {
                let generation = record.generation.wrapping_sub(1);
                forwarding.add_ghost(ghost, handle, slot, generation, node, true);
            } else {
                forwarding.remove_slot_record(node);
            }
        }
    }
}

/// Frees a dead region's storage (but its nursery page, if kept) and
/// empties its tables (keeping their capacity) when dropped — also if a
/// destructor panics.
struct Teardown<'a> {
    region: &'a mut Region,
    blocks: &'a mut BlockCache,
    /// Keep the nursery page for the next region.
    keep: bool,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        let region = &mut *self.region;
        region.free_dedicated();
        region.pool.release_all(self.blocks, self.keep);
        region.slots.clear();
        region.strong_objects = 0;
        region.moved_objects = 0;
    }
}

/// Runs the destructor of every live object of a region that is no longer
/// in the registry (dead, or being dropped with the registry), each exactly
/// once even if some panic; returns the first panic for the caller to
/// resume when the registry is consistent again.
#[inline]
pub(crate) fn run_destructors(
    destructors: &mut Destructors,
    region_handle: RegionHandle,
    region: &mut Region,
) -> Deferred {
    if destructors.is_empty() {
        return Deferred::none();
    }
    run_each_destructor(destructors, region_handle, region)
}

fn run_each_destructor(
    destructors: &mut Destructors,
    region_handle: RegionHandle,
    region: &mut Region,
) -> Deferred {
    let slots = 0..region.slots.len() as u32;
    each_even_if_panicking(slots, |slot| {
        let record = region.slots.record_mut(slot);
        if !record.is_live() {
            return;
        }
        let handle = ObjectHandle::new(region_handle, slot, record.generation);
        let (tag, size) = (record.tag, record.size());
        // SAFETY: the object is live and is destroyed here exactly once (the
        // loop visits each slot once, and a panicking destructor is not
        // called again); its region has left the registry, so its bytes are
        // never read again.
        unsafe { destructors.run(handle, tag, record.data_mut(), size) };
    })
}
