#!/usr/bin/env bash
# make bench-incremental (SPEC §15): a catch-up pass against the full run on the 1M-task
# workload of make bench-scale. Seeds and fully migrates it (the full run's figures, as
# bench-scale prints them), then writes as the app would to BENCH_CHANGED_PERCENT (1) % of the
# projects — six equal groups: new tasks (one linked to a phase), edits, a task moved to another
# phase, soft deletes, hard deletes, removed links — times `sync status` (median of 5, as a
# poller would call it), then the catch-up pass with BENCH_WORKERS (2) running workers from
# `run start --all --changed-since last` to the return of `run watch`, and prints it as a
# fraction of the full run (target ≤ 0.10).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
source scripts/bench-figures.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Not in a pipeline: the workload exports the bench database's URL to this shell.
workload 1m --users "${BENCH_SCALE_USERS:-400}" --projects-per-user 25 \
  --tasks-per-project "${BENCH_SCALE_TASKS_PER_PROJECT:-95}" \
  --giant-project-tasks "${BENCH_GIANT_TASKS:-50000}" --seed 1 >"$out/full.txt"
cat "$out/full.txt"
full_secs=$(sed -nE 's/^1m run: .* in ([0-9.]+) s from the command.*/\1/p' "$out/full.txt")
db=$ONTOFLEET_DATABASE_URL
q() { psql "$db" -Atqc "$1"; }
share=${BENCH_CHANGED_PERCENT:-1}

# The app's writes: every 100/share-th project by id, in six groups of what users do.
psql "$db" -q -v ON_ERROR_STOP=1 <<SQL
CREATE TEMP TABLE touched AS
  SELECT id, row_number() OVER (ORDER BY id) % 6 AS kind FROM (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM projects WHERE status <> 'archived') p
   WHERE n % (100 / $share)::int = 0;
-- new tasks (one linked to a phase)
INSERT INTO tasks (user_id, project_id, title, status)
  SELECT p.user_id, p.id, 'added today ' || g, 'backlog' FROM projects p JOIN touched t ON t.id = p.id AND t.kind = 0,
         generate_series(1, 3) g;
INSERT INTO phase_tasks (phase_id, task_id)
  SELECT (SELECT id FROM phases WHERE project_id = ta.project_id ORDER BY id LIMIT 1), ta.id
    FROM tasks ta WHERE ta.title = 'added today 1'
     AND EXISTS (SELECT 1 FROM phases WHERE project_id = ta.project_id);
-- edits
UPDATE tasks SET title = title || ' (edited)', updated_at = now()
 WHERE id IN (SELECT (SELECT id FROM tasks WHERE project_id = t.id ORDER BY id LIMIT 1) FROM touched t WHERE kind = 1);
-- a task moved to another phase (the link deleted and added again)
WITH m AS (DELETE FROM phase_tasks WHERE id IN (
             SELECT (SELECT pt.id FROM phase_tasks pt JOIN phases ph ON ph.id = pt.phase_id
                      WHERE ph.project_id = t.id ORDER BY pt.id LIMIT 1) FROM touched t WHERE kind = 2)
           RETURNING phase_id, task_id)
INSERT INTO phase_tasks (phase_id, task_id)
  SELECT (SELECT id FROM phases ph2 WHERE ph2.project_id = ph.project_id AND ph2.id <> m.phase_id ORDER BY id LIMIT 1), m.task_id
    FROM m JOIN phases ph ON ph.id = m.phase_id
   WHERE EXISTS (SELECT 1 FROM phases ph2 WHERE ph2.project_id = ph.project_id AND ph2.id <> m.phase_id);
-- soft deletes
UPDATE tasks SET deleted_at = now(), updated_at = now()
 WHERE id IN (SELECT (SELECT id FROM tasks WHERE project_id = t.id AND deleted_at IS NULL ORDER BY id LIMIT 1) FROM touched t WHERE kind = 3);
-- hard deletes (no timestamp left behind)
DELETE FROM tasks WHERE id IN (SELECT (SELECT id FROM tasks WHERE project_id = t.id ORDER BY id DESC LIMIT 1) FROM touched t WHERE kind = 4);
-- removed links (no timestamp either)
DELETE FROM phase_tasks WHERE id IN (
  SELECT (SELECT pt.id FROM phase_tasks pt JOIN phases ph ON ph.id = pt.phase_id WHERE ph.project_id = t.id ORDER BY pt.id LIMIT 1)
    FROM touched t WHERE kind = 5);
SQL
changed=$(( $(q "select count(*) from projects where status <> 'archived'") * share / 100 ))

# sync status as a poller calls it: the whole command, median of 5.
for i in 1 2 3 4 5; do
  t0=$(date +%s.%N)
  "$bench_bin" sync status >/dev/null
  t1=$(date +%s.%N)
  awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.3f\n", a - b}'
done >"$out/status.txt"
pending=$("$bench_bin" sync status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["pending_projects"])')

pids=()
for i in $(seq 1 "$bench_workers"); do
  "$bench_bin" worker --name "bench-w$i" 2>/dev/null &
  pids+=($!)
done
for _ in $(seq 1 100); do
  [ "$(q "select count(*) from apalis.workers where id like 'bench-w%' and last_seen > now() - interval '60 seconds'")" -ge "$bench_workers" ] && break
  sleep 0.1
done
# The pass as a user times it, in two steps: `run start` returns once the selection is made and
# enqueued (the running fleet has begun), `run watch` when the pass is done.
t0=$(date +%s.%N)
run=$("$bench_bin" run start --all --changed-since last)
ts=$(date +%s.%N)
status=0
"$bench_bin" run watch "$run" -q >/dev/null || status=$?
t1=$(date +%s.%N)
for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || { echo "incremental pass failed with exit $status" >&2; exit 1; }
items=$(q "select total_items from migration_runs where id = '$run'")
inc_secs=$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.2f", a - b}')

echo "changes: $share % of the projects written to ($changed), sync status sees $pending of them (timestamped and deleted whole)"
echo "sync status: $(median <"$out/status.txt") s (median of 5, from the command to its return)"
echo "incremental pass: $inc_secs s from the command ($items projects selected; run start returned after $(awk -v a="$ts" -v b="$t0" 'BEGIN {printf "%.2f", a - b}') s: selection and enqueue)"
echo "full run: $full_secs s from the command"
echo "incremental/full: $(awk -v a="$inc_secs" -v b="$full_secs" 'BEGIN {printf "%.3f", a / b}') (target ≤ 0.10)"
