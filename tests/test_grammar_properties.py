"""Property tests (hypothesis) of the grammar's round trips, as issue 2 asks:

- parse -> unparse over the same chords gives notes whose classes match their values'
  kinds (whenever the kind has pitches; else the documented fallback);
- the total duration is preserved exactly, every bar sums exactly, no onset is off
  the grid, no duration is zero;
- the text forms round-trip; clean-up and snapping keep their promises.
"""

import random
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from jazzd.grammar.chart import parse_chart
from jazzd.grammar.parse import parse_melody
from jazzd.grammar.prune import clean, limit_repeats, snap_ticks, split_bars
from jazzd.grammar.unparse import realize, realize_line
from jazzd.grammar.values import (Value, classify, format_seed_style, format_value,
                            kind_mask, parse_value)

SYMBOLS = ["C", "Cm", "Dm7", "G7", "Cmaj7", "F#m7b5", "B7b9", "Bdim7", "Caug", "Ebm6",
           "A7alt", "Bbmaj7#11", "F9sus4", "G13", "Cm/maj7", "E7#9", "C6", "Bb/D"]
LOW, HIGH = 48, 88
# per test, not a global profile: loading a profile would change other modules' tests
PROPERTY = settings(max_examples=150, deadline=None)


@st.composite
def charts(draw, beats=4):
    n_bars = draw(st.integers(1, 4))
    bars = []
    for _ in range(n_bars):
        bars.append(" ".join(draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=2))))
    return parse_chart(" | ".join(bars), beats_per_bar=beats), n_bars


@st.composite
def melodies(draw, total):
    """Note triples (onset, duration, pitch) on the grid, monophonic or not."""
    onsets = sorted(draw(st.sets(st.integers(0, total - 1), max_size=24)))
    notes = []
    for o in onsets:
        notes.append((o, draw(st.integers(1, 30)), draw(st.one_of(st.none(),
                                                                  st.integers(40, 96)))))
    return notes


def bars_ok(values, bar_ticks):
    sums = [sum(v.ticks for v in bar) for bar in split_bars(values, bar_ticks)]
    return all(s == bar_ticks for s in sums)


@PROPERTY
@given(data=st.data(), beats=st.sampled_from([3, 4, 5]))
def test_parse_preserves_time_exactly(data, beats):
    chart, n_bars = data.draw(charts(beats))
    total = n_bars * chart.bar_ticks
    notes = data.draw(melodies(total))
    vals = parse_melody(notes, chart.timeline(n_bars), chart.bar_ticks, end=total)
    assert sum(v.ticks for v in vals) == total
    assert all(isinstance(v.ticks, int) and v.ticks > 0 for v in vals)
    assert bars_ok(vals, chart.bar_ticks)
    sounded = [n for n in notes if n[2] is not None]
    assert sum(v.kind != "R" for v in vals) <= len({o for o, _, _ in sounded})
    for v in vals:
        assert (v.lo is None) == (v.hi is None)
        assert v.lo is None or v.hi - v.lo == 6


@PROPERTY
@given(data=st.data())
def test_off_grid_onsets_land_on_the_grid(data):
    chart, n_bars = data.draw(charts())
    total = n_bars * chart.bar_ticks
    onsets = data.draw(st.lists(st.one_of(
        st.floats(min_value=0, max_value=total - 1, allow_nan=False),
        st.fractions(min_value=0, max_value=total - 1, max_denominator=96)), max_size=24))
    notes = [(o, data.draw(st.floats(0.01, 30)), data.draw(st.integers(40, 96)))
             for o in onsets]
    vals = parse_melody(notes, chart.timeline(n_bars), end=total)
    assert all(type(v.ticks) is int and v.ticks > 0 for v in vals)
    assert sum(v.ticks for v in vals) == total and bars_ok(vals, chart.bar_ticks)
    grid = {int(Fraction(o) + Fraction(1, 2)) for o in onsets}     # nearest tick, half up
    onset = 0
    for v in vals:
        assert v.kind == "R" or onset in grid     # every note at its own snapped onset
        onset += v.ticks


