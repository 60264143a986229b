//! Arena blocks and their free chunks.
//!
//! An [`ArenaBlock`] is one allocation of `capacity` bytes aligned to
//! [`MAX_ALIGN`], handed out by bumping `bump`. Freed chunks go to
//! [`FreeChunks`], segregated by size class; every chunk records the index of
//! the arena it belongs to, so the arena is never guessed from an address.

use alloc::alloc::{alloc, dealloc, Layout};
use alloc::vec::Vec;
use core::ptr::NonNull;

use crate::error::{Error, Result};
use crate::MAX_ALIGN;

/// One bump-allocated block of memory owned by a pool.
#[derive(Debug)]
pub(crate) struct ArenaBlock {
    /// Start of the allocation; aligned to `MAX_ALIGN`.
    base: NonNull<u8>,
    /// Size of the allocation in bytes; `0 < capacity <= u32::MAX`.
    capacity: u32,
    /// Bytes `[0, bump)` have been handed out (and may since be free chunks);
    /// `[bump, capacity)` were never used. `bump <= capacity`.
    bump: u32,
}

// SAFETY: an `ArenaBlock` exclusively owns its allocation, like a `Box<[u8]>`.
unsafe impl Send for ArenaBlock {}

impl ArenaBlock {
    /// Allocates a block of `capacity` bytes (`capacity > 0`).
    pub fn new(capacity: u32) -> Result<Self> {
        debug_assert!(capacity > 0);
        let layout = Self::layout(capacity);
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc(layout) };
        let base = NonNull::new(raw).ok_or(Error::OutOfMemory {
            requested: capacity as usize,
        })?;
        Ok(ArenaBlock {
            base,
            capacity,
            bump: 0,
        })
    }

    fn layout(capacity: u32) -> Layout {
        // `MAX_ALIGN` is a power of two and `capacity` fits any isize.
        Layout::from_size_align(capacity as usize, MAX_ALIGN).expect("arena layout")
    }

    /// Start of the block.
    #[cfg(test)]
    pub fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// End of the bump-allocated prefix.
    pub fn bump(&self) -> u32 {
        self.bump
    }

    /// Bump-allocates `size` bytes at `align`, returning the offset, or `None`
    /// when the rest of the block is too small.
    pub fn bump_allocate(&mut self, size: u32, align: u32) -> Option<u32> {
        let offset = align_up(self.bump, align)?;
        let end = offset.checked_add(size)?;
        if end > self.capacity {
            return None;
        }
        self.bump = end;
        Some(offset)
    }

    /// Gives up the never-used tail of the block, returning it as `(offset, len)`.
    pub fn take_tail(&mut self) -> (u32, u32) {
        let tail = (self.bump, self.capacity - self.bump);
        self.bump = self.capacity;
        tail
    }

    /// The address of byte `offset` of the block.
    pub fn at(&self, offset: u32) -> NonNull<u8> {
        debug_assert!(
            offset <= self.capacity,
            "offset {offset} past arena end {}",
            self.capacity
        );
        // SAFETY: `offset <= capacity`, so the result is within the allocation or one past it.
        unsafe { self.base.add(offset as usize) }
    }

    /// The offset of `ptr` in this block, if `ptr` lies within it.
    pub fn offset_of(&self, ptr: NonNull<u8>) -> Option<u32> {
        let offset = (ptr.as_ptr() as usize).checked_sub(self.base.as_ptr() as usize)?;
        (offset <= self.capacity as usize).then_some(offset as u32)
    }
}

impl Drop for ArenaBlock {
    fn drop(&mut self) {
        // SAFETY: `base` was returned by `alloc` with exactly this layout and
        // is freed only here, once.
        unsafe { dealloc(self.base.as_ptr(), Self::layout(self.capacity)) }
    }
}

/// Rounds `value` up to a multiple of `align` (a power of two), or `None` on overflow.
pub(crate) fn align_up(value: u32, align: u32) -> Option<u32> {
    debug_assert!(align.is_power_of_two());
    Some(value.checked_add(align - 1)? & !(align - 1))
}

/// A free chunk of some arena: bytes `[offset, offset + len)` of `arenas[arena]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Index of the arena in its pool; stable for the pool's lifetime.
    pub arena: u32,
    /// Offset of the first byte.
    pub offset: u32,
    /// Length in bytes; never 0.
    pub len: u32,
}

/// Number of size classes: class `c` holds chunks with `2^c <= len < 2^(c+1)`.
const CLASSES: usize = 32;

/// Free chunks segregated by size class.
#[derive(Debug, Default)]
pub(crate) struct FreeChunks {
    /// `classes[c]` holds the chunks of class `c`; empty until the first
    /// chunk is pushed, then `CLASSES` long.
    classes: Vec<Vec<Chunk>>,
    /// Bit `c` is set iff `classes[c]` is non-empty.
    occupied: u32,
}

fn class_of(len: u32) -> usize {
    debug_assert!(len > 0);
    (31 - len.leading_zeros()) as usize
}

