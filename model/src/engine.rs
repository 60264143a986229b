//! What the engines share beyond the [driver](crate::driver): runs that
//! catch panics, soak episodes, shrinking a failing trace, and rendering it
//! as a regression test.
//!
//! The soak runner (`src/bin/soak.rs`) and the repro tool (`src/bin/repro.rs`)
//! are thin command-line front ends over this module, and the fuzz target
//! over [`driver::fuzz_ops`](crate::driver::fuzz_ops); the smoke tests in
//! `tests/fuzz_smoke.rs` call the same functions.
//!
//! ```
//! use regions_model::engine::{episode_ops, episode_seeds, run_caught};
//!
//! // The first episode of the soak run with master seed 1.
//! let seed = episode_seeds(1).next().unwrap();
//! let outcome = run_caught(&episode_ops(seed, 300)).unwrap_or_else(|finding| panic!("{finding}"));
//! assert_eq!(outcome.report.ops, 300);
//! assert!(outcome.live_regions >= 1); // the root, at least
//! ```

mod cli;
mod repro;
mod soak;

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::driver::{Driver, Failure, Report};
use crate::op::Op;
use crate::shrink::shrink_ops_within;

pub use cli::{Flags, FlagsError};
pub use repro::{
    free_test_name, regression_test, regression_test_item, regressions_file, replay,
    write_regression_test, WriteError, BUILT_WITH_SMALL_GENERATIONS,
};
pub use soak::{episode_ops, episode_seeds, Progress, DEFAULT_OPS_PER_EPISODE};

/// What a failing run found. Both are bugs: a panic in the core, the model
/// or the driver is reported like a divergence, never swallowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The driver found the core and the model in disagreement.
    Divergence(Failure),
    /// Something panicked while an op (or the teardown) ran.
    Panic {
        /// Index of the op that panicked; the trace length if the teardown did.
        op_index: usize,
        /// The op that panicked; `None` at teardown.
        op: Option<Op>,
        /// The panic message, with its location when [`capture_panics`] is on.
        message: String,
    },
}

impl Finding {
    /// Index of the op where the run failed (the trace length at teardown).
    pub fn op_index(&self) -> usize {
        match self {
            Finding::Divergence(failure) => failure.op_index,
            Finding::Panic { op_index, .. } => *op_index,
        }
    }

    /// Whether the run failed while an op ran (not at teardown).
    pub fn during_an_op(&self) -> bool {
        match self {
            Finding::Divergence(failure) => failure.op.is_some(),
            Finding::Panic { op, .. } => op.is_some(),
        }
    }

    /// Whether `other` is the same kind of failure (a divergence or a
    /// panic): what the shrinker preserves.
    pub fn same_kind(&self, other: &Finding) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Divergence(failure) => write!(f, "{failure}"),
            Finding::Panic {
                op_index,
                op: Some(op),
                message,
            } => writeln!(f, "panic at op #{op_index}: {op:?}\n  {message}"),
            Finding::Panic {
                op_index,
                op: None,
                message,
            } => writeln!(f, "panic at teardown, after {op_index} ops\n  {message}"),
        }
    }
}

impl std::error::Error for Finding {}

/// What a passing run left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What the run reached.
    pub report: Report,
    /// Objects alive after the last op, before the teardown.
    pub live_objects: usize,
    /// Regions alive after the last op (the root included), before the teardown.
    pub live_regions: usize,
}

/// Like [`driver::run`](crate::driver::run), but a panic anywhere (core,
/// model, driver) becomes a [`Finding::Panic`] instead of unwinding.
pub fn run_caught(ops: &[Op]) -> Result<Outcome, Finding> {
    let mut applied = 0;
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut driver = Driver::new();
        for op in ops {
            driver.apply(op)?;
            applied += 1;
        }
        let model = driver.reference().model();
        let (live_objects, live_regions) = (model.objects().count(), model.regions().count());
        let report = driver.finish()?;
        Ok(Outcome {
            report,
            live_objects,
            live_regions,
        })
    }));
    match caught {
        Ok(result) => result.map_err(Finding::Divergence),
        Err(payload) => Err(Finding::Panic {
            op_index: applied,
            op: ops.get(applied).cloned(),
            message: panic_message(payload),
        }),
    }
}

