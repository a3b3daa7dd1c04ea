#!/usr/bin/env bash
# make browser-test (also run by make test): the dashboard's flows in Debian's Chromium, driven by
# playwright-core (tests/browser/dashboard.mjs) with an axe-core scan of each page. Chromium is
# installed with apt when it is missing and this runs as root; otherwise the suite is skipped,
# and says so. playwright-core and @axe-core/playwright are installed from npm into
# target/browser-node at the versions of tests/browser/package.json (never `playwright install`:
# the browser is the system's). Screenshots go to target/browser-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ONTOFLEET_BIN:-target/debug/ontofleet}
node_dir=target/browser-node
artifacts=$PWD/target/browser-artifacts
chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "browser-test: installing Debian's chromium with apt"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } \
      || true
    chromium=$(command -v chromium || true)
  fi
  if [ -z "$chromium" ]; then
    echo "browser-test: SKIPPED — chromium is not installed and could not be (apt-get install chromium)"
    exit 0
  fi
fi
command -v node >/dev/null || { echo "browser-test: SKIPPED — node is not installed"; exit 0; }
if ! cmp -s tests/browser/package.json "$node_dir/package.json"; then
  echo "browser-test: installing playwright-core and @axe-core/playwright into $node_dir"
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  cp tests/browser/package.json "$node_dir/"
  (cd "$node_dir" && npm install --no-audit --no-fund --silent)
fi
[ -x "$bin" ] || { echo "browser-test: $bin is missing; run make build first" >&2; exit 1; }
# shellcheck source=scripts/url-lib.sh
. scripts/url-lib.sh
# shellcheck source=scripts/serve-lib.sh
. scripts/serve-lib.sh
eval "$(scripts/db.sh)"
name="ontofleet_browser_$$"
url=$(with_db "$ONTOFLEET_TEST_DATABASE_URL" "$name")
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$ONTOFLEET_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$ONTOFLEET_TEST_DATABASE_URL" -qc "CREATE DATABASE $name" >/dev/null
export ONTOFLEET_DATABASE_URL="$url" ONTOFLEET__WORKER__POLL_INTERVAL_SECS=1
unset DATABASE_URL
"$bin" -q seed --users 4 --projects-per-user 2 --tasks-per-project 5 --seed 7 >/dev/null
"$bin" -q db migrate >/dev/null
# Two active projects: one migrates, one fails as `data` on its first two attempts (the second is
# the fallback), so that a retry by category succeeds.
mapfile -t projects < <(psql "$url" -Atc "SELECT id FROM projects WHERE status <> 'archived' ORDER BY id LIMIT 2")
good=${projects[0]} bad=${projects[1]}
# A run paused before any worker starts, slowed to one project per second: the dashboard resumes
# it, pauses it again and resumes it until it completes.
paused=$("$bin" -q run start --all --resync --dry-run)
"$bin" -q run limit "$paused" --max-rate 1 >/dev/null
"$bin" -q run pause "$paused" --reason "paused before the browser test" >/dev/null
ONTOFLEET__FAULTS__FAIL_PROJECT="$bad" ONTOFLEET__FAULTS__FAIL_KIND=data ONTOFLEET__FAULTS__FAIL_ATTEMPTS=2 \
  "$bin" -q worker --name browserw --concurrency 2 2>"$work/worker.log" &
pids+=($!)
operator=$("$bin" -q token create --name t-operator --role operator)
viewer=$("$bin" -q token create --name t-viewer --role viewer)
ONTOFLEET__API__EVENTS_INTERVAL_MS=300 "$bin" serve --addr 127.0.0.1:0 2>"$work/serve.log" &
pids+=($!)
addr=$(serve_addr "$work/serve.log" browser-test) || exit 1
rm -rf "$artifacts"
# Next to its node_modules, so that its imports resolve (ES modules ignore NODE_PATH).
cp tests/browser/dashboard.mjs "$node_dir/"
echo "browser-test: $("$chromium" --version 2>/dev/null | head -1) against http://$addr"
BASE="http://$addr" OPERATOR="$operator" VIEWER="$viewer" GOOD_PROJECT="$good" BAD_PROJECT="$bad" PAUSED_RUN="$paused" \
  ARTIFACTS="$artifacts" CHROMIUM="$chromium" node "$node_dir/dashboard.mjs" \
  || { echo "browser-test: server log:" >&2; tail -20 "$work/serve.log" >&2; exit 1; }
echo "browser-test: screenshots in $artifacts"
