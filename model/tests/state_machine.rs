//! The proptest state machine: random op sequences, run by the differential
//! driver, shrunk to a minimal failing sequence on a divergence.
//!
//! The reference state machine is a [`Reference`] (the model plus the operand
//! tables); it generates ops whose table indices are in range and re-checks
//! them in `preconditions`, because shrinking can delete the op that created
//! a handle. The system under test is a [`Driver`], which holds its own model
//! and the core and checks every op (it panics with the full failure report,
//! which proptest catches and shrinks).
//!
//! Cases: `PROPTEST_CASES` (default 256), each of 64 to 256 ops. Failures are
//! persisted in the workspace's `proptest-regressions/state_machine.txt` and
//! replayed first on every run.

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use regions_model::driver::{Driver, Reference};
use regions_model::op::{op_strategy_within, Op};

/// Default number of cases when `PROPTEST_CASES` is not set.
const DEFAULT_CASES: u32 = 256;

/// The reference side: generates in-range ops and tracks table lengths.
struct RegionsReference;

impl ReferenceStateMachine for RegionsReference {
    type State = Reference;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Reference> {
        Just(Reference::new()).boxed()
    }

    fn transitions(state: &Reference) -> BoxedStrategy<Op> {
        op_strategy_within(state.table_lens())
    }

    fn apply(mut state: Reference, op: &Op) -> Reference {
        state.apply(op);
        state
    }

    fn preconditions(state: &Reference, op: &Op) -> bool {
        op.operands_within(state.table_lens())
    }
}

/// The system under test: the driver (model + core).
struct DifferentialTest;

impl StateMachineTest for DifferentialTest {
    type SystemUnderTest = Driver;
    type Reference = RegionsReference;

    fn init_test(_: &Reference) -> Driver {
        Driver::new()
    }

    fn apply(mut driver: Driver, _: &Reference, op: Op) -> Driver {
        if let Err(failure) = driver.apply(&op) {
            panic!("{failure}");
        }
        driver
    }

    fn teardown(driver: Driver) {
        if let Err(failure) = driver.finish() {
            panic!("{failure}");
        }
    }
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        // Relative to the crate directory, where `cargo test` runs tests.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "../proptest-regressions/state_machine.txt",
        ))),
        ..Config::default()
    }
}

prop_state_machine! {
    #![proptest_config(config())]

    #[test]
    fn model_and_core_agree(sequential 64..256 => DifferentialTest);
}
