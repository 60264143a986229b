#![no_main]
// Decodes ops from the input and runs them through the differential driver,
// counting as coverage only which edges of the core the ops ran.
mod asan_options;
mod check_coverage;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    regions_model::driver::fuzz_ops_with_check_hooks(data, check_coverage::HOOKS);
    check_coverage::keep_edges_only();
});
