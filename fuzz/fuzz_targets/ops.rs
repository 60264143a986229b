#![no_main]
// Decodes ops from the input and runs them through the differential driver.
mod asan_options;

libfuzzer_sys::fuzz_target!(|data: &[u8]| regions_model::driver::fuzz_ops(data));
