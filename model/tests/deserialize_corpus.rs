//! The committed corpus of the fuzz target `deserialize`
//! (`corpus/deserialize/`), replayed under `cargo test`:
//!
//! - every file goes through `check_deserialize`, the fuzz target's checks
//!   (no panic; on `Err` the registry is unchanged; on `Ok` the invariants
//!   hold, the copy holds the map's copies, and releasing it keeps the
//!   invariants);
//! - the memory bound: while `deserialize` runs, the heap in use (counted
//!   by a global allocator for the current thread) grows by at most
//!   8 × the input's length + 64 KiB above where it started, whatever the
//!   input says.
//!
//! Regenerate the corpus with `examples/seed_deserialize.rs` (see there).

use core::alloc::Layout;
use std::alloc::{GlobalAlloc, System};
use std::cell::Cell;
use std::path::PathBuf;

use regions_model::serial_fixture::{check_deserialize, extreme_streams, populated_registry};

/// Live bytes may grow by this many times the input's length...
const PER_INPUT_BYTE: usize = 8;
/// ... plus this much.
const SLACK: usize = 64 * 1024;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Bytes allocated minus bytes freed by this thread while counting.
    static LIVE: Cell<i64> = const { Cell::new(0) };
    /// The most `LIVE` has been since counting started.
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn track(delta: i64) {
    // `try_with`: the thread's locals may be gone while it shuts down.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = LIVE.try_with(|live| {
                let now = live.get() + delta;
                live.set(now);
                let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
            });
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches
// only const-initialized thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            track(layout.size() as i64);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as i64));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            track(layout.size() as i64);
        }
        ptr
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            track(new_size as i64 - layout.size() as i64);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The most the heap in use grew, in bytes, above where it was when `work`
/// started, counting this thread's allocations while `work` ran (what it
/// returns is dropped after counting stops).
fn peak_growth<R>(work: impl FnOnce() -> R) -> (usize, R) {
    LIVE.with(|live| live.set(0));
    PEAK.with(|peak| peak.set(0));
    COUNTING.with(|counting| counting.set(true));
    let result = work();
    COUNTING.with(|counting| counting.set(false));
    (PEAK.with(Cell::get) as usize, result)
}

/// Every file of `corpus/deserialize/`, sorted by name, with its name.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus/deserialize");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes =
                std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            (name, bytes)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "corpus/deserialize/ holds only {} files",
        files.len()
    );
    files
}

#[test]
fn every_corpus_file_passes_the_fuzz_targets_checks() {
    let files = corpus();
    let (mut loaded, mut refused) = (0, 0);
    for (name, bytes) in &files {
        let outcome = std::panic::catch_unwind(|| check_deserialize(bytes));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!(
                "corpus/deserialize/{name} ({} bytes): {message}",
                bytes.len()
            );
        }
        let mut reg = populated_registry();
        let root = reg.root();
        match reg.deserialize(root, bytes) {
            Ok(_) => loaded += 1,
            Err(_) => refused += 1,
        }
    }
    println!(
        "{} corpus files: {loaded} load, {refused} are refused",
        files.len()
    );
    // The corpus exercises both outcomes.
    assert!(loaded > 0 && refused > 0);
}

/// Runs `deserialize` on each input (with its name) into a fresh
/// [`populated_registry`], prints the worst growth per input byte and the
/// worst share of the bound (with `each`, every input's figures), and fails
/// listing every input over the bound.
fn check_memory_bound(inputs: &[(String, Vec<u8>)], each: bool) {
    let mut failures = Vec::new();
    // The worst input by growth per input byte, and by share of the bound.
    let mut worst_ratio = (0.0f64, String::new(), 0, 0);
    let mut worst_share = (0.0f64, String::new(), 0, 0);
    for (name, bytes) in inputs {
        let mut reg = populated_registry();
        let root = reg.root();
        let (growth, result) = peak_growth(|| reg.deserialize(root, bytes));
        let outcome = match &result {
            Ok((_, map)) => format!("Ok, {} objects", map.copies().len()),
            Err(error) => format!("Err({:?})", error.kind()),
        };
        drop(result);
        let bound = PER_INPUT_BYTE * bytes.len() + SLACK;
        let ratio = growth as f64 / bytes.len().max(1) as f64;
        let share = growth as f64 / bound as f64;
        if each {
            println!(
                "{name}: {} input bytes, heap grew {growth} bytes ({ratio:.2} per input byte, \
                 {share:.3} of the bound; {outcome})",
                bytes.len()
            );
        }
        if ratio > worst_ratio.0 {
            worst_ratio = (ratio, name.clone(), growth, bytes.len());
        }
        if share > worst_share.0 {
            worst_share = (share, name.clone(), growth, bytes.len());
        }
        if growth > bound {
            failures.push(format!(
                "{name}: {} input bytes, heap grew {growth} bytes > bound {bound} \
                 ({:.2} per input byte; {outcome})",
                bytes.len(),
                ratio
            ));
        }
    }
    println!(
        "worst growth per input byte: {:.2} ({}: {} bytes for {} input bytes)",
        worst_ratio.0, worst_ratio.1, worst_ratio.2, worst_ratio.3
    );
    println!(
        "worst share of the bound 8 x len + 64 KiB: {:.3} ({}: {} bytes for {} input bytes)",
        worst_share.0, worst_share.1, worst_share.2, worst_share.3
    );
    assert!(
        failures.is_empty(),
        "deserialize exceeded its memory bound of 8 x input + 64 KiB:\n{}",
        failures.join("\n")
    );
}

#[test]
fn deserialize_holds_at_most_eight_times_its_input_plus_64_kib() {
    let inputs: Vec<(String, Vec<u8>)> = corpus()
        .into_iter()
        .map(|(name, bytes)| (format!("corpus/deserialize/{name}"), bytes))
        .collect();
    check_memory_bound(&inputs, false);
}

/// The same bound on the valid streams that need the most memory per
/// byte (`extreme_streams`: many empty regions, objects, stored
/// references, old handles), at sizes where the fixed 64 KiB no longer
/// covers them.
#[test]
fn extreme_streams_hold_at_most_eight_times_their_input_plus_64_kib() {
    let inputs: Vec<(String, Vec<u8>)> = [100, 250, 1000, 5000]
        .into_iter()
        .flat_map(extreme_streams)
        .collect();
    check_memory_bound(&inputs, true);
}
