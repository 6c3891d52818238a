#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (default 45 s each); fails on the first crash.
# New inputs go to a scratch directory; the small seed corpus in the repo is only read.
# Stable toolchain: cargo-fuzz passes -Z flags, which RUSTC_BOOTSTRAP=1 allows.
set -euo pipefail
cd "$(dirname "$0")/../controlplane/fuzz"
seconds=${FUZZ_SECONDS:-45}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target" "$scratch/$target"
  echo "fuzz: $target for ${seconds}s"
  if ! cargo fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 > "$scratch/$target.log" 2>&1; then
    tail -n 40 "$scratch/$target.log"
    echo "fuzz: $target FAILED"
    exit 1
  fi
  grep -E "^Done [0-9]+ runs" "$scratch/$target.log" || tail -n 2 "$scratch/$target.log"
done
