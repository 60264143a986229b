//! Finding an object from any of its handles, and moving it.
//!
//! A handle names either a live slot (the object's home), a forwarding
//! record in a live region's slot table (left by a manual promotion), or a
//! record in the ghost table of a dead region incarnation. Resolution follows
//! records until it reaches a live slot; `&mut` operations then rewrite every
//! record they passed to point straight at the home (path compression), so
//! the next resolution of the same handle visits one record.

use alloc::vec::Vec;

use super::Registry;
use crate::alias::Alias;
use crate::error::{Error, Found, Result};
use crate::handle::{ObjectHandle, RegionHandle};
use crate::pool::{Entry, Pool, Reserved};
use crate::region::Region;
use crate::slot_table::SlotState;

/// Where a live object is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Location {
    /// The object's current home handle (its region is live).
    pub home: ObjectHandle,
    /// Its position in the home region's pool.
    pub position: u32,
}

/// One step of resolution.
pub(crate) enum Step {
    Home(u32),
    Forward(ObjectHandle),
    Dead(Found),
}

impl Registry {
    /// What `handle` names, one record deep.
    #[inline]
    pub(crate) fn step(&self, handle: ObjectHandle) -> Step {
        let Some(slot) = self.regions.get(handle.region.id as usize) else {
            return Step::Dead(Found::NeverIssued);
        };
        match &slot.region {
            Some(region) if slot.generation == handle.region.generation => {
                let Some(record) = region.slots.record(handle.slot) else {
                    return Step::Dead(Found::NeverIssued);
                };
                if record.generation != handle.slot_generation {
                    return Step::Dead(Found::Generation {
                        current: record.generation,
                    });
                }
                match record.state {
                    SlotState::Live => Step::Home(region.slots.live_position(handle.slot)),
                    SlotState::Forwarded(target) => Step::Forward(target),
                    SlotState::Free { .. } => Step::Dead(Found::FreedSlot),
                    SlotState::Retired => Step::Dead(Found::Retired),
                }
            }
            _ => match self.ghosts.lookup(handle) {
                Some(record) => Step::Forward(record.target),
                None if slot.retired => Step::Dead(Found::Retired),
                None => Step::Dead(Found::Generation {
                    current: slot.generation,
                }),
            },
        }
    }

    /// Follows `handle` to its object; returns the location and the number of
    /// records visited.
    fn follow(&self, handle: ObjectHandle) -> Result<(Location, u64)> {
        let mut current = handle;
        let mut hops = 0;
        loop {
            match self.step(current) {
                Step::Home(position) => {
                    return Ok((
                        Location {
                            home: current,
                            position,
                        },
                        hops,
                    ))
                }
                Step::Forward(target) => {
                    current = target;
                    hops += 1;
                }
                Step::Dead(found) => {
                    let found = if hops > 0 {
                        Found::DeadForwardingTarget
                    } else {
                        found
                    };
                    return Err(Error::StaleHandle { handle, found });
                }
            }
        }
    }

    /// The pool entry of `handle` if it names its object's home slot: the
    /// fast path, with no forwarding and no error construction.
    #[inline]
    pub(crate) fn home_entry(&self, handle: ObjectHandle) -> Option<&Entry> {
        self.home(handle)
            .map(|(region, position)| region.pool.entry(position))
    }

    /// The region and pool position of `handle`'s object if `handle` names
    /// its home slot (no forwarding, no error construction).
    #[inline]
    fn home(&self, handle: ObjectHandle) -> Option<(&Region, u32)> {
        let slot = self.regions.get(handle.region.id as usize)?;
        let region = slot.region.as_ref()?;
        if slot.generation != handle.region.generation {
            return None;
        }
        let record = region.slots.record(handle.slot)?;
        if record.generation != handle.slot_generation || record.state != SlotState::Live {
            return None;
        }
        Some((region, region.slots.live_position(handle.slot)))
    }

    /// Locates a live object without changing anything.
    #[inline]
    pub(crate) fn locate(&self, handle: ObjectHandle) -> Result<Location> {
        if let Some((_, position)) = self.home(handle) {
            return Ok(Location {
                home: handle,
                position,
            });
        }
        self.locate_slow(handle)
    }

    #[cold]
    #[inline(never)]
    fn locate_slow(&self, handle: ObjectHandle) -> Result<Location> {
        self.follow(handle).map(|(location, _)| location)
    }

    /// Locates a live object, compressing the forwarding chain walked.
    #[inline]
    pub(crate) fn locate_mut(&mut self, handle: ObjectHandle) -> Result<Location> {
        if let Some((_, position)) = self.home(handle) {
            return Ok(Location {
                home: handle,
                position,
            });
        }
        let (location, hops) = self.follow(handle)?;
        self.forwarding_hops += hops;
        if hops > 1 {
            self.compress(handle, location.home);
        }
        Ok(location)
    }

    /// Points every record on the chain from `handle` straight at `home`.
    fn compress(&mut self, handle: ObjectHandle, home: ObjectHandle) {
        let mut current = handle;
        while current != home {
            let Step::Forward(next) = self.step(current) else {
                unreachable!("{current} was on the chain to {home}");
            };
            self.set_forward(current, home);
            current = next;
        }
    }

