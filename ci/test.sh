#!/usr/bin/env bash
# The test command: everything `cargo test --workspace` checks, plus the
# examples, the lints, docs, the no_std build and the small-generations,
# poison and leak-report configurations.
# Usage: ci/test.sh            (full)
#        ci/test.sh --quick    (only cargo test --workspace)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo test --workspace"
cargo test --workspace

if [[ "${1:-}" == "--quick" ]]; then
  exit 0
fi

step "examples: ci/examples.sh (every core/examples program runs and checks its claims)"
bash ci/examples.sh

step "cargo test -p regions --features small-generations (generation wraparound reachable)"
cargo test -p regions --features small-generations

step "cargo test -p regions --features poison (freed memory poisoned and verified)"
cargo test -p regions --features poison

step "cargo test -p regions --features leak-report (allocation sites and death events)"
cargo test -p regions --features leak-report

step "cargo build -p regions --no-default-features (no_std + alloc)"
cargo build -p regions --no-default-features
cargo build -p regions --no-default-features --features poison
cargo build -p regions --no-default-features --features leak-report
cargo build -p regions --no-default-features --features serde

step "cargo test -p regions --features serde --doc (serializers through serde)"
cargo test -p regions --features serde --doc

step "cargo fmt --check"
rustup component add rustfmt >/dev/null 2>&1 || true
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -D warnings"
rustup component add clippy >/dev/null 2>&1 || true
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p regions --all-targets --features poison -- -D warnings
cargo clippy -p regions --all-targets --features leak-report -- -D warnings
cargo clippy -p regions --all-targets --features serde -- -D warnings

step "rustdoc -D warnings"
RUSTDOCFLAGS=-Dwarnings cargo doc -p regions --no-deps
RUSTDOCFLAGS=-Dwarnings cargo doc -p regions --no-deps --features leak-report
RUSTDOCFLAGS=-Dwarnings cargo doc -p regions-model --no-deps
