//! Slab pools: pages cut into equal chunks, for small heap objects.
//!
//! Each slab pool serves one key: a size class (raw objects, see
//! `size_class.rs`) or one Rust type (typed objects, so that the values of
//! a type sit together and typed iteration walks contiguous memory). A page
//! hands out chunks by bumping an offset, then reuses freed chunks through a
//! free list threaded through them (the per-page free lists of mimalloc).
//! The pool links the pages that have room; allocation takes from the first
//! one, so the common case is a few loads and one store. A page that empties
//! goes back to the block cache unless it is the pool's last page with room.
//! New pages double in size, from `FIRST_BLOCK_SIZE` up to the registry's
//! largest block, so a pool that holds one object costs one small block.

use core::ptr::NonNull;

use super::page::{Page, PageList, NONE};
use super::pools::Pools;
use crate::block::BlockCache;
use crate::config::Config;
use crate::error::Result;

/// What a slab pool serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlabKey {
    /// Raw objects (and typed objects without a pool of their own) of this size class.
    Class(u8),
    /// Typed objects of this size class of the type with this index in the
    /// registry's type table. The class is part of the key because slices
    /// of one type come in every length.
    Type(u32, u8),
}

/// One slab pool of a region.
#[derive(Debug)]
pub(crate) struct SlabPool {
    pub key: SlabKey,
    /// Chunk size: a multiple of 16 and of the alignment of every object served.
    pub chunk: u32,
    /// Pages with at least one free chunk.
    pub open: PageList,
    /// Pages this pool owns (open or full).
    pub pages: u32,
    /// log2 of the size of the next page to take.
    pub next_log2: u8,
}

impl SlabPool {
    /// A pool of `chunk`-byte chunks whose first page holds at least four.
    pub fn new(key: SlabKey, chunk: u32, config: &Config) -> Self {
        let wanted = (chunk as usize * 4).next_power_of_two();
        let log2 = (wanted.trailing_zeros() as u8)
            .max(crate::config::FIRST_BLOCK_LOG2)
            .min(config.max_block_log2);
        SlabPool {
            key,
            chunk,
            open: PageList::default(),
            pages: 0,
            next_log2: log2,
        }
    }
}

/// Bytes at the start of a free chunk that hold its free-list link; with
/// the `poison` feature the rest of the chunk is poisoned.
pub(super) const LINK: u32 = 4;

/// Puts the chunk at `offset` of slab page `page` (just freed) on the
/// page's free list.
#[inline]
pub(super) fn push_free(page: &mut Page, offset: u32) {
    page.poison(offset..offset + page.chunk);
    let next = page.free;
    page.write_u32(offset, next);
    page.free = offset;
}

/// Poisons the links of the chunks on an empty page's free list: the page
/// is about to forget the list and hand its chunks out as never carved,
/// which must be poison throughout.
#[cfg(feature = "poison")]
fn poison_links(page: &mut Page) {
    let mut cursor = page.free;
    while cursor != NONE {
        let next = page.read_u32(cursor);
        page.poison(cursor..cursor + LINK);
        cursor = next;
    }
}

/// Whether a slab page has no chunk left.
#[inline(always)]
fn is_full(page: &Page) -> bool {
    page.free == NONE && page.bump + page.chunk > page.size()
}

impl Pools {
    /// A chunk from slab pool `slab`: `(address, page number)`.
    #[inline]
    pub(super) fn slab_alloc(
        &mut self,
        slab: usize,
        config: &Config,
        cache: &mut BlockCache,
    ) -> Result<(NonNull<u8>, u32)> {
        if self.slabs[slab].open.head == NONE {
            self.slab_grow(slab, config, cache)?;
        }
        Ok(self.slab_alloc_open(slab))
    }

    /// A chunk from slab pool `slab` (or `NO_SLAB`) if it has a page with
    /// room: `(address, page number)`.
    #[inline(always)]
    pub(super) fn slab_take(&mut self, slab: usize) -> Option<(NonNull<u8>, u32)> {
        let index = self.slabs.get(slab)?.open.head;
        if index == NONE {
            return None;
        }
        debug_assert!((index as usize) < self.pages.len());
        // SAFETY: a pool's open list links only pages in use (numbers below
        // `pages.len()`), which `check_invariants` verifies.
        let page = unsafe { self.pages.get_unchecked_mut(index as usize) };
        // Verified before anything changes, so a panic leaves the pool as
        // it was.
        let offset = if page.free != NONE {
            let offset = page.free;
            page.verify_reuse(offset + LINK..offset + page.chunk);
            page.free = page.read_u32(offset);
            offset
        } else {
            let offset = page.bump;
            page.verify_reuse(offset..offset + page.chunk);
            page.bump += page.chunk;
            offset
        };
        page.live += 1;
        let data = page.at(offset);
        if is_full(page) {
            self.close_page(slab, index);
        }
        Some((data, index))
    }

    /// A chunk from the first page with room of slab pool `slab` (there is
    /// one): `(address, page number)`.
    #[inline]
    pub(super) fn slab_alloc_open(&mut self, slab: usize) -> (NonNull<u8>, u32) {
        self.slab_take(slab).expect("the pool has a page with room")
    }

    /// Takes full page `index` out of slab pool `slab`'s list of pages with room.
    #[cold]
    fn close_page(&mut self, slab: usize, index: u32) {
        self.slabs[slab].open.unlink(&mut self.pages, index);
    }

