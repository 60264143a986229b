#!/usr/bin/env bash
# Line coverage of the core (package `regions`, files under core/src/ only)
# by the workspace test suite (`cargo llvm-cov --workspace`: every test of
# the core and of the model, the corpus replays model/tests/fuzz_smoke.rs
# and model/tests/deserialize_corpus.rs included; doc tests are not run,
# cargo-llvm-cov needs nightly for those). Installs cargo-llvm-cov and the
# llvm-tools component when missing.
#
# Prints the per-file table (least covered first), writes it to
# target/coverage/summary.txt (llvm-cov's JSON summary next to it, as
# summary.json), and ends with `core line coverage: N.N%`.
#
# Fails (exit 1) when the figure is more than COVERAGE_MAX_DROP (2) points
# below the baseline: ci/coverage-baseline.txt, or COVERAGE_BASELINE if set.
# A gate on a drop rather than a fixed floor, so the baseline can move up
# with the tests and a deleted test shows as a drop. After a deliberate
# change, put the new figure in ci/coverage-baseline.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/target/coverage
baseline_file=ci/coverage-baseline.txt
max_drop=${COVERAGE_MAX_DROP:-2}
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "tools"
# cargo-llvm-cov drives rustc's -Cinstrument-coverage and needs llvm-profdata
# and llvm-cov from the toolchain's llvm-tools component.
rustup component add llvm-tools-preview
if ! cargo llvm-cov --version >/dev/null 2>&1; then
  cargo install cargo-llvm-cov --locked
fi
cargo llvm-cov --version
if ! command -v python3 >/dev/null 2>&1; then
  echo "coverage: python3 is needed to read llvm-cov's JSON summary" >&2
  exit 2
fi

# llvm-cov has no negative match, so everything that is not core/src/ is
# excluded by name: the model, the fuzz crate, and the core's tests,
# examples and benches. The checkout's path is escaped and anchored so a
# parent directory named like one of them (…/model/regions/) does not
# exclude the whole tree.
root_re=$(printf '%s' "$root" | sed 's/[][\.*^$+?(){}|]/\\&/g')
ignore="^${root_re}/(model|fuzz)/|^${root_re}/core/(tests|examples|benches)/"

step "cargo llvm-cov --workspace (instrumented build and test run)"
mkdir -p "$out"
cargo llvm-cov --workspace --ignore-filename-regex "$ignore" \
  --json --summary-only --output-path "$out/summary.json"

step "core/src line coverage"
# The figure is computed over core/src/ files only, and any other file in
# the report (a new directory the regex does not name) is an error rather
# than a silent change of what the figure means.
python3 - "$out/summary.json" "$root/core/src/" "$out/summary.txt" <<'EOF'
import json, sys

summary_path, core_src, text_path = sys.argv[1:4]
with open(summary_path) as f:
    report = json.load(f)
files = report["data"][0]["files"]
outside = [f["filename"] for f in files if not f["filename"].startswith(core_src)]
if outside:
    sys.exit("coverage: the report counts files outside core/src/ "
             "(extend the ignore regex in ci/coverage.sh): " + ", ".join(outside))
if not files:
    sys.exit("coverage: the report holds no core/src/ file")
rows = []
count = covered = 0
for f in files:
    lines = f["summary"]["lines"]
    count += lines["count"]
    covered += lines["covered"]
    pct = 100.0 * lines["covered"] / lines["count"] if lines["count"] else 100.0
    rows.append((pct, f["filename"][len(core_src):], lines["covered"], lines["count"]))
rows.sort()
total = 100.0 * covered / count
table = ["%-32s %7s %13s" % ("core/src/ file", "lines", "covered/total")]
table += ["%-32s %6.1f%% %6d/%-6d" % (name, pct, c, n) for pct, name, c, n in rows]
table.append("%-32s %6.1f%% %6d/%-6d" % ("TOTAL", total, covered, count))
text = "\n".join(table) + "\n"
with open(text_path, "w") as f:
    f.write(text)
sys.stdout.write(text)
EOF
measured=$(tail -n 1 "$out/summary.txt" | awk '{ sub(/%$/, "", $2); print $2 }')

if [[ -n ${COVERAGE_BASELINE:-} ]]; then
  baseline=$COVERAGE_BASELINE
  baseline_from="COVERAGE_BASELINE"
else
  baseline=$(grep -v '^[[:space:]]*#' "$baseline_file" | grep -m 1 -E '[0-9]' | tr -d '[:space:]%')
  baseline_from=$baseline_file
fi
if ! [[ $baseline =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
  echo "coverage: no figure in $baseline_from (got '$baseline')" >&2
  exit 2
fi
floor=$(awk -v b="$baseline" -v d="$max_drop" 'BEGIN { printf "%.1f", b - d }')
echo "baseline: ${baseline}% ($baseline_from); allowed drop: $max_drop points; floor: ${floor}%; measured: ${measured}%"
status=0
if awk -v m="$measured" -v f="$floor" 'BEGIN { exit !(m < f) }'; then
  echo "coverage: FAIL: core line coverage ${measured}% is more than $max_drop points below the baseline ${baseline}%" >&2
  status=1
fi
echo "core line coverage: ${measured}%"
exit "$status"
