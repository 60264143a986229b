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

/// The hooks `ops.rs` gives the driver.
pub const HOOKS: CheckHooks = CheckHooks { enter, leave };
