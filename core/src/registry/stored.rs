//! Stored references: which container region holds which strong reference.
//!
//! `store_handle(container, h)` retains an object that lives outside
//! `container` and records `(container, h)`; `unstore` gives one such
//! reference back, and the container's death gives back all of them. The
//! records of a container are one `Vec` in a map keyed by region id, looked
//! up only by these operations and by the death of a region whose
//! `stores` flag is set, so regions that store nothing pay nothing.
//!
//! A record keeps the handle the object had when it was stored; the object
//! may move afterwards, so records are matched by resolving them. Records
//! whose object died stay until their container releases them or until the
//! container's list must grow, when they are swept (an object that died
//! holds no count to give back).

use alloc::vec::Vec;

use hashbrown::HashMap;

use super::Registry;
use crate::error::{Count, Error, Result};
use crate::fallible;
use crate::handle::{ObjectHandle, RegionHandle};

/// The stored-reference records of every container region.
#[derive(Debug, Default)]
pub(crate) struct StoredRefs {
    /// Container region id → handles it stored (one entry per reference).
    by_container: HashMap<u32, Vec<ObjectHandle>>,
    /// Emptied lists, kept with their capacity for the next container.
    spare: Vec<Vec<ObjectHandle>>,
}

impl StoredRefs {
    /// The records of container `id`, if it has any list.
    pub fn of(&self, id: u32) -> Option<&[ObjectHandle]> {
        self.by_container.get(&id).map(Vec::as_slice)
    }

    /// Every container id with a list.
    pub fn containers(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_container.keys().copied()
    }

    /// Keeps an emptied list for the next container (`room_for_record`
    /// reserved the place, so this does not allocate).
    fn keep_spare(&mut self, mut list: Vec<ObjectHandle>) {
        list.clear();
        if self.spare.len() < self.spare.capacity() {
            self.spare.push(list);
        }
    }

    /// Bytes of memory the records hold.
    pub fn table_bytes(&self) -> usize {
        let lists = self.by_container.values().chain(self.spare.iter());
        let records: usize = lists.map(Vec::capacity).sum();
        records * core::mem::size_of::<ObjectHandle>()
            + self.by_container.capacity() * core::mem::size_of::<(u32, Vec<ObjectHandle>)>()
    }
}

impl Registry {
    /// Write barrier: records that a reference to `handle` is stored in an
    /// object of `container`. When the object lives in another region, its
    /// strong count goes up by one, the registry remembers that `container`
    /// holds that reference, and the result is `Ok(true)`; the reference is
    /// given back by [`unstore`](Self::unstore) or by `container`'s death.
    /// When the object lives in `container` itself, nothing changes and the
    /// result is `Ok(false)` (a region's own objects die with it anyway).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let level = reg.create_region(reg.root()).unwrap();
    /// let texture = reg.alloc_typed(reg.root(), 7u32).unwrap();
    /// assert!(reg.store_handle(level, texture).unwrap());
    /// assert_eq!(reg.strong_count(texture).unwrap(), 1);
    /// // The level dies: the reference it stored is given back.
    /// reg.release_region(level).unwrap();
    /// assert_eq!(reg.strong_count(texture).unwrap(), 0);
    /// ```
    pub fn store_handle(&mut self, container: RegionHandle, handle: ObjectHandle) -> Result<bool> {
        self.region(container)?;
        let home = self.locate_mut(handle)?;
        if home.region() == container {
            return Ok(false);
        }
        let id = container.id();
        let counted = self
            .room_for_record(id)
            .and_then(|()| self.adjust(home, Count::Strong, true));
        if let Err(error) = counted {
            // A failed operation changes nothing: no empty list stays.
            self.forget_if_empty(id);
            return Err(error);
        }
        let list = self
            .stored
            .by_container
            .get_mut(&id)
            .expect("room_for_record made the list");
        list.push(home);
        self.live_mut(id).stores = true;
        Ok(true)
    }

    /// Records that live region `id` stored a reference to `home` (whose
    /// count already includes it): a deserialized stored reference.
    pub(crate) fn record_stored(&mut self, id: u32, home: ObjectHandle) -> Result<()> {
        self.room_for_record(id)?;
        let list = self.stored.by_container.get_mut(&id).expect("made room");
        list.push(home);
        self.live_mut(id).stores = true;
        Ok(())
    }

    /// Makes container `id`'s list exist and have room for one more record.
    #[inline]
    fn room_for_record(&mut self, id: u32) -> Result<()> {
        match self.stored.by_container.get(&id) {
            Some(list) if list.len() < list.capacity() => Ok(()),
            Some(_) => self.grow_records(id),
            None => self.new_records(id),
        }
    }

