//! Once warm, the core does not call the global allocator for allocating
//! and freeing objects that fit an arena block, for creating and releasing
//! regions, or for returning a value through a frame's death. Counted with a
//! global allocator that counts the calls made by the current thread
//! (counting is deterministic; nothing here is timed).
//!
//! Not built with `small-generations`: there a slot or region id retires
//! after two uses, so every few rounds need fresh ones and the tables grow;
//! with real generations (2^31 uses) that never happens in practice.
#![cfg(not(feature = "small-generations"))]

use core::alloc::Layout;
use std::alloc::{GlobalAlloc, System};
use std::cell::Cell;

use regions::{ObjectHandle, Registry, TypeTag};

mod common;
use common::scaled;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the thread's locals may be gone while it shuts down.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = CALLS.try_with(|calls| calls.set(calls.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches
// only const-initialized thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Global-allocator calls made by this thread while `work` runs.
fn calls_during(work: impl FnOnce()) -> u64 {
    CALLS.with(|calls| calls.set(0));
    COUNTING.with(|counting| counting.set(true));
    work();
    COUNTING.with(|counting| counting.set(false));
    CALLS.with(Cell::get)
}

const TAG: TypeTag = TypeTag(1);

/// Sizes that land inline, in slab classes, and in the large pool.
const SIZES: [usize; 5] = [16, 48, 200, 1000, 3000];

fn round(reg: &mut Registry, region: regions::RegionHandle, handles: &mut Vec<ObjectHandle>) {
    for (i, &size) in SIZES.iter().cycle().take(scaled(500, 20)).enumerate() {
        let layout = Layout::from_size_align(size, 8).unwrap();
        let bytes = vec![i as u8; size];
        handles.push(reg.alloc(region, layout, &bytes, TAG).unwrap());
    }
    for h in handles.drain(..) {
        reg.free(h).unwrap();
    }
}

#[test]
fn alloc_and_free_make_no_allocator_call_once_warm() {
    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    let mut handles = Vec::with_capacity(1000);
    let contents: Vec<Vec<u8>> = SIZES.iter().map(|&size| vec![7; size]).collect();
    round(&mut reg, region, &mut handles);
    let mut interleaved = |reg: &mut Registry| {
        for i in 0..scaled(500, 20) {
            let bytes = &contents[i % contents.len()];
            let layout = Layout::from_size_align(bytes.len(), 8).unwrap();
            let h = reg.alloc(region, layout, bytes, TAG).unwrap();
            handles.push(h);
            if i % 3 == 0 {
                let h = handles.swap_remove(i / 3 % handles.len());
                reg.free(h).unwrap();
            }
        }
        for h in handles.drain(..) {
            reg.free(h).unwrap();
        }
    };
    interleaved(&mut reg); // warm-up: tables, pages and the block cache grow
    let calls = calls_during(|| {
        for _ in 0..scaled(20, 2) {
            interleaved(&mut reg);
        }
    });
    assert_eq!(calls, 0, "alloc/free called the global allocator");
    reg.check_invariants().unwrap();
}

#[test]
fn region_create_and_release_make_no_allocator_call_once_warm() {
    let mut reg = Registry::new();
    let layout = Layout::new::<[u64; 6]>();
    let churn = |reg: &mut Registry| {
        for _ in 0..scaled(50, 3) {
            let region = reg.create_region(reg.root()).unwrap();
            let nested = reg.create_region(region).unwrap();
            for i in 0..scaled(1000, 40) {
                let target = if i % 2 == 0 { region } else { nested };
                reg.alloc(target, layout, &[i as u8; 48], TAG).unwrap();
            }
            reg.alloc_typed(nested, [3u64; 40]).unwrap();
            reg.release_region(region).unwrap();
            reg.release_region(nested).unwrap();
        }
    };
    churn(&mut reg);
    let calls = calls_during(|| churn(&mut reg));
    assert_eq!(calls, 0, "region churn called the global allocator");
    reg.check_invariants().unwrap();
}

#[test]
fn returning_a_value_through_a_frame_death_makes_no_allocator_call_once_warm() {
    // The interpreter pattern: a frame region computes a result, retains
    // it, dies (the result is promoted to the caller and its old handle
    // forwards), and the caller reads the result through the old handle
    // and frees it.
    fn call(reg: &mut Registry, caller: regions::RegionHandle, depth: u32) -> u64 {
        let frame = reg.create_region(caller).unwrap();
        let scratch = reg.alloc_typed(frame, [depth as u8; 300]).unwrap();
        let mut acc = u64::from(reg.get_typed::<[u8; 300]>(scratch).unwrap()[0]);
        if depth > 0 {
            acc += call(reg, frame, depth - 1);
        }
        let result = reg.alloc_typed(frame, acc).unwrap();
        reg.retain(result).unwrap();
        reg.release_region(frame).unwrap();
        let value = *reg.get_typed::<u64>(result).unwrap();
        reg.free(result).unwrap();
        value
    }
    let mut reg = Registry::new();
    let root = reg.root();
    for _ in 0..scaled(200, 5) {
        call(&mut reg, root, 20);
    }
    let mut sum = 0;
    let calls = calls_during(|| {
        for _ in 0..scaled(200, 5) {
            sum += call(&mut reg, root, 20);
        }
    });
    assert_eq!(calls, 0, "frame calls called the global allocator");
    assert_eq!(sum, 210 * scaled(200, 5) as u64);
    assert_eq!(
        reg.ghost_table_count(),
        0,
        "every forwarded result was freed"
    );
    reg.check_invariants().unwrap();
}

#[test]
fn a_region_built_with_capacity_takes_that_many_objects_without_growing() {
    const OBJECTS: usize = 1000;
    let mut reg = Registry::new();
    let fill = |reg: &mut Registry, region| {
        for i in 0..OBJECTS as u64 {
            reg.alloc_typed(region, i).unwrap(); // inline: no page needed
        }
    };
    reg.alloc_typed(reg.root(), 0u64).unwrap(); // registers the type
    let sized = reg.region_builder().capacity(OBJECTS).create().unwrap();
    assert_eq!(calls_during(|| fill(&mut reg, sized)), 0);
    // The control: without the capacity the table grows.
    let grown = reg.create_region(reg.root()).unwrap();
    assert!(calls_during(|| fill(&mut reg, grown)) > 0);
    reg.check_invariants().unwrap();
}

#[test]
fn stores_unstores_scopes_and_container_deaths_make_no_allocator_call_once_warm() {
    let mut reg = Registry::new();
    let shared: Vec<ObjectHandle> = (0..8u64)
        .map(|i| reg.alloc_typed(reg.root(), i).unwrap())
        .collect();
    let round = |reg: &mut Registry| {
        for _ in 0..scaled(100, 3) {
            let mut scope = reg.scope(regions::RegionHandle::ROOT).unwrap();
            let entity = scope.region();
            for &h in &shared {
                scope.store_handle(entity, h).unwrap();
                scope.store_handle(entity, h).unwrap();
            }
            scope.unstore(entity, shared[0]).unwrap();
            let listed = scope.stored_in(entity).unwrap().count();
            assert_eq!(listed, 2 * shared.len() - 1);
        } // each scope's death gives its references back
    };
    round(&mut reg);
    assert_eq!(calls_during(|| round(&mut reg)), 0);
    for &h in &shared {
        assert_eq!(reg.strong_count(h).unwrap(), 0);
    }
    reg.check_invariants().unwrap();
}
