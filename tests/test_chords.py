"""jazzd.grammar.chords and jazzd.grammar.scales: symbols, masks, scales, and a real chart collection.

music21 is the independent oracle where it knows a figure; where it does not (or
reads it differently from jazz charts, see M21_DIFFERS), the expected notes are
written out here.
"""

import pickle
import re
from pathlib import Path

import pytest

from jazzd.grammar import NO_CHORD, QUALITIES, Chord, ChordSymbolError, parse_symbol
from jazzd.grammar.pitch import FULL, mask_of, pc_from_name, pcs_of, rotate
from jazzd.grammar.scales import SCALES

DATA = Path(__file__).parent / "data"


def names_mask(names):
    return mask_of(pc_from_name(n) for n in names.split())


# Every symbol the issue lists, with the notes a jazz musician reads in it (root first).
ISSUE_SYMBOLS = {
    "C7": "C E G Bb", "Gm7": "G Bb D F", "Bbmaj7": "Bb D F A", "Ebm6": "Eb Gb Bb C",
    "F#m7b5": "F# A C E", "Bo7": "B D F Ab", "Bdim7": "B D F Ab", "B07": "B D F Ab",
    "C7b9": "C E G Bb Db", "A7#9": "A C# E G C", "C7alt": "C E Bb D# Ab", "G13": "G B D F A E",
    "D9": "D F# A C E", "Bb7sus": "Bb Eb F Ab", "F9sus": "F Bb C Eb G",
    "C7b9sus": "C F G Bb Db", "Dmaj9": "D F# A C# E", "Gbmaj7#11": "Gb Bb Db F C",
    "Cm/maj7": "C Eb G B", "CmM7": "C Eb G B", "Dmaug": "D F A#", "C6": "C E G A",
    "Cm69": "C Eb G A D", "Bb/D": "Bb D F", "Cm7/Bb": "C Eb G Bb",
}
ISSUE_ROOTS = {"Bb/D": ("Bb", "D"), "Cm7/Bb": ("C", "Bb")}

# the usual variants, and what they mean
VARIANTS = {
    "D-7": "Dm7", "CΔ": "Cmaj7", "CΔ7": "Cmaj7", "C^7": "Cmaj7", "CM7": "Cmaj7",
    "Cma7": "Cmaj7", "CMaj7": "Cmaj7", "Cmin": "Cm", "Cmin7": "Cm7", "Cmi7": "Cm7",
    "C-": "Cm", "C+": "Caug", "Caug": "C+", "C(#5)": "C+", "C7+": "C7#5", "C+7": "C7#5",
    "Caug7": "C7#5", "C7b5": "C7(b5)", "C9#11": "C9(#11)", "C13b9": "C13(b9)",
    "C7b13": "C7(b13)", "Csus": "Csus4", "Csus2": "Csus2", "Cadd9": "Cadd9",
    "C6/9": "C69", "Ch7": "Cm7b5", "Cø": "Cm7b5", "Cø7": "Cm7b5", "Cm7-5": "Cm7b5",
    "Cmi7(b5)": "Cm7b5", "C°7": "Cdim7", "Co7": "Cdim7", "Co": "Cdim", "C°": "Cdim",
    "C7(b9)": "C7b9", "C7(#11)": "C7#11", "C7(b9,#11)": "C7b9#11", "C7(b9 #11)": "C7b9#11",
    "Dmaj7(Em7b5)": "Dmaj7", "Cm(maj7)": "CmM7", "C-^7": "CmM7", "C-Δ": "CmM7",
    "C7sus4": "C7sus", "C9sus4": "C9sus", "Ab7-9": "Ab7b9", "C7+9": "C7#9",
    "C7alt.": "C7alt", "C-6": "Cm6", "Cm6/9": "Cm69", "C♭maj7": "Cbmaj7", "B♭7": "Bb7",
    "F♯m7♭5": "F#m7b5", "C7(add13)": "C13", "C maj7": "Cmaj7",
    "Cmaj7(#11)": "Cmaj7#11", "C+maj7": "Cmaj7#5", "Cmaj7+5": "Cmaj7#5",
    "Cmaj": "C", "CM": "C", "C2": "Csus2", "C4": "Csus4", "N.C.": "NC", "n.c.": "NC",
    "(C7)": "C7", "Cdim7/E": "Cdim7/E", "Am/c": "Am/C",
}


