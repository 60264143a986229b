//! The differential driver: one oracle for every engine.
//!
//! A [`Driver`] holds a reference model and a core [`Registry`] (built with
//! [`ARENA_BLOCK_SIZE`] largest blocks, so small sizes already reach arena
//! and dedicated placement) and applies each [`Op`] to both.
//!
//! # What it checks
//!
//! After every op:
//! 1. the result: `Ok` or which error kind (core `OutOfMemory`,
//!    `IdSpaceExhausted` and `TypeTagCollision` are always divergences), the
//!    returned bytes (typed values in a canonical encoding), and every
//!    returned handle, translated through the bijection (see below);
//! 2. the handles: a handle returned for a new object or region, or found
//!    as the new home of a moved object, was never issued before; a result
//!    that must be a current home (alloc, promote, resolve, upgrade) is
//!    exactly the object's current home handle;
//! 3. destructor calls: exactly one per object the model destroyed with a
//!    destructor, with that object's last home handle, tag and bytes, by the
//!    most recently registered destructor for its tag; tracked typed values
//!    are dropped exactly once; nothing else runs;
//! 4. `Registry::check_region_invariants()` of the regions the op touched
//!    (those of at most [`LOCAL_CHECK_LIMIT`] objects);
//! 5. the state of everything the op touched: each object's home region,
//!    strong and weak counts, tag, layout, bytes and data alignment; each
//!    region's refcount, parent, children, object count and objects;
//! 6. the contracts of the newer operations: a `compact` changes nothing
//!    observable (every object of the region is compared and every handle
//!    it ever had is swept) and its report is in bounds (`bytes_moved <=
//!    max_bytes_moved`, no bytes without objects, nothing moved out of an
//!    empty region); `alloc_slice_fill_with` calls its closure once per
//!    element, in order, and never when it fails; every handle `alloc_bulk`
//!    returns is fresh and its object's current home; each element of a
//!    destroyed tracked slice is dropped exactly once (point 3).
//!
//! Point 5 compares each touched region's links, counts and statistics, in
//! time independent of its size. Every [`Driver::with_full_check_every`]
//! ops (default 16; [`FUZZ_FULL_CHECK_EVERY`] in [`fuzz_ops`]), at the end,
//! after an injected allocation failure and after any divergence, it
//! compares everything: `Registry::check_invariants()`, the model's own
//! invariants (its derived indexes recomputed), every live object and
//! region with its object list, and every handle it has ever seen: handles
//! of live objects resolve to their current home, handles of dead objects
//! and regions are rejected.
//!
//! # The bijection
//!
//! The model never reuses an identity and does not predict core ids, so the
//! driver maps core handles to model identities: every handle it has observed
//! for an object (allocation, promotion, the new home after a region death —
//! found with the side-effect-free [`Registry::upgrade`] of the old home, so
//! the driver never compresses a forwarding chain itself) maps to that
//! object's [`ObjectId`]. A handle the driver never saw (fabricated, or a
//! future one) maps to nothing, so the model rejects it and the core must
//! too: that is how "a stale handle never reaches a live object" is checked.
//!
//! # Engines
//!
//! ```
//! use regions_model::driver::{random_ops, run, Driver};
//!
//! // A whole run (fuzz targets, soak runners, repro tools):
//! let ops = random_ops(7, 200);
//! let report = run(&ops).unwrap_or_else(|failure| panic!("{failure}"));
//! assert_eq!(report.ops, 200);
//!
//! // Step by step (the proptest state machine):
//! let mut driver = Driver::new();
//! for op in &ops {
//!     driver.apply(op).unwrap_or_else(|failure| panic!("{failure}"));
//! }
//! let report = driver.finish().unwrap();
//! assert!(report.reach.peak_live_objects > 0);
//! ```

mod api_ops;
mod check_hooks;
mod compare;
mod destructors;
mod divergence;
mod handles;
mod id_set;
mod outcome;
mod reference;
mod report;
mod scale_cap;
pub(crate) mod typed;

use std::alloc::Layout;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use regions::{
    failure, Compaction, Found, ObjectHandle, RegionHandle, Registry, TypeTag, WeakHandle,
};

use crate::model::{Model, ModelError, ObjectId, RegionId};
use crate::op::{
    compact_byte_limit, configure_from_byte, op_strategy_within, Convenient, Iteration, Op,
    OpDecoder, Oversized, SliceKind,
};

use check_hooks::Checking;
use compare::{Comparison, Depth};
use destructors::DestructorLogs;
use handles::Handles;
use outcome::{IdentityQueries, ObjectQueries, Outcome, RegionQueries};
use reference::{
    align_of_log2, bulk_bytes, oversized_len, pattern, ModelOp, Prediction, SCOPED_ALIGN,
    SCOPED_FILL, SCOPED_TAG,
};
use typed::{
    encoding_of, slice_encoding, with_slice_type, with_type, SliceElement, Tracked, TypedValue,
};

pub use check_hooks::CheckHooks;
pub use divergence::{Divergence, Failure, Mismatch};
pub use outcome::Rejection;
pub use reference::{Reference, UNKNOWN_OBJECT, UNKNOWN_REGION};
pub use report::Report;
pub use scale_cap::ScaleCap;

/// Arena block size of the driver's registries: small, so that modest
/// object sizes reach every placement (inline <= 16 bytes, slab classes up
/// to 1 KiB, the large-object pool up to 4 KiB, dedicated above) and regions
/// often fill more than one page.
pub const ARENA_BLOCK_SIZE: usize = 16 * 1024;
/// Largest nursery of the driver's registries: small, so that regions soon
/// outgrow it and the size-class, type and large pools (where pages fill,
/// reopen and coalesce) see most objects, as they do in a long-lived region;
/// the nursery still takes every region's first objects.
pub const NURSERY_BYTES: usize = 256;
/// Largest region (in objects) whose invariants the driver checks after
/// every op that touches it; larger ones wait for the next full comparison,
/// so that an op on one object of a huge region does not cost O(region).
pub const LOCAL_CHECK_LIMIT: usize = 256;
/// Default number of ops between two full comparisons.
pub const DEFAULT_FULL_CHECK_EVERY: usize = 16;

/// An op whose operands are core handles.
type CoreOp = Op<RegionHandle, ObjectHandle, WeakHandle>;

/// What running an op on the core produced besides its outcome.
#[derive(Debug, Default)]
struct CoreExtras {
    /// The token of a tracked value the core dropped because `alloc_typed`
    /// failed.
    dropped_unallocated: Option<u64>,
    /// `compact`'s byte limit and report.
    compaction: Option<(usize, Compaction)>,
    /// `alloc_slice_fill_with`: the element count asked for, and the
    /// indices the closure was called with, in order.
    fill_calls: Option<(usize, Vec<usize>)>,
    /// `SerializeRoundTrip`: the copy's handle map.
    handle_map: Option<regions::HandleMap>,
}

/// What [`Driver::apply`] did with an op that passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// It ran on both sides and every check passed.
    Ran,
    /// It would have grown the run past the driver's [`ScaleCap`], so
    /// neither side ran it.
    SkippedAtScaleCap,
}

