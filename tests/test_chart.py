"""Chord charts: bars, shares of a bar, repeats, looping into a timeline, errors."""

import pytest

from jazzd.grammar.chart import Chart, ChartError, parse_chart
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD
from jazzd.grammar.timeline import ChordTimeline

S = parse_symbol


def test_ii_v_i():
    chart = parse_chart("Dm7 G7 | Cmaj7 | Cmaj7 |")
    assert isinstance(chart, Chart) and len(chart) == 3
    assert chart.bar_ticks == 48 and chart.beats_per_bar == 4
    assert chart.bars == [[(0, S("Dm7")), (24, S("G7"))], [(0, S("Cmaj7"))], [(0, S("Cmaj7"))]]
    assert chart.symbols[0] == [S("Dm7").symbol, S("G7").symbol]


@pytest.mark.parametrize("bar, offsets", [
    ("C", [0]),
    ("C F", [0, 24]),
    ("C F G", [0, 24, 36]),              # 2 + 1 + 1 beats
    ("C F G A", [0, 12, 24, 36]),
    ("C D E F G A B C7", [0, 6, 12, 18, 24, 30, 36, 42]),   # eighths
])
def test_chords_share_the_bar(bar, offsets):
    assert [t for t, _ in parse_chart(bar).bars[0]] == offsets


def test_three_four_and_odd_meters():
    assert [t for t, _ in parse_chart("C F", beats_per_bar=3).bars[0]] == [0, 24]
    assert parse_chart("C", beats_per_bar=3).bar_ticks == 36
    assert [t for t, _ in parse_chart("C F", beats_per_bar=5).bars[0]] == [0, 36]


def test_too_many_chords_for_the_bar():
    with pytest.raises(ChartError, match="bar 2: 5 chords do not split a bar of 4 beats"):
        parse_chart("C | C D E F G |")


def test_bar_repeat():
    chart = parse_chart("Dm7 G7 | % | Cmaj7 | % |")
    assert chart.bars[1] == chart.bars[0] and chart.bars[3] == chart.bars[2]


def test_slash_and_dot_repeat_the_chord_for_one_slot():
    chart = parse_chart("C / / G7 | . F | / |")
    assert chart.bars[0] == [(0, S("C")), (36, S("G7"))]     # held, not restruck
    assert chart.bars[1] == [(0, S("G7")), (24, S("F"))]
    assert chart.bars[2] == [(0, S("F"))]


def test_no_chord():
    chart = parse_chart("N.C. | C7 |")
    assert chart.bars[0] == [(0, NO_CHORD)]
    assert not chart.timeline(2).at(10)


def test_bar_lines_line_breaks_and_empty_bars():
    a = parse_chart("| Dm7 G7 || Cmaj7 |\n| Fmaj7 | | Bb7 |")
    b = parse_chart("Dm7 G7 | Cmaj7 | Fmaj7 | Bb7")
    c = parse_chart("Dm7 G7|Cmaj7\nFmaj7\nBb7")
    assert a.bars == b.bars == c.bars and len(a) == 4


def test_alternatives_mean_the_first_chord():
    chart = parse_chart("Dm7 G7 (Em7 A7) | Cmaj7 (Am7) |")
    assert chart.bars == [[(0, S("Dm7")), (24, S("G7"))], [(0, S("Cmaj7"))]]
    glued = parse_chart("Dmaj7(Em7b5) |")
    assert glued.bars == [[(0, S("Dmaj7(Em7b5)"))]]
    assert glued.bars[0][0][1] == S("Dmaj7")


def test_timeline_loops_the_chart():
    chart = parse_chart("Dm7 G7 | Cmaj7 |")
    t = chart.timeline(5)
    assert isinstance(t, ChordTimeline) and t.length == 5 * 48
    assert t.at(0) == S("Dm7") and t.at(24) == S("G7") and t.at(48) == S("Cmaj7")
    assert t.at(96) == S("Dm7") and t.at(4 * 48 + 30) == S("G7")
    assert t.ticks == [0, 24, 48, 96, 120, 144, 192, 216]


def test_str_prints_the_chart():
    chart = parse_chart("Dm7 G7 | % | C / / A7 |")
    text = str(chart)
    assert text.count("|") == 3
    assert parse_chart(text).bars == chart.bars


@pytest.mark.parametrize("text, message", [
    ("Dm7 G7 | Cmaj7 | Hmaj7 |", "bar 3: unknown chord symbol 'Hmaj7'"),
    ("Xyz", "bar 1: unknown chord symbol 'Xyz'"),
    ("C | D Q7 |", "bar 2: unknown chord symbol 'Q7'"),
    ("% | C |", "bar 1: '%' repeats the previous bar, but there is none"),
    ("C | C % |", "bar 2: '%' repeats a whole bar and must stand alone"),
    ("/ C |", "bar 1: '/' repeats the previous chord, but there is none"),
    ("", "empty chord chart"),
    (" | || \n ", "empty chord chart"),
])
def test_errors_name_the_bar_and_the_token(text, message):
    with pytest.raises(ChartError) as e:
        parse_chart(text)
    assert str(e.value) == message or message in str(e.value)
    assert isinstance(e.value, ValueError)


def test_bad_arguments():
    with pytest.raises(ChartError, match="must be text"):
        parse_chart(None)
    with pytest.raises(ChartError, match="beats per bar"):
        parse_chart("C", beats_per_bar=0)
    with pytest.raises(ValueError, match="positive int"):
        parse_chart("C").timeline(0)
