#!/usr/bin/env bash
# The README's test command: installs what is missing, then format, lint and every test.
# Needs root: DPDK tests wire ports to network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
# The control plane, lisp-ms and lispctl build where there is no DPDK: with pkg-config finding no
# libdpdk, a dependency on dpdk-bindings would fail its build script here.
if cargo tree --locked -p controlplane -e normal,build | grep -q dpdk-bindings; then
  echo "controlplane depends on dpdk-bindings" >&2
  exit 1
fi
PKG_CONFIG_LIBDIR=/nonexistent cargo build --locked -p controlplane --bins
cargo test --workspace --all-features --locked
