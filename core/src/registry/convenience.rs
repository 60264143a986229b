//! Convenience allocation: default values, zeroed bytes, bytes filled in
//! place, and bytes with an alignment instead of a `Layout`.
//!
//! Each is one of the core allocations (`alloc`, `alloc_typed`) with the
//! bytes or the value made differently; none adds a semantic of its own,
//! so the contract of `alloc` (errors and their order, budgets, tags)
//! applies unchanged.

use core::alloc::Layout;

use super::Registry;
use crate::accounting::Peaks;
use crate::error::{Error, Result};
use crate::handle::{ObjectHandle, RegionHandle, TypeTag};
use crate::MAX_OBJECT_SIZE;

impl Registry {
    /// Allocates `T::default()` in `region` as a typed object.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_default::<Vec<u32>>(reg.root()).unwrap();
    /// reg.get_typed_mut::<Vec<u32>>(h).unwrap().push(7);
    /// assert_eq!(reg.get_typed::<Vec<u32>>(h).unwrap(), &[7]);
    /// ```
    #[cfg_attr(feature = "leak-report", track_caller)]
    pub fn alloc_default<T: Default + Send + 'static>(
        &mut self,
        region: RegionHandle,
    ) -> Result<ObjectHandle> {
        self.alloc_typed(region, T::default())
    }

    /// Allocates a raw object of `layout` with raw `tag` whose bytes are
    /// all zero. Errors as [`alloc`](Self::alloc).
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use regions::{Registry, TypeTag};
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_zeroed(reg.root(), Layout::new::<[u64; 4]>(), TypeTag(1)).unwrap();
    /// assert_eq!(reg.get(h).unwrap(), &[0; 32]);
    /// ```
    #[cfg_attr(feature = "leak-report", track_caller)]
    pub fn alloc_zeroed(
        &mut self,
        region: RegionHandle,
        layout: Layout,
        tag: TypeTag,
    ) -> Result<ObjectHandle> {
        let (handle, _) = self.insert_zeroed(region, layout, tag)?;
        #[cfg(feature = "leak-report")]
        self.leaks.record(handle, core::panic::Location::caller());
        Ok(handle)
    }

    /// Allocates a raw object of `layout` with raw `tag` and lets `init`
    /// write its bytes in place (they start zeroed), without a staging
    /// buffer. If `init` panics, no object is allocated (and no destructor
    /// runs) and the panic goes on. Errors as [`alloc`](Self::alloc),
    /// reported before `init` is called.
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use regions::{Registry, TypeTag};
    /// let mut reg = Registry::new();
    /// let layout = Layout::from_size_align(4, 4).unwrap();
    /// let h = reg
    ///     .alloc_with(reg.root(), layout, TypeTag(2), |bytes| bytes.copy_from_slice(&7u32.to_le_bytes()))
    ///     .unwrap();
    /// assert_eq!(reg.get(h).unwrap(), &7u32.to_le_bytes());
    /// ```
    #[cfg_attr(feature = "leak-report", track_caller)]
    pub fn alloc_with(
        &mut self,
        region: RegionHandle,
        layout: Layout,
        tag: TypeTag,
        init: impl FnOnce(&mut [u8]),
    ) -> Result<ObjectHandle> {
        let peaks_before = self.accounts.peaks();
        let (handle, data) = self.insert_zeroed(region, layout, tag)?;
        let filling = Unfinished {
            registry: self,
            handle,
            peaks_before,
        };
        // SAFETY: `data` is the new object's storage, `layout.size()`
        // initialized (zeroed) bytes that nothing else refers to while
        // `init` runs (it cannot reach the registry: `filling` holds it).
        init(unsafe { core::slice::from_raw_parts_mut(data, layout.size()) });
        core::mem::forget(filling);
        #[cfg(feature = "leak-report")]
        self.leaks.record(handle, core::panic::Location::caller());
        Ok(handle)
    }

    /// Allocates a raw object holding exactly `bytes`, aligned to `align`,
    /// with raw `tag`: [`alloc`](Self::alloc) without building a `Layout`.
    /// Errors as `alloc`, in its order; an `align` that is not a power of
    /// two is `UnsupportedAlignment`.
    ///
    /// ```
    /// use regions::{Registry, TypeTag};
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_bytes(reg.root(), TypeTag(3), 8, b"12345678").unwrap();
    /// assert_eq!(reg.layout_of(h).unwrap().align(), 8);
    /// assert!(reg.alloc_bytes(reg.root(), TypeTag(3), 3, b"x").is_err());
    /// ```
    #[cfg_attr(feature = "leak-report", track_caller)]
    pub fn alloc_bytes(
        &mut self,
        region: RegionHandle,
        tag: TypeTag,
        align: usize,
        bytes: &[u8],
    ) -> Result<ObjectHandle> {
        match Layout::from_size_align(bytes.len(), align) {
            Ok(layout) => self.alloc(region, layout, bytes, tag),
            Err(_) => Err(self.bytes_layout_error(region, tag, bytes.len(), align)),
        }
    }

    /// Why `alloc_bytes` cannot make a layout of `len` bytes aligned to
    /// `align`, in the precedence of `alloc`.
    #[cold]
    fn bytes_layout_error(
        &self,
        region: RegionHandle,
        tag: TypeTag,
        len: usize,
        align: usize,
    ) -> Error {
        if let Err(error) = self.region(region) {
            return error;
        }
        if tag.is_typed() {
            return Error::ReservedTypeTag { tag };
        }
        if len > MAX_OBJECT_SIZE {
            return Error::SizeOverflow { size: len };
        }
        Error::UnsupportedAlignment { align }
    }

    /// A new raw object of `layout` whose bytes are zero.
    fn insert_zeroed(
        &mut self,
        region: RegionHandle,
        layout: Layout,
        tag: TypeTag,
    ) -> Result<(ObjectHandle, *mut u8)> {
        let (handle, data) = self.insert_raw(region, layout, layout.size(), tag)?;
        // SAFETY: `data` is the new object's storage, `layout.size()` bytes.
        unsafe { core::ptr::write_bytes(data, 0, layout.size()) };
        Ok((handle, data))
    }
}

/// A raw object whose bytes user code is writing; if that code panics,
/// dropping this removes the object (its bytes never became a value, so no
/// destructor runs).
struct Unfinished<'a> {
    registry: &'a mut Registry,
    handle: ObjectHandle,
    /// The peaks before the object was allocated.
    peaks_before: Peaks,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        self.registry.discard(self.handle, self.peaks_before);
    }
}
