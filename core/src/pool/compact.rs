//! Incremental compaction: emptying sparse pages into the holes of others.
//!
//! A long-lived region that frees objects leaves pages partly empty. One
//! compaction step picks, per pool, the page that holds the fewest objects —
//! if the pool's other pages have room for all of them (slab pools), or if
//! it is not the pool's only page (the large pool) — and marks it
//! *evacuating*: nothing is allocated in it any more. The registry then
//! walks the region's slot records and moves each object of an evacuating
//! page into a free chunk of another page of the same pool, never into a new
//! page, until the byte budget is spent. A page that empties goes back to
//! the block cache at once. Handles name slots, not addresses, so every
//! handle stays valid; only the slot record's address changes. Pages still
//! holding objects when the budget runs out are opened for allocation
//! again, and the next step picks up where this one stopped.

use core::alloc::Layout;

use super::page::{LARGE_OWNER, NONE};
use super::pools::Pools;
use super::HeapRef;
use super::Pool;
use crate::block::BlockCache;

/// What one compaction step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Objects moved to another page.
    pub objects_moved: usize,
    /// Bytes of those objects (their sizes).
    pub bytes_moved: usize,
    /// Blocks that emptied and went back to the block cache.
    pub blocks_released: usize,
    /// Bytes of those blocks.
    pub bytes_released: usize,
}

impl Pools {
    /// Marks the pages to empty (at most one per pool) and takes them out of
    /// allocation. Returns whether there is anything to move.
    pub fn begin_compaction(&mut self) -> bool {
        let mut any = false;
        for slab in 0..self.slabs.len() {
            if let Some(victim) = self.slab_victim(slab) {
                let page = &mut self.pages[victim as usize];
                page.evacuating = true;
                let in_open = page.free != NONE || page.bump + page.chunk <= page.size();
                if in_open {
                    self.slabs[slab].open.unlink(&mut self.pages, victim);
                }
                any = true;
            }
        }
        if let Some(victim) = self.large_victim() {
            self.pages[victim as usize].evacuating = true;
            any = true;
        }
        any
    }

    /// The page of slab pool `slab` with the fewest objects, if the pool's
    /// other pages have free chunks for all of them.
    fn slab_victim(&self, slab: usize) -> Option<u32> {
        if self.slabs[slab].pages < 2 {
            return None;
        }
        let mut room = 0u64;
        let mut victim: Option<(u32, u32, u32)> = None; // (page, live, its room)
        for (index, page) in self.live_pages() {
            if usize::from(page.owner) != slab {
                continue;
            }
            let free = page.size() / page.chunk - page.live;
            room += u64::from(free);
            if page.live > 0 && victim.map_or(true, |(_, live, _)| page.live < live) {
                victim = Some((index, page.live, free));
            }
        }
        let (index, live, free) = victim?;
        (u64::from(live) <= room - u64::from(free)).then_some(index)
    }

    /// The large page with the fewest objects, if there is another.
    fn large_victim(&self) -> Option<u32> {
        if self.large.count < 2 {
            return None;
        }
        self.live_pages()
            .filter(|(_, page)| page.owner == LARGE_OWNER && page.live > 0)
            .min_by_key(|(_, page)| page.live)
            .map(|(index, _)| index)
    }

    /// Whether page `index` is being emptied.
    #[inline]
    pub fn is_evacuating(&self, index: u32) -> bool {
        self.pages
            .get(index as usize)
            .is_some_and(|page| page.evacuating)
    }

    /// Moves the object of `layout` at `heap` (in an evacuating page) into
    /// a free chunk of another page of its pool, copying its bytes; `None`
    /// when no existing page has room. Returns the new storage.
    pub fn relocate(
        &mut self,
        heap: HeapRef,
        layout: Layout,
        cache: &mut BlockCache,
        released: &mut Compaction,
    ) -> Option<HeapRef> {
        let owner = self.pages[heap.page as usize].owner;
        let (data, page) = if owner == LARGE_OWNER {
            self.large_alloc_existing(layout.size() as u32, layout.align() as u32)?
        } else {
            let slab = usize::from(owner);
            if self.slabs[slab].open.head == NONE {
                return None;
            }
            self.slab_alloc_open(slab)
        };
        // SAFETY: the new chunk holds `size` bytes in another page, so the
        // two ranges do not overlap; both belong to this region.
        unsafe { core::ptr::copy_nonoverlapping(heap.data.as_ptr(), data.as_ptr(), layout.size()) };
        self.evacuate_free(heap, cache, released);
        Some(HeapRef { data, page })
    }

    /// Frees a chunk of an evacuating page; gives the page back once empty.
    fn evacuate_free(&mut self, heap: HeapRef, cache: &mut BlockCache, released: &mut Compaction) {
        let index = heap.page;
        let page = &mut self.pages[index as usize];
        let offset = page
            .offset_of(heap.data)
            .expect("the object lies in its page");
        if page.owner == LARGE_OWNER {
            super::large::give(page, offset);
        } else {
            super::slab::push_free(page, offset);
        }
        page.live -= 1;
        if page.live > 0 {
            return;
        }
        released.blocks_released += 1;
        released.bytes_released += page.size() as usize;
        if page.owner == LARGE_OWNER {
            self.large.pages.unlink(&mut self.pages, index);
            self.large.count -= 1;
        } else {
            let slab = usize::from(page.owner);
            self.slabs[slab].pages -= 1;
        }
        self.give_page(index, cache);
    }

    /// Ends a compaction step: pages still holding objects take
    /// allocations again.
    pub fn end_compaction(&mut self) {
        for index in 0..self.pages.len() as u32 {
            let page = &mut self.pages[index as usize];
            if !page.evacuating || page.is_vacant() {
                continue;
            }
            page.evacuating = false;
            let owner = page.owner;
            let room = page.free != NONE || page.bump + page.chunk <= page.size();
            if owner != LARGE_OWNER && room {
                self.slabs[usize::from(owner)]
                    .open
                    .push(&mut self.pages, index);
            }
        }
    }
}

impl Pool {
    /// Starts a compaction step (see [`Pools::begin_compaction`]); the
    /// nursery is never compacted.
    pub fn begin_compaction(&mut self) -> bool {
        self.pools
            .as_mut()
            .is_some_and(|pools| pools.begin_compaction())
    }

    /// Whether the object storage of page `index` is to be moved.
    #[inline]
    pub fn is_evacuating(&self, index: u32) -> bool {
        self.pools
            .as_ref()
            .is_some_and(|pools| pools.is_evacuating(index))
    }

    /// Moves an object out of an evacuating page (see [`Pools::relocate`]).
    pub fn relocate(
        &mut self,
        heap: HeapRef,
        layout: Layout,
        cache: &mut BlockCache,
        released: &mut Compaction,
    ) -> Option<HeapRef> {
        self.pools.as_mut()?.relocate(heap, layout, cache, released)
    }

    /// Ends a compaction step.
    pub fn end_compaction(&mut self) {
        if let Some(pools) = &mut self.pools {
            pools.end_compaction();
        }
    }
}
