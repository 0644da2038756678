#!/usr/bin/env bash
# Before/after CPU per reading, alternating: one saturating round of each variant in this checkout,
# then the same in OTHER (another checkout holding this benchmark, e.g. the code before a change:
# `git worktree add /tmp/before a3f2591 && ln -s "$PWD/node_modules" /tmp/before/node_modules`),
# PAIRS times, so both trees see the same machine drift. Prints one line per round.
#
#   bench/compare-trees.sh OTHER [PAIRS=3] [SECONDS=20] [VARIANTS="influxdb embedded"]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
other="$(cd "${1:?usage: bench/compare-trees.sh OTHER_CHECKOUT [PAIRS] [SECONDS] [VARIANTS]}" && pwd)"
pairs="${2:-3}"
seconds="${3:-20}"
variants="${4:-influxdb embedded}"
for i in $(seq 1 "$pairs"); do
  for variant in $variants; do
    for tree in "$here" "$other"; do
      out=$(cd "$tree" && node -r ./scripts/register.js bench/ingest-throughput.ts \
        --seconds "$seconds" --rounds 1 --variants "$variant" 2>&1)
      round=$(echo "$out" | grep -m1 -E "round 1:" | sed 's/^ *//')
      cpu=$(echo "$out" | grep -m1 -E "µs per acked" | sed 's/^ *//')
      echo "$i $variant $(cd "$tree" && git rev-parse --short HEAD) | $round | $cpu"
    done
  done
done
