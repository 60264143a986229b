//! Side-by-side benchmarks against the peers named in DESIGN.md section 5:
//! slotmap (handles), bumpalo (arenas) and `Box` (the global allocator).
//! Each iteration frees what it allocated, so page faults are not measured.

use core::alloc::Layout;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use regions::{ObjectHandle, Registry, TypeTag};
use slotmap::{DefaultKey, SlotMap};

const N: usize = 10_000;

fn get_sequential(c: &mut Criterion) {
    let mut group = c.benchmark_group("get_16B_sequential");
    group.throughput(Throughput::Elements(N as u64));
    let mut reg = Registry::new();
    let root = reg.root();
    let layout = Layout::new::<[u8; 16]>();
    let handles: Vec<ObjectHandle> = (0..N)
        .map(|i| reg.alloc(root, layout, &[i as u8; 16], TypeTag(1)).unwrap())
        .collect();
    group.bench_function("regions::get", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for &h in &handles {
                sum += u64::from(reg.get(h).unwrap()[0]);
            }
            black_box(sum)
        })
    });
    let mut map: SlotMap<DefaultKey, [u8; 16]> = SlotMap::new();
    let keys: Vec<DefaultKey> = (0..N).map(|i| map.insert([i as u8; 16])).collect();
    group.bench_function("slotmap::get", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for &k in &keys {
                sum += u64::from(map.get(k).unwrap()[0]);
            }
            black_box(sum)
        })
    });
    group.finish();
}

fn alloc_and_free(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc_free_16B");
    group.throughput(Throughput::Elements(N as u64));
    let layout = Layout::new::<[u8; 16]>();
    group.bench_function("regions::alloc+free", |b| {
        let mut reg = Registry::new();
        let root = reg.root();
        let mut handles = Vec::with_capacity(N);
        b.iter(|| {
            for i in 0..N {
                handles.push(reg.alloc(root, layout, &[i as u8; 16], TypeTag(1)).unwrap());
            }
            for h in handles.drain(..) {
                reg.free(h).unwrap();
            }
        })
    });
    group.bench_function("slotmap::insert+remove", |b| {
        let mut map: SlotMap<DefaultKey, [u8; 16]> = SlotMap::new();
        let mut keys = Vec::with_capacity(N);
        b.iter(|| {
            for i in 0..N {
                keys.push(map.insert([i as u8; 16]));
            }
            for k in keys.drain(..) {
                map.remove(k).unwrap();
            }
        })
    });
    group.finish();
}

fn region_churn(c: &mut Criterion) {
    const REGIONS: usize = 100;
    const OBJECTS: usize = 1000;
    let mut group = c.benchmark_group("region_churn_48B");
    group.throughput(Throughput::Elements((REGIONS * OBJECTS) as u64));
    let layout = Layout::new::<[u64; 6]>();
    group.bench_function("regions", |b| {
        let mut reg = Registry::new();
        let root = reg.root();
        b.iter(|| {
            for _ in 0..REGIONS {
                let r = reg.create_region(root).unwrap();
                for i in 0..OBJECTS {
                    reg.alloc(r, layout, &[i as u8; 48], TypeTag(1)).unwrap();
                }
                reg.release_region(r).unwrap();
            }
        })
    });
    group.bench_function("bumpalo", |b| {
        b.iter(|| {
            for _ in 0..REGIONS {
                let bump = bumpalo::Bump::new();
                for i in 0..OBJECTS {
                    black_box(bump.alloc([i as u64; 6]));
                }
            }
        })
    });
    group.bench_function("Vec<Box<_>>", |b| {
        b.iter_batched(
            || (),
            |()| {
                for _ in 0..REGIONS {
                    let boxes: Vec<Box<[u64; 6]>> =
                        (0..OBJECTS).map(|i| Box::new([i as u64; 6])).collect();
                    black_box(&boxes);
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, get_sequential, alloc_and_free, region_churn);
criterion_main!(benches);
