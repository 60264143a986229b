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
    assert_invariants(&reg);
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
    assert_invariants(&reg);
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
    assert_invariants(&reg);
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
    let (mut reg, region, [lonely, first, second]) = two_large_pages();
    let page_bytes = |reg: &regions::Registry| reg.stats(region).unwrap().occupancy.page_bytes;
    let two_pages = page_bytes(&reg);

    let compaction = reg.compact(region, usize::MAX).unwrap();
    assert_eq!(compaction.objects_moved, 1, "{compaction:?}");
    assert_eq!(compaction.bytes_moved, 3500, "{compaction:?}");
    assert_eq!(compaction.blocks_released, 1, "{compaction:?}");
    assert_eq!(
        page_bytes(&reg),
        two_pages - compaction.bytes_released as u64
    );
    assert_eq!(reg.get(lonely).unwrap(), &[1; 3500][..]);
    assert_eq!(reg.get(first).unwrap(), &[2; 1100][..]);
    assert_eq!(reg.get(second).unwrap(), &[3; 1100][..]);
    assert_invariants(&reg);
}

/// Kills `core/src/registry/compact.rs: replace > with >= in
/// Registry::compact`. `compact(region, max_bytes_moved)` moves objects
/// while their bytes stay within the limit: a limit of exactly the bytes
/// to move moves them. The mutant stopped at a limit equal to the sum.
#[test]
fn compaction_moves_up_to_exactly_its_byte_limit() {
    let (mut reg, region, _) = two_large_pages();
    let refused = reg.compact(region, 3499).unwrap();
    assert_eq!(refused.objects_moved, 0, "{refused:?}");
    let compaction = reg.compact(region, 3500).unwrap();
    assert_eq!(compaction.objects_moved, 1, "{compaction:?}");
    assert_eq!(compaction.bytes_moved, 3500, "{compaction:?}");
}

/// A region (no nursery) whose objects fill two large pages: a 3,500-byte
/// object alone in the first, two of 1,100 bytes in the second, which has
/// room for the first page's object. Returns the registry, the region and
/// the three objects.
fn two_large_pages() -> (
    regions::Registry,
    regions::RegionHandle,
    [regions::ObjectHandle; 3],
) {
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
    (reg, region, [lonely, first, second])
}

/// Kills `core/src/pool/large.rs: replace < with <= in take`. First fit
/// splits the alignment gap before an object off as a free chunk of its
/// own when it can hold one: a gap of exactly one minimal chunk (32
/// bytes: a header and the free-list links) can. Here the first object's
/// chunk ends 16 bytes past a multiple of 64 (1,088 bytes plus its 16-byte
/// header), so the second object, aligned to 64, has such a gap in front
/// of it; the mutant skipped to the next aligned place, 64 bytes on,
/// wasting them.
#[test]
fn large_first_fit_uses_an_alignment_gap_of_exactly_one_minimal_chunk() {
    use regions::{Registry, TypeTag};

    let mut reg = Registry::builder().nursery_bytes(0).build();
    let region = reg.create_region(reg.root()).unwrap();
    let first = reg.alloc_bytes(region, TypeTag(1), 16, &[1; 1088]).unwrap();
    let second = reg.alloc_bytes(region, TypeTag(1), 64, &[2; 1100]).unwrap();
    let stats = reg.stats(region).unwrap().occupancy;
    assert_eq!(
        (stats.objects, stats.dedicated_bytes),
        (2, 0),
        "both objects are in a page: {stats:?}"
    );
    let first_at = reg.get(first).unwrap().as_ptr() as usize;
    let second_at = reg.get(second).unwrap().as_ptr() as usize;
    // The first object's data is 16 bytes into its chunk at the page's
    // start; its chunk ends at 1,104; the gap chunk takes 1,104..1,136; the
    // second object's header 1,136..1,152.
    assert_eq!(second_at - first_at, 1152 - 16);
    assert_invariants(&reg);
}

