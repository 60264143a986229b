#!/usr/bin/env bash
# rustc wrapper for the fuzz builds (fuzz/.cargo/config.toml): coverage
# instrumentation only in the crate under test.
#
# cargo-fuzz puts SanitizerCoverage flags in RUSTFLAGS, so every crate is
# instrumented: the core, but also the reference model, the differential
# driver's comparisons, proptest and arbitrary. The oracle's edges tell
# libFuzzer nothing about the core (their hit counts mostly track how many
# objects a comparison walked), they triple the features each input
# produces, and libFuzzer pays for every feature on every run. This wrapper
# strips the coverage flags from every crate but `regions` and the fuzz
# targets themselves. AddressSanitizer stays on everywhere.
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
case $crate in
  regions | ops | deserialize) exec "$rustc" "$@" ;;
esac
kept=()
for arg in "$@"; do
  case $arg in
    -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage-*) ;;
    *) kept+=("$arg") ;;
  esac
done
exec "$rustc" "${kept[@]}"
