//! The pages of a region that outgrew its nursery: the slab pools (one per
//! size class, and one per type), the large-object pool, and the page table
//! they share. Pages come from the registry's block cache and go back to it
//! when they empty or when the region dies. Every object records its page
//! number, so freeing goes straight to the right page.

use alloc::string::String;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ptr::NonNull;

use super::large::LargePool;
use super::page::{Page, PageList, LARGE_OWNER, NONE, VACANT_OWNER};
use super::slab::{SlabKey, SlabPool};
use super::{placement, HeapRef, Placement, FAST_SLAB_MAX};
use crate::block::{block_layout, BlockCache};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::fallible::{self, system_free};
use crate::size_class::{class_of_small, CLASSES, CLASS_SIZES};

/// Typed slab pools a region keeps at most; more types share the class pools.
const MAX_TYPED_SLABS: usize = 32;
/// Typed pools the allocation fast path remembers per region.
const RECENT_TYPES: usize = 4;
/// `class_slab` entry of a class with no pool yet.
const NO_SLAB: u16 = u16::MAX;

/// The pages of a region that outgrew its nursery, and the pools that
/// carve them.
#[derive(Debug)]
pub(crate) struct Pools {
    /// Indexed by page number; vacant numbers are linked from `vacant`.
    pub(super) pages: Vec<Page>,
    /// The first vacant page number, or `NONE`.
    pub(super) vacant: u32,
    /// Slab pools, in creation order.
    pub(super) slabs: Vec<SlabPool>,
    /// The slab pool of each size class for raw objects, or `NO_SLAB`.
    pub(super) class_slab: [u16; CLASSES],
    /// The typed pools found most recently, newest first: `(typed_key(type
    /// index, class), slab)`, so the allocation fast path finds a handful
    /// of types without scanning `slabs`.
    recent_typed: [(u64, u16); RECENT_TYPES],
    pub(super) large: LargePool,
    /// Pages in use (not vacant).
    pub(super) page_count: u32,
}

impl Default for Pools {
    fn default() -> Self {
        Pools {
            pages: Vec::new(),
            vacant: NONE,
            slabs: Vec::new(),
            class_slab: [NO_SLAB; CLASSES],
            recent_typed: [(u64::MAX, NO_SLAB); RECENT_TYPES],
            large: LargePool::default(),
            page_count: 0,
        }
    }
}

/// The key of a typed pool in `recent_typed`.
#[inline(always)]
fn typed_key(type_index: u32, class: u8) -> u64 {
    u64::from(type_index) << 8 | u64::from(class)
}

impl Pools {
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

    pub(super) fn live_pages(&self) -> impl Iterator<Item = (u32, &Page)> {
        self.pages
            .iter()
            .enumerate()
            .filter(|(_, page)| !page.is_vacant())
            .map(|(index, page)| (index as u32, page))
    }

    /// Storage for a slab object aligned to at most 16 (`typed`: of that
    /// type) if its pool has a page with room.
    #[inline(always)]
    pub fn take_fast(&mut self, size: usize, typed: Option<u32>) -> Option<(NonNull<u8>, u32)> {
        debug_assert!(size <= FAST_SLAB_MAX);
        let class = class_of_small(size);
        let slab = match typed {
            None => self.class_slab[class],
            Some(index) => {
                let key = typed_key(index, class as u8);
                self.recent_typed.iter().find(|(k, _)| *k == key)?.1
            }
        };
        self.slab_take(usize::from(slab))
    }

    /// Storage for a large object in a large page the region already has.
    #[inline]
    pub fn take_large(&mut self, size: u32, align: u32) -> Option<(NonNull<u8>, u32)> {
        if self.large.count == 0 {
            return None;
        }
        self.large_alloc_existing(size, align)
    }

