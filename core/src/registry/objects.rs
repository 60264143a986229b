//! Object operations: allocation, access, destruction, counts.

use core::alloc::Layout;

use super::Registry;
use crate::destructor::typed_tag;
use crate::error::{Count, Error, Result};
use crate::handle::{ObjectHandle, RegionHandle, TypeTag, WeakHandle};
use crate::pool::Entry;
use crate::{MAX_ALIGN, MAX_OBJECT_SIZE};

/// Checks a layout against the crate's limits.
#[inline]
fn check_layout(layout: Layout) -> Result<()> {
    if layout.size() > MAX_OBJECT_SIZE {
        return Err(Error::SizeOverflow {
            size: layout.size(),
        });
    }
    if layout.align() > MAX_ALIGN {
        return Err(Error::UnsupportedAlignment {
            align: layout.align(),
        });
    }
    Ok(())
}

impl Registry {
    /// Allocates a raw object of `layout` in `region`, holding exactly
    /// `bytes` (`bytes.len()` must equal `layout.size()`), with raw `tag`.
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use regions::{Registry, TypeTag};
    /// let mut reg = Registry::new();
    /// let h = reg.alloc(reg.root(), Layout::from_size_align(3, 1).unwrap(), b"abc", TypeTag(7)).unwrap();
    /// assert_eq!(reg.get(h).unwrap(), b"abc");
    /// ```
    #[inline]
    pub fn alloc(
        &mut self,
        region: RegionHandle,
        layout: Layout,
        bytes: &[u8],
        tag: TypeTag,
    ) -> Result<ObjectHandle> {
        self.region(region)?;
        if tag.is_typed() {
            return Err(Error::ReservedTypeTag { tag });
        }
        if bytes.len() != layout.size() {
            return Err(Error::SizeMismatch {
                layout_size: layout.size(),
                bytes_len: bytes.len(),
            });
        }
        check_layout(layout)?;
        let (handle, entry) = self.insert(region, layout, tag)?;
        // SAFETY: the entry's storage holds `layout.size()` fresh bytes that
        // do not overlap `bytes`.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), entry.data_mut(), bytes.len()) };
        Ok(handle)
    }

