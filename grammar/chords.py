"""Chords: a root, a quality, an optional slash bass, and every mask the live path needs.

A `Chord` is immutable and interned: `Chord(7, "13")` returns the same object every
time, with its tone, scale, approach and outside masks computed once, so classifying a
note against the sounding chord is one AND. Lead-sheet symbols are read into chords by
`jazzd.grammar.chord_symbols.parse_symbol`.
"""

import operator
import re
from itertools import combinations
from typing import NamedTuple

from jazzd.grammar.pitch import CHART_NAMES, FULL, mask_of, pc_from_name, rotate, spell
from jazzd.grammar.scales import SCALE_OF, SCALES, dominant_scale


class ChordSymbolError(ValueError):
    """A chord symbol that cannot be read (see chord_symbols). The message names it."""


# ---- degrees: "b3" -> semitones above the root and letter steps above the root ----

_DEGREE_BASE = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 11, 9: 14, 11: 17, 13: 21}


def _degree(text):
    """(semitones mod 12, letter steps) of a degree such as "b7", "#11", "bb7"."""
    m = re.match(r"(b*|#*)(\d+)$", text)
    acc, number = m.group(1), int(m.group(2))
    shift = -len(acc) if acc.startswith("b") else len(acc)
    return (_DEGREE_BASE[number] + shift) % 12, (number - 1) % 7


class Quality(NamedTuple):
    key: str            # canonical key, e.g. "m7b5"
    degrees: tuple      # e.g. ("1", "b3", "b5", "b7")
    rel: int            # 12-bit mask of the tones relative to the root
    display: str        # what follows the root in a symbol ("" for maj, "+" for aug)
    scale: str          # scale name in jazzd.grammar.scales.SCALES
    prior: float        # how common the quality is in charts, 0..1 (recognition ties)


# key, degrees, prior; display is the key unless _DISPLAY says otherwise
_BASE_QUALITIES = [
    ("maj", "1 3 5", 1.0), ("m", "1 b3 5", 0.9), ("dim", "1 b3 b5", 0.4),
    ("aug", "1 3 #5", 0.3), ("m#5", "1 b3 #5", 0.05), ("sus4", "1 4 5", 0.4),
    ("sus2", "1 2 5", 0.3), ("5", "1 5", 0.1),
    ("6", "1 3 5 6", 0.6), ("m6", "1 b3 5 6", 0.5), ("69", "1 3 5 6 9", 0.3),
    ("m69", "1 b3 5 6 9", 0.2), ("add9", "1 3 5 9", 0.3), ("madd9", "1 b3 5 9", 0.2),
    ("maj7", "1 3 5 7", 0.9), ("maj9", "1 3 5 7 9", 0.4), ("maj13", "1 3 5 7 9 13", 0.2),
    ("maj7#11", "1 3 5 7 #11", 0.3), ("maj9#11", "1 3 5 7 9 #11", 0.15),
    ("maj13#11", "1 3 5 7 9 #11 13", 0.1), ("maj7#5", "1 3 #5 7", 0.1),
    ("mmaj7", "1 b3 5 7", 0.2), ("mmaj9", "1 b3 5 7 9", 0.1),
    ("m7", "1 b3 5 b7", 1.0), ("m9", "1 b3 5 b7 9", 0.5), ("m11", "1 b3 5 b7 9 11", 0.3),
    ("m13", "1 b3 5 b7 9 13", 0.2), ("m7b5", "1 b3 b5 b7", 0.6),
    ("m9b5", "1 b3 b5 b7 9", 0.1), ("dim7", "1 b3 b5 bb7", 0.5),
    ("7", "1 3 5 b7", 1.0), ("9", "1 3 5 b7 9", 0.6), ("13", "1 3 5 b7 9 13", 0.6),
    ("11", "1 5 b7 9 11", 0.1),
    ("7sus4", "1 4 5 b7", 0.4), ("9sus4", "1 4 5 b7 9", 0.3),
    ("13sus4", "1 4 5 b7 9 13", 0.2), ("7b9sus4", "1 4 5 b7 b9", 0.15),
    ("7alt", "1 3 b7 #9 b13", 0.25),
]
_DISPLAY = {"maj": "", "aug": "+", "aug7": "7#5"}