/// Runs ops against the reference model and the core and compares them.
/// See the [module documentation](self) for what is checked.
///
/// After an `Err` from [`Driver::apply`] the two sides disagree; the driver
/// may be dropped or inspected, but further ops prove nothing.
pub struct Driver {
    reference: Reference,
    registry: Registry,
    handles: Handles,
    logs: DestructorLogs,
    report: Report,
    /// Rejections by kind, named in [`Driver::report`] (naming them per op
    /// would cost a `format!` each).
    rejections: handles::FastMap<Rejection, u64>,
    full_check_every: usize,
    /// Whether the registry-wide statistics are compared after each op
    /// that passed, or only in the full comparisons.
    global_stats_every_op: bool,
    scale_cap: ScaleCap,
    check_hooks: Option<CheckHooks>,
}

impl Default for Driver {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Driver {
    /// A driver dropped without [`Driver::finish`] (after a divergence, or
    /// mid-trace) still holds objects whose destructors may panic on
    /// purpose; that panic must not replace the divergence being reported.
    fn drop(&mut self) {
        let registry = std::mem::replace(&mut self.registry, Registry::new());
        let _ = panic::catch_unwind(AssertUnwindSafe(|| drop(registry)));
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("ops", &self.report.ops)
            .field("model", &self.reference.model())
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A fresh model and a fresh registry with [`ARENA_BLOCK_SIZE`] blocks
    /// and nurseries of at most [`NURSERY_BYTES`].
    pub fn new() -> Self {
        // A failure armed by an earlier run on this thread must not leak in.
        failure::disarm();
        failure::take_fired();
        let registry = new_registry(
            Registry::builder()
                .arena_block_size(ARENA_BLOCK_SIZE)
                .nursery_bytes(NURSERY_BYTES),
        );
        let reference = Reference::new();
        let handles = Handles::new(registry.root(), reference.model().root());
        Driver {
            reference,
            registry,
            handles,
            logs: DestructorLogs::default(),
            report: Report::default(),
            rejections: Default::default(),
            full_check_every: DEFAULT_FULL_CHECK_EVERY,
            global_stats_every_op: true,
            scale_cap: ScaleCap::EPISODE,
            check_hooks: None,
        }
    }

    /// Compares the full state every `ops` ops (at least 1) instead of
    /// every [`DEFAULT_FULL_CHECK_EVERY`].
    pub fn with_full_check_every(mut self, ops: usize) -> Self {
        self.full_check_every = ops.max(1);
        self
    }

    /// Compares the registry-wide statistics only in the full comparisons,
    /// not after every op: a statistic that goes wrong and stays wrong is
    /// still caught, at the next full comparison instead of at once. The
    /// fuzz target's choice, for speed ([`run_fuzz_input`]).
    pub fn with_global_stats_in_full_checks_only(mut self) -> Self {
        self.global_stats_every_op = false;
        self
    }

    /// Stops growing the run at `cap` instead of [`ScaleCap::EPISODE`].
    pub fn with_scale_cap(mut self, cap: ScaleCap) -> Self {
        self.scale_cap = cap;
        self
    }

    /// Calls `hooks` around every stretch of checking (see [`CheckHooks`]).
    pub fn with_check_hooks(mut self, hooks: CheckHooks) -> Self {
        self.check_hooks = Some(hooks);
        self
    }

    /// The model side (model state and operand tables).
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The core registry under test.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// What the run has reached so far.
    pub fn report(&self) -> Report {
        let mut report = self.report.clone();
        report.reach = self.reference.model().reach().clone();
        report.max_region_depth = self.reference.max_region_depth();
        for (rejection, &count) in &self.rejections {
            *report
                .rejections
                .entry(format!("{rejection:?}"))
                .or_default() += count;
        }
        report
    }

    /// Applies `op` to the model and the core and checks everything the
    /// [module documentation](self) lists.
    pub fn apply(&mut self, op: &Op) -> Result<Applied, Failure> {
        let handles = &self.handles;
        let core_op: CoreOp = op.map_operands(
            |r| handles.core_region(r),
            |o| handles.core_object(o),
            |w| handles.core_weak(w),
        );
        let model_op: ModelOp = core_op.map_operands(
            |&r| handles.region_id(r),
            |&o| handles.object_id(o),
            |&w| handles.object_id(w.object_handle()),
        );
        if !self.scale_cap.admits(self.reference.model(), &model_op) {
            // Skipped on both sides, so the run stays in step.
            self.report.ops_skipped_at_scale_cap += 1;
            self.report.count_op(op);
            return Ok(Applied::SkippedAtScaleCap);
        }
        let mismatches = self.step(op, &core_op, &model_op);
        let op_index = self.report.ops as usize;
        self.report.count_op(op);
        if mismatches.is_empty() {
            Ok(Applied::Ran)
        } else {
            Err(self.failure(op_index, Some(op.clone()), mismatches))
        }
    }

    /// Compares everything one last time, drops the registry (which must
    /// destroy every live object exactly once, running the predicted
    /// destructors) and returns what the run reached.
    pub fn finish(mut self) -> Result<Report, Failure> {
        failure::disarm();
        let mut mismatches = {
            let _checking = Checking::begin(self.check_hooks);
            self.compare_everything()
        };
        let mut report = self.report();
        let op_index = report.ops as usize;
        // The model is not compared again: its registry is dropped in place.
        let destroyed = self.reference.model_mut().drop_registry_states();
        let registry = std::mem::replace(&mut self.registry, Registry::new());
        let panicked = panic::catch_unwind(AssertUnwindSafe(|| drop(registry))).is_err();
        let expected_panic = self.reference.model().panics(&destroyed);
        if panicked != expected_panic {
            mismatches.push(Mismatch::Contract {
                op: "registry drop",
                problem: format!(
                    "panicked: {panicked}, a panicking destructor ran: {expected_panic}"
                ),
            });
        }
        report.panicking_destructor_ops += u64::from(panicked);
        let matched = self.logs.match_calls(&destroyed, &self.handles, None);
        mismatches.extend(matched.mismatches);
        report.tracked_slice_elements_dropped += matched.slice_element_drops;
        if mismatches.is_empty() {
            Ok(report)
        } else {
            Err(self.failure(op_index, None, mismatches))
        }
    }

    fn failure(&self, op_index: usize, op: Option<Op>, mismatches: Vec<Mismatch>) -> Failure {
        Failure {
            op_index,
            op,
            divergence: Divergence { mismatches },
            model_state: describe(self.reference.model()),
        }
    }

    /// One op: apply to both sides, then run every check.
    fn step(&mut self, op: &Op, core_op: &CoreOp, model_op: &ModelOp) -> Vec<Mismatch> {
        let lens_before = self.reference.table_lens();
        // The core runs first: with an allocation failure armed, whether
        // the op meets it decides what the model must predict (the op, or
        // nothing at all).
        let token = self.reference.next_token();
        let hops_before = self.registry.forwarding_hops();
        let scope = Cell::new(None);
        let applied = panic::catch_unwind(AssertUnwindSafe(|| {
            self.apply_to_core(core_op, Some(token), &scope)
        }));
        self.report.forwarded_resolutions += self.registry.forwarding_hops() - hops_before;
        // Everything below checks the op (and ends with any return).
        let _checking = Checking::begin(self.check_hooks);
        let fired = failure::take_fired();
        let mut injected = false;
        let prediction;
        let (found, extras) = match applied {
            Ok((found, extras)) => {
                injected = fired && found.rejection() == Some(Rejection::OUT_OF_MEMORY);
                prediction = if injected {
                    self.report.injected_failures += 1;
                    let refused = self.reference.refused(model_op, self.translate(&found));
                    Prediction {
                        token: Some(token),
                        ..refused
                    }
                } else {
                    self.reference.predict(model_op)
                };
                if self.reference.model().panics(&prediction.destroyed) {
                    return vec![Mismatch::Contract {
                        op: op.kind_name(),
                        problem: "a panicking destructor ran but the operation returned".into(),
                    }];
                }
                (found, extras)
            }
            Err(payload) => {
                prediction = self.reference.predict(model_op);
                let expected = self.reference.model().panics(&prediction.destroyed);
                match outcome_after_panic(core_op, scope.get()) {
                    Some(found) if expected => {
                        self.report.panicking_destructor_ops += 1;
                        (found, CoreExtras::default())
                    }
                    _ => {
                        return vec![Mismatch::Contract {
                            op: op.kind_name(),
                            problem: format!(
                                "unexpected panic: {}",
                                crate::engine::panic_message(payload)
                            ),
                        }]
                    }
                }
            }
        };

        // Homes before the op; a promotion registers its result as the new
        // home before `follow_moves` runs, so the old one is kept here.
        let mut old_homes: Vec<Option<ObjectHandle>> = prediction
            .moved
            .iter()
            .map(|&o| self.handles.home(o))
            .collect();
        let mut mismatches = self.register_new_handles(model_op, &prediction, &found);
        if let Some(map) = &extras.handle_map {
            mismatches.extend(self.register_copies(&prediction, map));
        }
        mismatches.extend(self.check_contracts(model_op, &found, &extras));
        if let Some((_, compaction)) = &extras.compaction {
            self.report.count_compaction(compaction);
        }
        // An object created and moved by the same op (a kept `WithRegion`
        // object) had no home before; its first home is the old one.
        for (old, &o) in old_homes.iter_mut().zip(&prediction.moved) {
            *old = old.or(self.handles.home(o));
        }
        self.follow_moves(&prediction, &old_homes, &mut mismatches);
        let translated = self.translate(&found);
        if translated != prediction.outcome {
            mismatches.push(Mismatch::Outcome {
                expected: format!("{:?}", prediction.outcome),
                found: format!("{translated:?}"),
            });
        }
        let weak = match found {
            Outcome::Weak(Ok(target)) => Some(WeakHandle::from_object_handle(target)),
            _ => None,
        };
        self.handles.push_entries(
            self.reference.regions_from(lens_before.regions),
            self.reference.objects_from(lens_before.objects),
            weak,
        );
        mismatches.extend(self.learn_tags(lens_before.objects));

        let matched = self.logs.match_calls(
            &prediction.destroyed,
            &self.handles,
            extras.dropped_unallocated,
        );
        self.report.destructor_calls += matched.calls;
        self.report.tracked_slice_elements_dropped += matched.slice_element_drops;
        if matches!(op, Op::ReleaseRegion { .. } | Op::WithRegion { .. }) {
            self.report.destructor_calls_on_region_death += matched.calls;
        }
        mismatches.extend(matched.mismatches);
        self.report.count_rejection(&prediction);
        if let Some(rejection) = prediction.outcome.rejection() {
            *self.rejections.entry(rejection).or_default() += 1;
        }
        self.report.count_new_ops(op, &prediction);

        // The core's invariants where the op acted, in regions small enough
        // for that to cost little; the whole registry's (and the model's
        // own) in every full comparison.
        let model = self.reference.model();
        let touched = prediction.touched_regions.iter();
        let touched = touched
            .filter(|&r| model.region_object_count(r) <= LOCAL_CHECK_LIMIT)
            .filter_map(|r| self.handles.region_handle(r));
        if let Err(violations) = self.registry.check_region_invariants(touched) {
            mismatches.push(Mismatch::Invariants(violations));
        }
        mismatches.extend(self.compare_touched(&prediction));
        if matches!(op, Op::Compact { .. }) && prediction.outcome.rejection().is_none() {
            // "Every handle still resolves to the same object": all of them.
            let mut comparison = self.comparison();
            comparison.sweep_handles_of(&prediction.touched_objects);
            mismatches.extend(comparison.mismatches);
        }
        // "Nothing observable changes" after a failure: check all of it;
        // and everything once a divergence shows, for the fullest report.
        let due = (self.report.ops + 1).is_multiple_of(self.full_check_every as u64);
        if injected || due || !mismatches.is_empty() {
            mismatches.extend(self.compare_everything());
        }
        mismatches
    }

    /// Runs `op` on the core. Also returns what the checks need beyond the
    /// outcome ([`CoreExtras`]).
    ///
    /// A `WithRegion` body leaves its handles in `scope`, so that they are
    /// known even if the scope's death panics.
    fn apply_to_core(
        &mut self,
        op: &CoreOp,
        token: Option<u64>,
        scope: &Cell<Option<(RegionHandle, ObjectHandle)>>,
    ) -> (Outcome<ObjectHandle, RegionHandle>, CoreExtras) {
        let reg = &mut self.registry;
        let counters = &mut self.report;
        let mut err = |error: regions::Error| counters.observe_error(error);
        let mut extras = CoreExtras::default();
        let outcome = match *op {
            Op::CreateRegion { parent } => Outcome::Region(reg.create_region(parent).map_err(err)),
            Op::CreateRegionWithBudget { parent, budget } => Outcome::Region(
                reg.create_region_with_budget(parent, u64::from(budget))
                    .map_err(err),
            ),
            Op::BuildRegion {
                parent,
                capacity,
                first_block_log2,
                budget,
            } => {
                let first_block = 1usize
                    .checked_shl(u32::from(first_block_log2))
                    .unwrap_or(usize::MAX);
                let builder = reg
                    .region_builder()
                    .parent(parent)
                    .capacity(usize::from(capacity))
                    .first_block_size(first_block);
                let builder = match budget {
                    Some(budget) => builder.budget(u64::from(budget)),
                    None => builder,
                };
                Outcome::Region(builder.create().map_err(err))
            }
            Op::Unstore { container, object } => {
                Outcome::Done(reg.unstore(container, object).map_err(err))
            }
            Op::Identify { object, other } => Outcome::Identity(IdentityQueries {
                current: reg.current(object).map_err(err),
                alive: reg.is_alive(object),
                same: reg.same_object(object, other),
            }),
            Op::AllocConvenient { region, how } => {
                let token = token.expect("the model issues a token for every op");
                let drops = &self.logs.drops;
                let allocated = api_ops::alloc_convenient(reg, region, how, token, drops, err);
                let default_of_tracked =
                    matches!(how, Convenient::DefaultOf(kind) if kind.info().tracked);
                extras.dropped_unallocated =
                    (default_of_tracked && allocated.rejection().is_some()).then_some(token);
                allocated
            }
            Op::Iterate { region, what } => api_ops::iterate(reg, region, what, err),
            Op::SerializeRoundTrip { region, parent } => {
                let copied = reg
                    .serialize(region)
                    .and_then(|bytes| reg.deserialize(parent, &bytes));
                match copied {
                    Ok((root, map)) => {
                        extras.handle_map = Some(map);
                        Outcome::Region(Ok(root))
                    }
                    Err(error) => Outcome::Region(Err(err(error))),
                }
            }
            Op::SaturateCounts { object } => Outcome::Done(
                reg.set_counts_for_testing(object, u32::MAX - 1, u32::MAX - 1)
                    .map_err(err),
            ),
            Op::SaturateRegionRefcount { region } => Outcome::Done(
                reg.set_region_refcount_for_testing(region, u32::MAX - 1)
                    .map_err(err),
            ),
            Op::AllocOversized { region, what } => match what {
                Oversized::Slice(kind) => {
                    let drops = &self.logs.drops;
                    let mut calls = Vec::new();
                    let (len, allocated) = with_slice_type!(kind, T => {
                        let len = oversized_len(std::mem::size_of::<T>());
                        // Never called: a token no live value has.
                        let fill = |i| {
                            calls.push(i);
                            T::element(i, u64::MAX >> 1, 0, drops)
                        };
                        (len, reg.alloc_slice_fill_with(region, len, fill))
                    });
                    extras.fill_calls = Some((len, calls));
                    Outcome::Object(allocated.map_err(err))
                }
                Oversized::Bulk { count } => {
                    let layout = Layout::from_size_align(regions::MAX_OBJECT_SIZE + 1, 1)
                        .expect("a valid layout");
                    let allocated =
                        reg.alloc_bulk(region, layout, TypeTag(0), usize::from(count), &[]);
                    Outcome::Objects(allocated.map_err(err))
                }
            },
            Op::InjectAllocFailure { after } => {
                failure::fail_after(u64::from(after));
                Outcome::Done(Ok(()))
            }
            Op::Configure {
                arena_block_log2,
                nursery_log2,
                cache_kib,
            } => {
                // Only a registry nothing has happened to yet is replaced.
                if counters.ops == 0 {
                    let nursery = match nursery_log2 {
                        0 => 0,
                        log2 => 1usize << log2.min(30),
                    };
                    let builder = Registry::builder()
                        .arena_block_size(1usize << arena_block_log2.min(30))
                        .nursery_bytes(nursery)
                        .block_cache_bytes(usize::from(cache_kib) * 1024);
                    // Setting up the run is not an operation under test: an
                    // injected failure waits for the ops that follow.
                    *reg = failure::paused(|| new_registry(builder));
                }
                Outcome::Done(Ok(()))
            }
            Op::SetBudget { budget } => {
                reg.set_budget(budget.map(u64::from));
                Outcome::Done(Ok(()))
            }
            Op::RetainRegion { region } => Outcome::Done(reg.retain_region(region).map_err(err)),
            Op::ReleaseRegion { region } => Outcome::Flag(reg.release_region(region).map_err(err)),
            Op::WithRegion { parent, size, keep } => {
                let size = usize::from(size);
                let layout = Layout::from_size_align(size, SCOPED_ALIGN)
                    .expect("a small size and alignment");
                let bytes = pattern(SCOPED_FILL, size);
                // Injected failures skip the scope: which of its steps meets
                // one (creation, the body's allocation, the death) decides
                // what the model must predict, and the core does not say.
                let scoped = failure::paused(|| {
                    reg.with_region(parent, |reg, scoped| {
                        let object = reg.alloc(scoped, layout, &bytes, TypeTag(SCOPED_TAG))?;
                        if keep {
                            reg.retain(object)?;
                        }
                        scope.set(Some((scoped, object)));
                        Ok((scoped, object))
                    })
                });
                Outcome::Scoped(scoped.and_then(|body| body).map_err(err))
            }
            Op::Alloc {
                region,
                size,
                align_log2,
                tag,
                fill,
                mismatched_len,
            } => {
                let size = usize::from(size);
                let layout = Layout::from_size_align(size, align_of_log2(align_log2))
                    .expect("a small size and alignment");
                let bytes = pattern(fill, size + usize::from(mismatched_len));
                Outcome::Object(reg.alloc(region, layout, &bytes, TypeTag(tag)).map_err(err))
            }
            Op::AllocTyped {
                region,
                kind,
                payload,
            } => {
                let token = token.expect("the model issues a token for every typed allocation");
                let drops = &self.logs.drops;
                let allocated =
                    with_type!(kind, T => reg.alloc_typed(region, T::new(token, payload, drops)));
                extras.dropped_unallocated =
                    (allocated.is_err() && kind.info().tracked).then_some(token);
                Outcome::Object(allocated.map_err(err))
            }
            Op::Get { object } => Outcome::Bytes(reg.get(object).map(<[u8]>::to_vec).map_err(err)),
            Op::Write {
                object,
                offset,
                len,
                fill,
            } => {
                let data = pattern(fill, usize::from(len));
                let written = reg
                    .get_mut(object)
                    .map(|bytes| write_clipped(bytes, usize::from(offset), &data));
                Outcome::Done(written.map_err(err))
            }
            Op::GetTyped { object, kind } => {
                let read = with_type!(kind, T => reg.get_typed::<T>(object).map(encoding_of));
                Outcome::Bytes(read.map_err(err))
            }
            Op::SetTyped {
                object,
                kind,
                payload,
            } => {
                let set = with_type!(kind, T => reg.get_typed_mut::<T>(object).map(|value| value.set_payload(payload)));
                Outcome::Done(set.map_err(err))
            }
            Op::Free { object } => Outcome::Done(reg.free(object).map_err(err)),
            Op::Retain { object } => Outcome::Done(reg.retain(object).map_err(err)),
            Op::Release { object } => Outcome::Done(reg.release(object).map_err(err)),
            Op::StoreHandle { container, object } => {
                Outcome::Flag(reg.store_handle(container, object).map_err(err))
            }
            Op::Downgrade { object } => Outcome::Weak(
                reg.downgrade(object)
                    .map(WeakHandle::object_handle)
                    .map_err(err),
            ),
            Op::Upgrade { weak } => Outcome::Upgraded(reg.upgrade(weak)),
            Op::DropWeak { weak } => Outcome::Done(reg.drop_weak(weak).map_err(err)),
            Op::Promote { object, target } => {
                Outcome::Object(reg.promote(object, target).map_err(err))
            }
            Op::Resolve { object } => Outcome::Object(reg.resolve(object).map_err(err)),
            Op::RegionOf { object } => Outcome::Region(reg.region_of(object).map_err(err)),
            Op::RegisterDestructor { tag } => {
                Outcome::Done(self.logs.register(reg, tag, false).map_err(err))
            }
            Op::RegisterPanickingDestructor { tag } => {
                Outcome::Done(self.logs.register(reg, tag, true).map_err(err))
            }
            Op::InspectObject { object } => Outcome::ObjectInfo(ObjectQueries {
                tag: reg.type_tag(object).map(|t| t.0).map_err(&mut err),
                layout: reg
                    .layout_of(object)
                    .map(|l| (l.size(), l.align()))
                    .map_err(&mut err),
                strong: reg.strong_count(object).map_err(&mut err),
                weak: reg.weak_count(object).map_err(&mut err),
                region: reg.region_of(object).map_err(&mut err),
            }),
            Op::InspectRegion { region } => Outcome::RegionInfo(RegionQueries {
                alive: reg.is_region_alive(region),
                refcount: reg.region_refcount(region).map_err(&mut err),
                parent: reg.parent_of(region).map_err(&mut err),
                children: reg
                    .children(region)
                    .map(Iterator::collect)
                    .map_err(&mut err),
                object_count: reg.object_count(region).map_err(&mut err),
                objects: reg.objects(region).map(Iterator::collect).map_err(&mut err),
                stored: reg
                    .stored_in(region)
                    .map(Iterator::collect)
                    .map_err(&mut err),
            }),
            Op::Compact { region, max_bytes } => {
                let limit = compact_byte_limit(max_bytes);
                let compacted = reg.compact(region, limit);
                extras.compaction = compacted.as_ref().ok().map(|report| (limit, *report));
                Outcome::Done(compacted.map(drop).map_err(err))
            }
            Op::AllocSlice {
                region,
                kind,
                len,
                payload,
            } => {
                let len = usize::from(len);
                let drops = &self.logs.drops;
                let allocated = match kind {
                    SliceKind::Bytes => {
                        reg.alloc_slice_copy(region, &slice_values::<u8>(len, payload, drops))
                    }
                    SliceKind::Words => {
                        reg.alloc_slice_copy(region, &slice_values::<u64>(len, payload, drops))
                    }
                    SliceKind::Tracked => {
                        let first = token.expect("the model issues tokens for tracked slices");
                        let mut calls = Vec::new();
                        let allocated = reg.alloc_slice_fill_with(region, len, |i| {
                            calls.push(i);
                            Tracked::<0>::element(i, first, payload, drops)
                        });
                        extras.fill_calls = Some((len, calls));
                        allocated
                    }
                };
                Outcome::Object(allocated.map_err(err))
            }
            Op::GetSlice { object, kind } => {
                let read =
                    with_slice_type!(kind, T => reg.get_slice::<T>(object).map(slice_encoding));
                Outcome::Bytes(read.map_err(err))
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
                let (size, count) = (usize::from(size), usize::from(count));
                let layout = Layout::from_size_align(size, align_of_log2(align_log2))
                    .expect("a small size and alignment");
                let bytes = bulk_bytes(fill, size, count, mismatched_len);
                let allocated = reg.alloc_bulk(region, layout, TypeTag(tag), count, &bytes);
                Outcome::Objects(allocated.map_err(err))
            }
        };
        (outcome, extras)
    }

    /// The contract checks of [`CoreExtras`]: the compaction report's
    /// bounds and `alloc_slice_fill_with`'s closure calls.
    fn check_contracts(
        &self,
        op: &ModelOp,
        found: &Outcome<ObjectHandle, RegionHandle>,
        extras: &CoreExtras,
    ) -> Vec<Mismatch> {
        let mut mismatches = Vec::new();
        if let (Some((limit, report)), Op::Compact { region, .. }) = (extras.compaction, op) {
            let homed = self.reference.model().objects_in(*region).count();
            let problems = [
                (
                    report.bytes_moved > limit,
                    format!("moved more than max_bytes_moved = {limit} bytes"),
                ),
                (
                    report.objects_moved == 0 && report.bytes_moved != 0,
                    "moved bytes but no object".to_string(),
                ),
                (
                    homed == 0 && report.objects_moved != 0,
                    "moved objects of a region that has none".to_string(),
                ),
            ];
            for (broken, problem) in problems {
                if broken {
                    mismatches.push(Mismatch::Contract {
                        op: "compact",
                        problem: format!("{problem}: {report:?}"),
                    });
                }
            }
        }
        if let Some((len, calls)) = &extras.fill_calls {
            let succeeded = found.rejection().is_none();
            let expected: Vec<usize> = if succeeded {
                (0..*len).collect()
            } else {
                Vec::new()
            };
            if *calls != expected {
                let result = if succeeded { "succeeded" } else { "failed" };
                mismatches.push(Mismatch::Contract {
                    op: "alloc_slice_fill_with",
                    problem: format!(
                        "the call {result} and called its closure with indices {calls:?}, \
                         expected {expected:?}"
                    ),
                });
            }
        }
        mismatches
    }

    /// Records the handles of new regions and objects, and of promotion
    /// targets, checking that each is fresh.
    fn register_new_handles(
        &mut self,
        op: &ModelOp,
        prediction: &Prediction,
        found: &Outcome<ObjectHandle, RegionHandle>,
    ) -> Vec<Mismatch> {
        let mut mismatches = Vec::new();
        match (op, &prediction.outcome, found) {
            (
                Op::CreateRegion { .. }
                | Op::CreateRegionWithBudget { .. }
                | Op::BuildRegion { .. },
                Outcome::Region(Ok(r)),
                Outcome::Region(Ok(h)),
            ) => self.register_region_seen(*h, *r, &mut mismatches),
            (
                Op::Alloc { .. }
                | Op::AllocTyped { .. }
                | Op::AllocSlice { .. }
                | Op::AllocConvenient { .. },
                Outcome::Object(Ok(o)),
                Outcome::Object(Ok(h)),
            ) => mismatches.extend(self.handles.register_home(*h, *o).err()),
            (Op::AllocBulk { .. }, Outcome::Objects(Ok(os)), Outcome::Objects(Ok(hs))) => {
                for (&h, &o) in hs.iter().zip(os) {
                    mismatches.extend(self.handles.register_home(h, o).err());
                    // A bulk object's handle must be its home right away,
                    // not a handle that forwards to it.
                    let resolved = self.registry.upgrade(WeakHandle::from_object_handle(h));
                    if resolved != Some(h) {
                        mismatches.push(Mismatch::Contract {
                            op: "alloc_bulk",
                            problem: format!(
                                "returned {h} for {o:?}, which resolves to {resolved:?}"
                            ),
                        });
                    }
                }
            }
            (Op::Promote { .. }, Outcome::Object(Ok(o)), Outcome::Object(Ok(h)))
                if prediction.moved.contains(o) =>
            {
                mismatches.extend(self.handles.register_home(*h, *o).err())
            }
            (Op::WithRegion { .. }, Outcome::Scoped(Ok((r, o))), Outcome::Scoped(Ok((rh, oh)))) => {
                self.register_region_seen(*rh, *r, &mut mismatches);
                mismatches.extend(self.handles.register_home(*oh, *o).err());
            }
            _ => {}
        }
        mismatches
    }

    /// Maps a new region handle to its model region, counting a recycled id.
    fn register_region_seen(
        &mut self,
        h: RegionHandle,
        r: RegionId,
        mismatches: &mut Vec<Mismatch>,
    ) {
        match self.handles.register_region(h, r) {
            Ok(recycled) => self.report.region_id_recycles += u64::from(recycled),
            Err(mismatch) => mismatches.push(mismatch),
        }
    }

    /// Registers the copies a `SerializeRoundTrip` made, pairing each
    /// original with its copy through the core's handle map, and checks
    /// that the map translates every handle each original ever had.
    fn register_copies(
        &mut self,
        prediction: &Prediction,
        map: &regions::HandleMap,
    ) -> Vec<Mismatch> {
        let mut mismatches = Vec::new();
        let Some(copied) = &prediction.copied else {
            return vec![Mismatch::Contract {
                op: "deserialize",
                problem: "the core made a copy the model did not predict".into(),
            }];
        };
        let problem = |what: String| Mismatch::Contract {
            op: "deserialize",
            problem: what,
        };
        for &(old, new) in &copied.regions {
            let old_handle = self.handles.region_handle(old).expect("a known region");
            match map.region(old_handle) {
                Some(h) => mismatches.extend(self.handles.register_region(h, new).err()),
                None => mismatches.push(problem(format!("the map has no copy of {old_handle}"))),
            }
        }
        let copies: BTreeMap<ObjectId, ObjectId> = copied.objects.iter().copied().collect();
        let known: Vec<(ObjectHandle, ObjectId)> = self
            .handles
            .object_handles()
            .filter(|(_, o)| copies.contains_key(o))
            .collect();
        for &(old, new) in &copied.objects {
            let home = self.handles.home(old).expect("a live object");
            match map.get(home) {
                Some(h) => mismatches.extend(self.handles.register_home(h, new).err()),
                None => mismatches.push(problem(format!("the map has no copy of {home}"))),
            }
        }
        for (handle, old) in known {
            let expected = self.handles.home(copies[&old]);
            if map.get(handle) != expected {
                mismatches.push(problem(format!(
                    "the map translates {handle} of {old:?} to {:?}, not {expected:?}",
                    map.get(handle)
                )));
            }
        }
        if map.copies().len() != copied.objects.len() {
            mismatches.push(problem(format!(
                "{} copies made, {} predicted",
                map.copies().len(),
                copied.objects.len()
            )));
        }
        mismatches
    }

    /// Finds the new home of every object the model moved, by resolving its
    /// old home without side effects, and records it.
    fn follow_moves(
        &mut self,
        prediction: &Prediction,
        old_homes: &[Option<ObjectHandle>],
        mismatches: &mut Vec<Mismatch>,
    ) {
        for (&o, &old) in prediction.moved.iter().zip(old_homes) {
            let Some(old) = old else { continue };
            let found = self.registry.upgrade(WeakHandle::from_object_handle(old));
            let current = self.handles.home(o);
            match found {
                // A promotion already registered its result as the new home.
                Some(new) if Some(new) == current && new != old => {}
                Some(new) if new != old => {
                    if let Err(mismatch) = self.handles.register_home(new, o) {
                        mismatches.push(mismatch);
                    }
                }
                _ => mismatches.push(Mismatch::Handle {
                    handle: old.to_string(),
                    problem: format!(
                        "the model moved {o:?}, but its old home resolves to {found:?}"
                    ),
                }),
            }
        }
    }

    /// The core's outcome in model identities.
    fn translate(
        &self,
        found: &Outcome<ObjectHandle, RegionHandle>,
    ) -> Outcome<ObjectId, RegionId> {
        let h = &self.handles;
        let region = |r: &RegionHandle| h.region_id(*r);
        let home = |o: &ObjectHandle| h.home_owner(*o);
        match found {
            Outcome::Done(r) => Outcome::Done(*r),
            Outcome::Flag(r) => Outcome::Flag(*r),
            Outcome::Region(r) => Outcome::Region(r.as_ref().map(region).map_err(|e| *e)),
            Outcome::Object(r) => Outcome::Object(r.as_ref().map(home).map_err(|e| *e)),
            Outcome::Objects(r) => Outcome::Objects(
                r.as_ref()
                    .map(|hs| hs.iter().map(home).collect())
                    .map_err(|e| *e),
            ),
            Outcome::Weak(r) => Outcome::Weak(r.as_ref().map(|o| h.object_id(*o)).map_err(|e| *e)),
            Outcome::Upgraded(o) => Outcome::Upgraded(o.as_ref().map(home)),
            Outcome::Bytes(r) => Outcome::Bytes(r.clone()),
            Outcome::Scoped(r) => Outcome::Scoped(
                r.as_ref()
                    .map(|(rh, oh)| (region(rh), h.object_id(*oh)))
                    .map_err(|e| *e),
            ),
            Outcome::ObjectInfo(q) => Outcome::ObjectInfo(ObjectQueries {
                tag: q.tag.map(|tag| h.model_tag(tag)),
                layout: q.layout,
                strong: q.strong,
                weak: q.weak,
                region: q.region.as_ref().map(region).map_err(|e| *e),
            }),
            Outcome::RegionInfo(q) => Outcome::RegionInfo(RegionQueries {
                alive: q.alive,
                refcount: q.refcount,
                parent: q
                    .parent
                    .as_ref()
                    .map(|p| p.as_ref().map(region))
                    .map_err(|e| *e),
                children: q
                    .children
                    .as_ref()
                    .map(|c| c.iter().map(region).collect())
                    .map_err(|e| *e),
                object_count: q.object_count,
                objects: q
                    .objects
                    .as_ref()
                    .map(|o| o.iter().map(home).collect())
                    .map_err(|e| *e),
                stored: q
                    .stored
                    .as_ref()
                    .map(|o| sorted(o.iter().map(home)))
                    .map_err(|e| *e),
            }),
            Outcome::Identity(q) => Outcome::Identity(IdentityQueries {
                current: q.current.as_ref().map(home).map_err(|e| *e),
                alive: q.alive,
                same: q.same,
            }),
            Outcome::Listed(r) => Outcome::Listed(
                r.as_ref()
                    .map(|list| sorted(list.iter().map(|(o, bytes)| (home(o), bytes.clone()))))
                    .map_err(|e| *e),
            ),
        }
    }

    fn comparison(&self) -> Comparison<'_> {
        Comparison {
            model: self.reference.model(),
            registry: &self.registry,
            handles: &self.handles,
            mismatches: Vec::new(),
        }
    }

