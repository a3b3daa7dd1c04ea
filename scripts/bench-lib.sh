# Shared by scripts/bench-once.sh (make bench) and scripts/bench-scale.sh (make bench-scale):
# seed a workload into a fresh database, migrate it as a user would — `ontofleet run start --all
# --watch` with worker processes on the default settings — and print the figures one per line.
# Source it; call `workload NAME SEED_ARGS...`. Knobs: BENCH_WORKERS (default 2),
# BENCH_CONCURRENCY (default: the configured default), ONTOFLEET_BIN, BENCH_CLASSIFIER (`rules`,
# the default, or `openai`: against the fake server, FAKE_LLM_BIN, at BENCH_LLM_LATENCY_MS per
# call, default 300), BENCH_TELEMETRY (1: workers with `--listen` and OTLP export to the fake
# server's sink).

# shellcheck source=scripts/url-lib.sh
. scripts/url-lib.sh

bench_bin=${ONTOFLEET_BIN:-target/release/ontofleet}
bench_workers=${BENCH_WORKERS:-2}

# Busy CPU of the whole machine in clock ticks (user + nice + system + irq + softirq + steal,
# all cores), so a figure can be told apart from a slower VM minute.
bench_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

# Resident memory of the given pids every 100 ms, "epoch-seconds pid kB" per line, until killed.
bench_rss_sampler() {
  exec python3 - "$@" <<'PY'
import sys, time
pids = sys.argv[1:]
while True:
    now = time.time()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        print(f"{now:.3f} {pid} {line.split()[1]}", flush=True)
                        break
        except FileNotFoundError:
            pass
    time.sleep(0.1)
PY
}

