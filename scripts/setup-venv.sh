#!/usr/bin/env bash
# Create .venv (once) and install jazzd into it, with the extras named in $1
# (e.g. "train,test"). Re-installs only when pyproject.toml changed.
# On a fresh Debian/Ubuntu machine it installs python3-venv first (with sudo if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3}"
sudo_cmd=""
[ "$(id -u)" = 0 ] || sudo_cmd="sudo"

if ! command -v "$py" >/dev/null; then
    echo "setup: installing python3 (apt-get)" >&2
    $sudo_cmd apt-get update -q && $sudo_cmd apt-get install -y -q python3 python3-venv
fi
if [ ! -x .venv/bin/python ]; then
    if ! "$py" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        echo "setup: installing python3-venv (apt-get)" >&2
        $sudo_cmd apt-get update -q && $sudo_cmd apt-get install -y -q python3-venv
        "$py" -m venv .venv
    fi
fi
stamp=".venv/.jazzd-installed-${extras//,/-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # pip's output goes to a log, shown only when the install fails.
    log=".venv/setup.log"
    spec="."
    [ -n "$extras" ] && spec=".[$extras]"
    echo "setup: installing jazzd${extras:+ with $extras} into .venv (log: $log)" >&2
    if ! { .venv/bin/python -m pip install -q --upgrade pip \
           && .venv/bin/python -m pip install -q -e "$spec"; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "setup: pip failed; the whole log is in $log" >&2
        exit 1
    fi
    touch "$stamp"
fi
