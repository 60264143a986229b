//! The large-object pool: variable-size chunks with boundary tags, so that
//! freed neighbours coalesce.
//!
//! Objects above the largest size class (and below the dedicated-allocation
//! threshold) live in *large pages*. A large page is a sequence of chunks
//! that covers it exactly; each chunk starts with a 16-byte header:
//!
//! | offset | field |
//! |---|---|
//! | 0 | `size`: bytes of the chunk, header included; a multiple of 16 |
//! | 4 | `prev_size`: `size` of the chunk just before, 0 for the first |
//! | 8 | `state`: `FREE` or `USED` |
//! | 16 | free chunks only: next and previous free chunk (offsets), the page's free list |
//!
//! An object's bytes start 16 bytes after its chunk's start, aligned as the
//! object needs (the alignment gap before a chunk is split off as a free
//! chunk of its own). Freeing marks the chunk free and merges it with a free
//! neighbour on either side — found in O(1) through `size` and `prev_size` —
//! so no two free chunks are ever adjacent and a large object fits again
//! once the objects around its old place are gone. Allocation is first fit
//! over the page's free list.

use core::ptr::NonNull;

use super::page::{Page, PageList, LARGE_OWNER, NONE};
use super::pools::Pools;
use crate::arith::align_up;
use crate::block::BlockCache;
use crate::config::Config;
use crate::error::Result;

/// Bytes of a chunk header.
pub(crate) const HEADER: u32 = 16;
/// The smallest chunk: a header plus room for the free-list links.
const MIN_CHUNK: u32 = 32;
/// Bytes at the start of a free chunk that the pool uses: the header and
/// the free-list links. With the `poison` feature the rest is poisoned.
const FREE_META: u32 = HEADER + 8;
const FREE: u32 = 0xF4EE;
const USED: u32 = 0x05ED;

/// The large-object pool of a region.
#[derive(Debug, Default)]
pub(crate) struct LargePool {
    /// Every large page, in no particular order.
    pub pages: PageList,
    /// Number of large pages.
    pub count: u32,
    /// log2 of the size of the next page to take (0 before the first).
    pub next_log2: u8,
}

/// The smallest large page: holds a few large objects.
const FIRST_LARGE_LOG2: u8 = 12;

/// Bytes a large page must have to hold an object of `size` at `align`
/// whatever the alignment gap.
pub(crate) fn large_footprint(size: usize, align: usize) -> usize {
    size.next_multiple_of(16) + align.max(16) + MIN_CHUNK as usize
}

struct Header {
    size: u32,
    prev_size: u32,
    state: u32,
}

fn header(page: &Page, chunk: u32) -> Header {
    Header {
        size: page.read_u32(chunk),
        prev_size: page.read_u32(chunk + 4),
        state: page.read_u32(chunk + 8),
    }
}

fn set_header(page: &mut Page, chunk: u32, size: u32, prev_size: u32, state: u32) {
    page.write_u32(chunk, size);
    page.write_u32(chunk + 4, prev_size);
    page.write_u32(chunk + 8, state);
}

/// Sets the `prev_size` of the chunk after the one at `chunk` (of `size`), if any.
fn set_next_prev_size(page: &mut Page, chunk: u32, size: u32) {
    let next = chunk + size;
    if next < page.size() {
        page.write_u32(next + 4, size);
    }
}

fn link_free(page: &mut Page, chunk: u32) {
    let head = page.free;
    page.write_u32(chunk + HEADER, head);
    page.write_u32(chunk + HEADER + 4, NONE);
    if head != NONE {
        page.write_u32(head + HEADER + 4, chunk);
    }
    page.free = chunk;
}

fn unlink_free(page: &mut Page, chunk: u32) {
    let next = page.read_u32(chunk + HEADER);
    let prev = page.read_u32(chunk + HEADER + 4);
    if prev == NONE {
        page.free = next;
    } else {
        page.write_u32(prev + HEADER, next);
    }
    if next != NONE {
        page.write_u32(next + HEADER + 4, prev);
    }
}

/// Makes a fresh large page one free chunk.
fn format(page: &mut Page) {
    let size = page.size();
    set_header(page, 0, size, 0, FREE);
    page.free = NONE;
    link_free(page, 0);
}

