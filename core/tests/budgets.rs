//! Budgets and statistics (`docs/SEMANTICS.md`, "Budgets", "Statistics"):
//! the registry-wide budget, region budgets, the promotion rule, and the
//! figures `stats` and `global_stats` report.

use core::alloc::Layout;

use regions::{Budget, Error, ErrorKind, ObjectHandle, RegionHandle, Registry, TypeTag};

fn raw(reg: &mut Registry, region: RegionHandle, size: usize) -> regions::Result<ObjectHandle> {
    let layout = Layout::from_size_align(size, 8).unwrap();
    reg.alloc(region, layout, &vec![3; size], TypeTag(1))
}

fn kind<T: core::fmt::Debug>(result: regions::Result<T>) -> ErrorKind {
    result.unwrap_err().kind()
}

#[test]
fn the_registry_budget_counts_every_live_objects_payload() {
    let mut reg = Registry::new();
    let root = reg.root();
    let r = reg.create_region(root).unwrap();
    reg.set_budget(Some(100));
    assert_eq!(reg.budget(), Some(100));
    let a = raw(&mut reg, root, 40).unwrap();
    raw(&mut reg, r, 60).unwrap();
    assert_eq!(
        kind(raw(&mut reg, r, 1)),
        ErrorKind::BudgetExceeded,
        "exactly full"
    );
    raw(&mut reg, r, 0).unwrap(); // nothing more is fine
    reg.free(a).unwrap();
    raw(&mut reg, r, 40).unwrap();
    // Bulk allocations and slices count all they allocate.
    let empty = raw(&mut reg, r, 0).unwrap();
    reg.free(empty).unwrap();
    let layout = Layout::from_size_align(1, 1).unwrap();
    assert_eq!(
        kind(reg.alloc_bulk(r, layout, TypeTag(1), 1, &[0])),
        ErrorKind::BudgetExceeded
    );
    assert_eq!(
        kind(reg.alloc_slice_copy(r, &[0u8])),
        ErrorKind::BudgetExceeded
    );
    // A lower budget only stops new allocations; removing it lifts that.
    reg.set_budget(Some(10));
    assert_eq!(reg.global_stats().occupancy.payload_bytes, 100);
    reg.set_budget(None);
    raw(&mut reg, r, 1000).unwrap();
    reg.check_invariants().unwrap();
}

#[test]
fn a_region_budget_counts_its_own_objects_only() {
    let mut reg = Registry::new();
    let sandbox = reg.create_region_with_budget(reg.root(), 64).unwrap();
    let child = reg.create_region(sandbox).unwrap();
    assert_eq!(reg.region_budget(sandbox).unwrap(), Some(64));
    assert_eq!(reg.region_budget(child).unwrap(), None);
    raw(&mut reg, child, 500).unwrap(); // the child's objects are not the sandbox's
    raw(&mut reg, sandbox, 64).unwrap();
    let err = raw(&mut reg, sandbox, 8).unwrap_err();
    assert_eq!(
        err,
        Error::BudgetExceeded {
            budget: Budget::Region(sandbox),
            requested: 8,
            available: 0,
        }
    );
    // The registry budget is checked first.
    reg.set_budget(Some(564));
    let err = raw(&mut reg, sandbox, 8).unwrap_err();
    assert!(matches!(
        err,
        Error::BudgetExceeded {
            budget: Budget::Registry,
            ..
        }
    ));
    reg.check_invariants().unwrap();
}

#[test]
fn promotion_checks_the_target_budget_but_a_death_never_does() {
    let mut reg = Registry::new();
    let root = reg.root();
    let parent = reg.create_region_with_budget(root, 100).unwrap();
    let other = reg.create_region(root).unwrap();
    let big = raw(&mut reg, other, 80).unwrap();
    let bigger = raw(&mut reg, other, 30).unwrap();
    let big = reg.promote(big, parent).unwrap();
    assert_eq!(
        reg.promote(bigger, parent).unwrap_err().kind(),
        ErrorKind::BudgetExceeded,
        "80 + 30 > 100"
    );
    assert_eq!(
        reg.region_of(bigger).unwrap(),
        other,
        "a refused promotion moves nothing"
    );
    // A child's death promotes its survivors whatever the parent's budget.
    let child = reg.create_region(parent).unwrap();
    let kept = raw(&mut reg, child, 50).unwrap();
    reg.retain(kept).unwrap();
    reg.release_region(child).unwrap();
    let stats = reg.stats(parent).unwrap();
    assert_eq!(stats.occupancy.payload_bytes, 130, "over its budget");
    assert_eq!(stats.budget, Some(100));
    assert_eq!(kind(raw(&mut reg, parent, 0)), ErrorKind::BudgetExceeded);
    reg.free(big).unwrap();
    raw(&mut reg, parent, 50).unwrap(); // back under: 50 + 50
    reg.check_invariants().unwrap();
}

#[test]
fn statistics_follow_every_event() {
    let mut reg = Registry::new();
    let root = reg.root();
    let a = reg.create_region(root).unwrap();
    let b = reg.create_region(a).unwrap();
    let inline = raw(&mut reg, a, 16).unwrap();
    let heap = raw(&mut reg, a, 100).unwrap();
    let layout = Layout::from_size_align(8, 8).unwrap();
    reg.alloc_bulk(b, layout, TypeTag(2), 3, &[0; 24]).unwrap();
    let stats = reg.stats(a).unwrap();
    assert_eq!(
        (
            stats.occupancy.objects,
            stats.occupancy.inline_objects,
            stats.occupancy.heap_objects
        ),
        (2, 1, 1)
    );
    assert_eq!(stats.occupancy.payload_bytes, 116);
    assert_eq!(stats.children, 1);
    assert!(stats.occupancy.page_bytes >= stats.occupancy.page_payload_bytes);
    assert!((0.0..=1.0).contains(&stats.occupancy.fragmentation()));
    reg.retain(heap).unwrap();
    reg.promote(inline, b).unwrap();
    reg.free(inline).unwrap();
    reg.release_region(a).unwrap(); // heap is promoted to the root; b too
    let global = reg.global_stats();
    assert_eq!(global.allocations, 5);
    assert_eq!(global.frees, 1);
    assert_eq!(global.manual_promotions, 1);
    assert_eq!(global.promotions_by_death, 1);
    assert_eq!(global.destroyed_by_death, 0);
    assert_eq!((global.regions_created, global.region_deaths), (2, 1));
    assert_eq!((global.peak_objects, global.peak_payload_bytes), (5, 140));
    assert_eq!(global.occupancy.objects, 4);
    assert_eq!(global.occupancy.payload_bytes, 124);
    assert_eq!(global.live_regions, 2);
    assert_eq!(global.forwarding_nodes, 1, "the promoted heap object");
    assert_eq!(global.ghost_tables, 1, "region a's incarnation");
    reg.release_region(b).unwrap();
    let global = reg.global_stats();
    assert_eq!((global.destroyed_by_death, global.region_deaths), (3, 2));
    assert_eq!(global.occupancy.objects, 1);
    reg.check_invariants().unwrap();
}
