#!/usr/bin/env bash
# The README's test command: installs what is missing, then format, lint and every test.
# Needs root: DPDK tests wire ports to network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo test --workspace --all-features --locked
