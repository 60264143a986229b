//! Poisoning of freed memory (feature `poison`): a debugging aid that
//! catches writes through stale raw pointers.
//!
//! Handles never dangle, but a raw pointer taken from `get` or `get_mut`
//! (or a reference turned into one) outlives nothing: once its object is
//! freed, moved or its region dies, writing through it scribbles over
//! memory the registry will hand out again. With the feature, every byte
//! that becomes free is filled with `POISON` (`0xDE`); the bytes are verified when
//! they are handed out again ([`verify_reuse`]: a mismatch panics, because
//! the allocator would otherwise return corrupted memory) and by
//! `check_invariants` for every free byte the registry knows (a mismatch
//! is reported as a violation).
//!
//! Which bytes are free, and which of them the allocator itself uses for
//! its bookkeeping (never poisoned):
//!
//! | memory | poisoned | left out, and why |
//! |---|---|---|
//! | vacant slot record (freed, moved out, retired) | cell bytes 4..16 | cell bytes 0..4: the free-list link or forwarding node |
//! | spare slot records (table capacity, a dead incarnation's records) | all 32 bytes | — |
//! | slab chunk on the free list | bytes 4.. of the chunk | bytes 0..4: the free-list link |
//! | slab page space never carved (or carved again after a reset) | all | — |
//! | free large-pool chunk | bytes 24.. of the chunk | bytes 0..16: the boundary tag; 16..24: the free-list links |
//! | nursery bytes outside live objects (freed objects, padding, unused) | all | — |
//! | block in the registry's block cache | all | — |
//!
//! Not poisoned: dedicated allocations (they go back to the global
//! allocator) and zero-sized objects (no memory).
//!
//! Without the feature `fill` and `verify_reuse` are empty
//! `#[inline(always)]` functions and the checks do not exist, so the
//! allocator's code is what it is without poisoning.

use core::ops::Range;

/// The byte freed memory is filled with.
#[cfg(feature = "poison")]
pub(crate) const POISON: u8 = 0xDE;

/// Pattern to compare freed bytes with a piece at a time (`==` on byte
/// slices is one `memcmp`).
#[cfg(feature = "poison")]
static PATTERN: [u8; 256] = [POISON; 256];

/// The length of `range`, checked to lie within a block of `size` bytes:
/// a wrong range would write outside the block.
#[cfg(feature = "poison")]
fn span(size: usize, range: &Range<usize>) -> usize {
    assert!(
        range.start <= range.end && range.end <= size,
        "poisoned range {range:?} outside a block of {size} bytes"
    );
    range.end - range.start
}

/// Fills bytes `range` of the `size`-byte block at `block` with `POISON`
/// (feature `poison`; nothing otherwise).
///
/// # Safety
/// `block` must be valid for writes of `size` bytes, and no live object
/// may use the bytes in `range`.
#[inline(always)]
pub(crate) unsafe fn fill(block: *mut u8, size: usize, range: Range<usize>) {
    #[cfg(feature = "poison")]
    {
        let len = span(size, &range);
        // SAFETY: `range` lies within the block (checked by `span`), which
        // the caller guarantees is writable and unused there.
        unsafe { block.add(range.start).write_bytes(POISON, len) }
    }
    #[cfg(not(feature = "poison"))]
    let _ = (block, size, range);
}

/// The offset (from `block`) of the first byte in `range` that is not
/// `POISON`, if any.
///
/// # Safety
/// `block` must be valid for reads of `size` bytes, and the bytes in
/// `range` must have been poisoned by [`fill`] (so they are initialized)
/// and not be borrowed mutably.
#[cfg(feature = "poison")]
pub(crate) unsafe fn find_written(
    block: *const u8,
    size: usize,
    range: Range<usize>,
) -> Option<usize> {
    let len = span(size, &range);
    // SAFETY: `range` lies within the block (checked by `span`); the caller
    // guarantees the bytes are readable, initialized and not borrowed
    // mutably.
    let bytes = unsafe { core::slice::from_raw_parts(block.add(range.start), len) };
    let mut offset = range.start;
    for piece in bytes.chunks(PATTERN.len()) {
        if piece != &PATTERN[..piece.len()] {
            let at = piece.iter().position(|&byte| byte != POISON);
            return at.map(|at| offset + at);
        }
        offset += piece.len();
    }
    None
}

/// Checks freed bytes `range` of a block before they are handed out
/// again: panics if one of them was written since it was freed (feature
/// `poison`; nothing otherwise). Handing that memory out would give a new
/// object bytes that a stale pointer still writes to, so it panics rather
/// than return.
///
/// # Safety
/// As for `find_written`: `block` valid for reads of `size` bytes, the bytes
/// in `range` poisoned earlier by [`fill`] and not borrowed mutably.
#[inline(always)]
pub(crate) unsafe fn verify_reuse(block: *const u8, size: usize, range: Range<usize>) {
    #[cfg(feature = "poison")]
    // SAFETY: guaranteed by the caller.
    if let Some(offset) = unsafe { find_written(block, size, range) } {
        written_after_free(block.wrapping_add(offset));
    }
    #[cfg(not(feature = "poison"))]
    let _ = (block, size, range);
}

#[cfg(feature = "poison")]
#[cold]
#[inline(never)]
fn written_after_free(address: *const u8) -> ! {
    panic!("regions: freed memory at {address:p} was written after free (poison feature)")
}

/// A `check_invariants` line for freed bytes `range` of a block if one of
/// them was written since it was freed: its address and offset.
///
/// # Safety
/// As for [`find_written`].
#[cfg(feature = "poison")]
pub(crate) unsafe fn report(
    block: *const u8,
    size: usize,
    range: Range<usize>,
) -> Option<alloc::string::String> {
    // SAFETY: guaranteed by the caller.
    let offset = unsafe { find_written(block, size, range) }?;
    Some(alloc::format!(
        "freed memory at {:p} (offset {offset}) was written after free (poison feature)",
        block.wrapping_add(offset)
    ))
}

#[cfg(all(test, feature = "poison"))]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_written_byte_of_a_range() {
        let mut block = [0u8; 600];
        let base = block.as_mut_ptr();
        // SAFETY: `block` is 600 writable bytes owned here.
        unsafe {
            fill(base, 600, 10..590);
            assert_eq!(find_written(base, 600, 10..590), None);
            *base.add(400) = 1;
            *base.add(500) = 2;
            assert_eq!(find_written(base, 600, 10..590), Some(400));
            assert_eq!(find_written(base, 600, 401..590), Some(500));
            assert_eq!(find_written(base, 600, 501..590), None);
            assert_eq!(find_written(base, 600, 7..7), None);
        }
        assert_eq!(block[9], 0, "bytes outside the range stay");
    }

    #[test]
    #[should_panic(expected = "outside a block")]
    fn a_range_outside_the_block_is_refused() {
        let mut block = [0u8; 16];
        // SAFETY: the range is checked before anything is written.
        unsafe { fill(block.as_mut_ptr(), 16, 8..17) };
    }
}
