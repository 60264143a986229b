//! The driver's deliberate panics (panicking destructors, an `init` that
//! panics) must never reach the panic hook that was installed before the
//! driver's: libFuzzer's aborts the process on any panic, caught or not.
//! A panicking `init` run before any panicking destructor was registered
//! once reached it, and the fuzz target died on a committed seed while
//! `cargo test` (whose hook only prints) passed.
//!
//! Its own test binary, because it replaces the process's panic hook.

use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering};

use regions_model::driver::run;
use regions_model::op::prelude::*;

/// Panics that reached the hook installed here, libFuzzer's stand-in.
static REACHED_THE_OUTER_HOOK: AtomicUsize = AtomicUsize::new(0);

#[test]
fn deliberate_panics_never_reach_an_earlier_hook() {
    panic::set_hook(Box::new(|_| {
        REACHED_THE_OUTER_HOOK.fetch_add(1, Ordering::SeqCst);
    }));
    let in_place = |panics| AllocConvenient {
        region: Root,
        how: Convenient::FilledInPlace {
            size: 16,
            align_log2: 3,
            tag: 1,
            fill: 7,
            panics,
        },
    };
    let report = run(&[
        // The first deliberate panic of the process: an `init`'s.
        in_place(true),
        in_place(false),
        RegisterDestructor { tag: 1 },
        RegisterPanickingDestructor { tag: 2 },
        Alloc {
            region: Root,
            size: 8,
            align_log2: 3,
            tag: 2,
            fill: 1,
            mismatched_len: false,
        },
    ]);
    let _ = panic::take_hook();
    if let Err(failure) = report {
        panic!("{failure}");
    }
    assert_eq!(REACHED_THE_OUTER_HOOK.load(Ordering::SeqCst), 0);
}
