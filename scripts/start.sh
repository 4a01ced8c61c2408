#!/usr/bin/env bash
# Set up .venv (once) and start the daemon in the foreground on the shipped default
# model, with ./config.yaml. Extra arguments go to `jazzd run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
exec .venv/bin/jazzd run --config config.yaml "$@"
