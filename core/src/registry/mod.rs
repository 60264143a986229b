//! The registry: the region tree, the object operations, and teardown.
//!
//! The registry owns every region in a `Vec` indexed by region id; a region
//! id is recycled with a generation bump when its region dies. This module
//! holds the region operations; `objects`, `resolve` and `death` hold the
//! rest.

mod death;
mod objects;
mod resolve;

use alloc::vec::Vec;

use crate::alias::{Alias, Aliases};
use crate::config::Config;
use crate::destructor::Destructors;
use crate::error::{Count, Error, Found, Result};
use crate::ghost::Ghosts;
use crate::handle::{next_generation, ObjectHandle, RegionHandle};
use crate::region::{Region, NO_PARENT};

/// One entry of the region table.
#[derive(Debug)]
pub(crate) struct RegionSlot {
    /// The generation of the current (or last) incarnation of this id.
    pub generation: u32,
    /// The region, while it is alive.
    pub region: Option<Region>,
    /// The generation reached `MAX_GENERATION`; the id is never reused.
    pub retired: bool,
}

/// A registry of hierarchical regions and the objects in them.
///
/// See the [crate documentation](crate) for the model. Every operation
/// validates its handles; a stale or fabricated handle gives `Err`.
/// Dropping the registry destroys every live object exactly once.
#[derive(Debug)]
pub struct Registry {
    /// Indexed by region id. Id 0 is the root, alive until the registry drops.
    pub(crate) regions: Vec<RegionSlot>,
    /// Ids of dead, non-retired regions, reused last in, first out.
    pub(crate) free_region_ids: Vec<u32>,
    /// Ghost tables of dead region incarnations.
    pub(crate) ghosts: Ghosts,
    /// For each object ghost tables forward to, which tables.
    pub(crate) aliases: Aliases,
    /// Destructors and typed tags.
    pub(crate) destructors: Destructors,
    pub(crate) config: Config,
    /// Forwarding records visited by resolutions that could compress.
    pub(crate) forwarding_hops: u64,
    /// Number of live regions, the root included.
    pub(crate) live_regions: usize,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// A registry with default settings and only the root region.
    ///
    /// ```
    /// use regions::{Registry, RegionHandle};
    /// let reg = Registry::new();
    /// assert_eq!(reg.root(), RegionHandle::ROOT);
    /// ```
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A builder for a registry with non-default settings.
    pub fn builder() -> crate::RegistryBuilder {
        crate::RegistryBuilder::default()
    }

    pub(crate) fn with_config(config: Config) -> Self {
        let mut root = Region::new(NO_PARENT, 0, config.arena_block_size);
        root.refcount = 0; // nobody holds the root; it lives as long as the registry
        let regions = alloc::vec![RegionSlot {
            generation: RegionHandle::ROOT.generation(),
            region: Some(root),
            retired: false,
        }];
        Registry {
            regions,
            free_region_ids: Vec::new(),
            ghosts: Ghosts::default(),
            aliases: Aliases::default(),
            destructors: Destructors::default(),
            config,
            forwarding_hops: 0,
            live_regions: 1,
        }
    }

    /// The permanent root region.
    pub fn root(&self) -> RegionHandle {
        RegionHandle::ROOT
    }

    /// The live region `handle` names.
    #[inline]
    pub(crate) fn region(&self, handle: RegionHandle) -> Result<&Region> {
        match self.regions.get(handle.id as usize) {
            Some(RegionSlot {
                generation,
                region: Some(region),
                ..
            }) if *generation == handle.generation => Ok(region),
            other => Err(Error::InvalidRegion {
                region: handle,
                found: Self::found_region(other),
            }),
        }
    }

    fn found_region(slot: Option<&RegionSlot>) -> Found {
        match slot {
            None => Found::NeverIssued,
            Some(slot) if slot.retired => Found::Retired,
            Some(slot) => Found::Generation {
                current: slot.generation,
            },
        }
    }

    /// The live region with id `id` (the caller knows it is live).
    #[inline]
    pub(crate) fn live(&self, id: u32) -> &Region {
        self.regions[id as usize]
            .region
            .as_ref()
            .expect("region id is live")
    }

    /// The live region with id `id`, mutably.
    #[inline]
    pub(crate) fn live_mut(&mut self, id: u32) -> &mut Region {
        self.regions[id as usize]
            .region
            .as_mut()
            .expect("region id is live")
    }

    /// The handle of the live region with id `id`.
    #[inline]
    pub(crate) fn live_handle(&self, id: u32) -> RegionHandle {
        RegionHandle {
            id,
            generation: self.regions[id as usize].generation,
        }
    }

