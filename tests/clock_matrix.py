"""The external-clock acceptance runs as a table: private asynchronous jackd servers
(non-realtime, the ordinary setup) at each period, a sample-accurate master at each
tempo playing a chart, over MIDI clock and, for comparison, the same chart to the
daemon on its internal clock. Each run is tests/clock_run.py; figures as a Markdown
table on stdout (the server's mode first). Takes about (periods x tempos x 2) x (SECONDS + 3) s.

    python tests/clock_matrix.py [SECONDS] [CHART]
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from jazzd.bench.jack_server import NO_REALTIME, REALTIME, JackServer

REPO = Path(__file__).resolve().parent.parent
PERIODS = (64, 256, 1024)
# realtime where the machine allows it (JAZZD_JACK_REALTIME=0: never), as the tests
MODES = [REALTIME, NO_REALTIME] if os.environ.get("JAZZD_JACK_REALTIME", "1") != "0" \
    else [NO_REALTIME]
TEMPOS = (120, 200)


def run(server, bpm, seconds, chart, internal, tmp):
    cfg = Path(tmp) / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({
        "midi": {"backend": "jack", "input": "virtual:pwjz-in",
                 "output": "virtual:pwjz-out"},
        "tempo": {"source": "internal" if internal else "clock", "bpm": bpm},
        "improviser": {"seed": 7}}))
    args = [sys.executable, str(REPO / "tests" / "clock_run.py"), str(cfg), chart,
            str(seconds), str(bpm)] + (["internal"] if internal else [])
    r = subprocess.run(args, env=server.env, capture_output=True, text=True,
                       timeout=seconds + 90, cwd=REPO)
    if r.returncode != 0:
        return {"error": r.stderr[-300:]}
    got = json.loads(r.stdout.strip().splitlines()[-1])
    log = got.pop("log")
    got["lost"] = next((ln.split("MIDI clock: ")[1].split(" ticks")[0]
                        for ln in log.splitlines()
                        if "MIDI clock: " in ln and "ticks lost" in ln), "-")
    return got


def main(seconds=30.0, chart=str(REPO / "tests" / "charts" / "bird_blues_f.txt")):
    print("| period | bpm | clock | onsets | p50 ms | p99 ms | chord tones | outside "
          "| lost ticks | sounding at end |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for period in PERIODS:
            server = JackServer(Path(tmp) / f"jackd-{period}.log", prefix="jazzd-matrix",
                                set_env=False, period=period, modes=MODES)
            try:
                for bpm in TEMPOS:
                    for internal in (False, True):
                        g = run(server, bpm, seconds, chart, internal, tmp)
                        if "error" in g:
                            print(f"| {period} | {bpm} | {'internal' if internal else 'MIDI'}"
                                  f" | failed: {g['error']!r} |", flush=True)
                            continue
                        timing = ("-", "-") if internal else (
                            f"{g['p50_ms']:.3f}", f"{g['p99_ms']:.3f}")
                        print(f"| {period} | {bpm} | {'internal' if internal else 'MIDI'} "
                              f"| {g['onsets']} | {timing[0]} | {timing[1]} "
                              f"| {g['chord_tones']:.3f} | {g['outside']:.3f} "
                              f"| {g['lost'] if not internal else '-'} "
                              f"| {g['sounding_at_end'] or 'none'} |", flush=True)
            finally:
                server.close()


if __name__ == "__main__":
    main(*([float(sys.argv[1])] if len(sys.argv) > 1 else []), *sys.argv[2:3])
