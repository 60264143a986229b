//! Convenience allocation and the identity queries.

use core::alloc::Layout;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use regions::{ErrorKind, RegionHandle, Registry, TypeTag};

mod common;
use common::assert_consistent;

const ROOT: RegionHandle = RegionHandle::ROOT;

#[test]
fn alloc_default_and_alloc_zeroed_make_what_they_say() {
    let mut reg = Registry::new();
    let h = reg.alloc_default::<(u32, String)>(ROOT).unwrap();
    assert_eq!(
        reg.get_typed::<(u32, String)>(h).unwrap(),
        &(0, String::new())
    );
    for size in [0, 7, 16, 100, 5000] {
        let layout = Layout::from_size_align(size, 8).unwrap();
        let h = reg.alloc_zeroed(ROOT, layout, TypeTag(1)).unwrap();
        assert!(reg.get(h).unwrap().iter().all(|&b| b == 0));
        assert_eq!(reg.layout_of(h).unwrap(), layout);
    }
    let error = reg.alloc_zeroed(ROOT, Layout::new::<u8>(), TypeTag(1 << 63));
    assert_eq!(error.unwrap_err().kind(), ErrorKind::ReservedTypeTag);
    assert_consistent(&reg);
}

#[test]
fn alloc_with_fills_in_place_and_a_panicking_init_leaves_no_trace() {
    let mut reg = Registry::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    reg.register_destructor(TypeTag(2), move |_, _| {
        seen.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    let layout = Layout::from_size_align(300, 16).unwrap();
    let h = reg
        .alloc_with(ROOT, layout, TypeTag(2), |bytes| {
            assert!(bytes.iter().all(|&b| b == 0), "starts zeroed");
            bytes.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        })
        .unwrap();
    assert_eq!(reg.get(h).unwrap()[299], 299u16 as u8);

    let before = reg.global_stats();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        reg.alloc_with(ROOT, layout, TypeTag(2), |_| panic!("init fails"))
    }));
    assert!(panicked.is_err());
    assert_eq!(reg.object_count(ROOT).unwrap(), 1);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        0,
        "never a value: no destructor"
    );
    let after = reg.global_stats();
    assert_eq!(after.allocations, before.allocations);
    assert_eq!(after.peak_objects, before.peak_objects);
    assert_eq!(after.peak_payload_bytes, before.peak_payload_bytes);

    // Errors come before `init` runs.
    let dead = reg.create_region(ROOT).unwrap();
    reg.release_region(dead).unwrap();
    let error = reg.alloc_with(dead, layout, TypeTag(2), |_| unreachable!());
    assert_eq!(error.unwrap_err().kind(), ErrorKind::InvalidRegion);
    assert_consistent(&reg);
}

#[test]
fn alloc_bytes_takes_an_alignment_and_reports_alloc_errors_in_order() {
    let mut reg = Registry::new();
    let h = reg.alloc_bytes(ROOT, TypeTag(3), 64, b"aligned").unwrap();
    assert_eq!(reg.get(h).unwrap(), b"aligned");
    assert_eq!(reg.get(h).unwrap().as_ptr() as usize % 64, 0);
    let kind = |reg: &mut Registry, region, tag, align| {
        reg.alloc_bytes(region, TypeTag(tag), align, b"x")
            .unwrap_err()
            .kind()
    };
    let dead = reg.create_region(ROOT).unwrap();
    reg.release_region(dead).unwrap();
    assert_eq!(kind(&mut reg, dead, 1 << 63, 3), ErrorKind::InvalidRegion);
    assert_eq!(kind(&mut reg, ROOT, 1 << 63, 3), ErrorKind::ReservedTypeTag);
    assert_eq!(kind(&mut reg, ROOT, 1, 3), ErrorKind::UnsupportedAlignment);
    assert_eq!(kind(&mut reg, ROOT, 1, 0), ErrorKind::UnsupportedAlignment);
    assert_eq!(
        kind(&mut reg, ROOT, 1, 8192),
        ErrorKind::UnsupportedAlignment
    );
    assert_eq!(reg.object_count(ROOT).unwrap(), 1);
    assert_consistent(&reg);
}

#[test]
fn handles_are_identities_through_moves() {
    let mut reg = Registry::new();
    let a = reg.create_region(ROOT).unwrap();
    let old = reg.alloc_typed(a, 1u8).unwrap();
    let other = reg.alloc_typed(a, 2u8).unwrap();
    reg.retain(old).unwrap();
    reg.release_region(a).unwrap(); // promoted: `old` forwards
    let hops = reg.forwarding_hops();
    let new = reg.current(old).unwrap();
    assert_ne!(new, old);
    assert_eq!(reg.forwarding_hops(), hops, "current counts nothing");
    assert!(reg.is_alive(old) && reg.is_alive(new));
    assert!(reg.same_object(old, new));
    assert!(!reg.same_object(old, other), "other died with its region");
    assert!(!reg.is_alive(other));
    assert_eq!(
        reg.current(other).unwrap_err().kind(),
        ErrorKind::StaleHandle
    );

    let weak = reg.downgrade(new).unwrap();
    reg.free(old).unwrap();
    assert!(!reg.same_object(old, new));
    assert_eq!(
        reg.drop_weak(weak),
        Ok(()),
        "a gone object's weak handle drops"
    );
    assert_consistent(&reg);
}
