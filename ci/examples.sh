#!/usr/bin/env bash
# Runs every teaching example in core/examples/ (each one asserts what it
# prints, so a failing claim fails this script). New examples are picked up
# from the file list; `profile` is a profiling tool, not a teaching example.
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
printf '\nall examples passed\n'
