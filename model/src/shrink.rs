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
//!
//! [`shrink_ops_within`] is the bounded, faster form the tools use, through
//! [`crate::engine::shrink_finding`] (which first cuts the trace after its
//! failing op). Two searches take turns on the trace:
//!
//! - the search this shrinker always made: each chunk size swept from the
//!   start of the trace, a failing candidate kept whole;
//! - a search that sweeps each chunk size from the end of the trace and
//!   cuts a failing candidate right after the op where it failed (its
//!   predicate says where: a run that failed at op `k` never looked at the
//!   ops after it), so every success also drops the tail the failure no
//!   longer reaches.
//!
//! Neither is better on every failure: on the injected bugs of
//! `ci/mutants/` one search ends with 5 ops where the other ends with 275,
//! and on another bug the other way round (643 against 4, after 44 s
//! against 1.3 s), and the search that gets stuck on a long trace is also
//! the slow one, its candidates being long. So the search that has run
//! fewer ops so far makes the next call, and the first to end wins: on
//! every injected bug measured it is the one with the shorter result, and a
//! shrink costs about twice its faster search alone.
//!
//! After the searches it zeroes data fields as above; if that changed
//! anything it sweeps single ops again, from the start, and repeats both
//! steps until neither changes anything. A `stop` callback, asked before
//! every predicate call, ends the shrink early (the tools pass a deadline);
//! the result is then the shortest failing trace found so far, marked as
//! not [finished](Shrunk::finished). Turns go by ops run, not by time, so
//! the same failure shrinks to the same trace on every machine (only where
//! a deadline cuts it in depends on the machine).

use std::ops::Range;

use crate::driver::Reference;
use crate::op::{Op, TableLens};

/// The result of a bounded shrink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shrunk<T> {
    /// The shortest failing sequence found: the input itself if no
    /// candidate failed.
    pub items: Vec<T>,
    /// Whether the search ran to its end, so that `items` is 1-minimal
    /// (and, for ops, has every data field it can spare zeroed); `false`
    /// when `stop` ended it.
    pub finished: bool,
    /// How many times the predicate ran.
    pub calls: u64,
}

/// `items` without the ones in `range`: plain removal, for sequences whose
/// items do not refer to each other.
fn without_range<T: Clone>(items: &[T], range: Range<usize>) -> Vec<T> {
    let mut rest = items.to_vec();
    rest.drain(range);
    rest
}

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
pub fn shrink<T: Clone>(items: &[T], mut still_fails: impl FnMut(&[T]) -> bool) -> Vec<T> {
    shrink_with(
        items,
        without_range,
        || false,
        |candidate: &[T]| still_fails(candidate).then_some(candidate.len()),
    )
    .items
}

/// Shrinks an op trace like [`shrink`], removing ops with [`remove_ops`],
/// then simplifies the ops that are left: each field that only shapes the
/// data (sizes, fills, tags, payloads, offsets) is set to zero (`false`)
/// if the trace still fails with it, so the fields that stay non-zero are
/// the ones the failure needs.
pub fn shrink_ops(ops: &[Op], mut still_fails: impl FnMut(&[Op]) -> bool) -> Vec<Op> {
    shrink_ops_within(
        ops,
        || false,
        |candidate: &[Op]| still_fails(candidate).then_some(candidate.len()),
    )
    .items
}