# priors of the common altered dominants; the rest of the generated ones get 0.05
_DOMINANT_PRIOR = {"7b9": 0.4, "7#9": 0.3, "13b9": 0.2, "9#11": 0.2, "7#11": 0.2,
                   "7b13": 0.2, "aug7": 0.2, "7b5": 0.15, "13#11": 0.15, "7b9b13": 0.15,
                   "7#9b13": 0.15, "7#5#9": 0.1, "7b9#11": 0.1, "9#5": 0.1}

ALTERATIONS = ("b5", "#5", "b9", "#9", "#11", "b13")  # canonical order in keys
_ALTERABLE = {"7": ALTERATIONS, "9": ("b5", "#5", "#11", "b13"), "13": ("b5", "b9", "#9", "#11")}
_CLASHES = ({"b5", "#11"}, {"#5", "b13"}, {"b5", "#5"})  # one pitch class twice, two fifths


def _dominant_degrees(top, alts):
    degrees = ["1", "3", "5", "b7"] + {"7": [], "9": ["9"], "13": ["9", "13"]}[top]
    for a in alts:
        if a in ("b5", "#5"):
            degrees[2] = a
        elif a in ("b9", "#9"):
            degrees = [d for d in degrees if d != "9"] + [a]
        else:
            degrees.append(a)
    return sorted(degrees, key=lambda d: (_DEGREE_BASE[int(d.lstrip("b#"))]
                                          + d.count("#") - d.count("b")))


def dominant_key(top, alts):
    """Canonical key of dominant `top` ("7", "9", "13") with a set of alterations."""
    key = top + "".join(a for a in ALTERATIONS if a in alts)
    return "aug7" if key == "7#5" else key


def _build_qualities():
    table = {}

    def add(key, degrees, prior, scale):
        rel = mask_of(_degree(d)[0] for d in degrees)
        table[key] = Quality(key, tuple(degrees), rel, _DISPLAY.get(key, key), scale, prior)

    for key, degrees, prior in _BASE_QUALITIES:
        add(key, degrees.split(), prior, SCALE_OF[key])
    for top, pool in _ALTERABLE.items():
        for n in (1, 2, 3):
            if n == 3 and top != "7":
                continue
            for alts in combinations(pool, n):
                s = set(alts)
                if any(c <= s for c in _CLASHES):
                    continue
                key = dominant_key(top, s)
                add(key, _dominant_degrees(top, alts), _DOMINANT_PRIOR.get(key, 0.05),
                    SCALE_OF.get(key) or dominant_scale(top, s))
    return table


QUALITIES = _build_qualities()


# ---- the Chord ----

_CACHE = {}


