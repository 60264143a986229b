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
//! Pages come from the registry's block cache and go back to it when they
//! empty or when the region dies (`release_all`), so steady-state region
//! churn does not call the global allocator. Every heap object records its
//! page number next to its address ([`HeapRef`]), so freeing goes straight
//! to the right page.

mod compact;
mod large;
mod nursery;
mod page;
mod slab;

use alloc::string::String;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ptr::NonNull;

use crate::block::{block_layout, system_alloc, system_free, BlockCache};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::size_class::{class_of, class_of_small, CLASSES, CLASS_SIZES};
use large::{large_footprint, LargePool};
use page::{Page, LARGE_OWNER, NONE, NURSERY_OWNER, VACANT_OWNER};
use slab::{SlabKey, SlabPool};

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
/// Typed slab pools a region keeps at most; more types share the class pools.
const MAX_TYPED_SLABS: usize = 32;
/// Typed pools the allocation fast path remembers per region.
const RECENT_TYPES: usize = 4;
/// `class_slab` entry of a class with no pool yet.
const NO_SLAB: u16 = u16::MAX;
/// Objects up to this size (and alignment 16) take the allocation fast path:
/// their class is a slab class under every configuration (the smallest
/// largest block is 1 KiB, so the dedicated threshold is at least 256).
const FAST_SLAB_MAX: usize = 256;

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
    /// The page number in the region's pool, or `DEDICATED_PAGE` /
    /// `ZERO_SIZED_PAGE`.
    pub page: u32,
}

// SAFETY: a `HeapRef` names storage its object owns exclusively (a chunk of
// its region's page, or its dedicated allocation), like a `Box<[u8]>`.
unsafe impl Send for HeapRef {}

/// A region's pages and the pools that carve them.
#[derive(Debug)]
pub(crate) struct Pool {
    /// Indexed by page number; vacant numbers are linked from `vacant`.
    pub(super) pages: Vec<Page>,
    /// The first vacant page number, or `NONE`.
    pub(super) vacant: u32,
    /// Slab pools, in creation order.
    pub(super) slabs: Vec<SlabPool>,
    /// The slab pool of each size class for raw objects, or `NO_SLAB`.
    pub(super) class_slab: [u16; CLASSES],
    /// The typed pools found most recently, newest first: `(type index,
    /// slab)`, so the allocation fast path finds a handful of types
    /// without scanning `slabs`.
    recent_typed: [(u32, u16); RECENT_TYPES],
    pub(super) large: LargePool,
    /// The nursery page (see `nursery.rs`), or `NONE`.
    pub(super) nursery: u32,
    /// log2 of the size of the nursery this region opens, from the
    /// registry's [`NurseryHint`] when the region was created.
    pub nursery_log2: u8,
    /// Pages in use (not vacant).
    pub(super) page_count: u32,
    /// Objects in dedicated allocations.
    pub dedicated: u32,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            pages: Vec::new(),
            vacant: NONE,
            slabs: Vec::new(),
            class_slab: [NO_SLAB; CLASSES],
            recent_typed: [(u32::MAX, NO_SLAB); RECENT_TYPES],
            large: LargePool::default(),
            nursery: NONE,
            nursery_log2: crate::config::FIRST_BLOCK_LOG2,
            page_count: 0,
            dedicated: 0,
        }
    }
}

fn oom<T>(count: usize) -> Error {
    Error::OutOfMemory {
        requested: count.saturating_mul(core::mem::size_of::<T>()),
    }
}

impl Pool {
    /// Pages in use.
    pub fn page_count(&self) -> usize {
        self.page_count as usize
    }

    /// Bytes of the pages in use.
    pub fn page_bytes(&self) -> usize {
        self.live_pages()
            .map(|(_, page)| page.size() as usize)
            .sum()
    }

    /// Bytes of memory this pool's tables hold (not the pages).
    pub fn table_bytes(&self) -> usize {
        self.pages.capacity() * core::mem::size_of::<Page>()
            + self.slabs.capacity() * core::mem::size_of::<SlabPool>()
    }

