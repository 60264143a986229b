//! The pool: where a region's heap objects live.
//!
//! An object's *placement* is a pure function of its layout and the
//! registry's configuration:
//!
//! | placement | objects | storage |
//! |---|---|---|
//! | inline | size <= 16 and align <= 16 | in the slot record itself (not here) |
//! | zero-sized | size 0, align > 16 | none: an aligned dangling address |
//! | slab | up to 1024 bytes (a size class) | a chunk of a slab page (`slab.rs`) |
//! | large | up to a quarter of the largest block | a chunk of a large page (`large.rs`) |
//! | dedicated | larger | its own allocation from the global allocator |
//!
//! A region's first slab and large objects go to its *nursery* (one page
//! shared by all sizes, `nursery.rs`); the slab and large pools
//! (`pools.rs`) exist only once a region outgrows it, so a small region
//! costs one page and a few bytes of table. Pages come from the registry's
//! block cache and go back to it when they empty or when the region dies
//! (`release_all`), so steady-state region churn does not call the global
//! allocator. Every heap object records its page number next to its
//! address ([`HeapRef`]), so freeing goes straight to the right page.

mod compact;
mod large;
mod nursery;
mod page;
mod pools;
mod slab;

use alloc::string::String;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ptr::NonNull;

use alloc::boxed::Box;

use crate::block::BlockCache;
use crate::config::Config;
use crate::error::Result;
use crate::fallible::{system_alloc, system_free};
use crate::size_class::{class_of, CLASS_SIZES};
use large::large_footprint;
use page::Page;
use pools::Pools;

pub use compact::Compaction;
pub(crate) use nursery::NurseryHint;

/// Objects with `size <= INLINE_SIZE` and `align <= INLINE_ALIGN` are stored
/// in their slot record.
pub const INLINE_SIZE: usize = 16;
/// See [`INLINE_SIZE`].
pub const INLINE_ALIGN: usize = 16;

/// `HeapRef::page` of an object in a dedicated allocation.
pub(crate) const DEDICATED_PAGE: u32 = u32::MAX;
/// `HeapRef::page` of a zero-sized heap object (no memory).
pub(crate) const ZERO_SIZED_PAGE: u32 = u32::MAX - 1;
/// `HeapRef::page` of an object in the region's nursery.
pub(crate) const NURSERY_PAGE: u32 = u32::MAX - 2;
/// Objects up to this size (and alignment 16) look for their slab pool on
/// the allocation fast path. (A class pool exists only if the placement
/// rules put objects of that class in slabs.)
const FAST_SLAB_MAX: usize = crate::size_class::SLAB_MAX;

/// Where an object's bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    Inline,
    ZeroSized,
    Slab(u8),
    Large,
    Dedicated,
}

/// The placement of an object of `size` bytes aligned to `align`.
#[inline]
pub(crate) fn placement(size: usize, align: usize, config: &Config) -> Placement {
    if size <= INLINE_SIZE && align <= INLINE_ALIGN {
        return Placement::Inline;
    }
    if size == 0 {
        return Placement::ZeroSized;
    }
    let threshold = config.dedicated_threshold();
    match class_of(size, align) {
        Some(class) if CLASS_SIZES[class] as usize <= threshold => Placement::Slab(class as u8),
        _ if size <= threshold && large_footprint(size, align) <= config.max_block() => {
            Placement::Large
        }
        _ => Placement::Dedicated,
    }
}

/// Where a heap object's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct HeapRef {
    /// The first byte; aligned as the object requires.
    pub data: NonNull<u8>,
    /// The page number in the region's pools, or `NURSERY_PAGE`,
    /// `DEDICATED_PAGE` or `ZERO_SIZED_PAGE`.
    pub page: u32,
}

// SAFETY: a `HeapRef` names storage its object owns exclusively (a chunk of
// its region's page, or its dedicated allocation), like a `Box<[u8]>`.
unsafe impl Send for HeapRef {}

/// Where a region's heap objects live: its nursery, and the pools of a
/// region that outgrew it.
#[derive(Debug)]
pub(crate) struct Pool {
    /// The nursery page; `owner` is `VACANT_OWNER` while the region has none.
    pub(super) nursery: Page,
    /// The slab and large pools, made when the region first outgrows its
    /// nursery and kept (empty) with a dead region's tables for the next.
    pub(super) pools: Option<Box<Pools>>,
    /// log2 of the size of the nursery this region opens, from the
    /// registry's [`NurseryHint`] when the region was created.
    pub nursery_log2: u8,
    /// Objects in dedicated allocations.
    pub dedicated: u32,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            nursery: Page::vacant(),
            pools: None,
            nursery_log2: crate::config::FIRST_BLOCK_LOG2,
            dedicated: 0,
        }
    }
}

impl Pool {
    /// Pages in use, the nursery included.
    pub fn page_count(&self) -> usize {
        usize::from(!self.nursery.is_vacant()) + self.pools.as_ref().map_or(0, |p| p.page_count())
    }

