//! Guards against vacuous testing: seeded random runs must reach the states
//! where bugs hide. If a change to the op distribution (or to the driver)
//! stops them from reaching one, these tests fail and say which.

use regions_model::driver::{decode_ops, random_ops, run, Report};
use regions_model::op::OP_KINDS;

/// Runs `count` op sequences and merges their reports. Every run must pass:
/// a divergence here is a bug like any other.
fn merged(count: u64, ops_for: impl Fn(u64) -> Vec<regions_model::op::Op>) -> Report {
    let mut total = Report::default();
    for seed in 0..count {
        let ops = ops_for(seed);
        match run(&ops) {
            Ok(report) => total.merge(&report),
            Err(failure) => panic!("run {seed} diverged: {failure}"),
        }
    }
    total
}

/// Fails listing every state `report` did not reach (the common goals and
/// `extra`).
fn assert_reached(
    report: &Report,
    minimum_depth: usize,
    minimum_moves: u64,
    extra: &[(&str, bool)],
) {
    let common = [
        (
            "a region death that promoted objects",
            report.reach.deaths_with_promotions > 0,
        ),
        (
            "an object promoted repeatedly",
            report.reach.max_promotions_of_one_object >= minimum_moves,
        ),
        (
            "a destructor call on region death",
            report.destructor_calls_on_region_death > 0,
        ),
        ("a stale handle rejected", report.stale_rejections > 0),
        (
            "a fabricated handle rejected",
            report.fabricated_rejections > 0,
        ),
        (
            "a typed-mismatch rejection",
            report.type_mismatch_rejections > 0,
        ),
        ("nested regions", report.max_region_depth >= minimum_depth),
        (
            "an old handle resolved through a forwarding record",
            report.forwarded_resolutions > 0,
        ),
        ("a recycled region id", report.region_id_recycles > 0),
        ("every op kind", report.ops_by_kind.len() == OP_KINDS),
        (
            "a compaction that moved objects",
            report.compactions_that_moved > 0,
        ),
        (
            "a bulk allocation of at least 2 objects",
            report.largest_bulk_allocation >= 2,
        ),
        (
            "a tracked slice destroyed with its elements dropped",
            report.tracked_slice_elements_dropped > 0,
        ),
        ("a GetSlice type mismatch", report.slice_type_mismatches > 0),
        (
            "a BudgetExceeded rejection",
            report.rejections_of("BudgetExceeded") > 0,
        ),
        (
            "a SizeOverflow rejection",
            report.rejections_of("SizeOverflow") > 0,
        ),
        (
            "a RefcountOverflow rejection",
            report.rejections_of("RefcountOverflow") > 0,
        ),
        (
            "an injected allocation failure that failed an op",
            report.injected_failures > 0,
        ),
        (
            "an op that panicked in a destructor",
            report.panicking_destructor_ops > 0,
        ),
        (
            "a stored reference given back by its container's death",
            report.reach.stored_references_released_by_death > 0,
        ),
        (
            "a NotStored rejection",
            report.rejections_of("NotStored") > 0,
        ),
        (
            "a serialization round trip that copied objects",
            report.reach.objects_copied > 0,
        ),
        (
            "an Unserializable rejection",
            report.rejections_of("Unserializable") > 0,
        ),
        (
            "an iteration that listed objects",
            report.nonempty_iterations > 0,
        ),
        (
            "an iter_mut that changed values",
            report.mutating_iterations > 0,
        ),
        (
            "an alloc_with whose init panicked",
            report.panicked_fills > 0,
        ),
    ];
    let missed: Vec<&str> = common
        .iter()
        .chain(extra)
        .filter(|(_, reached)| !reached)
        .map(|(goal, _)| *goal)
        .collect();
    assert!(
        missed.is_empty(),
        "random runs never reached: {missed:?}\n{report:#?}"
    );
}

#[test]
fn proptest_generator_reaches_the_interesting_states() {
    let report = merged(200, |seed| random_ops(seed, 100));
    let weakly_held_death = report.reach.weakly_held_destroyed_by_death > 0;
    assert_reached(
        &report,
        3,
        3,
        &[
            (
                "a weakly held object destroyed by its region's death",
                weakly_held_death,
            ),
            ("a stored reference unstored", report.reach.unstores > 0),
        ],
    );
}

/// A deterministic byte source standing in for a fuzzer's input.
fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The fuzz target decodes ops with `Arbitrary` (uniform over variants,
/// indices taken modulo): even from unguided bytes it must reach the same
/// states, only less deep. One state is left to the committed corpus (see
/// `docs/TESTING.md`): a weakly held object destroyed by its region's death
/// needs an allocation, a downgrade and a release on the same region and
/// object, which 200 unguided runs reach 0 or 1 times; so is a successful
/// `unstore`, which needs a `StoreHandle` and an `Unstore` naming the same
/// container and object.
#[test]
fn arbitrary_decoding_reaches_the_interesting_states() {
    let report = merged(200, |seed| {
        decode_ops(&pseudo_random_bytes(seed, 2048), 128)
    });
    assert_reached(&report, 3, 2, &[]);
}
