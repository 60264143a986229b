//! Out of memory, proven: for fixed op traces, fail the k-th allocation the
//! registry makes, for every k. The op that meets the failure must return
//! `OutOfMemory` and change nothing observable (the driver restores the
//! model to before the op and compares everything), or — where the
//! registry can do without that memory — succeed as predicted; either way
//! `check_invariants()` passes after every op, the trace runs to the end,
//! and dropping the registry runs every destructor exactly once.

use regions::failure;
use regions_model::driver::{random_ops, Driver, Report};
use regions_model::op::Op;

/// A fixed trace: seeded random ops without their own injections (the
/// sweep places the one failure itself).
fn trace(seed: u64, len: usize) -> Vec<Op> {
    random_ops(seed, len)
        .into_iter()
        .filter(|op| !matches!(op, Op::InjectAllocFailure { .. }))
        .collect()
}

/// Runs `ops` with the allocation after the first `fail_after` failing
/// (`None`: no failure); returns the report and the allocations made.
fn run(ops: &[Op], fail_after: Option<u64>) -> (Report, u64) {
    let mut driver = Driver::new();
    if let Some(after) = fail_after {
        failure::fail_after(after);
    }
    let start = failure::attempts();
    for (index, op) in ops.iter().enumerate() {
        if let Err(divergence) = driver.apply(op) {
            panic!("failing allocation {fail_after:?}, op #{index} {op:?}:\n{divergence}");
        }
    }
    let made = failure::attempts() - start;
    let report = driver.finish().unwrap_or_else(|divergence| {
        panic!("failing allocation {fail_after:?}, at the end:\n{divergence}")
    });
    (report, made)
}

/// Sweeps every k over one trace; returns (k values swept, ops that failed
/// with the injected `OutOfMemory`).
fn sweep(ops: &[Op]) -> (u64, u64) {
    let (_, allocations) = run(ops, None);
    let mut failed_ops = 0;
    for k in 0..allocations {
        let (report, _) = run(ops, Some(k));
        assert!(
            report.injected_failures <= 1,
            "one failure, at most one failed op"
        );
        failed_ops += report.injected_failures;
    }
    (allocations, failed_ops)
}

#[test]
fn failing_any_one_allocation_changes_nothing_but_the_failed_op() {
    let mut total = 0;
    for seed in [11, 12, 13] {
        let ops = trace(seed, 400);
        let (swept, failed) = sweep(&ops);
        println!("trace seed {seed}: {} ops, swept k over {swept} allocations, {failed} ops failed with OutOfMemory, {} absorbed", ops.len(), swept - failed);
        assert!(
            swept >= 20,
            "seed {seed}: the trace allocates too little to prove anything"
        );
        assert!(
            failed * 2 >= swept,
            "seed {seed}: most failures must reach the caller"
        );
        total += swept;
    }
    println!("swept {total} values of k in all");
}
