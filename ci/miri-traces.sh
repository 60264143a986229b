#!/usr/bin/env bash
# Miri over the differential harness's traces: the committed corpus/ops/
# (every other file, see model/tests/miri_traces.rs) replayed through the
# driver, so aliasing and provenance bugs on paths only the harness's traces
# reach (deaths with promotions, forwarding, compaction, slices, round
# trips, injected allocation failures) are caught as well as those the
# core's own tests reach (ci/miri.sh). About 15 minutes on 2 cores, so the
# nightly workflow runs it rather than .ci/run. The test reads the corpus
# files, which needs Miri's isolation off.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  rustup component add miri rust-src --toolchain nightly
fi
cargo +nightly miri setup
MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-disable-isolation" \
  cargo +nightly miri test -p regions-model --test miri_traces "$@"
