//! Application benchmarks: the same program on regions and written the
//! ordinary way, side by side in one criterion group each. Both versions'
//! checksums are compared once, outside timing, before measuring.
//!
//! `REGIONS_BENCH_SMALL=1` shrinks them for a smoke run.

mod apps;
mod common;

use criterion::measurement::WallTime;
use criterion::{
    black_box, criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use regions::Registry;

use apps::entities::{self, Config, SlotMapGame};
use apps::interpreter;
use common::scaled;

/// A group of long iterations reported per element.
fn app_group<'a>(c: &'a mut Criterion, name: &str, elements: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(elements));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group
}

fn app_interpreter(c: &mut Criterion) {
    let program = interpreter::program(scaled(200_000, 20_000));
    let mut reg = Registry::new();
    let on_regions = interpreter::run_regions(&mut reg, &program);
    let on_rc = interpreter::run_rc(&program);
    assert_eq!(
        on_regions, on_rc,
        "both interpreters compute the same (checksum, calls)"
    );
    assert_eq!(on_regions.1, program.calls);
    let mut group = app_group(c, "app_interpreter", program.calls);
    group.bench_function("regions", |b| {
        b.iter(|| black_box(interpreter::run_regions(&mut reg, &program)))
    });
    group.bench_function("Rc/Vec/Box", |b| {
        b.iter(|| black_box(interpreter::run_rc(&program)))
    });
    group.finish();
}

fn app_entities(c: &mut Criterion) {
    let config = Config::standard();
    let mut reg = Registry::new();
    let mut peer = SlotMapGame::default();
    let on_regions = entities::play_regions(&mut reg, &config);
    assert_eq!(
        on_regions,
        peer.play(&config),
        "both games compute the same checksum"
    );
    assert_eq!(
        reg.live_region_count(),
        1,
        "a game leaves the registry empty"
    );
    let mut group = app_group(c, "app_entities", config.entity_ticks());
    group.bench_function("regions", |b| {
        b.iter(|| black_box(entities::play_regions(&mut reg, &config)))
    });
    group.bench_function("slotmap", |b| b.iter(|| black_box(peer.play(&config))));
    group.finish();
}

criterion_group!(benches, app_interpreter, app_entities);
criterion_main!(benches);
