"""The musical bars (grammar/evaluate.py) on hand-made lines, and `jazzd evaluate`."""

import json
import math
import random

import pytest

from jazzd.grammar.chart import parse_chart
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD
from jazzd.grammar.evaluate import BARS, band, check, classify_notes, entropy, evaluate
from jazzd.grammar.pitch import TPQ

C7 = parse_symbol("C7")
F7 = parse_symbol("F7")


def line(pitches, step=0.5, start=0.0):
    """Notes of equal length, one after the other (beats)."""
    return [(start + i * step, step, p) for i, p in enumerate(pitches)]


def ok_of(stats):
    return {name: ok for name, _, _, ok in check(stats)}


# ---- classification ---------------------------------------------------------------

def test_kinds_against_one_chord():
    # C (chord), D (scale), Eb -> E (approach by a semitone), E, F# -> C (a tritone away: X), C
    pitches = [60, 62, 63, 64, 66, 60]
    assert classify_notes(pitches, [C7] * 6) == ["C", "S", "A", "C", "X", "C"]
    s = evaluate(line(pitches), [(0, C7)])
    assert s["kinds"] == pytest.approx({"C": 3 / 6, "S": 1 / 6, "A": 1 / 6, "X": 1 / 6})
    assert s["chord"] == pytest.approx(0.5) and s["scale"] == pytest.approx(1 / 6)
    assert s["outside"] == pytest.approx(1 / 6)


def test_approach_needs_a_chord_tone_next_within_a_whole_step():
    # Eb then D (a scale tone, not a chord tone): not an approach
    assert classify_notes([63, 62], [C7, C7]) == ["X", "S"]
    # Eb then F (two semitones up, but F is no chord tone of C7): X
    assert classify_notes([63, 65], [C7, C7]) == ["X", "S"]
    # Ab then Bb (a whole step to the b7): approach
    assert classify_notes([68, 70], [C7, C7]) == ["A", "C"]
    # the last note has no next note: X
    assert classify_notes([60, 63], [C7, C7]) == ["C", "X"]


def test_approach_into_a_chord_change_uses_the_next_chord():
    # over C7, Ab (neither C nor S of C7) then A on the F7 bar: A is F7's third
    notes = [(3.5, 0.5, 68), (4.0, 1.0, 69)]
    s = evaluate(notes, [(0, C7), (4 * TPQ, F7)])
    assert s["kinds"]["A"] == pytest.approx(0.5) and s["kinds"]["C"] == pytest.approx(0.5)
    # the same Ab into a bar that stays on C7: A is no chord tone of C7, so X, and A (69)
    # is C7's 13th, a scale tone
    s = evaluate(notes, [(0, C7)])
    assert s["kinds"]["X"] == pytest.approx(0.5) and s["kinds"]["S"] == pytest.approx(0.5)


def test_notes_without_a_chord_are_left_out_of_the_shares():
    notes = line([60, 61, 64, 67])
    s = evaluate(notes, [(0, NO_CHORD), (TPQ, C7)])      # the first two notes: no chord
    assert s["unclassified"] == 2
    assert s["chord"] == pytest.approx(1.0)
    s = evaluate(notes, [(TPQ, C7)])                      # before the first change: none
    assert s["unclassified"] == 2


# ---- beats 1 and 3, changes ---------------------------------------------------------

def test_strong_beats_are_beats_one_and_three_on_the_beat():
    # beat 1: C (chord), beat 2: D, beat 3: D (scale), beat 4: C; off-beats ignored
    notes = [(0, 1, 60), (1, 1, 62), (2, 0.5, 62), (2.5, 0.5, 60), (3, 1, 60),
             (4, 1, 64), (6, 1, 70)]
    s = evaluate(notes, [(0, C7)])
    assert s["strong_notes"] == 4          # beats 1 and 3 of two bars
    assert s["strong_chord"] == pytest.approx(3 / 4)


