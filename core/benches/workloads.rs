//! Micro-workloads, each one criterion group with the regions variant and
//! its peer(s) side by side in the same process (slotmap for handles,
//! bumpalo for arenas, `Box` for the global allocator).
//!
//! Every group sets `Throughput::Elements`, so criterion reports time per
//! element. Nothing allocated in an iteration survives it: what a timed part
//! allocates is freed in an untimed part of the same iteration. Group and
//! function names are read by `ci/bench_table.py`: keep them stable.
//!
//! `REGIONS_BENCH_SMALL=1` shrinks the largest workloads for a smoke run.

mod common;

use core::alloc::Layout;
use std::time::{Duration, Instant};

use bumpalo::Bump;
use criterion::measurement::WallTime;
use criterion::{
    black_box, criterion_group, criterion_main, Bencher, BenchmarkGroup, Criterion, SamplingMode,
    Throughput,
};
use regions::{ObjectHandle, RegionHandle, Registry, TypeTag};
use slotmap::{DefaultKey, SlotMap};

use common::{mixed_sizes, permutation, scaled, MIXED_MAX};

/// The raw tag of every object that has no destructor.
const TAG: TypeTag = TypeTag(1);
const LAYOUT_16: Layout = Layout::new::<[u8; 16]>();
const LAYOUT_48: Layout = Layout::new::<[u64; 6]>();
/// Objects per iteration of the alloc and free groups.
const N_ALLOC: usize = 10_000;
/// Objects read per iteration of the sequential get group.
const N_GET: usize = 100_000;
/// Lookups per iteration of the forwarding groups.
const LOOKUPS: usize = 1_000;
/// Objects per region in the churn groups.
const CHURN_OBJECTS: usize = 1_000;

type Map = SlotMap<DefaultKey, [u8; 16]>;

/// A group whose results are reported per element.
fn group<'a>(c: &'a mut Criterion, name: &str, elements: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(elements as u64));
    group
}

/// Settings for groups whose iterations take tens of milliseconds or more.
fn heavy(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
}

/// Which half of an alloc-then-free cycle a group times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timed {
    Alloc,
    Free,
}

/// Each iteration runs `fill` then `empty` on the same state; only the
/// `timed` one is measured, so nothing accumulates across iterations and the
/// other half stays out of the timing.
fn cycle<S>(
    b: &mut Bencher<'_>,
    state: &mut S,
    timed: Timed,
    mut fill: impl FnMut(&mut S),
    mut empty: impl FnMut(&mut S),
) {
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let start = Instant::now();
            fill(state);
            let filled = start.elapsed();
            let start = Instant::now();
            empty(state);
            let emptied = start.elapsed();
            total += if timed == Timed::Alloc {
                filled
            } else {
                emptied
            };
        }
        total
    });
}

/// A group of a workload built on [`cycle`]: its iterations take about
/// twice as long as what they time, so it takes fewer samples.
fn cycle_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = group(c, name, N_ALLOC);
    group.sample_size(50);
    group
}

/// A registry with one child region of the root, both alive before timing.
fn registry_with_region() -> (Registry, RegionHandle) {
    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    (reg, region)
}

fn bytes16(i: usize) -> [u8; 16] {
    [i as u8; 16]
}

/// Allocates `n` raw 16-byte objects into `region`, appending the handles.
fn alloc_raw16(reg: &mut Registry, region: RegionHandle, n: usize, out: &mut Vec<ObjectHandle>) {
    for i in 0..n {
        out.push(reg.alloc(region, LAYOUT_16, &bytes16(i), TAG).unwrap());
    }
}

fn free_all(reg: &mut Registry, handles: &mut Vec<ObjectHandle>) {
    for h in handles.drain(..) {
        reg.free(h).unwrap();
    }
}

fn insert_all(map: &mut Map, n: usize, out: &mut Vec<DefaultKey>) {
    for i in 0..n {
        out.push(map.insert(bytes16(i)));
    }
}

fn remove_all(map: &mut Map, keys: &mut Vec<DefaultKey>) {
    for k in keys.drain(..) {
        black_box(map.remove(k).unwrap());
    }
}

