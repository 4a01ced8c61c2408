"""Pitch classes, note names, pitch-class masks, interval names and the tick unit.

Everything here is tiny and table-driven because the live path calls it per note.
A set of pitch classes is a 12-bit int (bit `pc` set, C = bit 0), so set operations
are single integer operations.
"""

import re

TPQ = 12  # ticks per quarter note: sixteenths (3) and eighth triplets (4) are exact

FULL = 0xFFF

SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
# The spelling a jazz chart most often uses for a root it knows nothing else about.
CHART_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
LETTERS = "CDEFGAB"
_ACCIDENTAL = {"#": 1, "♯": 1, "x": 2, "𝄪": 2, "b": -1, "♭": -1, "-": -1, "𝄫": -2}

_NAME_RE = re.compile(r"([A-Ga-g])((?:[#♯x𝄪b♭\-𝄫])*)$")


def pc_from_name(name):
    """Pitch class of a note name: "C", "Bb", "F#", "B-" (music21), "Ebb", "Cx".

    Raises ValueError naming the text when it is not a note name.
    """
    m = _NAME_RE.match(name.strip()) if isinstance(name, str) else None
    if not m:
        raise ValueError(f"not a note name: {name!r}")
    pc = LETTER_PC[m.group(1).upper()]
    for ch in m.group(2):
        pc += _ACCIDENTAL[ch]
    return pc % 12


def pc_name(pc, flat=False):
    """The name of pitch class `pc` ("C#" or, with flat=True, "Db")."""
    return (FLAT_NAMES if flat else SHARP_NAMES)[pc % 12]


def mask_of(pcs):
    """12-bit mask of an iterable of pitch classes (or MIDI notes: taken mod 12)."""
    m = 0
    for p in pcs:
        m |= 1 << (p % 12)
    return m


def pcs_of(mask):
    """Sorted tuple of the pitch classes in a 12-bit mask."""
    return tuple(pc for pc in range(12) if mask >> pc & 1)


def rotate(mask, n):
    """Transpose a pitch-class mask up by `n` semitones."""
    n %= 12
    return ((mask << n) | (mask >> (12 - n))) & FULL


def spell(letter_name, semitones, steps):
    """Spell the note `steps` letters and `semitones` above the note named `letter_name`.

    spell("Bb", 4, 2) -> "D"; spell("B", 8, 6) -> "Ab". Used to print chord tones with
    the letters a musician expects (a seventh is always a seventh letter).
    """
    root_letter = letter_name[0].upper()
    root_pc = pc_from_name(letter_name)
    letter = LETTERS[(LETTERS.index(root_letter) + steps) % 7]
    want = (root_pc + semitones) % 12
    diff = (want - LETTER_PC[letter]) % 12
    if diff > 6:
        diff -= 12
    return letter + ("#" * diff if diff > 0 else "b" * -diff)


# ---- intervals, named as music21's Interval.directedName names them ----

# semitones of the simple generic interval (1..7) with quality P or M
_BASE = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 11}
_PERFECT = {1, 4, 5}
# directed names of 0..11 semitones, as music21 names them (a tritone is a d5)
_SIMPLE = ((0, "P", 1), (1, "m", 2), (2, "M", 2), (3, "m", 3), (4, "M", 3), (5, "P", 4),
           (6, "d", 5), (7, "P", 5), (8, "m", 6), (9, "M", 6), (10, "m", 7), (11, "M", 7))
_INTERVAL_RE = re.compile(r"(P|M|m|A+|d+)(-?)(\d+)$")


def interval_name(semitones):
    """music21's directed name of a step of `semitones`: 1 -> "m2", -5 -> "P-4",
    0 -> "P1", 12 -> "P8", 13 -> "m9", 6 -> "d5"."""
    semitones = int(semitones)
    sign = "-" if semitones < 0 else ""
    octaves, rem = divmod(abs(semitones), 12)
    _, quality, number = _SIMPLE[rem]
    number += 7 * octaves
    if semitones == 0:
        sign = ""
    return f"{quality}{sign}{number}"


def parse_interval(name):
    """Semitones of a directed interval name: "P-4" -> -5, "m2" -> 1, "AA4" -> 7,
    "dd-5" -> -5, "M-9" -> -14. Any quality (P M m A d, doubled or more) and any number;
    a '-' after the quality means descending, as in music21's directedName.

    Raises ValueError naming the text when it is not an interval name.
    """
    m = _INTERVAL_RE.match(name.strip()) if isinstance(name, str) else None
    if not m or int(m.group(3)) < 1:
        raise ValueError(f"not an interval name: {name!r}")
    quality, down, number = m.group(1), m.group(2), int(m.group(3))
    octaves, simple = divmod(number - 1, 7)
    simple += 1
    base = _BASE[simple] + 12 * octaves
    if simple in _PERFECT:
        if quality in ("M", "m"):
            raise ValueError(f"not an interval name: {name!r} ({simple} is perfect, not M/m)")
        shift = {"P": 0}.get(quality, len(quality) if quality[0] == "A" else -len(quality))
    else:
        if quality == "P":
            raise ValueError(f"not an interval name: {name!r} ({simple} has no perfect form)")
        if quality == "M":
            shift = 0
        elif quality == "m":
            shift = -1
        elif quality[0] == "A":
            shift = len(quality)
        else:
            shift = -1 - len(quality)
    semitones = base + shift
    return -semitones if down else semitones