    fn compare_touched(&self, prediction: &Prediction) -> Vec<Mismatch> {
        let mut comparison = self.comparison();
        for r in prediction.touched_regions.iter() {
            comparison.region(r, Depth::Figures);
        }
        for o in prediction.touched_objects.iter() {
            comparison.object(o);
        }
        // A rejected op must change no figure; the statistics are compared
        // after every op that may have changed one (unless the driver
        // leaves them to the full comparisons), and in every full
        // comparison (so a rejected op that changed a cumulative counter is
        // caught at the next one at the latest). Reading them costs
        // O(regions) on both sides.
        if self.global_stats_every_op && prediction.outcome.rejection().is_none() {
            comparison.global_stats();
        }
        comparison.mismatches
    }

    /// Learns the core's tag of each type the model gave a new typed
    /// object (see [`Handles::learn_tag`]).
    fn learn_tags(&mut self, objects_before: usize) -> Vec<Mismatch> {
        let mut mismatches = Vec::new();
        for &o in self.reference.objects_from(objects_before) {
            let model = self.reference.model();
            let (Some(state), Some(home)) = (model.object(o), self.handles.home(o)) else {
                continue;
            };
            if !state.typed {
                continue;
            }
            if let Ok(core) = self.registry.type_tag(home) {
                mismatches.extend(self.handles.learn_tag(state.tag, core.0));
            }
        }
        mismatches
    }