def test_strong_beats_in_three_four_are_the_downbeats_only():
    notes = [(0, 1, 62), (1, 1, 60), (2, 1, 60), (3, 1, 60)]
    s = evaluate(notes, [(0, C7)], beats_per_bar=3)
    assert s["strong_notes"] == 2 and s["strong_chord"] == pytest.approx(0.5)


def test_first_note_after_each_change():
    changes = [(0, C7), (48, F7), (96, C7), (120, F7), (144, C7)]
    notes = [(0, 1, 60),
             (4.5, 1, 65),             # first on F7 (after its change at beat 4): C
             (8, 1, 66),               # first on C7 (beat 8): F# is X
             # nothing during F7 at beats 10-12: that change is skipped
             (12, 1, 62)]              # first on C7 at beat 12: D is S
    s = evaluate(notes, changes)
    assert s["changes_with_a_note"] == 3
    assert s["change_fit"] == pytest.approx(2 / 3)


def test_a_chord_restruck_in_the_next_bar_is_no_change():
    changes = parse_chart("C7 | C7 | F7 |").timeline(3)
    notes = [(0, 1, 60), (4, 1, 66), (8, 1, 65)]
    s = evaluate(notes, changes)
    assert s["changes_with_a_note"] == 1 and s["change_fit"] == 1.0


# ---- entropies ----------------------------------------------------------------------

def test_entropy():
    assert entropy({}) == 0.0
    assert entropy({"a": 5}) == 0.0
    assert entropy({"a": 1, "b": 1}) == pytest.approx(1.0)
    assert entropy([1] * 12) == pytest.approx(math.log2(12))


def test_pitch_class_entropy():
    s = evaluate(line(range(60, 72)), [(0, C7)])
    assert s["pc_entropy"] == pytest.approx(math.log2(12))
    s = evaluate(line([60, 67, 72, 79]), [(0, C7)])       # two pitch classes, twice each
    assert s["pc_entropy"] == pytest.approx(1.0)


def test_ioi_entropy_is_measured_on_the_straight_grid():
    # swung eighths at swing 0.6: onsets 0, 0.6, 1, 1.6, ... all straight IOIs are 6 ticks
    notes = [(b + f, 0.3, 60 + 2 * (i % 3)) for i, (b, f) in
             enumerate((b, f) for b in range(4) for f in (0.0, 0.6))]
    s = evaluate(notes, [(0, C7)], swing=0.6)
    assert s["ioi_entropy"] == 0.0 and s["off_grid"] == 0
    # read as straight, the same line has two IOIs (0.6 and 0.4 beat) and off-grid onsets
    s = evaluate(notes, [(0, C7)], swing=0.5)
    assert s["ioi_entropy"] == pytest.approx(entropy([4, 3]))      # 7 IOIs: 4 long, 3 short
    assert s["off_grid"] == 4
    # eighths and triplets in equal numbers: 1 bit
    notes = [(0, 0.5, 60), (0.5, 0.5, 62), (1, 1 / 3, 64), (4 / 3, 1 / 3, 65), (5 / 3, 1, 67)]
    s = evaluate(notes, [(0, C7)], swing=0.5)
    assert s["ioi_entropy"] == pytest.approx(1.0) and s["off_grid"] == 0


# ---- repeats, leaps, density, hygiene -----------------------------------------------

def test_three_in_a_row():
    assert evaluate(line([60, 60, 60, 62]), [(0, C7)])["repeat3"] == pytest.approx(1 / 4)
    assert evaluate(line([60, 60, 62, 62]), [(0, C7)])["repeat3"] == 0.0
    assert evaluate(line([60, 60, 60, 60]), [(0, C7)])["repeat3"] == pytest.approx(2 / 4)


def test_leaps_over_an_octave():
    assert evaluate(line([60, 72, 60]), [(0, C7)])["leaps"] == 0.0     # an octave is fine
    assert evaluate(line([60, 73, 70]), [(0, C7)])["leaps"] == pytest.approx(1 / 2)