impl FreeChunks {
    /// Adds a chunk (ignored when empty). Freeing never fails: if the list
    /// cannot grow, the chunk is left unused until its arena is released.
    pub fn push(&mut self, chunk: Chunk) {
        if chunk.len == 0 {
            return;
        }
        if self.classes.is_empty() {
            if self.classes.try_reserve_exact(CLASSES).is_err() {
                return;
            }
            self.classes.resize_with(CLASSES, Vec::new);
        }
        let class = class_of(chunk.len);
        let list = &mut self.classes[class];
        if list.try_reserve(1).is_ok() {
            list.push(chunk);
            self.occupied |= 1 << class;
        }
    }

    /// Takes `size` bytes at `align` from a free chunk, splitting off what is
    /// left on either side. Looks only at the newest chunk of each class that
    /// can hold `size`, so the cost is bounded by the number of classes.
    pub fn take(&mut self, size: u32, align: u32) -> Option<(u32, u32)> {
        debug_assert!(size > 0);
        // Chunks in classes above `size`'s always hold `size` bytes; those in
        // its own class may, so its newest chunk is tried too.
        let mut candidates = self.occupied & (u32::MAX << class_of(size));
        while candidates != 0 {
            let class = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            let chunk = *self.classes[class].last()?;
            let Some(start) = align_up(chunk.offset, align) else {
                continue;
            };
            let end = chunk.offset + chunk.len;
            match start.checked_add(size) {
                Some(stop) if stop <= end => {}
                _ => continue,
            }
            self.classes[class].pop();
            if self.classes[class].is_empty() {
                self.occupied &= !(1 << class);
            }
            self.push(Chunk {
                arena: chunk.arena,
                offset: chunk.offset,
                len: start - chunk.offset,
            });
            self.push(Chunk {
                arena: chunk.arena,
                offset: start + size,
                len: end - (start + size),
            });
            return Some((chunk.arena, start));
        }
        None
    }

    /// Every free chunk.
    pub fn iter(&self) -> impl Iterator<Item = &Chunk> {
        self.classes.iter().flatten()
    }

    /// Checks that every chunk is filed under its class and `occupied` is exact.
    pub fn check(&self) -> Result<(), alloc::string::String> {
        for (class, chunks) in self.classes.iter().enumerate() {
            if (self.occupied >> class) & 1 != u32::from(!chunks.is_empty()) {
                return Err(alloc::format!(
                    "occupied bit {class} disagrees with its list"
                ));
            }
            if let Some(chunk) = chunks
                .iter()
                .find(|c| c.len == 0 || class_of(c.len) != class)
            {
                return Err(alloc::format!("chunk {chunk:?} filed under class {class}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_allocation_honours_every_alignment() {
        let mut block = ArenaBlock::new(64 * 1024).unwrap();
        assert_eq!(block.base().as_ptr() as usize % MAX_ALIGN, 0);
        let mut align = 1;
        while align <= MAX_ALIGN as u32 {
            block.bump_allocate(1, 1).unwrap(); // misalign the bump pointer
            let offset = block.bump_allocate(3, align).unwrap();
            assert_eq!(
                block.at(offset).as_ptr() as usize % align as usize,
                0,
                "align {align}"
            );
            align *= 2;
        }
    }

    #[test]
    fn bump_allocation_refuses_what_does_not_fit() {
        let mut block = ArenaBlock::new(100).unwrap();
        assert_eq!(block.bump_allocate(60, 1), Some(0));
        assert_eq!(block.bump_allocate(60, 1), None);
        assert_eq!(block.bump_allocate(40, 1), Some(60));
        assert_eq!(block.bump_allocate(1, 1), None);
        assert_eq!(block.bump_allocate(u32::MAX, 1), None);
    }

    #[test]
    fn free_chunks_are_reused_with_their_arena_index() {
        let mut free = FreeChunks::default();
        free.push(Chunk {
            arena: 3,
            offset: 64,
            len: 48,
        });
        free.push(Chunk {
            arena: 1,
            offset: 0,
            len: 16,
        });
        assert_eq!(free.take(48, 16), Some((3, 64)));
        assert_eq!(free.take(16, 16), Some((1, 0)));
        assert_eq!(free.take(1, 1), None);
        free.check().unwrap();
    }

    #[test]
    fn take_splits_off_alignment_padding_and_tail() {
        let mut free = FreeChunks::default();
        free.push(Chunk {
            arena: 0,
            offset: 8,
            len: 100,
        });
        assert_eq!(free.take(16, 32), Some((0, 32)));
        let mut rest: Vec<Chunk> = free.iter().copied().collect();
        rest.sort_by_key(|c| c.offset);
        assert_eq!(
            rest,
            [
                Chunk {
                    arena: 0,
                    offset: 8,
                    len: 24
                },
                Chunk {
                    arena: 0,
                    offset: 48,
                    len: 60
                }
            ]
        );
        free.check().unwrap();
    }

    #[test]
    fn take_skips_a_chunk_that_alignment_makes_too_small() {
        let mut free = FreeChunks::default();
        free.push(Chunk {
            arena: 0,
            offset: 1,
            len: 20,
        });
        assert_eq!(
            free.take(16, 16),
            None,
            "16 aligned bytes do not fit in [1, 21)"
        );
        free.push(Chunk {
            arena: 1,
            offset: 0,
            len: 31,
        });
        assert_eq!(free.take(16, 16), Some((1, 0)));
    }
}
