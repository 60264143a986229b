//! Blocks: the memory arena pages are carved from, and the registry-wide
//! cache that recycles them across regions.
//!
//! Every block is a power of two in size, from
//! [`FIRST_BLOCK_SIZE`](crate::FIRST_BLOCK_SIZE) up, aligned to its size or
//! to [`MAX_ALIGN`] whichever is smaller. A region takes blocks from the
//! [`BlockCache`] and gives them back when they empty or when it dies; the
//! cache keeps them, binned by size, up to a byte limit (the high-water
//! mark), and returns the rest to the global allocator. So a program that
//! creates and kills regions in a loop stops calling the global allocator
//! once the cache holds what one iteration needs.

use alloc::alloc::Layout;
use alloc::vec::Vec;
use core::ptr::NonNull;

use crate::config::{FIRST_BLOCK_LOG2, MAX_BLOCK_LOG2};
use crate::error::Result;
use crate::fallible::{self, system_alloc, system_free};
use crate::poison;
use crate::MAX_ALIGN;

/// Number of block sizes: `FIRST_BLOCK_LOG2..=MAX_BLOCK_LOG2`.
const BINS: usize = (MAX_BLOCK_LOG2 - FIRST_BLOCK_LOG2 + 1) as usize;

/// The layout of a block of `1 << log2` bytes.
pub(crate) fn block_layout(log2: u8) -> Layout {
    let size = 1usize << log2;
    // A power of two up to 2^30 with a power-of-two alignment is always valid.
    Layout::from_size_align(size, size.min(MAX_ALIGN)).expect("block layout")
}

/// Free blocks kept for reuse, binned by size.
#[derive(Debug)]
pub(crate) struct BlockCache {
    /// `bins[k]` holds free blocks of `1 << (FIRST_BLOCK_LOG2 + k)` bytes.
    bins: [Vec<NonNull<u8>>; BINS],
    /// Bytes held in `bins`; at most `limit`.
    cached: usize,
    /// The high-water mark.
    limit: usize,
    /// Blocks ever obtained from the global allocator.
    system_allocs: u64,
    /// Blocks handed out from the cache.
    reuses: u64,
}

// SAFETY: the cache exclusively owns the blocks it holds, like a `Vec<Box<[u8]>>`.
unsafe impl Send for BlockCache {}

