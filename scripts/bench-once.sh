#!/usr/bin/env bash
# One `make bench` run: seed ≥ 50k legacy tasks into a fresh database, migrate them with
# `ontofleet run start --all --watch` and BENCH_WORKERS worker processes on the default settings,
# and print the figures one per line (scripts/bench-lib.sh). Knobs: BENCH_USERS,
# BENCH_PROJECTS_PER_USER, BENCH_TASKS_PER_PROJECT, BENCH_WORKERS, BENCH_CONCURRENCY.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
workload "" --users "${BENCH_USERS:-100}" --projects-per-user "${BENCH_PROJECTS_PER_USER:-20}" \
  --tasks-per-project "${BENCH_TASKS_PER_PROJECT:-25}" --seed 1