    fn compare_everything(&mut self) -> Vec<Mismatch> {
        self.report.full_checks += 1;
        let mut comparison = self.comparison();
        comparison.everything();
        let mut mismatches = comparison.mismatches;
        if let Err(violations) = self.registry.check_invariants() {
            mismatches.push(Mismatch::Invariants(violations));
        }
        if let Err(problem) = self.reference.model().check_invariants() {
            mismatches.push(Mismatch::Model(problem));
        }
        mismatches
    }
}

/// A registry from `builder`, with the driver's serializers registered.
fn new_registry(builder: regions::RegistryBuilder) -> Registry {
    let mut registry = builder.build();
    typed::register_serializers(&mut registry);
    registry
}

/// What an op that panicked because a destructor panicked (after doing all
/// of its work) would have returned: `None` for ops that never destroy.
fn outcome_after_panic(
    op: &CoreOp,
    scope: Option<(RegionHandle, ObjectHandle)>,
) -> Option<Outcome<ObjectHandle, RegionHandle>> {
    match op {
        Op::Free { .. } => Some(Outcome::Done(Ok(()))),
        Op::ReleaseRegion { .. } => Some(Outcome::Flag(Ok(true))),
        Op::WithRegion { .. } => scope.map(|handles| Outcome::Scoped(Ok(handles))),
        _ => None,
    }
}

/// The items, sorted.
pub(crate) fn sorted<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.collect();
    items.sort();
    items
}