    /// Bytes of the pages in use, the nursery included.
    pub fn page_bytes(&self) -> usize {
        self.nursery_page_bytes() + self.pools.as_ref().map_or(0, |p| p.page_bytes())
    }

    /// Bytes of memory the pool's tables hold (not the pages).
    pub fn table_bytes(&self) -> usize {
        self.pools.as_ref().map_or(0, |pools| {
            core::mem::size_of::<Pools>() + pools.table_bytes()
        })
    }

    /// Storage for a heap object of `layout` (placement other than inline);
    /// `typed` is the registry's type index of a typed object.
    #[inline(always)]
    pub fn allocate(
        &mut self,
        layout: Layout,
        typed: Option<u32>,
        config: &Config,
        cache: &mut BlockCache,
    ) -> Result<HeapRef> {
        if let Some(heap) = self.allocate_fast(layout, typed, config) {
            return Ok(heap);
        }
        self.allocate_placed(layout, typed, config, cache)
    }

    /// The common cases of [`allocate`](Self::allocate), with no page to
    /// take: a slab object aligned to at most 16 whose pool has a page with
    /// room, a large object that fits a large page the region has, or any
    /// arena object the nursery has room for.
    #[inline(always)]
    pub fn allocate_fast(
        &mut self,
        layout: Layout,
        typed: Option<u32>,
        config: &Config,
    ) -> Option<HeapRef> {
        if layout.size() == 0 || layout.size() > config.dedicated_threshold() {
            return None;
        }
        if let Some(pools) = &mut self.pools {
            let taken = if layout.size() <= FAST_SLAB_MAX && layout.align() <= 16 {
                pools.take_fast(layout.size(), typed)
            } else if layout.size() > FAST_SLAB_MAX {
                pools.take_large(layout.size() as u32, layout.align() as u32)
            } else {
                None
            };
            if let Some((data, page)) = taken {
                return Some(HeapRef { data, page });
            }
        }
        let data = self.nursery_take(layout.size(), layout.align())?;
        Some(HeapRef {
            data,
            page: NURSERY_PAGE,
        })
    }

    /// [`allocate`](Self::allocate) by placement: opens the nursery for the
    /// region's first arena object, else takes pages as needed.
    #[inline(never)]
    fn allocate_placed(
        &mut self,
        layout: Layout,
        typed: Option<u32>,
        config: &Config,
        cache: &mut BlockCache,
    ) -> Result<HeapRef> {
        let place = placement(layout.size(), layout.align(), config);
        let (data, page) = match place {
            Placement::Inline => unreachable!("inline objects have no heap storage"),
            Placement::ZeroSized => (dangling(layout.align()), ZERO_SIZED_PAGE),
            Placement::Dedicated => {
                let data = system_alloc(layout)?;
                self.dedicated += 1;
                (data, DEDICATED_PAGE)
            }
            Placement::Slab(_) | Placement::Large
                if config.max_nursery_log2.is_some() && self.may_open_nursery() =>
            {
                let log2 = self.nursery_log2;
                self.open_nursery(log2, layout.size(), layout.align(), config, cache)?;
                let data = self
                    .nursery_take(layout.size(), layout.align())
                    .expect("a fresh nursery holds the object");
                (data, NURSERY_PAGE)
            }
            Placement::Slab(_) | Placement::Large => self
                .pools_mut()?
                .allocate(place, layout, typed, config, cache)?,
        };
        Ok(HeapRef { data, page })
    }

    /// The pools, made on first use.
    fn pools_mut(&mut self) -> Result<&mut Pools> {
        if self.pools.is_none() {
            self.pools = Some(crate::fallible::try_box(Pools::default())?);
        }
        Ok(self.pools.as_mut().expect("just made"))
    }

    /// Storage for `count` slab objects of `layout`, next to each other:
    /// the first object's storage (the others follow every `chunk` bytes)
    /// and the chunk size. `None` when the objects are not slab objects or
    /// do not fit one block together.
    pub fn allocate_run(
        &mut self,
        layout: Layout,
        typed: Option<u32>,
        count: usize,
        config: &Config,
        cache: &mut BlockCache,
    ) -> Result<Option<(HeapRef, u32)>> {
        self.pools_mut()?
            .allocate_run(layout, typed, count, config, cache)
    }

    /// Gives back the storage of a heap object of `layout`.
    #[inline]
    pub fn release(&mut self, heap: HeapRef, layout: Layout, cache: &mut BlockCache) {
        match heap.page {
            ZERO_SIZED_PAGE => {}
            DEDICATED_PAGE => {
                // SAFETY: dedicated storage came from `system_alloc(layout)`
                // and belongs to the object being released.
                unsafe { system_free(heap.data, layout) };
                self.dedicated -= 1;
            }
            NURSERY_PAGE => self.nursery_free(heap.data, layout.size()),
            index => self
                .pools
                .as_mut()
                .expect("a page object has pools")
                .release(index, heap.data, cache),
        }
    }

