//! The nursery: a region's first page, shared by objects of every size.
//!
//! Most regions are small and short-lived (a call frame, an entity, a
//! request). Giving each size class and each type its own page would cost
//! such a region one page per kind of object it holds, taken and given back
//! on every create and release. So a region's first heap objects go to one
//! *nursery* page instead, by bumping an offset — whatever their size,
//! alignment or type. The size classes and type pools take over once the
//! nursery is full; the class pool of an object is always tried first, so a
//! region that has grown past its nursery allocates as before.
//!
//! Freed nursery objects are not reused one by one: the page counts its live
//! objects, and when the count reaches zero its bump offset goes back to 0.
//! (A long-lived region that frees its first objects and keeps one wastes at
//! most one nursery page.)
//!
//! The nursery's size adapts: when a region dies, the registry remembers
//! how many heap bytes it used (decaying slowly), and the next region's
//! nursery is that size rounded up to a power of two, between
//! `FIRST_BLOCK_SIZE` and the configured limit (`RegistryBuilder::
//! nursery_bytes`, 64 KiB by default) — so a stream of similar regions each
//! takes exactly one block of the right size.

use core::ptr::NonNull;

use super::page::{Page, NURSERY_OWNER};
use super::Pool;
use crate::arith::align_up;
use crate::block::BlockCache;
use crate::config::{Config, FIRST_BLOCK_LOG2};
use crate::error::Result;

/// What the registry remembers about the regions that died, to size the
/// next nursery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NurseryHint {
    /// Heap bytes recent regions used, decaying by 1/32 per death (so a
    /// workload whose regions vary keeps a nursery for its larger ones).
    bytes: usize,
}

impl Default for NurseryHint {
    fn default() -> Self {
        NurseryHint {
            bytes: 1 << FIRST_BLOCK_LOG2,
        }
    }
}

impl NurseryHint {
    /// Remembers a dead region that used `bytes` of heap.
    pub fn record(&mut self, bytes: usize) {
        self.bytes = bytes.max(self.bytes - self.bytes / 32);
    }

    /// log2 of the nursery size for a new region (`config` permitting a
    /// nursery).
    pub fn log2(&self, config: &Config) -> u8 {
        let limit = config
            .max_nursery_log2
            .unwrap_or(FIRST_BLOCK_LOG2)
            .min(config.max_block_log2);
        let wanted = self.bytes.max(1 << FIRST_BLOCK_LOG2).next_power_of_two();
        (wanted.trailing_zeros() as u8).min(limit)
    }
}

impl Pool {
    /// `size` bytes aligned to `align` from the nursery, if it has room.
    #[inline(always)]
    pub(super) fn nursery_take(&mut self, size: usize, align: usize) -> Option<NonNull<u8>> {
        let page = &mut self.nursery;
        // Offsets aligned to `align` give aligned addresses only up to the
        // block's own alignment (a vacant nursery has size 0: never room).
        if align > (page.size() as usize).min(crate::MAX_ALIGN) {
            return None;
        }
        let start = align_up(page.bump, align as u32)?;
        let end = start.checked_add(size as u32)?;
        if end > page.size() {
            return None;
        }
        // The alignment padding stays poisoned, but a stray write there is
        // as much a use after free as one into the object's bytes.
        page.verify_reuse(page.bump..end);
        page.bump = end;
        page.live += 1;
        Some(page.at(start))
    }

    /// Takes a nursery page of `1 << log2` bytes (at least enough for an
    /// object of `size` at `align`); the region must have none.
    pub(super) fn open_nursery(
        &mut self,
        log2: u8,
        size: usize,
        align: usize,
        config: &Config,
        cache: &mut BlockCache,
    ) -> Result<()> {
        debug_assert!(self.nursery.is_vacant());
        let needed = (size + align).next_power_of_two().trailing_zeros() as u8;
        let log2 = log2.max(needed).min(config.max_block_log2);
        self.nursery = Page::new(cache.take(log2)?, log2, NURSERY_OWNER, 0);
        Ok(())
    }

    /// Gives the nursery's block back to the cache (it must be empty).
    pub(super) fn close_nursery(&mut self, cache: &mut BlockCache) {
        if self.nursery.is_vacant() {
            return;
        }
        // SAFETY: the nursery's block came from this registry's cache and
        // holds no live object any more.
        unsafe { cache.give(self.nursery.base, self.nursery.log2) };
        self.nursery = Page::vacant();
    }

    /// Whether the region may still open its nursery: it has none.
    pub(super) fn may_open_nursery(&self) -> bool {
        self.nursery.is_vacant()
    }

    /// The object of `size` bytes at `data` in the nursery was freed: its
    /// bytes are poisoned, and when the nursery empties its space is reused
    /// from the start.
    #[inline]
    pub(super) fn nursery_free(&mut self, data: NonNull<u8>, size: usize) {
        let page = &mut self.nursery;
        let offset = (data.as_ptr() as usize - page.base.as_ptr() as usize) as u32;
        page.poison(offset..offset + size as u32);
        page.live -= 1;
        if page.live == 0 {
            page.bump = 0;
        }
    }

    /// Bytes of the nursery page, if the region has one.
    pub fn nursery_page_bytes(&self) -> usize {
        self.nursery.size() as usize
    }

    /// Bytes the region's nursery has handed out.
    pub fn nursery_bytes(&self) -> usize {
        self.nursery.bump as usize
    }

    /// Checks the nursery: its live count, and that `objects` (offset,
    /// size) lie below the bump offset without overlapping. Sorts `objects`.
    pub(super) fn check_nursery(
        &self,
        objects: &mut [(u32, u32)],
        problems: &mut alloc::vec::Vec<alloc::string::String>,
    ) {
        let page = &self.nursery;
        if objects.len() != page.live as usize || page.bump > page.size() {
            problems.push(alloc::format!(
                "the nursery counts {} live objects (bump {} of {}), the slots {}",
                page.live,
                page.bump,
                page.size(),
                objects.len()
            ));
        }
        if !page.is_vacant()
            && page.base.as_ptr() as usize % (page.size() as usize).min(crate::MAX_ALIGN) != 0
        {
            problems.push("the nursery is misaligned".into());
        }
        objects.sort_unstable();
        let mut end = 0u64;
        for &(offset, size) in &*objects {
            if u64::from(offset) < end || u64::from(offset) + u64::from(size) > u64::from(page.bump)
            {
                problems.push(alloc::format!(
                    "nursery object at {offset} ({size} bytes) overlaps another or passes the bump offset {}",
                    page.bump
                ));
            }
            end = end.max(u64::from(offset) + u64::from(size.max(1)));
        }
        #[cfg(feature = "poison")]
        self.check_nursery_poison(objects, problems);
    }

    /// Checks that every byte of the nursery outside the (sorted) live
    /// `objects` is poison: freed objects, alignment padding and the space
    /// never handed out. A dead region's kept nursery has no objects.
    #[cfg(feature = "poison")]
    pub(super) fn check_nursery_poison(
        &self,
        objects: &[(u32, u32)],
        problems: &mut alloc::vec::Vec<alloc::string::String>,
    ) {
        let page = &self.nursery;
        let mut free_from = 0;
        let end_of_page = (page.size(), 0);
        for &(offset, size) in objects.iter().chain([&end_of_page]) {
            // Clamped: objects outside the page were reported above.
            let offset = offset.min(page.size());
            if offset > free_from {
                if let Some(problem) = page.poison_report(free_from..offset) {
                    problems.push(alloc::format!("nursery: {problem}"));
                }
            }
            free_from = free_from.max(offset.saturating_add(size).min(page.size()));
        }
    }
}