/// `get_mut` followed by a copy of `data` to `offset`, clipped at the end
/// (the model's decision 10).
fn write_clipped(bytes: &mut [u8], offset: usize, data: &[u8]) {
    if offset < bytes.len() {
        let len = data.len().min(bytes.len() - offset);
        bytes[offset..offset + len].copy_from_slice(&data[..len]);
    }
}

/// The elements an `AllocSlice` of a `Copy` kind passes.
fn slice_values<T: SliceElement>(len: usize, payload: u64, log: &typed::DropLog) -> Vec<T> {
    (0..len).map(|i| T::element(i, 0, payload, log)).collect()
}

/// A compact rendering of the model: the region tree with refcounts, then
/// each live object with its home, layout, tag, counts and first bytes.
pub fn describe(model: &Model) -> String {
    let mut out = String::new();
    let mut stack = vec![(model.root(), 0)];
    while let Some((r, depth)) = stack.pop() {
        let Some(state) = model.region(r) else {
            continue;
        };
        let _ = writeln!(
            out,
            "{:indent$}{r:?} refcount {}",
            "",
            state.refcount,
            indent = 2 * depth + 2
        );
        stack.extend(state.children.iter().rev().map(|&c| (c, depth + 1)));
    }
    for (o, s) in model.objects() {
        let shown = s.bytes.len().min(16);
        let more = if s.bytes.len() > shown { "…" } else { "" };
        let kind = if s.typed { "typed" } else { "raw" };
        let _ = writeln!(
            out,
            "  {o:?} in {:?}: {kind} size {} align {} tag {:#x} strong {} weak {} moved {}x bytes {:02x?}{more}",
            s.home,
            s.size,
            s.align,
            s.tag,
            s.strong,
            s.weak,
            s.promotions,
            &s.bytes[..shown],
        );
    }
    out
}

