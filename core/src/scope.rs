//! Region scopes and the region builder.
//!
//! A [`RegionScope`] owns one reference to a region and gives it back when
//! dropped, on the normal path and during a panic, so a region can be tied
//! to a Rust scope the way a `Box` is. The scope dereferences to the
//! registry, so the registry stays usable (mutably) inside it.
//! [`RegionBuilder`] creates a region with a parent, a budget, room for a
//! number of objects and a first block size, all at once.

use core::ops::{Deref, DerefMut};

use crate::config::FIRST_BLOCK_LOG2;
use crate::error::Result;
use crate::fallible;
use crate::handle::RegionHandle;
use crate::registry::Registry;

/// One reference to a region, given back (with
/// [`release_region`](Registry::release_region)) when the scope is dropped
/// — also when a panic unwinds through it. Dereferences to the registry.
///
/// If the region is already dead when the scope ends (its body released
/// it), nothing happens. If its death cannot get memory when the scope is
/// dropped, the region stays alive (see [`close`](Self::close) to see that
/// error instead).
///
/// ```
/// use regions::Registry;
/// let mut reg = Registry::new();
/// {
///     let mut frame = reg.scope(reg.root()).unwrap();
///     let region = frame.region();
///     let local = frame.alloc_typed(region, 42u32).unwrap();
///     assert_eq!(*frame.get_typed::<u32>(local).unwrap(), 42);
/// } // the frame's region dies here, with `local`
/// assert_eq!(reg.live_region_count(), 1);
/// ```
#[derive(Debug)]
pub struct RegionScope<'r> {
    registry: &'r mut Registry,
    region: RegionHandle,
}

impl<'r> RegionScope<'r> {
    /// The scope's region.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let scope = reg.scope(reg.root()).unwrap();
    /// let r = scope.region();
    /// assert_eq!(scope.parent_of(r).unwrap(), Some(scope.root()));
    /// assert_eq!(scope.region_refcount(r).unwrap(), 1);
    /// ```
    pub fn region(&self) -> RegionHandle {
        self.region
    }

    /// Ends the scope now and reports what its release did: `Ok(true)` if
    /// the region died, `Ok(false)` if other references keep it alive or it
    /// was already dead, `Err` (the region stays alive, its reference
    /// given back to the caller) if its death could not get memory.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let scope = reg.scope(reg.root()).unwrap();
    /// assert!(scope.close().unwrap());
    /// ```
    pub fn close(self) -> Result<bool> {
        let released = if self.registry.is_region_alive(self.region) {
            self.registry.release_region(self.region)
        } else {
            Ok(false)
        };
        // The reference was given back (or the error handed to the caller).
        core::mem::forget(self);
        released
    }
}

impl Deref for RegionScope<'_> {
    type Target = Registry;

    fn deref(&self) -> &Registry {
        self.registry
    }
}

impl DerefMut for RegionScope<'_> {
    fn deref_mut(&mut self) -> &mut Registry {
        self.registry
    }
}

impl Drop for RegionScope<'_> {
    fn drop(&mut self) {
        if !self.registry.is_region_alive(self.region) {
            return;
        }
        #[cfg(feature = "std")]
        if std::thread::panicking() {
            // A destructor panicking now would abort the process: the
            // panic already unwinding wins, the region dies regardless.
            let release = core::panic::AssertUnwindSafe(|| {
                let _ = self.registry.release_region(self.region);
            });
            let _ = std::panic::catch_unwind(release);
            return;
        }
        // An error cannot be reported from `drop`: `close` reports it.
        let _ = self.registry.release_region(self.region);
    }
}

/// Creates a region with non-default settings: its parent, a payload
/// budget, room for a number of objects, and the size of its first block.
/// Obtained from [`Registry::region_builder`].
///
/// ```
/// use regions::Registry;
/// let mut reg = Registry::new();
/// let level = reg
///     .region_builder()
///     .capacity(1000)
///     .first_block_size(16 * 1024)
///     .budget(1 << 20)
///     .create()
///     .unwrap();
/// assert_eq!(reg.region_budget(level).unwrap(), Some(1 << 20));
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `create` or `scope`"]
pub struct RegionBuilder<'r> {
    registry: &'r mut Registry,
    settings: RegionSettings,
}

/// What a [`RegionBuilder`] was told.
#[derive(Clone, Copy, Debug)]
struct RegionSettings {
    parent: RegionHandle,
    capacity: usize,
    first_block_size: Option<usize>,
    budget: Option<u64>,
}

impl<'r> RegionBuilder<'r> {
    /// The parent of the new region (default: the root).
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let outer = reg.create_region(reg.root()).unwrap();
    /// let inner = reg.region_builder().parent(outer).create().unwrap();
    /// assert_eq!(reg.parent_of(inner).unwrap(), Some(outer));
    /// reg.release_region(outer).unwrap();
    /// let err = reg.region_builder().parent(outer).create().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidRegion);
    /// ```
    pub fn parent(mut self, parent: RegionHandle) -> Self {
        self.settings.parent = parent;
        self
    }

    /// Room for `objects` objects in the region's slot table, reserved at
    /// creation, so that the first `objects` allocations never grow it
    /// (default 0: the table grows on demand).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.region_builder().capacity(100).create().unwrap();
    /// let tables = reg.memory_usage().table_bytes;
    /// for i in 0..100u32 {
    ///     reg.alloc_typed(r, i).unwrap();
    /// }
    /// assert_eq!(reg.memory_usage().table_bytes, tables, "no table grew");
    /// ```
    pub fn capacity(mut self, objects: usize) -> Self {
        self.settings.capacity = objects;
        self
    }

