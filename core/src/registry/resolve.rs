//! Finding an object from any of its handles, and moving it.
//!
//! A handle names either a live slot (the object's home), a forwarding slot
//! in a live region (left by a manual promotion), or a ghost record of a
//! dead region incarnation. Both kinds of record name the object's
//! forwarding node, which holds its current home (see `forwarding.rs`), so
//! resolution is at most one record and one node, whatever the history.

use core::alloc::Layout;

use super::{RegionSlot, Registry};
use crate::destructor::Destructors;
use crate::error::{Error, Found, Result};
use crate::handle::{ObjectHandle, RegionHandle};
use crate::pool::{HeapRef, DEDICATED_PAGE, ZERO_SIZED_PAGE};
use crate::slot_table::{Aux, Cell, Occupant, Record};

/// What a handle names, one record deep.
pub(crate) enum Step {
    /// The handle is its object's home.
    Home,
    /// The handle is an old home (a forwarding slot or a ghost record).
    Forward,
    /// Nothing alive.
    Dead(Found),
}

/// What moving an object needs to know about it.
#[derive(Clone, Copy)]
pub(crate) struct Moving {
    pub layout: Layout,
    pub tag: u64,
    pub heap: Option<HeapRef>,
    pub aux: Aux,
}

impl Moving {
    /// The object in `record` with metadata `aux`.
    pub fn of(record: &Record, aux: Aux) -> Self {
        Moving {
            layout: Layout::from_size_align(record.size(), aux.align())
                .expect("a live object's layout is valid"),
            tag: record.tag,
            heap: record.heap(),
            aux,
        }
    }

    /// Whether its bytes live in a page (and must be copied to move).
    pub fn in_page(&self) -> bool {
        self.heap
            .is_some_and(|heap| heap.page != DEDICATED_PAGE && heap.page != ZERO_SIZED_PAGE)
    }
}

impl Registry {
    /// The record of `handle` if it names its object's home: the fast path,
    /// no forwarding and no error construction.
    #[inline(always)]
    pub(crate) fn home_record(&self, handle: ObjectHandle) -> Option<&Record> {
        let slot = self.regions.get(handle.region().id() as usize)?;
        if !slot.is(handle.region()) {
            return None;
        }
        let record = slot.region.slots.record(handle.slot())?;
        // Live generations are odd: an even one names no live object.
        if record.generation != handle.slot_generation() || handle.slot_generation() & 1 == 0 {
            return None;
        }
        Some(record)
    }

    /// Like [`home_record`](Self::home_record), for readers whose `tag_ok`
    /// rejects the tags of vacant records (see `slot_table.rs`), so the
    /// parity test can be skipped.
    #[inline(always)]
    pub(crate) fn home_record_if(
        &self,
        handle: ObjectHandle,
        tag_ok: impl Fn(u64) -> bool,
    ) -> Option<&Record> {
        let slot = self.regions.get(handle.region().id() as usize)?;
        // A dead region's table is empty, so the record lookup is safe
        // before the region's generation is checked; the three checks are
        // then folded into one branch.
        let record = slot.region.slots.record(handle.slot())?;
        let stale = slot.mismatch(handle.region())
            | u64::from(record.generation ^ handle.slot_generation())
            | u64::from(!tag_ok(record.tag));
        if stale != 0 {
            return None;
        }
        debug_assert!(record.is_live());
        Some(record)
    }

    /// Like [`home_record_if`](Self::home_record_if), mutably.
    #[inline(always)]
    pub(crate) fn home_record_if_mut(
        &mut self,
        handle: ObjectHandle,
        tag_ok: impl Fn(&crate::destructor::Destructors, u64) -> bool,
    ) -> Option<&mut Record> {
        let Registry {
            regions,
            destructors,
            ..
        } = self;
        let slot = regions.get_mut(handle.region().id() as usize)?;
        let key_mismatch = slot.mismatch(handle.region());
        let record = slot.region.slots.record_mut_checked(handle.slot())?;
        let stale = key_mismatch
            | u64::from(record.generation ^ handle.slot_generation())
            | u64::from(!tag_ok(destructors, record.tag));
        if stale != 0 {
            return None;
        }
        debug_assert!(record.is_live());
        Some(record)
    }

