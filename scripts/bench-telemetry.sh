#!/usr/bin/env bash
# make bench-telemetry: the cost of telemetry. BENCH_RUNS (default 5) pairs of
# scripts/bench-once.sh, interleaved: telemetry off, then on (each worker's ops server plus OTLP
# export of spans and metrics to a local sink). Prints each pair and the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-figures.sh
runs=${BENCH_RUNS:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cpu() { cpu_per_project "$1"; }
for i in $(seq 1 "$runs"); do
  BENCH_TELEMETRY=0 scripts/bench-once.sh >"$out/off-$i.txt"
  BENCH_TELEMETRY=1 scripts/bench-once.sh >"$out/on-$i.txt"
  echo "pair $i/$runs: off $(figure 'records/s' "$out/off-$i.txt") records/s ($(cpu "$out/off-$i.txt") ms CPU per project)," \
    "on $(figure 'records/s' "$out/on-$i.txt") records/s ($(cpu "$out/on-$i.txt") ms CPU per project)"
done
grep -m1 '^machine:' "$out/off-1.txt"
grep -m1 '^telemetry:' "$out/on-1.txt" || true
for mode in off on; do
  rs=$(for i in $(seq 1 "$runs"); do figure 'records/s' "$out/$mode-$i.txt"; done | median)
  c=$(for i in $(seq 1 "$runs"); do cpu "$out/$mode-$i.txt"; done | median)
  echo "telemetry $mode: $rs records/s (median of $runs), $c ms machine CPU per project"
done