/// Sums one byte read through every key, in order.
fn sum_bytes<K: Copy>(keys: &[K], mut read: impl FnMut(K) -> u8) -> u64 {
    let mut sum = 0u64;
    for &k in keys {
        sum += u64::from(read(k));
    }
    black_box(sum)
}

/// `alloc_16B` or `free_16B`: raw 16-byte objects into a warm registry
/// vs `SlotMap` of `[u8; 16]`, with the `timed` half measured.
fn alloc_free_group(c: &mut Criterion, name: &str, timed: Timed, functions: [&str; 2]) {
    let mut group = cycle_group(c, name);
    let (reg, region) = registry_with_region();
    let mut state = (reg, Vec::with_capacity(N_ALLOC));
    group.bench_function(functions[0], |b| {
        cycle(
            b,
            &mut state,
            timed,
            |(reg, handles)| alloc_raw16(reg, region, N_ALLOC, handles),
            |(reg, handles)| free_all(reg, handles),
        )
    });
    let mut state = (Map::new(), Vec::with_capacity(N_ALLOC));
    group.bench_function(functions[1], |b| {
        cycle(
            b,
            &mut state,
            timed,
            |(map, keys)| insert_all(map, N_ALLOC, keys),
            |(map, keys)| remove_all(map, keys),
        )
    });
    group.finish();
}

fn alloc_16b(c: &mut Criterion) {
    let functions = ["regions::alloc", "slotmap::insert"];
    alloc_free_group(c, "alloc_16B", Timed::Alloc, functions);
}

fn free_16b(c: &mut Criterion) {
    let functions = ["regions::free", "slotmap::remove"];
    alloc_free_group(c, "free_16B", Timed::Free, functions);
}

fn get_16b_sequential(c: &mut Criterion) {
    let mut group = group(c, "get_16B_sequential", N_GET);
    let (mut reg, region) = registry_with_region();
    let mut raw = Vec::with_capacity(N_GET);
    alloc_raw16(&mut reg, region, N_GET, &mut raw);
    let typed_region = reg.create_region(reg.root()).unwrap();
    let typed: Vec<ObjectHandle> = (0..N_GET)
        .map(|i| reg.alloc_typed(typed_region, bytes16(i)).unwrap())
        .collect();
    group.bench_function("regions::get", |b| {
        b.iter(|| sum_bytes(&raw, |h| reg.get(h).unwrap()[0]))
    });
    group.bench_function("regions::get_typed", |b| {
        b.iter(|| sum_bytes(&typed, |h| reg.get_typed::<[u8; 16]>(h).unwrap()[0]))
    });
    drop(reg);
    let mut map = Map::new();
    let mut keys = Vec::with_capacity(N_GET);
    insert_all(&mut map, N_GET, &mut keys);
    group.bench_function("slotmap::get", |b| {
        b.iter(|| sum_bytes(&keys, |k| map.get(k).unwrap()[0]))
    });
    group.finish();
}

/// `keys` in the order of the first `visits` entries of `order`.
fn visit_order<K: Copy>(keys: &[K], order: &[u32], visits: usize) -> Vec<K> {
    order[..visits].iter().map(|&i| keys[i as usize]).collect()
}

fn get_random_10m(c: &mut Criterion) {
    let objects = scaled(10_000_000, 1_000_000);
    let visits = 1_000_000.min(objects);
    let order = permutation(objects, 0x5eed);
    let mut group = group(c, "get_random_10M", visits);
    heavy(&mut group);
    {
        let (mut reg, region) = registry_with_region();
        let mut handles = Vec::with_capacity(objects);
        alloc_raw16(&mut reg, region, objects, &mut handles);
        let visit = visit_order(&handles, &order, visits);
        drop(handles);
        group.bench_function("regions::get", |b| {
            b.iter(|| sum_bytes(&visit, |h| reg.get(h).unwrap()[0]))
        });
    }
    {
        let mut map = Map::with_capacity(objects);
        let mut keys = Vec::with_capacity(objects);
        insert_all(&mut map, objects, &mut keys);
        let visit = visit_order(&keys, &order, visits);
        drop(keys);
        group.bench_function("slotmap::get", |b| {
            b.iter(|| sum_bytes(&visit, |k| map.get(k).unwrap()[0]))
        });
    }
    group.finish();
}

