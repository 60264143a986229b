//! Region scopes (released on drop and on panic) and the region builder.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use regions::{Budget, Error, ErrorKind, RegionHandle, Registry, TypeTag};

mod common;
use common::{assert_consistent, raw};

const ROOT: RegionHandle = RegionHandle::ROOT;

/// A registry whose tag-1 objects count their destructor calls.
fn counting_registry() -> (Registry, Arc<AtomicUsize>) {
    let mut reg = Registry::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    reg.register_destructor(TypeTag(1), move |_, _| {
        seen.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    (reg, calls)
}

#[test]
fn a_scope_releases_its_region_when_dropped() {
    let (mut reg, calls) = counting_registry();
    let region = {
        let mut scope = reg.scope(ROOT).unwrap();
        let region = scope.region();
        raw(&mut scope, region, b"abc", 1);
        let kept = raw(&mut scope, region, b"kept", 1);
        scope.retain(kept).unwrap();
        region
    };
    assert!(!reg.is_region_alive(region));
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "one destroyed, one promoted"
    );
    assert_eq!(reg.object_count(ROOT).unwrap(), 1);
    assert_consistent(&reg);
}

#[test]
fn a_panicking_body_inside_a_scope_still_releases_the_region() {
    let (mut reg, calls) = counting_registry();
    let mut seen = None;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut scope = reg.scope(ROOT).unwrap();
        let region = scope.region();
        seen = Some(region);
        let nested = scope.create_region(region).unwrap();
        raw(&mut scope, region, b"x", 1);
        raw(&mut scope, nested, b"y", 1);
        panic!("the body fails");
    }));
    assert!(result.is_err());
    let region = seen.unwrap();
    assert!(!reg.is_region_alive(region), "released while unwinding");
    assert_eq!(calls.load(Ordering::Relaxed), 1, "its own object destroyed");
    // The nested region was reparented to the root, as any death does.
    assert_eq!(reg.live_region_count(), 2);
    assert_consistent(&reg);
}

#[test]
fn a_destructor_panicking_while_a_scope_unwinds_does_not_abort() {
    let mut reg = Registry::new();
    reg.register_destructor(TypeTag(9), |_, _| panic!("destructor fails"))
        .unwrap();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut scope = reg.scope(ROOT).unwrap();
        let region = scope.region();
        raw(&mut scope, region, b"z", 1);
        let layout = core::alloc::Layout::new::<u8>();
        scope.alloc(region, layout, &[0], TypeTag(9)).unwrap();
        panic!("the body fails first");
    }));
    assert!(result.is_err());
    assert_eq!(reg.live_region_count(), 1);
    assert_consistent(&reg);
}

#[test]
fn a_scope_gives_back_one_reference_and_nothing_if_the_body_released_it() {
    let mut reg = Registry::new();
    let mut scope = reg.scope(ROOT).unwrap();
    let region = scope.region();
    scope.retain_region(region).unwrap();
    assert_eq!(scope.close(), Ok(false), "one reference left");
    assert!(reg.is_region_alive(region));
    reg.release_region(region).unwrap();

    let mut scope = reg.scope(ROOT).unwrap();
    let region = scope.region();
    scope.release_region(region).unwrap();
    // The id is recycled by a new region; the scope must not touch it.
    let newcomer = scope.create_region(ROOT).unwrap();
    assert_eq!(newcomer.id(), region.id());
    drop(scope);
    assert!(reg.is_region_alive(newcomer));
    assert_consistent(&reg);
}

#[test]
fn with_region_is_the_closure_form_of_a_scope() {
    let (mut reg, calls) = counting_registry();
    let result = catch_unwind(AssertUnwindSafe(|| {
        reg.with_region(ROOT, |reg, region| {
            raw(reg, region, b"w", 1);
            panic!("inside with_region");
        })
    }));
    assert!(result.is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(reg.live_region_count(), 1);
    let out = reg.with_region(ROOT, |reg, region| reg.object_count(region));
    assert_eq!(out, Ok(Ok(0)));
    assert_consistent(&reg);
}

#[test]
fn the_builder_sets_parent_budget_and_scope() {
    let mut reg = Registry::new();
    let level = reg.create_region(ROOT).unwrap();
    let room = reg
        .region_builder()
        .parent(level)
        .budget(16)
        .create()
        .unwrap();
    assert_eq!(reg.parent_of(room).unwrap(), Some(level));
    assert_eq!(reg.region_budget(room).unwrap(), Some(16));
    reg.alloc_typed(room, [0u8; 16]).unwrap();
    let error = reg.alloc_typed(room, 1u8).unwrap_err();
    assert!(matches!(
        error,
        Error::BudgetExceeded {
            budget: Budget::Region(r),
            ..
        } if r == room
    ));
    {
        let scope = reg.region_builder().parent(room).scope().unwrap();
        assert_eq!(scope.parent_of(scope.region()).unwrap(), Some(room));
    }
    assert_eq!(reg.live_region_count(), 3);
    assert_consistent(&reg);
}

#[test]
fn a_builder_that_fails_creates_nothing_and_counts_nothing() {
    let mut reg = Registry::new();
    let before = reg.global_stats();
    let error = reg
        .region_builder()
        .capacity(usize::MAX)
        .create()
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::IdSpaceExhausted | ErrorKind::OutOfMemory
        ),
        "{error}"
    );
    assert_eq!(reg.global_stats(), before);
    assert_eq!(reg.live_region_count(), 1);
    let dead = reg.create_region(ROOT).unwrap();
    reg.release_region(dead).unwrap();
    let error = reg.region_builder().parent(dead).create().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRegion);
    assert_consistent(&reg);
}

#[test]
fn the_first_block_size_holds_the_first_objects_in_one_block() {
    let mut reg = Registry::new();
    let fill = |reg: &mut Registry, region| {
        for i in 0..100u64 {
            reg.alloc_typed(region, [i; 8]).unwrap();
        }
    };
    let sized = reg
        .region_builder()
        .first_block_size(8 * 1024)
        .create()
        .unwrap();
    fill(&mut reg, sized);
    assert_eq!(reg.arena_count(sized).unwrap(), 1, "6400 bytes fit 8 KiB");
    let default = reg.create_region(ROOT).unwrap();
    fill(&mut reg, default);
    assert!(reg.arena_count(default).unwrap() > 1);
    assert_consistent(&reg);
}
