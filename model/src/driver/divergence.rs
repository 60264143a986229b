//! Structured reports of everything the driver found wrong.

use std::fmt;

use regions::InvariantViolations;

use crate::model::{ObjectId, RegionId};
use crate::op::Op;

/// One disagreement between the core and the model (or a broken invariant).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mismatch {
    /// The op's result differs (`expected` is the model's, `found` the core's
    /// translated into model identities; unknown handles show as `u64::MAX`).
    Outcome {
        /// The model's result.
        expected: String,
        /// The core's result.
        found: String,
    },
    /// A live object's state differs.
    Object {
        /// The object.
        object: ObjectId,
        /// Its core home handle.
        handle: String,
        /// Which part of the state.
        what: &'static str,
        /// The model's value.
        expected: String,
        /// The core's value.
        found: String,
    },
    /// A region's state differs.
    Region {
        /// The region.
        region: RegionId,
        /// Its core handle.
        handle: String,
        /// Which part of the state.
        what: &'static str,
        /// The model's value.
        expected: String,
        /// The core's value.
        found: String,
    },
    /// A registry-wide count differs.
    Registry {
        /// Which count.
        what: &'static str,
        /// The model's value.
        expected: String,
        /// The core's value.
        found: String,
    },
    /// The bijection broke: a handle issued twice, a moved object without a
    /// new home, two live objects sharing a handle.
    Handle {
        /// The core handle.
        handle: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A handle of a dead object or region (or an unknown one) reached
    /// something live.
    StaleReachesLive {
        /// The core handle.
        handle: String,
        /// What it reached.
        reached: String,
    },
    /// A destructor call the model predicts did not happen, happened twice,
    /// happened unpredicted, or received the wrong arguments.
    Destructor {
        /// The object concerned, if known.
        object: Option<ObjectId>,
        /// What is wrong.
        problem: String,
    },
    /// An operation broke a promise of its contract that is not a state
    /// comparison: a `compact` report out of bounds, an
    /// `alloc_slice_fill_with` that called its closure when it failed or not
    /// once per element in order, a new object's handle that is not its
    /// current home.
    Contract {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// `Registry::check_invariants` failed.
    Invariants(InvariantViolations),
    /// The model's own invariant check failed: a model bug.
    Model(String),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Outcome { expected, found } => {
                write!(f, "result: model {expected}, core {found}")
            }
            Mismatch::Object {
                object,
                handle,
                what,
                expected,
                found,
            } => write!(
                f,
                "{object:?} ({handle}) {what}: model {expected}, core {found}"
            ),
            Mismatch::Region {
                region,
                handle,
                what,
                expected,
                found,
            } => write!(
                f,
                "{region:?} ({handle}) {what}: model {expected}, core {found}"
            ),
            Mismatch::Registry {
                what,
                expected,
                found,
            } => {
                write!(f, "registry {what}: model {expected}, core {found}")
            }
            Mismatch::Handle { handle, problem } => write!(f, "handle {handle}: {problem}"),
            Mismatch::StaleReachesLive { handle, reached } => {
                write!(f, "stale or unknown handle {handle} reached {reached}")
            }
            Mismatch::Destructor { object, problem } => match object {
                Some(o) => write!(f, "destructor of {o:?}: {problem}"),
                None => write!(f, "destructor: {problem}"),
            },
            Mismatch::Contract { op, problem } => write!(f, "{op} broke its contract: {problem}"),
            Mismatch::Invariants(violations) => write!(f, "core {violations}"),
            Mismatch::Model(problem) => write!(f, "model invariant broken: {problem}"),
        }
    }
}

/// Everything found wrong after one op (or at teardown). Never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The mismatches, in the order they were found.
    pub mismatches: Vec<Mismatch>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for mismatch in &self.mismatches {
            writeln!(f, "  - {mismatch}")?;
        }
        Ok(())
    }
}

/// A failed run: where it failed, what was wrong, and the model's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Index of the failing op in the run (equal to the number of ops
    /// applied before it); at teardown, the number of ops.
    pub op_index: usize,
    /// The failing op; `None` at teardown (dropping the registry).
    pub op: Option<Op>,
    /// What was wrong.
    pub divergence: Divergence,
    /// The model's state after the op, rendered compactly (region tree,
    /// objects with counts and the first bytes).
    pub model_state: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.op {
            Some(op) => writeln!(f, "divergence at op #{}: {op:?}", self.op_index)?,
            None => writeln!(f, "divergence at teardown, after {} ops", self.op_index)?,
        }
        write!(f, "{}", self.divergence)?;
        writeln!(f, "model state:")?;
        write!(f, "{}", self.model_state)
    }
}

impl std::error::Error for Failure {}
