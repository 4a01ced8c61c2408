"""Corpus extraction: Bach chorales, lead sheets with chord symbols, MIDI parts, the seeds'
Metheny setup, and bad files reported by name, never fatal."""

from pathlib import Path

import mido
import pytest
from music21 import converter

from jazzd.train import corpus
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.train.corpus import CorpusSpec, build, extract_chorale, extract_file
from jazzd.grammar.pitch import TPQ

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
METHENY = DATA / "original_metheny.mid"


def _bar_lines_hit(piece):
    """Every bar line is an onset: no value crosses one, so each bar sums exactly."""
    t, onsets = 0, set()
    for v in piece.values:
        assert v.ticks > 0
        onsets.add(t)
        t += v.ticks
    assert t % piece.bar_ticks == 0
    return all(b in onsets for b in range(0, t, piece.bar_ticks))


@pytest.fixture(scope="module")
def chorales():
    paths = {p.name: p for p in corpus.bach_paths()}
    return [paths[n] for n in ("bwv1.6.mxl", "bwv10.7.mxl", "bwv101.7.mxl")]


def test_bach_paths_are_the_chorales():
    paths = corpus.bach_paths()
    assert len(paths) > 350
    assert all(p.name.startswith("bwv") and p.suffix == ".mxl" for p in paths)


@pytest.mark.parametrize("method", corpus.HARMONY_METHODS)
def test_chorale_bars_sum_exactly(chorales, method):
    for path in chorales:
        piece = extract_chorale(path, method)
        assert piece.bar_ticks == 4 * TPQ and piece.beats_per_bar == 4
        assert _bar_lines_hit(piece)
        assert {v.kind for v in piece.values} <= {"C", "S", "A", "X", "R"}


def test_chorale_melody_is_the_soprano_with_its_pickup(chorales):
    """Oracle: music21's own soprano (ties joined): same pitches-count, same rhythm, and
    the pickup of bwv1.6 (one quarter) becomes a leading rest of three quarters."""
    path = chorales[0]
    s = converter.parse(str(path))
    sop = next(p for p in s.parts if p.partName.lower().startswith("soprano"))
    ref = [n for n in sop.stripTies().flatten().notes]
    piece = extract_chorale(path, score=s)
    assert piece.values[0].kind == "R" and piece.values[0].ticks == 3 * TPQ
    sounded = [(t, v) for (t, _, _), v in zip(piece.onsets(), piece.values) if v.kind != "R"]
    assert len(sounded) == len(ref)
    shift = 3 * TPQ
    assert [t for t, _ in sounded] == [round(n.offset * TPQ) + shift for n in ref]
    steps = [b.pitch.midi - a.pitch.midi for a, b in zip(ref, ref[1:])]
    windows = [(v.lo, v.hi) for _, v in sounded[1:]]
    assert windows == [(d - 3, d + 3) for d in steps]
    assert sounded[0][1].lo is None          # a phrase start has no window


def test_lower_hold_never_loses_the_harmony(chorales):
    piece = extract_chorale(chorales[1], "lower-hold")
    assert all(c for _, c in piece.timeline)
    onset = extract_chorale(chorales[1], "lower-onset")
    x = lambda p: sum(v.kind == "X" for v in p.values)   # noqa: E731
    assert x(piece) < x(onset)


def test_all_voices_make_the_soprano_mostly_chord_tones(chorales):
    piece = extract_chorale(chorales[2], "all-onset")
    kinds = [v.kind for v in piece.values if v.kind != "R"]
    assert kinds.count("C") / len(kinds) > 0.8


ABC = """X:1
T:Two bars
M:4/4
L:1/8
K:C
"Dm7"D2 F2 A2 c2 | "G7"B2 d2 "Cmaj7"e4 | "Bb7"_B,8 |]
"""


def test_lead_sheet_chord_symbols(tmp_path):
    f = tmp_path / "tune.abc"
    f.write_text(ABC)
    piece, = extract_file(f, CorpusSpec(source=str(f)))
    symbols = [(t, c.symbol) for t, c in piece.timeline]
    assert [s for _, s in symbols] == ["Dm7", "G7", "Cmaj7", "Bb7"]
    assert [t for t, _ in symbols] == [0, 48, 72, 96]
    assert piece.timeline.at(72) == parse_symbol("Cmaj7")
    assert _bar_lines_hit(piece)
    kinds = [v.kind for v in piece.values]
    # D F A C over Dm7, B D over G7, E over Cmaj7, Bb over Bb7: all chord tones
    assert kinds == ["C"] * 8