    /// What `handle` names, one record deep.
    pub(crate) fn step(&self, handle: ObjectHandle) -> Step {
        let Some(slot) = self.regions.get(handle.region().id() as usize) else {
            return Step::Dead(Found::NeverIssued);
        };
        if slot.is_live() && slot.generation() == handle.region().generation() {
            let Some(record) = slot.region.slots.record(handle.slot()) else {
                return Step::Dead(Found::NeverIssued);
            };
            if record.generation == handle.slot_generation() && record.is_live() {
                return Step::Home;
            }
            let previous = handle.slot_generation() & 1 == 1
                && record.generation == handle.slot_generation().wrapping_add(1);
            return match record.occupant() {
                Occupant::Forwarded(_) if previous => Step::Forward,
                Occupant::Free if previous => Step::Dead(Found::Freed),
                Occupant::Retired if previous => Step::Dead(Found::Retired),
                _ => Step::Dead(Found::StaleSlot {
                    current: record.generation,
                }),
            };
        }
        match self.ghost_node(slot, handle) {
            Some(_) => Step::Forward,
            None if slot.is_retired() => Step::Dead(Found::Retired),
            None => Step::Dead(Found::StaleRegion {
                current: slot.generation(),
            }),
        }
    }

    /// The object's current home handle, without changing anything.
    #[inline(always)]
    pub(crate) fn locate(&self, handle: ObjectHandle) -> Result<ObjectHandle> {
        if self.home_record(handle).is_some() {
            return Ok(handle);
        }
        self.locate_slow(handle)
    }

    #[cold]
    #[inline(never)]
    fn locate_slow(&self, handle: ObjectHandle) -> Result<ObjectHandle> {
        match self.forwarded_home(handle) {
            Some(home) => Ok(home),
            None => Err(self.stale(handle)),
        }
    }

    /// The current home of the object an *old* handle (a forwarding slot
    /// of a live region, or a ghost record) leads to, if it is alive: one
    /// record and one node, the path of every access through an old handle.
    #[inline(never)]
    pub(crate) fn forwarded_home(&self, handle: ObjectHandle) -> Option<ObjectHandle> {
        let slot = self.regions.get(handle.region().id() as usize)?;
        let node = if slot.is(handle.region()) {
            let record = slot.region.slots.record(handle.slot())?;
            match record.occupant() {
                Occupant::Forwarded(node)
                    if handle.slot_generation() & 1 == 1
                        && record.generation == handle.slot_generation().wrapping_add(1) =>
                {
                    node
                }
                _ => return None,
            }
        } else {
            self.ghost_node(slot, handle)?
        };
        self.forwarding.home(node)
    }

    /// The node the ghost record of `handle` (whose region incarnation,
    /// in `slot`, is dead) names, if it has one.
    #[inline]
    fn ghost_node(&self, slot: &RegionSlot, handle: ObjectHandle) -> Option<u32> {
        match slot.ghost.node_of(handle) {
            Some(node) => Some(node),
            None => Some(self.forwarding.ghost(handle)?.node),
        }
    }

    /// Why `handle` (which leads to no live object) is stale.
    #[cold]
    #[inline(never)]
    fn stale(&self, handle: ObjectHandle) -> Error {
        let found = match self.step(handle) {
            Step::Home => unreachable!("{handle} names a live object"),
            Step::Forward => Found::DeadForwardingTarget,
            Step::Dead(found) => found,
        };
        Error::StaleHandle { handle, found }
    }

    /// Like [`locate`](Self::locate), counting the forwarding record visited.
    #[inline]
    pub(crate) fn locate_mut(&mut self, handle: ObjectHandle) -> Result<ObjectHandle> {
        let home = self.locate(handle)?;
        self.forwarding_hops += u64::from(home != handle);
        Ok(home)
    }

    /// The live record of a home handle.
    #[inline]
    pub(crate) fn record_at(&self, home: ObjectHandle) -> &Record {
        self.live(home.region().id())
            .slots
            .record(home.slot())
            .expect("a home names an existing slot")
    }

