//! Pages: the blocks a region owns, and the lists that link them.
//!
//! A page is one block taken from the registry's block cache. It serves one
//! pool of its region: a slab pool (equal chunks of one size class or one
//! type, see `slab.rs`) or the large-object pool (variable chunks with
//! boundary tags, see `large.rs`). Pages live in a `Vec` indexed by page
//! number; an object's storage records its page number, so freeing never
//! guesses the page from an address. A released page's number becomes
//! *vacant* and is reused by the next page the region takes; numbers are
//! stable while the page is in use.

use core::ops::Range;
use core::ptr::NonNull;

use crate::poison;

/// Marks "no page" / "no offset" in links and free lists.
pub(crate) const NONE: u32 = u32::MAX;

/// Owner value of a page in the large-object pool.
pub(crate) const LARGE_OWNER: u16 = u16::MAX;
/// Owner value of a vacant page number (its block was given back).
pub(crate) const VACANT_OWNER: u16 = u16::MAX - 1;
/// Owner value of the region's nursery page (see `nursery.rs`).
pub(crate) const NURSERY_OWNER: u16 = u16::MAX - 2;

/// One block owned by a region.
#[derive(Debug)]
pub(crate) struct Page {
    /// Start of the block (dangling while vacant); aligned to
    /// `min(1 << log2, MAX_ALIGN)`.
    pub base: NonNull<u8>,
    /// The block holds `1 << log2` bytes.
    pub log2: u8,
    /// `1 << log2`, kept so the allocation path does not shift.
    size: u32,
    /// The slab pool it serves (an index into the region's slab pools),
    /// `LARGE_OWNER`, `NURSERY_OWNER` or `VACANT_OWNER`.
    pub owner: u16,
    /// Compaction is moving its objects out: nothing is allocated in it.
    pub evacuating: bool,
    /// Slab pages: the chunk size (a multiple of 16). Other pages: 0.
    pub chunk: u32,
    /// Slab pages: offset of the first chunk never handed out; chunks at
    /// and after it are free without being on the free list. The nursery:
    /// offset of the first byte never handed out.
    pub bump: u32,
    /// Offset of the first free chunk (slab: a chunk; large: a chunk
    /// header), or `NONE`. The list is threaded through the free chunks.
    pub free: u32,
    /// Live objects stored in the page.
    pub live: u32,
    /// Next page in the owner's list (slab: pages with room; large: all
    /// its pages; vacant: the next vacant number), or `NONE`.
    pub next: u32,
    /// Previous page in the owner's list, or `NONE`.
    pub prev: u32,
}

// SAFETY: a page is a handle to a block its region owns exclusively.
unsafe impl Send for Page {}

impl Page {
    /// A page over a fresh block, in no list.
    pub fn new(base: NonNull<u8>, log2: u8, owner: u16, chunk: u32) -> Self {
        Page {
            base,
            log2,
            size: 1 << log2,
            owner,
            evacuating: false,
            chunk,
            bump: 0,
            free: NONE,
            live: 0,
            next: NONE,
            prev: NONE,
        }
    }

    /// A vacant page: no block, size 0.
    pub fn vacant() -> Self {
        Page {
            size: 0,
            ..Page::new(NonNull::dangling(), 0, VACANT_OWNER, 0)
        }
    }

    /// The block's size in bytes.
    #[inline(always)]
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Whether the page number is vacant.
    pub fn is_vacant(&self) -> bool {
        self.owner == VACANT_OWNER
    }

    /// The address of byte `offset` of the block.
    #[inline(always)]
    pub fn at(&self, offset: u32) -> NonNull<u8> {
        debug_assert!(
            offset < self.size(),
            "offset {offset} outside a page of {} bytes",
            self.size()
        );
        // SAFETY: `offset` lies within the block.
        unsafe { self.base.add(offset as usize) }
    }

    /// The offset of `ptr` in the block, if it lies within it.
    pub fn offset_of(&self, ptr: NonNull<u8>) -> Option<u32> {
        let offset = (ptr.as_ptr() as usize).checked_sub(self.base.as_ptr() as usize)?;
        (offset < self.size() as usize).then_some(offset as u32)
    }

