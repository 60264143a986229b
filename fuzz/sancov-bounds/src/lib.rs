//! The bounds of SanitizerCoverage's counters section (`__sancov_cntrs`),
//! for `fuzz_targets/check_coverage.rs`.
//!
//! Why a crate of its own, holding no code: the linker defines
//! `__start___sancov_cntrs` and `__stop___sancov_cntrs`, and the coverage
//! pass declares them too, in every module where it instruments a
//! function. A module that declares them itself *and* is instrumented gets
//! the pass's copies renamed (`__start___sancov_cntrs.171`), which the
//! linker leaves undefined, and that module registers no counters at all
//! (libFuzzer then reports `ft: 2`). This crate has no function for the
//! pass to instrument, so its declarations are the only ones in it,
//! however the fuzz build is invoked (from `fuzz/`, where
//! `instrument-core-only.sh` leaves the targets uninstrumented, or from the
//! repository root, where every crate is).
#![no_std]

extern "C" {
    static mut __start___sancov_cntrs: u8;
    static mut __stop___sancov_cntrs: u8;
}

/// A pointer the linker fills in.
pub struct Bound(pub *mut u8);

// SAFETY: the pointer is only an address; whoever dereferences it owns the
// synchronization (the fuzz targets run one input at a time on one thread).
unsafe impl Sync for Bound {}

/// The first counter.
pub static START: Bound = Bound(&raw mut __start___sancov_cntrs);
/// One past the last counter.
pub static STOP: Bound = Bound(&raw mut __stop___sancov_cntrs);