    /// The size of the region's first arena block, its nursery, where its
    /// first heap objects are bump-allocated; rounded up to a power of two
    /// and clamped between [`FIRST_BLOCK_SIZE`](crate::FIRST_BLOCK_SIZE)
    /// and the registry's arena block size (default: sized from the
    /// regions that died before). No effect when the registry's nursery is
    /// off ([`RegistryBuilder::nursery_bytes`](crate::RegistryBuilder::nursery_bytes)`(0)`).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.region_builder().first_block_size(4000).create().unwrap();
    /// reg.alloc_typed(r, [0u8; 1000]).unwrap();
    /// reg.alloc_typed(r, [0u8; 1000]).unwrap();
    /// assert_eq!(reg.arena_count(r).unwrap(), 1); // both in the first block
    /// assert_eq!(reg.stats(r).unwrap().occupancy.page_bytes, 4096);
    /// ```
    pub fn first_block_size(mut self, bytes: usize) -> Self {
        self.settings.first_block_size = Some(bytes);
        self
    }

    /// A payload budget for the region's own objects, as
    /// [`create_region_with_budget`](Registry::create_region_with_budget)
    /// (default: none).
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let r = reg.region_builder().budget(16).create().unwrap();
    /// assert_eq!(reg.region_budget(r).unwrap(), Some(16));
    /// reg.alloc_typed(r, [0u8; 16]).unwrap();
    /// assert_eq!(reg.alloc_typed(r, 0u8).unwrap_err().kind(), ErrorKind::BudgetExceeded);
    /// ```
    pub fn budget(mut self, bytes: u64) -> Self {
        self.settings.budget = Some(bytes);
        self
    }

    /// Creates the region (refcount 1: the caller's reference). All or
    /// nothing: errors as `create_region` (and `OutOfMemory` if the
    /// capacity cannot be reserved), with no region created.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let r = reg.region_builder().create().unwrap();
    /// assert_eq!(reg.region_refcount(r).unwrap(), 1);
    /// // More slots than there are slot ids: refused, and no region is created.
    /// let err = reg.region_builder().capacity(usize::MAX).create().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::IdSpaceExhausted);
    /// assert_eq!(reg.live_region_count(), 2);
    /// ```
    pub fn create(self) -> Result<RegionHandle> {
        self.settings.create_in(self.registry)
    }

    /// Creates the region and returns a scope that owns it.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let mut frame = reg.region_builder().capacity(16).scope().unwrap();
    /// let region = frame.region();
    /// frame.alloc_typed(region, 1u64).unwrap();
    /// drop(frame);
    /// assert_eq!(reg.live_region_count(), 1);
    /// ```
    pub fn scope(self) -> Result<RegionScope<'r>> {
        let region = self.settings.create_in(self.registry)?;
        Ok(RegionScope {
            registry: self.registry,
            region,
        })
    }
}

impl RegionSettings {
    fn create_in(self, registry: &mut Registry) -> Result<RegionHandle> {
        registry.region(self.parent)?;
        // With room for the id to go back, the undo below cannot fail: an
        // empty region's death needs nothing else.
        fallible::reserve(&mut registry.free_region_ids, 1)?;
        let counters_before = registry.accounts.counters();
        let region = match self.budget {
            Some(budget) => registry.create_region_with_budget(self.parent, budget)?,
            None => registry.create_region(self.parent)?,
        };
        if let Some(bytes) = self.first_block_size {
            registry.set_first_block_size(region.id(), bytes);
        }
        if self.capacity > 0 {
            if let Err(error) = registry.reserve_objects(region.id(), self.capacity) {
                let undone = registry.release_region(region);
                debug_assert_eq!(undone, Ok(true), "an empty region dies without memory");
                // It never existed as far as the statistics go.
                registry.accounts.restore(counters_before);
                return Err(error);
            }
        }
        Ok(region)
    }
}

impl Registry {
    /// Creates a child of `parent` and returns a scope that releases it
    /// when dropped (see [`RegionScope`]).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let mut scope = reg.scope(reg.root()).unwrap();
    /// let r = scope.region();
    /// assert!(scope.is_region_alive(r));
    /// drop(scope);
    /// assert!(!reg.is_region_alive(r));
    /// ```
    pub fn scope(&mut self, parent: RegionHandle) -> Result<RegionScope<'_>> {
        let region = self.create_region(parent)?;
        Ok(RegionScope {
            registry: self,
            region,
        })
    }

    /// A builder for a region with non-default settings (see
    /// [`RegionBuilder`]); its parent is the root unless set.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.region_builder().budget(1024).create().unwrap();
    /// assert_eq!(reg.parent_of(r).unwrap(), Some(reg.root()));
    /// assert_eq!(reg.region_budget(r).unwrap(), Some(1024));
    /// ```
    pub fn region_builder(&mut self) -> RegionBuilder<'_> {
        RegionBuilder {
            registry: self,
            settings: RegionSettings {
                parent: RegionHandle::ROOT,
                capacity: 0,
                first_block_size: None,
                budget: None,
            },
        }
    }

    /// Makes the nursery of new, empty region `id` `bytes` large (rounded
    /// and clamped as `RegionBuilder::first_block_size` says).
    pub(crate) fn set_first_block_size(&mut self, id: u32, bytes: usize) {
        let wanted = bytes
            .max(1)
            .checked_next_power_of_two()
            .unwrap_or(usize::MAX);
        let log2 = (wanted.trailing_zeros() as u8)
            .max(FIRST_BLOCK_LOG2)
            .min(self.config.max_block_log2);
        let Registry {
            regions, blocks, ..
        } = self;
        let pool = &mut regions[id as usize].region.pool;
        pool.keep_nursery_if(log2, blocks);
        pool.nursery_log2 = log2;
    }
}
