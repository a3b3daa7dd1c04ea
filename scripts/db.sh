#!/usr/bin/env bash
# Find or start a PostgreSQL for ontofleet and print shell exports:
#   ONTOFLEET_DATABASE_URL       the app database (created if missing)
#   ONTOFLEET_TEST_DATABASE_URL  an admin URL on the same server (tests create their databases there)
# Order: ONTOFLEET_DATABASE_URL / DATABASE_URL if it answers; else the server on port 5432 with trust
# auth (over its Unix socket when there is one, else 127.0.0.1);
# else a private throwaway cluster under .pgdata/ with the machine's initdb/pg_ctl; else say what to install.
# Usage: eval "$(scripts/db.sh)"        (scripts/db.sh stop  stops the private cluster)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
pgdata="$here/.pgdata"
private_port=54329
app_db=${ONTOFLEET_DB_NAME:-ontofleet}

say() { echo "db.sh: $*" >&2; }

if ! command -v psql >/dev/null 2>&1; then
  say "psql not found: install the PostgreSQL client and server (Debian: apt-get install postgresql), or set ONTOFLEET_DATABASE_URL"
  exit 1
fi

answers() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

# with_db URL NAME: replace the database name of a URL.
# shellcheck source=scripts/url-lib.sh
. "$here/scripts/url-lib.sh"

find_bin() {
  command -v "$1" 2>/dev/null && return 0
  ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}

ensure_db() { # admin_url db
  if ! psql "$1" -Atqc "select 1 from pg_database where datname = '$2'" | grep -q 1; then
    psql "$1" -qc "create database \"$2\"" >/dev/null 2>&1 || psql "$1" -Atqc "select 1 from pg_database where datname = '$2'" | grep -q 1
  fi
}

if [ "${1:-}" = stop ]; then
  if [ -f "$pgdata/PG_VERSION" ]; then
    pg_ctl=$(find_bin pg_ctl)
    runner=(); [ "$(id -u)" = 0 ] && runner=(runuser -u postgres --)
    "${runner[@]}" "$pg_ctl" -D "$pgdata" -m fast stop >/dev/null 2>&1 || true
  fi
  exit 0
fi

given=${ONTOFLEET_DATABASE_URL:-${DATABASE_URL:-}}
if [ -n "$given" ]; then
  if answers "$given"; then
    echo "export ONTOFLEET_DATABASE_URL='$given'"
    echo "export ONTOFLEET_TEST_DATABASE_URL='${ONTOFLEET_TEST_DATABASE_URL:-$(with_db "$given" postgres)}'"
    exit 0
  fi
  say "the given database URL does not answer; trying the local server"
fi

local_admin="postgres://postgres@127.0.0.1:5432/postgres"
if answers "$local_admin"; then
  ensure_db "$local_admin" "$app_db"
  # The same server over its Unix socket when it has one: no TCP stack on either side, about a
  # fifth more throughput on a 2-core machine (make bench).
  for dir in /var/run/postgresql /tmp; do
    socket_admin="postgres://postgres@localhost/postgres?host=$dir"
    if [ -S "$dir/.s.PGSQL.5432" ] && answers "$socket_admin"; then
      echo "export ONTOFLEET_DATABASE_URL='postgres://postgres@localhost/$app_db?host=$dir'"
      echo "export ONTOFLEET_TEST_DATABASE_URL='$socket_admin'"
      exit 0
    fi
  done
  echo "export ONTOFLEET_DATABASE_URL='postgres://postgres@127.0.0.1:5432/$app_db'"
  echo "export ONTOFLEET_TEST_DATABASE_URL='$local_admin'"
  exit 0
fi

private_admin="postgres://postgres@127.0.0.1:$private_port/postgres"
if ! answers "$private_admin"; then
  initdb=$(find_bin initdb || true)
  pg_ctl=$(find_bin pg_ctl || true)
  if [ -z "$initdb" ] || [ -z "$pg_ctl" ]; then
    say "no PostgreSQL reachable and no initdb/pg_ctl found: install PostgreSQL ≥ 13 (Debian: apt-get install postgresql) or set ONTOFLEET_DATABASE_URL"
    exit 1
  fi
  runner=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { say "running as root and there is no 'postgres' user to own a private cluster: set ONTOFLEET_DATABASE_URL"; exit 1; }
    runner=(runuser -u postgres --)
    mkdir -p "$pgdata" && chown postgres "$pgdata"
  fi
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    say "starting a private cluster under $pgdata (port $private_port)"
    "${runner[@]}" "$initdb" -D "$pgdata" -U postgres --auth=trust >/dev/null
  fi
  "${runner[@]}" "$pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -o "-p $private_port -k $pgdata -c listen_addresses=127.0.0.1" -w start >/dev/null
fi
ensure_db "$private_admin" "$app_db"
echo "export ONTOFLEET_DATABASE_URL='postgres://postgres@127.0.0.1:$private_port/$app_db'"
echo "export ONTOFLEET_TEST_DATABASE_URL='$private_admin'"
