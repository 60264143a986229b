#!/usr/bin/env bash
# Mutation testing of the core: cargo-mutants mutates the package `regions`
# (files under core/src/ only) and judges every mutant by the whole
# workspace's tests (`--test-workspace true`): the core's own tests and the
# model's, which are the differential harness (the proptest state machine,
# the corpus replays, the soak episodes, the allocation-failure sweep). A
# mutant only the model notices counts as caught. Installs cargo-mutants
# when missing.
#
# Usage: ci/mutants.sh [cargo-mutants args]   e.g. --file core/src/accounting.rs
#        SHARD=k/n ci/mutants.sh              shard k of n (k from 0), --shard k/n
#        ci/mutants.sh --merge DIR...         sum the reports of several runs
#                                             (each DIR holds a mutants.out/)
# Environment: MUTANTS_JOBS (default 1), PROPTEST_RNG_SEED (default fixed,
# below), PROPTEST_CASES (default: the state machine's own 256).
#
# Writes target/mutants-report/: cargo-mutants' mutants.out/ (logs, diffs,
# outcomes.json), missed.txt (the missed mutants, one a line) and
# summary.txt, which it also prints: caught, missed, timeout and unviable
# counts and the kill rate, caught / (caught + missed + timeout). It exits 0
# when the run completed, missed mutants or not (they are the report, not a
# failure), and non-zero when cargo-mutants could not run it (the unmutated
# tree failing its tests, exit 4, included).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
report=$root/target/mutants-report
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

# Prints the counts and the kill rate of the mutants.out directories given,
# and writes them and the sorted missed list into $report.
summarize() {
  local caught=0 missed=0 timeout=0 unviable=0 dir n kind
  mkdir -p "$report"
  : > "$report/missed.txt.new"
  for dir in "$@"; do
    if [[ ! -f $dir/outcomes.json ]]; then
      echo "mutants: $dir has no outcomes.json (the run did not finish)" >&2
      exit 2
    fi
    for kind in caught missed timeout unviable; do
      n=0
      [[ -f $dir/$kind.txt ]] && n=$(grep -c . "$dir/$kind.txt" || true)
      printf -v "$kind" '%d' $((${!kind} + n))
    done
    [[ -f $dir/missed.txt ]] && cat "$dir/missed.txt" >> "$report/missed.txt.new"
  done
  sort -o "$report/missed.txt" "$report/missed.txt.new"
  rm "$report/missed.txt.new"
  local judged=$((caught + missed + timeout))
  local rate=n/a
  if ((judged > 0)); then
    rate=$(awk -v c="$caught" -v j="$judged" 'BEGIN { printf "%.1f%%", 100 * c / j }')
  fi
  {
    echo "mutants: $caught caught, $missed missed, $timeout timeout, $unviable unviable"
    echo "kill rate: $rate (caught / (caught + missed + timeout) = $caught / $judged)"
    echo "missed mutants: $report/missed.txt"
  } | tee "$report/summary.txt"
  if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
    {
      echo "### Mutation score${SHARD:+ (shard $SHARD)}"
      echo
      echo "| caught | missed | timeout | unviable | kill rate |"
      echo "|---:|---:|---:|---:|---:|"
      echo "| $caught | $missed | $timeout | $unviable | $rate |"
    } >> "$GITHUB_STEP_SUMMARY"
  fi
}

