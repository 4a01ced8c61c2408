"""Values: what the model predicts instead of pitches (GRAMMAR.md, "A value").

A value is a kind (how the note relates to the chord at its onset), an exact
onset-to-onset duration in ticks, the exact step in semitones from the previous
sounded note, and the interval window around that step (the seeds' form, and the
binding's fallback for values without a step). Durations are ints on the 1/12-quarter
grid, never floats, so that triplets and sixteenths survive every round trip (seed
bug 1).

Why the exact step: a pitch drawn at random inside a +-3 window gives a zig-zag line
with no motifs (measured: contour turns 0.54 against the human 0.42, motif reuse 0.03
against 0.14). The model predicts the step itself; the window stays for the seeds'
text form and for corpora without steps.
"""

import re
from fractions import Fraction
from typing import NamedTuple

from jazzd.grammar.pitch import TPQ, interval_name, parse_interval

KINDS = ("C", "S", "A", "X", "R")
RESERVED_KINDS = ("L",)  # Impro-Visor's colour tone: allowed by GRAMMAR.md, not produced yet
# The note lengths, in quarters, that style controls name ("1/3" = an eighth triplet);
# a value of another length counts as the nearest of them.
DURATION_KEYS = ("1/6", "1/4", "1/3", "1/2", "2/3", "3/4", "1", "3/2", "2", "3", "4")
# Where an onset may fall inside its beat, in beats: the downbeat, sixteenths, eighth
# and sixteenth triplets (the corpus's onset grid, jazzd.grammar.jazzomat.GRID).
ONSET_KEYS = ("0", "1/6", "1/4", "1/3", "1/2", "2/3", "3/4", "5/6")
# Sizes of a step, in semitones (the style gap's interval bins).
INTERVAL_KEYS = ("0", "1", "2", "3-4", "5-7", "8-12", "13+")
WINDOW_RADIUS = 3        # the training data's window: real step +- a minor third

# How far a decimal duration may sit from the 1/12 grid and still be read:
# "0.333" is 1/3 within 0.0003; "0.125" (1.5 ticks) is 0.04 off and is refused.
_GRID_TOLERANCE = Fraction(1, 100)


def interval_key(step):
    """The INTERVAL_KEYS entry a step of `step` semitones (either way) counts under."""
    a = abs(step)
    if a <= 2:
        return str(a)
    return "3-4" if a <= 4 else "5-7" if a <= 7 else "8-12" if a <= 12 else "13+"


class Value(NamedTuple):
    """One grammar token. `lo`/`hi` are None for a rest and for a phrase's first note;
    `step` (semitones from the previous sounded pitch) is None for a rest and for a
    note with no pitch before it."""

    kind: str
    ticks: int
    lo: int | None = None
    hi: int | None = None
    step: int | None = None


def stepped(kind, ticks, step):
    """A note value with an exact step and the window the corpus builds around it."""
    if step is None:
        return Value(kind, ticks)
    lo, hi = window_for_step(step)
    return Value(kind, ticks, lo, hi, step)


def fold_step(step, max_step=16):
    """`step` moved by octaves into [-max_step, max_step], keeping its direction: a
    leap wider than the step vocabulary is the same pitch class an octave nearer (the
    rule training encodes steps with, and the daemon hears the player's with)."""
    while step > max_step:
        step -= 12
    while step < -max_step:
        step += 12
    return step


def window_for_step(step):
    """The interval window the training data builds around a real step of `step` semitones."""
    return (step - WINDOW_RADIUS, step + WINDOW_RADIUS)


def classify(pitch, chord):
    """Kind of `pitch` (MIDI number or pitch class) over `chord`: C, then S, then A, then X.

    The order matters: a tone that is both in the scale and a chord tone is C. Over
    NO_CHORD every pitch is X (nothing can be related to an absent chord).
    """
    if not chord:
        return "X"
    bit = 1 << (pitch % 12)
    if chord.tones & bit:
        return "C"
    if chord.scale & bit:
        return "S"
    if chord.approach & bit:
        return "A"
    return "X"


def kind_mask(kind, chord):
    """12-bit mask of the pitch classes of `kind` over `chord` (0 for R or NO_CHORD)."""
    if not chord:
        return 0
    if kind == "C":
        return chord.tones
    if kind == "S":
        return chord.scale & ~chord.tones
    if kind == "A":
        return chord.approach
    if kind == "X":
        return chord.outside
    return 0