/// [`shrink_ops`] with a time limit and cuts (see the [module
/// documentation](self)).
///
/// `fails_at(candidate)` is `None` when the candidate passes, and
/// `Some(len)` when it fails, where `len` says that its first `len` ops
/// fail the same way (the failing op's index plus one; `candidate.len()`
/// when that is not known). `stop()` is asked before each call of
/// `fails_at`; once it says `true` the search ends and returns the
/// shortest failing trace so far.
///
/// ```
/// use regions_model::op::prelude::*;
/// use regions_model::shrink::shrink_ops_within;
///
/// // "Fails" at the first allocation of more than 100 bytes.
/// let fails_at = |ops: &[Op]| {
///     ops.iter()
///         .position(|op| matches!(op, Alloc { size, .. } if *size > 100))
///         .map(|i| i + 1)
/// };
/// let alloc = |size| Alloc {
///     region: Root,
///     size,
///     align_log2: 3,
///     tag: 0,
///     fill: 1,
///     mismatched_len: false,
/// };
/// let ops = [alloc(8), alloc(300), alloc(8)];
/// let shrunk = shrink_ops_within(&ops, || false, fails_at);
/// assert_eq!(
///     shrunk.items,
///     [Alloc {
///         region: Root,
///         size: 300,
///         align_log2: 0,
///         tag: 0,
///         fill: 0,
///         mismatched_len: false,
///     }]
/// );
/// assert!(shrunk.finished);
///
/// // Stopped before its first call, it returns the input, unfinished.
/// let stopped = shrink_ops_within(&ops, || true, fails_at);
/// assert_eq!((stopped.items.len(), stopped.finished, stopped.calls), (3, false, 0));
/// ```
pub fn shrink_ops_within(
    ops: &[Op],
    stop: impl FnMut() -> bool,
    fails_at: impl FnMut(&[Op]) -> Option<usize>,
) -> Shrunk<Op> {
    let mut search = Search::new(stop, fails_at);
    let mut current = match search.remove_chunks(ops.to_vec(), remove_ops) {
        Ok(removed) => removed,
        Err(best) => return search.unfinished(best),
    };
    loop {
        let before = current.clone();
        if let Err(best) = search.zero_fields(&mut current) {
            return search.unfinished(best);
        }
        if current == before {
            return search.finished(current);
        }
        // A zeroed field can make an op removable: sweep single ops again
        // (the trace was 1-minimal before, so bigger chunks are unlikely to
        // go), and zero again if one went, so the result is minimal for both.
        let mut sweep = Sweep::new(current.clone(), Order::FromTheStart);
        sweep.chunk = 1;
        current = match search.run_alone(sweep, remove_ops) {
            Ok(removed) if removed == current => return search.finished(current),
            Ok(removed) => removed,
            Err(best) => return search.unfinished(best),
        };
    }
}

/// The predicate, the stop callback, and the calls made so far: what the
/// searches of one shrink share.
struct Search<S, F> {
    calls: u64,
    stop: S,
    fails_at: F,
}

impl<S: FnMut() -> bool, F> Search<S, F> {
    fn new(stop: S, fails_at: F) -> Self {
        Search {
            calls: 0,
            stop,
            fails_at,
        }
    }

    /// Runs the predicate on `candidate`: `Ok(None)` if it passes,
    /// `Ok(Some(len))` if it fails and its first `len` items (at most all of
    /// them) fail alike, `Err(())` if `stop` says the search must end.
    fn test<T>(&mut self, candidate: &[T]) -> Result<Option<usize>, ()>
    where
        F: FnMut(&[T]) -> Option<usize>,
    {
        if (self.stop)() {
            return Err(());
        }
        self.calls += 1;
        Ok((self.fails_at)(candidate).map(|len| len.min(candidate.len())))
    }

