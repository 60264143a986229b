//! One workload at a time, for profilers: `perf record` and
//! `valgrind --tool=callgrind` (instruction counts are reproducible on a
//! noisy machine, where times are not).
//!
//! ```text
//! cargo run --release -p regions --example profile -- <workload> [elements]
//! ```
//!
//! Each workload has a regions side and a peer side with the same shape as
//! the criterion benchmark of the same name (`benches/workloads.rs`,
//! `benches/applications.rs`); `ci/instructions.sh` runs every pair under
//! callgrind and prints instructions per element and their ratio. The
//! program prints a checksum so no work can be optimized away.

#[path = "../benches/apps/mod.rs"]
#[allow(dead_code)]
mod apps;
#[path = "../benches/common/mod.rs"]
mod common;

use core::alloc::Layout;
use std::hint::black_box;

use regions::{ObjectHandle, Registry, TypeTag};
use slotmap::{DefaultKey, SlotMap};

const TAG: TypeTag = TypeTag(1);

/// Runs a workload over a number of elements; returns a checksum.
type Run = fn(usize) -> u64;

/// The workloads, each `(name, default element count, run)`.
const WORKLOADS: &[(&str, usize, Run)] = &[
    ("alloc-free", 200_000, alloc_free_regions),
    ("alloc-free-slotmap", 200_000, alloc_free_slotmap),
    ("get", 1_000_000, get_regions),
    ("get-slotmap", 1_000_000, get_slotmap),
    ("churn", 200_000, churn_regions),
    ("churn-bumpalo", 200_000, churn_bumpalo),
    ("churn-box", 200_000, churn_box),
    ("mixed", 100_000, mixed_regions),
    ("mixed-bumpalo", 100_000, mixed_bumpalo),
    ("mixed-box", 100_000, mixed_box),
    ("interpreter", 20_000, interpreter_regions),
    ("interpreter-rc", 20_000, interpreter_rc),
    ("entities", 200_000, entities_regions),
    ("entities-slotmap", 200_000, entities_slotmap),
];

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_default();
    let Some(&(_, default, run)) = WORKLOADS.iter().find(|(n, _, _)| *n == name) else {
        let names: Vec<&str> = WORKLOADS.iter().map(|(n, _, _)| *n).collect();
        eprintln!(
            "usage: profile <workload> [elements]; workloads: {}",
            names.join(" ")
        );
        std::process::exit(2);
    };
    let elements = args
        .next()
        .map_or(default, |a| a.parse().expect("element count"));
    println!("{}", run(elements));
}

/// Objects per batch of the alloc/free and get workloads.
const BATCH: usize = 10_000;
/// Objects per region (or arena) of the churn workloads.
const PER_REGION: usize = 1_000;

fn payload16(i: usize) -> [u8; 16] {
    [i as u8; 16]
}

fn alloc_free_regions(elements: usize) -> u64 {
    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    let layout = Layout::new::<[u8; 16]>();
    let mut handles: Vec<ObjectHandle> = Vec::with_capacity(BATCH);
    for _ in 0..elements / BATCH {
        for i in 0..BATCH {
            handles.push(reg.alloc(region, layout, &payload16(i), TAG).unwrap());
        }
        for handle in handles.drain(..) {
            reg.free(handle).unwrap();
        }
    }
    reg.object_count(region).unwrap() as u64
}

fn alloc_free_slotmap(elements: usize) -> u64 {
    let mut map: SlotMap<DefaultKey, [u8; 16]> = SlotMap::new();
    let mut keys: Vec<DefaultKey> = Vec::with_capacity(BATCH);
    for _ in 0..elements / BATCH {
        for i in 0..BATCH {
            keys.push(map.insert(payload16(i)));
        }
        for key in keys.drain(..) {
            map.remove(key).unwrap();
        }
    }
    map.len() as u64
}

fn get_regions(elements: usize) -> u64 {
    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    let layout = Layout::new::<[u8; 16]>();
    let handles: Vec<ObjectHandle> = (0..BATCH)
        .map(|i| reg.alloc(region, layout, &payload16(i), TAG).unwrap())
        .collect();
    let mut sum = 0;
    for _ in 0..elements / BATCH {
        for &handle in &handles {
            sum += u64::from(reg.get(black_box(handle)).unwrap()[0]);
        }
    }
    sum
}