def test_notes_per_beat_counts_whole_bars():
    s = evaluate(line([60, 64] * 4), [(0, C7)])                        # 8 eighths, 4 beats
    assert s["beats"] == 4 and s["notes_per_beat"] == pytest.approx(2.0)
    s = evaluate(line([60, 64] * 3), [(0, C7)])                        # 3 beats: one bar
    assert s["notes_per_beat"] == pytest.approx(6 / 4)
    s = evaluate(line([60, 64] * 3), [(0, C7)], span_beats=12)
    assert s["notes_per_beat"] == pytest.approx(0.5)


def test_register_overlap_and_grid_counts():
    notes = [(0, 1, 50), (1, 1.5, 60), (2, 1, 90), (3.1, 0.5, 64)]
    s = evaluate(notes, [(0, C7)], low=55, high=84)
    assert s["out_of_register"] == 2
    assert s["overlaps"] == 1          # 60 still sounds when 90 starts
    assert s["off_grid"] == 1          # beat 3.1 is 1.2 ticks off
    assert evaluate(notes, [(0, C7)])["out_of_register"] == 0   # no register given


def test_notes_are_sorted_first():
    a = evaluate(line([60, 62, 63, 64]), [(0, C7), (24, F7)])
    b = evaluate(list(reversed(line([60, 62, 63, 64]))), [(24, F7), (0, C7)])
    assert json.dumps(a) == json.dumps(b) and a["kinds"]["A"] == 0.25


# ---- the bars ------------------------------------------------------------------------

def test_bars_table_matches_design():
    names = [b.name for b in BARS]
    assert len(names) == len(set(names)) == 13
    assert band(BARS[0]) == "0.41 – 0.85" and band(BARS[5]) == "≥ 3.05"
    assert band(BARS[2]) == "≥ 0.15" and band(BARS[3]) == "0.02 – 0.19"
    assert band(BARS[4]) == "≥ 0.62" and band(BARS[7]) == "≤ 0.04"
    assert band(BARS[6]) == "1 – 3.15" and band(BARS[9]) == "1 – 2.25"
    assert band(BARS[-1]) == "0"


def test_check_bounds_are_inclusive_and_nan_fails():
    s = evaluate(line([60, 62, 64, 65] * 4), [(0, C7)])
    s.update(strong_chord=0.41, chord=0.75, notes_per_beat=2.25, outside=0.19,
             ioi_entropy=3.15, change_fit=float("nan"))
    ok = ok_of(s)
    assert ok["strong_chord"] and ok["chord"] and ok["notes_per_beat"] and ok["outside"]
    assert ok["ioi_entropy"] and not ok["change_fit"]
    s.update(strong_chord=0.40, chord=0.76, outside=0.01, ioi_entropy=3.16, overlaps=1)
    ok = ok_of(s)
    assert not ok["strong_chord"] and not ok["chord"] and not ok["overlaps"]
    assert not ok["outside"] and not ok["ioi_entropy"]


CHART = ("Dm7 G7 | Cmaj7 | Cm7 F7 | Bbmaj7 | Bbm7 Eb7 | Abmaj7 | Dm7b5 G7b9 | Cm6 | "
         "Fm7 Bb7 | Ebmaj7 | Am7 D7 | Gmaj7 | C#m7 F#7 | Bmaj7 | Em7b5 A7 | Dm7 |")


def _timeline(bars=32):
    return parse_chart(CHART).timeline(bars)


def test_random_note_player_fails_the_bars():
    rng = random.Random(5)
    notes, t = [], 0.0
    while t < 32 * 4:
        d = rng.choice((0.5, 0.5, 1.0, 1 / 3))
        notes.append((t, d, rng.randint(55, 84)))
        t += d
    s = evaluate(notes, _timeline(), low=55, high=84)
    ok = ok_of(s)
    assert s["strong_chord"] < 0.5 and not ok["strong_chord"]
    assert s["outside"] > 0.2 and not ok["outside"]
    assert not ok["change_fit"]
    assert not all(ok.values())


