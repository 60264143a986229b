#!/usr/bin/env bash
# Runs the core's tests under Miri (undefined behaviour, leaks, alignment).
# Installs the miri component on the nightly toolchain when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  rustup component add miri rust-src --toolchain nightly
fi
cargo +nightly miri setup
cargo +nightly miri test -p regions "$@"
# The poison feature: only its churn test (the others write through stale
# pointers on purpose, which Miri rejects); about 20 s. The leak-report
# feature: its own tests. Skipped when the arguments select tests.
if [[ $# -eq 0 ]]; then
  cargo +nightly miri test -p regions --features poison --test poison churn
  cargo +nightly miri test -p regions --features leak-report --test leak_report
fi
