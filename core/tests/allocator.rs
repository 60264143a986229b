//! The allocation engine seen from the public API: the block cache, the
//! nursery, size classes and type pools, coalescing of large chunks,
//! compaction, bulk allocation and slices.

use core::alloc::Layout;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use regions::{ErrorKind, ObjectHandle, RegionHandle, Registry, TypeTag};

mod common;
use common::{assert_consistent, raw, scaled};

fn address(reg: &Registry, h: ObjectHandle) -> usize {
    reg.get(h).unwrap().as_ptr() as usize
}

/// A region whose nursery is already full, so later objects go to the
/// size-class, type and large pools.
fn grown_region(reg: &mut Registry) -> RegionHandle {
    let region = reg.create_region(reg.root()).unwrap();
    while reg.arena_count(region).unwrap() < 2 {
        raw(reg, region, &[0; 24], 8);
    }
    region
}

#[test]
fn a_small_region_costs_one_block() {
    let mut reg = Registry::new();
    let entity = reg.create_region(reg.root()).unwrap();
    raw(&mut reg, entity, &[1; 40], 8); // a name
    reg.alloc_typed(entity, [2u64; 7]).unwrap(); // stats
    reg.alloc_typed(entity, [3u32; 4]).unwrap(); // inline
    assert_eq!(reg.arena_count(entity).unwrap(), 1, "one nursery block");
    assert_eq!(reg.memory_usage().page_bytes, regions::FIRST_BLOCK_SIZE);
}

#[test]
fn the_nursery_limit_is_configurable_down_to_none() {
    for (limit, largest) in [(0, 0), (256, 256), (1000, 512)] {
        let mut reg = Registry::builder().nursery_bytes(limit).build();
        // Large regions before push the nursery size up to the limit.
        for _ in 0..2 {
            let frame = reg.create_region(reg.root()).unwrap();
            for _ in 0..100 {
                raw(&mut reg, frame, &[1; 64], 8);
            }
            reg.release_region(frame).unwrap();
        }
        let frame = reg.create_region(reg.root()).unwrap();
        raw(&mut reg, frame, &[1; 16 * 4], 8);
        let first_block = reg.memory_usage().page_bytes;
        if largest == 0 {
            // No nursery: the object went to a slab page of its class.
            assert_eq!(first_block, 256, "a first slab page of four 64-byte chunks");
        } else {
            assert_eq!(first_block, largest, "limit {limit}");
        }
        assert_consistent(&reg);
    }
}

#[test]
fn the_next_region_gets_a_nursery_sized_like_the_last_ones() {
    let mut reg = Registry::new();
    for _ in 0..3 {
        let frame = reg.create_region(reg.root()).unwrap();
        for _ in 0..10 {
            raw(&mut reg, frame, &[1; 300], 8);
        }
        reg.release_region(frame).unwrap();
    }
    let frame = reg.create_region(reg.root()).unwrap();
    for _ in 0..10 {
        raw(&mut reg, frame, &[1; 300], 8);
    }
    assert_eq!(
        reg.arena_count(frame).unwrap(),
        1,
        "3000 bytes fit the adapted nursery"
    );
}

#[test]
fn blocks_are_recycled_across_regions_up_to_the_high_water_mark() {
    let churn = |reg: &mut Registry| {
        for _ in 0..scaled(20, 3) {
            let region = reg.create_region(reg.root()).unwrap();
            // 100 KB or more: past the largest nursery, into slab pages.
            for i in 0..scaled(2000, 500) {
                raw(reg, region, &[i as u8; 200], 8);
            }
            reg.release_region(region).unwrap();
        }
    };
    let mut reg = Registry::new();
    churn(&mut reg);
    let warm = reg.memory_usage().blocks_from_system;
    churn(&mut reg);
    let usage = reg.memory_usage();
    assert_eq!(usage.blocks_from_system, warm, "no new block once warm");
    assert!(usage.blocks_reused > 0);
    assert!(usage.cached_block_bytes + usage.retained_bytes <= usage.block_cache_limit);

    let mut uncached = Registry::builder().block_cache_bytes(0).build();
    churn(&mut uncached);
    let usage = uncached.memory_usage();
    assert_eq!(
        usage.cached_block_bytes, 0,
        "a zero high-water mark keeps nothing"
    );
    assert_eq!(usage.retained_bytes, 0);
    assert!(usage.blocks_from_system > warm);
    assert_consistent(&uncached);
}

#[test]
fn freed_chunks_of_a_size_class_are_reused_by_that_class() {
    let mut reg = Registry::new();
    let region = grown_region(&mut reg);
    let a = raw(&mut reg, region, &[1; 100], 8);
    let b = raw(&mut reg, region, &[2; 100], 8);
    let freed = address(&reg, a);
    reg.free(a).unwrap();
    let c = raw(&mut reg, region, &[3; 110], 8); // same 112-byte class
    assert_eq!(address(&reg, c), freed, "the freed chunk is reused");
    assert_eq!(reg.get(b).unwrap(), &[2; 100]);
    assert_consistent(&reg);
}

