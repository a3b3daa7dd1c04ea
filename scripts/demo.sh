#!/usr/bin/env bash
# make demo: migrate, seed a demo dataset (once), start two workers, run a platform-wide
# migration with a live progress bar, print the summary, stop the workers. Running it again is
# idempotent: the second run finds every entity unchanged in the ledger and writes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ONTOFLEET_BIN:-target/debug/ontofleet}
eval "$(scripts/db.sh)"
echo "database: ${ONTOFLEET_DATABASE_URL}"

"$bin" seed --schema-only >/dev/null
"$bin" db migrate
projects=$(psql "$ONTOFLEET_DATABASE_URL" -Atqc 'select count(*) from projects')
if [ "$projects" = 0 ]; then
  "$bin" seed --users 25 --projects-per-user 4 --tasks-per-project 20 --seed 2026
else
  echo "legacy data present ($projects projects): not seeding again"
fi

logs=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
for i in 1 2; do
  "$bin" worker --concurrency 4 --name "demo-w$i" 2>"$logs/worker-$i.log" &
  pids+=($!)
done
echo "workers started (logs in $logs)"

status=0
"$bin" run start --all --resync --watch || status=$?
run=$(psql "$ONTOFLEET_DATABASE_URL" -Atqc 'select id from migration_runs order by created_at desc limit 1')
echo
"$bin" run show "$run"
cleanup
trap - EXIT
echo
echo "workers stopped; exit status of the run: $status"
exit "$status"
