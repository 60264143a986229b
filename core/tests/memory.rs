//! What objects and forwarding cost in memory, measured with a global
//! allocator that tracks the bytes the current thread holds.

use core::alloc::Layout;
use std::alloc::{GlobalAlloc, System};
use std::cell::Cell;

use regions::{ObjectHandle, RegionHandle, Registry, TypeTag};

mod common;
use common::scaled;

struct Tracking;

thread_local! {
    /// Bytes allocated minus bytes freed by this thread.
    static HELD: Cell<i64> = const { Cell::new(0) };
}

fn add(bytes: usize, sign: i64) {
    let _ = HELD.try_with(|held| held.set(held.get() + sign * bytes as i64));
}

// SAFETY: every call is forwarded unchanged to `System`; the bookkeeping
// touches only a const-initialized thread-local, which never allocates.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size(), 1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(layout.size(), -1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size, 1);
        add(layout.size(), -1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

fn held() -> i64 {
    HELD.with(Cell::get)
}

#[test]
fn a_16_byte_object_costs_at_most_32_bytes_of_metadata() {
    let objects = scaled(1_000_000, 1_000);
    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    let before = held();
    let layout = Layout::new::<[u8; 16]>();
    let mut last = None;
    for i in 0..objects {
        last = Some(
            reg.alloc(region, layout, &[i as u8; 16], TypeTag(1))
                .unwrap(),
        );
    }
    let per_object = (held() - before) as f64 / objects as f64;
    let metadata = per_object - 16.0;
    println!(
        "{objects} 16-byte objects: {per_object:.2} heap bytes each, {metadata:.2} of metadata"
    );
    // The `leak-report` feature adds an allocation site per slot: 8 bytes,
    // up to 16 with its side table's doubling growth.
    let limit = if cfg!(feature = "leak-report") {
        48.0
    } else {
        32.0
    };
    assert!(
        metadata <= limit,
        "{metadata:.2} bytes of metadata per 16-byte object"
    );
    assert_eq!(reg.get(last.unwrap()).unwrap(), &[(objects - 1) as u8; 16]);
}

/// An object promoted through `deaths` nested regions, and its handles.
fn promoted_through(reg: &mut Registry, deaths: usize) -> Vec<ObjectHandle> {
    let mut chain: Vec<RegionHandle> = Vec::with_capacity(deaths);
    let mut parent = reg.root();
    for _ in 0..deaths {
        parent = reg.create_region(parent).unwrap();
        chain.push(parent);
    }
    let mut handles = vec![reg.alloc_typed(parent, [7u64; 4]).unwrap()];
    reg.retain(handles[0]).unwrap();
    for region in chain.into_iter().rev() {
        reg.release_region(region).unwrap();
        handles.push(reg.resolve(handles[0]).unwrap());
    }
    handles
}

#[test]
fn forwarding_state_is_at_most_32_bytes_per_death_of_a_promoted_object() {
    const DEATHS: usize = 50;
    let mut reg = Registry::new();
    let before = reg.memory_usage().forwarding_bytes;
    let handles = promoted_through(&mut reg, DEATHS);
    let after = reg.memory_usage().forwarding_bytes;
    let state = after - before;
    println!("one object through {DEATHS} deaths: {state} bytes of forwarding state");
    assert!(
        state <= DEATHS * 32,
        "{state} bytes of forwarding for {DEATHS} deaths"
    );
    assert_eq!(reg.ghost_table_count(), DEATHS);
    // Every old handle resolves in one record visit.
    let home = *handles.last().unwrap();
    for &old in &handles {
        let hops = reg.forwarding_hops();
        assert_eq!(reg.resolve(old).unwrap(), home);
        assert!(reg.forwarding_hops() - hops <= 1);
        assert_eq!(reg.get_typed::<[u64; 4]>(old).unwrap(), &[7; 4]);
    }
}

#[test]
fn forwarding_records_are_only_for_promoted_objects_and_go_with_them() {
    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    let kept = reg.alloc_typed(region, 1u64).unwrap();
    for i in 0..scaled(10_000, 100) {
        reg.alloc_typed(region, i as u64).unwrap();
    }
    reg.retain(kept).unwrap();
    reg.release_region(region).unwrap();
    assert_eq!(
        reg.memory_usage().ghost_records,
        1,
        "one record, not a table of 10,001"
    );
    reg.free(kept).unwrap();
    assert_eq!(reg.memory_usage().ghost_records, 0);
    assert_eq!(reg.ghost_table_count(), 0);
}
