#!/usr/bin/env bash
# Harness strength: injects each bug of ci/mutants/*.patch into a scratch
# worktree of HEAD, one at a time (nothing is committed or left applied), and
# measures how long each engine takes to report it: the proptest state
# machine, `cargo fuzz run ops` from the committed corpus, the soak
# runner, and (for bugs in serialization) `cargo fuzz run deserialize` from
# corpus/deserialize. Builds happen before each clock starts. The committed proptest
# regressions are set aside, so proptest finds every bug from scratch.
#
# Usage: ci/bug-injection.sh [mutant-name ...]     (default: every patch)
# Environment: LIMIT (seconds per engine, default 60), SOAK_SEED (default 1),
#              WORK (scratch worktree, default /tmp/regions-bug-injection),
#              ENGINES (default "proptest fuzz soak"; an engine left out
#              is neither built nor run, and its column says "—")
# Prints one markdown table row per mutant; "not found" means the engine ran
# for LIMIT seconds without reporting.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
limit=${LIMIT:-60}
soak_seed=${SOAK_SEED:-1}
work=${WORK:-/tmp/regions-bug-injection}
engines=" ${ENGINES:-proptest fuzz soak} "
# Whether engine $1 is to run.
wanted() { [[ $engines == *" $1 "* ]]; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

mutants=("$@")
if [[ ${#mutants[@]} -eq 0 ]]; then
  for patch in ci/mutants/*.patch; do
    mutants+=("$(basename "$patch" .patch)")
  done
fi

rm -rf "$work"
git worktree prune
git worktree add --quiet --detach "$work" HEAD
trap 'cd "$repo"; git worktree remove --force "$work"; git worktree prune' EXIT
cd "$work"
logs=$work/logs
mkdir -p "$logs"

# Seconds until `command` fails, "not found" if it runs out the limit (or
# ends cleanly).
clock() {
  local log=$1
  shift
  local start end status=0
  start=$(date +%s.%N)
  timeout "$limit" "$@" >"$log" 2>&1 || status=$?
  end=$(date +%s.%N)
  if [[ $status -eq 0 || $status -eq 124 ]]; then
    echo "not found"
  else
    printf '%.1f s' "$(echo "$end - $start" | bc)"
  fi
}

echo "| injected bug | proptest state machine | cargo fuzz run ops | soak runner | cargo fuzz run deserialize |"
echo "|---|---|---|---|---|"
for mutant in "${mutants[@]}"; do
  git apply "$repo/ci/mutants/$mutant.patch"
  rm -f proptest-regressions/state_machine.txt
  : >"$logs/$mutant.build"
  proptest="—" fuzz="—" soak="—"
  corpus=$(mktemp -d)
  cp corpus/ops/* "$corpus/"
  if wanted proptest; then
    cargo test --release -p regions-model --test state_machine --no-run >>"$logs/$mutant.build" 2>&1
    proptest=$(PROPTEST_CASES=1000000 clock "$logs/$mutant.proptest" \
      cargo test --release -p regions-model --test state_machine)
  fi
  if wanted fuzz; then
    (cd fuzz && cargo +nightly fuzz build ops) >>"$logs/$mutant.build" 2>&1
    fuzz=$(cd fuzz && clock "$logs/$mutant.fuzz" \
      cargo +nightly fuzz run ops "$corpus" -- -max_total_time="$limit")
  fi
  if wanted soak; then
    cargo build --release -p regions-model --bin soak >>"$logs/$mutant.build" 2>&1
    soak=$(clock "$logs/$mutant.soak" target/release/soak --seconds "$limit" --seed "$soak_seed")
  fi
  # The decoder's own fuzz target runs for bugs in serialization only.
  decoder="—"
  if grep -qE 'registry/(de)?serialize\.rs|src/persist\.rs' "$repo/ci/mutants/$mutant.patch"; then
    (cd fuzz && cargo +nightly fuzz build deserialize) >>"$logs/$mutant.build" 2>&1
    dcorpus=$(mktemp -d)
    cp corpus/deserialize/* "$dcorpus/"
    decoder=$(cd fuzz && clock "$logs/$mutant.deserialize" \
      cargo +nightly fuzz run deserialize "$dcorpus" -- -max_total_time="$limit")
    rm -rf "$dcorpus"
  fi
  echo "| \`$mutant\` | $proptest | $fuzz | $soak | $decoder |"

  rm -rf "$corpus"
  git checkout --quiet -- core
  rm -f proptest-regressions/state_machine.txt
  git checkout --quiet -- proptest-regressions
done
