//! Tests for gaps that mutation testing found (`ci/mutants.sh`,
//! docs/TESTING.md "Mutation score"): each names the mutant it kills, a
//! change to core/src/ that every other test of the workspace let pass.

/// Kills `core/src/accounting.rs: replace Accounts::reserve_region_budget
/// -> Result<()> with Ok(())`. `create_region_with_budget` makes room for
/// the budget before it creates the region, so that an allocation failure
/// there is an `OutOfMemory` with nothing changed. Without the
/// reservation the budget table grows through an infallible insert after
/// the region exists, which the allocation-failure sweep cannot see (it
/// fails the allocations that happen, not one that is missing); only a
/// real allocator failure would show it, as an abort. Here the region id
/// is recycled, so creating the region allocates nothing, and the budget
/// table's first entry is the only allocation left to fail.
///
/// Injected failure needs the `test-hooks` feature, which the workspace's
/// tests turn on for the core (the model depends on it with that feature).
#[cfg(feature = "test-hooks")]
#[test]
fn a_budgeted_region_reserves_its_budget_entry_before_the_region_exists() {
    use regions::{failure, ErrorKind, Registry};

    let mut reg = Registry::new();
    let scratch = reg.create_region(reg.root()).unwrap();
    reg.release_region(scratch).unwrap();
    let regions_before = reg.live_region_count();

    failure::fail_after(0);
    let err = reg.create_region_with_budget(reg.root(), 100).unwrap_err();
    assert!(failure::take_fired(), "the injected failure did not happen");
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert_eq!(reg.live_region_count(), regions_before, "a region was made");

    // It failed once only; the next try makes the region, on the recycled id.
    let sandbox = reg.create_region_with_budget(reg.root(), 100).unwrap();
    assert_eq!(sandbox.id(), scratch.id());
    assert_eq!(reg.region_budget(sandbox).unwrap(), Some(100));
    if let Err(violations) = reg.check_invariants() {
        panic!("{violations}");
    }
}

/// Kills `core/src/test_hooks.rs: replace -= with += in
/// Registry::set_counts_for_testing`. The hook keeps the region's count of
/// strongly held objects (what a death scans for survivors) in step when
/// it sets an object's strong count to zero; the harness only ever raises
/// counts through it, so nothing lowered one before.
#[cfg(feature = "test-hooks")]
#[test]
fn the_count_hook_keeps_the_regions_strong_objects_in_step_both_ways() {
    use regions::Registry;

    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    let h = reg.alloc_typed(region, 7u64).unwrap();
    reg.set_counts_for_testing(h, 2, 0).unwrap();
    reg.set_counts_for_testing(h, 0, 0).unwrap();
    if let Err(violations) = reg.check_invariants() {
        panic!("{violations}");
    }
    // With no strong count left, the death destroys it instead of promoting it.
    reg.release_region(region).unwrap();
    assert!(reg.get_typed::<u64>(h).is_err());
}

/// Kills `core/src/registry/stored.rs: replace < with == in
/// Registry::room_for_record`. `store_handle` grows a container's full
/// list of stored references fallibly, before anything changes, so an
/// injected allocation failure is refused cleanly at each store that has
/// to grow it. Taking a full list for one with room would let the push
/// grow it infallibly: no refusal after the first store, and an abort
/// instead of `OutOfMemory` when a real allocator says no.
#[cfg(feature = "test-hooks")]
#[test]
fn a_store_that_must_grow_the_containers_list_can_be_refused() {
    use regions::{failure, ErrorKind, Registry};

    let mut reg = Registry::new();
    let container = reg.create_region(reg.root()).unwrap();
    let objects: Vec<_> = (0..64u64)
        .map(|i| reg.alloc_typed(reg.root(), i).unwrap())
        .collect();
    let mut refused = 0;
    for &object in &objects {
        failure::fail_after(0);
        match reg.store_handle(container, object) {
            Ok(stored) => assert!(stored),
            Err(error) => {
                assert_eq!(error.kind(), ErrorKind::OutOfMemory);
                assert!(failure::take_fired());
                assert_eq!(reg.strong_count(object).unwrap(), 0, "a refusal changed it");
                refused += 1;
                assert!(reg.store_handle(container, object).unwrap());
            }
        }
        failure::disarm();
        assert_eq!(reg.strong_count(object).unwrap(), 1);
    }
    // A list that doubles grows a few times on the way to 64 (the first
    // store makes it): a refusal at every one of those stores.
    assert!(
        (3..=8).contains(&refused),
        "{refused} of 64 stores had to grow"
    );
    if let Err(violations) = reg.check_invariants() {
        panic!("{violations}");
    }
}

/// Kills `core/src/pool/compact.rs: replace < with == in
/// Pools::large_victim`. Compaction empties a region's sparsest large page
/// into the room of another only if the region has two or more: with
/// exactly two, the mutant never picks one. Without a nursery (which would
/// take a region's first objects), objects above the slab sizes (1,024
/// bytes) live in large pages, each new page larger than the last, placed
/// first-fit in the pages the region has. Here a 3,500-byte object
/// fills the first page (4 KiB); two of 1,100 bytes open a second, larger
/// one and leave room in it; so the first page, with fewer objects, is
/// emptied into the second and given back.
#[test]
fn compaction_empties_one_of_exactly_two_large_pages() {
    use regions::{Registry, TypeTag};

    let mut reg = Registry::builder().nursery_bytes(0).build();
    let region = reg.create_region(reg.root()).unwrap();
    let page_bytes = |reg: &Registry| reg.stats(region).unwrap().occupancy.page_bytes;
    let alloc = |reg: &mut Registry, len: usize, fill: u8| {
        reg.alloc_bytes(region, TypeTag(1), 8, &vec![fill; len])
            .unwrap()
    };
    let lonely = alloc(&mut reg, 3500, 1);
    let one_page = page_bytes(&reg);
    let first = alloc(&mut reg, 1100, 2);
    let two_pages = page_bytes(&reg);
    assert!(
        two_pages > one_page,
        "the second object shares the first page"
    );
    let second = alloc(&mut reg, 1100, 3);
    assert_eq!(
        page_bytes(&reg),
        two_pages,
        "the third object opened a page"
    );

    let compaction = reg.compact(region, usize::MAX).unwrap();
    assert_eq!(compaction.objects_moved, 1, "{compaction:?}");
    assert_eq!(compaction.bytes_moved, 3500, "{compaction:?}");
    assert_eq!(compaction.blocks_released, 1, "{compaction:?}");
    assert_eq!(page_bytes(&reg), two_pages - one_page);
    assert_eq!(reg.get(lonely).unwrap(), &[1; 3500][..]);
    assert_eq!(reg.get(first).unwrap(), &[2; 1100][..]);
    assert_eq!(reg.get(second).unwrap(), &[3; 1100][..]);
    if let Err(violations) = reg.check_invariants() {
        panic!("{violations}");
    }
}