    /// Gives every page back to the cache and empties the pools (keeping
    /// their tables); with `keep_nursery`, the nursery page stays, empty,
    /// for the next region that takes this id. Dedicated objects must have
    /// been released.
    pub fn release_all(&mut self, cache: &mut BlockCache, keep_nursery: bool) {
        debug_assert_eq!(self.dedicated, 0, "dedicated objects outlive their pool");
        if let Some(pools) = &mut self.pools {
            pools.release_all(cache);
        }
        if keep_nursery {
            // The region's objects are gone (their destructors have run).
            let used = self.nursery.bump;
            self.nursery.poison(0..used);
            self.nursery.bump = 0;
            self.nursery.live = 0;
        } else {
            self.close_nursery(cache);
        }
    }

    /// Gives the kept nursery page back to the cache unless it holds
    /// between one and four times `1 << log2` bytes, the nursery size the
    /// registry's hint asks for a new region.
    pub fn keep_nursery_if(&mut self, log2: u8, cache: &mut BlockCache) {
        let kept = self.nursery.log2;
        if !self.nursery.is_vacant() && (kept < log2 || kept > log2 + 2) {
            self.close_nursery(cache);
        }
    }

    /// Adds one to the live count of `page` (a page number, or
    /// `NURSERY_PAGE`), for [`crate::Corruption::PageLiveCount`]; false if
    /// the region has no such page.
    #[cfg(feature = "test-hooks")]
    pub fn miscount_page_for_testing(&mut self, page: u32) -> bool {
        let page = match page {
            NURSERY_PAGE => Some(&mut self.nursery),
            index => self
                .pools
                .as_mut()
                .and_then(|pools| pools.pages.get_mut(index as usize)),
        };
        page.map(|page| page.live += 1).is_some()
    }

    /// Forgets the pools' tables (the region is dead and holds no page).
    pub fn shrink(&mut self) {
        debug_assert_eq!(self.page_count(), 0);
        self.pools = None;
    }

    /// Checks a heap object's storage: aligned, and inside the nursery or a
    /// page of the pools (see `Pools::check_object`). Returns where it
    /// counts: `(page number or NURSERY_PAGE, offset)`, or `None` for
    /// storage outside pages.
    pub fn check_object(
        &self,
        heap: HeapRef,
        layout: Layout,
    ) -> Result<Option<(u32, u32)>, String> {
        if heap.data.as_ptr() as usize % layout.align() != 0 {
            return Err(alloc::format!(
                "{:?} is not aligned to {}",
                heap.data,
                layout.align()
            ));
        }
        match heap.page {
            ZERO_SIZED_PAGE if layout.size() == 0 => Ok(None),
            DEDICATED_PAGE => Ok(None),
            NURSERY_PAGE => {
                let offset = self
                    .nursery
                    .offset_of(heap.data)
                    .filter(|_| !self.nursery.is_vacant())
                    .ok_or_else(|| String::from("is not in the nursery"))?;
                Ok(Some((NURSERY_PAGE, offset)))
            }
            index => match &self.pools {
                Some(pools) => pools.check_object(heap, layout).map(|o| Some((index, o))),
                None => Err(alloc::format!(
                    "names page {index} but the region has no pools"
                )),
            },
        }
    }

    /// Checks the nursery and the pools; `objects` lists the `(page,
    /// offset, size)` of the objects the slot table places in the pools'
    /// pages, sorted by page, `nursery` the `(offset, size)` of those in the
    /// nursery (sorted here).
    pub fn check(
        &self,
        nursery: &mut [(u32, u32)],
        objects: &[(u32, u32, u32)],
        problems: &mut Vec<String>,
    ) {
        self.check_nursery(nursery, problems);
        match &self.pools {
            Some(pools) => pools.check(objects, problems),
            None if !objects.is_empty() => {
                problems.push("objects name pages of a region without pools".into())
            }
            None => {}
        }
    }

    /// Checks that the nursery a dead region keeps for the next region
    /// (empty) is poison throughout; the region's other pages went back to
    /// the block cache, which checks its own.
    #[cfg(feature = "poison")]
    pub fn check_retained_poison(&self, problems: &mut Vec<String>) {
        self.check_nursery_poison(&[], problems);
    }
}

/// A non-null, well-aligned address for a zero-sized object.
fn dangling(align: usize) -> NonNull<u8> {
    // `align` is a non-zero power of two. The address carries no provenance:
    // nothing is ever read or written through it.
    NonNull::new(core::ptr::null_mut::<u8>().wrapping_add(align)).expect("alignment is non-zero")
}

impl Drop for Pool {
    fn drop(&mut self) {
        if !self.nursery.is_vacant() {
            // SAFETY: the nursery's block came from `system_alloc` (through
            // the cache) with this layout; the pool is dropped once, and the
            // registry no longer reads any object in it.
            unsafe {
                system_free(
                    self.nursery.base,
                    crate::block::block_layout(self.nursery.log2),
                )
            }
        }
    }
}
