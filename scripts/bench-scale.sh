#!/usr/bin/env bash
# make bench-scale (SPEC §10): the 50k-task workload of `make bench` and the 1M-task one — about
# 10,000 projects with the seed's long tail of sizes plus one giant project of 50,000 tasks —
# each freshly loaded (no ANALYZE by hand) and migrated by BENCH_WORKERS (2) worker processes on
# the default settings, in one invocation; then the giant project alone through the openai
# classifier (fake server) for its worker's memory; then the ratios the SPEC sets targets for. Knobs:
# BENCH_SCALE_USERS, BENCH_SCALE_TASKS_PER_PROJECT, BENCH_GIANT_TASKS, BENCH_WORKERS.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

started=$(date +%s)
workload 50k --users 100 --projects-per-user 20 --tasks-per-project 25 --seed 1 | tee "$out/50k.txt"
workload 1m --users "${BENCH_SCALE_USERS:-400}" --projects-per-user 25 \
  --tasks-per-project "${BENCH_SCALE_TASKS_PER_PROJECT:-95}" \
  --giant-project-tasks "${BENCH_GIANT_TASKS:-50000}" --seed 1 | tee "$out/1m.txt"
# The giant project alone through the openai classifier (the fake server, 20 ms a call): its
# answers are cached and read back a chunk at a time, so the worker's memory stays bounded.
BENCH_CLASSIFIER=openai BENCH_LLM_LATENCY_MS=20 workload giantllm --users 1 --projects-per-user 1 \
  --tasks-per-project 5 --giant-project-tasks "${BENCH_GIANT_TASKS:-50000}" --seed 1 | tee "$out/giant.txt"

# The first number after "<label>:".
figure() { grep -m1 "^$1:" "$2" | sed -E 's/^[^:]*: *([0-9.]+).*/\1/'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "1m/50k records/s (from the command): $(ratio "$(figure '1m records/s' "$out/1m.txt")" "$(figure '50k records/s' "$out/50k.txt")") (target ≥ 0.80)"
echo "1m/50k records/s (from started_at): $(ratio "$(figure '1m records/s from started_at' "$out/1m.txt")" "$(figure '50k records/s from started_at' "$out/50k.txt")")"
echo "1m/50k job latency p95 per task: $(ratio "$(figure '1m job latency p95 per task' "$out/1m.txt")" "$(figure '50k job latency p95 per task' "$out/50k.txt")") (target ≤ 2)"
giant_rss=$(sed -nE 's/.*its worker.s RSS peaked at ([0-9]+) MB.*/\1/p' "$out/giant.txt" | head -1)
echo "giant project through the openai fake: its worker's RSS peaked at ${giant_rss:-?} MB (target ≤ 300)"
echo "bench-scale took $(( $(date +%s) - started )) s"