    /// The record of the object `handle` resolves to.
    #[inline(always)]
    pub(crate) fn record(&self, handle: ObjectHandle) -> Result<&Record> {
        match self.home_record(handle) {
            Some(record) => Ok(record),
            None => self.record_slow(handle),
        }
    }

    /// The record of an object reached through an old handle, or why not.
    #[inline(never)]
    pub(crate) fn record_slow(&self, handle: ObjectHandle) -> Result<&Record> {
        match self.forwarded_home(handle) {
            Some(home) => Ok(self.record_at(home)),
            None => Err(self.stale(handle)),
        }
    }

    /// The object's current home handle. Every old handle reaches its object
    /// through one forwarding record, so this is O(1) however many times
    /// the object moved.
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
        self.locate_mut(handle)
    }

    /// The object's current home handle, like [`resolve`](Self::resolve)
    /// but through `&self` (nothing is counted). Handles change when their
    /// object moves; two handles name the same object iff their `current`
    /// handles are equal.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let a = reg.create_region(reg.root()).unwrap();
    /// let old = reg.alloc_typed(a, 1u8).unwrap();
    /// let new = reg.promote(old, reg.root()).unwrap();
    /// assert_eq!(reg.current(old).unwrap(), new);
    /// ```
    #[inline]
    pub fn current(&self, handle: ObjectHandle) -> Result<ObjectHandle> {
        self.locate(handle)
    }

    /// Whether `handle` (or the object it was issued for, wherever it lives
    /// now) names a live object.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), 1u8).unwrap();
    /// assert!(reg.is_alive(h));
    /// reg.free(h).unwrap();
    /// assert!(!reg.is_alive(h));
    /// ```
    #[inline]
    pub fn is_alive(&self, handle: ObjectHandle) -> bool {
        self.locate(handle).is_ok()
    }

    /// Whether `a` and `b` name the same live object (through any of the
    /// handles it ever had). `false` if either names no live object.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let a = reg.create_region(reg.root()).unwrap();
    /// let old = reg.alloc_typed(a, 1u8).unwrap();
    /// let new = reg.promote(old, reg.root()).unwrap();
    /// assert!(reg.same_object(old, new));
    /// assert_ne!(old, new);
    /// ```
    pub fn same_object(&self, a: ObjectHandle, b: ObjectHandle) -> bool {
        match (self.locate(a), self.locate(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }

    /// The object's current home region.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let h = reg.alloc_typed(r, 1u8).unwrap();
    /// assert_eq!(reg.region_of(h).unwrap(), r);
    /// reg.retain(h).unwrap();
    /// reg.release_region(r).unwrap(); // promoted to the root
    /// assert_eq!(reg.region_of(h).unwrap(), reg.root());
    /// assert_eq!(h.region(), r); // the handle still names where it was issued
    /// ```
    pub fn region_of(&self, handle: ObjectHandle) -> Result<RegionHandle> {
        self.locate(handle).map(|home| home.region())
    }

    /// Moves the object to `target` (any live region) and returns its new
    /// home handle; every older handle forwards to it. Contents, type and
    /// counts are kept. Promoting to the current home is a no-op.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let (a, b) = (reg.create_region(reg.root()).unwrap(), reg.create_region(reg.root()).unwrap());
    /// let old = reg.alloc_typed(a, String::from("moved")).unwrap();
    /// let new = reg.promote(old, b).unwrap();
    /// assert_eq!(new.region(), b);
    /// assert_eq!(reg.get_typed::<String>(old).unwrap(), "moved"); // `old` forwards to `new`
    /// assert_eq!(reg.promote(old, b).unwrap(), new); // already there: a no-op
    /// let small = reg.create_region_with_budget(reg.root(), 4).unwrap();
    /// assert_eq!(reg.promote(new, small).unwrap_err().kind(), ErrorKind::BudgetExceeded);
    /// ```
    pub fn promote(&mut self, handle: ObjectHandle, target: RegionHandle) -> Result<ObjectHandle> {
        let home = self.locate_mut(handle)?;
        self.region(target)?;
        if home.region() == target {
            return Ok(home);
        }
        let source = home.region().id();
        let moving = Moving::of(
            self.record_at(home),
            *self.live(source).slots.aux(home.slot()),
        );
        let destination = &self.regions[target.id() as usize];
        if destination.is_budgeted() {
            let bytes = destination.region.slots.live_bytes();
            let size = moving.layout.size() as u64;
            self.accounts.admit_to_region(target, bytes, size)?;
        }
        self.live_mut(target.id()).slots.reserve(1)?;
        #[cfg(feature = "leak-report")]
        self.reserve_sites(target.id(), 1)?;
        self.forwarding.reserve(1, 0)?;
        let reserved = self.reserve_move(target.id(), &moving)?;
        // Nothing below can fail.
        let new_home = self.transfer(home, target, &moving, reserved);
        #[cfg(feature = "leak-report")]
        self.leaks.moved(home, new_home);
        let node = self.forwarding.moved(moving.aux.node(), new_home);
        self.live_mut(target.id())
            .slots
            .aux_mut(new_home.slot())
            .set_node(node);
        self.live_mut(source).slots.forward(home.slot(), node);
        self.forwarding.add_slot_record(node);
        self.accounts.manual_promotions += 1;
        if let Some(heap) = moving.heap.filter(|_| moving.in_page()) {
            let Registry {
                regions, blocks, ..
            } = self;
            regions[source as usize]
                .region
                .pool
                .release(heap, moving.layout, blocks);
        }
        Ok(new_home)
    }

    /// Storage in region `target` for a moving object whose bytes are in a
    /// page; `None` for objects whose storage moves with them.
    pub(crate) fn reserve_move(&mut self, target: u32, moving: &Moving) -> Result<Option<HeapRef>> {
        if !moving.in_page() {
            return Ok(None);
        }
        let Registry {
            regions,
            blocks,
            config,
            ..
        } = self;
        let pool = &mut regions[target as usize].region.pool;
        let typed = Destructors::type_index(moving.tag);
        pool.allocate(moving.layout, typed, config, blocks)
            .map(Some)
    }

    /// Puts the object at `home` into `target` (room and `reserved` storage
    /// ready), copying page bytes, and returns its new home handle. The old
    /// slot is left as it is (live), and its page storage is not released:
    /// the caller forwards or vacates the slot, releases the storage, and
    /// sets the new slot's forwarding node.
    pub(crate) fn transfer(
        &mut self,
        home: ObjectHandle,
        target: RegionHandle,
        moving: &Moving,
        reserved: Option<HeapRef>,
    ) -> ObjectHandle {
        let (source, destination) = self.two_mut(home.region().id(), target.id());
        let record = source.slots.record_mut(home.slot());
        let cell = match reserved {
            Some(storage) => {
                // SAFETY: the reserved chunk holds `size` bytes, aligned, and
                // does not overlap the object's current chunk.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        record.data(),
                        storage.data.as_ptr(),
                        moving.layout.size(),
                    )
                };
                Cell::heap(storage)
            }
            None => record.cell(),
        };
        if moving.heap.is_some_and(|heap| heap.page == DEDICATED_PAGE) {
            source.pool.dedicated -= 1;
            destination.pool.dedicated += 1;
        }
        let strong = u32::from(moving.aux.strong > 0);
        source.strong_objects -= strong;
        destination.strong_objects += strong;
        source.moved_objects -= u32::from(moving.aux.moved());
        destination.moved_objects += 1;
        let (slot, slot_generation, _) = destination.slots.occupy(
            moving.layout.size(),
            moving.heap.is_some(),
            moving.tag,
            cell,
            moving.aux,
        );
        ObjectHandle::new(target, slot, slot_generation)
    }

    /// Frees the forwarding slots of live region `id` whose object is gone,
    /// so a long-lived region that promotes objects out reuses its slots.
    pub(crate) fn sweep_forwarded(&mut self, id: u32) {
        let Registry {
            regions,
            forwarding,
            ..
        } = self;
        let slots = &mut regions[id as usize].region.slots;
        for slot in 0..slots.len() as u32 {
            let Some(Occupant::Forwarded(node)) = slots.record(slot).map(Record::occupant) else {
                continue;
            };
            if forwarding.home(node).is_none() {
                slots.release_forwarded(slot);
                forwarding.remove_slot_record(node);
            }
        }
    }
}