def test_chord_tone_arpeggiator_fails_the_bars():
    tl = _timeline()
    notes = []
    for i in range(32 * 8):                      # straight eighths up the chord from the root
        tick = i * 6
        chord = tl.at(tick)
        tones = sorted(pc for pc in range(12) if chord.tones >> pc & 1)
        start = tones.index(chord.root)
        pc = tones[(start + i) % len(tones)]
        notes.append((i * 0.5, 0.5, 60 + pc))
    s = evaluate(notes, tl, low=55, high=84)
    ok = ok_of(s)
    assert s["chord"] == 1.0 and s["scale"] == 0.0 and s["ioi_entropy"] == 0.0
    assert not ok["chord"] and not ok["scale"] and not ok["ioi_entropy"]
    assert ok["strong_chord"] is False           # 1.0 is above the band too


# ---- jazzd evaluate (the command) ------------------------------------------------------

import subprocess
import sys
from pathlib import Path

import mido

JAZZD = str(Path(sys.executable).with_name("jazzd"))


def jazzd(*args):
    return subprocess.run([JAZZD, *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def write_mid(path, notes, bpm=120, name="solo", other_first=False, ppq=480, text=None):
    """A type-1 file with the solo [(onset_beats, dur_beats, pitch)] in a named track."""
    mid = mido.MidiFile(type=1, ticks_per_beat=ppq)
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))])
    mid.tracks.append(tempo)
    if other_first:
        mid.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="bass"),
                                          mido.Message("note_on", note=36, velocity=80),
                                          mido.Message("note_off", note=36, time=ppq)]))
    events = []
    for o, d, p in notes:
        events.append((round(o * ppq), 1, mido.Message("note_on", note=p, velocity=90)))
        events.append((round((o + d) * ppq), 0, mido.Message("note_off", note=p)))
    events.sort(key=lambda e: e[:2])
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
    if text:
        track.append(mido.MetaMessage("text", text=text))
    now = 0
    for t, _, m in events:
        track.append(m.copy(time=t - now))
        now = t
    mid.tracks.append(track)
    mid.save(path)


LINE = [(0, 0.5, 62), (0.6, 0.3, 65), (1, 0.5, 69), (1.6, 0.3, 72), (2, 1, 71), (3, 1, 67),
        (4, 0.5, 64), (4.6, 0.3, 67), (5, 1, 66), (6, 2, 72)]
CHART2 = "Dm7 G7 | Cmaj7 |"