# workload NAME SEED_ARGS...: figures of one workload, each line prefixed by "NAME " when NAME
# is not empty.
workload() {
  local name=$1
  shift
  local prefix=${name:+$name }
  local dbname=ontofleet_bench${name:+_$name}
  eval "$(ONTOFLEET_DB_NAME=$dbname scripts/db.sh)"
  local admin=$ONTOFLEET_TEST_DATABASE_URL
  psql "$admin" -qc "drop database if exists $dbname with (force)" -c "create database $dbname" >/dev/null
  # The bench's own database on that server, also when ONTOFLEET_DATABASE_URL named another one
  # (db.sh then returns that URL as it is, and the bench must not seed into it).
  ONTOFLEET_DATABASE_URL=$(with_db "$admin" "$dbname")
  export ONTOFLEET_DATABASE_URL
  local db=$ONTOFLEET_DATABASE_URL
  q() { psql "$db" -Atqc "$1"; }

  "$bench_bin" seed --schema-only >/dev/null
  "$bench_bin" db migrate >/dev/null
  local seed_start seed_secs
  seed_start=$(date +%s.%N)
  "$bench_bin" seed "$@" >/dev/null
  seed_secs=$(awk -v a="$(date +%s.%N)" -v b="$seed_start" 'BEGIN {printf "%.0f", a - b}')
  local size_before
  size_before=$(q "select pg_database_size(current_database())")

  local logs
  logs=$(mktemp -d)
  local pids=()
  local fake_pid="" llm_url=""
  if [ "${BENCH_CLASSIFIER:-rules}" = openai ] || [ "${BENCH_TELEMETRY:-0}" = 1 ]; then
    "${FAKE_LLM_BIN:-target/release/fake-llm}" --addr 127.0.0.1:0 --latency-ms "${BENCH_LLM_LATENCY_MS:-300}" \
      >"$logs/fake-llm.out" 2>&1 &
    fake_pid=$!
    for _ in $(seq 50); do
      grep -q '^listening on ' "$logs/fake-llm.out" && break
      sleep 0.1
    done
    llm_url=$(sed -n 's/^listening on //p' "$logs/fake-llm.out")
    if [ "${BENCH_CLASSIFIER:-rules}" = openai ]; then
      export ONTOFLEET__CLASSIFIER__KIND=openai ONTOFLEET__CLASSIFIER__BASE_URL="$llm_url" \
             ONTOFLEET__CLASSIFIER__MODEL=fake-model
    fi
  fi
  local listen_args=()
  if [ "${BENCH_TELEMETRY:-0}" = 1 ]; then
    # Telemetry on: each worker's ops server, and OTLP export to the fake server's sink.
    export OTEL_EXPORTER_OTLP_ENDPOINT="${llm_url%/v1}"
    listen_args=(--listen 127.0.0.1:0)
  fi
  local concurrency_args=()
  [ -n "${BENCH_CONCURRENCY:-}" ] && concurrency_args=(--concurrency "$BENCH_CONCURRENCY")
  for i in $(seq 1 "$bench_workers"); do
    "$bench_bin" worker "${concurrency_args[@]}" "${listen_args[@]}" --name "bench-w$i" 2>"$logs/worker-$i.log" &
    pids+=($!)
  done
  # Wait until every worker has registered with the queue, so the run starts on a ready fleet.
  for _ in $(seq 1 100); do
    [ "$(q "select count(*) from apalis.workers where id like 'bench-w%' and last_seen > now() - interval '60 seconds'")" -ge "$bench_workers" ] && break
    sleep 0.1
  done
  bench_rss_sampler "${pids[@]}" >"$logs/rss.txt" &
  local sampler=$!

  local busy0 t0 t1 busy1 status=0
  busy0=$(bench_busy)
  t0=$(date +%s.%N)
  # What the user types and waits for; exit 3 = finished with entity errors (still finished).
  "$bench_bin" run start --all --watch -q >/dev/null || status=$?
  t1=$(date +%s.%N)
  busy1=$(bench_busy)
  if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
    echo "${prefix}run start --all --watch failed with exit $status" >&2
    cat "$logs"/worker-*.log >&2
    return 1
  fi
  local peak_kb=0 hwm cpu_ticks=0 t
  for pid in "${pids[@]}"; do
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${hwm:-0}" -gt "$peak_kb" ] && peak_kb=$hwm
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    cpu_ticks=$((cpu_ticks + t))
  done
  kill "$sampler" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  wait "$sampler" 2>/dev/null || true
  local llm_stats=""
  if [ -n "$fake_pid" ]; then
    llm_stats=$(curl -fsS "${llm_url%/v1}/__stats" || true)
    kill "$fake_pid" 2>/dev/null || true
    wait "$fake_pid" 2>/dev/null || true
    unset ONTOFLEET__CLASSIFIER__KIND ONTOFLEET__CLASSIFIER__BASE_URL ONTOFLEET__CLASSIFIER__MODEL \
          OTEL_EXPORTER_OTLP_ENDPOINT
  fi

  local run run_status secs projects records tasks written p50 p95 pmax per_task_p95 size_after
  run=$(q "select id from migration_runs order by created_at desc limit 1")
  run_status=$(q "select status from migration_runs where id = '$run'")
  secs=$(q "select extract(epoch from finished_at - started_at) from migration_runs where id = '$run'")
  projects=$(q "select total_items from migration_runs where id = '$run'")
  records=$(q "select (select count(*) from projects where status <> 'archived')
    + (select count(*) from phases ph join projects p on p.id = ph.project_id where p.status <> 'archived')
    + (select count(*) from tasks t join projects p on p.id = t.project_id
        where p.status <> 'archived' and t.deleted_at is null and t.status <> 'done')
    + (select count(*) from task_calendar_events e join tasks t on t.id = e.task_id join projects p on p.id = t.project_id
        where p.status <> 'archived' and t.deleted_at is null and t.status <> 'done')")
  tasks=$(q "select count(*) from tasks")
  local migrated
  migrated=$(q "select count(*) from onto_tasks")
  written=$(q "select count(*) from legacy_entity_mappings")
  read -r p50 p95 pmax <<<"$(q "select percentile_cont(0.5) within group (order by duration_ms)::int,
      percentile_cont(0.95) within group (order by duration_ms)::int, max(duration_ms)
      from migration_attempts where run_id = '$run'" | tr '|' ' ')"
  # Job latency per migrated task: a project's time over its size, so workloads of different
  # project sizes compare.
  per_task_p95=$(q "select round((percentile_cont(0.95) within group (order by a.duration_ms::float8
          / greatest((i.counts -> 'task' ->> 'inserted')::int, 1)))::numeric, 3)
      from migration_attempts a join migration_run_items i on i.run_id = a.run_id and i.project_id = a.project_id
     where a.run_id = '$run'")
  size_after=$(q "select pg_database_size(current_database())")

  echo "${prefix}machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -m), PostgreSQL $(q 'show server_version')"
  echo "${prefix}dataset: $projects projects, $tasks legacy tasks, $records records (seeded in ${seed_secs}s), $bench_workers workers × concurrency ${BENCH_CONCURRENCY:-default}"
  echo "${prefix}run: $run $run_status in $(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.2f", a - b}') s from the command ($(printf '%.2f' "$secs") s from started_at), $written mappings written"
  echo "${prefix}records/s: $(awk -v r="$records" -v a="$t1" -v b="$t0" 'BEGIN {printf "%.0f", r / (a - b)}') (from the run start command to its return)"
  echo "${prefix}records/s from started_at: $(awk -v r="$records" -v s="$secs" 'BEGIN {printf "%.0f", r / s}')"
  echo "${prefix}tasks/s: $(awk -v r="$migrated" -v a="$t1" -v b="$t0" 'BEGIN {printf "%.0f", r / (a - b)}') ($migrated tasks migrated, classifier ${BENCH_CLASSIFIER:-rules}; from the run start command to its return)"
  [ -n "$llm_stats" ] && [ "${BENCH_CLASSIFIER:-rules}" = openai ] && echo "${prefix}classifier calls: $llm_stats (fake server, ${BENCH_LLM_LATENCY_MS:-300} ms per call)"
  [ -n "$llm_stats" ] && [ "${BENCH_TELEMETRY:-0}" = 1 ] && echo "${prefix}telemetry: on (ops server per worker, OTLP to the fake server's sink: $llm_stats)"
  echo "${prefix}projects/s: $(awk -v p="$projects" -v a="$t1" -v b="$t0" 'BEGIN {printf "%.1f", p / (a - b)}')"
  echo "${prefix}job latency p50: $p50 ms"
  echo "${prefix}job latency p95: $p95 ms"
  echo "${prefix}job latency max: $pmax ms"
  echo "${prefix}job latency p95 per task: $per_task_p95 ms"
  echo "${prefix}worker CPU: $(awk -v t="$cpu_ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}') s (all worker processes)"
  echo "${prefix}peak worker RSS: $((peak_kb / 1024)) MB"
  # The biggest project (the giant one, when seeded): the RSS its worker reached while it ran.
  local big
  big=$(q "select a.worker || '|' || extract(epoch from a.started_at) || '|' || extract(epoch from a.finished_at) || '|' || n
      from (select project_id, count(*) n from tasks group by 1 order by 2 desc limit 1) b
      join migration_attempts a on a.project_id = b.project_id and a.run_id = '$run' order by a.attempt desc limit 1")
  if [ -n "$big" ]; then
    local bworker bstart bend bn bpid brss
    IFS='|' read -r bworker bstart bend bn <<<"$big"
    # Worker names are prefix-host-pid-ulid-restarts.
    bpid=$(awk -F- '{print $(NF-2)}' <<<"$bworker")
    brss=$(awk -v p="$bpid" -v s="$bstart" -v e="$bend" '$2 == p && $1 >= s && $1 <= e && $3 > m {m = $3} END {print int(m / 1024)}' "$logs/rss.txt")
    echo "${prefix}biggest project: $bn tasks in $(awk -v a="$bend" -v b="$bstart" 'BEGIN {printf "%.1f", a - b}') s; its worker's RSS peaked at $brss MB while it ran (sampled every 100 ms)"
  fi
  echo "${prefix}machine CPU busy: $(awk -v t="$((busy1 - busy0))" -v hz="$(getconf CLK_TCK)" -v p="$projects" -v r="$records" 'BEGIN {printf "%.2f core-s, %.2f ms per project, %.3f ms per record", t / hz, 1000 * t / hz / p, 1000 * t / hz / r}')"
  echo "${prefix}database size: $(awk -v b="$size_before" -v a="$size_after" 'BEGIN {printf "%.0f MB before, %.0f MB after", b / 1048576, a / 1048576}')"
  rm -rf "$logs"
}