fn get_slotmap(elements: usize) -> u64 {
    let mut map: SlotMap<DefaultKey, [u8; 16]> = SlotMap::new();
    let keys: Vec<DefaultKey> = (0..BATCH).map(|i| map.insert(payload16(i))).collect();
    let mut sum = 0;
    for _ in 0..elements / BATCH {
        for &key in &keys {
            sum += u64::from(map.get(black_box(key)).unwrap()[0]);
        }
    }
    sum
}

fn payload48(i: usize) -> [u8; 48] {
    [i as u8; 48]
}

fn churn_regions(elements: usize) -> u64 {
    let mut reg = Registry::new();
    let layout = Layout::new::<[u64; 6]>();
    for _ in 0..elements / PER_REGION {
        let region = reg.create_region(reg.root()).unwrap();
        for i in 0..PER_REGION {
            black_box(reg.alloc(region, layout, &payload48(i), TAG).unwrap());
        }
        reg.release_region(region).unwrap();
    }
    reg.live_region_count() as u64
}

fn churn_bumpalo(elements: usize) -> u64 {
    let mut arena = bumpalo::Bump::new();
    for _ in 0..elements / PER_REGION {
        for i in 0..PER_REGION {
            black_box(arena.alloc(payload48(i)));
        }
        arena.reset();
    }
    arena.allocated_bytes() as u64
}

fn churn_box(elements: usize) -> u64 {
    let mut boxes: Vec<Box<[u8; 48]>> = Vec::with_capacity(PER_REGION);
    for _ in 0..elements / PER_REGION {
        for i in 0..PER_REGION {
            boxes.push(Box::new(payload48(i)));
        }
        boxes.clear();
    }
    boxes.capacity() as u64
}

fn mixed_regions(elements: usize) -> u64 {
    let sizes = common::mixed_sizes(elements);
    let source = [7u8; 2000];
    let mut reg = Registry::new();
    for batch in sizes.chunks(PER_REGION) {
        let region = reg.create_region(reg.root()).unwrap();
        for &size in batch {
            let size = usize::from(size);
            let layout = Layout::from_size_align(size, 8).unwrap();
            black_box(reg.alloc(region, layout, &source[..size], TAG).unwrap());
        }
        reg.release_region(region).unwrap();
    }
    reg.live_region_count() as u64
}

fn mixed_bumpalo(elements: usize) -> u64 {
    let sizes = common::mixed_sizes(elements);
    let source = [7u8; 2000];
    let mut arena = bumpalo::Bump::new();
    for batch in sizes.chunks(PER_REGION) {
        for &size in batch {
            let source = &source[..usize::from(size)];
            let layout = Layout::from_size_align(source.len(), 8).unwrap();
            let destination = arena.alloc_layout(layout);
            // SAFETY: `destination` is a fresh allocation of `source.len()`
            // bytes, disjoint from `source`.
            unsafe {
                core::ptr::copy_nonoverlapping(source.as_ptr(), destination.as_ptr(), source.len())
            };
            black_box(destination);
        }
        arena.reset();
    }
    arena.allocated_bytes() as u64
}

fn mixed_box(elements: usize) -> u64 {
    let sizes = common::mixed_sizes(elements);
    let source = [7u8; 2000];
    let mut boxes: Vec<Box<[u8]>> = Vec::with_capacity(PER_REGION);
    for batch in sizes.chunks(PER_REGION) {
        for &size in batch {
            boxes.push(Box::from(&source[..usize::from(size)]));
        }
        boxes.clear();
    }
    boxes.capacity() as u64
}

fn interpreter_regions(calls: usize) -> u64 {
    let program = apps::interpreter::program(calls);
    let mut reg = Registry::new();
    apps::interpreter::run_regions(&mut reg, &program).0
}

fn interpreter_rc(calls: usize) -> u64 {
    let program = apps::interpreter::program(calls);
    apps::interpreter::run_rc(&program).0
}

/// A game of 2 000 entities with `entity_ticks / 2 000` ticks.
fn entity_game(entity_ticks: usize) -> apps::entities::Config {
    let entities = 2_000;
    apps::entities::Config {
        entities,
        ticks: (entity_ticks / entities).max(1),
        respawns_per_tick: entities * 5 / 100,
    }
}

fn entities_regions(entity_ticks: usize) -> u64 {
    let mut reg = Registry::new();
    apps::entities::play_regions(&mut reg, &entity_game(entity_ticks))
}

fn entities_slotmap(entity_ticks: usize) -> u64 {
    apps::entities::SlotMapGame::default().play(&entity_game(entity_ticks))
}
