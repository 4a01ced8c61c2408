"""Lead-sheet chord symbols: `parse_symbol` reads them as real charts write them.

Readings that are a choice, not a fact:

- `B07` (a zero) is read as the typist's `Bo7`, a diminished seventh, because that is
  how it appears next to `Bo7`/`Bdim7` in charts; half-diminished is `Bø7`, `Bø`, `Bh7`,
  `Bm7b5`, `Bm7-5`.
- `Dmaug` is read compositionally, minor third plus augmented fifth: `Dm#5` (D F A#),
  the line-cliche chord (Dm Dm#5 Dm6). music21 does not know the figure at all.
- A leading `-` is minor (`D-7`), as in jazz charts. music21's `B-` flat is read only
  with `parse_symbol(text, flat_dash=True)` (`B-maj7`), because `B-maj7` is also the
  jazz spelling of B minor-major-seventh.
- `C2` is `Csus2`, `C4` is `Csus4`; `C11` is the jazz eleventh chord (1 5 b7 9 11: no 3rd).
- `C7alt` has the tones 1 3 b7 #9 b13 (its other tensions come from the altered scale).
- A parenthesised chord after a chord, `Dmaj7(Em7b5)`, is an alternative: the first
  chord is meant. Parenthesised alterations, `C7(b9,#11)`, are part of the chord.
"""

import re
from functools import lru_cache

from jazzd.grammar.chords import NO_CHORD, QUALITIES, Chord, ChordSymbolError, dominant_key
from jazzd.grammar.pitch import pc_from_name


_NC_RE = re.compile(r"^\(?\s*n\.?\s*/?\s*c\.?\s*\)?$", re.I)  # N.C., NC, n.c., N/C
_UNICODE = str.maketrans({"♭": "b", "♯": "#", "−": "-", "–": "-", "°": "o", "º": "o",
                          "Ø": "ø", "△": "Δ", "∆": "Δ", "：": ":"})
_ROOT_RE = re.compile(r"([A-Ga-g])([#b]?)")
_ROOT_DASH_RE = re.compile(r"([A-Ga-g])([#b\-]?)")
_BASS_RE = re.compile(r"/([A-Ga-g][#b]?)$")
_BASS_DASH_RE = re.compile(r"/([A-Ga-g][#b\-]?)$")
_ALTERNATIVE_RE = re.compile(r"\(\s*[A-G][^()]*\)")
_SLASH_MAJ_RE = re.compile(r"/(?=maj|Maj|MAJ|ma|Ma|M|Δ|\^)")
_MAJ_RE = re.compile(r"(maj|Maj|MAJ|ma(?!u|dd)|Ma|M|Δ|\^)")
_NUM_RE = re.compile(r"(13|11|9|7|6|5|4|2)")


class _Parts:
    """What the quality text says, before it is named (see `_name_quality`)."""

    def __init__(self):
        self.third = "3"      # "3", "b3", or None for sus
        self.sus = None       # "4" or "2"
        self.fifth = "5"      # "5", "b5", "#5"
        self.seventh = None   # None, "b7", "7", "bb7"
        self.ext = 0          # highest natural extension: 9, 11, 13
        self.sixth = False
        self.add9 = False
        self.alts = set()     # b9 #9 #11 b13 (fifths live in .fifth)
        self.alt = False
        self.halfdim = False
        self.power = False
        self.seen = set()     # token kinds already read: each may appear once

    def once(self, kind, text):
        if kind in self.seen:
            _fail(text, f"{kind} twice")
        self.seen.add(kind)


def _fail(text, why):
    raise ChordSymbolError(f"unknown chord symbol {text!r}: {why}")


def _set_fifth(p, text, value):
    if p.fifth != "5":
        _fail(text, "two fifths")
    p.fifth = value


def _alteration(p, text, sign, number):
    """Apply a flat/sharp alteration ("b", "9") to the parts."""
    if number == "5":
        _set_fifth(p, text, sign + "5")
    elif sign + number in p.alts:
        _fail(text, f"{sign}{number} twice")
    elif number in ("9", "13") or (number == "11" and sign == "#"):
        p.alts.add(sign + number)
    elif number == "4" and sign == "#":
        p.alts.add("#11")
    elif number == "6" and sign == "b":
        p.alts.add("b13")
    else:
        _fail(text, f"cannot read the alteration {sign}{number}")


def _apply_number(p, text, n):
    """A chord number 6, 7, 9, 11 or 13, one per chord: 9 and up bring a b7 (not after a 6)."""
    p.once("a chord number", text)
    if n == "7":
        if p.seventh is None:
            p.seventh = "b7"
    elif n in ("9", "11", "13"):
        p.ext = max(p.ext, int(n))
        if p.seventh is None and not p.sixth:
            p.seventh = "b7"
    elif n == "6":
        p.sixth = True
    else:
        _fail(text, f"unexpected {n!r}")