/// Marks `[chunk, chunk + size)` free and files it (no merging).
fn add_free(page: &mut Page, chunk: u32, size: u32, prev_size: u32) {
    set_header(page, chunk, size, prev_size, FREE);
    set_next_prev_size(page, chunk, size);
    link_free(page, chunk);
}

/// First fit: carves `size` bytes aligned to `align` out of a free chunk;
/// returns the offset of the object's first byte.
fn take(page: &mut Page, size: u32, align: u32) -> Option<u32> {
    let align = align.max(16);
    let body = size.next_multiple_of(16).max(MIN_CHUNK - HEADER);
    let mut cursor = page.free;
    while cursor != NONE {
        let found = header(page, cursor);
        let end = cursor + found.size;
        let mut data = align_up(cursor + HEADER, align)?;
        // The gap before the chunk must be empty or a valid free chunk.
        while data - HEADER - cursor != 0 && data - HEADER - cursor < MIN_CHUNK {
            data += align;
        }
        if data + body > end {
            cursor = page.read_u32(cursor + HEADER);
            continue;
        }
        let start = data - HEADER;
        let mut stop = data + body;
        if end - stop < MIN_CHUNK {
            stop = end;
        }
        // The bytes that stop being free: the new used chunk and the header
        // and links of the free chunk after it, but the metadata the found
        // chunk already had. Verified before anything changes, so a panic
        // leaves the page as it was.
        let tail_meta = if stop < end { FREE_META } else { 0 };
        page.verify_reuse(start.max(cursor + FREE_META)..stop + tail_meta);
        unlink_free(page, cursor);
        let mut prev_size = found.prev_size;
        if start > cursor {
            add_free(page, cursor, start - cursor, prev_size);
            prev_size = start - cursor;
        }
        set_header(page, start, stop - start, prev_size, USED);
        set_next_prev_size(page, start, stop - start);
        if stop < end {
            add_free(page, stop, end - stop, stop - start);
        }
        return Some(data);
    }
    None
}

/// Frees the object whose first byte is at `data`, merging its chunk with
/// free neighbours.
pub(super) fn give(page: &mut Page, data: u32) {
    let mut chunk = data - HEADER;
    let own = header(page, chunk);
    debug_assert_eq!(own.state, USED, "large chunk at {chunk} is not in use");
    // The whole chunk: its header becomes free bytes too if it merges with
    // the chunk before, and is written again by `add_free` if not.
    page.poison(chunk..chunk + own.size);
    let mut size = own.size;
    let mut prev_size = own.prev_size;
    let next = chunk + size;
    if next < page.size() {
        let after = header(page, next);
        if after.state == FREE {
            unlink_free(page, next);
            // Its header and links are inside the merged chunk now.
            page.poison(next..next + FREE_META);
            size += after.size;
        }
    }
    if prev_size != 0 {
        let before = chunk - prev_size;
        let previous = header(page, before);
        if previous.state == FREE {
            unlink_free(page, before);
            chunk = before;
            size += previous.size;
            prev_size = previous.prev_size;
        }
    }
    add_free(page, chunk, size, prev_size);
}

impl Pools {
    /// Storage for a large object: `(address, page number)`.
    pub(super) fn large_alloc(
        &mut self,
        size: u32,
        align: u32,
        config: &Config,
        cache: &mut BlockCache,
    ) -> Result<(NonNull<u8>, u32)> {
        if let Some(found) = self.large_alloc_existing(size, align) {
            return Ok(found);
        }
        let needed = large_footprint(size as usize, align as usize)
            .next_power_of_two()
            .trailing_zeros() as u8;
        let log2 = self
            .large
            .next_log2
            .max(FIRST_LARGE_LOG2)
            .max(needed)
            .min(config.max_block_log2);
        let index = self.take_page(log2, LARGE_OWNER, 0, cache)?;
        let page = &mut self.pages[index as usize];
        format(page);
        let data = take(page, size, align).expect("a fresh large page fits the object");
        page.live += 1;
        let data = page.at(data);
        self.large.pages.push(&mut self.pages, index);
        self.large.count += 1;
        self.large.next_log2 = (log2 + 1).min(config.max_block_log2);
        Ok((data, index))
    }

