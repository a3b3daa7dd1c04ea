#!/usr/bin/env bash
# One `make bench` run: seed a large dataset into a fresh database, migrate it with N worker processes and
# print the figures one per line. Knobs: BENCH_USERS, BENCH_PROJECTS_PER_USER,
# BENCH_TASKS_PER_PROJECT, BENCH_WORKERS, BENCH_CONCURRENCY.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ONTOFLEET_BIN:-target/release/ontofleet}
users=${BENCH_USERS:-100}
ppu=${BENCH_PROJECTS_PER_USER:-20}
tpp=${BENCH_TASKS_PER_PROJECT:-25}
workers=${BENCH_WORKERS:-2}
concurrency=${BENCH_CONCURRENCY:-8}

eval "$(ONTOFLEET_DB_NAME=ontofleet_bench scripts/db.sh)"
admin=$ONTOFLEET_TEST_DATABASE_URL
psql "$admin" -qc "drop database if exists ontofleet_bench with (force)" -c "create database ontofleet_bench" >/dev/null
export ONTOFLEET_DATABASE_URL
db=$ONTOFLEET_DATABASE_URL

"$bin" seed --schema-only >/dev/null
"$bin" db migrate >/dev/null
seed_start=$(date +%s.%N)
"$bin" seed --users "$users" --projects-per-user "$ppu" --tasks-per-project "$tpp" --seed 1 >/dev/null
seed_secs=$(awk -v a="$(date +%s.%N)" -v b="$seed_start" 'BEGIN {printf "%.0f", a - b}')

logs=$(mktemp -d)
pids=()
for i in $(seq 1 "$workers"); do
  "$bin" worker --concurrency "$concurrency" --name "bench-w$i" 2>"$logs/worker-$i.log" &
  pids+=($!)
done
sleep 1
# Busy CPU of the whole machine (user + nice + system + irq + softirq + steal, all cores), so a
# figure can be told apart from a slower VM minute: records/s ≈ cores / CPU per record.
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
busy0=$(busy)
run=$("$bin" run start --all -q)
# Wait for the worker whose commit completes the run to say so in its log; the database is asked
# only every 5 s (a psql per second would take CPU from the run it measures). VmHWM is the
# peak RSS, so it is read once at the end.
status=running
for ((i = 1; ; i++)); do
  grep -qs 'this commit completed the run' "$logs"/worker-*.log && break
  if ((i % 25 == 0)); then
    status=$(psql "$db" -Atqc "select status from migration_runs where id = '$run'")
    case "$status" in completed|completed_with_errors|cancelled) break ;; esac
  fi
  sleep 0.2
done
busy1=$(busy)
status=$(psql "$db" -Atqc "select status from migration_runs where id = '$run'")
peak_kb=0
for pid in "${pids[@]}"; do
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  [ "${hwm:-0}" -gt "$peak_kb" ] && peak_kb=$hwm
done
cpu_ticks=0
for pid in "${pids[@]}"; do
  t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
  cpu_ticks=$((cpu_ticks + t))
done
for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done

q() { psql "$db" -Atqc "$1"; }
secs=$(q "select extract(epoch from finished_at - started_at) from migration_runs where id = '$run'")
projects=$(q "select total_items from migration_runs where id = '$run'")
records=$(q "select (select count(*) from projects where status <> 'archived')
  + (select count(*) from phases ph join projects p on p.id = ph.project_id where p.status <> 'archived')
  + (select count(*) from tasks t join projects p on p.id = t.project_id
      where p.status <> 'archived' and t.deleted_at is null and t.status <> 'done')
  + (select count(*) from task_calendar_events e join tasks t on t.id = e.task_id join projects p on p.id = t.project_id
      where p.status <> 'archived' and t.deleted_at is null and t.status <> 'done')")
tasks=$(q "select count(*) from tasks")
written=$(q "select count(*) from legacy_entity_mappings")
p50=$(q "select percentile_cont(0.5) within group (order by duration_ms) from migration_attempts where run_id = '$run'")
p95=$(q "select percentile_cont(0.95) within group (order by duration_ms) from migration_attempts where run_id = '$run'")
e2e50=$(q "select percentile_cont(0.5) within group (order by extract(epoch from a.finished_at - r.started_at)) from migration_attempts a join migration_runs r on r.id = a.run_id where r.id = '$run'")

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -m), $(psql "$db" -Atqc 'show server_version')"
echo "dataset: $projects projects, $tasks legacy tasks (seeded in ${seed_secs}s), $workers workers × concurrency $concurrency"
echo "run: $run $status in $(printf '%.2f' "$secs") s, $written mappings written"
echo "records/s: $(awk -v r="$records" -v s="$secs" 'BEGIN {printf "%.0f", r / s}')"
echo "projects/s: $(awk -v p="$projects" -v s="$secs" 'BEGIN {printf "%.1f", p / s}')"
echo "job latency p50: $(printf '%.0f' "$p50") ms"
echo "job latency p95: $(printf '%.0f' "$p95") ms"
echo "time to half the run done (p50 from start): $(printf '%.2f' "$e2e50") s"
echo "worker CPU: $(awk -v t="$cpu_ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}') s (all worker processes)"
echo "peak worker RSS: $((peak_kb / 1024)) MB"
echo "machine CPU busy from start to completion seen: $(awk -v t="$((busy1 - busy0))" -v hz="$(getconf CLK_TCK)" -v p="$projects" 'BEGIN {printf "%.2f core-s, %.2f ms per project", t / hz, 1000 * t / hz / p}')"