    fn live_pages(&self) -> impl Iterator<Item = (u32, &Page)> {
        self.pages
            .iter()
            .enumerate()
            .filter(|(_, page)| !page.is_vacant())
            .map(|(index, page)| (index as u32, page))
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
    /// take: an object of a size class up to 256 bytes (always a slab
    /// object, whatever the configuration) aligned to at most 16 whose pool
    /// has a page with room, or any arena object the nursery has room for.
    #[inline(always)]
    pub fn allocate_fast(
        &mut self,
        layout: Layout,
        typed: Option<u32>,
        config: &Config,
    ) -> Option<HeapRef> {
        if layout.size() <= FAST_SLAB_MAX && layout.align() <= 16 {
            let slab = match typed {
                None => Some(self.class_slab[class_of_small(layout.size())]),
                Some(index) => self
                    .recent_typed
                    .iter()
                    .find(|(t, _)| *t == index)
                    .map(|e| e.1),
            };
            if let Some((data, page)) = slab.and_then(|slab| self.slab_take(usize::from(slab))) {
                return Some(HeapRef { data, page });
            }
        }
        if layout.size() == 0 || layout.size() > config.dedicated_threshold() {
            return None;
        }
        let (data, page) = self.nursery_take(layout.size(), layout.align())?;
        Some(HeapRef { data, page })
    }

    /// [`allocate`](Self::allocate) by placement, growing pools as needed.
    #[inline(never)]
    fn allocate_placed(
        &mut self,
        layout: Layout,
        typed: Option<u32>,
        config: &Config,
        cache: &mut BlockCache,
    ) -> Result<HeapRef> {
        let place = placement(layout.size(), layout.align(), config);
        if matches!(place, Placement::Slab(_) | Placement::Large) && self.may_open_nursery() {
            self.open_nursery(
                self.nursery_log2,
                layout.size(),
                layout.align(),
                config,
                cache,
            )?;
            if let Some((data, page)) = self.nursery_take(layout.size(), layout.align()) {
                return Ok(HeapRef { data, page });
            }
        }
        let (data, page) = match place {
            Placement::Inline => unreachable!("inline objects have no heap storage"),
            Placement::ZeroSized => (dangling(layout.align()), ZERO_SIZED_PAGE),
            Placement::Slab(class) => {
                let slab = self.slab_for(class, typed, config)?;
                self.slab_alloc(slab, config, cache)?
            }
            Placement::Large => {
                self.large_alloc(layout.size() as u32, layout.align() as u32, config, cache)?
            }
            Placement::Dedicated => {
                let data = system_alloc(layout)?;
                self.dedicated += 1;
                (data, DEDICATED_PAGE)
            }
        };
        Ok(HeapRef { data, page })
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
        let Placement::Slab(class) = placement(layout.size(), layout.align(), config) else {
            return Ok(None);
        };
        let chunk = CLASS_SIZES[usize::from(class)] as usize;
        if count == 0 || count.saturating_mul(chunk) > config.max_block() {
            return Ok(None);
        }
        let slab = self.slab_for(class, typed, config)?;
        let (data, page) = self.slab_alloc_run(slab, count as u32, config, cache)?;
        Ok(Some((HeapRef { data, page }, chunk as u32)))
    }

    /// The slab pool for objects of `class` (typed: of type `typed`).
    #[inline]
    fn slab_for(&mut self, class: u8, typed: Option<u32>, config: &Config) -> Result<usize> {
        if let Some(type_index) = typed {
            if let Some(&(_, slab)) = self.recent_typed.iter().find(|(t, _)| *t == type_index) {
                return Ok(usize::from(slab));
            }
            if let Some(slab) = self.typed_slab(type_index, class, config)? {
                self.recent_typed.copy_within(..RECENT_TYPES - 1, 1);
                self.recent_typed[0] = (type_index, slab as u16);
                return Ok(slab);
            }
        }
        let slab = self.class_slab[usize::from(class)];
        if slab != NO_SLAB {
            return Ok(usize::from(slab));
        }
        let slab = self.new_slab(SlabKey::Class(class), class, config)?;
        self.class_slab[usize::from(class)] = slab as u16;
        Ok(slab)
    }

    /// The typed pool of `type_index`, created if the region has room for
    /// another; `None` if it has not.
    #[cold]
    fn typed_slab(&mut self, type_index: u32, class: u8, config: &Config) -> Result<Option<usize>> {
        let key = SlabKey::Type(type_index);
        if let Some(slab) = self.slabs.iter().position(|s| s.key == key) {
            return Ok(Some(slab));
        }
        let typed = self
            .slabs
            .iter()
            .filter(|s| matches!(s.key, SlabKey::Type(_)))
            .count();
        if typed >= MAX_TYPED_SLABS {
            return Ok(None);
        }
        self.new_slab(key, class, config).map(Some)
    }

    fn new_slab(&mut self, key: SlabKey, class: u8, config: &Config) -> Result<usize> {
        self.slabs.try_reserve(1).map_err(|_| oom::<SlabPool>(1))?;
        let chunk = CLASS_SIZES[usize::from(class)];
        self.slabs.push(SlabPool::new(key, chunk, config));
        Ok(self.slabs.len() - 1)
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
            index => match self.pages[index as usize].owner {
                LARGE_OWNER => self.large_free(index, heap.data, cache),
                NURSERY_OWNER => self.nursery_free(index),
                _ => self.slab_free(index, heap.data, cache),
            },
        }
    }