#[test]
fn typed_objects_of_one_type_sit_together() {
    let mut reg = Registry::new();
    let region = grown_region(&mut reg);
    let handles: Vec<ObjectHandle> = (0..50u64)
        .map(|i| {
            raw(&mut reg, region, &[0; 64], 8); // raw objects of the same size in between
            reg.alloc_typed(region, [i; 8]).unwrap()
        })
        .collect();
    let addresses: Vec<usize> = handles
        .iter()
        .map(|&h| reg.get_typed::<[u64; 8]>(h).unwrap().as_ptr() as usize)
        .collect();
    let adjacent = addresses.windows(2).filter(|w| w[1] == w[0] + 64).count();
    assert!(
        adjacent >= 40,
        "only {adjacent} of 49 neighbours are adjacent"
    );
}

#[test]
fn a_large_object_fits_once_its_freed_neighbours_merge() {
    let mut reg = Registry::new();
    let region = grown_region(&mut reg);
    let layout = Layout::from_size_align(1200, 16).unwrap();
    let take = |reg: &mut Registry, fill: u8| {
        reg.alloc(region, layout, &[fill; 1200], TypeTag(1))
            .unwrap()
    };
    let (a, b, c) = (take(&mut reg, 1), take(&mut reg, 2), take(&mut reg, 3));
    let pages = reg.arena_count(region).unwrap();
    let start = address(&reg, a);
    assert_eq!(address(&reg, b), start + 1216, "a and b are neighbours");
    reg.free(a).unwrap();
    reg.free(b).unwrap();
    // 2400 bytes need the room of a and b together.
    let big = Layout::from_size_align(2400, 16).unwrap();
    let d = reg.alloc(region, big, &[4; 2400], TypeTag(1)).unwrap();
    assert_eq!(address(&reg, d), start, "placed where a and b were");
    assert_eq!(reg.arena_count(region).unwrap(), pages, "no new page");
    assert_eq!(reg.get(c).unwrap(), &[3; 1200]);
    assert_consistent(&reg);
}

#[test]
fn compaction_empties_sparse_pages_and_keeps_every_handle() {
    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    let count = scaled(3000, 200);
    let handles: Vec<ObjectHandle> = (0..count)
        .map(|i| raw(&mut reg, region, &[i as u8; 100], 8))
        .collect();
    let mut live = Vec::new();
    for (i, &h) in handles.iter().enumerate() {
        if i % 4 == 0 {
            live.push((h, i as u8));
        } else {
            reg.free(h).unwrap();
        }
    }
    let before = reg.arena_count(region).unwrap();
    let bytes_before = reg.memory_usage().page_bytes;
    let step = reg.compact(region, 1000).unwrap();
    assert!(step.bytes_moved <= 1000, "the budget holds: {step:?}");
    let mut total = step;
    loop {
        let step = reg.compact(region, usize::MAX).unwrap();
        assert_consistent(&reg);
        total.objects_moved += step.objects_moved;
        total.blocks_released += step.blocks_released;
        if step.objects_moved == 0 {
            break;
        }
    }
    let after = reg.arena_count(region).unwrap();
    assert!(
        total.objects_moved > 0 && total.blocks_released > 0,
        "{total:?}"
    );
    assert!(after < before, "{before} pages before, {after} after");
    assert!(reg.memory_usage().page_bytes < bytes_before);
    for (h, fill) in live {
        assert_eq!(reg.get(h).unwrap(), &[fill; 100], "{h} kept its contents");
    }
    assert_eq!(reg.compact(reg.root(), 0).unwrap().bytes_moved, 0);
    let dead = reg.create_region(reg.root()).unwrap();
    reg.release_region(dead).unwrap();
    assert_eq!(
        reg.compact(dead, 100).unwrap_err().kind(),
        ErrorKind::InvalidRegion
    );
}