def test_the_command_reports_what_the_library_computes(tmp_path):
    f = tmp_path / "p.mid"
    write_mid(f, LINE, bpm=140)
    r = jazzd("evaluate", f, "--chords", CHART2, "--swing", 0.6, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    want = evaluate(LINE, parse_chart(CHART2).timeline(2), swing=0.6, low=55, high=84,
                    span_beats=8)
    assert out["bars"] == 2 and out["swing"] == 0.6 and out["bpm"] == pytest.approx(140)
    for k in ("strong_chord", "chord", "scale", "outside", "change_fit", "pc_entropy",
              "ioi_entropy", "notes_per_beat", "off_grid"):
        assert out["stats"][k] == pytest.approx(want[k]), k
    assert out["stats"]["off_grid"] == 0
    assert [c["bar"] for c in out["checks"]] == [b.name for b in BARS]
    # the same file read as straight eighths: its swung off-beats are off the grid
    r = jazzd("evaluate", f, "--chords", CHART2, "--swing", 0.5, "--json")
    assert json.loads(r.stdout)["stats"]["off_grid"] == 3


def test_the_table_and_strict(tmp_path):
    f = tmp_path / "p.mid"
    write_mid(f, LINE, text="jazzd swing=0.6 seed=1")
    r = jazzd("evaluate", f, "--chords", CHART2)
    assert r.returncode == 0
    assert "swing 0.6" in r.stdout                   # read from the file's jazzd marker
    assert "chord tones among notes on beats 1 and 3" in r.stdout
    assert "0.41 / 0.61 / 0.79" in r.stdout and "MISS" in r.stdout
    r = jazzd("evaluate", f, "--chords", CHART2, "--strict")
    assert r.returncode == 1


def test_track_choice_and_tempo_override(tmp_path):
    f = tmp_path / "p.mid"
    write_mid(f, LINE, name="lead", other_first=True)
    # no track named "solo": the first track with notes is the bass
    r = jazzd("evaluate", f, "--chords", CHART2, "--json")
    assert json.loads(r.stdout)["track"] == 1 and json.loads(r.stdout)["stats"]["notes"] == 1
    for sel in ("lead", "2"):
        r = jazzd("evaluate", f, "--chords", CHART2, "--json", "--track", sel)
        assert json.loads(r.stdout)["stats"]["notes"] == len(LINE)
    r = jazzd("evaluate", f, "--chords", CHART2, "--track", "piano")
    assert r.returncode != 0 and "no track named 'piano'" in r.stderr and "'lead'" in r.stderr
    # a file written at 120 bpm of a performance played at 60: every beat is two beats
    r = jazzd("evaluate", f, "--chords", CHART2, "--json", "--track", "lead", "--bpm", 60)
    out = json.loads(r.stdout)
    assert out["bars"] == 1 and out["stats"]["notes_per_beat"] == pytest.approx(10 / 4)


def test_piano_roll(tmp_path):
    pytest.importorskip("matplotlib")
    f, png = tmp_path / "p.mid", tmp_path / "roll.png"
    write_mid(f, LINE)
    r = jazzd("evaluate", f, "--chords", CHART2, "--png", png)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("setup, args, words", [
    ("none", ["--chords", CHART2], ["no such file"]),
    ("garbage", ["--chords", CHART2], ["not a readable standard MIDI file"]),
    ("empty", ["--chords", CHART2], ["no notes"]),
    ("ok", ["--chords", "Dm7 | Xyz7 |"], ["bar 2", "Xyz7"]),
    ("ok", ["--chords", CHART2, "--swing", "0.9"], ["--swing"]),
    ("ok", ["--chords", CHART2, "--bpm", "0"], ["--bpm"]),
    ("ok", ["--chords", CHART2, "--track", "7"], ["no track 7"]),
])
def test_clear_errors(tmp_path, setup, args, words):
    f = tmp_path / "p.mid"
    if setup == "garbage":
        f.write_bytes(b"MThd this is not midi")
    elif setup == "empty":
        write_mid(f, [])
    elif setup == "ok":
        write_mid(f, LINE)
    r = jazzd("evaluate", f, *args)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr


def test_a_generated_solo_scores_clean(tmp_path):
    """generate -> evaluate: the swing comes from the file, nothing is off the grid."""
    f = tmp_path / "g.mid"
    chart = "Cm7 F7 | Bbmaj7 | Am7b5 D7b9 | Gm6 |"
    r = jazzd("generate", "--chords", chart, "--bars", 8, "--seed", 2, "--swing", 0.64,
              "--out", f)
    assert r.returncode == 0, r.stderr
    r = jazzd("evaluate", f, "--chords", chart, "--json")
    out = json.loads(r.stdout)
    assert out["swing"] == 0.64 and out["bars"] == 8 and out["track"] == 0
    s = out["stats"]
    assert s["notes"] > 8 and s["off_grid"] == s["overlaps"] == s["out_of_register"] == 0


def test_piano_roll_without_matplotlib_says_so(tmp_path, monkeypatch):
    from jazzd.service.errors import UserError
    from jazzd.commands.evaluate import piano_roll
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # as if not installed
    tl = parse_chart(CHART2).timeline(2)
    with pytest.raises(UserError, match="matplotlib") as e:
        piano_roll(tmp_path / "x.png", LINE, tl, 2, 4, 0.5)
    # jazzd is not on a package index: the hint is the source tree's own command
    assert e.value.status == 69 and "scripts/setup-venv.sh plot" in str(e.value)
    assert "pip install 'jazzd" not in str(e.value)