    /// Rewrites the forwarding record `handle` names to point at `target`.
    fn set_forward(&mut self, handle: ObjectHandle, target: ObjectHandle) {
        let slot = &mut self.regions[handle.region.id as usize];
        if let (Some(region), true) = (
            &mut slot.region,
            slot.generation == handle.region.generation,
        ) {
            if let Some(record) = region.slots.record_mut(handle.slot) {
                record.state = SlotState::Forwarded(target);
            }
        } else if let Some(record) = self.ghosts.lookup_mut(handle) {
            record.target = target;
        }
    }

    /// The object's current home handle. Compresses the forwarding chain, so
    /// resolving the same handle again visits at most one record.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let a = reg.create_region(reg.root()).unwrap();
    /// let b = reg.create_region(reg.root()).unwrap();
    /// let old = reg.alloc_typed(a, 1u8).unwrap();
    /// let new = reg.promote(old, b).unwrap();
    /// assert_eq!(reg.resolve(old).unwrap(), new);
    /// ```
    pub fn resolve(&mut self, handle: ObjectHandle) -> Result<ObjectHandle> {
        self.locate_mut(handle).map(|location| location.home)
    }

    /// The object's current home region.
    pub fn region_of(&self, handle: ObjectHandle) -> Result<RegionHandle> {
        self.locate(handle).map(|location| location.home.region)
    }

    /// Moves the object to `target` (any live region) and returns its new
    /// home handle; every older handle forwards to it. Contents, type and
    /// counts are kept. Promoting to the current home is a no-op.
    pub fn promote(&mut self, handle: ObjectHandle, target: RegionHandle) -> Result<ObjectHandle> {
        let location = self.locate_mut(handle)?;
        self.region(target)?;
        if location.home.region == target {
            return Ok(location.home);
        }
        let source_id = location.home.region.id;
        let entry = self.live(source_id).pool.entry(location.position);
        let move_request = entry.move_request();
        let destination = self.live_mut(target.id);
        if !destination.slots.has_ids_for(1) {
            return Err(Error::IdSpaceExhausted);
        }
        destination.slots.try_reserve(1)?;
        destination.pool.try_reserve(1)?;
        // The forwarding record left behind is listed in the object's alias
        // list, so that it is freed with the object.
        let source = self.regions[source_id as usize]
            .region
            .as_mut()
            .expect("home region is live");
        let aliases = &mut source.pool.entry_mut(location.position).aliases;
        self.aliases
            .reserve(aliases)
            .map_err(|()| Error::OutOfMemory {
                requested: core::mem::size_of::<Alias>(),
            })?;
        let destination = self.live_mut(target.id);
        let reserved = destination.pool.reserve_move(move_request)?;
        // Nothing below can fail.
        let source = self.regions[source_id as usize]
            .region
            .as_mut()
            .expect("home region is live");
        let removal = source.slots.forward(location.home.slot, location.home);
        let mut entry = source.pool.swap_remove(removal.position);
        let listed = self
            .aliases
            .add(&mut entry.aliases, Alias::Slot(location.home));
        debug_assert!(listed, "capacity was reserved");
        let strong = entry.strong > 0;
        source.strong_objects -= u32::from(strong);
        if let Some(left) = Pool::rehome(&mut entry, reserved) {
            source.pool.release_chunk(left);
        }
        let new_home = self.adopt(target, entry);
        self.set_forward(location.home, new_home);
        Ok(new_home)
    }

    /// Puts a moved entry into `target`'s pool (capacity reserved) and
    /// returns its new home handle.
    pub(crate) fn adopt(
        &mut self,
        target: RegionHandle,
        entry: crate::pool::Entry,
    ) -> ObjectHandle {
        let destination = self.live_mut(target.id);
        destination.strong_objects += u32::from(entry.strong > 0);
        let (slot, slot_generation) = destination
            .slots
            .allocate()
            .expect("ids and capacity were reserved");
        let position = destination.pool.push(entry);
        debug_assert_eq!(destination.slots.position(slot), Some(position));
        ObjectHandle {
            region: target,
            slot,
            slot_generation,
        }
    }

    /// Reserves storage in `target` for moving the arena objects at
    /// `positions` of `source`; all or nothing.
    pub(crate) fn reserve_moves(
        &mut self,
        source_entries: &[crate::pool::Entry],
        positions: &[u32],
        target: u32,
    ) -> Result<Vec<Option<Reserved>>> {
        let mut reserved: Vec<Option<Reserved>> = Vec::new();
        reserved
            .try_reserve_exact(positions.len())
            .map_err(|_| Error::OutOfMemory {
                requested: positions.len() * core::mem::size_of::<Option<Reserved>>(),
            })?;
        let destination = self.live_mut(target);
        for &position in positions {
            let request = source_entries[position as usize].move_request();
            match destination.pool.reserve_move(request) {
                Ok(storage) => reserved.push(storage),
                Err(error) => {
                    for storage in reserved.into_iter().flatten() {
                        destination.pool.unreserve(storage);
                    }
                    return Err(error);
                }
            }
        }
        Ok(reserved)
    }
}