if [[ ${1:-} == "--merge" ]]; then
  shift
  (($# > 0)) || { echo "usage: ci/mutants.sh --merge DIR..." >&2; exit 2; }
  dirs=()
  for dir in "$@"; do
    dir=$(cd "$dir" && pwd)
    [[ -d $dir/mutants.out ]] && dir=$dir/mutants.out
    dirs+=("$dir")
  done
  summarize "${dirs[@]}"
  exit 0
fi

step "tools"
# The feature scan and nothing else need python3; it is Debian's.
if ! command -v python3 >/dev/null 2>&1; then
  apt-get update && apt-get install -y python3
fi
if ! cargo mutants --version >/dev/null 2>&1; then
  cargo install cargo-mutants --locked
fi
cargo mutants --version

# Code the judged build does not compile cannot be caught: its mutants would
# count as missed. The workspace's tests compile the core with its default
# `std` and the model's `test-hooks`; items and statements under a
# `#[cfg(...)]` false for those features (`poison`, `leak-report`, `serde`,
# `not(feature = "std")`), and modules declared under one (leak_report.rs,
# persist_serde.rs), are left out by line with --exclude-re. The lines are
# found anew on each run, so edits to core/src/ cannot leave them stale.
step "core/src lines not compiled with the features the tests use (std, test-hooks)"
mapfile -t not_compiled < <(python3 - core/src "std test-hooks" <<'EOF'
import os
import re
import sys

src_dir, enabled = sys.argv[1], set(sys.argv[2].split())
# Words that start an item, as opposed to a statement, a field or an arm:
# an item ends at `;` or at its closing brace, never at a comma (generics).
ITEM_KEYWORDS = {"fn", "impl", "struct", "enum", "mod", "trait", "use", "const",
                 "static", "type", "unsafe", "extern", "union", "macro_rules"}


def mask(text):
    """The text with comments and literals blanked (offsets and newlines
    kept), so that brackets inside them are not counted."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        raw = re.match(r'b?r(#*)"', text[i:i + 64])
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif raw and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            close = '"' + raw.group(1)
            j = text.find(close, i + raw.end())
            j = n if j < 0 else j + len(close)
            blank(i + raw.end(), j - len(close))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "'":
            # A char literal ('{', '\n', '\u{7b}'), or else a lifetime ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            if m:
                blank(i + 1, i + m.end() - 1)
                i += m.end()
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


def split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def evaluate(pred):
    """True, False, or None where the predicate depends on more than the
    core's features (`test`: cargo-mutants does not mutate test code)."""
    pred = pred.strip()
    m = re.fullmatch(r'feature\s*=\s*"([^"]*)"', pred)
    if m:
        return m.group(1) in enabled
    if pred == "miri":
        return False
    m = re.fullmatch(r"(not|all|any)\s*\((.*)\)", pred, re.S)
    if not m:
        return None
    values = [evaluate(arg) for arg in split_top(m.group(2))]
    if m.group(1) == "not":
        return None if values[0] is None else not values[0]
    if m.group(1) == "all":
        if False in values:
            return False
        return True if all(v is True for v in values) else None
    if True in values:
        return True
    return False if all(v is False for v in values) else None


def skip_space(code, i):
    while i < len(code) and code[i].isspace():
        i += 1
    return i


def group_end(code, i):
    """Index just past the bracket group that opens at code[i]."""
    depth = 0
    while i < len(code):
        if code[i] in "([{":
            depth += 1
        elif code[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def item_end(code, i):
    """Index of the last character of the item, statement, field or match
    arm that starts at code[i]."""
    words = re.match(r"\s*(pub(\s*\([^)]*\))?\s+)?(\w+)", code[i:])
    item = bool(words) and words.group(3) in ITEM_KEYWORDS
    depth = 0
    while i < len(code):
        c = code[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:  # the enclosing block ends: so does the statement
                return i - 1
            depth -= 1
            if depth == 0 and c == "}":
                j = skip_space(code, i + 1)
                if re.match(r"else\b", code[j:]):
                    i = j + 4
                    continue
                if j < len(code) and code[j] in ".?":
                    i = j
                    continue
                if j < len(code) and code[j] in ";,":
                    return j
                return i
        elif depth == 0 and (c == ";" or (c == "," and not item)):
            return i
        i += 1
    return len(code) - 1


modules, lines = set(), {}
for dirpath, _, names in sorted(os.walk(src_dir)):
    for name in sorted(names):
        if not name.endswith(".rs"):
            continue
        path = os.path.join(dirpath, name)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        code = mask(text)
        for m in re.finditer(r"#\s*\[\s*cfg\s*\(", code):
            attr_end = group_end(code, code.index("[", m.start()))
            if evaluate(text[m.end():attr_end - 2]) is not False:
                continue
            start = skip_space(code, attr_end)
            while code.startswith("#", start):  # further attributes
                start = skip_space(code, group_end(code, code.index("[", start)))
            end = item_end(code, start)
            first = text.count("\n", 0, m.start()) + 1
            last = text.count("\n", 0, end) + 1
            lines.setdefault(path, set()).update(range(first, last + 1))
            decl = re.match(r"(pub(\s*\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code[start:end + 1])
            if decl:
                parent = dirpath if name in ("lib.rs", "mod.rs") else path[:-3]
                modules.add(os.path.join(parent, decl.group(3)))

for stem in sorted(modules):
    print("^" + re.escape(stem) + r"(\.rs|/)")
for path, numbers in sorted(lines.items()):
    if not any(path == stem + ".rs" or path.startswith(stem + "/") for stem in modules):
        print("^" + re.escape(path) + ":(" + "|".join(map(str, sorted(numbers))) + "):")
EOF
)
exclude=()
for regex in "${not_compiled[@]}"; do
  exclude+=("--exclude-re=$regex")
done
printf '%s\n' "${not_compiled[@]}" | cut -c 1-120

for arg in "$@"; do
  # A listing (--list, --list-files) builds and tests nothing.
  if [[ $arg == --list* ]]; then
    exec cargo mutants --package regions "${exclude[@]}" "$@"
  fi
done

# A fixed seed makes every proptest (the state machine included) draw the
# same cases for each mutant, so a verdict can be reproduced. The state
# machine persists a failure's seed in the scratch copy's
# proptest-regressions/ and replays it first; the other tests' persistence
# is turned off so they leave no files there.
export PROPTEST_RNG_SEED=${PROPTEST_RNG_SEED:-20261126}
export PROPTEST_DISABLE_FAILURE_PERSISTENCE=1
# Libraries, binaries and integration tests: the doc tests (121, which would
# add about 40 s to every mutant, one compilation each) and the examples
# (which only ci/examples.sh runs) are not built.
targets=(--lib --bins --tests)

# cargo-mutants (27.1) runs its unmutated baseline with the mutated
# package's tests only, even with --test-workspace, and sets the test
# timeout from that. So the workspace's tests run here first, unmutated and
# as every mutant's will: a failure stops the run (every mutant would look
# caught), and their time sets the timeout.
step "baseline: cargo test --profile mutants --workspace ${targets[*]} (unmutated)"
cargo test --profile mutants --workspace "${targets[@]}" --no-run
started=$(date +%s)
cargo test --profile mutants --workspace "${targets[@]}"
baseline=$(($(date +%s) - started))
# Three times the unmutated test run, and never under two minutes: a loaded
# machine does not turn slow survivors into timeouts, and a hang costs
# minutes, not the default five-fold.
timeout=${MUTANTS_TIMEOUT:-$((3 * baseline > 120 ? 3 * baseline : 120))}
echo "baseline: ${baseline}s; test timeout per mutant: ${timeout}s"

args=(
  --package regions
  # The judge: every test of the workspace, the model's included.
  --test-workspace true
  # The test profile's checks (debug assertions, overflow checks) at
  # opt-level 1 without debug info ([profile.mutants] in Cargo.toml): the
  # tests run about 7 times faster than unoptimized and a mutant rebuilds
  # in about half the time; release would turn those checks off and
  # rebuilds about 18 times slower.
  --profile mutants
  --cargo-arg=--lib --cargo-arg=--bins --cargo-arg=--tests
  # A copy of the tree per job, never --in-place: others may be editing
  # core/src/ while it runs, and a mutant must not leak into their work.
  --jobs "${MUTANTS_JOBS:-1}"
  --timeout "$timeout"
  --output "$report"
  --no-shuffle
)
if [[ -n ${SHARD:-} ]]; then
  # Round-robin deals the files' mutants out evenly, so that no shard gets
  # all of a slow file (the default gives each shard one consecutive range).
  args+=(--shard "$SHARD" --sharding round-robin)
fi

step "cargo mutants ${args[*]} (${#exclude[@]} --exclude-re) $*"
mkdir -p "$report"
rm -f "$report/missed.txt" "$report/summary.txt"
status=0
cargo mutants "${args[@]}" "${exclude[@]}" "$@" || status=$?
# 0: every mutant caught; 2: some missed; 3: some timed out. Anything else
# (1: usage, 4: the unmutated tree fails its tests, 70: internal) means the
# run did not measure the tests.
case $status in
  0 | 2 | 3) ;;
  *)
    echo "mutants: cargo mutants exited $status: no mutation score" >&2
    exit "$status"
    ;;
esac

step "summary"
summarize "$report/mutants.out"