def _write_midi(path, melody, chords, names=("Lead", "Keys")):
    """A type-1 MIDI file: track 1 the melody (onset, dur, pitch in quarters), track 2
    chords as block notes, 480 ticks per quarter."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    meta = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=4, denominator=4),
                           mido.MetaMessage("set_tempo", tempo=500000)])
    mid.tracks.append(meta)
    for name, events in ((names[0], [(o, d, [p]) for o, d, p in melody]),
                         (names[1], chords)):
        tr = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
        msgs = []
        for onset, dur, pitches in events:
            for p in pitches:
                msgs.append((int(onset * 480), 1, mido.Message("note_on", note=p, velocity=80)))
                msgs.append((int((onset + dur) * 480), 0, mido.Message("note_off", note=p)))
        now = 0
        for t, _, m in sorted(msgs, key=lambda e: (e[0], e[1])):
            tr.append(m.copy(time=t - now))
            now = t
        mid.tracks.append(tr)
    mid.save(path)


def test_midi_parts_by_index_name_and_range(tmp_path):
    f = tmp_path / "song.mid"
    melody = [(i * 0.5, 0.5, p) for i, p in enumerate([62, 65, 69, 72, 71, 74, 67, 65] * 2)]
    chords = [(0, 2, [50, 53, 57, 60]), (2, 2, [43, 47, 50, 53]),
              (4, 2, [50, 53, 57, 60]), (6, 2, [43, 47, 50, 53])]
    _write_midi(f, melody, chords)
    by_index = extract_file(f, CorpusSpec.from_args(str(f), melody="0", harmony="1"))[0]
    by_name = extract_file(f, CorpusSpec.from_args(str(f), melody="lead", harmony="Keys"))[0]
    assert by_index.values == by_name.values
    assert [c.symbol for _, c in by_index.timeline] == ["Dm7", "G7", "Dm7", "G7"]
    assert _bar_lines_hit(by_index)
    assert len(by_index.values) == 16
    ranged = extract_file(f, CorpusSpec.from_args(str(f), melody="0", harmony="1",
                                                  offset_range="4:8"))[0]
    assert ranged.start == 4 * TPQ and len(ranged.values) == 8
    assert sum(v.ticks for v in ranged.values) == 4 * TPQ
    # the range starts a phrase: its first note has no window or step, the rest are
    # identical
    assert ranged.values[0] == by_index.values[8]._replace(lo=None, hi=None, step=None)
    assert ranged.values[1:] == by_index.values[9:]


def test_midi_bad_part_names_the_parts(tmp_path):
    f = tmp_path / "song.mid"
    _write_midi(f, [(0, 1, 60)], [(0, 4, [48, 52, 55])])
    with pytest.raises(corpus.CorpusError, match="parts: 0=Lead, 1=Keys"):
        extract_file(f, CorpusSpec.from_args(str(f), melody="Sax", harmony="1"))
    with pytest.raises(corpus.CorpusError, match="part 7 does not exist"):
        extract_file(f, CorpusSpec.from_args(str(f), melody="0", harmony="7"))


def test_bad_range_text():
    for bad in ("548:476", "abc", "1:2:3"):
        with pytest.raises(ValueError, match="--range"):
            CorpusSpec.from_args("x.mid", offset_range=bad)


def test_bad_files_are_reported_and_skipped(tmp_path, chorales):
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(b"MThd this is not midi" * 5)
    solo = tmp_path / "solo.abc"
    solo.write_text("X:1\nT:solo\nM:4/4\nL:1/4\nK:C\nC D E F | G4 |]\n")
    empty = tmp_path / "empty.abc"
    empty.write_text('X:1\nT:nothing\nM:4/4\nL:1/4\nK:C\n"C"z4 | "G7"z4 |]\n')
    missing = tmp_path / "missing.xml"
    paths = [chorales[0], garbage, solo, empty, missing, chorales[1]]
    results = list(build(paths, CorpusSpec(source=str(tmp_path)), jobs=2))
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == [p.name for p in paths]
    # the chorales are not 'bach'-mode here: read as scores, soprano = part 0 over the rest
    assert by_name["bwv1.6.mxl"].piece is not None, by_name["bwv1.6.mxl"].error
    assert "unreadable" in by_name["garbage.mid"].error
    assert "harmony" in by_name["solo.abc"].error
    assert "melody" in by_name["empty.abc"].error
    assert "no such file" in by_name["missing.xml"].error


def test_bach_build_in_parallel_matches_serial(chorales):
    spec = CorpusSpec()
    par = list(build(chorales, spec, jobs=2))
    ser = list(build(chorales, spec, jobs=1))
    assert [r.piece.values for r in par] == [r.piece.values for r in ser]


# ------------------------------------------------------------------ the seeds' file

@pytest.fixture(scope="module")
def metheny_score():
    if not METHENY.exists():
        pytest.skip(f"{METHENY} is absent (it is never committed)")
    return converter.parse(str(METHENY))     # ~10 s: parsed once for the module


def test_metheny_seed_setup(metheny_score):
    """GRAMMAR.md: Guitar (part 5, two voices merged) over Piano, Bass, Trumpet, French
    Horn (0, 1, 6, 7), offsets 476-548 = 18 bars of 4/4. The seeds got 78-90 distinct
    values; we get 82."""
    spec = CorpusSpec.from_args(str(METHENY), melody="5", harmony="0,1,6,7",
                                offset_range="476:548")
    piece = corpus.extract_parts(metheny_score, METHENY.name, spec.melody, spec.harmony,
                                 spec)
    assert [p.partName for i, p in enumerate(metheny_score.parts) if i in (0, 1, 5, 6, 7)] \
        == ["Piano", "Bass", "Guitar", "Trumpet", "French Horn"]
    assert sum(v.ticks for v in piece.values) == 18 * 4 * TPQ
    t, onsets = piece.start, set()
    for v in piece.values:
        onsets.add(t)
        t += v.ticks
    assert all(b in onsets for b in range(piece.start, t, 4 * TPQ))
    distinct = len(set(piece.values))
    assert 70 <= distinct <= 100, distinct
    by_name = corpus.extract_parts(metheny_score, METHENY.name, "guitar",
                                   ["piano", "bass", "trumpet", "french horn"], spec)
    assert by_name.values == piece.values
