//! The round-trip property: after any op sequence, serializing any region
//! (the root included) and deserializing it under any region gives a copy
//! equivalent to the original under the handle map — same tree shape,
//! contents, tags, layouts, counts and stored references, and every handle
//! the originals ever had translating to their copies. The driver checks
//! all of it against the model's copy (`Model::serialize_round_trip`) and
//! compares the whole state at the end.

use proptest::prelude::*;
use regions_model::driver::{random_ops, run};
use regions_model::op::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn deserialize_of_serialize_is_equivalent_under_the_handle_map(
        seed in any::<u64>(),
        len in 10usize..200,
        region in any::<u16>(),
        parent in any::<u16>(),
    ) {
        let mut ops = random_ops(seed, len);
        ops.extend([
            SerializeRoundTrip { region: Region(region), parent: Region(parent) },
            SerializeRoundTrip { region: Root, parent: Region(parent) },
            InspectRegion { region: Region(parent) },
        ]);
        let report = run(&ops).map_err(|failure| TestCaseError::fail(failure.to_string()))?;
        prop_assert!(report.ops_by_kind.contains_key("SerializeRoundTrip"));
    }
}

/// A valid stream whose copy would exceed the decoder's memory limit is
/// refused (`CorruptInput`), as the model predicts from `docs/FORMAT.md`'s
/// limit: twenty one-byte objects aligned to 4096 need about 86 KB, their
/// stream about 1 KB.
#[test]
fn a_copy_beyond_the_decoders_limit_is_refused_as_predicted() {
    let report = run(&[
        CreateRegion { parent: Root },
        AllocBulk {
            region: Region(1),
            size: 1,
            align_log2: 12,
            tag: 1,
            count: 20,
            fill: 3,
            mismatched_len: false,
        },
        SerializeRoundTrip {
            region: Region(1),
            parent: Root,
        },
        AllocBulk {
            region: Region(1),
            size: 1,
            align_log2: 12,
            tag: 1,
            count: 2,
            fill: 3,
            mismatched_len: false,
        },
        CreateRegion { parent: Root },
        SerializeRoundTrip {
            region: Region(2),
            parent: Root,
        },
    ])
    .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.rejections_of("CorruptInput"), 1);
    assert_eq!(report.reach.round_trips, 1);
}