    /// Gives every page back to the cache and forgets every pool, keeping
    /// the tables' capacity; with `keep_nursery`, the nursery page stays,
    /// empty, for the next region that takes this id. Dedicated objects
    /// must have been released.
    pub fn release_all(&mut self, cache: &mut BlockCache, keep_nursery: bool) {
        debug_assert_eq!(self.dedicated, 0, "dedicated objects outlive their pool");
        let kept = if keep_nursery && self.nursery != NONE {
            let mut nursery = core::mem::replace(
                &mut self.pages[self.nursery as usize],
                Page::new(NonNull::dangling(), 0, VACANT_OWNER, 0),
            );
            nursery.bump = 0;
            nursery.live = 0;
            Some(nursery)
        } else {
            None
        };
        for page in self.pages.drain(..).filter(|page| !page.is_vacant()) {
            // SAFETY: the page's block came from this registry's cache and
            // the region is dead: nothing points into it any more.
            unsafe { cache.give(page.base, page.log2) };
        }
        self.nursery = NONE;
        self.page_count = 0;
        if let Some(nursery) = kept {
            self.pages.push(nursery);
            self.nursery = 0;
            self.page_count = 1;
        }
        self.vacant = NONE;
        self.slabs.clear();
        self.class_slab = [NO_SLAB; CLASSES];
        self.recent_typed = [(u32::MAX, NO_SLAB); RECENT_TYPES];
        self.large = LargePool::default();
    }

    /// Gives the kept nursery page back to the cache unless it holds
    /// between one and four times `1 << log2` bytes, the nursery size the
    /// registry's hint asks for a new region.
    pub fn keep_nursery_if(&mut self, log2: u8, cache: &mut BlockCache) {
        if self.nursery == NONE {
            return;
        }
        let kept = self.pages[self.nursery as usize].log2;
        if kept < log2 || kept > log2 + 2 {
            self.release_all(cache, false);
        }
    }

    /// Forgets the tables' capacity too (the pool must hold no page).
    pub fn shrink(&mut self) {
        debug_assert_eq!(self.page_count, 0);
        self.pages = Vec::new();
        self.slabs = Vec::new();
    }

    /// Takes a block for a new page of `owner` and returns its number.
    fn take_page(
        &mut self,
        log2: u8,
        owner: u16,
        chunk: u32,
        cache: &mut BlockCache,
    ) -> Result<u32> {
        if self.vacant == NONE {
            if self.pages.len() >= NONE as usize {
                return Err(Error::IdSpaceExhausted);
            }
            self.pages.try_reserve(1).map_err(|_| oom::<Page>(1))?;
        }
        let base = cache.take(log2)?;
        let page = Page::new(base, log2, owner, chunk);
        let index = if self.vacant != NONE {
            let index = self.vacant;
            self.vacant = self.pages[index as usize].next;
            self.pages[index as usize] = page;
            index
        } else {
            self.pages.push(page);
            self.pages.len() as u32 - 1
        };
        self.page_count += 1;
        Ok(index)
    }