    /// Storage for a large object in a page the region already has (first
    /// fit; evacuating pages are skipped).
    pub(super) fn large_alloc_existing(
        &mut self,
        size: u32,
        align: u32,
    ) -> Option<(NonNull<u8>, u32)> {
        let mut index = self.large.pages.head;
        while index != NONE {
            let page = &mut self.pages[index as usize];
            if !page.evacuating {
                if let Some(data) = take(page, size, align) {
                    page.live += 1;
                    return Some((page.at(data), index));
                }
            }
            index = page.next;
        }
        None
    }

    /// Frees the large object at `data` in page `index`; gives the page back
    /// when it empties, unless it is the region's last large page.
    pub(super) fn large_free(&mut self, index: u32, data: NonNull<u8>, cache: &mut BlockCache) {
        let page = &mut self.pages[index as usize];
        let offset = page.offset_of(data).expect("the object lies in its page");
        give(page, offset);
        page.live -= 1;
        if page.live == 0 && self.large.count > 1 {
            self.large.pages.unlink(&mut self.pages, index);
            self.large.count -= 1;
            self.give_page(index, cache);
        }
    }

    /// Checks a large page: the chunks tile it, `prev_size` links agree, no
    /// two free chunks touch, the free list holds exactly the free chunks,
    /// and the live count matches the used chunks.
    pub(super) fn check_large_page(
        &self,
        index: u32,
        objects: &[(u32, u32, u32)],
        problems: &mut alloc::vec::Vec<alloc::string::String>,
    ) {
        let page = &self.pages[index as usize];
        let mut report = |what: alloc::string::String| {
            problems.push(alloc::format!("large page {index}: {what}"));
        };
        let (mut cursor, mut prev_size, mut prev_free) = (0u32, 0u32, false);
        let (mut used, mut free) = (0u32, 0u32);
        // (start, size, holds an object) of each used chunk, in address
        // order: one allocation, where a map took one per node.
        let mut used_chunks = alloc::vec::Vec::new();
        while cursor < page.size() {
            let chunk = header(page, cursor);
            if chunk.size < MIN_CHUNK || chunk.size % 16 != 0 || chunk.size > page.size() - cursor {
                return report(alloc::format!("chunk at {cursor} has size {}", chunk.size));
            }
            if chunk.prev_size != prev_size {
                report(alloc::format!(
                    "chunk at {cursor} says prev_size {} but the previous chunk has {prev_size}",
                    chunk.prev_size
                ));
            }
            #[cfg(feature = "poison")]
            if chunk.state == FREE {
                let body = cursor + FREE_META..cursor + chunk.size;
                if let Some(problem) = page.poison_report(body) {
                    report(alloc::format!("free chunk at {cursor}: {problem}"));
                }
            }
            match chunk.state {
                FREE if prev_free => report(alloc::format!("free chunks touch at {cursor}")),
                FREE => free += 1,
                USED => {
                    used += 1;
                    used_chunks.push((cursor, chunk.size, false));
                }
                other => report(alloc::format!("chunk at {cursor} has state {other:#x}")),
            }
            prev_free = chunk.state == FREE;
            prev_size = chunk.size;
            cursor += chunk.size;
        }
        let mut listed = 0;
        let mut link = page.free;
        let mut back = NONE;
        while link != NONE && listed <= free {
            if header(page, link).state != FREE || page.read_u32(link + HEADER + 4) != back {
                report(alloc::format!(
                    "free list entry {link} is not a free chunk or is mislinked"
                ));
                break;
            }
            listed += 1;
            back = link;
            link = page.read_u32(link + HEADER);
        }
        if listed != free {
            report(alloc::format!("{free} free chunks but {listed} listed"));
        }
        for &(_, offset, size) in objects {
            let start = offset.wrapping_sub(HEADER);
            let chunk = used_chunks
                .binary_search_by_key(&start, |&(at, ..)| at)
                .ok()
                .map(|found| &mut used_chunks[found]);
            let fits = chunk.is_some_and(|(_, chunk, held)| {
                let fits = !*held
                    && u64::from(offset) + u64::from(size) <= u64::from(start) + u64::from(*chunk);
                *held |= fits;
                fits
            });
            if !fits {
                report(alloc::format!(
                    "object at {offset} is not alone in a used chunk"
                ));
            }
        }
        if used != page.live {
            report(alloc::format!(
                "{used} used chunks but live count {}",
                page.live
            ));
        }
    }
}
