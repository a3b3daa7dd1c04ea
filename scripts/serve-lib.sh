# Sourced by the scripts that start `ontofleet serve --addr 127.0.0.1:0`: serve_addr LOG WHO waits
# up to 10 s for serve's "admin API listening" line in LOG (text or JSON log format) and prints
# the address it bound; otherwise it shows LOG and fails as WHO.
serve_addr() {
  local log=$1 who=$2 addr=""
  for _ in $(seq 100); do
    addr=$(grep 'admin API listening' "$log" 2>/dev/null | head -1 \
      | sed -n 's/.*addr[=":]*\([0-9.]*:[0-9]*\).*/\1/p' || true)
    [ -n "$addr" ] && { echo "$addr"; return 0; }
    sleep 0.1
  done
  echo "$who: serve did not start:" >&2
  cat "$log" >&2
  return 1
}
