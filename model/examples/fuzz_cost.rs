//! What a fuzz corpus costs the `ops` target, measured outside libFuzzer
//! (no sanitizer, no coverage counters): per input, the time
//! `run_fuzz_input` takes, the ops it runs and the peak live objects; with
//! `--by-kind`, the time and the allocations of each op kind and of the
//! final comparison. It tells which inputs and which ops a change to the
//! driver or the decoder should make cheaper (docs/TESTING.md,
//! "Throughput").
//!
//! ```text
//! cargo run --release -p regions-model --features small-generations --example fuzz_cost -- DIR|FILE [--by-kind] [--repeat N]
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use regions_model::driver::{fuzz_driver, run_fuzz_input, FUZZ_FULL_CHECK_EVERY, MAX_FUZZ_OPS};
use regions_model::engine::Flags;
use regions_model::op::OpDecoder;

const USAGE: &str = "usage: fuzz_cost DIR|FILE [--by-kind] [--repeat N]";

/// The system allocator, counting the allocations it makes.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to `System` with the caller's arguments,
// so `System`'s guarantees are the caller's.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One input's cost.
struct Row {
    micros: u128,
    bytes: usize,
    ops: usize,
    peak_objects: Option<usize>,
    path: PathBuf,
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(target) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let parsed =
        Flags::parse_with_optional(args, &["--repeat"], &["--by-kind"]).and_then(|flags| {
            let repeat: usize = flags.get("--repeat")?.unwrap_or(3);
            Ok((flags.has("--by-kind"), repeat.max(1)))
        });
    let (by_kind, repeat) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("fuzz_cost: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let inputs = match inputs(&target) {
        Ok(inputs) if !inputs.is_empty() => inputs,
        Ok(_) => {
            eprintln!("fuzz_cost: {target} holds no inputs");
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("fuzz_cost: {error}");
            return ExitCode::from(2);
        }
    };
    // Divergences are the fuzzer's business; here they only cut a run short.
    panic::set_hook(Box::new(|_| {}));
    if by_kind {
        print_by_kind(&inputs, repeat);
    } else {
        print_per_input(&inputs, repeat);
    }
    ExitCode::SUCCESS
}

/// Each input's best time of `repeat` runs, then the quantiles.
fn print_per_input(inputs: &[(PathBuf, Vec<u8>)], repeat: usize) {
    let mut rows: Vec<Row> = inputs
        .iter()
        .map(|(path, data)| {
            let mut best = None;
            for _ in 0..repeat {
                let mut ops = Vec::new();
                let start = Instant::now();
                let run = panic::catch_unwind(AssertUnwindSafe(|| {
                    run_fuzz_input(data, MAX_FUZZ_OPS, FUZZ_FULL_CHECK_EVERY, &mut ops)
                }));
                let micros = start.elapsed().as_micros();
                let peak_objects = match run {
                    Ok(Ok(report)) => Some(report.reach.peak_live_objects),
                    _ => None,
                };
                if best.as_ref().is_none_or(|row: &Row| micros < row.micros) {
                    best = Some(Row {
                        micros,
                        bytes: data.len(),
                        ops: ops.len(),
                        peak_objects,
                        path: path.clone(),
                    });
                }
            }
            best.expect("at least one run")
        })
        .collect();
    rows.sort_by_key(|row| row.micros);
    let total: u128 = rows.iter().map(|row| row.micros).sum();
    let count = rows.len() as u128;
    let ops: usize = rows.iter().map(|row| row.ops).sum();
    println!(
        "{} inputs: {total} µs in all, {} µs and {} ops each on average",
        rows.len(),
        total / count,
        ops / rows.len()
    );
    for quantile in [0.5, 0.9, 0.99, 1.0] {
        let row = &rows[((rows.len() as f64 * quantile) as usize).min(rows.len() - 1)];
        let peak = row
            .peak_objects
            .map_or("(failed)".into(), |p| p.to_string());
        println!(
            "  q{quantile}: {} µs, {} bytes, {} ops, peak {peak} objects: {}",
            row.micros,
            row.bytes,
            row.ops,
            row.path.display()
        );
    }
    let slowest_tenth: u128 = rows
        .iter()
        .rev()
        .take(rows.len() / 10)
        .map(|row| row.micros)
        .sum();
    println!(
        "  the slowest tenth of the inputs takes {} % of the time",
        slowest_tenth * 100 / total.max(1)
    );
}

/// Time and allocations per op kind (and of the final comparison) over
/// `repeat` runs of every input.
fn print_by_kind(inputs: &[(PathBuf, Vec<u8>)], repeat: usize) {
    #[derive(Default)]
    struct Cost {
        nanos: u128,
        count: u64,
        allocations: u64,
    }
    let mut kinds: BTreeMap<&'static str, Cost> = BTreeMap::new();
    let mut measure = |kind: &'static str, work: &mut dyn FnMut() -> bool| {
        let allocations = ALLOCATIONS.load(Ordering::Relaxed);
        let start = Instant::now();
        let passed = work();
        let cost = kinds.entry(kind).or_default();
        cost.nanos += start.elapsed().as_nanos();
        cost.count += 1;
        cost.allocations += ALLOCATIONS.load(Ordering::Relaxed) - allocations;
        passed
    };
    for (_, data) in inputs
        .iter()
        .flat_map(|input| std::iter::repeat_n(input, repeat))
    {
        let _ = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut driver = fuzz_driver(FUZZ_FULL_CHECK_EVERY);
            let mut decoder = OpDecoder::new(data, MAX_FUZZ_OPS);
            while let Some(op) = decoder.next_op(driver.reference().table_lens()) {
                if !measure(op.kind_name(), &mut || driver.apply(&op).is_ok()) {
                    return;
                }
            }
            let mut driver = Some(driver);
            measure("(finish)", &mut || {
                driver.take().is_some_and(|driver| driver.finish().is_ok())
            });
        }));
    }
    let mut rows: Vec<_> = kinds.into_iter().collect();
    rows.sort_by_key(|(_, cost)| std::cmp::Reverse(cost.nanos));
    println!(
        "{:28} {:>10} {:>8} {:>9} {:>12}",
        "kind", "µs", "runs", "ns/run", "allocations"
    );
    for (kind, cost) in rows {
        println!(
            "{kind:28} {:>10} {:>8} {:>9} {:>12.1}",
            cost.nanos / 1000,
            cost.count,
            cost.nanos / u128::from(cost.count),
            cost.allocations as f64 / cost.count as f64
        );
    }
}

/// The files of `target` (or `target` itself if it is a file), read.
fn inputs(target: &str) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let paths: Vec<PathBuf> = match std::fs::read_dir(target) {
        Ok(entries) => entries
            .map(|entry| entry.map(|e| e.path()).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?,
        Err(_) => vec![target.into()],
    };
    paths
        .into_iter()
        .map(|path| match std::fs::read(&path) {
            Ok(data) => Ok((path, data)),
            Err(error) => Err(format!("cannot read {}: {error}", path.display())),
        })
        .collect()
}
