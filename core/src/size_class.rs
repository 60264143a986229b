//! Size classes of small heap objects.
//!
//! A heap object of at most [`SLAB_MAX`] bytes is stored in a chunk of its
//! *class*: the smallest class size that holds it and is a multiple of its
//! alignment. Classes step by 16 up to 128 bytes, then by a quarter of each
//! power of two, so rounding wastes at most 25 % (12.5 % on average) and a
//! freed chunk serves any later object of the same class exactly.

/// The chunk size of each class, ascending.
pub(crate) const CLASS_SIZES: [u32; CLASSES] = [
    32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
];
/// Number of classes.
pub(crate) const CLASSES: usize = 19;
/// The largest object a class holds.
pub(crate) const SLAB_MAX: usize = 1024;

/// `FIRST_CLASS[(size + 15) / 16]` is the smallest class holding `size` bytes.
const FIRST_CLASS: [u8; SLAB_MAX / 16 + 1] = {
    let mut table = [0u8; SLAB_MAX / 16 + 1];
    let mut units = 0;
    while units < table.len() {
        let mut class = 0;
        while (CLASS_SIZES[class] as usize) < units * 16 {
            class += 1;
        }
        table[units] = class as u8;
        units += 1;
    }
    table
};

/// The class of an object of at most `SLAB_MAX` bytes aligned to at most 16.
#[inline(always)]
pub(crate) fn class_of_small(size: usize) -> usize {
    usize::from(FIRST_CLASS[size.div_ceil(16)])
}

/// The class of an object of `size` bytes aligned to `align` (a power of
/// two), or `None` when no class holds it.
#[inline]
pub(crate) fn class_of(size: usize, align: usize) -> Option<usize> {
    if size > SLAB_MAX || align > SLAB_MAX {
        return None;
    }
    let mut class = usize::from(FIRST_CLASS[size.div_ceil(16)]);
    // Classes are multiples of 16; a larger alignment skips to a multiple of it.
    while CLASS_SIZES[class] as usize % align != 0 {
        class += 1;
    }
    Some(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_and_alignment_gets_the_tightest_fitting_class() {
        // Every size natively; a sample under Miri, which is ~1000x slower.
        let step = if cfg!(miri) { 61 } else { 1 };
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] {
            for size in (0..=SLAB_MAX).step_by(step) {
                let class = class_of(size, align).unwrap();
                let chunk = CLASS_SIZES[class] as usize;
                assert!(chunk >= size && chunk % align == 0, "{size} {align}");
                assert!(
                    CLASS_SIZES[..class]
                        .iter()
                        .all(|&c| (c as usize) < size || c as usize % align != 0),
                    "a smaller class fits {size} at {align}"
                );
            }
        }
        assert_eq!(class_of(SLAB_MAX + 1, 8), None);
        assert_eq!(class_of(8, 2048), None);
    }

    #[test]
    fn rounding_wastes_at_most_a_quarter_above_128_bytes() {
        for size in 129..=SLAB_MAX {
            let chunk = CLASS_SIZES[class_of(size, 8).unwrap()] as usize;
            assert!(chunk * 4 <= size * 5 + 64, "{size} -> {chunk}");
        }
    }
}