/// One region-churn workload: `regions` regions (or arenas, or vectors) of
/// [`CHURN_OBJECTS`] objects each; object `i` (counted over the whole run)
/// is made by the closures below.
struct Churn<R, P, B> {
    name: &'static str,
    regions: usize,
    /// Allocates object `i` in a region.
    regions_alloc: R,
    /// Allocates object `i` in a bump arena.
    bump_alloc: P,
    /// Boxes object `i`.
    boxed: B,
}

fn churn_group<R, P, B, T>(c: &mut Criterion, mut churn: Churn<R, P, B>)
where
    R: FnMut(&mut Registry, RegionHandle, usize),
    P: FnMut(&Bump, usize),
    B: FnMut(usize) -> Box<T>,
    T: ?Sized,
{
    let mut group = group(c, churn.name, churn.regions * CHURN_OBJECTS);
    heavy(&mut group);
    let regions = churn.regions;
    let mut reg = Registry::new();
    let root = reg.root();
    group.bench_function("regions", |b| {
        b.iter(|| {
            for r in 0..regions {
                let region = reg.create_region(root).unwrap();
                for i in r * CHURN_OBJECTS..(r + 1) * CHURN_OBJECTS {
                    (churn.regions_alloc)(&mut reg, region, i);
                }
                black_box(reg.release_region(region).unwrap());
            }
        })
    });
    group.bench_function("bumpalo", |b| {
        b.iter(|| {
            for r in 0..regions {
                let bump = Bump::new();
                for i in r * CHURN_OBJECTS..(r + 1) * CHURN_OBJECTS {
                    (churn.bump_alloc)(&bump, i);
                }
                drop(black_box(bump));
            }
        })
    });
    group.bench_function("Vec<Box>", |b| {
        b.iter(|| {
            for r in 0..regions {
                let boxes: Vec<Box<T>> = (r * CHURN_OBJECTS..(r + 1) * CHURN_OBJECTS)
                    .map(&mut churn.boxed)
                    .collect();
                drop(black_box(boxes));
            }
        })
    });
    group.finish();
}

fn region_churn_48b(c: &mut Criterion) {
    churn_group(
        c,
        Churn {
            name: "region_churn_48B",
            regions: scaled(1000, 100),
            regions_alloc: |reg: &mut Registry, region: RegionHandle, i: usize| {
                black_box(reg.alloc(region, LAYOUT_48, &[i as u8; 48], TAG).unwrap());
            },
            bump_alloc: |bump: &Bump, i: usize| {
                black_box(bump.alloc([i as u64; 6]));
            },
            boxed: |i: usize| Box::new([i as u64; 6]),
        },
    );
}

fn mixed_churn(c: &mut Criterion) {
    let regions = scaled(1000, 100);
    let sizes = mixed_sizes(regions * CHURN_OBJECTS);
    let source: Vec<u8> = (0..MIXED_MAX).map(|i| i as u8).collect();
    let layout = |i: usize| Layout::from_size_align(usize::from(sizes[i]), 8).unwrap();
    let bytes = |i: usize| &source[..usize::from(sizes[i])];
    churn_group(
        c,
        Churn {
            name: "mixed_churn",
            regions,
            regions_alloc: |reg: &mut Registry, region: RegionHandle, i: usize| {
                black_box(reg.alloc(region, layout(i), bytes(i), TAG).unwrap());
            },
            bump_alloc: |bump: &Bump, i: usize| {
                let src = bytes(i);
                let dst = bump.alloc_layout(layout(i));
                // SAFETY: `dst` is a fresh allocation of `src.len()` bytes,
                // disjoint from `src`.
                unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_ptr(), src.len()) };
                black_box(dst);
            },
            boxed: |i: usize| Box::<[u8]>::from(bytes(i)),
        },
    );
}

/// Promotes one retained object through `depth` region deaths: a chain of
/// nested regions, the object allocated in the deepest, released leaf first.
/// Returns the registry and the object's original handle.
fn promoted_through_chain(depth: usize) -> (Registry, ObjectHandle) {
    let mut reg = Registry::new();
    let mut chain = Vec::with_capacity(depth);
    let mut parent = reg.root();
    for _ in 0..depth {
        parent = reg.create_region(parent).unwrap();
        chain.push(parent);
    }
    let original = reg.alloc(parent, LAYOUT_16, &bytes16(7), TAG).unwrap();
    reg.retain(original).unwrap();
    for &region in chain.iter().rev() {
        assert!(reg.release_region(region).unwrap());
    }
    assert_eq!(reg.region_of(original).unwrap(), reg.root());
    (reg, original)
}

