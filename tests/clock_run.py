"""One performance over MIDI clock on whatever JACK this process reaches, measured from
outside: a sample-accurate clock master plays a chart on its ticks into the daemon, an
ear records what it plays. Run under `pw-jack` by tests/test_pipewire.py (the whole
process, daemon and peers, must load PipeWire's libjack) and on private jackd servers
by tests/test_jack_async.py. Prints one JSON line of figures.

    [pw-jack] python tests/clock_run.py CONFIG CHART SECONDS BPM [internal]

The config's ports must be virtual:pwjz-in and virtual:pwjz-out. With `internal` the
master sends no clock (the config's tempo.source must be internal, at BPM): the same
chart at the same times, the daemon on its own clock; its onsets are then not on the
master's grid, and only the pitch figures compare.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time

from jazzd.bench.jack_peers import Keyboard, Recorder
from jazzd.bench.master import ChartPlayer, ClockMaster
from jazzd.grammar.evaluate import evaluate
from jazzd.grammar.pitch import TPQ
from jazzd.offline.charts import read_chart


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None


def main(config, chart_path, seconds, bpm, internal=False):
    d = subprocess.Popen([sys.executable, "-m", "jazzd", "run", "--config", config],
                         stderr=subprocess.PIPE, text=True)
    log = []
    threading.Thread(target=lambda: log.extend(d.stderr), daemon=True).start()
    deadline = time.monotonic() + 20
    while not any("ready in" in line for line in log) and time.monotonic() < deadline:
        time.sleep(0.05)
    kb = Keyboard("pw-kb", connect_to="pwjz-in:in")
    ear = Recorder("pw-ear", connect_to="pwjz-out:out")
    maps = ""
    for pid in os.listdir("/proc"):     # the daemon's JACK client processes
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == d.pid:
                with open(f"/proc/{pid}/maps") as f:
                    maps += f.read()
        except (OSError, ValueError):
            pass
    chart = read_chart(chart_path, 4)
    master = ClockMaster(kb, bpm, on_tick=ChartPlayer(kb, chart).on_tick,
                         send_clock=not internal)
    master.start()
    time.sleep(seconds)
    master.finish()
    time.sleep(0.3)
    d.terminate()
    d.wait(15)
    time.sleep(0.2)
    events = ear.snapshot()
    kb.close()
    ear.close()
    tl = master.timeline()
    swing, grace = 0.6, 0.008
    ons = [t for t, m in events if len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2]]
    errors = [abs(e) * 1e3 for _, e, _ in tl.graced_errors(ons, swing, grace)]
    sounding = set()
    for _, m in events:
        if len(m) == 3 and m[0] & 0xF0 in (0x80, 0x90):
            (sounding.add if m[0] & 0xF0 == 0x90 and m[2] else sounding.discard)(m[1])
        elif len(m) == 3 and m[0] & 0xF0 == 0xB0 and m[1] in (120, 123):
            sounding.clear()
    notes, on = [], {}
    for t, m in events:
        if len(m) == 3 and m[0] & 0xF0 in (0x80, 0x90):
            if m[0] & 0xF0 == 0x90 and m[2]:
                on[m[1]] = t
            elif m[1] in on:
                b0, b1 = tl.beat_of(on[m[1]]), tl.beat_of(t)
                if b0 is not None and b1 is not None:
                    notes.append((b0, b1 - b0, m[1]))
                del on[m[1]]
    bars = (len(tl.times) - 1) // (24 * 4)
    loop = len(chart.bars)
    timeline = chart.timeline(bars + loop)
    stats = evaluate(sorted(notes), timeline, 4, swing=swing, low=0, high=127,
                     span_beats=bars * 4) if notes else {}
    print(json.dumps({
        "onsets": len(errors), "p50_ms": pct(errors, 0.5), "p99_ms": pct(errors, 0.99),
        "median_ms": statistics.median(errors) if errors else None,
        "within_3ms": sum(e <= 3.0 for e in errors) / len(errors) if errors else None,
        "sounding_at_end": sorted(sounding), "ticks": len(tl.times),
        "chord_tones": stats.get("kinds", {}).get("C"),
        "outside": stats.get("kinds", {}).get("X"),
        "pipewire_libjack": "pipewire" in maps and "libjack" in maps,
        "exit": d.returncode, "log": "".join(log)[-3000:]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]),
         sys.argv[5:6] == ["internal"])
