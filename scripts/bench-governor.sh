#!/usr/bin/env bash
# make bench-governor (SPEC §14, cost): the governor off vs on with no signal firing. BENCH_RUNS
# (default 2) interleaved pairs of make bench-scale's 50k and 1M workloads (without the giant
# project's classifier run): governor.enabled = false, then the default (on) with every signal
# that needs no extra grant configured above anything this machine reaches — other sessions,
# lock waiters, the oldest transaction, a throttle_query — so the leader samples each second and
# every claim reads its verdict. Prints each pair and the medians. BENCH_GOVERNOR_1M=0 runs the
# 50k workload only; BENCH_GOVERNOR_ON_FIRST=1 runs each pair in the other order (order bias).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
source scripts/bench-figures.sh
runs=${BENCH_RUNS:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

workloads=(50k 1m)
[ "${BENCH_GOVERNOR_1M:-1}" = 0 ] && workloads=(50k)
scale() {
  workload 50k --users 100 --projects-per-user 20 --tasks-per-project 25 --seed 1
  [ "${BENCH_GOVERNOR_1M:-1}" = 0 ] && return
  workload 1m --users "${BENCH_SCALE_USERS:-400}" --projects-per-user 25 \
    --tasks-per-project "${BENCH_SCALE_TASKS_PER_PROJECT:-95}" \
    --giant-project-tasks "${BENCH_GIANT_TASKS:-50000}" --seed 1
}
governor_on() {
  ONTOFLEET__GOVERNOR__ENABLED=true ONTOFLEET__GOVERNOR__OTHER_SESSIONS=10000 \
    ONTOFLEET__GOVERNOR__LOCK_WAITERS=10000 ONTOFLEET__GOVERNOR__XACT_AGE_SECS=86400 \
    ONTOFLEET__GOVERNOR__THROTTLE_QUERY="select 0" scale
}

for i in $(seq 1 "$runs"); do
  if [ "${BENCH_GOVERNOR_ON_FIRST:-0}" = 1 ]; then
    (governor_on) >"$out/on-$i.txt"
    (ONTOFLEET__GOVERNOR__ENABLED=false scale) >"$out/off-$i.txt"
  else
    (ONTOFLEET__GOVERNOR__ENABLED=false scale) >"$out/off-$i.txt"
    (governor_on) >"$out/on-$i.txt"
  fi
  for w in "${workloads[@]}"; do
    echo "pair $i/$runs $w: off $(figure "$w records/s" "$out/off-$i.txt") records/s," \
      "on $(figure "$w records/s" "$out/on-$i.txt") records/s"
  done
done
grep -m1 'machine:' "$out/off-1.txt" || true
for w in "${workloads[@]}"; do
  for mode in off on; do
    rs=$(for i in $(seq 1 "$runs"); do figure "$w records/s" "$out/$mode-$i.txt"; done | median)
    echo "$w governor $mode: $rs records/s (median of $runs)"
  done
done
