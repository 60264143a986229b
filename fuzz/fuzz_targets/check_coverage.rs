// Leaves the core code that the driver's checks run out of the coverage
// libFuzzer sees (`regions_model::driver::CheckHooks` says why).
//
// SanitizerCoverage keeps one 8-bit hit counter per instrumented edge in the
// `__sancov_cntrs` section; libFuzzer zeroes the section before each run
// and reads it after. `enter` saves the counters as the op left them and
// `leave` writes them back, so the checks' hits vanish. libFuzzer reads the
// counters only between runs, on this thread, never during one.
//
// A plain copy of the section (22 KB) is the cheapest way found: saving
// only its non-zero words needs a scan of it on both sides, which measured
// slower (docs/TESTING.md, "Throughput").
use std::cell::RefCell;

use regions_fuzz_sancov_bounds::{START, STOP};
use regions_model::driver::CheckHooks;

thread_local! {
    /// The counters as `enter` found them.
    static SAVED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The counters section as a pointer and a length.
fn counters() -> (*mut u8, usize) {
    let (start, stop) = (START.0, STOP.0);
    (start, stop as usize - start as usize)
}

fn enter() {
    let (start, len) = counters();
    SAVED.with_borrow_mut(|saved| {
        saved.clear();
        saved.reserve(len);
        // SAFETY: `start..start + len` is the counters section, which lives
        // as long as the program and which instrumented code only
        // increments through raw pointers (no reference to it exists);
        // `saved` has room for `len` bytes and is a separate allocation, so
        // after the copy its first `len` bytes are initialized.
        unsafe {
            std::ptr::copy_nonoverlapping(start, saved.as_mut_ptr(), len);
            saved.set_len(len);
        }
    });
}

fn leave() {
    let (start, len) = counters();
    SAVED.with_borrow(|saved| {
        assert_eq!(saved.len(), len, "leave without enter");
        // SAFETY: as in `enter`, with the roles of the two swapped; `saved`
        // holds `len` initialized bytes (checked above).
        unsafe { std::ptr::copy_nonoverlapping(saved.as_ptr(), start, len) };
    });
}

/// Turns every non-zero counter into 1, so that libFuzzer sees which
/// edges of the core the ops ran, not how often (its `-use_counters=0`,
/// made the target's own choice so that the plain command and every
/// campaign use it). Hit counts of the ops' loops over objects made almost
/// every input look new: the corpus grew to three times the size, and
/// libFuzzer's per-feature bookkeeping took a third of each run
/// (docs/TESTING.md, "Throughput", third round, with the detection
/// figures that justify the trade).
pub fn keep_edges_only() {
    let (start, len) = counters();
    // SAFETY: as in `enter`: the counters section is `len` bytes from
    // `start`, lives as long as the program, and nothing else reads or
    // writes it while the target runs (libFuzzer reads it after the run);
    // this is the only reference to it and it ends with the function.
    let counters = unsafe { std::slice::from_raw_parts_mut(start, len) };
    // SAFETY: every bit pattern is a valid u64 and a valid u8.
    let (head, words, tail) = unsafe { counters.align_to_mut::<u64>() };
    for byte in head.iter_mut().chain(tail) {
        *byte = u8::from(*byte != 0);
    }
    for word in words.iter_mut().filter(|word| **word != 0) {
        // Folds each byte's bits into its lowest bit: after the shifts by
        // 4, 2 and 1, bit 0 of each byte is the OR of that byte's 8 bits
        // (what the shifts bring in from the next byte lands above bit 0
        // and is masked off).
        let mut folded = *word;
        folded |= folded >> 4;
        folded |= folded >> 2;
        folded |= folded >> 1;
        *word = folded & 0x0101_0101_0101_0101;
    }
}

/// The hooks `ops.rs` gives the driver.
pub const HOOKS: CheckHooks = CheckHooks { enter, leave };
