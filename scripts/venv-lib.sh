# Sourced by the scripts that need Python tools: ensure_venv DIR "PINS" creates the throwaway
# virtualenv DIR (under target/) with exactly PINS from PyPI, and reuses it while PINS do not
# change.
ensure_venv() {
  local venv=$1 pins=$2
  if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]; then
    echo "$(basename "$0"): installing $pins into $venv (pinned; a few minutes the first time)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # a list of requirements
    "$venv/bin/pip" install --quiet --disable-pip-version-check $pins
    echo "$pins" >"$venv/.pins"
  fi
}