@PROPERTY
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_parse_then_unparse_keeps_kinds_and_time(data, seed):
    chart, n_bars = data.draw(charts())
    total = n_bars * chart.bar_ticks
    timeline = chart.timeline(n_bars)
    vals = parse_melody(data.draw(melodies(total)), timeline, end=total)
    line = realize_line(vals, timeline, LOW, HIGH, random.Random(seed))
    onset = 0
    for v, (on, ticks, pitch) in zip(vals, line):
        assert on == onset and ticks == v.ticks        # each note at its own onset
        assert isinstance(on, int)                      # on the 1/12 grid
        onset += ticks
        chord = timeline.at(on)
        if v.kind == "R":
            assert pitch is None
            continue
        assert LOW <= pitch <= HIGH
        if kind_mask(v.kind, chord):
            assert classify(pitch, chord) == v.kind
        else:                                           # X/A/S with no such pitch: fall back
            assert "XASC".index(classify(pitch, chord)) > "XASC".index(v.kind)
    assert onset == total
    # ... and parsing the realised line gives back the same kinds and durations
    again = parse_melody([(on, p) for on, _, p in line], timeline, end=total)
    want = [(v.kind if v.kind == "R" or kind_mask(v.kind, timeline.at(on)) else None, v.ticks)
            for v, (on, _, _) in zip(vals, line)]
    got = [(v.kind, v.ticks) for v in again]
    assert len(got) == len(want)
    assert all(w[0] is None or w == g for w, g in zip(want, got))


@PROPERTY
@given(kind=st.sampled_from("CSAX"), ticks=st.integers(1, 400),
       step=st.one_of(st.none(), st.integers(-30, 30)))
def test_text_round_trips_in_both_forms(kind, ticks, step):
    v = Value(kind, ticks, *((None, None) if step is None else (step - 3, step + 3)))
    assert parse_value(format_value(v)) == v
    assert parse_value(format_seed_style(v)) == v


@PROPERTY
@given(ticks=st.integers(1, 400))
def test_rest_text_round_trips(ticks):
    v = Value("R", ticks)
    assert parse_value(format_value(v)) == v == parse_value(format_seed_style(v))


@PROPERTY
@given(q=st.one_of(st.fractions(min_value=0, max_value=64),
                   st.floats(min_value=0, max_value=64, allow_nan=False)))
def test_snap_is_nearest_and_never_zero(q):
    t = snap_ticks(q)
    assert abs(Fraction(q) * 12 - t) <= Fraction(1, 2) or (t == 1 and 0 < q)
    assert (t > 0) == (q > 0)


@PROPERTY
@given(ticks=st.integers(0, 200))
def test_snap_keeps_grid_durations(ticks):
    assert snap_ticks(Fraction(ticks, 12)) == ticks
    assert snap_ticks(ticks / 12) == ticks


@PROPERTY
@given(vals=st.lists(st.builds(Value, st.sampled_from("CSAXR"), st.integers(0, 80)),
                     max_size=30),
       bar_ticks=st.sampled_from([36, 48]))
def test_clean_makes_whole_bars(vals, bar_ticks):
    out = clean(vals, bar_ticks)
    total = sum(v.ticks for v in vals)
    assert sum(v.ticks for v in out) == -(-total // bar_ticks) * bar_ticks
    assert all(v.ticks > 0 for v in out)
    assert bars_ok(out, bar_ticks)
    assert [v.kind for v in out if v.kind != "R"] == [v.kind for v in vals
                                                      if v.kind != "R" and v.ticks > 0]
    pos = 0
    for a, b in zip(out, out[1:]):                      # rests merged within a bar
        pos += a.ticks
        assert not (a.kind == b.kind == "R" and pos % bar_ticks)


@PROPERTY
@given(notes=st.lists(st.tuples(st.integers(1, 12), st.sampled_from([60, 60, 61, None])),
                      max_size=40),
       n=st.integers(1, 3))
def test_limit_repeats(notes, n):
    out = limit_repeats(notes, n)
    assert sum(t for t, _ in out) == sum(t for t, _ in notes)
    sounded = [p for _, p in out if p is not None]
    assert all(len(set(sounded[i:i + n + 1])) > 1 for i in range(len(sounded) - n))


@PROPERTY
@given(prev=st.one_of(st.none(), st.integers(0, 127)), low=st.integers(30, 70),
       width=st.integers(12, 40), kind=st.sampled_from("CSAX"),
       step=st.one_of(st.none(), st.integers(-20, 20)), sym=st.sampled_from(SYMBOLS),
       seed=st.integers(0, 1000), repeats=st.integers(0, 3))
def test_realize_stays_in_register_and_in_kind(prev, low, width, kind, step, sym, seed,
                                               repeats):
    chord = parse_chart(sym).bars[0][0][1]
    high = low + width
    v = Value(kind, 3, *((None, None) if step is None else (step - 3, step + 3)))
    p = realize(v, prev, chord, low, high, random.Random(seed), 2, repeats)
    assert p is not None and low <= p <= high
    if kind_mask(kind, chord):
        assert classify(p, chord) == kind
    if repeats >= 2:
        assert p != prev