    /// Whether `region` names a live region.
    pub fn is_region_alive(&self, region: RegionHandle) -> bool {
        self.region(region).is_ok()
    }

    /// Creates a child of `parent` with refcount 1 (the caller's reference).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let child = reg.create_region(reg.root()).unwrap();
    /// assert_eq!(reg.parent_of(child).unwrap(), Some(reg.root()));
    /// assert_eq!(reg.region_refcount(child).unwrap(), 1);
    /// ```
    pub fn create_region(&mut self, parent: RegionHandle) -> Result<RegionHandle> {
        self.region(parent)?;
        let oom = |bytes| Error::OutOfMemory { requested: bytes };
        let reuse = self.free_region_ids.last().copied();
        if reuse.is_none() {
            if self.regions.len() >= NO_PARENT as usize {
                return Err(Error::IdSpaceExhausted);
            }
            self.regions
                .try_reserve(1)
                .map_err(|_| oom(core::mem::size_of::<RegionSlot>()))?;
        }
        let block_size = self.config.arena_block_size;
        let parent_region = self.live_mut(parent.id);
        parent_region
            .children
            .try_reserve(1)
            .map_err(|_| oom(core::mem::size_of::<u32>()))?;
        let index_in_parent = parent_region.children.len() as u32;
        let id = match reuse {
            Some(id) => {
                self.free_region_ids.pop();
                id
            }
            None => {
                self.regions.push(RegionSlot {
                    generation: 0,
                    region: None,
                    retired: false,
                });
                (self.regions.len() - 1) as u32
            }
        };
        self.live_mut(parent.id).children.push(id);
        self.regions[id as usize].region =
            Some(Region::new(parent.id, index_in_parent, block_size));
        self.live_regions += 1;
        Ok(self.live_handle(id))
    }

    fn non_root(&self, region: RegionHandle) -> Result<()> {
        if region == RegionHandle::ROOT {
            return Err(Error::RootRegion);
        }
        self.region(region).map(drop)
    }

    /// Adds a reference to `region`. The root cannot be retained.
    pub fn retain_region(&mut self, region: RegionHandle) -> Result<()> {
        self.non_root(region)?;
        let live = self.live_mut(region.id);
        live.refcount = live
            .refcount
            .checked_add(1)
            .ok_or(Error::RefcountOverflow {
                count: Count::Region,
            })?;
        Ok(())
    }

    /// Drops a reference to `region`; at 0 the region dies (see the crate
    /// documentation). Returns whether it died. The root cannot be released.
    ///
    /// A death needs memory in the parent (slots, entries and arena space
    /// for the promoted objects, a ghost table). It is all reserved first: if
    /// the allocator refuses, the result is [`Error::OutOfMemory`] and the
    /// region stays alive with its reference.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let kept = reg.alloc_typed(r, 5u32).unwrap();
    /// let dropped = reg.alloc_typed(r, 6u32).unwrap();
    /// reg.retain(kept).unwrap();
    /// assert!(reg.release_region(r).unwrap());
    /// assert_eq!(*reg.get_typed::<u32>(kept).unwrap(), 5); // promoted to the root
    /// assert!(reg.get_typed::<u32>(dropped).is_err()); // destroyed
    /// assert!(!reg.is_region_alive(r));
    /// ```
    pub fn release_region(&mut self, region: RegionHandle) -> Result<bool> {
        self.non_root(region)?;
        if self.live(region.id).refcount > 1 {
            self.live_mut(region.id).refcount -= 1;
            return Ok(false);
        }
        self.kill(region.id)?;
        Ok(true)
    }

    /// The number of references to `region` (0 for the root).
    pub fn region_refcount(&self, region: RegionHandle) -> Result<u32> {
        Ok(self.region(region)?.refcount)
    }

    /// The parent of `region`, or `None` for the root.
    pub fn parent_of(&self, region: RegionHandle) -> Result<Option<RegionHandle>> {
        let parent = self.region(region)?.parent;
        Ok((parent != NO_PARENT).then(|| self.live_handle(parent)))
    }

