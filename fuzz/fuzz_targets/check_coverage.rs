// Leaves the core code that the driver's checks run out of the coverage
// libFuzzer sees (`regions_model::driver::CheckHooks` says why).
//
// SanitizerCoverage keeps one 8-bit hit counter per instrumented edge in the
// `__sancov_cntrs` section; libFuzzer zeroes the section before each run
// and reads it after. `enter` saves the counters as the op left them and
// `leave` writes them back, so the checks' hits vanish. libFuzzer reads the
// counters only between runs, on this thread, never during one.
use std::cell::RefCell;

use regions_model::driver::CheckHooks;

extern "C" {
    // Bounds of the counters section, defined by the linker for every
    // section whose name is a C identifier.
    static mut __start___sancov_cntrs: u8;
    static mut __stop___sancov_cntrs: u8;
}

thread_local! {
    static SAVED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn counters() -> (*mut u8, usize) {
    let start = &raw mut __start___sancov_cntrs;
    let stop = &raw mut __stop___sancov_cntrs;
    (start, stop as usize - start as usize)
}

fn enter() {
    let (start, len) = counters();
    SAVED.with_borrow_mut(|saved| {
        saved.clear();
        saved.reserve(len);
        unsafe {
            std::ptr::copy_nonoverlapping(start, saved.as_mut_ptr(), len);
            saved.set_len(len);
        }
    });
}

fn leave() {
    let (start, len) = counters();
    SAVED.with_borrow(|saved| {
        unsafe { std::ptr::copy_nonoverlapping(saved.as_ptr(), start, len) };
    });
}

pub const HOOKS: CheckHooks = CheckHooks { enter, leave };
