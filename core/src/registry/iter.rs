//! Iteration over live objects: by type, by raw tag, by subtree, and over
//! the whole registry.
//!
//! Every iterator yields current home handles, each live object once.
//! Within a region the order is slot order; a subtree is visited region by
//! region in depth-first order starting with its root. Neither slot order
//! nor the order of siblings is specified (ids are recycled), so callers
//! that need an order sort. None of these allocates.

use super::Registry;
use crate::error::{Error, Result};
use crate::handle::{ObjectHandle, RegionHandle, TypeTag};
use crate::region::NO_REGION;

impl Registry {
    /// The typed objects of type `T` whose current home is `region`, with
    /// their values.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.alloc_typed(r, 1u32).unwrap();
    /// reg.alloc_typed(r, "not a u32").unwrap();
    /// reg.alloc_typed(r, 2u32).unwrap();
    /// let mut sum = 0;
    /// for (_, value) in reg.iter::<u32>(r).unwrap() {
    ///     sum += value;
    /// }
    /// assert_eq!(sum, 3);
    /// ```
    pub fn iter<T: 'static>(
        &self,
        region: RegionHandle,
    ) -> Result<impl Iterator<Item = (ObjectHandle, &T)> + '_> {
        let slots = &self.region(region)?.slots;
        let types = &self.destructors;
        Ok(slots
            .live()
            .filter(move |(_, record)| types.is::<T>(record.tag))
            .map(move |(slot, record)| {
                let handle = ObjectHandle::new(region, slot, record.generation);
                // SAFETY: the type index was claimed by `T`, so the storage
                // holds a valid, aligned `T`; the borrow of the registry
                // keeps it alive and unchanged.
                (handle, unsafe { &*record.data().cast::<T>() })
            }))
    }

    /// The typed objects of type `T` whose current home is `region`, with
    /// their values, mutably.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let h = reg.alloc_typed(r, 1u32).unwrap();
    /// for (_, value) in reg.iter_mut::<u32>(r).unwrap() {
    ///     *value *= 10;
    /// }
    /// assert_eq!(*reg.get_typed::<u32>(h).unwrap(), 10);
    /// ```
    pub fn iter_mut<T: 'static>(
        &mut self,
        region: RegionHandle,
    ) -> Result<impl Iterator<Item = (ObjectHandle, &mut T)> + '_> {
        self.region(region)?;
        let Registry {
            regions,
            destructors,
            ..
        } = self;
        let types = &*destructors;
        let slots = &mut regions[region.id() as usize].region.slots;
        Ok(slots
            .live_mut()
            .filter(move |(_, record)| types.is::<T>(record.tag))
            .map(move |(slot, record)| {
                let handle = ObjectHandle::new(region, slot, record.generation);
                // SAFETY: as in `iter`; each live record owns distinct
                // storage (its cell, or its own heap chunk) and is visited
                // once, so the `&mut T`s never alias, and `&mut self` is
                // held for as long as they live.
                (handle, unsafe { &mut *record.data_mut().cast::<T>() })
            }))
    }

    /// The raw objects with raw `tag` whose current home is `region`, with
    /// their bytes. A typed tag is `ReservedTypeTag` (typed objects are
    /// iterated with [`iter`](Self::iter)).
    ///
    /// ```
    /// use regions::{Registry, TypeTag};
    /// let mut reg = Registry::new();
    /// let root = reg.root();
    /// reg.alloc_bytes(root, TypeTag(1), 1, b"a").unwrap();
    /// reg.alloc_bytes(root, TypeTag(2), 1, b"b").unwrap();
    /// let found: Vec<_> = reg.iter_raw(root, TypeTag(2)).unwrap().map(|(_, b)| b.to_vec()).collect();
    /// assert_eq!(found, [b"b".to_vec()]);
    /// ```
    pub fn iter_raw(
        &self,
        region: RegionHandle,
        tag: TypeTag,
    ) -> Result<impl Iterator<Item = (ObjectHandle, &[u8])> + '_> {
        let slots = &self.region(region)?.slots;
        if tag.is_typed() {
            return Err(Error::ReservedTypeTag { tag });
        }
        Ok(slots
            .live()
            .filter(move |(_, record)| record.tag == tag.0)
            .map(move |(slot, record)| {
                let handle = ObjectHandle::new(region, slot, record.generation);
                // SAFETY: a raw object's bytes are all initialized.
                (handle, unsafe { record.bytes() })
            }))
    }

    /// Every live object whose current home is `region` or one of its
    /// descendants.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let level = reg.create_region(reg.root()).unwrap();
    /// let room = reg.create_region(level).unwrap();
    /// reg.alloc_typed(level, 1u8).unwrap();
    /// reg.alloc_typed(room, 2u8).unwrap();
    /// reg.alloc_typed(reg.root(), 3u8).unwrap();
    /// assert_eq!(reg.subtree_objects(level).unwrap().count(), 2);
    /// ```
    pub fn subtree_objects(
        &self,
        region: RegionHandle,
    ) -> Result<impl Iterator<Item = ObjectHandle> + '_> {
        self.region(region)?;
        let regions = self.subtree_regions(region.id());
        Ok(regions.flat_map(move |id| {
            let region = self.live_handle(id);
            self.objects(region).expect("a live region")
        }))
    }

    /// Every live object in the registry.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.alloc_typed(r, 1u8).unwrap();
    /// reg.alloc_typed(reg.root(), 2u8).unwrap();
    /// assert_eq!(reg.all_objects().count(), 2);
    /// ```
    pub fn all_objects(&self) -> impl Iterator<Item = ObjectHandle> + '_ {
        self.live_regions()
            .flat_map(move |region| self.objects(region).expect("a live region"))
    }

    /// The ids of live region `top` and its descendants, depth-first,
    /// `top` first (each after its parent).
    pub(crate) fn subtree_regions(&self, top: u32) -> impl Iterator<Item = u32> + '_ {
        let mut next = Some(top);
        core::iter::from_fn(move || {
            let id = next?;
            next = self.after_in_subtree(top, id);
            Some(id)
        })
    }

    /// The region after `id` in a depth-first walk of the subtree of `top`
    /// (first the children, then the next sibling of the nearest
    /// ancestor that has one), or `None` at the end. Uses the tree's links
    /// only, so the walk needs no stack.
    fn after_in_subtree(&self, top: u32, id: u32) -> Option<u32> {
        let first_child = self.live(id).first_child;
        if first_child != NO_REGION {
            return Some(first_child);
        }
        let mut at = id;
        while at != top {
            let region = self.live(at);
            if region.next_sibling != NO_REGION {
                return Some(region.next_sibling);
            }
            at = region.parent;
        }
        None
    }
}
