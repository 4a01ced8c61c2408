"""The musical bars of DESIGN.md on a live performance, the way a user checks them.

The daemon runs under external MIDI clock with the shipped model and the default
config; a chord chart is played into it on the clock's ticks, each chord exactly on its
beat (as a DAW or a sequencer sends it); the output is recorded through JACK, put on
the master's own beat grid, and scored by `jazzd.grammar.evaluate` against the chart. Two
choruses of a jazz blues at 160 bpm: the first, before the form is known, and the
second, where the form memory anticipates every change.

What must hold, whatever the model samples: nothing out of the register, no overlaps,
every onset on the swung grid (the JACK tolerance of tests/live.py; in the first chorus
a note on a beat may wait `change_grace_ms` for its chord, by design), and in the
second chorus the first note after each change is a chord or scale tone of the new
chord. The other bars (sampling statistics) are printed, not asserted: one short
performance is too small a sample for them (tests/test_musical_bars.py checks them
over fifty).
"""

import time
from pathlib import Path

import pytest

from jazzd.service.config import defaults
from jazzd.offline.charts import read_chart
from jazzd.grammar.evaluate import BARS, GRID_TOLERANCE, band, evaluate
from jazzd.grammar.pitch import TPQ
from live import GRID_TOL, OUTLIER_SHARE, ChartPlayer, live, steady_model  # noqa: F401

pytestmark = pytest.mark.jack

CHART = Path(__file__).parent / "charts" / "blues_f.txt"
BPM = 160
CHORUSES = 2


def score(notes, chart, first_bar, n_bars, swing, cfg, tolerance_ticks):
    """evaluate() over bars [first_bar, first_bar + n_bars) of the performance."""
    start = first_bar * chart.bar_ticks / TPQ
    inside = [(on - start, dur, p) for on, dur, p in notes
              if start <= on < start + n_bars * chart.bar_ticks / TPQ]
    imp = cfg["improviser"]
    return evaluate(inside, chart.timeline(n_bars), chart.beats_per_bar,
                    swing=swing, low=imp["lowest_note"], high=imp["highest_note"],
                    span_beats=n_bars * chart.bar_ticks / TPQ,
                    grid_tolerance=tolerance_ticks)


def test_a_blues_over_external_clock_meets_the_live_bars(live):
    cfg = defaults()
    swing = cfg["tempo"]["swing"]
    chart = read_chart(str(CHART), cfg["tempo"]["beats_per_bar"])
    s = live(steady=False, tempo={"source": "clock", "bpm": BPM})
    player = ChartPlayer(s.kb, chart)
    master = s.clock(bpm=BPM, on_tick=player.on_tick)
    n_bars = len(chart.bars)
    seconds = CHORUSES * n_bars * chart.beats_per_bar * 60.0 / BPM
    master.start()
    time.sleep(seconds + 0.05)
    master.finish()
    time.sleep(0.2)
    assert s.stop() == 0, s.daemon.output()[-3000:]
    tl = master.timeline()
    notes = []
    for on, off, pitch, _ in s.notes():
        b_on, b_off = tl.beat_of(on), tl.beat_of(off) if off else None
        if b_on is not None and b_off is not None:
            notes.append((b_on, b_off - b_on, pitch))
    assert len(notes) > CHORUSES * n_bars * 2, s.daemon.output()[-3000:]
    # GRID_TOL in ticks at this tempo; the first chorus also allows change_grace_ms
    tick_s = 60.0 / BPM / TPQ
    grace = cfg["improviser"]["change_grace_ms"] / 1000.0
    rows = [score(notes, chart, k * n_bars, n_bars, swing, cfg, tol / tick_s)
            for k, tol in ((0, GRID_TOL + grace), (1, GRID_TOL))]
    print(f"\nlive bars, jazz blues in F at {BPM} bpm over MIDI clock, chorus 1 | chorus 2:")
    for bar in BARS:
        print(f"  {bar.label:52s} {band(bar):>11s}  {rows[0][bar.name]:6.3f} | {rows[1][bar.name]:6.3f}")
    strict = [score(notes, chart, k * n_bars, n_bars, swing, cfg, GRID_TOLERANCE)["off_grid"]
              for k in (0, 1)]
    print(f"  off the grid by more than {GRID_TOLERANCE} tick ({GRID_TOLERANCE * tick_s * 1e3:.1f}"
          f" ms, evaluate's default): {strict[0]} | {strict[1]} of {rows[0]['notes']} | "
          f"{rows[1]['notes']} notes")
    for k, stats in enumerate(rows, 1):
        assert stats["out_of_register"] == 0, (k, stats)
        assert stats["overlaps"] == 0, (k, stats)
        assert stats["off_grid"] <= OUTLIER_SHARE * stats["notes"], (k, stats)
    assert rows[1]["change_fit"] >= 0.9, rows[1]
