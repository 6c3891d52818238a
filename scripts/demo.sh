#!/usr/bin/env bash
# The README's first command. Until the two-site LISP demo lands, it runs the port smoke:
# a DPDK port (net_af_packet on a veth) exchanging ARP and UDP with the kernel of a fresh
# network namespace, all through the project's safe DPDK layer; everything is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p tests --bin port-smoke
exec target/release/port-smoke
