//! Named regressions, sled style: each test replays a shrunk op trace
//! through the differential driver, under a one-line postmortem of the root
//! cause. Every bug the harness finds (in the core, the model or the driver)
//! gets one. Traces paste straight from a failure report (`Op` prints as
//! Rust with the op prelude imported).

use regions_model::driver::{run, Report, ScaleCap};
use regions_model::op::prelude::*;
use regions_model::op::COMPACT_UNLIMITED;

/// Runs `ops` through a fresh driver (including teardown) and panics with
/// the full failure report on any divergence.
fn replay(ops: &[Op]) {
    replay_report(ops);
}

/// [`replay`], returning what the run reached (for tests that must also
/// show that the state they are about was reached).
fn replay_report(ops: &[Op]) -> Report {
    run(ops).unwrap_or_else(|failure| panic!("{failure}"))
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

// ---------------------------------------------------------------------------
// The newer operations: typed slices, bulk allocation, compaction. Each test
// shows that the op is checked against the model, not only run.

/// Harness: a typed slice reads back element for element in its own type
/// only; every other access (another element type, the element type itself,
/// bytes, a raw object or a typed value read as a slice) is `TypeMismatch`,
/// and a zero-length slice is an object like any other.
#[test]
fn slice_reads_back_in_its_own_type_only() {
    let report = replay_report(&[
        CreateRegion { parent: Root },
        AllocSlice {
            region: Region(1),
            kind: SliceKind::Words,
            len: 5,
            payload: 0x0123_4567_89ab_cdef,
        },
        GetSlice {
            object: Object(0),
            kind: SliceKind::Words,
        },
        GetSlice {
            object: Object(0),
            kind: SliceKind::Bytes,
        },
        GetTyped {
            object: Object(0),
            kind: U64,
        },
        Get { object: Object(0) },
        InspectObject { object: Object(0) },
        AllocTyped {
            region: Region(1),
            kind: U64,
            payload: 7,
        },
        GetSlice {
            object: Object(1),
            kind: SliceKind::Words,
        },
        Alloc {
            region: Region(1),
            size: 8,
            align_log2: 3,
            tag: 1,
            fill: 3,
            mismatched_len: false,
        },
        GetSlice {
            object: Object(2),
            kind: SliceKind::Bytes,
        },
        AllocSlice {
            region: Region(1),
            kind: SliceKind::Bytes,
            len: 0,
            payload: 1,
        },
        GetSlice {
            object: Object(3),
            kind: SliceKind::Bytes,
        },
        InspectRegion { region: Region(1) },
        AllocSlice {
            region: FakeRegion {
                id: 7,
                generation: 3,
            },
            kind: SliceKind::Bytes,
            len: 3,
            payload: 1,
        },
    ]);
    assert_eq!(report.slices_allocated, 2);
    assert_eq!(report.slice_type_mismatches, 3);
    assert_eq!(report.type_mismatch_rejections, 5);
}

/// Core: typed pools were keyed by type alone, so a `[T]` longer than the
/// first `[T]` of its region went into a chunk of the first one's size
/// class (a heap overflow into the next chunk; `check_invariants`: "is not
/// a chunk of slab page"). Found by the reach test as soon as slices were
/// generated. Fixed in the core: a typed pool serves one size class (its key
/// is the type and the class).
#[test]
fn slices_of_one_type_and_different_sizes_get_chunks_of_their_own_size() {
    replay(&[
        Alloc {
            region: Region(0),
            size: 52,
            align_log2: 0,
            tag: 0,
            fill: 0,
            mismatched_len: false,
        },
        AllocSlice {
            region: Region(0),
            kind: SliceKind::Words,
            len: 11,
            payload: 10152358647505765971,
        },
        AllocSlice {
            region: Region(0),
            kind: SliceKind::Words,
            len: 31,
            payload: 17785138044752083527,
        },
    ]);
}

/// Core, same root cause as above, through promotion: a `[u64]` of 40 bytes
/// promoted into a region whose `[u64]` pool serves 32-byte chunks (made by
/// a 24-byte `[u64]`) was copied into one of them. A fix must cover every
/// path that places a typed object (allocation, promotion, region death);
/// the fix keys the pool by type and size class, which covers all three.
#[test]
fn a_slice_promoted_into_a_region_with_shorter_slices_of_its_type_keeps_its_size() {
    replay(&[
        CreateRegion { parent: Root },
        AllocSlice {
            region: Region(1),
            kind: SliceKind::Bytes,
            len: 113,
            payload: 1,
        },
        AllocSlice {
            region: Region(1),
            kind: SliceKind::Words,
            len: 3,
            payload: 2,
        },
        AllocSlice {
            region: Root,
            kind: SliceKind::Words,
            len: 5,
            payload: 3,
        },
        Promote {
            object: Object(2),
            target: Region(1),
        },
        GetSlice {
            object: Object(3),
            kind: SliceKind::Words,
        },
    ]);
}

/// Harness: every element of a tracked slice carries its own token and is
/// dropped exactly once when the slice is destroyed: by `free`, by region
/// death, and by dropping the registry; a retained slice survives its
/// region's death (promoted, no drop) and is dropped at teardown; a failed
/// `alloc_slice_fill_with` never calls its closure.
#[test]
fn tracked_slice_elements_drop_once_at_free_death_and_teardown() {
    let report = replay_report(&[
        CreateRegion { parent: Root },
        AllocSlice {
            region: Region(1),
            kind: SliceKind::Tracked,
            len: 3,
            payload: 1,
        },
        Free { object: Object(0) },
        AllocSlice {
            region: Region(1),
            kind: SliceKind::Tracked,
            len: 4,
            payload: 2,
        },
        AllocSlice {
            region: Region(1),
            kind: SliceKind::Tracked,
            len: 2,
            payload: 3,
        },
        Retain { object: Object(2) },
        AllocSlice {
            region: Region(1),
            kind: SliceKind::Tracked,
            len: 0,
            payload: 4,
        },
        ReleaseRegion { region: Region(1) },
        GetSlice {
            object: Object(2),
            kind: SliceKind::Tracked,
        },
        // Into the dead region: fails, and the closure is never called.
        AllocSlice {
            region: Region(1),
            kind: SliceKind::Tracked,
            len: 2,
            payload: 6,
        },
        AllocSlice {
            region: Root,
            kind: SliceKind::Tracked,
            len: 150,
            payload: 5,
        },
        GetSlice {
            object: Object(5),
            kind: SliceKind::Tracked,
        },
    ]);
    // 3 freed, 4 at death, then 2 (promoted) + 150 at teardown.
    assert_eq!(report.tracked_slice_elements_dropped, 3 + 4 + 2 + 150);
    assert_eq!(report.reach.deaths_with_promotions, 1);
}

/// Harness: `alloc_bulk` returns fresh home handles in order, one per
/// object, each holding its own pattern; when their region dies, the one
/// retained bulk object is promoted to the parent (old handle forwards) and
/// the others are destroyed by the registered destructor.
#[test]
fn bulk_objects_are_fresh_homes_and_one_is_promoted_by_region_death() {
    let report = replay_report(&[
        CreateRegion { parent: Root },
        RegisterDestructor { tag: 2 },
        AllocBulk {
            region: Region(1),
            size: 24,
            align_log2: 3,
            tag: 2,
            count: 4,
            fill: 9,
            mismatched_len: false,
        },
        Get { object: Object(3) },
        Retain { object: Object(2) },
        InspectRegion { region: Region(1) },
        ReleaseRegion { region: Region(1) },
        Get { object: Object(2) },
        Resolve { object: Object(2) },
        Get { object: Object(4) },
        InspectRegion { region: Root },
    ]);
    assert_eq!(report.bulk_objects_allocated, 4);
    assert_eq!(report.largest_bulk_allocation, 4);
    assert_eq!(report.reach.promotions_by_death, 1);
    assert_eq!(report.destructor_calls_on_region_death, 3);
    assert!(report.forwarded_resolutions > 0);
}

/// Harness: `alloc_bulk`'s errors come in the documented order and change
/// nothing: invalid region, then reserved tag, then size mismatch (also
/// with no objects), then unsupported alignment; no objects is `Ok`.
#[test]
fn bulk_allocation_errors_follow_the_precedence() {
    let report = replay_report(&[
        AllocBulk {
            region: FakeRegion {
                id: 6,
                generation: 2,
            },
            size: 8,
            align_log2: 13,
            tag: 1 << 63,
            count: 2,
            fill: 0,
            mismatched_len: true,
        },
        AllocBulk {
            region: Root,
            size: 8,
            align_log2: 13,
            tag: 1 << 63,
            count: 2,
            fill: 0,
            mismatched_len: true,
        },
        AllocBulk {
            region: Root,
            size: 8,
            align_log2: 13,
            tag: 1,
            count: 2,
            fill: 0,
            mismatched_len: true,
        },
        AllocBulk {
            region: Root,
            size: 8,
            align_log2: 13,
            tag: 1,
            count: 0,
            fill: 0,
            mismatched_len: true,
        },
        AllocBulk {
            region: Root,
            size: 8,
            align_log2: 13,
            tag: 1,
            count: 2,
            fill: 0,
            mismatched_len: false,
        },
        AllocBulk {
            region: Root,
            size: 8,
            align_log2: 3,
            tag: 1,
            count: 0,
            fill: 0,
            mismatched_len: false,
        },
        InspectRegion { region: Root },
    ]);
    let rejected = |kind: &str| report.rejections.get(kind).copied().unwrap_or(0);
    assert_eq!(rejected("Kind(InvalidRegion)"), 1);
    assert_eq!(rejected("Kind(ReservedTypeTag)"), 1);
    assert_eq!(rejected("Kind(SizeMismatch)"), 2);
    assert_eq!(rejected("Kind(UnsupportedAlignment)"), 1);
    assert_eq!(report.bulk_objects_allocated, 0);
}

/// Harness: a compaction after frees moves objects between the region's
/// pages (first a partial step of at most 32 bytes, then an unlimited one)
/// and nothing observable changes: every object of the region is compared
/// and every handle it ever had (one forwards after a promotion) is swept.
#[test]
fn compaction_after_frees_moves_objects_and_changes_nothing_observable() {
    let mut ops = vec![CreateRegion { parent: Root }];
    for fill in [0, 10, 20] {
        ops.push(AllocBulk {
            region: Region(1),
            size: 24,
            align_log2: 3,
            tag: 1,
            count: 10,
            fill,
            mismatched_len: false,
        });
    }
    ops.extend([
        CreateRegion { parent: Region(1) },
        Promote {
            object: Object(29),
            target: Region(2),
        },
        Promote {
            object: Object(30),
            target: Region(1),
        },
        Retain { object: Object(28) },
        Downgrade { object: Object(27) },
    ]);
    for i in [1, 2, 3, 5, 8, 13, 21] {
        ops.push(Free { object: Object(i) });
    }
    ops.extend([
        Compact {
            region: Region(1),
            max_bytes: 2,
        },
        Compact {
            region: Region(1),
            max_bytes: COMPACT_UNLIMITED,
        },
        Compact {
            region: Region(1),
            max_bytes: 0,
        },
        Compact {
            region: Root,
            max_bytes: COMPACT_UNLIMITED,
        },
        Get { object: Object(29) },
        Resolve { object: Object(29) },
        ReleaseRegion { region: Region(2) },
        ReleaseRegion { region: Region(1) },
        Get { object: Object(28) },
        Compact {
            region: Region(1),
            max_bytes: COMPACT_UNLIMITED,
        },
    ]);
    let report = replay_report(&ops);
    assert!(report.compactions_that_moved >= 1, "{report:#?}");
    assert!(report.objects_moved_by_compaction >= 2, "{report:#?}");
    assert_eq!(report.rejections.get("Kind(InvalidRegion)"), Some(&1));
}

/// Harness: a tracked slice big enough for a large page is moved by
/// compaction (its elements are moved, not dropped) and still dropped
/// exactly once, element by element, when freed afterwards.
#[test]
fn compaction_moves_a_tracked_slice_without_dropping_it() {
    // 2400-byte slices: the first opens the nursery, the others fill large
    // pages of 4, 8 and 16 KiB (1, 3 and 1 slices).
    let mut ops = vec![CreateRegion { parent: Root }];
    for payload in 0..6 {
        ops.push(AllocSlice {
            region: Region(1),
            kind: SliceKind::Tracked,
            len: 150,
            payload,
        });
    }
    ops.extend([
        Free { object: Object(2) },
        Free { object: Object(3) },
        Compact {
            region: Region(1),
            max_bytes: COMPACT_UNLIMITED,
        },
        GetSlice {
            object: Object(1),
            kind: SliceKind::Tracked,
        },
        GetSlice {
            object: Object(5),
            kind: SliceKind::Tracked,
        },
        Free { object: Object(1) },
        Free { object: Object(5) },
    ]);
    let report = replay_report(&ops);
    assert!(report.compactions_that_moved >= 1, "{report:#?}");
    // 2 freed before, 2 after the compaction, 2 at teardown.
    assert_eq!(report.tracked_slice_elements_dropped, 6 * 150);
}

/// Core: an `alloc_with` whose `init` panicked removed its half-made
/// object but left it counted in the peaks (`peak_objects`,
/// `peak_payload_bytes`), though no object ever existed. Found by the
/// injected-failure sweep the day `AllocConvenient` joined the op language.
/// Fix: the discard restores the peaks taken before the allocation (also
/// for `alloc_slice_fill_with`).
#[test]
fn a_panicking_alloc_with_leaves_the_peaks_unchanged() {
    replay(&[
        AllocConvenient {
            region: Root,
            how: FilledInPlace {
                size: 5000,
                align_log2: 3,
                tag: 3,
                fill: 1,
                panics: true,
            },
        },
        Alloc {
            region: Root,
            size: 8,
            align_log2: 3,
            tag: 1,
            fill: 2,
            mismatched_len: false,
        },
    ]);
}

/// Core: a `store_handle` that met an allocation failure after making its
/// container's (empty) list of records left that list behind, unflagged
/// (`check_invariants` violation; a failed operation must change nothing).
/// Fix: a failed store drops the list again if it has no record.
#[test]
fn a_store_handle_that_fails_leaves_no_empty_list() {
    for after in 0..4 {
        replay(&[
            CreateRegion { parent: Root },
            AllocTyped {
                region: Root,
                kind: U64,
                payload: 1,
            },
            InjectAllocFailure { after },
            StoreHandle {
                container: Region(1),
                object: Object(0),
            },
            InspectRegion { region: Region(1) },
        ]);
    }
}

/// Core: a region builder whose capacity could not be reserved undid the
/// region by releasing it, which counted one region created and one dead
/// (global statistics diverged; a failed operation changes nothing). Fix:
/// the undone region is taken out of the counters again.
#[test]
fn a_region_build_that_fails_counts_no_region() {
    for after in 0..3 {
        replay(&[
            InjectAllocFailure { after },
            BuildRegion {
                parent: Root,
                capacity: 1648,
                first_block_log2: 20,
                budget: None,
            },
        ]);
    }
}

/// Core: a `deserialize` that met an allocation failure while reserving a
/// new region's slot table (after creating the region, before listing it
/// for the undo) left that region behind, an extra child of the copy's
/// parent (a failed operation must change nothing). Found by the soak
/// (episode seed 28523747498844217, 722 ops after shrinking). Fix: each
/// region is listed for the undo as soon as it exists.
#[test]
fn a_round_trip_that_fails_half_way_leaves_no_region_behind() {
    for after in 0..100 {
        replay(&[
            CreateRegion { parent: Root },
            CreateRegion { parent: Region(1) },
            Alloc {
                region: Region(2),
                size: 40,
                align_log2: 3,
                tag: 1,
                fill: 5,
                mismatched_len: false,
            },
            AllocTyped {
                region: Region(1),
                kind: U64,
                payload: 9,
            },
            AllocTyped {
                region: Region(2),
                kind: Page,
                payload: 8,
            },
            InjectAllocFailure { after },
            SerializeRoundTrip {
                region: Region(1),
                parent: Root,
            },
            InspectRegion { region: Root },
        ]);
    }
}

/// Core (found by the typed kind `I64`, which shares `u64`'s layout, once
/// the model stopped taking its type identities from `typed_tag`): in the
/// harness's release build, rustc folded `typed_tag`'s hash of the
/// `TypeId` at compile time to one value for every type, so the second
/// typed type a registry met (here `i64` after the `u64` serializer) failed
/// with `TypeTagCollision`. Debug builds hashed at run time and passed.
/// Fix: the `TypeId` goes through `black_box` before it is hashed.
#[test]
fn types_of_one_layout_get_tags_of_their_own() {
    replay(&[
        AllocTyped {
            region: Root,
            kind: U64,
            payload: 1,
        },
        AllocTyped {
            region: Root,
            kind: I64,
            payload: 2,
        },
        GetTyped {
            object: Object(0),
            kind: I64,
        },
        GetTyped {
            object: Object(1),
            kind: U64,
        },
    ]);
}

/// Harness (found by `cargo fuzz run ops`, as an out-of-memory artifact of
/// 120 bytes): each round trip of a region into itself copies the copies
/// made before, so thirty of them would make 2^30 objects, and libFuzzer
/// stopped the campaign at its 2 GB limit. Fix: the driver stops growing a
/// run at its `ScaleCap` (live objects, bytes, regions), skipping every op
/// that would carry the run past it, on both sides.
#[test]
fn a_run_stops_growing_at_the_scale_cap() {
    let mut ops = vec![
        CreateRegion { parent: Root },
        AllocBulk {
            region: Region(1),
            size: 8,
            align_log2: 3,
            tag: 1,
            count: 100,
            fill: 7,
            mismatched_len: false,
        },
    ];
    ops.extend((0..30).map(|_| SerializeRoundTrip {
        region: Region(1),
        parent: Region(1),
    }));
    let report = replay_report(&ops);
    assert!(report.ops_skipped_at_scale_cap > 0);
    let peak = report.reach.peak_live_objects;
    let cap = ScaleCap::EPISODE.objects;
    assert!((cap / 2..=cap + 1).contains(&peak), "peak {peak}");
}