/// Kills `core/src/pool/mod.rs: replace + with - in
/// Pool::keep_nursery_if`. A dead region's nursery page stays with its id,
/// and the next region created on that id takes it over when it is the
/// size the registry's hint asks for (between one and four times it),
/// without a trip through the block cache. The mutant gave every kept
/// page back to the cache, so the next region had to take one again.
#[test]
fn a_region_created_on_a_dead_ones_id_takes_over_its_nursery() {
    use regions::{Registry, TypeTag};

    let mut reg = Registry::new();
    let dead = reg.create_region(reg.root()).unwrap();
    reg.alloc_bytes(dead, TypeTag(1), 8, &[1; 24]).unwrap();
    reg.release_region(dead).unwrap();
    let cached = reg.global_stats().cached_block_bytes;

    let next = reg.create_region(reg.root()).unwrap();
    assert_eq!(
        reg.global_stats().cached_block_bytes,
        cached,
        "the kept nursery page went back to the block cache"
    );
    reg.alloc_bytes(next, TypeTag(1), 8, &[2; 24]).unwrap();
    assert_eq!(reg.global_stats().cached_block_bytes, cached);
    assert_invariants(&reg);
}

/// Kills `core/src/pool/pools.rs: replace Pools::check with ()`. The
/// pools' own consistency checks only ever saw consistent pools; here a
/// slab page counts one object more than the slot table places in it.
#[cfg(feature = "test-hooks")]
#[test]
fn the_invariant_check_notices_a_pool_page_that_miscounts_its_objects() {
    use regions::{Corruption, Registry, TypeTag};

    let mut reg = Registry::builder().nursery_bytes(0).build();
    let region = reg.create_region(reg.root()).unwrap();
    let inline = reg.alloc_bytes(region, TypeTag(1), 8, &[1; 8]).unwrap();
    let in_slab = reg.alloc_bytes(region, TypeTag(1), 8, &[2; 100]).unwrap();
    assert!(!reg
        .corrupt_for_testing(Corruption::PageLiveCount(inline))
        .unwrap());
    assert!(
        reg.check_invariants().is_ok(),
        "an inline object has no page"
    );

    assert!(reg
        .corrupt_for_testing(Corruption::PageLiveCount(in_slab))
        .unwrap());
    let violations = reg.check_invariants().unwrap_err().to_string();
    assert!(
        violations.contains("counts 2 live objects, the slots 1"),
        "{violations}"
    );
}

/// The root check of `Registry::check_tree`: the root must be live, at id
/// 0 and generation 0, *and* without a parent; weakening any `&&` of it to
/// `||` accepts a root with a parent.
#[cfg(feature = "test-hooks")]
#[test]
fn the_invariant_check_notices_a_root_with_a_parent() {
    use regions::{Corruption, Registry};

    let mut reg = Registry::new();
    assert!(reg.corrupt_for_testing(Corruption::RootParent).unwrap());
    let violations = reg.check_invariants().unwrap_err().to_string();
    assert!(
        violations.contains("the root is not live at id 0 generation 0 without a parent"),
        "{violations}"
    );
}

/// Kills `core/src/invariants.rs:253: replace && with || in
/// Registry::check_tree` (both shards 0 and 1 drew it): a free region id
/// must be dead, not retired, and listed once; the mutant accepted any dead
/// id, so a duplicated one (the same id handed to two new regions) passed.
#[cfg(feature = "test-hooks")]
#[test]
fn the_invariant_check_notices_a_free_region_id_listed_twice() {
    use regions::{Corruption, Registry};

    let mut reg = Registry::new();
    assert!(!reg
        .corrupt_for_testing(Corruption::FreeRegionIdTwice)
        .unwrap());
    let region = reg.create_region(reg.root()).unwrap();
    reg.release_region(region).unwrap();
    assert!(reg.check_invariants().is_ok());
    assert!(reg
        .corrupt_for_testing(Corruption::FreeRegionIdTwice)
        .unwrap());
    let violations = reg.check_invariants().unwrap_err().to_string();
    assert!(
        violations.contains("is live, retired, duplicated or out of range"),
        "{violations}"
    );
}

