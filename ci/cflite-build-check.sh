#!/usr/bin/env bash
# Runs .clusterfuzzlite/build.sh outside Docker, with what the ClusterFuzzLite
# builder image gives it (SRC holding the checkout as $SRC/regions, OUT,
# SANITIZER=address, the nightly toolchain, cargo-fuzz, zip), then checks
# what it left in OUT the way ClusterFuzzLite will use it:
#   - one executable per fuzz target (`cargo fuzz list`), built with AddressSanitizer
#     (its __asan_report_* hooks are linked in, as OSS-Fuzz's bad-build
#     check expects);
#   - <target>_seed_corpus.zip holding exactly the files of corpus/<target>/;
#   - each binary replays its whole seed corpus with its coverage counters
#     registered (libFuzzer reports `cov:`), then fuzzes CFLITE_CHECK_RUNS
#     (1000) inputs from it, without a crash.
# There is no container runtime on the machines this project runs on, so
# this is how the ClusterFuzzLite build is tested before a workflow runs it.
#
# Environment:
#   OUT                 output directory (default /tmp/cflite-out); emptied
#                       first only if this script created it
#   CFLITE_CHECK_DIR    scratch: the SRC link, the cargo target directory,
#                       unpacked seeds, logs (default target/cflite-check)
#   CFLITE_CHECK_RUNS   fuzzing runs per target after the replay (1000)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${OUT:-/tmp/cflite-out}
work=${CFLITE_CHECK_DIR:-$root/target/cflite-check}
runs=${CFLITE_CHECK_RUNS:-1000}
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "tools"
if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# zip packs the seed corpora (the builder image has it), unzip reads them
# back, nm looks for the sanitizer's hooks.
if ! command -v zip >/dev/null || ! command -v unzip >/dev/null || ! command -v nm >/dev/null; then
  apt-get update && apt-get install -y zip unzip binutils
fi
cargo +nightly --version
cargo fuzz --version

# A marker file says OUT is this script's, so only then is it emptied: OUT
# may name a directory that holds something else.
marker=.cflite-build-check
if [[ -d $out && -n $(ls -A "$out") && ! -e $out/$marker ]]; then
  echo "cflite-build-check: $out is not empty and not ours; set OUT to a new directory" >&2
  exit 2
fi
rm -rf "$out"
mkdir -p "$out" "$work/src"
touch "$out/$marker"
out=$(cd "$out" && pwd)
work=$(cd "$work" && pwd)
ln -sfn "$root" "$work/src/regions"

step "build.sh (SRC=$work/src, OUT=$out, SANITIZER=address, nightly)"
# The image's default toolchain is nightly; here RUSTUP_TOOLCHAIN picks it.
# A target directory of its own: `cargo fuzz build -O` and the campaign's
# `cargo fuzz build` differ in RUSTFLAGS, and would rebuild over each other
# in fuzz/target.
SRC=$work/src OUT=$out SANITIZER=address RUSTUP_TOOLCHAIN=nightly \
  CARGO_TARGET_DIR=$work/target bash .clusterfuzzlite/build.sh

step "check $out"
status=0
for target in $(cargo +nightly fuzz list); do
  bin=$out/$target
  if [[ ! -x $bin ]]; then
    echo "$target: FAIL: $bin missing or not executable"
    status=1
    continue
  fi
  asan_hooks=$(nm "$bin" | grep -c '__asan_report_' || true)
  if [[ $asan_hooks -eq 0 ]]; then
    echo "$target: FAIL: no AddressSanitizer hooks in $bin"
    status=1
  fi
  zip_file=$out/${target}_seed_corpus.zip
  seeds_in_repo=$(find "corpus/$target" -type f | wc -l)
  seeds_in_zip=$(unzip -Z1 "$zip_file" | wc -l)
  if [[ $seeds_in_zip -ne $seeds_in_repo ]]; then
    echo "$target: FAIL: $zip_file holds $seeds_in_zip files, corpus/$target/ $seeds_in_repo"
    status=1
  fi
  seeds=$work/seeds/$target
  found=$work/found/$target
  rm -rf "$seeds" "$found"
  mkdir -p "$seeds" "$found"
  unzip -q "$zip_file" -d "$seeds"
  # -runs=0: every seed once and stop; then fuzzing, with new inputs going
  # to the scratch directory named first. max_total_time only bounds a hang.
  replay_log=$work/$target-replay.log
  fuzz_log=$work/$target-fuzz.log
  if ! "$bin" -runs=0 -max_total_time=300 "$seeds" >"$replay_log" 2>&1; then
    echo "$target: FAIL: the seed replay crashed; the end of $replay_log:"
    tail -n 40 "$replay_log"
    status=1
    continue
  fi
  if ! "$bin" -runs="$runs" -seed=1 -max_total_time=300 -print_final_stats=1 \
    "$found" "$seeds" >"$fuzz_log" 2>&1; then
    echo "$target: FAIL: fuzzing crashed; the end of $fuzz_log:"
    tail -n 40 "$fuzz_log"
    status=1
    continue
  fi
  inited=$(grep -m 1 'INITED' "$replay_log" | sed 's/^#[0-9]*[[:space:]]*//')
  # A build whose coverage counters are not registered still runs, but
  # libFuzzer sees no edges (no `cov:` figure, `ft: 2`) and fuzzes blind.
  if [[ $inited != *"cov: "* ]]; then
    echo "$target: FAIL: no coverage counters in the replay: $inited"
    status=1
    continue
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$fuzz_log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$fuzz_log")
  size=$(du -k "$bin" | cut -f1)
  echo "$target: ok: ${size} KiB, $asan_hooks ASan report hooks, $seeds_in_zip seeds in the zip;" \
    "replay: $inited; fuzz: $execs inputs at $rate exec/s, $(find "$found" -type f | wc -l) new"
done
if [[ $status -ne 0 ]]; then
  echo "cflite-build-check: FAIL"
  exit 1
fi
echo "cflite-build-check: PASS"
