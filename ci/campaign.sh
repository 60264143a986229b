#!/usr/bin/env bash
# The differential campaign (the README's main command): the core against
# the reference model, by the seeded soak runner (stable toolchain) and the
# coverage-guided fuzz target `ops` (nightly, cargo-fuzz) side by side, one
# core each. Installs cargo-fuzz when missing; needs the nightly toolchain.
#
# Environment:
#   SOAK_SECONDS   soak duration (default 300)
#   FUZZ_SECONDS   fuzz duration (default 300)
#   SOAK_SEED      soak master seed (default: random, printed)
#   CAMPAIGN_DIR   scratch directory (default target/campaign): logs, and the
#                  corpus entries the fuzzer finds
#   MERGE_CORPUS=1 afterwards, merge the new entries into corpus/ops/ and
#                  minimize it with `cargo fuzz cmin` (review, then commit)
#
# Exits non-zero if either engine finds a divergence (or panic). Fuzz
# crashes land in fuzz/artifacts/ops/; replay one with
#   cargo run --release -p regions-model --features small-generations --bin repro -- --artifact fuzz/artifacts/ops/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
soak_seconds=${SOAK_SECONDS:-300}
fuzz_seconds=${FUZZ_SECONDS:-300}
scratch=${CAMPAIGN_DIR:-$root/target/campaign}
mkdir -p "$scratch"
scratch=$(cd "$scratch" && pwd)
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "tools"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "campaign: the nightly toolchain is missing (cargo-fuzz needs it): rustup toolchain install nightly" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
cargo +nightly --version
cargo fuzz --version

step "build (before the clock starts)"
cargo build --release -p regions-model --bin soak
(cd fuzz && cargo +nightly fuzz build ops)

new_corpus=$scratch/corpus
rm -rf "$new_corpus"
mkdir -p "$new_corpus"
soak_log=$scratch/soak.log
fuzz_log=$scratch/fuzz.log

step "soak ${soak_seconds}s and fuzz ${fuzz_seconds}s in parallel (logs in $scratch)"
# The soak prints a progress line every few seconds; the fuzzer's own log is
# long, so only its pulses and its verdict are echoed here.
(
  cargo run --release -q -p regions-model --bin soak -- \
    --seconds "$soak_seconds" ${SOAK_SEED:+--seed "$SOAK_SEED"} 2>&1 |
    tee "$soak_log" | sed -u 's/^/[soak] /'
) &
soak_pid=$!
# New entries go to the first corpus directory (scratch); the committed
# corpus is read, never written.
(
  cd fuzz &&
    cargo +nightly fuzz run ops "$new_corpus" "$root/corpus/ops" -- \
      -max_total_time="$fuzz_seconds" -print_final_stats=1 2>&1 |
    tee "$fuzz_log" |
      grep --line-buffered -E 'pulse|INITED|DONE|Done [0-9]+ runs|ERROR|panicked|divergence|SUMMARY' |
      sed -u 's/^/[fuzz] /'
) &
fuzz_pid=$!

soak_status=0
wait "$soak_pid" || soak_status=$?
fuzz_status=0
wait "$fuzz_pid" || fuzz_status=$?

step "results"
if [[ $soak_status -eq 0 ]]; then
  echo "soak: PASS: $(grep -E '^soak [0-9]+s:' "$soak_log" | tail -n 1 | cut -d'|' -f1)"
else
  echo "soak: FAIL (status $soak_status); the failure, its shrunk trace and the repro command:"
  sed -n '/^soak: FAIL/,$p' "$soak_log"
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$fuzz_log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$fuzz_log" | tail -n 1)
found=$(find "$new_corpus" -type f | wc -l)
if [[ $fuzz_status -eq 0 ]]; then
  echo "fuzz: PASS: ${execs:-?} inputs, ${rate:-?} exec/s, $found new corpus entries in $new_corpus"
else
  echo "fuzz: FAIL (status $fuzz_status); the end of its log:"
  tail -n 60 "$fuzz_log"
  echo "fuzz: artifacts:"
  ls -1 fuzz/artifacts/ops/ 2>/dev/null | sed 's|^|  fuzz/artifacts/ops/|' || true
fi

if [[ ${MERGE_CORPUS:-0} == 1 && $fuzz_status -eq 0 ]]; then
  step "merge the new entries into corpus/ops/ and minimize (cargo fuzz cmin)"
  before=$(find corpus/ops -type f | wc -l)
  find "$new_corpus" -type f -exec cp {} corpus/ops/ \;
  (cd fuzz && cargo +nightly fuzz cmin ops ../corpus/ops)
  echo "corpus/ops: $before -> $(find corpus/ops -type f | wc -l) files"
fi

if [[ $soak_status -ne 0 || $fuzz_status -ne 0 ]]; then
  echo "campaign: FAIL"
  exit 1
fi
echo "campaign: PASS"