impl BlockCache {
    /// An empty cache that keeps at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        BlockCache {
            bins: core::array::from_fn(|_| Vec::new()),
            cached: 0,
            limit,
            system_allocs: 0,
            reuses: 0,
        }
    }

    fn bin(log2: u8) -> usize {
        debug_assert!((FIRST_BLOCK_LOG2..=MAX_BLOCK_LOG2).contains(&log2));
        usize::from(log2 - FIRST_BLOCK_LOG2)
    }

    /// A block of `1 << log2` bytes: a cached one if there is one, else a
    /// fresh one from the global allocator. With the `poison` feature the
    /// block is all poison: a cached one is verified (before the cache
    /// changes, so a panic leaves it consistent), a fresh one filled.
    #[inline]
    pub fn take(&mut self, log2: u8) -> Result<NonNull<u8>> {
        let size = 1usize << log2;
        #[cfg(feature = "poison")]
        if let Some(block) = self.bins[Self::bin(log2)].last() {
            // SAFETY: a cached block is `size` bytes owned by the cache
            // alone, poisoned whole by `give`.
            unsafe { poison::verify_reuse(block.as_ptr(), size, 0..size) };
        }
        if let Some(block) = self.bins[Self::bin(log2)].pop() {
            self.cached -= size;
            self.reuses += 1;
            return Ok(block);
        }
        let block = system_alloc(block_layout(log2))?;
        // SAFETY: the block is `size` fresh bytes; poisoning them makes
        // every byte of every page initialized, as the checks read them.
        unsafe { poison::fill(block.as_ptr(), size, 0..size) };
        self.system_allocs += 1;
        Ok(block)
    }

    /// Gives back a block of `1 << log2` bytes from [`take`](Self::take):
    /// cached below the high-water mark, else returned to the global allocator.
    ///
    /// # Safety
    /// `block` must come from `take(log2)` of a cache of the same registry,
    /// with nothing pointing into it any more.
    #[inline]
    pub unsafe fn give(&mut self, block: NonNull<u8>, log2: u8) {
        let size = 1usize << log2;
        let bin = &mut self.bins[Self::bin(log2)];
        if self.cached + size <= self.limit && fallible::reserve(bin, 1).is_ok() {
            // SAFETY: the caller gives the block up: its `size` bytes hold
            // no object any more. (Bytes freed earlier are poisoned again,
            // so a stray write into them before now goes unnoticed.)
            unsafe { poison::fill(block.as_ptr(), size, 0..size) };
            bin.push(block);
            self.cached += size;
        } else {
            // SAFETY: the block came from `system_alloc(block_layout(log2))`.
            unsafe { system_free(block, block_layout(log2)) }
        }
    }

    /// Bytes currently cached.
    pub fn cached_bytes(&self) -> usize {
        self.cached
    }

    /// The high-water mark.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Blocks obtained from the global allocator so far.
    pub fn system_allocs(&self) -> u64 {
        self.system_allocs
    }

    /// Blocks handed out again from the cache so far.
    pub fn reuses(&self) -> u64 {
        self.reuses
    }

    /// Checks that the byte count matches the bins and stays under the limit.
    pub fn check(&self, problems: &mut Vec<alloc::string::String>) {
        let held: usize = self
            .bins
            .iter()
            .enumerate()
            .map(|(bin, blocks)| blocks.len() << (bin + usize::from(FIRST_BLOCK_LOG2)))
            .sum();
        if held != self.cached || held > self.limit {
            problems.push(alloc::format!(
                "block cache holds {held} bytes, counts {}, limit {}",
                self.cached,
                self.limit
            ));
        }
        for (bin, blocks) in self.bins.iter().enumerate() {
            let align = (1usize << (bin + usize::from(FIRST_BLOCK_LOG2))).min(MAX_ALIGN);
            if let Some(block) = blocks.iter().find(|b| b.as_ptr() as usize % align != 0) {
                problems.push(alloc::format!(
                    "cached block {block:?} is not aligned to {align}"
                ));
            }
            #[cfg(feature = "poison")]
            for block in blocks {
                let size = 1usize << (bin + usize::from(FIRST_BLOCK_LOG2));
                // SAFETY: a cached block is `size` bytes owned by the cache
                // alone, poisoned whole by `give`.
                if let Some(problem) = unsafe { poison::report(block.as_ptr(), size, 0..size) } {
                    problems.push(alloc::format!(
                        "cached block {block:?} of {size} bytes: {problem}"
                    ));
                }
            }
        }
    }
}

impl Drop for BlockCache {
    fn drop(&mut self) {
        for (bin, blocks) in self.bins.iter_mut().enumerate() {
            let layout = block_layout(bin as u8 + FIRST_BLOCK_LOG2);
            for block in blocks.drain(..) {
                // SAFETY: every cached block came from `system_alloc(layout)`
                // and is owned by the cache alone.
                unsafe { system_free(block, layout) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_and_recycled_until_the_limit() {
        let mut cache = BlockCache::new(1024);
        let a = cache.take(8).unwrap();
        let b = cache.take(10).unwrap();
        assert_eq!(a.as_ptr() as usize % 256, 0);
        assert_eq!(b.as_ptr() as usize % 1024, 0);
        assert_eq!(cache.system_allocs(), 2);
        // SAFETY: both blocks came from this cache and are unused.
        unsafe {
            cache.give(a, 8);
            cache.give(b, 10); // 256 + 1024 > 1024: returned to the system
        }
        assert_eq!(cache.cached_bytes(), 256);
        assert_eq!(cache.take(8).unwrap(), a, "the cached block is reused");
        assert_eq!(cache.reuses(), 1);
        let mut problems = Vec::new();
        cache.check(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        // SAFETY: `a` came from this cache.
        unsafe { cache.give(a, 8) };
    }

    #[test]
    fn a_zero_limit_caches_nothing() {
        let mut cache = BlockCache::new(0);
        let a = cache.take(12).unwrap();
        // SAFETY: `a` came from this cache.
        unsafe { cache.give(a, 12) };
        assert_eq!(cache.cached_bytes(), 0);
    }
}
