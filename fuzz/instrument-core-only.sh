#!/usr/bin/env bash
# rustc wrapper for the fuzz builds (fuzz/.cargo/config.toml): instrument
# the crate under test, and only it. docs/TESTING.md ("Throughput") has the
# measurements behind each choice.
#
# cargo-fuzz puts its instrumentation flags in RUSTFLAGS, so every crate
# gets them: the core, but also the reference model, the differential
# driver, proptest and arbitrary. This wrapper keeps, per crate:
# - `regions` (the core): SanitizerCoverage edges and AddressSanitizer.
#   Not `-sanitizer-coverage-trace-compares`: the ops target's inputs are
#   decoded into op kinds and table indices, so no comparison in the core
#   sees an input byte that libFuzzer could copy into a mutation, and the
#   hooks cost about a third of the target's time.
# - the fuzz targets (`ops`, `deserialize`): AddressSanitizer only (their
#   crate links the sanitizer runtime); their own edges say nothing about
#   the core.
# - every other crate: neither. The model and the driver are safe Rust
#   (`#![forbid(unsafe_code)]`); their edges would tell libFuzzer nothing
#   about the core (their hit counts mostly track how many objects a
#   comparison walked), and their memory accesses are their own. What the
#   core hands them is still checked: its allocations come from ASan's
#   allocator (malloc is intercepted for the whole program), and slice
#   comparisons go through the intercepted memcmp.
#
# Cargo does not know what this script does, so a change to it rebuilds
# nothing: run `cargo clean` in fuzz/ after editing it.
#
# Called as: instrument-core-only.sh <rustc> <args...>
set -euo pipefail
rustc=$1
shift
crate=
previous=
for arg in "$@"; do
  [[ $previous == --crate-name ]] && crate=$arg
  previous=$arg
done
coverage=false
asan=false
case $crate in
  regions) coverage=true asan=true ;;
  ops | deserialize) asan=true ;;
esac
kept=()
for arg in "$@"; do
  case $arg in
    -Cllvm-args=-sanitizer-coverage-trace-compares) ;;
    -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage-*) $coverage && kept+=("$arg") ;;
    -Zsanitizer=address) $asan && kept+=("$arg") ;;
    *) kept+=("$arg") ;;
  esac
done
exec "$rustc" "${kept[@]}"