    /// Allocates `value` in `region` as a typed object (DESIGN's
    /// `alloc::<T>`). If `T` needs dropping, it is dropped in place when the
    /// object is destroyed. On `Err`, `value` is dropped.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), String::from("hi")).unwrap();
    /// assert_eq!(reg.get_typed::<String>(h).unwrap(), "hi");
    /// assert!(reg.get_typed::<u64>(h).is_err());
    /// ```
    pub fn alloc_typed<T: Send + 'static>(
        &mut self,
        region: RegionHandle,
        value: T,
    ) -> Result<ObjectHandle> {
        self.region(region)?;
        let layout = Layout::new::<T>();
        check_layout(layout)?;
        let tag = self.destructors.claim_typed::<T>()?;
        let (handle, entry) = self.insert(region, layout, tag)?;
        // SAFETY: the storage is aligned for `T` and `size_of::<T>()` long.
        unsafe { entry.data_mut().cast::<T>().write(value) };
        Ok(handle)
    }

    /// Reserves and links a slot and an entry for a new object; the caller
    /// writes its bytes.
    #[inline]
    fn insert(
        &mut self,
        region: RegionHandle,
        layout: Layout,
        tag: TypeTag,
    ) -> Result<(ObjectHandle, &mut Entry)> {
        let live = self.live_mut(region.id);
        live.slots.try_reserve(1)?;
        live.pool.try_reserve(1)?;
        let reserved = live.pool.reserve_storage(layout)?;
        let (slot, slot_generation) = match live.slots.allocate() {
            Ok(ids) => ids,
            Err(error) => {
                live.pool.unreserve(reserved);
                return Err(error);
            }
        };
        let position = live.pool.push(Entry::new(reserved, tag));
        let handle = ObjectHandle {
            region,
            slot,
            slot_generation,
        };
        Ok((handle, live.pool.entry_mut(position)))
    }

    /// The live entry `handle` resolves to.
    #[inline]
    fn entry(&self, handle: ObjectHandle) -> Result<&Entry> {
        if let Some(entry) = self.home_entry(handle) {
            return Ok(entry);
        }
        let location = self.locate(handle)?;
        Ok(self
            .live(location.home.region.id)
            .pool
            .entry(location.position))
    }

    /// The live entry `handle` resolves to, mutably (compressing the chain).
    #[inline]
    fn entry_mut(&mut self, handle: ObjectHandle) -> Result<&mut Entry> {
        let location = self.locate_mut(handle)?;
        Ok(self
            .live_mut(location.home.region.id)
            .pool
            .entry_mut(location.position))
    }

    fn raw_only(handle: ObjectHandle, entry: &Entry) -> Result<()> {
        if entry.tag.is_typed() {
            return Err(Error::TypeMismatch {
                handle,
                expected: TypeTag(0),
                found: entry.tag,
            });
        }
        Ok(())
    }

    /// The bytes of a raw object. Typed objects are read with
    /// [`get_typed`](Self::get_typed) (`TypeMismatch` here).
    #[inline]
    pub fn get(&self, handle: ObjectHandle) -> Result<&[u8]> {
        let entry = self.entry(handle)?;
        Self::raw_only(handle, entry)?;
        // SAFETY: raw objects' bytes are all initialized.
        Ok(unsafe { entry.bytes() })
    }

    /// The bytes of a raw object, mutably.
    pub fn get_mut(&mut self, handle: ObjectHandle) -> Result<&mut [u8]> {
        let entry = self.entry_mut(handle)?;
        Self::raw_only(handle, entry)?;
        // SAFETY: raw objects' bytes are all initialized and any bytes are valid.
        Ok(unsafe { entry.bytes_mut() })
    }

    /// The value of a typed object of type `T` (DESIGN's `get::<T>`).
    #[inline]
    pub fn get_typed<T: 'static>(&self, handle: ObjectHandle) -> Result<&T> {
        let entry = self.entry(handle)?;
        self.check_type::<T>(handle, entry)?;
        // SAFETY: the tag was claimed by `T`, so the storage holds a valid,
        // aligned `T`; the borrow of `self` keeps it alive and unchanged.
        Ok(unsafe { &*entry.data().cast::<T>() })
    }

    /// The value of a typed object of type `T`, mutably.
    pub fn get_typed_mut<T: 'static>(&mut self, handle: ObjectHandle) -> Result<&mut T> {
        let location = self.locate_mut(handle)?;
        let entry = self
            .live(location.home.region.id)
            .pool
            .entry(location.position);
        self.check_type::<T>(handle, entry)?;
        let entry = self
            .live_mut(location.home.region.id)
            .pool
            .entry_mut(location.position);
        // SAFETY: as in `get_typed`, and `&mut self` makes the access exclusive.
        Ok(unsafe { &mut *entry.data_mut().cast::<T>() })
    }

    fn check_type<T: 'static>(&self, handle: ObjectHandle, entry: &Entry) -> Result<()> {
        if self.destructors.is_claimed_by::<T>(entry.tag) {
            Ok(())
        } else {
            Err(Error::TypeMismatch {
                handle,
                expected: typed_tag::<T>(),
                found: entry.tag,
            })
        }
    }

    /// The object's type tag.
    pub fn type_tag(&self, handle: ObjectHandle) -> Result<TypeTag> {
        Ok(self.entry(handle)?.tag)
    }

    /// The object's layout.
    pub fn layout_of(&self, handle: ObjectHandle) -> Result<Layout> {
        Ok(self.entry(handle)?.layout())
    }

    /// The object's strong count.
    pub fn strong_count(&self, handle: ObjectHandle) -> Result<u32> {
        Ok(self.entry(handle)?.strong)
    }

    /// The object's weak count.
    pub fn weak_count(&self, handle: ObjectHandle) -> Result<u32> {
        Ok(self.entry(handle)?.weak)
    }

    /// Destroys the object now, whatever its counts (its destructor runs
    /// once); every handle to it becomes stale.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), 1u16).unwrap();
    /// reg.free(h).unwrap();
    /// assert!(reg.free(h).is_err());
    /// ```
    #[inline]
    pub fn free(&mut self, handle: ObjectHandle) -> Result<()> {
        let location = self.locate_mut(handle)?;
        let home = location.home;
        let region = self.live_mut(home.region.id);
        let removal = region.slots.release(home.slot);
        debug_assert_eq!(removal.position, location.position);
        let mut entry = region.pool.swap_remove(removal.position);
        region.strong_objects -= u32::from(entry.strong > 0);
        let left = region.pool.detach_chunk(&entry);
        let aliases = core::mem::replace(&mut entry.aliases, crate::pool::NO_ALIASES);
        self.release_aliases(aliases);
        // The registry is consistent again; only now run user code.
        let (tag, size) = (entry.tag, entry.size());
        // SAFETY: the entry left the pool and is destroyed exactly once here.
        unsafe { self.destructors.run(home, tag, entry.data_mut(), size) };
        drop(entry);
        if let Some(left) = left {
            self.live_mut(home.region.id).pool.release_chunk(left);
        }
        Ok(())
    }

    fn adjust(&mut self, handle: ObjectHandle, count: Count, increment: bool) -> Result<()> {
        let location = self.locate_mut(handle)?;
        let region = self.live_mut(location.home.region.id);
        let entry = region.pool.entry_mut(location.position);
        let value = match count {
            Count::Weak => &mut entry.weak,
            _ => &mut entry.strong,
        };
        let before = *value;
        *value = if increment {
            before
                .checked_add(1)
                .ok_or(Error::RefcountOverflow { count })?
        } else {
            before
                .checked_sub(1)
                .ok_or(Error::RefcountUnderflow { count })?
        };
        if count == Count::Strong {
            match (before, *value) {
                (0, 1) => region.strong_objects += 1,
                (1, 0) => region.strong_objects -= 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// Increments the strong count: the object survives its region's death
    /// (promoted to the parent) while the count is above 0.
    pub fn retain(&mut self, handle: ObjectHandle) -> Result<()> {
        self.adjust(handle, Count::Strong, true)
    }

    /// Decrements the strong count (`RefcountUnderflow` at 0). Reaching 0 does
    /// not destroy the object.
    pub fn release(&mut self, handle: ObjectHandle) -> Result<()> {
        self.adjust(handle, Count::Strong, false)
    }

    /// Write barrier: records that a reference to `handle` is stored in an
    /// object of `container`. Retains the object when it lives in another
    /// region and returns whether it did.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let a = reg.create_region(reg.root()).unwrap();
    /// let h = reg.alloc_typed(a, 0u8).unwrap();
    /// assert!(!reg.store_handle(a, h).unwrap());
    /// assert!(reg.store_handle(reg.root(), h).unwrap());
    /// assert_eq!(reg.strong_count(h).unwrap(), 1);
    /// ```
    pub fn store_handle(&mut self, container: RegionHandle, handle: ObjectHandle) -> Result<bool> {
        self.region(container)?;
        let location = self.locate_mut(handle)?;
        if location.home.region == container {
            return Ok(false);
        }
        self.retain(location.home)?;
        Ok(true)
    }

    /// A weak handle to the object; increments its weak count.
    pub fn downgrade(&mut self, handle: ObjectHandle) -> Result<WeakHandle> {
        let location = self.locate_mut(handle)?;
        self.adjust(location.home, Count::Weak, true)?;
        Ok(WeakHandle {
            target: location.home,
        })
    }

    /// The object's current home handle while it is alive, else `None`.
    /// Changes no count.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), 3u8).unwrap();
    /// let w = reg.downgrade(h).unwrap();
    /// assert_eq!(reg.upgrade(w), Some(h));
    /// reg.free(h).unwrap();
    /// assert_eq!(reg.upgrade(w), None);
    /// ```
    pub fn upgrade(&self, weak: WeakHandle) -> Option<ObjectHandle> {
        self.locate(weak.target).ok().map(|location| location.home)
    }

    /// Gives up a weak reference: decrements the weak count
    /// (`RefcountUnderflow` at 0, `StaleHandle` once the object is gone).
    pub fn drop_weak(&mut self, weak: WeakHandle) -> Result<()> {
        self.adjust(weak.target, Count::Weak, false)
    }

    /// Installs `destructor` for objects with raw `tag`, replacing any earlier
    /// one. It runs once for each such object destroyed (by `free`, by region
    /// death, by dropping the registry), never on promotion.
    ///
    /// ```
    /// use regions::{Registry, TypeTag};
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let mut reg = Registry::new();
    /// let seen = calls.clone();
    /// reg.register_destructor(TypeTag(1), move |_, _| { seen.fetch_add(1, Ordering::Relaxed); }).unwrap();
    /// let h = reg.alloc(reg.root(), core::alloc::Layout::new::<u8>(), &[0], TypeTag(1)).unwrap();
    /// reg.free(h).unwrap();
    /// assert_eq!(calls.load(Ordering::Relaxed), 1);
    /// ```
    pub fn register_destructor(
        &mut self,
        tag: TypeTag,
        destructor: impl FnMut(ObjectHandle, &mut [u8]) + Send + 'static,
    ) -> Result<()> {
        self.destructors
            .register(tag, alloc::boxed::Box::new(destructor))
    }
}
