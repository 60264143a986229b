//! Bulk allocation: typed slices, and many raw objects at once.
//!
//! Both are all-or-nothing: every slot and every byte of storage is reserved
//! before any object exists, so a failure changes nothing. Raw objects of a
//! slab size class allocated together sit next to each other in one page
//! (when they fit one block), so a loop over them walks contiguous memory.

use alloc::vec::Vec;
use core::alloc::Layout;

use super::objects::{check_layout, is_inline};
use super::{Registry, Reserved};
use crate::accounting::Peaks;
use crate::error::{Error, Result};
use crate::fallible;
use crate::handle::{ObjectHandle, RegionHandle, TypeTag};
use crate::pool::HeapRef;
use crate::slot_table::{Aux, Cell};

impl Registry {
    /// Allocates one typed object holding a copy of `values` (a `[T]`),
    /// read back with [`get_slice`](Self::get_slice). Zero-sized `T` is
    /// refused at compile time.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_slice_copy(reg.root(), b"hello").unwrap();
    /// assert_eq!(reg.get_slice::<u8>(h).unwrap(), b"hello");
    /// ```
    #[cfg_attr(feature = "leak-report", track_caller)]
    pub fn alloc_slice_copy<T: Copy + Send + 'static>(
        &mut self,
        region: RegionHandle,
        values: &[T],
    ) -> Result<ObjectHandle> {
        let (handle, data) = self.insert_slice::<T>(region, values.len())?;
        // SAFETY: `data` holds room for `values.len()` `T`s, aligned, and
        // does not overlap `values`.
        unsafe { core::ptr::copy_nonoverlapping(values.as_ptr(), data, values.len()) };
        #[cfg(feature = "leak-report")]
        self.leaks.record(handle, core::panic::Location::caller());
        Ok(handle)
    }

    /// Allocates one typed object holding `len` values `f(0), f(1), …`
    /// (a `[T]`). If `f` panics, the values made so far are dropped and the
    /// object is not allocated.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_slice_fill_with(reg.root(), 3, |i| format!("#{i}")).unwrap();
    /// assert_eq!(reg.get_slice::<String>(h).unwrap()[2], "#2");
    /// ```
    #[cfg_attr(feature = "leak-report", track_caller)]
    pub fn alloc_slice_fill_with<T: Send + 'static>(
        &mut self,
        region: RegionHandle,
        len: usize,
        mut f: impl FnMut(usize) -> T,
    ) -> Result<ObjectHandle> {
        let peaks_before = self.accounts.peaks();
        let (handle, data) = self.insert_slice::<T>(region, len)?;
        let mut filling = Filling {
            registry: self,
            handle,
            data,
            written: 0,
            peaks_before,
        };
        while filling.written < len {
            let value = f(filling.written);
            // SAFETY: element `written` is in bounds and not yet initialized.
            unsafe { filling.data.add(filling.written).write(value) };
            filling.written += 1;
        }
        core::mem::forget(filling);
        // Recorded only now that the object is complete, so the discard
        // path (`f` panicked) has no entry to remove.
        #[cfg(feature = "leak-report")]
        self.leaks.record(handle, core::panic::Location::caller());
        Ok(handle)
    }

    /// A new typed `[T]` object of `len` elements, uninitialized.
    fn insert_slice<T: Send + 'static>(
        &mut self,
        region: RegionHandle,
        len: usize,
    ) -> Result<(ObjectHandle, *mut T)> {
        const {
            assert!(
                core::mem::size_of::<T>() != 0,
                "slices of zero-sized types are not supported"
            )
        };
        self.region(region)?;
        let layout = Layout::array::<T>(len).map_err(|_| Error::SizeOverflow {
            size: len.saturating_mul(core::mem::size_of::<T>()),
        })?;
        check_layout(layout)?;
        let tag = self.destructors.claim_slice::<T>()?;
        let (handle, data) = self.insert(region, layout, tag)?;
        Ok((handle, data.cast()))
    }

    /// Removes a live object without running its destructor (its bytes
    /// were never a complete value).
    pub(crate) fn discard(&mut self, home: ObjectHandle, peaks_before: Peaks) {
        let Registry {
            regions,
            blocks,
            accounts,
            ..
        } = self;
        let region = &mut regions[home.region().id() as usize].region;
        let record = region.slots.record_mut(home.slot());
        let (size, heap) = (record.size(), record.heap());
        accounts.discarded(size as u64, peaks_before);
        let align = region.slots.aux(home.slot()).align();
        region.slots.vacate(home.slot());
        if let Some(heap) = heap {
            let layout = Layout::from_size_align(size, align).expect("a live layout");
            region.pool.release(heap, layout, blocks);
        }
    }

    /// Allocates `count` raw objects of `layout` with raw `tag` in `region`
    /// at once; object `i` holds `bytes[i * size..(i + 1) * size]`
    /// (`bytes.len()` must be `count * layout.size()`). Returns their
    /// handles in order. All or nothing: on `Err` no object was allocated.
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use regions::{Registry, TypeTag};
    /// let mut reg = Registry::new();
    /// let layout = Layout::from_size_align(2, 1).unwrap();
    /// let handles = reg.alloc_bulk(reg.root(), layout, TypeTag(3), 3, b"aabbcc").unwrap();
    /// assert_eq!(reg.get(handles[1]).unwrap(), b"bb");
    /// ```
    #[cfg_attr(feature = "leak-report", track_caller)]
    pub fn alloc_bulk(
        &mut self,
        region: RegionHandle,
        layout: Layout,
        tag: TypeTag,
        count: usize,
        bytes: &[u8],
    ) -> Result<Vec<ObjectHandle>> {
        self.region(region)?;
        if tag.is_typed() {
            return Err(Error::ReservedTypeTag { tag });
        }
        let total = count.checked_mul(layout.size());
        if total != Some(bytes.len()) {
            return Err(Error::SizeMismatch {
                layout_size: total.unwrap_or(usize::MAX),
                bytes_len: bytes.len(),
            });
        }
        check_layout(layout)?;
        // `count * size` is `bytes.len()`, so it did not overflow.
        let payload = bytes.len() as u64;
        self.admit(region, payload)?;
        let mut handles = Vec::new();
        fallible::reserve_exact(&mut handles, count)?;
        if !self.live(region.id()).slots.has_room_for(count) {
            self.make_room(region.id(), count)?;
        }
        #[cfg(feature = "leak-report")]
        self.reserve_sites(region.id(), count)?;
        let storage = self.reserve_bulk(region.id(), layout, count)?;
        // Nothing below can fail.
        let Registry {
            regions,
            scratch,
            accounts,
            ..
        } = self;
        accounts.allocated(count as u64, payload);
        let live = &mut regions[region.id() as usize].region;
        let contents = bytes
            .chunks(layout.size().max(1))
            .chain(core::iter::repeat(&[][..]));
        for (index, chunk) in contents.take(count).enumerate() {
            let cell = match storage {
                BulkStorage::Inline => Cell::inline(),
                BulkStorage::Run(first, stride) => Cell::heap(HeapRef {
                    // SAFETY: the run holds `count` chunks of `stride` bytes.
                    data: unsafe { first.data.add(index * stride as usize) },
                    page: first.page,
                }),
                BulkStorage::Each => {
                    Cell::heap(scratch[index].storage.expect("storage was reserved"))
                }
            };
            let (slot, slot_generation, data) = live.slots.occupy(
                layout.size(),
                !is_inline(layout),
                tag.0,
                cell,
                Aux::new(layout.align()),
            );
            // SAFETY: the object's storage holds `chunk.len()` fresh bytes.
            unsafe { core::ptr::copy_nonoverlapping(chunk.as_ptr(), data, chunk.len()) };
            handles.push(ObjectHandle::new(region, slot, slot_generation));
        }
        #[cfg(feature = "leak-report")]
        self.leaks
            .record_all(&handles, core::panic::Location::caller());
        Ok(handles)
    }

    /// Storage for `count` raw objects of `layout` in region `id`: one run
    /// of adjacent slab chunks when possible, else one reservation each in
    /// `self.scratch`.
    fn reserve_bulk(&mut self, id: u32, layout: Layout, count: usize) -> Result<BulkStorage> {
        if is_inline(layout) {
            return Ok(BulkStorage::Inline);
        }
        let Registry {
            regions,
            blocks,
            config,
            scratch,
            ..
        } = self;
        let pool = &mut regions[id as usize].region.pool;
        if let Some((first, stride)) = pool.allocate_run(layout, None, count, config, blocks)? {
            return Ok(BulkStorage::Run(first, stride));
        }
        scratch.clear();
        fallible::reserve(scratch, count)?;
        for index in 0..count as u32 {
            match pool.allocate(layout, None, config, blocks) {
                Ok(storage) => scratch.push(Reserved {
                    slot: index,
                    storage: Some(storage),
                    layout,
                }),
                Err(error) => {
                    for reserved in scratch.drain(..) {
                        pool.release(reserved.storage.expect("reserved"), layout, blocks);
                    }
                    return Err(error);
                }
            }
        }
        Ok(BulkStorage::Each)
    }
}

/// Where `alloc_bulk`'s objects go.
#[derive(Clone, Copy)]
enum BulkStorage {
    /// In their slot records.
    Inline,
    /// Adjacent slab chunks: the first, and the chunk size.
    Run(HeapRef, u32),
    /// One reservation each, in `Registry::scratch`.
    Each,
}

/// A slice being filled by user code; if that code panics, dropping this
/// drops the values written and removes the half-made object.
struct Filling<'a, T> {
    registry: &'a mut Registry,
    handle: ObjectHandle,
    data: *mut T,
    written: usize,
    /// The peaks before the slice was allocated.
    peaks_before: Peaks,
}

impl<T> Drop for Filling<'_, T> {
    fn drop(&mut self) {
        // SAFETY: exactly the first `written` elements were initialized.
        unsafe {
            core::ptr::drop_in_place(core::ptr::slice_from_raw_parts_mut(self.data, self.written))
        };
        self.registry.discard(self.handle, self.peaks_before);
    }
}
