#!/usr/bin/env bash
# Installs what building and running the project needs on Debian 12 (as root). Idempotent.
set -euo pipefail

packages=(dpdk dpdk-dev libdpdk-dev pkg-config libclang-dev iproute2 ethtool procps iputils-ping
  dpkg-dev systemd man-db prometheus nftables conntrack netcat-openbsd python3)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

apt_retry() {
  # Another apt (unattended-upgrades on a fresh machine) may hold the lock: wait and retry.
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -y -q "$@"; then
      return 0
    fi
    echo "apt-get $* failed (attempt $attempt), retrying in 10 s" >&2
    sleep 10
  done
  return 1
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt_retry update
  apt_retry install --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install the Rust toolchain (rustup, 1.85 or newer) first" >&2
  exit 1
fi

# Hugepages for real deployments, line-rate benchmarks and the packet-capture test (dpdk-dumpcap
# is a secondary process sharing lispd's hugepage memory); the other tests use --no-huge.
if [ -w /proc/sys/vm/nr_hugepages ] && [ "$(cat /proc/sys/vm/nr_hugepages)" -lt 1024 ]; then
  echo 1024 > /proc/sys/vm/nr_hugepages 2>/dev/null || true
fi
mkdir -p /dev/hugepages
if ! mountpoint -q /dev/hugepages; then
  mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
fi
echo "setup: DPDK $(pkg-config --modversion libdpdk), hugepages $(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo n/a), $(cargo --version)"
