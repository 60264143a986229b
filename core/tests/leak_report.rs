//! The `leak-report` feature: every live object knows where it was
//! allocated (the user's call, not a line of the crate), its type name if
//! typed; the entry follows the object through frees, manual promotion and
//! region death; deaths that promote retained objects are logged. Run with
//! `--features leak-report`.
#![cfg(feature = "leak-report")]

use core::alloc::Layout;
use std::alloc::{GlobalAlloc, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use regions::{
    ErrorKind, ObjectHandle, Origin, RegionHandle, Registry, RetainedObject, TypeTag,
    LEAK_EVENT_LOG_LEN,
};

mod common;
use common::assert_consistent;

/// A global allocator that refuses, on this thread, allocations of
/// exactly `FAIL_SIZE` bytes aligned to 8 (0: none), to make one
/// reservation fail.
struct Refusing;

thread_local! {
    static FAIL_SIZE: Cell<usize> = const { Cell::new(0) };
}

fn refused(size: usize, align: usize) -> bool {
    align == 8 && FAIL_SIZE.try_with(Cell::get) == Ok(size)
}

// SAFETY: every call is forwarded unchanged to `System`, or refused with a
// null pointer (allowed by `GlobalAlloc`); the check reads a
// const-initialized thread-local, which never allocates.
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if refused(layout.size(), layout.align()) {
            return core::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if refused(new_size, layout.align()) {
            return core::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Refusing = Refusing;

/// Runs `body` while allocations of `size` bytes (aligned to 8) fail.
fn refusing<R>(size: usize, body: impl FnOnce() -> R) -> R {
    FAIL_SIZE.with(|fail| fail.set(size));
    let out = body();
    FAIL_SIZE.with(|fail| fail.set(0));
    out
}

/// The line of `handle`'s allocation site, after checking that the site is
/// in this file.
fn site_line(reg: &Registry, handle: ObjectHandle) -> u32 {
    let site = reg.origin_of(handle).unwrap().site;
    assert_eq!(site.file(), file!(), "{handle} allocated at {site}");
    site.line()
}

/// The tag of the raw objects here.
const TAG: TypeTag = TypeTag(7);

fn raw_layout(size: usize) -> Layout {
    Layout::from_size_align(size, 1).unwrap()
}

#[test]
fn every_allocation_function_records_the_callers_line() {
    let mut reg = Registry::new();
    let r = reg.create_region(reg.root()).unwrap();
    let mut seen = Vec::new();
    // Each twice: the first call takes the general path (new type, empty
    // table), the second the fast path.
    for _ in 0..2 {
        let l2 = raw_layout(2);
        let (h, line) = (reg.alloc(r, l2, b"ab", TypeTag(1)).unwrap(), line!());
        seen.push((h, line));
        let (h, line) = (reg.alloc_typed(r, 5u16).unwrap(), line!());
        seen.push((h, line));
        let (h, line) = (reg.alloc_slice_copy(r, &[1u8, 2]).unwrap(), line!());
        seen.push((h, line));
        let (h, line) = (reg.alloc_slice_fill_with(r, 2, |i| i).unwrap(), line!());
        seen.push((h, line));
        let (l40, zeros) = (raw_layout(40), [0; 80]);
        let (bulk, line) = (reg.alloc_bulk(r, l40, TAG, 2, &zeros).unwrap(), line!());
        seen.extend(bulk.into_iter().map(|h| (h, line)));
    }
    for (h, line) in seen {
        assert_eq!(site_line(&reg, h), line, "{h}");
    }
    assert_consistent(&reg);
}

#[test]
fn typed_objects_and_slices_carry_their_type_names() {
    let mut reg = Registry::new();
    let root = reg.root();
    let string = reg.alloc_typed(root, String::from("s")).unwrap();
    let copied = reg.alloc_slice_copy(root, &[1u32, 2, 3]).unwrap();
    let filled = reg.alloc_slice_fill_with(root, 1, |_| vec![1u8]).unwrap();
    let raw = reg.alloc(root, raw_layout(1), b"x", TypeTag(3)).unwrap();
    let name = |h| reg.origin_of(h).unwrap().type_name;
    assert_eq!(name(string), Some(core::any::type_name::<String>()));
    assert_eq!(name(copied), Some("[u32]"));
    assert_eq!(name(filled), Some(core::any::type_name::<[Vec<u8>]>()));
    assert_eq!(name(raw), None);
}

#[test]
fn the_report_lists_live_objects_in_slot_order_with_their_layouts() {
    let mut reg = Registry::new();
    let r = reg.create_region(reg.root()).unwrap();
    let a = reg.alloc_typed(r, 1u64).unwrap();
    let b = reg.alloc(
        r,
        Layout::from_size_align(24, 8).unwrap(),
        &[0; 24],
        TypeTag(9),
    );
    let b = b.unwrap();
    let c = reg.alloc_slice_copy(r, &[0u16; 5]).unwrap();
    reg.free(a).unwrap();
    let d = reg.alloc_typed(r, 2u8).unwrap(); // reuses a's slot
    let report = reg.leak_report(r).unwrap();
    assert_eq!(report.region, r);
    let listed: Vec<_> = report
        .objects
        .iter()
        .map(|o| (o.handle, o.size, o.align, o.tag))
        .collect();
    assert_eq!(
        listed,
        [
            (d, 1, 1, regions::typed_tag::<u8>()),
            (b, 24, 8, TypeTag(9)),
            (c, 10, 2, regions::typed_tag::<[u16]>()),
        ]
    );
    assert_eq!(report.total_bytes(), 35);
    assert_eq!(
        reg.leak_report(reg.root()).unwrap().objects,
        [],
        "the root holds nothing"
    );
}

#[test]
fn free_removes_the_entry_and_a_reused_slot_gets_its_own_site() {
    let mut reg = Registry::new();
    let root = reg.root();
    let old = reg.alloc_typed(root, 1u32).unwrap();
    reg.free(old).unwrap();
    assert!(reg.leak_report(root).unwrap().objects.is_empty());
    assert_eq!(
        reg.origin_of(old).unwrap_err().kind(),
        ErrorKind::StaleHandle
    );
    assert_consistent(&reg);
    let (new, line) = (reg.alloc_typed(root, 2u32).unwrap(), line!());
    assert_eq!(new.slot(), old.slot(), "the slot is reused");
    assert_eq!(site_line(&reg, new), line);
    // Freed through an old handle after a move: the entry at the new home goes.
    let other = reg.create_region(root).unwrap();
    reg.promote(new, other).unwrap();
    reg.free(new).unwrap();
    assert!(reg.leak_report(other).unwrap().objects.is_empty());
    assert_consistent(&reg);
}

#[test]
fn manual_promotion_moves_the_entry_to_the_new_home() {
    let mut reg = Registry::new();
    let a = reg.create_region(reg.root()).unwrap();
    let b = reg.create_region(reg.root()).unwrap();
    let (h, line) = (reg.alloc_typed(a, [7u8; 40]).unwrap(), line!());
    let home = reg.promote(h, b).unwrap();
    assert!(reg.leak_report(a).unwrap().objects.is_empty());
    let report = reg.leak_report(b).unwrap();
    assert_eq!(report.objects.len(), 1);
    assert_eq!(report.objects[0].handle, home);
    assert_eq!(report.objects[0].origin.site.line(), line);
    assert_eq!(site_line(&reg, h), line, "through the old handle");
    assert!(reg.take_leak_events().is_empty(), "no death, no event");
    assert_consistent(&reg);
}

#[test]
fn a_death_promoting_retained_objects_logs_one_event_with_their_new_homes() {
    let mut reg = Registry::new();
    let parent = reg.create_region(reg.root()).unwrap();
    let r = reg.create_region(parent).unwrap();
    let (kept, kept_line) = (reg.alloc_typed(r, String::from("kept")).unwrap(), line!());
    let dropped = reg.alloc_typed(r, 1u64).unwrap();
    let l3 = raw_layout(3);
    let (raw, raw_line) = (reg.alloc(r, l3, b"abc", TAG).unwrap(), line!());
    reg.retain(kept).unwrap();
    reg.retain(raw).unwrap();
    reg.release_region(r).unwrap();
    assert_consistent(&reg);
    assert_eq!(
        reg.origin_of(dropped).unwrap_err().kind(),
        ErrorKind::StaleHandle
    );

    let (kept_home, raw_home) = (reg.resolve(kept).unwrap(), reg.resolve(raw).unwrap());
    let report = reg.leak_report(parent).unwrap();
    let listed: Vec<_> = report
        .objects
        .iter()
        .map(|o| (o.handle, o.origin.site.line()))
        .collect();
    assert_eq!(listed, [(kept_home, kept_line), (raw_home, raw_line)]);

    let events = reg.take_leak_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].region, r);
    let site = |h| reg.origin_of(h).unwrap().site;
    assert_eq!(
        events[0].objects,
        [
            RetainedObject {
                home: kept_home,
                origin: Origin {
                    site: site(kept),
                    type_name: Some(core::any::type_name::<String>()),
                },
                size: core::mem::size_of::<String>(),
            },
            RetainedObject {
                home: raw_home,
                origin: Origin {
                    site: site(raw),
                    type_name: None,
                },
                size: 3,
            },
        ]
    );
    assert!(reg.take_leak_events().is_empty(), "drained");
}

#[test]
fn a_death_without_retained_objects_logs_nothing() {
    let mut reg = Registry::new();
    let r = reg.create_region(reg.root()).unwrap();
    reg.alloc_typed(r, 1u8).unwrap();
    let moved = reg.alloc_typed(r, 2u8).unwrap();
    reg.promote(moved, reg.root()).unwrap(); // leaves a forwarding slot
    reg.release_region(r).unwrap();
    assert!(reg.take_leak_events().is_empty());
    assert_eq!(reg.leak_report(reg.root()).unwrap().objects.len(), 1);
    assert_consistent(&reg);
}

#[test]
fn the_event_log_keeps_the_last_events() {
    let mut reg = Registry::new();
    let mut dead = Vec::new();
    for i in 0..LEAK_EVENT_LOG_LEN + 3 {
        let r = reg.create_region(reg.root()).unwrap();
        let h = reg.alloc_typed(r, i).unwrap();
        reg.retain(h).unwrap();
        reg.release_region(r).unwrap();
        dead.push((r, reg.resolve(h).unwrap()));
    }
    let events = reg.take_leak_events();
    assert_eq!(events.len(), LEAK_EVENT_LOG_LEN);
    for (event, &(region, home)) in events.iter().zip(&dead[3..]) {
        assert_eq!(event.region, region);
        assert_eq!(event.objects.len(), 1);
        assert_eq!(event.objects[0].home, home);
    }
    assert_consistent(&reg);
}

#[test]
fn a_panicking_fill_leaves_no_entry() {
    let mut reg = Registry::new();
    let root = reg.root();
    let filled = catch_unwind(AssertUnwindSafe(|| {
        reg.alloc_slice_fill_with(root, 3, |i| {
            assert!(i < 2, "initialiser fails");
            String::new()
        })
    }));
    assert!(filled.is_err());
    assert!(reg.leak_report(root).unwrap().objects.is_empty());
    assert_consistent(&reg);
    let (h, line) = (reg.alloc_typed(root, 1u8).unwrap(), line!());
    assert_eq!(site_line(&reg, h), line);
    assert_consistent(&reg);
}

#[test]
fn the_subtree_report_covers_every_descendant_parents_first() {
    let mut reg = Registry::new();
    let a = reg.create_region(reg.root()).unwrap();
    let b = reg.create_region(a).unwrap();
    let c = reg.create_region(b).unwrap();
    let other = reg.create_region(reg.root()).unwrap();
    for region in [a, b, c, other] {
        reg.alloc_typed(region, 0u8).unwrap();
    }
    let reports = reg.leak_report_subtree(a).unwrap();
    let regions: Vec<RegionHandle> = reports.iter().map(|report| report.region).collect();
    assert_eq!(regions, [a, b, c]);
    assert!(reports.iter().all(|report| report.objects.len() == 1));
    assert_eq!(reg.leak_report_subtree(reg.root()).unwrap().len(), 5);
    reg.release_region(c).unwrap();
    assert_eq!(
        reg.leak_report_subtree(c).unwrap_err().kind(),
        ErrorKind::InvalidRegion
    );
}

#[test]
fn reports_and_events_display_word_for_word() {
    let mut reg = Registry::new();
    let r = reg.create_region(reg.root()).unwrap();
    let (_, line_a) = (reg.alloc_typed(r, 5u64).unwrap(), line!());
    let l3 = raw_layout(3);
    let (h, line_b) = (reg.alloc(r, l3, b"abc", TAG).unwrap(), line!());
    let file = file!();
    assert_eq!(
        reg.leak_report(r).unwrap().to_string(),
        format!(
            "region 1v0: 2 live objects, 11 bytes\n  \
             object 1v0/0v1: 8 bytes, align 8, u64, allocated at {file}:{line_a}:28\n  \
             object 1v0/1v1: 3 bytes, align 1, tag 7, allocated at {file}:{line_b}:28\n"
        )
    );
    reg.retain(h).unwrap();
    reg.release_region(r).unwrap();
    let events = reg.take_leak_events();
    assert_eq!(
        events[0].to_string(),
        format!(
            "region 1v0 died holding 1 retained object, 3 bytes\n  \
             object 0v0/0v1: 3 bytes, allocated at {file}:{line_b}:28\n"
        )
    );
    let root = reg.root();
    assert_eq!(
        reg.leak_report(root).unwrap().to_string(),
        format!(
            "region 0v0: 1 live object, 3 bytes\n  \
             object 0v0/0v1: 3 bytes, align 1, tag 7, allocated at {file}:{line_b}:28\n"
        )
    );
}

#[test]
fn a_refused_site_reservation_is_out_of_memory_and_changes_nothing() {
    let mut reg = Registry::new();
    let root = reg.root();
    reg.alloc_typed(root, 0u8).unwrap(); // the type and the root's tables exist
    let r = reg.create_region(root).unwrap();
    let before = reg.global_stats();
    // A new region's first site vector: 4 entries of 8 bytes.
    let err = refusing(32, || reg.alloc_typed(r, 1u8)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert_eq!(err.to_string(), "the allocator refused 8 bytes");
    assert_eq!(reg.object_count(r).unwrap(), 0);
    assert_eq!(reg.global_stats().allocations, before.allocations);
    assert_consistent(&reg);

    // A manual promotion into a region without room for the site.
    let h = reg.alloc_typed(root, 2u8).unwrap();
    let target = reg.create_region(root).unwrap();
    let err = refusing(32, || reg.promote(h, target)).unwrap_err();
    assert_eq!(err.to_string(), "the allocator refused 8 bytes");
    assert_eq!(reg.region_of(h).unwrap(), root);
    assert_eq!(reg.leak_report(root).unwrap().objects.len(), 2);
    assert_consistent(&reg);

    // A death whose survivor's new home has no room for its site: the
    // region stays alive with its reference, and nothing is logged.
    let parent = reg.create_region(root).unwrap();
    let child = reg.create_region(parent).unwrap();
    let kept = reg.alloc_typed(child, 4u8).unwrap();
    reg.retain(kept).unwrap();
    let err = refusing(32, || reg.release_region(child)).unwrap_err();
    assert_eq!(err.to_string(), "the allocator refused 8 bytes");
    assert_eq!(reg.region_refcount(child).unwrap(), 1);
    assert_eq!(reg.region_of(kept).unwrap(), child);
    assert!(reg.take_leak_events().is_empty());
    assert_consistent(&reg);

    let (h, line) = (reg.alloc_typed(r, 3u8).unwrap(), line!());
    assert_eq!(site_line(&reg, h), line);
    assert!(reg.release_region(child).unwrap());
    assert_eq!(reg.take_leak_events().len(), 1);
    assert_consistent(&reg);
}