def _quarters_text(ticks):
    return f"{ticks / TPQ:.3f}"


def format_value(v):
    """Compact text: "C,0.250,+2" (an exact step); "C,0.250,<-5,1>" (a window only, in
    semitones, lo first); "R,1.000"."""
    head = f"{v.kind},{_quarters_text(v.ticks)}"
    if v.step is not None:
        return f"{head},{v.step:+d}"
    if v.lo is None:
        return head
    return f"{head},<{v.lo},{v.hi}>"


def format_seed_style(v):
    """The seeds' text: "C,0.250,<m2,P-4>", i.e. <upper,lower> as music21 directed names
    (a value with a step prints the window around it)."""
    head = f"{v.kind},{_quarters_text(v.ticks)}"
    if v.lo is None:
        return head
    return f"{head},<{interval_name(v.hi)},{interval_name(v.lo)}>"


def format_values(values, seed_style=False):
    """A space-separated line of values, as the seeds' corpora were written."""
    fmt = format_seed_style if seed_style else format_value
    return " ".join(fmt(v) for v in values)


def ticks_from_text(text):
    """Ticks of a decimal duration in quarters ("0.333" -> 4), snapped to the nearest
    grid point; refuses text more than 0.01 quarter off the grid, zero or negative."""
    try:
        q = Fraction(text.strip())
    except (ValueError, ZeroDivisionError, AttributeError):
        raise ValueError(f"bad duration {text!r}: not a number of quarter notes") from None
    ticks = round(q * TPQ)
    if abs(q - Fraction(ticks, TPQ)) > _GRID_TOLERANCE:
        raise ValueError(f"bad duration {text!r}: not on the 1/12-quarter grid "
                         f"(nearest is {_quarters_text(ticks)})")
    if ticks <= 0:
        raise ValueError(f"bad duration {text!r}: must be positive")
    return ticks


_VALUE_RE = re.compile(r"^\s*([A-Za-z]+)\s*,\s*([^,<>\s]+)\s*"
                       r"(?:,\s*(?:<([^<>]*)>|([+-]\d+)))?\s*$")
_INT_RE = re.compile(r"^[+-]?\d+$")


def parse_value(text):
    """Read a value in any text form; raise ValueError naming the text otherwise.

    "C,0.250,<-5,1>" (compact, lo first) and "C,0.250,<m2,P-4>" (seeds', upper first)
    give the same Value("C", 3, -5, 1). A window of two integers is the compact form.
    "C,0.250,+2" is a value with an exact step (and the window around it).
    """
    if not isinstance(text, str):
        raise ValueError(f"not a value: {text!r}")
    m = _VALUE_RE.match(text)
    if not m:
        raise ValueError(f"not a value: {text!r} (expected e.g. 'C,0.250,<-5,1>')")
    kind, dur, window, step = m.group(1), m.group(2), m.group(3), m.group(4)
    if kind in RESERVED_KINDS:
        raise ValueError(f"value {text!r}: kind {kind!r} is reserved and not supported yet")
    if kind not in KINDS:
        raise ValueError(f"value {text!r}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    try:
        ticks = ticks_from_text(dur)
    except ValueError as e:
        raise ValueError(f"value {text!r}: {e}") from None
    if kind == "R" and (window is not None or step is not None):
        raise ValueError(f"value {text!r}: a rest has no interval window or step")
    if step is not None:
        return stepped(kind, ticks, int(step))
    if window is None:
        return Value(kind, ticks, None, None)
    parts = [p.strip() for p in window.split(",")]
    if len(parts) != 2:
        raise ValueError(f"value {text!r}: a window has two bounds, like <-5,1> or <m2,P-4>")
    a, b = parts
    if _INT_RE.match(a) and _INT_RE.match(b):
        lo, hi = int(a), int(b)
        if lo > hi:
            raise ValueError(f"value {text!r}: window <{a},{b}> has lo > hi "
                             f"(the compact form is <lo,hi>)")
    else:
        try:
            hi, lo = parse_interval(a), parse_interval(b)
        except ValueError as e:
            raise ValueError(f"value {text!r}: {e}") from None
        if lo > hi:
            raise ValueError(f"value {text!r}: window <{a},{b}> has upper < lower "
                             f"(the seeds' form is <upper,lower>)")
    return Value(kind, ticks, lo, hi)


def parse_values(text):
    """Values of a whitespace-separated line (either form, mixed is fine)."""
    return [parse_value(tok) for tok in text.split()]
