//! Delta debugging: the shrinker the soak runner and the repro tool share.
//!
//! [`shrink`] takes a failing sequence and a predicate that says whether a
//! sequence still fails, and removes chunks of the sequence — halves, then
//! quarters, … then single items — for as long as the predicate holds. The
//! result is *1-minimal*: removing any single item from it makes the
//! predicate false.
//!
//! [`shrink_ops`] does the same for op traces. Ops name their operands by
//! index into the handles seen so far, taken modulo the table lengths, so
//! any subsequence of a trace is itself a valid trace; but removing an op
//! that created handles would silently re-aim every later index at another
//! handle. [`remove_ops`] therefore re-aims later operands at the same
//! table entries they named before (indices past the removed entries move
//! down), as far as the reference model can tell without the core. An
//! operand that named a removed entry names the next surviving one. The
//! predicate decides whether the smaller trace still fails. Then it zeroes
//! the data fields (sizes, fills, tags, payloads) the failure does not need.
//! [`crate::engine::shrink_finding`] is the front end the tools call.

use std::ops::Range;

use crate::driver::Reference;
use crate::op::{ObjectRef, Op, RegionRef, TableLens, WeakRef};

/// Shrinks `items`, which must satisfy `still_fails`, to a subsequence that
/// still satisfies it and from which no single item can be removed.
///
/// The predicate is called `O(n log n)` times in the common case (each chunk
/// size is tried once across the sequence), `O(n²)` in the worst case.
///
/// ```
/// use regions_model::shrink::shrink;
///
/// // "Fails" while it contains both a 3 and a 7, in that order.
/// let fails = |xs: &[u32]| {
///     xs.iter()
///         .position(|&x| x == 3)
///         .is_some_and(|i| xs[i..].contains(&7))
/// };
/// let input: Vec<u32> = (0..100).map(|i| i % 10).collect();
/// assert_eq!(shrink(&input, fails), [3, 7]);
/// ```
pub fn shrink<T: Clone>(items: &[T], still_fails: impl FnMut(&[T]) -> bool) -> Vec<T> {
    let remove = |items: &[T], range: Range<usize>| {
        let mut rest = items.to_vec();
        rest.drain(range);
        rest
    };
    shrink_with(items, remove, still_fails)
}

/// Shrinks an op trace like [`shrink`], removing ops with [`remove_ops`],
/// then simplifies the ops that are left: each field that only shapes the
/// data (sizes, fills, tags, payloads, offsets) is set to zero (`false`)
/// if the trace still fails with it, so the fields that stay non-zero are
/// the ones the failure needs.
pub fn shrink_ops(ops: &[Op], mut still_fails: impl FnMut(&[Op]) -> bool) -> Vec<Op> {
    let mut current = shrink_with(ops, remove_ops, &mut still_fails);
    for i in 0..current.len() {
        // Each success zeroes one more field, so this ends.
        while let Some(op) = simpler(&current[i]).into_iter().find(|op| {
            let mut candidate = current.clone();
            candidate[i] = op.clone();
            still_fails(&candidate)
        }) {
            current[i] = op;
        }
    }
    current
}