    /// `count` chunks from slab pool `slab` that lie next to each other in
    /// one page, taken from never-used space: `(first address, page number)`.
    /// `count` chunks must fit the largest block.
    pub(super) fn slab_alloc_run(
        &mut self,
        slab: usize,
        count: u32,
        config: &Config,
        cache: &mut BlockCache,
    ) -> Result<(NonNull<u8>, u32)> {
        let chunk = self.slabs[slab].chunk;
        let bytes = count * chunk;
        let open = self.slabs[slab].open;
        let found = open
            .iter(&self.pages)
            .find(|&p| self.pages[p as usize].bump + bytes <= self.pages[p as usize].size());
        let index = match found {
            Some(index) => index,
            None => {
                let needed = (bytes as usize).next_power_of_two().trailing_zeros() as u8;
                let pool = &mut self.slabs[slab];
                pool.next_log2 = pool.next_log2.max(needed).min(config.max_block_log2);
                self.slab_grow(slab, config, cache)?
            }
        };
        let page = &mut self.pages[index as usize];
        debug_assert!(page.bump + bytes <= page.size());
        page.verify_reuse(page.bump..page.bump + bytes);
        let data = page.at(page.bump);
        page.bump += bytes;
        page.live += count;
        if is_full(page) {
            self.slabs[slab].open.unlink(&mut self.pages, index);
        }
        Ok((data, index))
    }

    /// Takes a new page for slab pool `slab` and puts it first in its open list.
    fn slab_grow(&mut self, slab: usize, config: &Config, cache: &mut BlockCache) -> Result<u32> {
        let pool = &self.slabs[slab];
        let (log2, chunk) = (pool.next_log2, pool.chunk);
        let index = self.take_page(log2, slab as u16, chunk, cache)?;
        let pool = &mut self.slabs[slab];
        pool.pages += 1;
        pool.next_log2 = (log2 + 1).min(config.max_block_log2);
        pool.open.push(&mut self.pages, index);
        Ok(index)
    }

    /// Returns the chunk at `data` to slab page `index`; gives the page back
    /// to the cache when it empties and its pool has another page with room.
    #[inline]
    pub(super) fn slab_free(&mut self, index: u32, data: NonNull<u8>, cache: &mut BlockCache) {
        let page = &mut self.pages[index as usize];
        let offset = page.offset_of(data).expect("the chunk lies in its page");
        debug_assert_eq!(offset % page.chunk, 0, "chunk {offset} is misplaced");
        let was_full = is_full(page);
        push_free(page, offset);
        page.live -= 1;
        let slab = usize::from(page.owner);
        let empty = page.live == 0;
        if was_full {
            self.slabs[slab].open.push(&mut self.pages, index);
        }
        if empty {
            let open = self.slabs[slab].open;
            let alone = open.head == index && self.pages[index as usize].next == NONE;
            if alone {
                // The pool's last page with room stays, reset so that its
                // chunks are handed out contiguously again.
                let page = &mut self.pages[index as usize];
                #[cfg(feature = "poison")]
                poison_links(page);
                page.free = NONE;
                page.bump = 0;
            } else {
                self.slabs[slab].open.unlink(&mut self.pages, index);
                self.slabs[slab].pages -= 1;
                self.give_page(index, cache);
            }
        }
    }

    /// Checks a slab page: chunk size, the free list, and that the objects
    /// at `objects` (page, offset, size) are distinct carved chunks not on
    /// the free list.
    pub(super) fn check_slab_page(
        &self,
        index: u32,
        objects: &[(u32, u32, u32)],
        problems: &mut alloc::vec::Vec<alloc::string::String>,
    ) {
        let page = &self.pages[index as usize];
        let chunk = page.chunk;
        let mut report = |what: alloc::string::String| {
            problems.push(alloc::format!(
                "slab page {index} ({chunk}-byte chunks): {what}"
            ));
        };
        if chunk == 0 || chunk % 16 != 0 || page.bump > page.size() || page.bump % chunk != 0 {
            return report("bad chunk size or bump offset".into());
        }
        let carved = page.bump / chunk;
        // One mark per carved chunk (one allocation, where sets of offsets
        // took one per node): unmarked, on the free list, or holding an
        // object (the free list is walked first, so the states exclude each
        // other).
        const UNMARKED: u8 = 0;
        const FREE: u8 = 1;
        const HELD: u8 = 2;
        let mut marks = alloc::vec![UNMARKED; carved as usize];
        let mut free = 0usize;
        let mut cursor = page.free;
        while cursor != NONE {
            // A chunk index below `carved` is a carved chunk (`bump` is a
            // multiple of `chunk`).
            let at = (cursor / chunk) as usize;
            if cursor % chunk != 0 || marks.get(at) != Some(&UNMARKED) {
                return report(alloc::format!(
                    "free list reaches {cursor}: uncarved, misplaced or a cycle"
                ));
            }
            marks[at] = FREE;
            free += 1;
            #[cfg(feature = "poison")]
            if let Some(problem) = page.poison_report(cursor + LINK..cursor + chunk) {
                report(alloc::format!("free chunk at {cursor}: {problem}"));
            }
            cursor = page.read_u32(cursor);
        }
        #[cfg(feature = "poison")]
        if let Some(problem) = page.poison_report(page.bump..page.size()) {
            report(alloc::format!("space never carved: {problem}"));
        }
        for &(_, offset, _) in objects {
            let at = (offset / chunk) as usize;
            // Carved, not free, not yet holding another object.
            if marks.get(at) != Some(&UNMARKED) {
                report(alloc::format!(
                    "object at {offset} is uncarved, free, or shares its chunk"
                ));
            } else {
                marks[at] = HELD;
            }
        }
        if carved as usize != free + page.live as usize {
            report(alloc::format!(
                "{carved} chunks carved, {free} free, {} live",
                page.live
            ));
        }
    }
}