thread_local! {
    /// The last panic on this thread, as rendered by the [`capture_panics`] hook.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once per process) a panic hook that prints nothing and keeps
/// the panic's message and location for [`run_caught`]. The command-line
/// tools call it first, so that shrinking a panicking trace (hundreds of
/// panics) stays quiet and the report still says where it panicked.
pub fn capture_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let rendered = info.to_string();
            LAST_PANIC.with(|last| *last.borrow_mut() = Some(rendered));
        }));
    });
}

/// The captured rendering of the last panic if the hook is on, else the
/// payload's message.
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(rendered) = LAST_PANIC.with(|last| last.borrow_mut().take()) {
        return rendered;
    }
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(message), _) => (*message).to_owned(),
        (_, Some(message)) => message.clone(),
        _ => "panic with a non-string payload".to_owned(),
    }
}

/// How long the tools shrink a failure unless `--shrink-seconds` says
/// otherwise: enough for every injected bug of `ci/mutants/` to shrink to
/// the end, short enough that a report never looks hung.
pub const DEFAULT_SHRINK_SECONDS: f64 = 30.0;

/// How a shrink ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShrinkEnd {
    /// The search ran to its end: the trace is 1-minimal.
    Finished,
    /// The time budget ran out: the trace is the shortest failing one found.
    OutOfTime,
    /// The budget was zero: the trace is only cut after the failing op.
    Skipped,
}

/// What [`shrink_finding`] did and where it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShrinkReport {
    /// Ops in the failing trace as given.
    pub unshrunk_len: usize,
    /// The trace it ends with: still failing, with a failure of the same kind.
    pub ops: Vec<Op>,
    /// What `ops` finds.
    pub finding: Finding,
    /// Whether the search finished, ran out of time or was skipped.
    pub end: ShrinkEnd,
    /// Runs of candidate traces (the check of the cut trace included).
    pub calls: u64,
    /// Time spent shrinking.
    pub elapsed: Duration,
    /// The budget it had.
    pub budget: Duration,
}

impl ShrinkReport {
    /// One line (no newline): unshrunk and final lengths, how it ended, the
    /// calls and the time.
    pub fn summary(&self) -> String {
        let (len, calls) = (self.ops.len(), self.calls);
        let seconds = self.elapsed.as_secs_f64();
        let budget = self.budget.as_secs_f64();
        match self.end {
            ShrinkEnd::Finished => format!(
                "shrink finished: {} → {len} ops in {seconds:.1} s ({calls} predicate calls, budget {budget} s); the trace is 1-minimal",
                self.unshrunk_len
            ),
            ShrinkEnd::OutOfTime => format!(
                "shrink ran out of time: {} → {len} ops after {seconds:.1} s ({calls} predicate calls, budget {budget} s); the shortest failing trace found, not minimal",
                self.unshrunk_len
            ),
            ShrinkEnd::Skipped => format!(
                "shrink skipped (budget 0 s): {} → {len} ops, only cut after the failing op",
                self.unshrunk_len
            ),
        }
    }
}

/// Shrinks a failing trace for at most `budget`: cuts it after the failing
/// op, then shrinks it with [`shrink_ops_within`] while the run still fails
/// with the same kind of [`Finding`] (a divergence stays a divergence, a
/// panic a panic), telling it where each candidate failed. When the budget
/// runs out it returns the shortest failing trace found so far; a zero
/// budget skips the search.
///
/// # Panics
///
/// If `ops` does not fail with a finding of `finding`'s kind, or the trace
/// it ends with does not fail when run again (a nondeterministic failure).
pub fn shrink_finding(ops: &[Op], finding: &Finding, budget: Duration) -> ShrinkReport {
    let started = Instant::now();
    let cut = &ops[..fails_within(finding, ops.len())];
    let report = |shrunk: Vec<Op>, found: Finding, end, calls| ShrinkReport {
        unshrunk_len: ops.len(),
        ops: shrunk,
        finding: found,
        end,
        calls,
        elapsed: started.elapsed(),
        budget,
    };
    if budget.is_zero() {
        // The run that found `finding` stopped at the failing op, so the
        // cut trace fails the same way without running it again.
        return report(cut.to_vec(), finding.clone(), ShrinkEnd::Skipped, 0);
    }
    let deadline = started + budget;
    let fails_at = |candidate: &[Op]| match run_caught(candidate) {
        Err(found) if found.same_kind(finding) => Some(fails_within(&found, candidate.len())),
        _ => None,
    };
    assert!(
        fails_at(cut).is_some(),
        "the trace to shrink does not fail like this:\n{finding}"
    );
    let shrunk = shrink_ops_within(cut, || Instant::now() >= deadline, fails_at);
    let found = run_caught(&shrunk.items).expect_err("the shrunk trace still fails");
    let end = if shrunk.finished {
        ShrinkEnd::Finished
    } else {
        ShrinkEnd::OutOfTime
    };
    report(shrunk.items, found, end, shrunk.calls + 1)
}