@pytest.mark.parametrize("symbol", sorted(ISSUE_SYMBOLS))
def test_issue_symbols_parse_with_the_right_notes(symbol):
    chord = parse_symbol(symbol)
    assert chord
    assert chord.tones == names_mask(ISSUE_SYMBOLS[symbol])
    root, bass = ISSUE_ROOTS.get(symbol, (re.match(r"[A-G][b#]?", symbol).group(0), None))
    assert chord.root == pc_from_name(root)
    assert chord.bass == (None if bass is None else pc_from_name(bass))


def test_no_chord():
    for text in ("N.C.", "NC", "n.c.", "N.C", "(N.C.)", "N/C"):
        assert parse_symbol(text) is NO_CHORD
    assert not NO_CHORD and NO_CHORD.root is None and NO_CHORD.symbol == "N.C."
    assert NO_CHORD.tones == NO_CHORD.scale == NO_CHORD.approach == 0
    assert NO_CHORD.outside == FULL


@pytest.mark.parametrize("variant,meaning", sorted(VARIANTS.items()))
def test_variants(variant, meaning):
    assert parse_symbol(variant) == parse_symbol(meaning)


def test_symbol_spellings():
    assert parse_symbol("Bbmaj7").symbol == "Bbmaj7"
    assert parse_symbol("A#maj7").symbol == "A#maj7"  # the chart's spelling is kept
    assert parse_symbol("A#maj7") == parse_symbol("Bbmaj7")
    assert parse_symbol("D-7").symbol == "Dm7"
    assert parse_symbol("Dmaug").symbol == "Dm#5"
    assert parse_symbol("B07").symbol == "Bdim7"
    assert parse_symbol("Cm7/Bb").symbol == "Cm7/Bb"
    assert parse_symbol("C6/9").symbol == "C69"
    assert parse_symbol("Bbmaj7").spelled() == ("Bb", "D", "F", "A")
    assert parse_symbol("Bo7").spelled() == ("B", "D", "F", "Ab")
    assert parse_symbol("Cm7/Bb").spelled() == ("Bb", "C", "Eb", "G")


def test_music21_flats_need_flat_dash():
    assert parse_symbol("B-maj7", flat_dash=True) == parse_symbol("Bbmaj7")
    assert parse_symbol("Cm7/B-", flat_dash=True) == parse_symbol("Cm7/Bb")
    assert parse_symbol("E-", flat_dash=True) == parse_symbol("Eb")
    assert parse_symbol("B-maj7") == parse_symbol("BmM7")  # chart reading: minor


@pytest.mark.parametrize("bad", [
    "H7", "X", "Cxyz", "C7b7", "Cmaj11", "7", "C//E", "Cm7b5b5", "C7#5b13", "Csus4sus2",
    "Cmaj7b9", "Cm7alt", "C7/H", "C add 11", "Cb", "Cno3", "C5b",
])
def test_unknown_symbols_raise_naming_the_symbol(bad):
    if bad == "Cb":  # C flat major is a real chord: not an error
        assert parse_symbol(bad).root == 11
        return
    with pytest.raises(ChordSymbolError) as e:
        parse_symbol(bad)
    assert repr(bad) in str(e.value)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("bad", ["", "   ", None, 7, b"C7", ["C7"], {"C": 7}])
def test_empty_and_non_text_symbols_raise(bad):
    with pytest.raises(ChordSymbolError):
        parse_symbol(bad)


# music21 reads these differently from jazz charts, on purpose or by a bug:
# its 13th chords stack the 11th (a jazz 13th leaves it out), its 11 keeps the 3rd,
# its "13#11" drops the alteration, "C69" comes out as C A D, "B07" as B A#, and its
# "-" is a flat.
M21_DIFFERS = {"G13", "C13", "Cm13", "C11", "C13b9", "C13#11", "C69", "B07", "D-7"}
M21_FIGURES = [
    "C7", "Gm7", "Bbmaj7", "Ebm6", "F#m7b5", "Bo7", "Bdim7", "C7b9", "A7#9", "D9", "Bb7sus",
    "Gbmaj7#11", "CmM7", "C6", "Bb/D", "Cm7/Bb", "CM7", "Cmaj7", "Cmin", "Cmin7", "C+",
    "Caug", "C7+", "C7#5", "C7b5", "C9#11", "C7b13", "Csus2", "Csus4", "Cadd9", "Bø7",
    "Bdim", "Cm", "C+7", "Cm11", "Cm9", "Cm7b5", "Cdim", "Cdim7", "C7sus4", "Cm6", "C9",
    "Am7/G", "D7/F#", "Cmaj7/E", "Gm/Bb", "E7/G#", "F/C", "Abmaj7", "Dbm7", "Ebdim7",
]


