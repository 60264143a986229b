//! How often each op kind is drawn: one table for the proptest generators
//! ([`op_strategy_within`](super::op_strategy_within), which the state
//! machine and the soak use) and for the fuzz target's decoding
//! ([`decode_ops`](super::decode_ops)).
//!
//! `#[derive(Arbitrary)]` picks an enum variant uniformly, so with 41 kinds
//! the ops a bug needs (an allocation, a promotion, a region's death) were
//! each one in 41, as rare as `SaturateRegionRefcount`, and the fuzzer
//! missed bugs the weighted generators found in seconds. Decoding therefore
//! reads one byte for the kind, drawn through this table, and lets the
//! derive read the kind's fields only (see [`decode_weighted_op`]).

use arbitrary::{Arbitrary, Unstructured};

use super::{Op, OP_KINDS};

/// Each kind's weight, in the declaration order of [`Op`] (the order in
/// which `Arbitrary`'s derive numbers its variants; a unit test checks it
/// by decoding each kind). The weights favour the states where bugs
/// hide: nested regions, objects with strong counts whose regions then die,
/// repeated promotion of the same objects, and destructors. `Configure`
/// only acts as an episode's first op, which both generators and the fuzz
/// decoding put there themselves; elsewhere it is a no-op.
pub const OP_WEIGHTS: [(&str, u8); OP_KINDS] = [
    ("CreateRegion", 9),
    ("RetainRegion", 3),
    ("ReleaseRegion", 8),
    ("WithRegion", 1),
    ("Alloc", 14),
    ("AllocTyped", 6),
    ("Get", 4),
    ("Write", 3),
    ("GetTyped", 4),
    ("SetTyped", 2),
    ("Free", 4),
    ("Retain", 9),
    ("Release", 3),
    ("StoreHandle", 4),
    ("Downgrade", 3),
    ("Upgrade", 2),
    ("DropWeak", 2),
    ("Promote", 9),
    ("Resolve", 4),
    ("RegionOf", 2),
    ("RegisterDestructor", 2),
    ("InspectObject", 2),
    ("InspectRegion", 2),
    ("Compact", 3),
    ("AllocSlice", 4),
    ("GetSlice", 3),
    ("AllocBulk", 4),
    ("RegisterPanickingDestructor", 1),
    ("SaturateCounts", 1),
    ("SaturateRegionRefcount", 1),
    ("AllocOversized", 1),
    ("Configure", 1),
    ("InjectAllocFailure", 2),
    ("SetBudget", 1),
    ("CreateRegionWithBudget", 2),
    ("Unstore", 3),
    ("Identify", 2),
    ("AllocConvenient", 4),
    ("Iterate", 3),
    ("BuildRegion", 2),
    ("SerializeRoundTrip", 2),
];

/// The weight of the kind named `kind` (an [`Op::kind_name`]).
///
/// # Panics
///
/// If no kind has that name: a generator's arm names a kind that is not in
/// the table.
pub fn weight(kind: &str) -> u32 {
    OP_WEIGHTS
        .iter()
        .find(|(name, _)| *name == kind)
        .map(|&(_, weight)| u32::from(weight))
        .unwrap_or_else(|| panic!("no op kind is named {kind}"))
}

/// The sum of the weights: at most 256, so that every kind with a weight
/// gets at least one value of the selector byte.
const TOTAL_WEIGHT: u32 = {
    let mut total = 0;
    let mut i = 0;
    while i < OP_KINDS {
        total += OP_WEIGHTS[i].1 as u32;
        i += 1;
    }
    assert!(total > 0 && total <= 256);
    total
};

/// The kind (its declaration index) each value of the selector byte picks:
/// value `b` picks the kind whose cumulative weight range holds
/// `b * TOTAL_WEIGHT / 256`.
const KIND_OF_SELECTOR: [u8; 256] = {
    let mut kinds = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let point = (byte as u32 * TOTAL_WEIGHT) >> 8;
        let (mut kind, mut below) = (0, OP_WEIGHTS[0].1 as u32);
        while below <= point {
            kind += 1;
            below += OP_WEIGHTS[kind].1 as u32;
        }
        kinds[byte] = kind as u8;
        byte += 1;
    }
    kinds
};

/// Field bytes one op may read; no op reads this many (a unit test checks
/// it on 64 KiB of noise), so the window never changes what is decoded.
const FIELD_WINDOW: usize = 64;

/// The four bytes that make `Arbitrary`'s derive pick variant `kind` of
/// [`Op`]: it reads a little-endian `u32` `x` and takes `(x * n) >> 32`
/// for `n` variants, so the smallest `x` with that result is
/// `ceil(kind * 2^32 / n)`.
fn variant_bytes(kind: usize) -> [u8; 4] {
    let n = OP_KINDS as u64;
    let x = ((kind as u64) << 32).div_ceil(n);
    u32::try_from(x)
        .expect("kind < OP_KINDS keeps x below 2^32")
        .to_le_bytes()
}

/// Decodes one op from the front of `data` and advances it past the bytes
/// read: a selector byte draws the kind through [`OP_WEIGHTS`], then the
/// derived `Arbitrary` reads that kind's fields from the bytes that follow.
/// `None` when `data` is empty or the fields cannot be decoded.
pub(super) fn decode_weighted_op(data: &mut &[u8]) -> Option<Op> {
    let (&selector, fields) = data.split_first()?;
    let kind = usize::from(KIND_OF_SELECTOR[usize::from(selector)]);
    let window = fields.len().min(FIELD_WINDOW);
    let mut bytes = [0u8; 4 + FIELD_WINDOW];
    bytes[..4].copy_from_slice(&variant_bytes(kind));
    bytes[4..4 + window].copy_from_slice(&fields[..window]);
    let mut input = Unstructured::new(&bytes[..4 + window]);
    let op: Op = Op::arbitrary(&mut input).ok()?;
    *data = &fields[window - input.len()..];
    Some(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_follows_the_declaration_order_of_op() {
        for (kind, (name, _)) in OP_WEIGHTS.iter().enumerate() {
            let bytes = variant_bytes(kind);
            let mut input = Unstructured::new(&bytes);
            let op: Op = Op::arbitrary(&mut input).expect("zero fields decode");
            assert_eq!(op.kind_name(), *name, "kind {kind}");
            assert_eq!(weight(name), u32::from(OP_WEIGHTS[kind].1));
        }
    }

    #[test]
    fn every_kind_gets_selector_values_in_proportion_to_its_weight() {
        for (kind, &(name, weight)) in OP_WEIGHTS.iter().enumerate() {
            let values = KIND_OF_SELECTOR
                .iter()
                .filter(|&&k| usize::from(k) == kind)
                .count() as f64;
            let expected = 256.0 * f64::from(weight) / f64::from(TOTAL_WEIGHT);
            assert!(values >= 1.0, "{name} is never selected");
            assert!((values - expected).abs() <= 1.0, "{name}: {values} values");
        }
    }

    #[test]
    fn no_op_reads_as_many_bytes_as_the_window() {
        let noise: Vec<u8> = (0..65536u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut data = &noise[..];
        let mut ops = 0;
        while data.len() > FIELD_WINDOW {
            let before = data.len();
            decode_weighted_op(&mut data).expect("noise decodes");
            assert!(before - 1 - data.len() < FIELD_WINDOW);
            ops += 1;
        }
        assert!(ops > 4000, "{ops} ops");
    }

    #[test]
    #[should_panic(expected = "no op kind is named Allocate")]
    fn a_misspelled_kind_has_no_weight() {
        weight("Allocate");
    }
}
