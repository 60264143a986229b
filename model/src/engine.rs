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

use crate::driver::{Driver, Failure, Report};
use crate::op::Op;
use crate::shrink::shrink_ops;

pub use cli::{Flags, FlagsError};
pub use repro::{regression_test, replay, BUILT_WITH_SMALL_GENERATIONS};
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

/// Shrinks a failing trace: cuts it after the failing op, then removes ops
/// with [`shrink_ops`] while the run still fails with the same kind of
/// [`Finding`] (a divergence stays a divergence, a panic a panic). Returns
/// the shrunk trace and what it finds.
///
/// # Panics
///
/// If `ops` does not fail with a finding of `finding`'s kind.
pub fn shrink_finding(ops: &[Op], finding: &Finding) -> (Vec<Op>, Finding) {
    let cut = if finding.during_an_op() {
        &ops[..(finding.op_index() + 1).min(ops.len())]
    } else {
        ops
    };
    let fails_alike = |candidate: &[Op]| {
        run_caught(candidate)
            .err()
            .is_some_and(|found| found.same_kind(finding))
    };
    assert!(
        fails_alike(cut),
        "the trace to shrink does not fail like this:\n{finding}"
    );
    let shrunk = shrink_ops(cut, fails_alike);
    let found = run_caught(&shrunk).expect_err("the shrunk trace still fails");
    (shrunk, found)
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
