#!/usr/bin/env bash
# make explain-ui DB=URL: the plans the dashboard's pages and the API's reads really use on a big
# dataset (SPEC §12, issue #18). With auto_explain loaded for the database's sessions (plans sent
# to the client as NOTICEs, logged by `serve` as JSON), every dashboard page and API read is
# requested over HTTP, and each statement's plan is checked for sequential scans. A dashboard page
# fails on a sequential scan of any table over 10,000 rows, except a per-run table (run items,
# attempts, queue jobs) the page's run holds a third or more of: reading the table is then the
# planner's right choice for the run's own rows, and as runs accumulate it turns to the run index. API reads are listed, not failed: `GET /stats…` carries the CLI's `global`,
# an aggregate over every task. Run twice: as the database is (the ledger never analysed:
# autovacuum may be off) and after ANALYZE.
# The dataset: what `make bench-scale` builds for its 1M workload (database ontofleet_bench_1m,
# kept after the bench). Needs a superuser URL.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/serve-lib.sh
. scripts/serve-lib.sh
db=${1:?usage: scripts/explain-ui.sh DATABASE_URL}
bin=${ONTOFLEET_BIN:-target/debug/ontofleet}
work=$(mktemp -d)
pid=""
dbname=$(psql "$db" -Atc "select current_database()")
settings=("session_preload_libraries = 'auto_explain'" "auto_explain.log_min_duration = 0"
          "auto_explain.log_format = 'json'" "auto_explain.log_level = 'notice'")
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  for s in "${settings[@]}"; do psql "$db" -qc "ALTER DATABASE \"$dbname\" RESET ${s%% =*}" >/dev/null 2>&1 || true; done
  "$bin" -q token revoke "explain-$$" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export ONTOFLEET_DATABASE_URL="$db"
unset DATABASE_URL
token=$("$bin" -q token create --name "explain-$$" --role admin --expires-in 1h)
run=$(psql "$db" -Atc "select id from migration_runs order by total_items desc, created_at desc limit 1")
job=$(psql "$db" -Atc "select job_id from migration_run_items where run_id = '$run' and job_id is not null order by project_id limit 1")
echo "explain-ui: $(psql "$db" -Atc "select count(*) from tasks") tasks, run $run ($(psql "$db" -Atc "select total_items from migration_runs where id = '$run'") items)"
# Rows of every table, and of the per-run ones the run's own share (the checker's thresholds).
psql "$db" -Atc "select json_build_object(
    'rows', (select json_object_agg(c.relname, (xpath('/row/n/text()',
        query_to_xml(format('select count(*) as n from %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind = 'r' and n.nspname in ('public', 'apalis')),
    'run', json_build_object(
        'migration_run_items', (select count(*) from migration_run_items where run_id = '$run'),
        'migration_attempts', (select count(*) from migration_attempts where run_id = '$run'),
        'jobs', (select count(*) from migration_run_items where run_id = '$run' and job_id is not null)))" \
  >"$work/sizes.json"
for s in "${settings[@]}"; do psql "$db" -qc "ALTER DATABASE \"$dbname\" SET $s"; done

pass() {
  local label=$1
  ONTOFLEET__LOG_FORMAT=json ONTOFLEET_LOG="info,sqlx=warn,sqlx::postgres::notice=info" \
    "$bin" serve --addr 127.0.0.1:0 2>>"$work/$label.log" &
  pid=$!
  local addr
  addr=$(serve_addr "$work/$label.log" explain-ui) || exit 1
  local base="http://$addr"
  local times=()
  local pages=(/ui /ui/runs "/ui/runs/$run" "/ui/runs/$run/failures" "/ui/runs/$run/retry?category=data"
               "/ui/jobs/$job" /ui/users /ui/audit)
  local api=(/api/v1/runs "/api/v1/runs/$run" "/api/v1/jobs?run=$run&limit=50" "/api/v1/jobs?limit=50" /api/v1/stats
             "/api/v1/jobs?run=$run&status=failed" "/api/v1/jobs/$job" /api/v1/stats/users /api/v1/audit /api/v1/lock)
  for p in "${pages[@]}" "${api[@]}"; do
    echo "MARK $p" >>"$work/$label.log"
    read -r code secs < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $token" "$base$p")
    [ "$code" = 200 ] || { echo "explain-ui: $p answered $code" >&2; exit 1; }
    times+=("$(printf '%6.0f ms  %s' "$(awk -v s="$secs" 'BEGIN {print s * 1000}')" "$p")")
  done
  echo "MARK /api/v1/runs/$run/events" >>"$work/$label.log"
  curl -s -m 2 -o /dev/null -H "Authorization: Bearer $token" "$base/api/v1/runs/$run/events" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  echo "explain-ui [$label]: time to answer (auto_explain on: plans are logged)"
  printf '  %s\n' "${times[@]}"
  python3 - "$work/$label.log" "$label" "$work/sizes.json" <<'PY'
import json, sys
sizes = json.load(open(sys.argv[3]))
rows, run_rows = sizes["rows"], sizes["run"]
SMALL = 10_000
page, seen, out = "?", 0, []
def walk(node, found):
    if node.get("Node Type") == "Seq Scan":
        found.append(node.get("Relation Name"))
    for child in node.get("Plans", []):
        walk(child, found)
for line in open(sys.argv[1]):
    if line.startswith("MARK "):
        page = line[5:].strip()
        continue
    try:
        event = json.loads(line)
    except ValueError:
        continue
    if event.get("target") != "sqlx::postgres::notice":
        continue
    msg = event.get("fields", {}).get("message", "")
    if "{" not in msg:
        continue
    doc = json.loads(msg[msg.index("{"):])
    seen += 1
    found = []
    walk(doc["Plan"], found)
    for rel in sorted(set(found)):
        n = rows.get(rel, 0)
        if n <= SMALL:
            continue
        own = run_rows.get(rel)
        why = None
        if own is not None and own * 3 >= n:
            why = f"the run's own rows ({own} of {n})"
        out.append((page, rel, n, why, " ".join(doc["Query Text"].split())[:140]))
if page == "?":
    print("explain-ui: no page marks in the log: cannot attribute plans", file=sys.stderr)
    sys.exit(1)
print(f"explain-ui [{sys.argv[2]}]: {seen} statement plans")
strict = [o for o in out if o[0].startswith("/ui") and o[3] is None]
for page, rel, n, why, query in out:
    if why:
        kind = "ok: seq scan"
    elif page.startswith("/ui"):
        kind = "SEQ SCAN"
    else:
        kind = "note: seq scan"
    print(f"  {kind} of {rel} ({n} rows{', ' + why if why else ''}) on {page}: {query}")
sys.exit(1 if strict else 0)
PY
}
status=0
pass as-is || status=1
psql "$db" -qc "ANALYZE"
pass analysed || status=1
[ $status = 0 ] && echo "explain-ui: no dashboard page plans a sequential scan of a big table (API reads: notes above, if any)"
exit $status