    /// Storage for a slab or large object by its placement, taking pages
    /// as needed.
    pub fn allocate(
        &mut self,
        place: Placement,
        layout: Layout,
        typed: Option<u32>,
        config: &Config,
        cache: &mut BlockCache,
    ) -> Result<(NonNull<u8>, u32)> {
        match place {
            Placement::Slab(class) => {
                let slab = self.slab_for(class, typed, config)?;
                self.slab_alloc(slab, config, cache)
            }
            Placement::Large => {
                self.large_alloc(layout.size() as u32, layout.align() as u32, config, cache)
            }
            _ => unreachable!("only slab and large objects live in pages"),
        }
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
            let key = typed_key(type_index, class);
            if let Some(&(_, slab)) = self.recent_typed.iter().find(|(k, _)| *k == key) {
                return Ok(usize::from(slab));
            }
            if let Some(slab) = self.typed_slab(type_index, class, config)? {
                self.recent_typed.copy_within(..RECENT_TYPES - 1, 1);
                self.recent_typed[0] = (key, slab as u16);
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
        let key = SlabKey::Type(type_index, class);
        if let Some(slab) = self.slabs.iter().position(|s| s.key == key) {
            return Ok(Some(slab));
        }
        let typed = self
            .slabs
            .iter()
            .filter(|s| matches!(s.key, SlabKey::Type(..)))
            .count();
        if typed >= MAX_TYPED_SLABS {
            return Ok(None);
        }
        self.new_slab(key, class, config).map(Some)
    }

    fn new_slab(&mut self, key: SlabKey, class: u8, config: &Config) -> Result<usize> {
        fallible::reserve(&mut self.slabs, 1)?;
        let chunk = CLASS_SIZES[usize::from(class)];
        self.slabs.push(SlabPool::new(key, chunk, config));
        Ok(self.slabs.len() - 1)
    }

    /// Gives back the chunk at `data` of page `index`.
    #[inline]
    pub fn release(&mut self, index: u32, data: NonNull<u8>, cache: &mut BlockCache) {
        match self.pages[index as usize].owner {
            LARGE_OWNER => self.large_free(index, data, cache),
            _ => self.slab_free(index, data, cache),
        }
    }

    /// Gives every page back to the cache and forgets every pool, keeping
    /// the tables' capacity.
    pub fn release_all(&mut self, cache: &mut BlockCache) {
        for page in self.pages.drain(..).filter(|page| !page.is_vacant()) {
            // SAFETY: the page's block came from this registry's cache and
            // the region is dead: nothing points into it any more.
            unsafe { cache.give(page.base, page.log2) };
        }
        self.page_count = 0;
        self.vacant = NONE;
        self.slabs.clear();
        self.class_slab = [NO_SLAB; CLASSES];
        self.recent_typed = [(u64::MAX, NO_SLAB); RECENT_TYPES];
        self.large = LargePool::default();
    }

    /// Takes a block for a new page of `owner` and returns its number.
    pub(super) fn take_page(
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
            fallible::reserve(&mut self.pages, 1)?;
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
    pub(super) fn give_page(&mut self, index: u32, cache: &mut BlockCache) {
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

    /// The storage of a heap object in page `index` must be inside a page
    /// in use and (for slab pages) at a chunk boundary; returns its offset.
    pub fn check_object(&self, heap: HeapRef, layout: Layout) -> Result<u32, String> {
        let index = heap.page;
        let page = self
            .pages
            .get(index as usize)
            .filter(|page| !page.is_vacant())
            .ok_or_else(|| alloc::format!("names page {index}, which is not in use"))?;
        let offset = page
            .offset_of(heap.data)
            .filter(|&offset| offset as usize + layout.size() <= page.size() as usize)
            .ok_or_else(|| alloc::format!("lies outside page {index}"))?;
        if page.owner != LARGE_OWNER
            && (offset % page.chunk != 0 || layout.size() > page.chunk as usize)
        {
            return Err(alloc::format!("is not a chunk of slab page {index}"));
        }
        Ok(offset)
    }

    /// Checks pages, lists and counts; `objects` lists the `(page, offset,
    /// size)` of the objects the slot table places in the pages, sorted by
    /// page.
    pub fn check(&self, objects: &[(u32, u32, u32)], problems: &mut Vec<String>) {
        let mut in_use = 0;
        for (index, page) in self.live_pages() {
            in_use += 1;
            let first = objects.partition_point(|&(page, ..)| page < index);
            let end = objects.partition_point(|&(page, ..)| page <= index);
            let offsets = &objects[first..end];
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
        let vacant = PageList { head: self.vacant }.iter(&self.pages).count();
        if vacant + in_use as usize != self.pages.len() {
            problems.push(alloc::format!(
                "{vacant} vacant + {in_use} used page numbers of {}",
                self.pages.len()
            ));
        }
        for (slab, pool) in self.slabs.iter().enumerate() {
            let (SlabKey::Class(class) | SlabKey::Type(_, class)) = pool.key;
            if pool.chunk != CLASS_SIZES[usize::from(class)] {
                problems.push(alloc::format!(
                    "slab pool {slab} ({:?}) has chunks of {} bytes",
                    pool.key,
                    pool.chunk
                ));
            }
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

impl Drop for Pools {
    fn drop(&mut self) {
        for (_, page) in self.live_pages() {
            // SAFETY: the page's block came from `system_alloc` (through the
            // cache) with this layout; the pools are dropped once, and the
            // registry no longer reads any object in them.
            unsafe { system_free(page.base, block_layout(page.log2)) }
        }
    }
}