    /// Removes chunks of `items` with two [`Sweep`]s taking turns (see the
    /// [module documentation](self)). `Ok` with a 1-minimal result, or
    /// `Err` with the shortest failing sequence so far when stopped.
    fn remove_chunks<T: Clone>(
        &mut self,
        items: Vec<T>,
        mut remove: impl FnMut(&[T], Range<usize>) -> Vec<T>,
    ) -> Result<Vec<T>, Vec<T>>
    where
        F: FnMut(&[T]) -> Option<usize>,
    {
        let mut sweeps = [
            Sweep::new(items.clone(), Order::FromTheStart),
            Sweep::new(items, Order::FromTheEndCutting),
        ];
        loop {
            // The one that has run fewer ops goes next: a call costs about
            // its candidate's length, and the search whose trace shrinks
            // faster should not wait for one stuck on a long trace.
            // (Counting ops, not time, keeps the result the same on every
            // machine.)
            let turn = usize::from(sweeps[1].ops_run < sweeps[0].ops_run);
            let sweep = &mut sweeps[turn];
            // The first search to end wins: in every case measured, it is
            // also the one that ends with the shorter trace.
            let Some(range) = sweep.next_range() else {
                return Ok(std::mem::take(&mut sweep.current));
            };
            let candidate = remove(&sweep.current, range.clone());
            sweep.ops_run += candidate.len() as u64 + 1;
            match self.test(&candidate) {
                Ok(verdict) => sweep.record(range, candidate, verdict),
                Err(()) => {
                    let [a, b] = sweeps;
                    let best = if b.current.len() < a.current.len() {
                        b
                    } else {
                        a
                    };
                    return Err(best.current);
                }
            }
        }
    }

    /// Runs `sweep` to its end: `Ok` with its 1-minimal result, or `Err`
    /// with the shortest failing sequence so far when stopped.
    fn run_alone<T: Clone>(
        &mut self,
        mut sweep: Sweep<T>,
        mut remove: impl FnMut(&[T], Range<usize>) -> Vec<T>,
    ) -> Result<Vec<T>, Vec<T>>
    where
        F: FnMut(&[T]) -> Option<usize>,
    {
        while let Some(range) = sweep.next_range() {
            let candidate = remove(&sweep.current, range.clone());
            match self.test(&candidate) {
                Ok(verdict) => sweep.record(range, candidate, verdict),
                Err(()) => return Err(sweep.current),
            }
        }
        Ok(sweep.current)
    }

    /// Sets each data field of each op to zero (see [`shrink_ops`]) where
    /// the trace still fails with it. `Err` with the trace so far when
    /// stopped.
    fn zero_fields(&mut self, ops: &mut Vec<Op>) -> Result<(), Vec<Op>>
    where
        F: FnMut(&[Op]) -> Option<usize>,
    {
        let mut i = 0;
        while i < ops.len() {
            // Each success zeroes one more field, so this ends.
            let mut zeroed_one = false;
            for op in simpler(&ops[i]) {
                let mut candidate = ops.clone();
                candidate[i] = op;
                match self.test(&candidate) {
                    Err(()) => return Err(std::mem::take(ops)),
                    Ok(Some(_)) => {
                        *ops = candidate;
                        zeroed_one = true;
                        break;
                    }
                    Ok(None) => {}
                }
            }
            if !zeroed_one {
                i += 1;
            }
        }
        Ok(())
    }

    fn finished<T>(self, items: Vec<T>) -> Shrunk<T> {
        Shrunk {
            items,
            finished: true,
            calls: self.calls,
        }
    }

    fn unfinished<T>(self, items: Vec<T>) -> Shrunk<T> {
        Shrunk {
            items,
            finished: false,
            calls: self.calls,
        }
    }
}

/// The two searches of a shrink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    /// Each chunk size from the start of the sequence, a failing candidate
    /// kept whole: the search this shrinker made before it had a partner,
    /// so its results are never lost.
    FromTheStart,
    /// Each chunk size from the end of the sequence, a failing candidate
    /// cut after its failing item.
    FromTheEndCutting,
}

/// One chunk-removal search, advanced one candidate at a time so that two
/// can take turns: chunk sizes halve from half the sequence down to 1, each
/// size sweeps the sequence once in the search's order, and size 1 sweeps
/// again until a sweep removes nothing.
struct Sweep<T> {
    /// The shortest failing sequence this search has found.
    current: Vec<T>,
    order: Order,
    chunk: usize,
    /// From the start: where the next chunk starts; from the end: where it ends.
    at: usize,
    /// Whether this sweep of the current chunk size removed anything.
    removed_any: bool,
    /// The candidates' lengths (plus one each), summed: the search's cost.
    ops_run: u64,
}

