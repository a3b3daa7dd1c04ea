# Sourced by the scripts that make databases of their own: with_db URL NAME prints URL with its
# database replaced by NAME (host, port, user and socket query kept).
with_db() { python3 - "$1" "$2" <<'PY'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1]); print(u.urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], p.query, p.fragment)))
PY
}
