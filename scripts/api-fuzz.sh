#!/usr/bin/env bash
# make api-fuzz (also run by make test): schemathesis fuzzes `ontofleet serve` from the API's own
# OpenAPI document (/api/openapi.json) against a seeded, migrated database with one finished run:
#   1. with an operator token: no 5xx, every response matches its documented schema and
#      content type;
#   2. with a viewer token: the same, and every mutation answers 403 (scripts/api_fuzz_hooks.py).
# schemathesis is installed by this script into a throwaway virtualenv under target/ from PyPI,
# at a pinned version (reused while the pin does not change). Uses target/debug/ontofleet
# (make build) and the PostgreSQL scripts/db.sh finds; the database it creates is dropped.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/api-fuzz-venv
pins="schemathesis==4.32.5"
bin=${ONTOFLEET_BIN:-target/debug/ontofleet}
examples=${API_FUZZ_EXAMPLES:-25}
# shellcheck source=scripts/venv-lib.sh
. scripts/venv-lib.sh
ensure_venv "$venv" "$pins"
[ -x "$bin" ] || { echo "api-fuzz: $bin is missing; run make build first" >&2; exit 1; }
# shellcheck source=scripts/url-lib.sh
. scripts/url-lib.sh
# shellcheck source=scripts/serve-lib.sh
. scripts/serve-lib.sh
eval "$(scripts/db.sh)"
name="ontofleet_apifuzz_$$"
url=$(with_db "$ONTOFLEET_TEST_DATABASE_URL" "$name")
work=$(mktemp -d)
pids=()
cleanup() {
  cd /
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$ONTOFLEET_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$ONTOFLEET_TEST_DATABASE_URL" -qc "CREATE DATABASE $name" >/dev/null
export ONTOFLEET_DATABASE_URL="$url"
unset DATABASE_URL
"$bin" -q seed --users 6 --projects-per-user 3 --tasks-per-project 6 --bad-rows >/dev/null
"$bin" -q db migrate >/dev/null
"$bin" -q worker --name fuzzw --concurrency 2 2>"$work/worker.log" &
pids+=($!)
run=$("$bin" -q run start --all)
# Exit 3 means completed with errors (--bad-rows): still a finished run with data to read.
"$bin" -q run watch "$run" >/dev/null || [ $? -eq 3 ]
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
operator=$("$bin" -q token create --name fuzz-operator --role operator)
viewer=$("$bin" -q token create --name fuzz-viewer --role viewer)
"$bin" serve --addr 127.0.0.1:0 2>"$work/serve.log" &
pids+=($!)
addr=$(serve_addr "$work/serve.log" api-fuzz) || exit 1
base="http://$addr"
common=(--url "$base/api/v1" --max-examples "$examples" --seed 1 --workers 1 --request-timeout 20
        --suppress-health-check all --no-color --warnings off)
# schemathesis keeps a cache in the current folder: keep it out of the checkout.
hooks=$PWD/scripts
st=$PWD/$venv/bin/st
cd "$work"
echo "api-fuzz: 1/2 operator token against $base (examples per operation: $examples)"
"$st" run "$base/api/openapi.json" "${common[@]}" \
  -H "Authorization: Bearer $operator" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
echo "api-fuzz: 2/2 viewer token: every mutation refused"
API_FUZZ_VIEWER_TOKEN="$viewer" PYTHONPATH="$hooks" SCHEMATHESIS_HOOKS=api_fuzz_hooks "$st" run "$base/api/openapi.json" "${common[@]}" \
  -H "Authorization: Bearer $viewer" \
  --checks not_a_server_error,content_type_conformance,response_schema_conformance,viewer_forbidden
if grep -q ' ERROR \|panicked' "$work/serve.log"; then
  echo "api-fuzz: the server logged errors:" >&2
  grep ' ERROR \|panicked' "$work/serve.log" | head -20 >&2
  exit 1
fi
echo "api-fuzz: ok"
