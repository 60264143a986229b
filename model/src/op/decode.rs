//! Decoding a fuzz input into ops, with the generators' odds.
//!
//! The first byte chooses the registry configuration; each op after it is
//! a selector byte that draws the kind ([`super::weights`]) and then the
//! kind's fields. Operand indices are where decoding differs from reading a
//! trace: like the proptest generator, which names one of the four newest
//! handles half the time (the object just allocated, the region just
//! made), a decoded index is either any entry or one of the newest four.
//! The decoder cannot know how long the handle tables are, so it marks
//! such an index [`RECENT`] and the op is *aimed* before it runs: the
//! caller passes the tables' lengths at that point, and the mark becomes
//! the plain index of that entry. Decoded ops are ordinary ops: printed,
//! replayed and shrunk like any other.
//!
//! The lengths come from the driver that runs the ops, whose tables follow
//! the model's and the core's answers (an injected allocation failure, for
//! one, leaves out the handle the model alone would have made): so an input
//! is decoded while it runs ([`crate::driver::run_fuzz_input`]), and
//! [`crate::driver::decode_ops`] gives the same trace by running it.

use arbitrary::{Arbitrary, Unstructured};

use super::{configure_from_byte, weights, Op, TableLens};

/// The mark of an index that counts back from the newest entry of its
/// table (bit 15): `RECENT | k` names the `k`-th newest, modulo the table's
/// length. Plain decoded indices stay below it.
const RECENT: u16 = 1 << 15;

/// How many of the newest entries a recent index picks among (the proptest
/// generator's `recent..len`).
const RECENT_SPAN: u16 = 4;

/// A decoded table index, from one byte: half the time one of the first
/// [`PLAIN_INDICES`] entries, half the time one of the [`RECENT_SPAN`]
/// newest, marked. One byte instead of the three an
/// `u16` and a flag took: the fuzzer's inputs are short (its speed depends
/// on it, docs/TESTING.md, "Throughput"), so every byte an op saves is room
/// for more history. Later entries of a long table are named as recent ones.
pub(super) fn arbitrary_index(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    let byte = u16::from(u8::arbitrary(u)?);
    Ok(if byte < PLAIN_INDICES {
        byte
    } else {
        RECENT | ((byte - PLAIN_INDICES) % RECENT_SPAN)
    })
}

/// How many entries a plain decoded index can name (modulo the table's
/// length, as any index): the byte values below it; the others are recent.
const PLAIN_INDICES: u16 = 128;

/// `index` as a plain index into a table of `len` entries: a recent mark
/// becomes the entry it counts back to. (A table longer than `u16` can
/// name is named up to its 65,536th entry, as plain indices are.)
fn aim_index(index: u16, len: usize) -> u16 {
    if index & RECENT == 0 || len == 0 {
        return index & !RECENT;
    }
    let back = usize::from(index & !RECENT) % len;
    u16::try_from(len - 1 - back).unwrap_or(u16::MAX)
}

/// `op` with every recent index aimed at the tables' lengths `lens`.
fn aim(op: &Op, lens: TableLens) -> Op {
    op.map_indices(|table, i| aim_index(i, lens.of(table)))
}

/// Decodes a fuzz input one op at a time, each aimed at the handle tables
/// as they are when it runs.
pub struct OpDecoder<'a> {
    rest: &'a [u8],
    left: usize,
    configured: bool,
}

impl<'a> OpDecoder<'a> {
    /// A decoder of at most `max_ops` ops (the configuration included)
    /// from `data`.
    pub fn new(data: &'a [u8], max_ops: usize) -> Self {
        OpDecoder {
            rest: data,
            left: max_ops,
            configured: false,
        }
    }

    /// The bytes not decoded yet.
    pub fn bytes_left(&self) -> usize {
        self.rest.len()
    }

    /// The next op, aimed at tables of lengths `lens` (what the runner's
    /// tables hold before this op), or `None` at the end of the input: the
    /// first is the [`Op::Configure`] of the first byte, a truncated last
    /// op is dropped.
    pub fn next_op(&mut self, lens: TableLens) -> Option<Op> {
        if self.left == 0 {
            return None;
        }
        let op = if self.configured {
            aim(&weights::decode_weighted_op(&mut self.rest)?, lens)
        } else {
            let (&config, rest) = self.rest.split_first()?;
            self.rest = rest;
            self.configured = true;
            configure_from_byte(config)
        };
        self.left -= 1;
        Some(op)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ObjectRef, Operand, RegionRef};
    use super::*;
    use crate::driver::Driver;

    #[test]
    fn a_recent_index_counts_back_from_the_newest_entry() {
        assert_eq!(aim_index(RECENT, 10), 9);
        assert_eq!(aim_index(RECENT | 3, 10), 6);
        assert_eq!(aim_index(RECENT | 3, 2), 0, "modulo the length");
        assert_eq!(aim_index(RECENT | 1, 0), 1, "an empty table names nothing");
        assert_eq!(aim_index(7, 3), 7, "a plain index is left to the modulo");
    }

    #[test]
    fn decoded_ops_hold_plain_indices_and_often_name_the_newest_handle() {
        // SplitMix64: bytes whose every bit is as likely set as clear.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..16384)
            .map(|_| {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (z ^ (z >> 31)) as u8
            })
            .collect();
        let mut driver = Driver::new();
        let mut decoder = OpDecoder::new(&noise, 100_000);
        let (mut newest, mut indices) = (0, 0);
        while let Some(op) = decoder.next_op(driver.reference().table_lens()) {
            let lens = driver.reference().table_lens();
            for operand in op.operands() {
                let (index, len) = match operand {
                    Operand::Region(RegionRef::Region(i)) => (*i, lens.regions),
                    Operand::Object(ObjectRef::Object(i)) => (*i, lens.objects),
                    _ => continue,
                };
                assert!(index < RECENT, "{op:?}");
                indices += 1;
                newest += usize::from(len > 0 && usize::from(index) == len - 1);
            }
            driver
                .apply(&op)
                .unwrap_or_else(|failure| panic!("{failure}"));
        }
        // One in eight aims at the newest entry (half are recent, a quarter
        // of those the newest), besides plain indices that happen to.
        assert!(
            indices > 1000 && newest * 8 > indices,
            "{newest} of {indices}"
        );
    }
}
