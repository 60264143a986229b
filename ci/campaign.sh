#!/usr/bin/env bash
# The differential campaign (the README's main command): the core against
# the reference model, by the seeded soak runner (stable toolchain) and the
# coverage-guided fuzz target `ops` (nightly, cargo-fuzz) side by side, one
# core each; and, on a third core at the same time, the fuzz target
# `deserialize` (untrusted streams into `Registry::deserialize`, seeded from
# corpus/deserialize/). Installs cargo-fuzz when missing; needs the nightly
# toolchain.
#
# Environment:
#   SOAK_SECONDS   soak duration (default 300)
#   FUZZ_SECONDS   fuzz duration, of each fuzz target (default 300)
#   SOAK_SEED      soak master seed (default: random, printed)
#   CAMPAIGN_DIR   scratch directory (default target/campaign): logs, and the
#                  corpus entries the fuzzers find
#   MERGE_CORPUS=1 afterwards, merge the new entries into corpus/ops/ and
#                  corpus/deserialize/ and minimize them with `cargo fuzz
#                  cmin` (review, then commit)
#
# Exits non-zero if any engine finds a divergence (or panic). Fuzz crashes
# land in fuzz/artifacts/ops/ and fuzz/artifacts/deserialize/; replay an
# `ops` one with
#   cargo run --release -p regions-model --features small-generations --bin repro -- --artifact fuzz/artifacts/ops/crash-…
# and a `deserialize` one with
#   (cd fuzz && cargo +nightly fuzz run deserialize artifacts/deserialize/crash-…)
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
(cd fuzz && cargo +nightly fuzz build ops && cargo +nightly fuzz build deserialize)

new_corpus=$scratch/corpus
new_corpus_de=$scratch/corpus-deserialize
rm -rf "$new_corpus" "$new_corpus_de"
mkdir -p "$new_corpus" "$new_corpus_de"
soak_log=$scratch/soak.log
fuzz_log=$scratch/fuzz.log
fuzz_de_log=$scratch/fuzz-deserialize.log

step "soak ${soak_seconds}s, fuzz ops ${fuzz_seconds}s and fuzz deserialize ${fuzz_seconds}s in parallel (logs in $scratch)"
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
(
  cd fuzz &&
    cargo +nightly fuzz run deserialize "$new_corpus_de" "$root/corpus/deserialize" -- \
      -max_total_time="$fuzz_seconds" -print_final_stats=1 2>&1 |
    tee "$fuzz_de_log" |
      grep --line-buffered -E 'pulse|INITED|DONE|Done [0-9]+ runs|ERROR|panicked|SUMMARY' |
      sed -u 's/^/[fuzz deserialize] /'
) &
fuzz_de_pid=$!

soak_status=0
wait "$soak_pid" || soak_status=$?
fuzz_status=0
wait "$fuzz_pid" || fuzz_status=$?
fuzz_de_status=0
wait "$fuzz_de_pid" || fuzz_de_status=$?

step "results"
if [[ $soak_status -eq 0 ]]; then
  echo "soak: PASS: $(grep -E '^soak [0-9]+s:' "$soak_log" | tail -n 1 | cut -d'|' -f1)"
else
  echo "soak: FAIL (status $soak_status); the failure, its shrunk trace and the repro command:"
  sed -n '/^soak: FAIL/,$p' "$soak_log"
fi
# Prints a fuzz target's verdict: target, exit status, log, new entries.
report_fuzz() {
  local target=$1 status=$2 log=$3 entries=$4 execs rate found
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  found=$(find "$entries" -type f | wc -l)
  if [[ $status -eq 0 ]]; then
    echo "fuzz $target: PASS: ${execs:-?} inputs, ${rate:-?} exec/s, $found new corpus entries in $entries"
  else
    echo "fuzz $target: FAIL (status $status); the end of its log:"
    tail -n 60 "$log"
    echo "fuzz $target: artifacts:"
    ls -1 "fuzz/artifacts/$target/" 2>/dev/null | sed "s|^|  fuzz/artifacts/$target/|" || true
  fi
}
report_fuzz ops "$fuzz_status" "$fuzz_log" "$new_corpus"
report_fuzz deserialize "$fuzz_de_status" "$fuzz_de_log" "$new_corpus_de"

if [[ ${MERGE_CORPUS:-0} == 1 && $fuzz_status -eq 0 ]]; then
  step "merge the new entries into corpus/ops/ and minimize (cargo fuzz cmin)"
  before=$(find corpus/ops -type f | wc -l)
  find "$new_corpus" -type f -exec cp {} corpus/ops/ \;
  (cd fuzz && cargo +nightly fuzz cmin ops ../corpus/ops)
  echo "corpus/ops: $before -> $(find corpus/ops -type f | wc -l) files"
fi
if [[ ${MERGE_CORPUS:-0} == 1 && $fuzz_de_status -eq 0 ]]; then
  step "merge the new entries into corpus/deserialize/ and minimize (cargo fuzz cmin)"
  before=$(find corpus/deserialize -type f | wc -l)
  find "$new_corpus_de" -type f -exec cp {} corpus/deserialize/ \;
  (cd fuzz && cargo +nightly fuzz cmin deserialize ../corpus/deserialize)
  echo "corpus/deserialize: $before -> $(find corpus/deserialize -type f | wc -l) files"
fi

if [[ $soak_status -ne 0 || $fuzz_status -ne 0 || $fuzz_de_status -ne 0 ]]; then
  echo "campaign: FAIL"
  exit 1
fi
echo "campaign: PASS"
