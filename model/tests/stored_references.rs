//! The release of stored references at a container's death, against the
//! model: the death decides its promotions with the container's own stored
//! references counted, then gives every one of them back. The driver
//! compares the core with the model after every op (counts, homes, stored
//! records of every touched region) and in full at the end.

use regions_model::driver::run;
use regions_model::op::prelude::*;

#[test]
fn a_container_death_promotes_first_then_gives_its_references_back() {
    let report = run(&[
        CreateRegion { parent: Root }, // Region(1): the container
        CreateRegion { parent: Root }, // Region(2): where the objects live
        AllocTyped {
            region: Region(2),
            kind: U64,
            payload: 1,
        }, // Object(0)
        AllocTyped {
            region: Region(2),
            kind: Tracked,
            payload: 2,
        }, // Object(1)
        StoreHandle {
            container: Region(1),
            object: Object(0),
        },
        StoreHandle {
            container: Region(1),
            object: Object(1),
        },
        StoreHandle {
            container: Region(1),
            object: Object(1),
        },
        // Object(0) moves into its container: only the stored reference
        // keeps it alive through the container's death.
        Promote {
            object: Object(0),
            target: Region(1),
        },
        InspectRegion { region: Region(1) },
        ReleaseRegion { region: Region(1) },
        // Object(0) was promoted to the root, then released to 0; Object(1)
        // is back at 0 in Region(2).
        InspectObject { object: Object(0) },
        InspectObject { object: Object(1) },
        Unstore {
            container: Region(1),
            object: Object(1),
        }, // InvalidRegion
        // Stored only by the dead container, Object(1) dies with Region(2).
        ReleaseRegion { region: Region(2) },
        InspectObject { object: Object(1) },
        Identify {
            object: Object(0),
            other: Object(2),
        },
    ])
    .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.reach.stored_references_released_by_death, 3);
    assert_eq!(report.reach.promotions_by_death, 1);
    assert_eq!(report.rejections_of("InvalidRegion"), 1);
}

#[test]
fn unstore_and_manual_release_share_one_count() {
    let report = run(&[
        CreateRegion { parent: Root },
        AllocTyped {
            region: Root,
            kind: Words,
            payload: 3,
        },
        StoreHandle {
            container: Region(1),
            object: Object(0),
        },
        Release { object: Object(0) }, // by hand, to 0
        Unstore {
            container: Region(1),
            object: Object(0),
        }, // RefcountUnderflow
        Unstore {
            container: Root,
            object: Object(0),
        }, // NotStored
        InspectRegion { region: Region(1) },
        ReleaseRegion { region: Region(1) }, // skips the record
        InspectObject { object: Object(0) },
    ])
    .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.rejections_of("RefcountUnderflow"), 1);
    assert_eq!(report.rejections_of("NotStored"), 1);
    assert_eq!(report.reach.stored_references_released_by_death, 0);
}