class Chord:
    """An interned, immutable chord: build with `Chord(root, quality, bass=None)`.

    `root` and `bass` are pitch classes (0..11), `quality` a key of `QUALITIES`.
    `root_name`/`bass_name` only choose the spelling of `symbol` ("A#7" vs "Bb7");
    chords that differ only in spelling compare equal.
    """

    __slots__ = ("root", "quality", "bass", "tones", "scale", "approach", "outside",
                 "symbol", "root_name", "bass_name", "_key")

    def __new__(cls, root=None, quality="maj", bass=None, root_name=None, bass_name=None):
        ckey = (root, quality, bass, root_name, bass_name)
        try:
            return _CACHE[ckey]
        except (KeyError, TypeError):
            pass
        self = object.__new__(cls)
        _init(self, root, quality, bass, root_name, bass_name)
        if self.root is not None:  # one object per (chord, spelling): intern the chart names
            default = CHART_NAMES[self.root], None if self.bass is None else CHART_NAMES[self.bass]
            canon = self._key + tuple(n if n != d else None
                                      for n, d in zip((self.root_name, self.bass_name), default))
            self = _CACHE.setdefault(canon, self)
        if len(_CACHE) < 100_000:  # names are validated, so this bound is never reached
            _CACHE[ckey] = self
        return self

    def __setattr__(self, name, value):
        raise AttributeError("Chord is immutable")

    def __bool__(self):
        return self.root is not None

    def __eq__(self, other):
        return isinstance(other, Chord) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def __repr__(self):
        return f"<Chord {self.symbol}>"

    def __str__(self):
        return self.symbol

    def __reduce__(self):
        if self.root is None:
            return (Chord, ())
        return (Chord, (self.root, self.quality, self.bass, self.root_name, self.bass_name))

    @property
    def pcs(self):
        """Sorted pitch classes of the chord tones (the slash bass included)."""
        return tuple(pc for pc in range(12) if self.tones >> pc & 1)

    def spelled(self):
        """Note names of the tones, from the bass up through the degrees:
        Bbmaj7 -> ("Bb", "D", "F", "A"); Cm7/Bb -> ("Bb", "C", "Eb", "G")."""
        if self.root is None:
            return ()
        names = []
        for d in QUALITIES[self.quality].degrees:
            semis, steps = _degree(d)
            names.append(spell(self.root_name, semis, steps))
        if self.bass is not None:
            names = [self.bass_name] + [n for n in names if pc_from_name(n) != self.bass]
        return tuple(names)

    def transpose(self, semitones):
        """The same chord `semitones` higher (spelled the usual chart way)."""
        if self.root is None:
            return self
        bass = None if self.bass is None else (self.bass + semitones) % 12
        return Chord((self.root + semitones) % 12, self.quality, bass)


def _pc_arg(value, what):
    try:
        pc = operator.index(value)
    except TypeError:
        raise ValueError(f"chord {what} must be a pitch class 0-11, not {value!r}") from None
    if not 0 <= pc <= 11:
        raise ValueError(f"chord {what} must be a pitch class 0-11, not {value!r}")
    return pc


def _name_arg(name, pc, what):
    if name is None:
        return CHART_NAMES[pc]
    if not isinstance(name, str) or pc_from_name(name) != pc:
        raise ValueError(f"chord {what} name {name!r} does not spell pitch class {pc}")
    return name[0].upper() + name[1:].replace("-", "b")


def _init(self, root, quality, bass, root_name, bass_name):
    put = object.__setattr__
    if root is None:
        for attr, value in (("root", None), ("quality", ""), ("bass", None), ("tones", 0),
                            ("scale", 0), ("approach", 0), ("outside", FULL),
                            ("symbol", "N.C."), ("root_name", None), ("bass_name", None),
                            ("_key", None)):
            put(self, attr, value)
        return
    root = _pc_arg(root, "root")
    q = QUALITIES.get(quality) if isinstance(quality, str) else None
    if q is None:
        raise ValueError(f"unknown chord quality {quality!r}")
    root_name = _name_arg(root_name, root, "root")
    if bass is not None:
        bass = _pc_arg(bass, "bass")
        if bass == root:
            bass = None
    bass_name = None if bass is None else _name_arg(bass_name, bass, "bass")
    tones = rotate(q.rel, root) | (0 if bass is None else 1 << bass)
    scale = rotate(SCALES[q.scale], root) | tones
    approach = (rotate(tones, 1) | rotate(tones, 11)) & ~scale & FULL
    put(self, "root", root)
    put(self, "quality", quality)
    put(self, "bass", bass)
    put(self, "tones", tones)
    put(self, "scale", scale)
    put(self, "approach", approach)
    put(self, "outside", FULL & ~(scale | approach))
    put(self, "root_name", root_name)
    put(self, "bass_name", bass_name)
    put(self, "symbol", root_name + q.display + ("" if bass is None else "/" + bass_name))
    put(self, "_key", (root, quality, bass))


NO_CHORD = Chord()