    /// Gives page `index`'s block back to the cache; its number becomes vacant.
    fn give_page(&mut self, index: u32, cache: &mut BlockCache) {
        let page = &mut self.pages[index as usize];
        // SAFETY: the page is empty and unlinked; nothing points into its block.
        unsafe { cache.give(page.base, page.log2) };
        page.owner = VACANT_OWNER;
        page.base = NonNull::dangling();
        page.live = 0;
        page.next = self.vacant;
        page.prev = NONE;
        self.vacant = index;
        self.page_count -= 1;
    }

    /// The storage of a heap object must be in a live page of this pool,
    /// inside it, and (for slab pages) at a chunk boundary; returns the page
    /// number and offset it counts against, if it is in a page.
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
            index => {
                let page = self
                    .pages
                    .get(index as usize)
                    .filter(|page| !page.is_vacant())
                    .ok_or_else(|| alloc::format!("names page {index}, which is not in use"))?;
                let offset = page
                    .offset_of(heap.data)
                    .filter(|&offset| offset as usize + layout.size() <= page.size() as usize)
                    .ok_or_else(|| alloc::format!("lies outside page {index}"))?;
                let slab = page.owner != LARGE_OWNER && page.owner != NURSERY_OWNER;
                if slab && (offset % page.chunk != 0 || layout.size() > page.chunk as usize) {
                    return Err(alloc::format!("is not a chunk of slab page {index}"));
                }
                Ok(Some((index, offset)))
            }
        }
    }

    /// Checks pages, lists and counts; `objects[page]` lists the offsets of
    /// the objects the slot table places in each page.
    pub fn check(&self, objects: &[Vec<(u32, u32)>], problems: &mut Vec<String>) {
        let mut in_use = 0;
        for (index, page) in self.live_pages() {
            in_use += 1;
            let offsets = objects.get(index as usize).map_or(&[][..], Vec::as_slice);
            if offsets.len() != page.live as usize {
                problems.push(alloc::format!(
                    "page {index} counts {} live objects, the slots {}",
                    page.live,
                    offsets.len()
                ));
            }
            if page.base.as_ptr() as usize % (page.size() as usize).min(crate::MAX_ALIGN) != 0 {
                problems.push(alloc::format!("page {index} is misaligned"));
            }
            match page.owner {
                LARGE_OWNER => self.check_large_page(index, offsets, problems),
                NURSERY_OWNER => self.check_nursery_page(index, offsets, problems),
                owner if usize::from(owner) < self.slabs.len() => {
                    self.check_slab_page(index, offsets, problems)
                }
                owner => problems.push(alloc::format!("page {index} has owner {owner}")),
            }
        }
        if in_use != self.page_count {
            problems.push(alloc::format!(
                "{in_use} pages in use, the count says {}",
                self.page_count
            ));
        }
        let vacant = page::PageList { head: self.vacant }
            .iter(&self.pages)
            .count();
        if vacant + in_use as usize != self.pages.len() {
            problems.push(alloc::format!(
                "{vacant} vacant + {in_use} used page numbers of {}",
                self.pages.len()
            ));
        }
        for (slab, pool) in self.slabs.iter().enumerate() {
            let owned = self
                .live_pages()
                .filter(|(_, p)| usize::from(p.owner) == slab)
                .count();
            if owned != pool.pages as usize {
                problems.push(alloc::format!(
                    "slab pool {slab} counts {} pages but owns {owned}",
                    pool.pages
                ));
            }
            for index in pool.open.iter(&self.pages) {
                let page = &self.pages[index as usize];
                let room = page.free != NONE || page.bump + page.chunk <= page.size();
                if usize::from(page.owner) != slab || !room {
                    problems.push(alloc::format!(
                        "slab pool {slab} lists page {index}, not its own page with room"
                    ));
                }
            }
        }
        let large: Vec<u32> = self.large.pages.iter(&self.pages).collect();
        let owned = self
            .live_pages()
            .filter(|(_, p)| p.owner == LARGE_OWNER)
            .count();
        if large.len() != owned || owned != self.large.count as usize {
            problems.push(alloc::format!(
                "large pool lists {} pages, counts {}, owns {owned}",
                large.len(),
                self.large.count
            ));
        }
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
        for (_, page) in self.live_pages() {
            // SAFETY: the page's block came from `system_alloc` (through the
            // cache) with this layout; the pool is dropped once, and the
            // registry no longer reads any object in it.
            unsafe { system_free(page.base, block_layout(page.log2)) }
        }
    }
}