impl<T> Sweep<T> {
    fn new(items: Vec<T>, order: Order) -> Sweep<T> {
        let chunk = items.len().div_ceil(2).max(1);
        let mut sweep = Sweep {
            current: items,
            order,
            chunk,
            at: 0,
            removed_any: false,
            ops_run: 0,
        };
        sweep.restart();
        sweep
    }

    /// Starts a sweep of the current chunk size.
    fn restart(&mut self) {
        self.removed_any = false;
        self.at = match self.order {
            Order::FromTheStart => 0,
            Order::FromTheEndCutting => self.current.len(),
        };
    }

    /// The chunk to try removing next, `None` once the search has ended
    /// (a sweep of single items removed nothing: `current` is 1-minimal).
    fn next_range(&mut self) -> Option<Range<usize>> {
        loop {
            match self.order {
                Order::FromTheStart if self.at < self.current.len() => {
                    return Some(self.at..(self.at + self.chunk).min(self.current.len()));
                }
                Order::FromTheEndCutting if self.at > 0 => {
                    return Some(self.at.saturating_sub(self.chunk)..self.at);
                }
                _ => {}
            }
            if self.chunk > 1 {
                self.chunk = self.chunk.div_ceil(2);
            } else if !self.removed_any {
                return None;
            }
            self.restart();
        }
    }

