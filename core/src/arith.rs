//! Checked arithmetic shared by the allocators.

/// Rounds `value` up to a multiple of `align` (a power of two), or `None`
/// on overflow.
#[inline]
pub(crate) fn align_up(value: u32, align: u32) -> Option<u32> {
    debug_assert!(align.is_power_of_two());
    Some(value.checked_add(align - 1)? & !(align - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_up_rounds_and_reports_overflow() {
        assert_eq!(align_up(0, 16), Some(0));
        assert_eq!(align_up(17, 16), Some(32));
        assert_eq!(align_up(32, 32), Some(32));
        assert_eq!(align_up(u32::MAX - 3, 8), None);
    }
}
