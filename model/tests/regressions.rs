//! Named regressions, sled style: each test replays a shrunk op trace
//! through the differential driver, under a one-line postmortem of the root
//! cause. Every bug the harness finds (in the core, the model or the driver)
//! gets one. Traces paste straight from a failure report (`Op` prints as
//! Rust with the op prelude imported).

use regions_model::driver::run;
use regions_model::op::prelude::*;

/// Runs `ops` through a fresh driver (including teardown) and panics with
/// the full failure report on any divergence.
fn replay(ops: &[Op]) {
    if let Err(failure) = run(ops) {
        panic!("{failure}");
    }
}

/// Core: a region's own forwarding record pointing at another of its slots
/// (object promoted out and back, then the chain compressed) was copied
/// verbatim into the ghost table at death, so the table forwarded into its
/// own dead region (`check_invariants` violation). Fix: death follows such
/// records out of the dying region, or drops them if the object died with it.
#[test]
fn ghost_table_never_forwards_into_its_own_dead_region() {
    replay(&[
        CreateRegion { parent: Root },
        Alloc {
            region: Region(1),
            size: 1,
            align_log2: 0,
            tag: 0,
            fill: 0,
            mismatched_len: false,
        },
        CreateRegion { parent: Region(1) },
        Promote {
            object: Object(0),
            target: Region(2),
        },
        Promote {
            object: Object(1),
            target: Region(1),
        },
        Resolve { object: Object(0) },
        ReleaseRegion { region: Region(1) },
    ]);
}

/// Core, same root cause as above, survivor side: when the round-tripped
/// object is retained it is promoted at death, and the redirected record of
/// its first handle must lead to its new home in the parent.
#[test]
fn first_handle_of_a_round_tripped_object_follows_it_out_of_a_dead_region() {
    replay(&[
        CreateRegion { parent: Root },
        Alloc {
            region: Region(1),
            size: 24,
            align_log2: 3,
            tag: 1,
            fill: 9,
            mismatched_len: false,
        },
        CreateRegion { parent: Region(1) },
        Promote {
            object: Object(0),
            target: Region(2),
        },
        Promote {
            object: Object(1),
            target: Region(1),
        },
        Resolve { object: Object(0) },
        Retain { object: Object(2) },
        ReleaseRegion { region: Region(1) },
        Get { object: Object(0) },
        Resolve { object: Object(0) },
        Free { object: Object(0) },
        Resolve { object: Object(3) },
    ]);
}

/// Driver: an object created and moved by the same op (kept by a
/// `WithRegion` body) had no recorded home before the op, so its new home in
/// the parent was never found and the parent's object list looked foreign.
#[test]
fn object_kept_by_a_scoped_region_is_followed_to_the_parent() {
    replay(&[
        CreateRegion { parent: Root },
        WithRegion {
            parent: Region(1),
            size: 15,
            keep: true,
        },
        Get { object: Object(0) },
        InspectRegion { region: Region(1) },
        ReleaseRegion { region: Region(1) },
        Get { object: Object(0) },
    ]);
}

/// Driver: `pattern` multiplied `u8`s without wrapping and overflowed in
/// debug builds for contents of 9 bytes or more.
#[test]
fn contents_longer_than_eight_bytes_are_generated_without_overflow() {
    replay(&[
        Alloc {
            region: Root,
            size: 300,
            align_log2: 4,
            tag: 2,
            fill: 255,
            mismatched_len: false,
        },
        Write {
            object: Object(0),
            offset: 3,
            len: 32,
            fill: 200,
        },
        Get { object: Object(0) },
    ]);
}