/// `op` with one data field zeroed, for each such field that is not zero yet.
fn simpler(op: &Op) -> Vec<Op> {
    let mut simpler = Vec::new();
    let mut try_zero = |zeroed: Op| {
        if zeroed != *op {
            simpler.push(zeroed);
        }
    };
    match op.clone() {
        Op::WithRegion { parent, size, keep } => {
            try_zero(Op::WithRegion {
                parent,
                size: 0,
                keep,
            });
            try_zero(Op::WithRegion {
                parent,
                size,
                keep: false,
            });
        }
        Op::Alloc {
            region,
            size,
            align_log2,
            tag,
            fill,
            mismatched_len,
        } => {
            let alloc = |size, align_log2, tag, fill, mismatched_len| Op::Alloc {
                region,
                size,
                align_log2,
                tag,
                fill,
                mismatched_len,
            };
            try_zero(alloc(0, align_log2, tag, fill, mismatched_len));
            try_zero(alloc(size, 0, tag, fill, mismatched_len));
            try_zero(alloc(size, align_log2, 0, fill, mismatched_len));
            try_zero(alloc(size, align_log2, tag, 0, mismatched_len));
            try_zero(alloc(size, align_log2, tag, fill, false));
        }
        Op::AllocTyped { region, kind, .. } => try_zero(Op::AllocTyped {
            region,
            kind,
            payload: 0,
        }),
        Op::Write {
            object,
            offset,
            len,
            fill,
        } => {
            try_zero(Op::Write {
                object,
                offset: 0,
                len,
                fill,
            });
            try_zero(Op::Write {
                object,
                offset,
                len: 0,
                fill,
            });
            try_zero(Op::Write {
                object,
                offset,
                len,
                fill: 0,
            });
        }
        Op::SetTyped { object, kind, .. } => try_zero(Op::SetTyped {
            object,
            kind,
            payload: 0,
        }),
        Op::RegisterDestructor { .. } => try_zero(Op::RegisterDestructor { tag: 0 }),
        Op::Compact { region, .. } => try_zero(Op::Compact {
            region,
            max_bytes: 0,
        }),
        Op::AllocSlice {
            region,
            kind,
            len,
            payload,
        } => {
            try_zero(Op::AllocSlice {
                region,
                kind,
                len: 0,
                payload,
            });
            try_zero(Op::AllocSlice {
                region,
                kind,
                len,
                payload: 0,
            });
        }
        Op::AllocBulk {
            region,
            size,
            align_log2,
            tag,
            count,
            fill,
            mismatched_len,
        } => {
            let bulk = |size, align_log2, tag, count, fill, mismatched_len| Op::AllocBulk {
                region,
                size,
                align_log2,
                tag,
                count,
                fill,
                mismatched_len,
            };
            try_zero(bulk(0, align_log2, tag, count, fill, mismatched_len));
            try_zero(bulk(size, 0, tag, count, fill, mismatched_len));
            try_zero(bulk(size, align_log2, 0, count, fill, mismatched_len));
            try_zero(bulk(size, align_log2, tag, 0, fill, mismatched_len));
            try_zero(bulk(size, align_log2, tag, count, 0, mismatched_len));
            try_zero(bulk(size, align_log2, tag, count, fill, false));
        }
        _ => {}
    }
    simpler
}

/// [`shrink`] with a custom `remove(items, range)` that returns `items`
/// without `items[range]` (possibly adjusting the rest).
pub fn shrink_with<T: Clone>(
    items: &[T],
    mut remove: impl FnMut(&[T], Range<usize>) -> Vec<T>,
    mut still_fails: impl FnMut(&[T]) -> bool,
) -> Vec<T> {
    let mut current = items.to_vec();
    let mut chunk = current.len().div_ceil(2).max(1);
    loop {
        let mut removed_any = false;
        let mut start = 0;
        while start < current.len() {
            let end = (start + chunk).min(current.len());
            let candidate = remove(&current, start..end);
            if still_fails(&candidate) {
                current = candidate;
                removed_any = true;
            } else {
                start = end;
            }
        }
        if chunk > 1 {
            chunk = chunk.div_ceil(2);
        } else if !removed_any {
            return current;
        }
    }
}

/// `ops` without `ops[range]`, with every later table index re-aimed at the
/// entry it named before (see the [module documentation](self)).
///
/// ```
/// use regions_model::op::prelude::*;
/// use regions_model::shrink::remove_ops;
///
/// let ops = [
///     CreateRegion { parent: Root },      // region table entry 1
///     CreateRegion { parent: Root },      // region table entry 2
///     ReleaseRegion { region: Region(2) },
/// ];
/// assert_eq!(
///     remove_ops(&ops, 0..1),
///     [CreateRegion { parent: Root }, ReleaseRegion { region: Region(1) }]
/// );
/// ```
pub fn remove_ops(ops: &[Op], range: Range<usize>) -> Vec<Op> {
    let mut reference = Reference::new();
    let mut lens_before = Vec::with_capacity(ops.len() + 1);
    for op in ops {
        lens_before.push(reference.table_lens());
        reference.apply(op);
    }
    lens_before.push(reference.table_lens());
    let (first, last) = (lens_before[range.start], lens_before[range.end]);
    let kept_before = ops[..range.start].iter().cloned();
    let re_aimed = ops[range.end..]
        .iter()
        .zip(&lens_before[range.end..])
        .map(|(op, &lens)| re_aim(op, lens, first, last));
    kept_before.chain(re_aimed).collect()
}