/// Kills `core/src/config.rs: replace / with * in
/// Config::dedicated_threshold`. A heap object larger than a quarter of the
/// largest arena block gets a dedicated allocation of its own; one of
/// exactly a quarter still goes to a page.
#[test]
fn objects_above_a_quarter_of_the_largest_block_are_dedicated() {
    use regions::{Registry, TypeTag};

    let mut reg = Registry::builder()
        .arena_block_size(16 * 1024)
        .nursery_bytes(0)
        .build();
    let region = reg.create_region(reg.root()).unwrap();
    reg.alloc_bytes(region, TypeTag(1), 8, &[1; 4096]).unwrap();
    assert_eq!(reg.stats(region).unwrap().occupancy.dedicated_bytes, 0);
    reg.alloc_bytes(region, TypeTag(1), 8, &[2; 4097]).unwrap();
    assert_eq!(reg.stats(region).unwrap().occupancy.dedicated_bytes, 4097);
}

/// Kills `core/src/pool/large.rs: replace > with >= in Pools::large_free`.
/// A large page that empties goes back to the block cache unless it is the
/// region's last one, which waits for the region's next large object; the
/// mutant gave the last one back too.
#[test]
fn a_regions_last_large_page_is_kept_when_it_empties() {
    use regions::{Registry, TypeTag};

    let mut reg = Registry::builder().nursery_bytes(0).build();
    let region = reg.create_region(reg.root()).unwrap();
    let page_bytes = |reg: &Registry| reg.stats(region).unwrap().occupancy.page_bytes;
    let object = reg.alloc_bytes(region, TypeTag(1), 8, &[1; 2000]).unwrap();
    let with_page = page_bytes(&reg);
    assert!(with_page > 0);
    let cached = reg.global_stats().cached_block_bytes;
    reg.free(object).unwrap();
    assert_eq!(
        page_bytes(&reg),
        with_page,
        "the last large page was given back"
    );
    assert_eq!(reg.global_stats().cached_block_bytes, cached);
    reg.alloc_bytes(region, TypeTag(1), 8, &[2; 2000]).unwrap();
    assert_eq!(page_bytes(&reg), with_page);
}

/// Kills `core/src/pool/mod.rs: replace + with * in Pool::table_bytes`.
/// `memory_usage().table_bytes` counts the registry's bookkeeping: for a
/// region with a few pages it is a few hundred bytes, far below the pages'
/// own bytes. The mutant multiplied the pool tables' size by the size of
/// their header.
#[test]
fn the_tables_of_a_small_region_stay_small_beside_its_pages() {
    use regions::{Registry, TypeTag};

    let mut reg = Registry::builder().nursery_bytes(0).build();
    let before = reg.memory_usage();
    let region = reg.create_region(reg.root()).unwrap();
    for size in [100, 300, 2000] {
        reg.alloc_bytes(region, TypeTag(1), 8, &vec![1; size])
            .unwrap();
    }
    let after = reg.memory_usage();
    let pages = after.page_bytes - before.page_bytes;
    let tables = after.table_bytes - before.table_bytes;
    assert!(pages > 0);
    assert!(
        tables < pages / 4,
        "{tables} table bytes for {pages} page bytes"
    );
}

/// Kills `core/src/pool/mod.rs: replace + with * in Pool::keep_nursery_if`.
/// A nursery page kept with a dead region's id goes back to the block
/// cache when the next region on that id would want one less than a
/// quarter of its size: the registry's hint has shrunk since. Here a
/// region that used 64 KiB raises the hint to the largest nursery, the
/// next region opens one that large and outlives a hundred small regions,
/// whose deaths let the hint decay to 4 KiB; the region created on its id
/// afterwards must not keep the 64 KiB page. The mutant kept any page up
/// to the square of the hint's size.
#[test]
fn a_kept_nursery_far_larger_than_the_hint_goes_back_to_the_cache() {
    use regions::{Registry, TypeTag};

    let mut reg = Registry::new();
    let big = reg.create_region(reg.root()).unwrap();
    for _ in 0..64 {
        reg.alloc_bytes(big, TypeTag(1), 8, &[1; 1000]).unwrap();
    }
    reg.release_region(big).unwrap();
    let holder = reg.create_region(reg.root()).unwrap();
    reg.alloc_bytes(holder, TypeTag(1), 8, &[2; 24]).unwrap();
    for _ in 0..100 {
        let small = reg.create_region(reg.root()).unwrap();
        reg.alloc_bytes(small, TypeTag(1), 8, &[3; 24]).unwrap();
        reg.release_region(small).unwrap();
    }
    reg.release_region(holder).unwrap();
    let cached = reg.global_stats().cached_block_bytes;

    reg.create_region(reg.root()).unwrap();
    assert!(
        reg.global_stats().cached_block_bytes >= cached + 64 * 1024,
        "the 64 KiB nursery was kept ({cached} → {} cached bytes)",
        reg.global_stats().cached_block_bytes
    );
    assert_invariants(&reg);
}