# Each reader looks at `rest`, the unread quality text, and either returns how many
# characters it read into the parts `p` or None when the token is not its own.
# `start` is true for the first token only: "m", "o" and a bare "2"/"4"/"5" mean
# something else after it.
def _read_minor(p, rest, start, text):
    """m, mi, min or - at the start: a minor third ("maj" is major, not m + aj)."""
    if not start or _MAJ_RE.match(rest) or not rest.startswith(("min", "mi", "m", "-")):
        return None
    p.once("minor", text)
    p.third = "b3"
    return 3 if rest.startswith("min") else 2 if rest.startswith("mi") else 1


def _read_major(p, rest, start, text):
    """maj, M, Δ, ^ with an optional 7/9/11/13: a major seventh."""
    major = _MAJ_RE.match(rest)
    if not major:
        return None
    p.once("major", text)
    if p.seventh is not None or p.halfdim or p.fifth == "b5":
        _fail(text, f"{major.group(1)!r} after a seventh")
    word = major.group(1)
    num = _NUM_RE.match(rest, len(word))
    if num and num.group(1) in ("7", "9", "11", "13"):
        p.seventh = "7"
        if num.group(1) != "7":
            p.ext = max(p.ext, int(num.group(1)))
        return num.end()
    if word in ("Δ", "^") or not start:
        p.seventh = "7"   # a bare triangle means maj7, and so does "m" + "maj"
    return len(word)


def _read_diminished(p, rest, start, text):
    """dim, o or 0 (the typist's o), with an optional 7: diminished triad or seventh."""
    if not (rest.startswith("dim") or (start and rest[0] in "o0")):
        return None
    if not start:
        _fail(text, "'dim' after the quality")
    used = 3 if rest.startswith("dim") else 1
    p.third, p.fifth = "b3", "b5"
    if rest[used:used + 1] == "7":
        p.seventh = "bb7"
        used += 1
    return used


def _read_half_diminished(p, rest, start, text):
    """ø or h (h only at the start), with an optional 7: a half-diminished seventh."""
    if not (rest[0] in "øh" and (start or rest[0] == "ø")):
        return None
    if not start:
        _fail(text, "'ø' after the quality")
    p.third, p.fifth, p.seventh, p.halfdim = "b3", "b5", "b7", True
    return 2 if rest[1:2] == "7" else 1


def _read_augmented(p, rest, start, text):
    """aug, or a + that is not a sharp on 5, 9 or 11: a raised fifth."""
    if rest.startswith("aug"):
        _set_fifth(p, text, "#5")
        return 3
    if rest[0] != "+":
        return None
    num = _NUM_RE.match(rest, 1)
    if start or not num or num.group(1) not in ("5", "9", "11"):
        _set_fifth(p, text, "#5")   # C+, C+7, C7+
        return 1
    _alteration(p, text, "#", num.group(1))
    return num.end()


def _read_sus(p, rest, start, text):
    """sus, sus2, sus4, sus9 (a 9sus4): the third suspended."""
    if not rest.startswith("sus"):
        return None
    p.once("sus", text)
    if p.third != "3":
        _fail(text, "a suspension of a minor or diminished chord")
    used = 3
    if rest[3:4] in ("2", "4"):
        p.sus = rest[3]
        used += 1
    elif rest[3:4] == "9":
        p.sus = "4"
        _apply_number(p, text, "9")
        used += 1
    else:
        p.sus = "4"
    p.third = None
    return used


def _read_add(p, rest, start, text):
    """add9/add2, add6/add13 or an added alteration (addb9)."""
    if not rest.startswith("add"):
        return None
    p.once("add", text)
    num = re.match(r"[b#]?(\d+)", rest[3:])
    if not num:
        _fail(text, "'add' without a number")
    word = num.group(0)
    if word in ("9", "2"):
        p.add9 = True
    elif word in ("13", "6"):
        p.sixth = True
    elif word[0] in "b#":
        _alteration(p, text, word[0], word[1:])
    elif word in ("11", "4"):
        _fail(text, "add11 chords are not supported")
    else:
        _fail(text, f"cannot add {word}")
    return 3 + len(word)


def _read_alt(p, rest, start, text):
    """alt or alt.: an altered dominant."""
    if not rest.startswith("alt"):
        return None
    p.once("alt", text)
    p.alt = True
    if p.seventh is None:
        p.seventh = "b7"
    return 4 if rest[3:4] == "." else 3


def _read_omit(p, rest, start, text):
    """omit5 or no5: only the fifth can go, and only a natural one."""
    if not rest.startswith(("omit", "no")):
        return None
    p.once("omit", text)
    if p.fifth != "5":
        _fail(text, "omits an altered fifth")
    used = 4 if rest.startswith("omit") else 2
    if rest[used:used + 1] != "5":
        _fail(text, "only the 5th can be omitted")
    return used + 1


