// AddressSanitizer's defaults for the fuzz targets; an `ASAN_OPTIONS`
// variable still overrides them (for a reproducer's full report:
// `ASAN_OPTIONS=malloc_context_size=30`). Measured on the `ops` target
// (docs/TESTING.md, "Throughput"):
// - `detect_stack_use_after_return=0`: that check moves every frame with
//   an address-taken local to a heap-allocated fake stack, about 4 % of the
//   time, for a bug class safe Rust cannot have and the core's `unsafe`
//   code does not create (it hands out pointers into region blocks, never
//   into frames);
// - `malloc_context_size=0`: each allocation and each free would record
//   its stack, and the driver allocates on every op; at 10 frames that was
//   about a quarter of the time of a fixed replay. A report still shows
//   the faulting access's stack; rerun the reproducer with
//   `ASAN_OPTIONS=malloc_context_size=30` for where the memory was
//   allocated and freed;
// - `quarantine_size_mb=32`: freed memory waits in a 32 MB quarantine
//   instead of 256 MB before reuse, so use-after-free within an input (a
//   few hundred kilobytes) is still caught, and fresh pages are faulted in
//   less often.
// Heap overflow, use-after-free and leak detection stay on.
#[no_mangle]
pub extern "C" fn __asan_default_options() -> *const core::ffi::c_char {
    c"detect_stack_use_after_return=0:malloc_context_size=0:quarantine_size_mb=32".as_ptr()
}
