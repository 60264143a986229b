#!/usr/bin/env bash
# Instructions per element of each workload and of its peer, counted by
# callgrind: deterministic, so comparable across runs and commits on a noisy
# machine (times are in `ci/bench.sh`; instructions are not time, since
# cache misses and stalls are not counted). Installs valgrind when missing.
#
#   bash ci/instructions.sh            # every pair
#   bash ci/instructions.sh churn get  # some of them
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
  apt-get install -y valgrind >/dev/null || { echo "valgrind is required" >&2; exit 1; }
fi
cargo build --release -q -p regions --example profile
bin=target/release/examples/profile
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# workload, peer, elements
pairs=(
  "alloc-free alloc-free-slotmap 200000"
  "get get-slotmap 1000000"
  "churn churn-bumpalo 200000"
  "churn churn-box 200000"
  "mixed mixed-bumpalo 100000"
  "mixed mixed-box 100000"
  "interpreter interpreter-rc 20000"
  "entities entities-slotmap 200000"
)

count() { # workload elements -> instructions
  valgrind --tool=callgrind --callgrind-out-file="$out/$1.cg" "$bin" "$1" "$2" \
    2>&1 >/dev/null | sed -n 's/.*Collected : //p'
}

printf '%-12s %-18s %12s %12s %8s\n' workload peer "regions/elt" "peer/elt" ratio
for pair in "${pairs[@]}"; do
  read -r workload peer elements <<<"$pair"
  if (($#)) && [[ ! " $* " =~ " $workload " ]]; then continue; fi
  ours=$(count "$workload" "$elements")
  theirs=$(count "$peer" "$elements")
  awk -v w="$workload" -v p="$peer" -v a="$ours" -v b="$theirs" -v n="$elements" \
    'BEGIN { printf "%-12s %-18s %12.1f %12.1f %8.2f\n", w, p, a / n, b / n, a / b }'
done