/// Applies `ops` to a fresh [`Driver`], then [`Driver::finish`]es it.
pub fn run(ops: &[Op]) -> Result<Report, Failure> {
    run_with(ops, DEFAULT_FULL_CHECK_EVERY)
}

/// [`run`] with a full comparison every `full_check_every` ops (and at the
/// end, and after any divergence or injected failure).
pub fn run_with(ops: &[Op], full_check_every: usize) -> Result<Report, Failure> {
    let mut driver = Driver::new().with_full_check_every(full_check_every);
    for op in ops {
        driver.apply(op)?;
    }
    driver.finish()
}

/// Ops between two full comparisons in [`fuzz_ops`]: most inputs are
/// short, so they get one at the end, where a lasting divergence shows as
/// well as anywhere; libFuzzer's speed is worth more than catching the rare
/// divergence that heals before its input ends.
pub const FUZZ_FULL_CHECK_EVERY: usize = 64;

/// The most ops [`fuzz_ops`] decodes from one input.
pub const MAX_FUZZ_OPS: usize = 64;

/// The fuzz entry point: runs the ops decoded from `data` (at most
/// [`MAX_FUZZ_OPS`], see [`run_fuzz_input`]); panics with the failure and
/// the ops run on a divergence. A fuzz target is
/// `fuzz_target!(|data: &[u8]| regions_model::driver::fuzz_ops(data));`.
pub fn fuzz_ops(data: &[u8]) {
    fuzz_ops_on(fuzz_driver(FUZZ_FULL_CHECK_EVERY), data);
}