/// How many ops of a trace of `len` ops that failed with `finding` fail the
/// same way: up to the failing op, or all of them at teardown.
fn fails_within(finding: &Finding, len: usize) -> usize {
    if finding.during_an_op() {
        (finding.op_index() + 1).min(len)
    } else {
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::prelude::*;

    #[test]
    fn a_passing_run_reports_what_was_alive_before_teardown() {
        let outcome = run_caught(&[
            CreateRegion { parent: Root },
            AllocTyped {
                region: Region(1),
                kind: U64,
                payload: 5,
            },
        ])
        .unwrap();
        assert_eq!(outcome.report.ops, 2);
        assert_eq!(outcome.live_objects, 1);
        assert_eq!(outcome.live_regions, 2);
    }

    #[test]
    fn panic_payloads_become_messages() {
        assert_eq!(panic_message(Box::new("static")), "static");
        assert_eq!(panic_message(Box::new(String::from("owned"))), "owned");
        assert_eq!(
            panic_message(Box::new(7u8)),
            "panic with a non-string payload"
        );
    }

    #[test]
    fn the_shrink_summary_says_how_the_shrink_ended() {
        let report = |end| ShrinkReport {
            unshrunk_len: 1000,
            ops: vec![CreateRegion { parent: Root }; 12],
            finding: Finding::Panic {
                op_index: 11,
                op: Some(CreateRegion { parent: Root }),
                message: String::new(),
            },
            end,
            calls: 345,
            elapsed: Duration::from_millis(2500),
            budget: Duration::from_secs(30),
        };
        assert_eq!(
            report(ShrinkEnd::Finished).summary(),
            "shrink finished: 1000 → 12 ops in 2.5 s (345 predicate calls, budget 30 s); the trace is 1-minimal"
        );
        assert_eq!(
            report(ShrinkEnd::OutOfTime).summary(),
            "shrink ran out of time: 1000 → 12 ops after 2.5 s (345 predicate calls, budget 30 s); the shortest failing trace found, not minimal"
        );
        assert_eq!(
            report(ShrinkEnd::Skipped).summary(),
            "shrink skipped (budget 0 s): 1000 → 12 ops, only cut after the failing op"
        );
    }

    #[test]
    fn a_failure_needs_the_ops_up_to_the_failing_one() {
        let at = |op_index, op| Finding::Panic {
            op_index,
            op,
            message: String::new(),
        };
        assert_eq!(
            fails_within(&at(4, Some(CreateRegion { parent: Root })), 10),
            5
        );
        assert_eq!(fails_within(&at(10, None), 10), 10);
    }

    #[test]
    fn findings_compare_by_kind() {
        let panic_at = |op_index| Finding::Panic {
            op_index,
            op: None,
            message: String::new(),
        };
        let divergence = Finding::Divergence(Failure {
            op_index: 0,
            op: None,
            divergence: crate::driver::Divergence {
                mismatches: Vec::new(),
            },
            model_state: String::new(),
        });
        assert!(panic_at(1).same_kind(&panic_at(2)));
        assert!(!panic_at(1).same_kind(&divergence));
        assert!(!divergence.during_an_op());
        assert_eq!(panic_at(3).op_index(), 3);
    }
}