    /// Takes the predicate's verdict on `candidate`, which is `current`
    /// without `range`: `Some(len)` if it fails, and its first `len` items
    /// fail alike.
    fn record(&mut self, range: Range<usize>, mut candidate: Vec<T>, verdict: Option<usize>) {
        match (verdict, self.order) {
            (Some(len), order) => {
                if order == Order::FromTheEndCutting {
                    candidate.truncate(len);
                }
                self.current = candidate;
                self.removed_any = true;
                // The next chunk starts (from the start) or ends (from the
                // end) where the removed one started.
                self.at = range.start.min(self.current.len());
            }
            (None, Order::FromTheStart) => self.at = range.end,
            (None, Order::FromTheEndCutting) => self.at = range.start,
        }
    }
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

/// The chunk-removal search behind [`shrink`] and [`shrink_ops_within`],
/// with a custom `remove(items, range)` that returns `items` without
/// `items[range]` (possibly adjusting the rest), and `stop` and `fails_at`
/// as in [`shrink_ops_within`]: two searches, sweeping each chunk size from
/// the start and from the end, take turns (see the [module
/// documentation](self)).
pub fn shrink_with<T: Clone>(
    items: &[T],
    remove: impl FnMut(&[T], Range<usize>) -> Vec<T>,
    stop: impl FnMut() -> bool,
    fails_at: impl FnMut(&[T]) -> Option<usize>,
) -> Shrunk<T> {
    let mut search = Search::new(stop, fails_at);
    match search.remove_chunks(items.to_vec(), remove) {
        Ok(items) => search.finished(items),
        Err(items) => search.unfinished(items),
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
    op.map_indices(|table, i| re_index(i, lens.of(table), first.of(table)..last.of(table)))
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
    use std::cell::Cell;

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

    /// `shrink_with` with plain removal, `fails_at`, and a stop after
    /// `max_calls` predicate calls.
    fn shrink_counted(
        items: &[u32],
        max_calls: u64,
        mut fails_at: impl FnMut(&[u32]) -> Option<usize>,
    ) -> Shrunk<u32> {
        let calls = Cell::new(0);
        shrink_with(
            items,
            without_range,
            || calls.get() == max_calls,
            |candidate: &[u32]| {
                calls.set(calls.get() + 1);
                fails_at(candidate)
            },
        )
    }

    #[test]
    fn a_stopped_search_returns_the_shortest_failure_found_so_far() {
        let input: Vec<u32> = (0..100).collect();
        let fails = |xs: &[u32]| xs.contains(&77).then_some(xs.len());
        // Without 50..100 it passes; without 0..50 it fails; the third call
        // is never made.
        let stopped = shrink_counted(&input, 2, fails);
        assert_eq!(stopped.items, (50..100).collect::<Vec<u32>>());
        assert!(!stopped.finished);
        assert_eq!(stopped.calls, 2);
        let finished = shrink_counted(&input, u64::MAX, fails);
        assert_eq!(finished.items, [77]);
        assert!(finished.finished);
    }

    #[test]
    fn cutting_each_failure_after_its_failing_item_saves_calls() {
        // Fails at the first 7 that follows a 3; everything after that 7 is
        // never looked at.
        let fails_at = |xs: &[u32]| {
            let three = xs.iter().position(|&x| x == 3)?;
            let seven = xs[three..].iter().position(|&x| x == 7)?;
            Some(three + seven + 1)
        };
        let input: Vec<u32> = (0..400).map(|i| i % 10).collect();
        let cut = shrink_counted(&input, u64::MAX, fails_at);
        let uncut = shrink_counted(&input, u64::MAX, |xs| fails_at(xs).map(|_| xs.len()));
        assert_eq!(cut.items, [3, 7]);
        assert_eq!(uncut.items, [3, 7]);
        assert!(cut.calls < uncut.calls, "{} vs {}", cut.calls, uncut.calls);
    }

    #[test]
    fn a_cut_longer_than_the_candidate_keeps_all_of_it() {
        let shrunk = shrink_counted(&[1, 2, 3], u64::MAX, |xs| {
            (xs.len() == 3).then_some(usize::MAX)
        });
        assert_eq!(shrunk.items, [1, 2, 3]);
        assert!(shrunk.finished);
    }

    #[test]
    fn op_shrinking_stops_in_the_zeroing_phase_too() {
        // Fails while some alloc is larger than 100 bytes.
        let fails = |ops: &[Op]| {
            ops.iter()
                .any(|op| matches!(op, Alloc { size, .. } if *size > 100))
                .then_some(ops.len())
        };
        let big = big_alloc();
        let ops = [alloc(Root), big.clone(), alloc(Root)];
        let removal = shrink_with(&ops, remove_ops, || false, fails);
        assert_eq!(removal.items, [big]);
        let full = shrink_ops_within(&ops, || false, fails);
        assert!(full.finished);
        assert!(full.calls > removal.calls + 2, "{full:?}");
        // Zeroing `size` passes, zeroing `align_log2` fails: stopped there.
        let calls = Cell::new(0);
        let stopped = shrink_ops_within(
            &ops,
            || calls.get() == removal.calls + 2,
            |candidate: &[Op]| {
                calls.set(calls.get() + 1);
                fails(candidate)
            },
        );
        assert!(!stopped.finished);
        assert_eq!(stopped.calls, removal.calls + 2);
        assert!(
            matches!(
                stopped.items[..],
                [Alloc {
                    size: 300,
                    align_log2: 0,
                    tag: 2,
                    ..
                }]
            ),
            "{stopped:?}"
        );
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

    /// An allocation with every data field non-zero, larger than the
    /// 100 bytes the tests' predicates look for.
    fn big_alloc() -> Op {
        Alloc {
            region: Root,
            size: 300,
            align_log2: 4,
            tag: 2,
            fill: 9,
            mismatched_len: true,
        }
    }

    #[test]
    fn op_shrinking_zeroes_the_data_fields_the_failure_does_not_need() {
        // "Fails" while some alloc is larger than 100 bytes.
        let fails = |ops: &[Op]| {
            ops.iter()
                .any(|op| matches!(op, Alloc { size, .. } if *size > 100))
        };
        let big = big_alloc();
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