/// [`fuzz_ops`] with `hooks` called around the driver's checks: the
/// `ops` target's entry point, which leaves the core code the checks run
/// out of its coverage (see [`CheckHooks`]).
pub fn fuzz_ops_with_check_hooks(data: &[u8], hooks: CheckHooks) {
    fuzz_ops_on(
        fuzz_driver(FUZZ_FULL_CHECK_EVERY).with_check_hooks(hooks),
        data,
    );
}

fn fuzz_ops_on(driver: Driver, data: &[u8]) {
    let mut ops = Vec::new();
    if let Err(failure) = run_fuzz_input_on(driver, data, MAX_FUZZ_OPS, &mut ops) {
        panic!("{failure}\nops:\n{}", format_trace(&ops));
    }
}

/// A fresh driver set up as the fuzz target runs one: a full comparison
/// every `full_check_every` ops, the registry-wide statistics compared in
/// those only, and [`ScaleCap::FUZZ`].
pub fn fuzz_driver(full_check_every: usize) -> Driver {
    Driver::new()
        .with_full_check_every(full_check_every)
        .with_global_stats_in_full_checks_only()
        .with_scale_cap(ScaleCap::FUZZ)
}

/// Runs a fuzz input through a fresh [`fuzz_driver`] (with a full
/// comparison every `full_check_every` ops): at most `max_ops` ops, each
/// decoded just before it runs and aimed at the driver's handle tables as
/// they are then (see [`OpDecoder`]). Each op is pushed onto `ops` before
/// it runs, so on a failure `ops` ends with the failing one; an op skipped
/// at the scale cap is taken off again.
pub fn run_fuzz_input(
    data: &[u8],
    max_ops: usize,
    full_check_every: usize,
    ops: &mut Vec<Op>,
) -> Result<Report, Failure> {
    run_fuzz_input_on(fuzz_driver(full_check_every), data, max_ops, ops)
}

fn run_fuzz_input_on(
    mut driver: Driver,
    data: &[u8],
    max_ops: usize,
    ops: &mut Vec<Op>,
) -> Result<Report, Failure> {
    let mut decoder = OpDecoder::new(data, max_ops);
    while let Some(op) = decoder.next_op(driver.reference().table_lens()) {
        ops.push(op);
        if driver.apply(ops.last().expect("just pushed"))? == Applied::SkippedAtScaleCap {
            // Left out of the trace, which then replays the same way under
            // any larger cap (`repro`, regression tests).
            ops.pop();
        }
    }
    driver.finish()
}

/// The trace a fuzz input decodes to: the ops [`fuzz_ops`] runs, found by
/// running them (see [`run_fuzz_input`]); when the run fails or panics, the
/// trace ends with the op that did. Never fails.
pub fn decode_ops(data: &[u8], max_ops: usize) -> Vec<Op> {
    let mut ops = Vec::new();
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        run_fuzz_input(data, max_ops, FUZZ_FULL_CHECK_EVERY, &mut ops)
    }));
    ops
}

/// `ops` one per line as Rust expressions (`Op::Debug` with
/// [`crate::op::prelude`] imported), ready to paste into a
/// `replay(&[ ... ])` regression test.
pub fn format_trace(ops: &[Op]) -> String {
    ops.iter().map(|op| format!("    {op:?},\n")).collect()
}