/// Reads `handle` [`LOOKUPS`] times.
fn repeated_get(reg: &Registry, handle: ObjectHandle) -> u64 {
    let mut sum = 0u64;
    for _ in 0..LOOKUPS {
        sum += u64::from(reg.get(black_box(handle)).unwrap()[0]);
    }
    black_box(sum)
}

fn resolve_after_10k_promotions(c: &mut Criterion) {
    let mut group = group(c, "resolve_after_10k_promotions", LOOKUPS);
    // O(1) resolution: an old handle of an object promoted through 10,000
    // deaths costs what one of an object promoted once costs.
    for depth in [10_000, 1] {
        let (mut reg, original) = promoted_through_chain(depth);
        let home = reg.resolve(original).unwrap();
        group.bench_function(format!("regions::get(after {depth})"), |b| {
            b.iter(|| repeated_get(&reg, original))
        });
        group.bench_function(format!("regions::resolve(after {depth})"), |b| {
            b.iter(|| {
                for _ in 0..LOOKUPS {
                    black_box(reg.resolve(black_box(original)).unwrap());
                }
            })
        });
        if depth == 1 {
            group.bench_function("regions::get(home)", |b| {
                b.iter(|| repeated_get(&reg, home))
            });
        }
    }
    group.finish();
}

/// A registry where `tables` regions each died promoting one retained
/// object to the root (so `tables` ghost tables exist), and an old handle
/// from the middle one.
fn registry_with_ghosts(tables: usize) -> (Registry, ObjectHandle) {
    let mut reg = Registry::new();
    let root = reg.root();
    let mut old = Vec::with_capacity(tables);
    for i in 0..tables {
        let region = reg.create_region(root).unwrap();
        let h = reg.alloc(region, LAYOUT_16, &bytes16(i), TAG).unwrap();
        reg.retain(h).unwrap();
        reg.release_region(region).unwrap();
        old.push(h);
    }
    assert_eq!(reg.ghost_table_count(), tables, "one ghost table per death");
    (reg, old[tables / 2])
}

fn ghost_lookup(c: &mut Criterion) {
    let mut group = group(c, "ghost_lookup", LOOKUPS);
    for tables in [100_000, 10] {
        let (reg, old) = registry_with_ghosts(tables);
        let name = format!("regions::get({tables} tables)");
        group.bench_function(name, |b| b.iter(|| repeated_get(&reg, old)));
    }
    group.finish();
}

/// The raw tag the objects of the destructor group carry.
const MIDDLE_TAG: u64 = 5_001;

fn destructor_lookup(c: &mut Criterion) {
    let mut group = cycle_group(c, "destructor_lookup");
    for tags in [10_000u64, 1] {
        let (mut reg, region) = registry_with_region();
        // Registered tags MIDDLE_TAG - tags/2 .. + tags: 1..=10_000, or MIDDLE_TAG alone.
        let first = MIDDLE_TAG - tags / 2;
        for tag in first..first + tags {
            reg.register_destructor(TypeTag(tag), |_, bytes| {
                black_box(bytes[0]);
            })
            .unwrap();
        }
        let name = if tags == 1 {
            "regions::free(1 tag)".to_owned()
        } else {
            format!("regions::free({tags} tags)")
        };
        let mut state = (reg, Vec::with_capacity(N_ALLOC));
        group.bench_function(name, |b| {
            cycle(
                b,
                &mut state,
                Timed::Free,
                |(reg, handles)| {
                    for i in 0..N_ALLOC {
                        let h = reg.alloc(region, LAYOUT_16, &bytes16(i), TypeTag(MIDDLE_TAG));
                        handles.push(h.unwrap());
                    }
                },
                |(reg, handles)| free_all(reg, handles),
            )
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    alloc_16b,
    free_16b,
    get_16b_sequential,
    get_random_10m,
    region_churn_48b,
    mixed_churn,
    resolve_after_10k_promotions,
    ghost_lookup,
    destructor_lookup
);
criterion_main!(benches);
