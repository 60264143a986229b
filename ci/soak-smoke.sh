#!/usr/bin/env bash
# A 60-second differential soak on the stable toolchain: CI (.ci/run) runs
# it, so a broken harness or a core regression that random episodes reach
# quickly fails CI. SOAK_SECONDS and SOAK_SEED override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -p regions-model --bin soak -- \
  --seconds "${SOAK_SECONDS:-60}" ${SOAK_SEED:+--seed "$SOAK_SEED"}