def _read_alteration(p, rest, start, text):
    """b9, #11, -5 ...: a flat or sharp on a degree."""
    num = _NUM_RE.match(rest, 1) if rest[0] in "b#-" else None
    if not num:
        return None
    _alteration(p, text, "#" if rest[0] == "#" else "b", num.group(1))
    return num.end()


def _read_chord_number(p, rest, start, text):
    """69, 6, 7, 9, 11, 13; alone, 5 is a power chord and 2/4 a sus chord."""
    if rest.startswith("69"):
        p.once("a chord number", text)
        p.sixth = p.add9 = True
        return 2
    num = _NUM_RE.match(rest)
    if not num:
        return None
    n, alone = num.group(1), start and num.end() == len(rest)
    if alone and n == "5":
        p.power = True
    elif alone and n in ("2", "4"):
        p.sus, p.third = n, None
    else:
        _apply_number(p, text, n)
    return num.end()


# in the order they are tried: minor before major ("m" vs "maj"), the words before
# the alterations and numbers
_READERS = (_read_minor, _read_major, _read_diminished, _read_half_diminished,
            _read_augmented, _read_sus, _read_add, _read_alt, _read_omit, _read_alteration,
            _read_chord_number)


def _tokens(p, q, text):
    """Read the quality text `q` (root and bass removed) into `p`."""
    i = 0
    start = True
    while i < len(q):
        rest = q[i:]
        for read in _READERS:
            used = read(p, rest, start, text)
            if used is not None:
                break
        else:
            _fail(text, f"cannot read {rest!r}")
        i += used
        start = False


def _name_quality(p, text):
    """The canonical QUALITIES key of the parts, or a ChordSymbolError."""
    if p.power:
        return "5"
    if p.halfdim or (p.third == "b3" and p.fifth == "b5" and p.seventh == "b7"):
        return _name_half_diminished(p, text)
    if p.third == "b3" and p.fifth == "b5":
        return _name_diminished(p, text)
    if p.third == "b3":
        return _name_minor(p, text)
    if p.third is None:
        return _name_suspended(p, text)
    if p.seventh == "7":
        return _name_major_seventh(p, text)
    if p.seventh == "b7":
        return _name_dominant(p, text)
    return _name_major_triad(p, text)


def _name_half_diminished(p, text):
    """A minor third, a flat fifth and a minor seventh: m7b5, or m9b5 with a 9."""
    if p.alts or p.sixth or p.ext > 9 or (p.add9 and p.ext):
        _fail(text, "unsupported half-diminished chord")
    return "m9b5" if (p.ext == 9 or p.add9) else "m7b5"


def _name_diminished(p, text):
    """A minor third and a flat fifth without a minor seventh."""
    if p.seventh == "bb7" and not (p.alts or p.ext or p.sixth or p.add9):
        return "dim7"
    if p.seventh is None and not (p.alts or p.ext or p.sixth or p.add9):
        return "dim"
    if p.seventh is None and p.sixth and not (p.alts or p.ext or p.add9):
        return "dim7"   # dim6 is dim7 spelled with a sixth
    _fail(text, "unsupported diminished chord")


def _name_minor(p, text):
    """A minor third and a natural or raised fifth."""
    if p.alts or p.alt:
        _fail(text, "altered minor chords are not supported")
    if p.fifth == "#5":
        if p.seventh or p.sixth or p.ext or p.add9:
            _fail(text, "unsupported minor chord with a raised fifth")
        return "m#5"
    if p.seventh == "7":
        if p.ext in (0, 9) and not p.sixth:
            return "mmaj9" if (p.ext or p.add9) else "mmaj7"
        _fail(text, "unsupported minor-major chord")
    if p.seventh == "b7":
        if p.sixth:
            _fail(text, "a minor chord with both a 6th and a 7th")
        ext = p.ext or (9 if p.add9 else 0)
        return {0: "m7", 9: "m9", 11: "m11", 13: "m13"}[ext]
    if p.sixth:
        return "m69" if (p.add9 or p.ext == 9) else "m6"
    return "madd9" if p.add9 else "m"


def _name_suspended(p, text):
    """No third: sus2, sus4 and the suspended dominants."""
    if p.fifth != "5" or p.sixth:
        _fail(text, "unsupported suspended chord")
    if p.sus == "2":
        if p.seventh or p.alts or p.ext or p.add9:
            _fail(text, "unsupported sus2 chord")
        return "sus2"
    if p.seventh == "b7":
        ext = p.ext or (9 if p.add9 else 0)
        if p.alts == {"b9"} and ext == 0:
            return "7b9sus4"
        if not p.alts and ext in (0, 9, 11, 13):
            return {0: "7sus4", 9: "9sus4", 11: "9sus4", 13: "13sus4"}[ext]
        _fail(text, "unsupported suspended chord")
    if p.seventh is None and not (p.alts or p.ext or p.add9):
        return "sus4"
    _fail(text, "unsupported suspended chord")


