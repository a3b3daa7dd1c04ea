#!/usr/bin/env bash
# make bench: BENCH_RUNS (default 5) runs of scripts/bench-once.sh, each on a freshly seeded
# database. Prints every run's main figures, then the median of each figure over the runs (the
# peak RSS: the largest). One run's figure moves with the VM's speed from minute to minute; the
# median of a few is what to compare. The knobs of bench-once.sh apply to every run. Then one run
# with the `openai` classifier against the fake server at BENCH_LLM_LATENCY_MS (300) per call
# (BENCH_OPENAI=0 skips it), printed beside the rules figure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-figures.sh
runs=${BENCH_RUNS:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for i in $(seq 1 "$runs"); do
  scripts/bench-once.sh >"$out/$i.txt"
  echo "run $i/$runs: $(figure 'records/s' "$out/$i.txt") records/s," \
    "$(grep -m1 '^machine CPU busy' "$out/$i.txt" | sed -E 's/.*core-s, //')," \
    "peak RSS $(figure 'peak worker RSS' "$out/$i.txt") MB ($(grep -m1 '^run:' "$out/$i.txt" | cut -d' ' -f2-3))"
done

grep -m1 '^machine:' "$out/1.txt"
grep -m1 '^dataset:' "$out/1.txt"
all() { for i in $(seq 1 "$runs"); do figure "$1" "$out/$i.txt"; done; }
cpu() { for i in $(seq 1 "$runs"); do cpu_per_project "$out/$i.txt"; done; }
echo "records/s (median of $runs): $(all 'records/s' | median)"
echo "projects/s (median): $(all 'projects/s' | median)"
rules_tasks=$(all 'tasks/s' | median)
echo "tasks/s, rules classifier (median): $rules_tasks"
echo "job latency p50 (median): $(all 'job latency p50' | median) ms"
echo "job latency p95 (median): $(all 'job latency p95' | median) ms"
echo "worker CPU (median): $(all 'worker CPU' | median) s (all worker processes)"
echo "machine CPU per project (median): $(cpu | median) ms"
echo "peak worker RSS (largest): $(all 'peak worker RSS' | sort -n | tail -n 1) MB"

if [ "${BENCH_OPENAI:-1}" != 0 ]; then
  BENCH_CLASSIFIER=openai scripts/bench-once.sh >"$out/openai.txt"
  echo "tasks/s, openai classifier (fake server, ${BENCH_LLM_LATENCY_MS:-300} ms per call, one run): $(figure 'tasks/s' "$out/openai.txt") beside rules $rules_tasks"
  grep -m1 '^classifier calls:' "$out/openai.txt"
  echo "openai run: $(figure 'job latency p50' "$out/openai.txt") ms job p50, $(figure 'job latency p95' "$out/openai.txt") ms p95, $(grep -m1 '^machine CPU busy' "$out/openai.txt" | sed -E 's/^machine CPU busy: //')"
fi