/// `op` (run when the tables had `lens`) with every index re-aimed after the
/// entries `first..last` of each table were removed.
fn re_aim(op: &Op, lens: TableLens, first: TableLens, last: TableLens) -> Op {
    let object = |o: &ObjectRef| match *o {
        ObjectRef::Object(i) => {
            ObjectRef::Object(re_index(i, lens.objects, first.objects..last.objects))
        }
        fake => fake,
    };
    op.map_operands(
        |r| match *r {
            RegionRef::Region(i) => {
                RegionRef::Region(re_index(i, lens.regions, first.regions..last.regions))
            }
            other => other,
        },
        object,
        |w| match w {
            WeakRef::Weak(i) => WeakRef::Weak(re_index(*i, lens.weaks, first.weaks..last.weaks)),
            WeakRef::WeakOf(o) => WeakRef::WeakOf(object(o)),
        },
    )
}

/// Index `index` into a table of `len` entries, after the entries `removed`
/// are taken out: the same entry if it survives, else the next survivor.
fn re_index(index: u16, len: usize, removed: Range<usize>) -> u16 {
    if len == 0 {
        return index;
    }
    let entry = usize::from(index) % len;
    let entry = if entry >= removed.end {
        entry - removed.len()
    } else {
        entry.min(removed.start)
    };
    // `entry` < `len` and, when `len` exceeds `u16`, `entry` <= `index`.
    u16::try_from(entry).unwrap_or(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::prelude::*;

    /// Whether `needle` is a (not necessarily contiguous) subsequence of `xs`.
    fn contains_in_order(xs: &[u32], needle: &[u32]) -> bool {
        let mut rest = needle.iter().peekable();
        for x in xs {
            if rest.peek() == Some(&x) {
                rest.next();
            }
        }
        rest.peek().is_none()
    }

    #[test]
    fn shrinks_to_the_items_the_failure_needs() {
        let input: Vec<u32> = (0..500).collect();
        let needle = [17, 123, 124, 400];
        let shrunk = shrink(&input, |xs| contains_in_order(xs, &needle));
        assert_eq!(shrunk, needle);
    }

    #[test]
    fn result_is_one_minimal() {
        // Fails while the sum is at least 100: many minimal answers exist;
        // whichever is found, removing any single item must break it.
        let input: Vec<u32> = (0..60).map(|i| (i * 37) % 23).collect();
        let fails = |xs: &[u32]| xs.iter().sum::<u32>() >= 100;
        let shrunk = shrink(&input, fails);
        assert!(fails(&shrunk));
        for i in 0..shrunk.len() {
            let mut smaller = shrunk.clone();
            smaller.remove(i);
            assert!(!fails(&smaller), "{shrunk:?} minus item {i} still fails");
        }
    }

    #[test]
    fn an_empty_failure_shrinks_to_nothing() {
        assert!(shrink(&[1, 2, 3], |_| true).is_empty());
    }

    #[test]
    fn a_failure_needing_everything_is_kept_whole() {
        let input = [5, 6, 7];
        assert_eq!(shrink(&input, |xs| xs.len() == 3), input);
    }

    #[test]
    fn predicate_calls_stay_near_n_log_n_for_a_single_culprit() {
        let input: Vec<u32> = (0..1024).collect();
        let mut calls = 0;
        let shrunk = shrink(&input, |xs| {
            calls += 1;
            xs.contains(&777)
        });
        assert_eq!(shrunk, [777]);
        assert!(calls < 200, "{calls} predicate calls");
    }

    fn alloc(region: RegionRef) -> Op {
        Alloc {
            region,
            size: 8,
            align_log2: 3,
            tag: 0,
            fill: 1,
            mismatched_len: false,
        }
    }

    #[test]
    fn removing_ops_re_aims_later_operands_at_the_same_entries() {
        let ops = [
            CreateRegion { parent: Root }, // region 1
            alloc(Region(1)),              // object 0
            alloc(Root),                   // object 1
            Downgrade { object: Object(1) },
            Downgrade { object: Object(0) },
            Promote {
                object: Object(1),
                target: Region(1),
            }, // object 2: the new home of object 1
            Upgrade { weak: Weak(1) },
            DropWeak {
                weak: WeakOf(Object(2)),
            },
            Free { object: Object(5) }, // 5 % 3 = 2
        ];
        // Without the first alloc: objects 1 and 2 become 0 and 1.
        assert_eq!(
            remove_ops(&ops, 1..2),
            [
                CreateRegion { parent: Root },
                alloc(Root),
                Downgrade { object: Object(0) },
                Downgrade { object: Object(0) },
                Promote {
                    object: Object(0),
                    target: Region(1),
                },
                Upgrade { weak: Weak(1) },
                DropWeak {
                    weak: WeakOf(Object(1)),
                },
                Free { object: Object(1) },
            ]
        );
        // Without the first downgrade: weak 1 becomes weak 0.
        assert_eq!(remove_ops(&ops, 3..4)[5], Upgrade { weak: Weak(0) });
    }

    #[test]
    fn an_operand_naming_a_removed_entry_names_the_next_survivor() {
        let ops = [
            CreateRegion { parent: Root }, // region 1
            CreateRegion { parent: Root }, // region 2
            CreateRegion { parent: Root }, // region 3
            ReleaseRegion { region: Region(2) },
            InspectRegion { region: Region(0) },
            InspectRegion {
                region: FakeRegion {
                    id: 2,
                    generation: 0,
                },
            },
        ];
        assert_eq!(
            remove_ops(&ops, 1..2)[2..],
            [
                ReleaseRegion { region: Region(2) },
                InspectRegion { region: Region(0) },
                InspectRegion {
                    region: FakeRegion {
                        id: 2,
                        generation: 0
                    },
                },
            ]
        );
    }

    #[test]
    fn op_shrinking_keeps_the_handles_a_failure_needs() {
        // "Fails" while some op releases a region that was created by a
        // `CreateRegion` under another created region: the creations must
        // survive and the release must still aim at the nested region.
        let fails = |ops: &[Op]| {
            let mut reference = Reference::new();
            let mut nested_released = false;
            for op in ops {
                if let ReleaseRegion { region: Region(i) } = op {
                    let before = reference.model().regions().count();
                    reference.apply(op);
                    let depth_two = reference.max_region_depth() >= 2;
                    nested_released |=
                        depth_two && reference.model().regions().count() < before && *i >= 2;
                } else {
                    reference.apply(op);
                }
            }
            nested_released
        };
        let mut ops: Vec<Op> = Vec::new();
        for i in 0..30u16 {
            ops.push(CreateRegion { parent: Root });
            ops.push(alloc(Region(i)));
        }
        ops.push(CreateRegion { parent: Region(7) });
        ops.extend((0..20).map(|_| alloc(Root)));
        ops.push(ReleaseRegion { region: Region(31) });
        assert!(fails(&ops));
        let shrunk = shrink_ops(&ops, fails);
        assert_eq!(
            shrunk,
            [
                CreateRegion { parent: Root },
                CreateRegion { parent: Region(1) },
                ReleaseRegion { region: Region(2) },
            ]
        );
    }

    #[test]
    fn op_shrinking_zeroes_the_data_fields_the_failure_does_not_need() {
        // "Fails" while some alloc is larger than 100 bytes.
        let fails = |ops: &[Op]| {
            ops.iter()
                .any(|op| matches!(op, Alloc { size, .. } if *size > 100))
        };
        let big = Alloc {
            region: Root,
            size: 300,
            align_log2: 4,
            tag: 2,
            fill: 9,
            mismatched_len: true,
        };
        let shrunk = shrink_ops(&[alloc(Root), big.clone(), alloc(Root)], fails);
        assert_eq!(
            shrunk,
            [Alloc {
                region: Root,
                size: 300,
                align_log2: 0,
                tag: 0,
                fill: 0,
                mismatched_len: false,
            }]
        );
    }

    #[test]
    fn op_shrinking_zeroes_the_data_fields_of_the_newer_ops() {
        // "Fails" while some bulk allocation has more than 3 objects and
        // some slice is longer than 5.
        let fails = |ops: &[Op]| {
            ops.iter()
                .any(|op| matches!(op, AllocBulk { count, .. } if *count > 3))
                && ops
                    .iter()
                    .any(|op| matches!(op, AllocSlice { len, .. } if *len > 5))
        };
        let ops = [
            Compact {
                region: Root,
                max_bytes: 9,
            },
            AllocBulk {
                region: Root,
                size: 40,
                align_log2: 3,
                tag: 1,
                count: 7,
                fill: 5,
                mismatched_len: true,
            },
            AllocSlice {
                region: Root,
                kind: SliceKind::Tracked,
                len: 9,
                payload: 77,
            },
        ];
        assert_eq!(
            shrink_ops(&ops, fails),
            [
                AllocBulk {
                    region: Root,
                    size: 0,
                    align_log2: 0,
                    tag: 0,
                    count: 7,
                    fill: 0,
                    mismatched_len: false,
                },
                AllocSlice {
                    region: Root,
                    kind: SliceKind::Tracked,
                    len: 9,
                    payload: 0,
                },
            ]
        );
    }
}
