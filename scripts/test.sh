#!/usr/bin/env bash
# The whole test suite: sets up .venv with the train and test extras, runs the fast
# suite, then the soak test in its short form (JAZZD_SOAK_SECONDS, default 120 s; an
# hour locally: JAZZD_SOAK_SECONDS=3600 scripts/test.sh). Extra arguments go to the
# fast suite's pytest run.
# Integration tests start their own JACK server; without jackd they skip, unless
# JAZZD_REQUIRE_JACK=1 (CI sets it), when they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh train,plot,eval,test
.venv/bin/python -m pytest "$@"
.venv/bin/python -m pytest -m soak