    /// A list with room for one record for container `id`, which has none:
    /// a spare one if there is one. Inserted only once it has room, so a
    /// failure leaves no list behind.
    #[cold]
    fn new_records(&mut self, id: u32) -> Result<()> {
        fallible::reserve_map(&mut self.stored.by_container, 1)?;
        // Room to keep every list as a spare later without allocating (a
        // death cannot fail).
        let lists = self.stored.by_container.len() + 1;
        fallible::reserve(&mut self.stored.spare, lists)?;
        let mut list = self.stored.spare.pop().unwrap_or_default();
        if let Err(error) = fallible::reserve(&mut list, 1) {
            self.stored.keep_spare(list);
            return Err(error);
        }
        self.stored.by_container.insert(id, list);
        Ok(())
    }

    /// Room for one more record in container `id`'s full list: the records
    /// of dead objects are swept first, and the list grows only if that
    /// freed nothing.
    #[cold]
    fn grow_records(&mut self, id: u32) -> Result<()> {
        let mut list = self
            .stored
            .by_container
            .remove(&id)
            .expect("the caller found it");
        list.retain(|&stored| self.locate(stored).is_ok());
        let room = fallible::reserve(&mut list, 1);
        self.stored.by_container.insert(id, list);
        room
    }

    /// Gives back one reference to `handle`'s object that `container`
    /// stored with [`store_handle`](Self::store_handle): the object's strong
    /// count goes down by one and the record goes. Errors, in this order:
    /// `InvalidRegion` (container), `StaleHandle`, `NotStored` (no such
    /// record), `RefcountUnderflow` (the count was already released to 0
    /// by hand); on `Err` nothing changes.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let level = reg.create_region(reg.root()).unwrap();
    /// let stats = reg.alloc_typed(reg.root(), 0u64).unwrap();
    /// reg.store_handle(level, stats).unwrap();
    /// reg.unstore(level, stats).unwrap();
    /// assert_eq!(reg.strong_count(stats).unwrap(), 0);
    /// assert_eq!(reg.unstore(level, stats).unwrap_err().kind(), ErrorKind::NotStored);
    /// ```
    pub fn unstore(&mut self, container: RegionHandle, handle: ObjectHandle) -> Result<()> {
        self.region(container)?;
        let home = self.locate_mut(handle)?;
        let id = container.id();
        let records = self.stored.of(id).unwrap_or_default();
        let index = records
            .iter()
            .position(|&stored| stored == home)
            .or_else(|| {
                let mut resolved = records.iter().map(|&stored| self.locate(stored));
                resolved.position(|found| found == Ok(home))
            })
            .ok_or(Error::NotStored { container, handle })?;
        self.adjust(home, Count::Strong, false)?;
        let list = self.stored.by_container.get_mut(&id).expect("found above");
        list.swap_remove(index);
        if list.is_empty() {
            self.forget_records(id);
        }
        Ok(())
    }

    /// The objects `container` holds stored references to, as current home
    /// handles, one per reference (an object stored twice appears twice), in
    /// no particular order. References to objects that died since are
    /// skipped.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let level = reg.create_region(reg.root()).unwrap();
    /// let a = reg.alloc_typed(reg.root(), 1u8).unwrap();
    /// reg.store_handle(level, a).unwrap();
    /// reg.store_handle(level, a).unwrap();
    /// assert_eq!(reg.stored_in(level).unwrap().collect::<Vec<_>>(), [a, a]);
    /// ```
    pub fn stored_in(
        &self,
        container: RegionHandle,
    ) -> Result<impl Iterator<Item = ObjectHandle> + '_> {
        self.region(container)?;
        let records = self.stored.of(container.id()).unwrap_or_default();
        Ok(records
            .iter()
            .filter_map(|&stored| self.locate(stored).ok()))
    }

    /// Drops container `id`'s list if it has no record.
    fn forget_if_empty(&mut self, id: u32) {
        if self.stored.of(id).is_some_and(<[_]>::is_empty) {
            self.forget_records(id);
        }
    }

    /// Drops container `id`'s (empty or released) list, keeping its
    /// capacity for the next container.
    fn forget_records(&mut self, id: u32) {
        if let Some(list) = self.stored.by_container.remove(&id) {
            self.stored.keep_spare(list);
        }
        self.regions[id as usize].region.stores = false;
    }

    /// The death of container `id` (already out of the tree, its
    /// promotions done): gives back every reference it stored whose object
    /// is alive and still counted. Cannot fail.
    pub(crate) fn release_stored_by(&mut self, id: u32) {
        let Some(list) = self.stored.by_container.remove(&id) else {
            return;
        };
        for &stored in &list {
            if let Ok(home) = self.locate(stored) {
                self.drop_counted_strong(home);
            }
        }
        self.stored.keep_spare(list);
        self.regions[id as usize].region.stores = false;
    }

    /// Decrements the strong count of live `home` unless it is already 0.
    fn drop_counted_strong(&mut self, home: ObjectHandle) {
        if self.strong_count(home) != Ok(0) {
            let released = self.adjust(home, Count::Strong, false);
            debug_assert!(released.is_ok(), "the count was above 0");
        }
    }
}