def _name_major_seventh(p, text):
    """A major third and a major seventh: maj7 to maj13, with #11 or #5."""
    alts = set(p.alts)
    if p.fifth == "#5":
        alts.add("#5")
    elif p.fifth == "b5":
        alts.add("#11")
    ext = p.ext
    if p.sixth:
        if ext:
            _fail(text, "a major seventh chord with both a 6th and a 13th")
        ext = 13
    ext = ext or (9 if p.add9 else 0)
    if ext == 11:
        _fail(text, "maj11 chords are not supported")
    key = "maj" + str(ext or 7) + "".join(a for a in ("#11", "#5") if a in alts)
    if alts - {"#11", "#5"} or key not in QUALITIES:
        _fail(text, "unsupported major seventh chord")
    return key


def _name_dominant(p, text):
    """A major third and a minor seventh: 7, 9, 11, 13, alt and the altered dominants."""
    if p.alt:
        return "7alt"
    alts = set(p.alts)
    if p.fifth != "5":
        alts.add(p.fifth)
    ext = p.ext
    if p.sixth:
        ext = max(ext, 13)
    if p.add9:
        ext = max(ext, 9)
    if ext == 11:
        if alts:
            _fail(text, "unsupported altered eleventh chord")
        return "11"
    top = str(ext or 7)
    if top == "9" and alts & {"b9", "#9"}:
        top = "7"
    if top == "13" and alts & {"b13", "#5"}:
        _fail(text, "a 13th chord with a flat 13th")
    key = dominant_key(top, alts)
    if key not in QUALITIES:
        _fail(text, "unsupported dominant chord")
    return key


def _name_major_triad(p, text):
    """A major third and no seventh: maj, aug, 6, 69, add9."""
    if p.seventh == "bb7":
        _fail(text, "a diminished seventh over a major third")
    if p.alts or p.ext or p.alt:
        _fail(text, "extensions without a seventh")
    if p.fifth == "#5":
        if p.sixth or p.add9:
            _fail(text, "unsupported augmented chord")
        return "aug"
    if p.fifth == "b5":
        _fail(text, "a major triad with a flat fifth")
    if p.sixth:
        return "69" if p.add9 else "6"
    return "add9" if p.add9 else "maj"


def parse_symbol(text, flat_dash=False):
    """The Chord of a lead-sheet symbol: "Bbmaj7", "F#m7b5", "C7(b9)", "Cm7/Bb", "N.C.".

    Returns NO_CHORD for "N.C." and its spellings. Raises ChordSymbolError (a
    ValueError) naming the symbol when it cannot be read. With flat_dash=True a '-'
    right after a note letter is a flat, as music21 writes it ("B-maj7", "C/B-").
    """
    if not isinstance(text, str):
        raise ChordSymbolError(f"a chord symbol must be text, not {text!r}")
    return _parse(text, bool(flat_dash))


@lru_cache(maxsize=4096)
def _parse(text, flat_dash):
    s = text.translate(_UNICODE).strip()
    if not s:
        raise ChordSymbolError("empty chord symbol")
    if _NC_RE.match(s):
        return NO_CHORD
    if s.startswith("(") and s.endswith(")") and s.count("(") == 1:
        s = s[1:-1]
    depth = 0
    for ch in s:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth not in (0, 1):
            _fail(text, "unbalanced or nested parentheses")
    if depth:
        _fail(text, "unbalanced parentheses")
    s = _ALTERNATIVE_RE.sub("", s)           # Dmaj7(Em7b5) -> Dmaj7
    root_m = (_ROOT_DASH_RE if flat_dash else _ROOT_RE).match(s)
    if not root_m:
        _fail(text, "it does not start with a note name A-G")
    root_name = root_m.group(1).upper() + root_m.group(2).replace("-", "b")
    q = re.sub(r"[\s(),]", "", s[root_m.end():])   # C7(b9, #11) -> C7b9#11
    bass_name = None
    bass_m = (_BASS_DASH_RE if flat_dash else _BASS_RE).search(q)
    if bass_m:
        bass_name = bass_m.group(1)
        bass_name = bass_name[0].upper() + bass_name[1:].replace("-", "b")
        q = q[:bass_m.start()]
    q = _SLASH_MAJ_RE.sub("", q.replace("6/9", "69"))   # Cm/maj7 -> Cmmaj7
    p = _Parts()
    _tokens(p, q, text)
    quality = _name_quality(p, text)
    root = pc_from_name(root_name)
    bass = None if bass_name is None else pc_from_name(bass_name)
    return Chord(root, quality, bass, root_name, bass_name)
