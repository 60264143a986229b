#!/bin/bash -eu
# Builds every cargo-fuzz target (`cargo fuzz list`) into $OUT, with its
# committed seed corpus as $OUT/<target>_seed_corpus.zip, the layout
# ClusterFuzzLite and OSS-Fuzz expect. Run by the builder image (SRC, OUT,
# SANITIZER set, nightly toolchain and cargo-fuzz installed); outside Docker,
# ci/cflite-build-check.sh runs it with the same variables.
cd "$SRC/regions"

# -O: fuzzing wants optimized code. fuzz/Cargo.toml's release profile keeps
# debug assertions and overflow checks on, so an overflow or a failed
# debug_assert! in the core is still a crash. The sanitizer (address) is
# cargo-fuzz's default. In a coverage build the image's cargo wrapper turns
# this into an instrumented `cargo build --bins` and puts the binaries in the
# same release directory.
cargo fuzz build -O

# CARGO_TARGET_DIR is unset in the image (fuzz/target); the local check sets
# it so this build does not overwrite the campaign's fuzz/target builds.
bin_dir=${CARGO_TARGET_DIR:-fuzz/target}/x86_64-unknown-linux-gnu/release

# Targets by file name rather than `cargo fuzz list`: in a coverage build the
# image's cargo wrapper intercepts every `cargo fuzz` command, list included.
# The targets are fuzz/Cargo.toml's binaries (fuzz/fuzz_targets/ also holds
# modules they share, which are not targets).
for target in $(cargo fuzz list); do
  cp "$bin_dir/$target" "$OUT/"
  # libFuzzer starts from the seed corpus when the campaign's own corpus is
  # empty (the first batch run, or a run without a storage repository).
  # corpus/<target>/ is flat, so -j keeps only the file names.
  if [ -d "corpus/$target" ]; then
    rm -f "$OUT/${target}_seed_corpus.zip"
    find "corpus/$target" -type f | zip -q -j "$OUT/${target}_seed_corpus.zip" -@
  fi
done