/// Kills `core/src/pool/compact.rs: replace - with + in
/// Pools::slab_victim`. Compaction empties a slab page only when the
/// pool's other pages have free chunks for all its objects. Here the first
/// page of a size class has one free chunk and the second holds two
/// objects: emptying it is impossible, so nothing moves. The mutant counted
/// the victim's own free chunks as room, moved one object into the free
/// chunk and left the page half evacuated.
#[test]
fn compaction_leaves_a_slab_page_whose_objects_fit_nowhere_else() {
    use regions::{Registry, TypeTag};

    let mut reg = Registry::builder().nursery_bytes(0).build();
    let region = reg.create_region(reg.root()).unwrap();
    let page_bytes = |reg: &Registry| reg.stats(region).unwrap().occupancy.page_bytes;
    let alloc = |reg: &mut Registry| reg.alloc_bytes(region, TypeTag(1), 8, &[1; 100]).unwrap();
    let first = alloc(&mut reg);
    let one_page = page_bytes(&reg);
    let mut in_first_page = 1;
    while page_bytes(&reg) == one_page {
        alloc(&mut reg);
        in_first_page += 1;
    }
    in_first_page -= 1;
    assert!(
        in_first_page >= 3,
        "a slab page holds {in_first_page} objects"
    );
    alloc(&mut reg);
    reg.free(first).unwrap();

    let compaction = reg.compact(region, usize::MAX).unwrap();
    assert_eq!(compaction.objects_moved, 0, "{compaction:?}");
    assert_invariants(&reg);
}

/// Kills `core/src/stats.rs: delete field moved_in_objects` and `delete
/// field forwarding_slots from struct Occupancy expression in
/// Occupancy::of` (found by the targeted rerun of the shard gaps, outside
/// both shards): the differential harness does not compare these two
/// figures (docs/SEMANTICS.md, "Statistics"), and no test read them. A
/// promotion leaves a forwarding slot in the region the object left and
/// a moved-in object in the one it went to, until the object is freed.
#[test]
fn a_promotion_shows_in_both_regions_occupancy() {
    use regions::{Registry, TypeTag};

    let mut reg = Registry::new();
    let from = reg.create_region(reg.root()).unwrap();
    let to = reg.create_region(reg.root()).unwrap();
    let object = reg.alloc_bytes(from, TypeTag(1), 8, &[1; 40]).unwrap();
    let moved = reg.promote(object, to).unwrap();
    let occupancy = |reg: &Registry, region| reg.stats(region).unwrap().occupancy;
    assert_eq!(occupancy(&reg, from).forwarding_slots, 1);
    assert_eq!(occupancy(&reg, to).moved_in_objects, 1);
    assert_eq!(occupancy(&reg, to).objects, 1);
    reg.free(moved).unwrap();
    assert_eq!(occupancy(&reg, to).moved_in_objects, 0);
}

/// Kills `core/src/pool/large.rs: replace > with < in
/// Pools::large_free` (found with the one above): a large page that
/// empties while the region has another goes back to the block cache.
#[test]
fn an_emptied_large_page_goes_back_when_the_region_has_another() {
    let (mut reg, region, [_, first, second]) = two_large_pages();
    let page_bytes = |reg: &regions::Registry| reg.stats(region).unwrap().occupancy.page_bytes;
    let two_pages = page_bytes(&reg);
    let cached = reg.global_stats().cached_block_bytes;
    reg.free(first).unwrap();
    reg.free(second).unwrap();
    assert!(page_bytes(&reg) < two_pages, "the emptied page was kept");
    assert!(reg.global_stats().cached_block_bytes > cached);
}

/// Panics with the core's own list of violations if `reg` breaks an
/// invariant.
fn assert_invariants(reg: &regions::Registry) {
    if let Err(violations) = reg.check_invariants() {
        panic!("{violations}");
    }
}
