#!/usr/bin/env bash
# Runs every teaching example in core/examples/ (each one asserts what it
# prints, so a failing claim fails this script). New examples are picked up
# from the file list; `profile` is a profiling tool, not a teaching example:
# each of its workloads runs once, small.
# Usage: ci/examples.sh
set -euo pipefail
cd "$(dirname "$0")/.."

for file in core/examples/*.rs; do
  name="$(basename "$file" .rs)"
  if [[ "$name" == "profile" ]]; then
    continue
  fi
  printf '\n==> cargo run -q -p regions --example %s\n' "$name"
  cargo run -q -p regions --example "$name"
done
# The benchmark workloads (the apps the benchmarks and `profile` share) run
# too, small, so an API change that breaks one fails here and not only when
# someone benchmarks.
workloads="$(cargo run -q -p regions --example profile 2>&1 | sed -n 's/.*workloads: //p' || true)"
for workload in $workloads; do
  printf '==> cargo run -q -p regions --example profile -- %s 2000\n' "$workload"
  cargo run -q -p regions --example profile -- "$workload" 2000 >/dev/null
done
printf '\nall examples passed\n'