#[test]
fn compaction_never_runs_destructors() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let mut reg = Registry::new();
    reg.register_destructor(TypeTag(9), move |_, _| {
        seen.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    let region = reg.create_region(reg.root()).unwrap();
    let layout = Layout::from_size_align(80, 8).unwrap();
    let handles: Vec<ObjectHandle> = (0..scaled(500, 60))
        .map(|i| {
            reg.alloc(region, layout, &[i as u8; 80], TypeTag(9))
                .unwrap()
        })
        .collect();
    for &h in handles.iter().skip(1).step_by(2) {
        reg.free(h).unwrap();
    }
    let freed = calls.load(Ordering::Relaxed);
    while reg.compact(region, usize::MAX).unwrap().objects_moved > 0 {}
    assert_eq!(
        calls.load(Ordering::Relaxed),
        freed,
        "moving is not destroying"
    );
    reg.release_region(region).unwrap();
    assert_eq!(
        calls.load(Ordering::Relaxed),
        handles.len(),
        "once each in all"
    );
}

#[test]
fn bulk_objects_are_adjacent_and_all_or_nothing() {
    let mut reg = Registry::new();
    let region = grown_region(&mut reg);
    let layout = Layout::from_size_align(48, 8).unwrap();
    let bytes: Vec<u8> = (0..100 * 48).map(|i| (i / 48) as u8).collect();
    let handles = reg
        .alloc_bulk(region, layout, TypeTag(2), 100, &bytes)
        .unwrap();
    assert_eq!(handles.len(), 100);
    for (i, &h) in handles.iter().enumerate() {
        assert_eq!(reg.get(h).unwrap(), &[i as u8; 48]);
    }
    let first = address(&reg, handles[0]);
    for (i, &h) in handles.iter().enumerate() {
        assert_eq!(
            address(&reg, h),
            first + 48 * i,
            "object {i} is next to the previous"
        );
    }
    let count = reg.object_count(region).unwrap();
    let error = reg
        .alloc_bulk(region, layout, TypeTag(2), 101, &bytes)
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::SizeMismatch);
    let error = reg
        .alloc_bulk(region, layout, TypeTag(u64::MAX), 100, &bytes)
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ReservedTypeTag);
    assert_eq!(
        reg.object_count(region).unwrap(),
        count,
        "a failed bulk allocates nothing"
    );
    assert!(reg
        .alloc_bulk(region, layout, TypeTag(2), 0, &[])
        .unwrap()
        .is_empty());
    let inline = Layout::from_size_align(4, 4).unwrap();
    let small = reg
        .alloc_bulk(region, inline, TypeTag(2), 3, b"aaaabbbbcccc")
        .unwrap();
    assert_eq!(reg.get(small[2]).unwrap(), b"cccc");
    assert_consistent(&reg);
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>, #[allow(dead_code)] u64);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn slices_of_one_type_and_different_lengths_get_chunks_of_their_size() {
    let mut reg = Registry::new();
    let region = grown_region(&mut reg);
    let other = grown_region(&mut reg);
    let slice = |len: usize| {
        (0..len as u64)
            .map(|i| i * 1000 + len as u64)
            .collect::<Vec<_>>()
    };
    let mut handles: Vec<(usize, ObjectHandle)> = Vec::new();
    for len in (1..=60).chain((1..=60).rev()) {
        handles.push((len, reg.alloc_slice_copy(region, &slice(len)).unwrap()));
    }
    // Promotion into a region whose typed pool serves other lengths.
    reg.alloc_slice_copy(other, &slice(3)).unwrap();
    let (len, moved) = handles.pop().unwrap();
    let moved = reg.promote(moved, other).unwrap();
    handles.push((len, moved));
    assert_consistent(&reg);
    for (len, handle) in handles {
        assert_eq!(reg.get_slice::<u64>(handle).unwrap(), &slice(len)[..]);
    }
}

#[test]
fn slices_round_trip_and_drop_each_element_once() {
    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    let words = reg.alloc_slice_copy(region, &[1u64, 2, 3, 4, 5]).unwrap();
    assert_eq!(reg.get_slice::<u64>(words).unwrap(), &[1, 2, 3, 4, 5]);
    reg.get_slice_mut::<u64>(words).unwrap()[4] = 50;
    assert_eq!(reg.get_slice::<u64>(words).unwrap()[4], 50);
    assert_eq!(
        reg.get_slice::<u32>(words).unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    assert_eq!(reg.get(words).unwrap_err().kind(), ErrorKind::TypeMismatch);
    assert_eq!(reg.layout_of(words).unwrap(), Layout::new::<[u64; 5]>());
    let empty = reg.alloc_slice_copy::<u8>(region, &[]).unwrap();
    assert!(reg.get_slice::<u8>(empty).unwrap().is_empty());

    let drops = Arc::new(AtomicUsize::new(0));
    let freed = reg
        .alloc_slice_fill_with(region, 7, |i| Counted(Arc::clone(&drops), i as u64))
        .unwrap();
    let kept = reg
        .alloc_slice_fill_with(region, 300, |i| Counted(Arc::clone(&drops), i as u64))
        .unwrap();
    assert_eq!(reg.get_slice::<Counted>(kept).unwrap()[299].1, 299);
    reg.free(freed).unwrap();
    assert_eq!(drops.load(Ordering::Relaxed), 7);
    reg.release_region(region).unwrap();
    assert_eq!(drops.load(Ordering::Relaxed), 307, "each element once");
    assert_consistent(&reg);
}

#[test]
fn a_panic_while_filling_a_slice_drops_what_was_made_and_allocates_nothing() {
    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let before = reg.object_count(region).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reg.alloc_slice_fill_with(region, 10, |i| {
            assert!(i < 4, "the fourth element cannot be made");
            Counted(Arc::clone(&drops), 0)
        })
    }));
    assert!(result.is_err());
    assert_eq!(
        drops.load(Ordering::Relaxed),
        4,
        "the four made are dropped"
    );
    assert_eq!(reg.object_count(region).unwrap(), before);
    assert_consistent(&reg);
    let again = reg.alloc_slice_copy(region, &[9u16; 3]).unwrap();
    assert_eq!(reg.get_slice::<u16>(again).unwrap(), &[9; 3]);
}
