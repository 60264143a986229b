//! Calls the driver makes around its checking work, so that a
//! coverage-guided fuzzer can tell the core code an op ran from the core
//! code the checks ran.
//!
//! After each op the driver asks the core a great deal: its invariant
//! checks, its statistics, handle resolutions for the comparison. That code
//! is part of the oracle even though it lives in the core. Counted as
//! coverage, it drowns the op's own edges: its hit counts follow how many
//! objects and regions a check walked, so libFuzzer keeps inputs for
//! growing a little, and pays on every run for edges that every input
//! touches. A fuzz target that restores its coverage counters in
//! [`CheckHooks::leave`] to what [`CheckHooks::enter`] saw counts only what
//! the ops did (`fuzz/fuzz_targets/check_coverage.rs`).

/// A pair of functions the driver calls around each stretch of checking:
/// `enter` before, `leave` after. Stretches never nest, and every `enter`
/// is followed by its `leave`, also when a check finds a divergence.
#[derive(Clone, Copy, Debug)]
pub struct CheckHooks {
    /// Called as a stretch of checking begins.
    pub enter: fn(),
    /// Called as it ends.
    pub leave: fn(),
}

/// One stretch of checking: `enter` on creation, `leave` on drop, so that
/// an early return still ends it.
pub(super) struct Checking(Option<CheckHooks>);

impl Checking {
    pub(super) fn begin(hooks: Option<CheckHooks>) -> Self {
        if let Some(hooks) = hooks {
            (hooks.enter)();
        }
        Checking(hooks)
    }
}

impl Drop for Checking {
    fn drop(&mut self) {
        if let Some(hooks) = self.0 {
            (hooks.leave)();
        }
    }
}
