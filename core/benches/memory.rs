//! Heap measurements, kept out of the timing benches: a counting global
//! allocator (wrapping `System`) tracks live bytes, their peak and the number
//! of allocation calls. Prints one machine-readable line per measurement:
//!
//! ```text
//! memory app_entities regions_peak_bytes=N slotmap_peak_bytes=N ratio=R ...
//! memory metadata_16B regions_bytes_per_object=B regions_metadata_per_object=M ...
//! ```
//!
//! `*_metadata_per_object` is the heap bytes per object minus the 16 bytes
//! of the object itself. Arguments (cargo passes `--bench`) are ignored.

mod common;
#[path = "apps/entities.rs"]
mod entities;

use core::alloc::Layout;
use std::alloc::{GlobalAlloc, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use regions::{Registry, TypeTag};
use slotmap::{DefaultKey, SlotMap};

use entities::{Config, SlotMapGame};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    CALLS.fetch_add(1, Relaxed);
    let live = LIVE.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(live, Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes, Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only
// observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What running `body` did to the heap.
struct Usage<T> {
    /// Peak live bytes above the live bytes before `body`.
    peak: usize,
    /// Live bytes after `body` minus before (what its result holds).
    retained: usize,
    calls: usize,
    result: T,
}

fn measure<T>(body: impl FnOnce() -> T) -> Usage<T> {
    let before = LIVE.load(Relaxed);
    let calls = CALLS.load(Relaxed);
    PEAK.store(before, Relaxed);
    let result = body();
    Usage {
        peak: PEAK.load(Relaxed) - before,
        retained: LIVE.load(Relaxed).saturating_sub(before),
        calls: CALLS.load(Relaxed) - calls,
        result,
    }
}

fn app_entities() {
    let config = Config::standard();
    let regions = measure(|| entities::play_regions(&mut Registry::new(), &config));
    let slotmap = measure(|| SlotMapGame::default().play(&config));
    assert_eq!(
        regions.result, slotmap.result,
        "both games compute the same checksum"
    );
    println!(
        "memory app_entities regions_peak_bytes={} slotmap_peak_bytes={} ratio={:.2} \
         regions_alloc_calls={} slotmap_alloc_calls={} entity_ticks={}",
        regions.peak,
        slotmap.peak,
        regions.peak as f64 / slotmap.peak as f64,
        regions.calls,
        slotmap.calls,
        config.entity_ticks(),
    );
}

const OBJECTS: usize = 1_000_000;

fn per_object(bytes: usize) -> (f64, f64) {
    let per = bytes as f64 / OBJECTS as f64;
    (per, per - 16.0)
}

fn metadata_16b() {
    let layout = Layout::new::<[u8; 16]>();
    let regions = measure(|| {
        let mut reg = Registry::new();
        let region = reg.create_region(reg.root()).unwrap();
        for i in 0..OBJECTS {
            black_box(
                reg.alloc(region, layout, &[i as u8; 16], TypeTag(1))
                    .unwrap(),
            );
        }
        reg
    });
    let slotmap = measure(|| {
        let mut map: SlotMap<DefaultKey, [u8; 16]> = SlotMap::new();
        for i in 0..OBJECTS {
            black_box(map.insert([i as u8; 16]));
        }
        map
    });
    let (regions_total, regions_meta) = per_object(regions.retained);
    let (slotmap_total, slotmap_meta) = per_object(slotmap.retained);
    println!(
        "memory metadata_16B regions_bytes_per_object={regions_total:.2} \
         regions_metadata_per_object={regions_meta:.2} \
         slotmap_bytes_per_object={slotmap_total:.2} \
         slotmap_metadata_per_object={slotmap_meta:.2}"
    );
    drop((regions.result, slotmap.result));
}

fn main() {
    app_entities();
    metadata_16b();
}
