#!/usr/bin/env bash
# The nightly differential campaign: ci/campaign.sh with an hour of soak and
# an hour of fuzzing (in parallel), unless SOAK_SECONDS / FUZZ_SECONDS say
# otherwise. Set MERGE_CORPUS=1 to fold what the fuzzer found into
# corpus/ops/ (minimized) for a reviewed commit.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_SECONDS=${SOAK_SECONDS:-3600}
export FUZZ_SECONDS=${FUZZ_SECONDS:-3600}
exec bash ci/campaign.sh
