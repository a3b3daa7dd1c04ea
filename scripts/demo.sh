#!/usr/bin/env bash
# make demo: migrate, seed a demo dataset (once), start two workers, run a platform-wide
# migration with a live progress bar, print the summary, stop the workers. Running it again is
# idempotent: the second run finds every entity unchanged in the ledger and writes nothing.
# DEMO_CLASSIFIER=openai classifies through the OpenAI-compatible fake server (fake-llm, started
# here on a free port; FAKE_LLM_ARGS adds faults or latency, e.g. "--rate 429=0.1 --latency-ms 300").
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
if [ "${DEMO_CLASSIFIER:-rules}" = openai ]; then
  fake=${FAKE_LLM_BIN:-target/debug/fake-llm}
  # shellcheck disable=SC2086 # FAKE_LLM_ARGS is a list of flags
  "$fake" --addr 127.0.0.1:0 ${FAKE_LLM_ARGS:-} >"$logs/fake-llm.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do
    grep -q '^listening on ' "$logs/fake-llm.out" && break
    sleep 0.1
  done
  llm_url=$(sed -n 's/^listening on //p' "$logs/fake-llm.out")
  [ -n "$llm_url" ] || { echo "fake-llm did not start: $(cat "$logs/fake-llm.out")" >&2; exit 1; }
  export ONTOFLEET__CLASSIFIER__KIND=openai ONTOFLEET__CLASSIFIER__BASE_URL="$llm_url" \
         ONTOFLEET__CLASSIFIER__MODEL=fake-model
  echo "classifier: openai at $llm_url (the fake server)"
else
  echo "classifier: rules (embedded)"
fi
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
if [ -n "${llm_url:-}" ]; then
  echo
  echo "fake-llm: $(curl -fsS "${llm_url%/v1}/__stats")"
fi
cleanup
trap - EXIT
echo
echo "workers stopped; exit status of the run: $status"
exit "$status"