    /// Reads the `u32` at `offset` (16-aligned) of a free chunk.
    #[inline(always)]
    pub fn read_u32(&self, offset: u32) -> u32 {
        debug_assert_eq!(offset % 4, 0);
        // SAFETY: `offset` is 4-aligned within the block, whose bytes at free
        // chunks' link fields were written by `write_u32`.
        unsafe { self.at(offset).cast::<u32>().read() }
    }

    /// Writes the `u32` at `offset` (16-aligned) of a free chunk.
    #[inline]
    pub fn write_u32(&mut self, offset: u32, value: u32) {
        debug_assert_eq!(offset % 4, 0);
        // SAFETY: `offset` is 4-aligned within the block, which this region
        // owns; the chunk is free, so no object's bytes are overwritten.
        unsafe { self.at(offset).cast::<u32>().write(value) }
    }

    /// Poisons bytes `range` of the block, which just became free (feature
    /// `poison`; nothing otherwise).
    #[inline(always)]
    pub fn poison(&mut self, range: Range<u32>) {
        // SAFETY: the block's `size` bytes belong to this region (`fill`
        // checks that the range lies within them); the pools poison only
        // bytes no object uses.
        unsafe { poison::fill(self.base.as_ptr(), self.size() as usize, widen(range)) }
    }

    /// Verifies that free bytes `range`, about to be handed out, are still
    /// poison; panics if not (feature `poison`; nothing otherwise).
    #[inline(always)]
    pub fn verify_reuse(&self, range: Range<u32>) {
        // SAFETY: the block's `size` bytes belong to this region and are
        // initialized (a block is poisoned whole when a page takes it); the
        // pools verify only free bytes, which no reference borrows.
        unsafe { poison::verify_reuse(self.base.as_ptr(), self.size() as usize, widen(range)) }
    }

    /// A `check_invariants` line if free bytes `range` are not all poison.
    #[cfg(feature = "poison")]
    pub fn poison_report(&self, range: Range<u32>) -> Option<alloc::string::String> {
        // SAFETY: as in `verify_reuse`.
        unsafe { poison::report(self.base.as_ptr(), self.size() as usize, widen(range)) }
    }
}

/// A range of page offsets as a range of `usize`.
#[inline(always)]
fn widen(range: Range<u32>) -> Range<usize> {
    range.start as usize..range.end as usize
}

/// The head of a doubly linked list of pages (through `Page::next/prev`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageList {
    /// The first page, or `NONE`.
    pub head: u32,
}

impl Default for PageList {
    fn default() -> Self {
        PageList { head: NONE }
    }
}

impl PageList {
    /// Puts page `index` first.
    pub fn push(&mut self, pages: &mut [Page], index: u32) {
        let old = self.head;
        let page = &mut pages[index as usize];
        page.next = old;
        page.prev = NONE;
        if old != NONE {
            pages[old as usize].prev = index;
        }
        self.head = index;
    }

    /// Takes page `index` (which is in the list) out of it.
    pub fn unlink(&mut self, pages: &mut [Page], index: u32) {
        let (next, prev) = {
            let page = &mut pages[index as usize];
            let links = (page.next, page.prev);
            page.next = NONE;
            page.prev = NONE;
            links
        };
        if prev == NONE {
            debug_assert_eq!(self.head, index, "page {index} is not in the list");
            self.head = next;
        } else {
            pages[prev as usize].next = next;
        }
        if next != NONE {
            pages[next as usize].prev = prev;
        }
    }

    /// The page numbers in the list, in order (at most `pages.len()`, so
    /// a corrupted cyclic list cannot hang a check).
    pub fn iter<'a>(&self, pages: &'a [Page]) -> impl Iterator<Item = u32> + 'a {
        let mut cursor = self.head;
        core::iter::from_fn(move || {
            let current = cursor;
            cursor = pages.get(current as usize)?.next;
            Some(current)
        })
        .take(pages.len())
    }
}
