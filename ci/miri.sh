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
