#!/usr/bin/env bash
# The whole test suite: sets up .venv with the train and test extras, runs the fast
# suite, then the soak test in its short form (JAZZD_SOAK_SECONDS, default 120 s; an
# hour locally: JAZZD_SOAK_SECONDS=3600 scripts/test.sh).
#
# The fast suite runs in two pytest processes side by side: the live tests (marked
# `jack`: a real JACK server, real time, mostly waiting on the clock) at normal
# priority, and the offline ones (training, corpora, Keras parity: CPU-bound) at nice
# 15 beside them, so they take the idle core without delaying the live tests' timing.
# The offline run's report is printed after the live one's. The soak runs last, alone.
# With arguments, one plain pytest run takes them instead (e.g. one file, -k, -x).
#
# Integration tests start their own JACK server; without jackd they skip, unless
# JAZZD_REQUIRE_JACK=1 (CI sets it), when they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh train,plot,eval,test
py=.venv/bin/python
if [ $# -gt 0 ]; then
    exec "$py" -m pytest "$@"
fi
offline_log=$(mktemp)
trap 'rm -f "$offline_log"' EXIT
nice -n 15 "$py" -m pytest -p no:cacheprovider -m "not jack and not soak" \
    >"$offline_log" 2>&1 &
offline=$!
live=0
"$py" -m pytest -m "jack and not soak" || live=$?
offline_rc=0
wait "$offline" || offline_rc=$?
echo
echo "=== the offline tests (run beside the live ones, at nice 15) ==="
cat "$offline_log"
soak=0
"$py" -m pytest -m soak || soak=$?
echo "scripts/test.sh: live tests exit $live, offline tests exit $offline_rc, soak exit $soak"
[ "$live" = 0 ] && [ "$offline_rc" = 0 ] && [ "$soak" = 0 ]
