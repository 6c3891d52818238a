#!/usr/bin/env bash
# The README's first command: installs what is missing, builds in release mode and runs the two-site
# LISP demo (lisp-demo): two xTRs (lispd on DPDK af_packet ports, each in its own namespace), two
# map-servers (lisp-ms) in an underlay namespace, hosts on both sides reaching each other through
# LISP over IPv4 and IPv6. Everything it creates is removed at the end, also on Ctrl-C.
# Arguments go to lisp-demo (--keep leaves the topology up until Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p controlplane -p lispd -p tests --bins
exec target/release/lisp-demo "$@"
