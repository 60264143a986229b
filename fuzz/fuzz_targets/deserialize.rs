#![no_main]
// Feeds the input, as an untrusted stream, to `Registry::deserialize(root,
// data)` on a populated registry and checks the outcome:
// `regions_model::serial_fixture::check_deserialize` (no panic; on `Err` the
// registry is unchanged; on `Ok` the invariants hold, the copy holds exactly
// the map's copies, the rest of the registry is untouched, and releasing the
// copy keeps the invariants).
//
// The registry is `serial_fixture::populated_registry()`, which registers
// the fixture's `Persist` types (`serial_fixture::register_types`: `Point`,
// `Link`, `Label`), the same ones the seed corpus (`corpus/deserialize/`,
// written by `model/examples/seed_deserialize.rs`) was serialized with.
mod asan_options;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    regions_model::serial_fixture::check_deserialize(data)
});
