#!/usr/bin/env bash
# The whole test suite: sets up .venv with the train and test extras, then runs pytest
# (the fast suite, then a short soak). Extra arguments go to the first pytest run.
# Integration tests start their own JACK server; without jackd they skip, unless
# JAZZD_REQUIRE_JACK=1 (CI sets it), when they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh train,test
.venv/bin/python -m pytest "$@"
