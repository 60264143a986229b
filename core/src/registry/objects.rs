//! Object operations: allocation, access, destruction, counts.

use core::alloc::Layout;

use super::Registry;
use crate::destructor::Destructors;
use crate::error::{Count, Counted, Error, Expected, Result};
use crate::handle::{ObjectHandle, RegionHandle, TypeTag, WeakHandle};
use crate::pool::{INLINE_ALIGN, INLINE_SIZE};
use crate::slot_table::{Aux, Cell, Record, Vacated};
use crate::{MAX_ALIGN, MAX_OBJECT_SIZE};

/// Checks a layout against the crate's limits.
#[inline]
pub(crate) fn check_layout(layout: Layout) -> Result<()> {
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

/// Whether objects of `layout` are stored in their slot record.
#[inline]
pub(crate) fn is_inline(layout: Layout) -> bool {
    layout.size() <= INLINE_SIZE && layout.align() <= INLINE_ALIGN
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
    #[inline(always)]
    #[cfg_attr(feature = "leak-report", track_caller)]
    pub fn alloc(
        &mut self,
        region: RegionHandle,
        layout: Layout,
        bytes: &[u8],
        tag: TypeTag,
    ) -> Result<ObjectHandle> {
        let (handle, data) = self.insert_raw(region, layout, bytes.len(), tag)?;
        // SAFETY: `data` is the new object's storage: `layout.size()` bytes
        // that do not overlap `bytes`.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len()) };
        #[cfg(feature = "leak-report")]
        self.leaks.record(handle, core::panic::Location::caller());
        Ok(handle)
    }

    /// A new raw object of `layout` with raw `tag` in `region`, its bytes
    /// not yet written; `len` is the length of the bytes the caller will
    /// write (`SizeMismatch` unless it is `layout.size()`).
    #[inline(always)]
    pub(crate) fn insert_raw(
        &mut self,
        region: RegionHandle,
        layout: Layout,
        len: usize,
        tag: TypeTag,
    ) -> Result<(ObjectHandle, *mut u8)> {
        let valid = !tag.is_typed()
            && len == layout.size()
            && layout.size() <= MAX_OBJECT_SIZE
            && layout.align() <= MAX_ALIGN;
        match self.insert_fast(region, layout, tag.0, valid) {
            Some(inserted) => Ok(inserted),
            None => self.alloc_slow(region, layout, len, tag),
        }
    }

    /// `alloc` when the fast path does not apply: checks every argument in
    /// the documented precedence, then inserts, growing what must grow.
    #[cold]
    #[inline(never)]
    fn alloc_slow(
        &mut self,
        region: RegionHandle,
        layout: Layout,
        len: usize,
        tag: TypeTag,
    ) -> Result<(ObjectHandle, *mut u8)> {
        self.region(region)?;
        if tag.is_typed() {
            return Err(Error::ReservedTypeTag { tag });
        }
        if len != layout.size() {
            return Err(Error::SizeMismatch {
                layout_size: layout.size(),
                bytes_len: len,
            });
        }
        check_layout(layout)?;
        self.insert(region, layout, tag.0)
    }

    /// Allocates `value` in `region` as a typed object. If `T` needs dropping, it is dropped in place when the
    /// object is destroyed. On `Err`, `value` is dropped.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), String::from("hi")).unwrap();
    /// assert_eq!(reg.get_typed::<String>(h).unwrap(), "hi");
    /// assert!(reg.get_typed::<u64>(h).is_err());
    /// ```
    #[inline(always)]
    #[cfg_attr(feature = "leak-report", track_caller)]
    pub fn alloc_typed<T: Send + 'static>(
        &mut self,
        region: RegionHandle,
        value: T,
    ) -> Result<ObjectHandle> {
        let layout = Layout::new::<T>();
        let valid = layout.size() <= MAX_OBJECT_SIZE && layout.align() <= MAX_ALIGN;
        let inserted = match self.destructors.claim_cached::<T>() {
            Some(tag) => self.insert_fast(region, layout, tag, valid),
            None => None,
        };
        let (handle, data) = match inserted {
            Some(inserted) => inserted,
            None => self.alloc_typed_slow::<T>(region)?,
        };
        // SAFETY: the storage is aligned for `T` and `size_of::<T>()` long.
        unsafe { data.cast::<T>().write(value) };
        #[cfg(feature = "leak-report")]
        self.leaks.record(handle, core::panic::Location::caller());
        Ok(handle)
    }

    /// `alloc_typed` when the fast path does not apply.
    #[cold]
    #[inline(never)]
    fn alloc_typed_slow<T: Send + 'static>(
        &mut self,
        region: RegionHandle,
    ) -> Result<(ObjectHandle, *mut u8)> {
        self.region(region)?;
        let layout = Layout::new::<T>();
        check_layout(layout)?;
        let tag = self.destructors.claim::<T>()?;
        self.insert(region, layout, tag)
    }

    /// The common case of inserting a new object of `layout` with stored
    /// tag `tag` into `region`: the arguments are `valid`, the region is
    /// live, its table has room, and the object is inline or its slab pool
    /// has a page with room. `None` otherwise, with nothing changed; the
    /// caller then takes the general path.
    #[inline(always)]
    fn insert_fast(
        &mut self,
        region: RegionHandle,
        layout: Layout,
        tag: u64,
        valid: bool,
    ) -> Option<(ObjectHandle, *mut u8)> {
        let Registry {
            regions,
            config,
            accounts,
            #[cfg(feature = "leak-report")]
            leaks,
            ..
        } = self;
        let slot = regions.get_mut(region.id() as usize)?;
        let size = layout.size() as u64;
        if !valid || !slot.is(region) || slot.is_budgeted() || !accounts.fits(size) {
            return None;
        }
        let live = &mut slot.region;
        if !live.slots.has_room_for(1) {
            return None;
        }
        #[cfg(feature = "leak-report")]
        if !leaks.has_room(region.id(), live.slots.len()) {
            return None;
        }
        let inline = is_inline(layout);
        let cell = if inline {
            Cell::inline()
        } else {
            let typed = Destructors::type_index(tag);
            Cell::heap(live.pool.allocate_fast(layout, typed, config)?)
        };
        let aux = Aux::new(layout.align());
        let (slot, generation, data) = live.slots.occupy(layout.size(), !inline, tag, cell, aux);
        accounts.allocated(1, size);
        Some((ObjectHandle::new(region, slot, generation), data))
    }

    /// Reserves a slot and storage for a new object of `layout` with stored
    /// tag `tag` in live `region` (valid arguments), growing the table and
    /// the pools as needed; the caller writes its bytes at the returned
    /// address.
    pub(crate) fn insert(
        &mut self,
        region: RegionHandle,
        layout: Layout,
        tag: u64,
    ) -> Result<(ObjectHandle, *mut u8)> {
        self.admit(region, layout.size() as u64)?;
        if !self.live(region.id()).slots.has_room_for(1) {
            self.make_room(region.id(), 1)?;
        }
        #[cfg(feature = "leak-report")]
        self.reserve_sites(region.id(), 1)?;
        let Registry {
            regions,
            blocks,
            config,
            accounts,
            ..
        } = self;
        let live = &mut regions[region.id() as usize].region;
        let inline = is_inline(layout);
        let cell = if inline {
            Cell::inline()
        } else {
            let typed = Destructors::type_index(tag);
            Cell::heap(live.pool.allocate(layout, typed, config, blocks)?)
        };
        let aux = Aux::new(layout.align());
        let (slot, generation, data) = live.slots.occupy(layout.size(), !inline, tag, cell, aux);
        accounts.allocated(1, layout.size() as u64);
        Ok((ObjectHandle::new(region, slot, generation), data))
    }

    /// Makes room for `count` new objects in region `id`: frees its dead
    /// forwarding slots first, and grows its table only if that is not enough.
    #[cold]
    #[inline(never)]
    pub(crate) fn make_room(&mut self, id: u32, count: usize) -> Result<()> {
        if self.live(id).slots.forwarded_len() > 0 {
            self.sweep_forwarded(id);
        }
        self.live_mut(id).slots.reserve(count)
    }

    /// Makes room for `count` new objects in live region `id`: its table
    /// and, with the `leak-report` feature, their allocation sites.
    pub(crate) fn reserve_objects(&mut self, id: u32, count: usize) -> Result<()> {
        self.make_room(id, count)?;
        #[cfg(feature = "leak-report")]
        self.reserve_sites(id, count)?;
        Ok(())
    }

    /// Sets the counts of live `home`, keeping its region's count of
    /// strongly held objects right.
    pub(crate) fn set_counts(&mut self, home: ObjectHandle, strong: u32, weak: u32) {
        let region = self.live_mut(home.region().id());
        let aux = region.slots.aux_mut(home.slot());
        let was_held = aux.strong > 0;
        (aux.strong, aux.weak) = (strong, weak);
        region.strong_objects = region.strong_objects - u32::from(was_held) + u32::from(strong > 0);
    }

    /// The data address of live `home`.
    pub(crate) fn data_of(&mut self, home: ObjectHandle) -> *mut u8 {
        let region = self.live_mut(home.region().id());
        region.slots.record_mut(home.slot()).data_mut()
    }

    /// Drops the value of live typed `home` in place (through its type's
    /// serializer, the only way a value is made without `alloc_typed`);
    /// raw objects have none.
    pub(crate) fn drop_value(&mut self, home: ObjectHandle) {
        let tag = self.record_at(home).tag;
        if let Some(persister) = self.persisters.of_tag(tag).copied() {
            let data = self.data_of(home);
            // SAFETY: the object holds a value of the persister's type
            // (loaded by it), which is never used again: the caller
            // discards the object next.
            unsafe { (persister.drop)(data) };
        }
    }

    /// `Err` unless the record holds a raw object (byte access).
    #[inline(always)]
    fn raw_only(&self, handle: ObjectHandle, record: &Record) -> Result<()> {
        if record.tag & TypeTag::TYPED_BIT != 0 {
            return Err(self.mismatch(handle, Expected::Raw, record.tag));
        }
        Ok(())
    }

    /// `Err` unless the record holds a value of `T`.
    #[inline(always)]
    fn typed_only<T: ?Sized + 'static>(&self, handle: ObjectHandle, record: &Record) -> Result<()> {
        if !self.destructors.is::<T>(record.tag) {
            let expected = Expected::Type(core::any::type_name::<T>());
            return Err(self.mismatch(handle, expected, record.tag));
        }
        Ok(())
    }

    /// A `TypeMismatch` naming what the object with stored tag `stored` is.
    #[cold]
    #[inline(never)]
    fn mismatch(&self, handle: ObjectHandle, expected: Expected, stored: u64) -> Error {
        Error::TypeMismatch {
            handle,
            expected,
            found: self.destructors.object_type(stored),
        }
    }

    /// The bytes of a raw object. Typed objects are read with
    /// [`get_typed`](Self::get_typed) (`TypeMismatch` here).
    ///
    /// ```
    /// use regions::{ErrorKind, Registry, TypeTag};
    /// let mut reg = Registry::new();
    /// let raw = reg.alloc_bytes(reg.root(), TypeTag(1), 1, b"abcd").unwrap();
    /// assert_eq!(reg.get(raw).unwrap(), b"abcd");
    /// let typed = reg.alloc_typed(reg.root(), 7u32).unwrap();
    /// assert_eq!(reg.get(typed).unwrap_err().kind(), ErrorKind::TypeMismatch);
    /// ```
    #[inline(always)]
    pub fn get(&self, handle: ObjectHandle) -> Result<&[u8]> {
        match self.home_record_if(handle, |tag| tag & TypeTag::TYPED_BIT == 0) {
            // SAFETY: a raw object's bytes are all initialized.
            Some(record) => Ok(unsafe { record.bytes() }),
            None => self.get_slow(handle),
        }
    }

    #[inline(never)]
    fn get_slow(&self, handle: ObjectHandle) -> Result<&[u8]> {
        let record = self.record(handle)?;
        self.raw_only(handle, record)?;
        // SAFETY: a raw object's bytes are all initialized.
        Ok(unsafe { record.bytes() })
    }

    /// The bytes of a raw object, mutably.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry, TypeTag};
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_bytes(reg.root(), TypeTag(1), 1, b"abc").unwrap();
    /// reg.get_mut(h).unwrap()[0] = b'X';
    /// assert_eq!(reg.get(h).unwrap(), b"Xbc");
    /// reg.free(h).unwrap();
    /// assert_eq!(reg.get_mut(h).unwrap_err().kind(), ErrorKind::StaleHandle);
    /// ```
    #[inline]
    pub fn get_mut(&mut self, handle: ObjectHandle) -> Result<&mut [u8]> {
        if self
            .home_record_if_mut(handle, |_, tag| tag & TypeTag::TYPED_BIT == 0)
            .is_some()
        {
            let record = self
                .home_record_if_mut(handle, |_, _| true)
                .expect("checked above");
            // SAFETY: a raw object's bytes are all initialized and any bytes are valid.
            return Ok(unsafe { record.bytes_mut() });
        }
        self.get_mut_slow(handle)
    }

    #[inline(never)]
    fn get_mut_slow(&mut self, handle: ObjectHandle) -> Result<&mut [u8]> {
        let home = self.locate_mut(handle)?;
        self.raw_only(handle, self.record_at(home))?;
        let record = self
            .live_mut(home.region().id())
            .slots
            .record_mut(home.slot());
        // SAFETY: a raw object's bytes are all initialized and any bytes are valid.
        Ok(unsafe { record.bytes_mut() })
    }

    /// The value of a typed object of type `T`.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), vec![1, 2, 3]).unwrap();
    /// assert_eq!(*reg.get_typed::<Vec<i32>>(h).unwrap(), [1, 2, 3]);
    /// let err = reg.get_typed::<String>(h).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TypeMismatch);
    /// ```
    #[inline(always)]
    pub fn get_typed<T: 'static>(&self, handle: ObjectHandle) -> Result<&T> {
        let record = match self.home_record_if(handle, |tag| self.destructors.is::<T>(tag)) {
            Some(record) => record,
            None => self.get_typed_slow::<T>(handle)?,
        };
        // SAFETY: the type index was claimed by `T`, so the storage holds a
        // valid, aligned `T`; the borrow of `self` keeps it alive and unchanged.
        Ok(unsafe { &*record.data().cast::<T>() })
    }

    #[inline(never)]
    fn get_typed_slow<T: 'static>(&self, handle: ObjectHandle) -> Result<&Record> {
        // Off the fast path the handle is most often an old one.
        let record = match self.forwarded_home(handle) {
            Some(home) => self.record_at(home),
            None => self.record(handle)?,
        };
        self.typed_only::<T>(handle, record)?;
        Ok(record)
    }

    /// The value of a typed object of type `T`, mutably.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let counter = reg.alloc_typed(reg.root(), 0u64).unwrap();
    /// *reg.get_typed_mut::<u64>(counter).unwrap() += 5;
    /// assert_eq!(*reg.get_typed::<u64>(counter).unwrap(), 5);
    /// let err = reg.get_typed_mut::<u32>(counter).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TypeMismatch);
    /// ```
    #[inline(always)]
    pub fn get_typed_mut<T: 'static>(&mut self, handle: ObjectHandle) -> Result<&mut T> {
        match self.home_record_if_mut(handle, |types, tag| types.is::<T>(tag)) {
            // SAFETY: as in `get_typed`, and `&mut self` makes the access exclusive.
            Some(record) => Ok(unsafe { &mut *record.data_mut().cast::<T>() }),
            None => self.get_typed_mut_slow(handle),
        }
    }

    #[inline(never)]
    fn get_typed_mut_slow<T: 'static>(&mut self, handle: ObjectHandle) -> Result<&mut T> {
        let home = self.locate_mut(handle)?;
        self.typed_only::<T>(handle, self.record_at(home))?;
        let record = self
            .live_mut(home.region().id())
            .slots
            .record_mut(home.slot());
        // SAFETY: as in `get_typed`, and `&mut self` makes the access exclusive.
        Ok(unsafe { &mut *record.data_mut().cast::<T>() })
    }

    /// The elements of a typed slice object (see
    /// [`alloc_slice_copy`](Self::alloc_slice_copy)).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_slice_copy(reg.root(), &[1u32, 2, 3]).unwrap();
    /// assert_eq!(reg.get_slice::<u32>(h).unwrap(), &[1, 2, 3]);
    /// assert!(reg.get_slice::<u64>(h).is_err());
    /// ```
    pub fn get_slice<T: 'static>(&self, handle: ObjectHandle) -> Result<&[T]> {
        let record = self.record(handle)?;
        self.typed_only::<[T]>(handle, record)?;
        let len = record.size() / core::mem::size_of::<T>().max(1);
        // SAFETY: the type index was claimed by `[T]` (`T` not zero-sized),
        // so the storage holds `len` valid, aligned `T`s.
        Ok(unsafe { core::slice::from_raw_parts(record.data().cast::<T>(), len) })
    }

    /// The elements of a typed slice object, mutably.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_slice_copy(reg.root(), &[1u32, 2, 3]).unwrap();
    /// reg.get_slice_mut::<u32>(h).unwrap().reverse();
    /// assert_eq!(reg.get_slice::<u32>(h).unwrap(), &[3, 2, 1]);
    /// let err = reg.get_slice_mut::<u8>(h).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TypeMismatch);
    /// ```
    pub fn get_slice_mut<T: 'static>(&mut self, handle: ObjectHandle) -> Result<&mut [T]> {
        let home = self.locate_mut(handle)?;
        self.typed_only::<[T]>(handle, self.record_at(home))?;
        let record = self
            .live_mut(home.region().id())
            .slots
            .record_mut(home.slot());
        let len = record.size() / core::mem::size_of::<T>().max(1);
        // SAFETY: as in `get_slice`, and `&mut self` makes the access exclusive.
        Ok(unsafe { core::slice::from_raw_parts_mut(record.data_mut().cast::<T>(), len) })
    }

    /// The object's type tag (for typed objects, [`typed_tag`](crate::typed_tag) of its type).
    ///
    /// ```
    /// use regions::{typed_tag, Registry, TypeTag};
    /// let mut reg = Registry::new();
    /// let raw = reg.alloc_bytes(reg.root(), TypeTag(9), 1, b"xy").unwrap();
    /// assert_eq!(reg.type_tag(raw).unwrap(), TypeTag(9));
    /// let typed = reg.alloc_typed(reg.root(), 1.5f64).unwrap();
    /// assert_eq!(reg.type_tag(typed).unwrap(), typed_tag::<f64>());
    /// ```
    pub fn type_tag(&self, handle: ObjectHandle) -> Result<TypeTag> {
        let record = self.record(handle)?;
        Ok(self.destructors.public_tag(record.tag))
    }

    /// The object's aux entry.
    fn aux(&self, handle: ObjectHandle) -> Result<Aux> {
        let home = self.locate(handle)?;
        Ok(*self.live(home.region().id()).slots.aux(home.slot()))
    }

    /// The object's layout.
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), [0u32; 5]).unwrap();
    /// assert_eq!(reg.layout_of(h).unwrap(), Layout::new::<[u32; 5]>());
    /// reg.free(h).unwrap();
    /// assert_eq!(reg.layout_of(h).unwrap_err().kind(), ErrorKind::StaleHandle);
    /// ```
    pub fn layout_of(&self, handle: ObjectHandle) -> Result<Layout> {
        let home = self.locate(handle)?;
        let size = self.record_at(home).size();
        let align = self.live(home.region().id()).slots.aux(home.slot()).align();
        Ok(Layout::from_size_align(size, align).expect("a live object's layout is valid"))
    }

    /// The object's strong count.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), 1u8).unwrap();
    /// assert_eq!(reg.strong_count(h).unwrap(), 0);
    /// reg.retain(h).unwrap();
    /// reg.retain(h).unwrap();
    /// assert_eq!(reg.strong_count(h).unwrap(), 2);
    /// ```
    pub fn strong_count(&self, handle: ObjectHandle) -> Result<u32> {
        Ok(self.aux(handle)?.strong)
    }

    /// The object's weak count.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), 1u8).unwrap();
    /// let weak = reg.downgrade(h).unwrap();
    /// assert_eq!(reg.weak_count(h).unwrap(), 1);
    /// reg.drop_weak(weak).unwrap();
    /// assert_eq!(reg.weak_count(h).unwrap(), 0);
    /// ```
    pub fn weak_count(&self, handle: ObjectHandle) -> Result<u32> {
        Ok(self.aux(handle)?.weak)
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
    #[inline(always)]
    pub fn free(&mut self, handle: ObjectHandle) -> Result<()> {
        let home = self.locate_mut(handle)?;
        #[cfg(feature = "leak-report")]
        self.leaks.forget(home);
        let Registry {
            regions,
            forwarding,
            destructors,
            blocks,
            ..
        } = self;
        let region = &mut regions[home.region().id() as usize].region;
        // An inline object's bytes leave with the record: `take` keeps a
        // copy of them for the destructor.
        let Vacated {
            tag,
            size,
            heap,
            mut cell,
            aux,
        } = region.slots.take(home.slot());
        if let Some(node) = aux.node() {
            forwarding.object_died(node);
            region.moved_objects -= 1;
        }
        region.strong_objects -= u32::from(aux.strong > 0);
        self.accounts.freed(size as u64);
        let storage = FreedStorage {
            pool: &mut region.pool,
            blocks,
            heap: heap.map(|heap| {
                let layout = Layout::from_size_align(size, aux.align()).expect("a live layout");
                (heap, layout)
            }),
        };
        if destructors.is_empty() {
            storage.release();
            return Ok(());
        }
        // The registry is consistent again; only now run user code.
        let data = match heap {
            Some(heap) => heap.data.as_ptr(),
            None => (&mut cell as *mut Cell).cast::<u8>(),
        };
        // SAFETY: `data` holds the object's bytes (its heap storage, or the
        // copy of its inline cell), which `storage` releases only after this
        // call, when dropped (also if the destructor panics); it is
        // destroyed exactly once here.
        unsafe { destructors.run(home, tag, data, size) };
        drop(storage);
        Ok(())
    }

    pub(crate) fn adjust(
        &mut self,
        handle: ObjectHandle,
        count: Count,
        increment: bool,
    ) -> Result<()> {
        let home = self.locate_mut(handle)?;
        let region = self.live_mut(home.region().id());
        let aux = region.slots.aux_mut(home.slot());
        let value = match count {
            Count::Weak => &mut aux.weak,
            _ => &mut aux.strong,
        };
        let before = *value;
        let of = Counted::Object(handle);
        *value = if increment {
            before
                .checked_add(1)
                .ok_or(Error::RefcountOverflow { count, of })?
        } else {
            before
                .checked_sub(1)
                .ok_or(Error::RefcountUnderflow { count, of })?
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
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let h = reg.alloc_typed(r, 5u32).unwrap();
    /// reg.retain(h).unwrap();
    /// assert_eq!(reg.strong_count(h).unwrap(), 1);
    /// reg.release_region(r).unwrap();
    /// assert_eq!(reg.region_of(h).unwrap(), reg.root()); // promoted, not destroyed
    /// ```
    pub fn retain(&mut self, handle: ObjectHandle) -> Result<()> {
        self.adjust(handle, Count::Strong, true)
    }

    /// Decrements the strong count (`RefcountUnderflow` at 0). Reaching 0 does
    /// not destroy the object.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), 5u32).unwrap();
    /// reg.retain(h).unwrap();
    /// reg.release(h).unwrap();
    /// assert_eq!(reg.strong_count(h).unwrap(), 0);
    /// assert!(reg.is_alive(h)); // reaching 0 does not destroy it
    /// assert_eq!(reg.release(h).unwrap_err().kind(), ErrorKind::RefcountUnderflow);
    /// ```
    pub fn release(&mut self, handle: ObjectHandle) -> Result<()> {
        self.adjust(handle, Count::Strong, false)
    }

    /// A weak handle to the object; increments its weak count.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let h = reg.alloc_typed(r, 5u32).unwrap();
    /// let weak = reg.downgrade(h).unwrap();
    /// assert_eq!(reg.weak_count(h).unwrap(), 1);
    /// reg.release_region(r).unwrap(); // a weak reference keeps nothing alive
    /// assert_eq!(reg.upgrade(weak), None);
    /// ```
    pub fn downgrade(&mut self, handle: ObjectHandle) -> Result<WeakHandle> {
        let home = self.locate_mut(handle)?;
        self.adjust(home, Count::Weak, true)?;
        Ok(WeakHandle { target: home })
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
    #[inline]
    pub fn upgrade(&self, weak: WeakHandle) -> Option<ObjectHandle> {
        self.locate(weak.target).ok()
    }

    /// Gives up a weak reference: decrements the weak count of its object
    /// (`RefcountUnderflow` at 0). A weak handle whose object is gone (or
    /// that names nothing) is simply dropped: `Ok`, nothing changes, as a
    /// `std::rc::Weak` can always be dropped.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), 3u8).unwrap();
    /// let w = reg.downgrade(h).unwrap();
    /// reg.free(h).unwrap();
    /// assert!(reg.drop_weak(w).is_ok());
    /// ```
    pub fn drop_weak(&mut self, weak: WeakHandle) -> Result<()> {
        if !self.is_alive(weak.target) {
            return Ok(());
        }
        self.adjust(weak.target, Count::Weak, false)
    }

    /// Installs `destructor` for objects with raw `tag`, replacing any earlier
    /// one. It runs once for each such object destroyed (by `free`, by region
    /// death, by dropping the registry), never on promotion or compaction.
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
        if tag.is_typed() {
            return Err(Error::ReservedTypeTag { tag });
        }
        let boxed: crate::Destructor = crate::fallible::try_box(destructor)?;
        self.destructors.register(tag, boxed)
    }
}

/// The heap storage of an object `free` destroyed: given back to its pool
/// when dropped, after the destructor ran — also if the destructor panics,
/// so that the pool stays consistent with the slot table.
struct FreedStorage<'a> {
    pool: &'a mut crate::pool::Pool,
    blocks: &'a mut crate::block::BlockCache,
    heap: Option<(crate::pool::HeapRef, Layout)>,
}

impl FreedStorage<'_> {
    /// Releases the storage now (no user code runs before: no guard needed).
    #[inline(always)]
    fn release(self) {
        let mut this = core::mem::ManuallyDrop::new(self);
        this.release_heap();
    }

    #[inline(always)]
    fn release_heap(&mut self) {
        if let Some((heap, layout)) = self.heap.take() {
            self.pool.release(heap, layout, self.blocks);
        }
    }
}

impl Drop for FreedStorage<'_> {
    fn drop(&mut self) {
        self.release_heap();
    }
}