@pytest.mark.parametrize("figure", M21_FIGURES)
def test_pitch_classes_agree_with_music21(figure):
    harmony = pytest.importorskip("music21.harmony")
    cs = harmony.ChordSymbol(re.sub(r"(?<=[A-G])b", "-", figure))
    ours = parse_symbol(figure)
    assert ours.tones == mask_of(p.pitchClass for p in cs.pitches)
    assert ours.root == cs.root().pitchClass
    assert (ours.bass if ours.bass is not None else ours.root) == cs.bass().pitchClass


ALL_CHORDS = [Chord(root, q) for q in QUALITIES for root in range(12)]


def test_masks_partition_the_octave():
    for c in ALL_CHORDS + [Chord(0, "7", 6), Chord(2, "m7", 0)]:
        assert c.tones and c.tones & ~c.scale == 0          # scale is a superset of tones
        assert c.approach & c.scale == 0
        assert c.outside == FULL & ~(c.scale | c.approach)
        assert (c.tones | c.scale | c.approach | c.outside) == FULL
        neighbours = rotate(c.tones, 1) | rotate(c.tones, -1)
        assert c.approach == neighbours & ~c.scale
        assert c.root in c.pcs
        if c.bass is not None:
            assert c.tones >> c.bass & 1


def test_every_symbol_round_trips():
    for c in ALL_CHORDS:
        assert parse_symbol(c.symbol) == c, c.symbol
        for bass in (4, 9):
            s = Chord(c.root, c.quality, bass)
            assert parse_symbol(s.symbol) == s, s.symbol


def test_interned_immutable_hashable_picklable():
    assert Chord(7, "13") is Chord(7, "13") is parse_symbol("G13")
    assert Chord(0, "maj", 0) is Chord(0, "maj")      # a bass equal to the root is no bass
    c = parse_symbol("Cm7/Bb")
    with pytest.raises(AttributeError):
        c.root = 3
    assert len({parse_symbol("Bb7"), parse_symbol("A#7"), Chord(10, "7")}) == 1
    assert pickle.loads(pickle.dumps(c)) is c
    assert pickle.loads(pickle.dumps(NO_CHORD)) is NO_CHORD
    assert Chord() is NO_CHORD
    assert c.transpose(2) == parse_symbol("Dm7/C")
    assert repr(c) == "<Chord Cm7/Bb>" and str(c) == "Cm7/Bb"


@pytest.mark.parametrize("args", [(12, "7"), (-1, "7"), ("C", "7"), (0, "nonsense"),
                                  (0, "7", 12), (0, None), (1.5, "7"), (0, "7", None, "D")])
def test_bad_constructor_arguments(args):
    with pytest.raises(ValueError):
        Chord(*args)


SCALE_TABLE = {  # GRAMMAR.md's table, plus this module's documented choices
    "Cmaj": "ionian", "Cmaj7": "ionian", "C6": "ionian", "Cmaj7#11": "lydian",
    "Cm7": "dorian", "Cm6": "dorian", "Cm9": "dorian", "Cm": "dorian",
    "CmM7": "melodic_minor", "C7": "mixolydian", "C9": "mixolydian", "C13": "mixolydian",
    "C7b9": "half_whole", "C7#9": "altered", "C7alt": "altered", "Cm7b5": "locrian",
    "Cdim7": "whole_half", "C+": "whole_tone", "Csus4": "mixolydian", "C7sus4": "mixolydian",
    "C7b9sus4": "phrygian", "C7#11": "lydian_dominant", "C7b13": "mixolydian_b6",
    "C7#5": "whole_tone", "C13b9": "half_whole", "C7#9b13": "altered",
}


@pytest.mark.parametrize("symbol,scale", sorted(SCALE_TABLE.items()))
def test_chord_scales(symbol, scale):
    c = parse_symbol(symbol)
    assert c.scale == SCALES[scale] | c.tones
    g = parse_symbol("G" + symbol[1:])  # and transposed
    assert g.scale == rotate(SCALES[scale], 7) | g.tones