    /// The live children of `region`, in no particular order.
    pub fn children(
        &self,
        region: RegionHandle,
    ) -> Result<impl Iterator<Item = RegionHandle> + '_> {
        let children = &self.region(region)?.children;
        Ok(children.iter().map(|&id| self.live_handle(id)))
    }

    /// Every live region, the root first.
    pub fn live_regions(&self) -> impl Iterator<Item = RegionHandle> + '_ {
        self.regions
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.region.is_some())
            .map(|(id, slot)| RegionHandle {
                id: id as u32,
                generation: slot.generation,
            })
    }

    /// Number of live regions, the root included.
    pub fn live_region_count(&self) -> usize {
        self.live_regions
    }

    /// Number of live objects in `region` (objects whose current home it is).
    pub fn object_count(&self, region: RegionHandle) -> Result<usize> {
        Ok(self.region(region)?.pool.len())
    }

    /// The current home handles of the live objects in `region`.
    pub fn objects(&self, region: RegionHandle) -> Result<impl Iterator<Item = ObjectHandle> + '_> {
        let live = self.region(region)?;
        Ok(live
            .slots
            .live_slots()
            .iter()
            .map(move |&slot| ObjectHandle {
                region,
                slot,
                slot_generation: live.slots.record(slot).map_or(0, |r| r.generation),
            }))
    }

    /// Number of arena blocks `region` holds.
    pub fn arena_count(&self, region: RegionHandle) -> Result<usize> {
        Ok(self.region(region)?.pool.arena_count())
    }

    /// Number of ghost tables: dead region incarnations whose forwarding
    /// records still lead to a live object. A table is freed as soon as every
    /// object it forwards to has been destroyed.
    pub fn ghost_table_count(&self) -> usize {
        self.ghosts.len()
    }

    /// Number of ghost tables `region` hosts.
    pub fn hosted_ghost_table_count(&self, region: RegionHandle) -> Result<usize> {
        Ok(self.ghosts.hosted_len(self.region(region)?.ghost_host))
    }

    /// Tells the forwarding records that lead to a destroyed object (whose
    /// entry had alias list `aliases`) that it is gone: ghost tables lose a
    /// live target, forwarding slots of live regions are freed.
    pub(crate) fn release_aliases(&mut self, aliases: u32) {
        for alias in self.aliases.take(aliases) {
            match alias {
                Alias::Table(table) => self.ghosts.release_target(table),
                Alias::Slot(handle) => self.free_forwarding_slot(handle),
            }
        }
    }

    /// Frees the forwarding record `handle` names, if its region incarnation
    /// is still alive and the record is still there.
    fn free_forwarding_slot(&mut self, handle: ObjectHandle) {
        if self.region(handle.region).is_err() {
            return; // its records passed to a ghost table, listed separately
        }
        let slots = &mut self.live_mut(handle.region.id).slots;
        match slots.record(handle.slot) {
            Some(record)
                if record.generation == handle.slot_generation
                    && matches!(record.state, crate::slot_table::SlotState::Forwarded(_)) =>
            {
                slots.release_forwarded(handle.slot);
            }
            _ => {}
        }
    }

    /// Total forwarding records visited by resolutions through `&mut self`
    /// operations (which compress the chains they walk). A test can read it
    /// before and after a [`resolve`](Self::resolve) to see how many records
    /// that resolution visited.
    pub fn forwarding_hops(&self) -> u64 {
        self.forwarding_hops
    }

    /// Runs `body` with a fresh child of `parent` and releases it afterwards
    /// (unless `body` already released it). If `body` panics, the region is
    /// not released.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let seen = reg
    ///     .with_region(reg.root(), |reg, scratch| {
    ///         reg.alloc_typed(scratch, [1u8; 64]).unwrap();
    ///         reg.object_count(scratch).unwrap()
    ///     })
    ///     .unwrap();
    /// assert_eq!(seen, 1);
    /// assert_eq!(reg.live_region_count(), 1);
    /// ```
    pub fn with_region<R>(
        &mut self,
        parent: RegionHandle,
        body: impl FnOnce(&mut Registry, RegionHandle) -> R,
    ) -> Result<R> {
        let region = self.create_region(parent)?;
        let out = body(self, region);
        if self.is_region_alive(region) {
            self.release_region(region)?;
        }
        Ok(out)
    }

    /// Bumps `id`'s generation (or retires it) after its region died.
    pub(crate) fn retire_or_recycle(&mut self, id: u32) {
        let slot = &mut self.regions[id as usize];
        match next_generation(slot.generation) {
            Some(generation) => {
                slot.generation = generation;
                // Capacity was reserved before the death began.
                self.free_region_ids.push(id);
            }
            None => slot.retired = true,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if self.destructors.is_empty() {
            return; // Vec drops free every arena and dedicated block.
        }
        for id in 0..self.regions.len() {
            if let Some(mut region) = self.regions[id].region.take() {
                let handle = RegionHandle {
                    id: id as u32,
                    generation: self.regions[id].generation,
                };
                death::run_destructors(&mut self.destructors, handle, &mut region);
            }
        }
    }
}