/// `count` ops generated from `seed`, deterministically: each op is drawn
/// from [`op_strategy_within`] the table lengths of a [`Reference`] that
/// applies the ops as it goes, so indices always name a handle that exists.
/// The first is the [`Op::Configure`] the seed chooses. The soak runner and
/// the repro tool turn a seed into the same trace.
pub fn random_ops(seed: u64, count: usize) -> Vec<Op> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let mut reference = Reference::new();
    let mut ops = Vec::with_capacity(count);
    // Each episode runs on a registry configuration of its own.
    if count > 0 {
        let configure = configure_from_byte(seed.to_le_bytes().iter().fold(0, |a, b| a ^ b));
        reference.apply(&configure);
        ops.push(configure);
    }
    while ops.len() < count {
        let op = op_strategy_within(reference.table_lens())
            .new_tree(&mut runner)
            .expect("the op strategy never rejects")
            .current();
        reference.apply(&op);
        ops.push(op);
    }
    ops
}

impl Report {
    /// Counts an error the core returned, before it is reduced to a kind.
    fn observe_error(&mut self, error: regions::Error) -> Rejection {
        let retired = matches!(
            error,
            regions::Error::StaleHandle {
                found: Found::Retired,
                ..
            } | regions::Error::InvalidRegion {
                found: Found::Retired,
                ..
            }
        );
        self.retired_ids_seen += u64::from(retired);
        error.into()
    }

    fn count_rejection(&mut self, prediction: &Prediction) {
        let Some(rejection) = prediction.outcome.rejection() else {
            return;
        };
        match rejection {
            Rejection::Kind(ModelError::StaleHandle | ModelError::InvalidRegion)
                if prediction.had_unknown_operand =>
            {
                self.fabricated_rejections += 1
            }
            Rejection::Kind(ModelError::StaleHandle | ModelError::InvalidRegion) => {
                self.stale_rejections += 1
            }
            Rejection::Kind(ModelError::TypeMismatch) => self.type_mismatch_rejections += 1,
            _ => {}
        }
    }

    /// Counts what the newer ops reached: bulk objects, slices, mistyped
    /// slice reads. (Compaction is counted from the core's report.)
    fn count_new_ops(&mut self, op: &Op, prediction: &Prediction) {
        self.promotions_refused_by_an_occupied_budget +=
            u64::from(prediction.refused_by_an_occupied_budget);
        self.unstores_beside_a_neighbour += u64::from(prediction.unstored_beside_a_neighbour);
        match (op, &prediction.outcome) {
            (Op::AllocBulk { .. }, Outcome::Objects(Ok(objects))) => {
                self.bulk_objects_allocated += objects.len() as u64;
                self.largest_bulk_allocation = self.largest_bulk_allocation.max(objects.len());
            }
            (Op::AllocSlice { .. }, Outcome::Object(Ok(_))) => self.slices_allocated += 1,
            (
                Op::GetSlice { .. },
                Outcome::Bytes(Err(Rejection::Kind(ModelError::TypeMismatch))),
            ) => self.slice_type_mismatches += 1,
            (Op::Iterate { what, .. }, Outcome::Listed(Ok(listed))) if !listed.is_empty() => {
                self.nonempty_iterations += 1;
                self.mutating_iterations += u64::from(matches!(what, Iteration::OfTypeMut { .. }));
            }
            (
                Op::AllocConvenient {
                    how: Convenient::FilledInPlace { panics: true, .. },
                    ..
                },
                Outcome::Done(Ok(())),
            ) => self.panicked_fills += 1,
            _ => {}
        }
    }

    /// Counts a compaction step the core reported.
    fn count_compaction(&mut self, report: &Compaction) {
        self.compactions_that_moved += u64::from(report.objects_moved > 0);
        self.objects_moved_by_compaction += report.objects_moved as u64;
        self.blocks_released_by_compaction += report.blocks_released as u64;
    }

    fn count_op(&mut self, op: &Op) {
        self.ops += 1;
        *self.ops_by_kind.entry(op.kind_name()).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::prelude::*;

    #[test]
    fn write_clipped_ignores_bytes_past_the_end() {
        let mut bytes = [0u8; 4];
        write_clipped(&mut bytes, 2, &[1, 2, 3]);
        assert_eq!(bytes, [0, 0, 1, 2]);
        write_clipped(&mut bytes, 4, &[9]);
        assert_eq!(bytes, [0, 0, 1, 2]);
    }

    #[test]
    fn traces_print_as_pasteable_rust() {
        let trace = format_trace(&[CreateRegion { parent: Root }, Free { object: Object(3) }]);
        assert_eq!(
            trace,
            "    CreateRegion { parent: Root },\n    Free { object: Object(3) },\n"
        );
    }

    #[test]
    fn random_ops_are_deterministic_per_seed() {
        assert_eq!(random_ops(3, 50), random_ops(3, 50));
        assert_ne!(random_ops(3, 50), random_ops(4, 50));
    }

    #[test]
    fn a_region_death_with_a_retained_object_promotes_it() {
        let report = run(&[
            CreateRegion { parent: Root },
            Alloc {
                region: Region(1),
                size: 40,
                align_log2: 3,
                tag: 1,
                fill: 1,
                mismatched_len: false,
            },
            Retain { object: Object(0) },
            RegisterDestructor { tag: 1 },
            Alloc {
                region: Region(1),
                size: 3,
                align_log2: 0,
                tag: 1,
                fill: 2,
                mismatched_len: false,
            },
            ReleaseRegion { region: Region(1) },
            Get { object: Object(0) },
            Resolve { object: Object(0) },
        ])
        .unwrap_or_else(|failure| panic!("{failure}"));
        assert_eq!(report.reach.deaths_with_promotions, 1);
        assert_eq!(report.destructor_calls_on_region_death, 1);
    }

    /// Hooks that count their calls, and check that stretches never nest.
    mod counting_hooks {
        use std::cell::Cell;

        thread_local! {
            pub static ENTERED: Cell<u32> = const { Cell::new(0) };
            pub static LEFT: Cell<u32> = const { Cell::new(0) };
        }

        pub fn enter() {
            assert_eq!(ENTERED.get(), LEFT.get(), "a stretch began inside another");
            ENTERED.set(ENTERED.get() + 1);
        }

        pub fn leave() {
            LEFT.set(LEFT.get() + 1);
            assert_eq!(ENTERED.get(), LEFT.get(), "a stretch ended twice");
        }
    }

    #[test]
    fn check_hooks_bracket_each_op_and_the_closing_check() {
        use counting_hooks::{ENTERED, LEFT};
        let hooks = CheckHooks {
            enter: counting_hooks::enter,
            leave: counting_hooks::leave,
        };
        let ops = [
            CreateRegion { parent: Root },
            // Rejected: the model and the core refuse a freed object.
            Free { object: Object(0) },
            ReleaseRegion { region: Region(1) },
        ];
        let mut driver = Driver::new().with_check_hooks(hooks);
        for op in &ops {
            driver
                .apply(op)
                .unwrap_or_else(|failure| panic!("{failure}"));
        }
        assert_eq!((ENTERED.get(), LEFT.get()), (3, 3));
        driver
            .finish()
            .unwrap_or_else(|failure| panic!("{failure}"));
        assert_eq!((ENTERED.get(), LEFT.get()), (4, 4));
    }

    #[test]
    fn fuzz_entry_point_runs_on_arbitrary_bytes() {
        let data: Vec<u8> = (0..8192u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        fuzz_ops(&data);
    }
}