def test_scale_masks_are_the_named_scales():
    assert pcs_of(SCALES["dorian"]) == (0, 2, 3, 5, 7, 9, 10)
    assert pcs_of(SCALES["altered"]) == (0, 1, 3, 4, 6, 8, 10)
    assert pcs_of(SCALES["half_whole"]) == (0, 1, 3, 4, 6, 7, 9, 10)
    assert pcs_of(SCALES["whole_half"]) == (0, 2, 3, 5, 6, 8, 9, 11)
    for name, m in SCALES.items():
        assert m & 1, name


def test_g7_classes():
    g7 = parse_symbol("G7")
    assert pcs_of(g7.tones) == (2, 5, 7, 11)
    assert pcs_of(g7.scale & ~g7.tones) == (0, 4, 9)                 # C E A
    assert pcs_of(g7.approach) == (1, 3, 6, 8, 10)                  # C# Eb F# Ab Bb
    assert g7.outside == 0
    cmaj7 = parse_symbol("Cmaj7#11")
    assert cmaj7.scale >> 6 & 1 and not cmaj7.scale >> 5 & 1         # F# in, F out


# ---- a real chart collection ----

def _changes_file_symbols():
    out = []
    for line in (DATA / "jazz_changes.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(("#", "=")):
            continue
        out += [t for t in re.split(r"[\s|]+", line) if t]
    return out


def _abc_gchords():
    """Chord symbols ("gchords") of music21's bundled Nottingham folk-tune ABC files."""
    corpus = pytest.importorskip("music21.corpus")
    out = []
    for path in corpus.getPaths(fileExtensions=("abc",)):
        if "nottingham" not in str(path):
            continue
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            if re.match(r"^[A-Za-z]:", line) or line.startswith("%"):
                continue
            out += [g for g in re.findall(r'"([^"]*)"', line) if g[:1] not in "^_<>@"]
    return out


def _leadsheet_figures():
    """Chord symbols of music21's bundled lead sheets, as music21 prints them."""
    corpus = pytest.importorskip("music21.corpus")
    harmony = pytest.importorskip("music21.harmony")
    out = []
    for path in corpus.getPaths(fileExtensions=("mxl", "xml", "musicxml")):
        if "leadSheet" not in str(path):
            continue
        score = corpus.parse(path)
        for cs in score.recurse().getElementsByClass(harmony.ChordSymbol):
            out.append((cs.figure, mask_of(p.pitchClass for p in cs.pitches)))
    return out


def _parse_rate(symbols, **kw):
    failures = []
    for s in symbols:
        try:
            parse_symbol(s, **kw)
        except ChordSymbolError as e:
            failures.append(str(e))
    return failures


def test_chart_collection_parses(capsys):
    changes = _changes_file_symbols()
    gchords = _abc_gchords()
    sheets = _leadsheet_figures()
    fail_changes = _parse_rate(changes)
    fail_abc = _parse_rate(gchords)
    fail_sheets = _parse_rate([f for f, _ in sheets], flat_dash=True)
    total = len(changes) + len(gchords) + len(sheets)
    failed = len(fail_changes) + len(fail_abc) + len(fail_sheets)
    with capsys.disabled():
        print(f"\nchart symbols: {len(changes)} jazz changes, {len(gchords)} Nottingham ABC "
              f"gchords, {len(sheets)} music21 lead-sheet figures; "
              f"parsed {total - failed}/{total} = {100 * (total - failed) / total:.2f} %")
        for f in fail_changes + fail_abc + fail_sheets:
            print("  failed:", f)
    assert len(changes) > 800 and len(gchords) > 30 and len(sheets) > 30
    assert failed <= 0.01 * total
    # and the lead sheets' chords have music21's own pitch classes
    for figure, m21_mask in sheets:
        assert parse_symbol(figure, flat_dash=True).tones == m21_mask, figure


# ---- property: any text either parses or raises ChordSymbolError, nothing else ----

from hypothesis import given, settings, strategies as st  # noqa: E402

_CHORDISH = st.text(alphabet="ABCDEFGbm#-+^Δøo°0123456789ajdinsugthlr/(), .", max_size=14)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_CHORDISH, st.text(max_size=10)))
def test_any_text_parses_or_raises_chord_symbol_error(text):
    try:
        chord = parse_symbol(text)
    except ChordSymbolError as e:
        assert repr(text) in str(e) or not text.strip()
        return
    assert isinstance(chord, Chord)
    if chord:
        assert parse_symbol(chord.symbol) == chord        # what we print, we read back
        assert chord.tones & ~chord.scale == 0
