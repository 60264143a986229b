#!/usr/bin/env bash
# The benchmark suite in one command: the criterion suites (every workload
# one group, regions next to its peers), then the heap measurements, then
# one markdown table of time per element, ratios and goals
# (ci/bench_table.py). The table is also written to
# <target dir>/bench-table.md.
#
# Usage: bash ci/bench.sh [criterion arguments...]
#   QUICK=1                 short runs: --warm-up-time 1 --measurement-time 2
#   REGIONS_BENCH_SMALL=1   smaller workloads (1M instead of 10M objects for
#                           random get, 100 instead of 1000 churned regions,
#                           fewer interpreter calls and game ticks)
#   CARGO_TARGET_DIR, CRITERION_HOME and CARGO_BUILD_JOBS are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')}"
criterion_dir="${CRITERION_HOME:-$target_dir/criterion}"

criterion_args=()
if [[ "${QUICK:-0}" == 1 ]]; then
  criterion_args+=(--warm-up-time 1 --measurement-time 2)
fi
criterion_args+=("$@")

# Results older than this are not reported (a group that did not run shows
# as missing instead of as an old number).
start=$(date +%s)

step "cargo bench -p regions (criterion: workloads, applications)"
cargo bench -p regions --bench workloads --bench applications -- \
  ${criterion_args[@]+"${criterion_args[@]}"}

step "cargo bench -p regions --bench memory (counting allocator)"
mkdir -p "$target_dir"
memory_log="$target_dir/bench-memory.txt"
cargo bench -p regions --bench memory | tee "$memory_log"

cpu=$( (lscpu 2>/dev/null || true) | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
if [[ -z "$cpu" ]]; then
  cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
fi
mode="QUICK=${QUICK:-0} REGIONS_BENCH_SMALL=${REGIONS_BENCH_SMALL:-0}"
if [[ $# -gt 0 ]]; then
  mode="$mode, criterion arguments: $*"
fi

step "summary"
table_file="$target_dir/bench-table.md"
{
  echo "## regions benchmarks"
  echo
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- rustc: $(rustc --version)"
  echo "- cpu: ${cpu:-unknown} ($(nproc 2>/dev/null || echo '?') cores)"
  echo "- mode: $mode"
  echo
  python3 ci/bench_table.py --criterion-dir "$criterion_dir" --memory "$memory_log" \
    --since "$start"
} | tee "$table_file"
