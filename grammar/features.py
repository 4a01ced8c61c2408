"""The conditioning vector of one onset: where it falls in the bar and what kind of chord
sounds there.

The conditioned LSTM sees, next to the previous value, three one-hot groups about the
*next* onset:

- its position inside the beat on the 12-tick grid (12 slots: on the beat, a
  sixteenth in, a triplet in, ...);
- the beat's weight: the downbeat, the other strong beat (beat 3 of 4/4, 6/8's
  second half), or a weak beat;
- the chord family, from the chord's intervals above its root (not its name, so every
  spelling of a chord lands in the same family): maj, min, dom, half-dim, dim, aug,
  sus, none.

The same function runs at training time and in the daemon, so both see identical
vectors. `condition_into` fills a preallocated buffer for the hot path.
"""

from jazzd.grammar.meter import beat_strength
from jazzd.grammar.pitch import TPQ

VERSION = 1
FAMILIES = ("maj", "min", "dom", "half-dim", "dim", "aug", "sus", "none")
STRENGTHS = ("down", "strong", "weak")
N_POS = TPQ
POS_OFFSET = 0
STRENGTH_OFFSET = N_POS
FAMILY_OFFSET = N_POS + len(STRENGTHS)
WIDTH = FAMILY_OFFSET + len(FAMILIES)
SPEC = {"name": "beatpos12+strength3+family8", "version": VERSION, "width": WIDTH,
        "families": list(FAMILIES), "strengths": list(STRENGTHS)}

_family_cache = {}


def _bit(mask, root, interval):
    return (mask >> ((root + interval) % 12)) & 1


def chord_family(chord):
    """One of FAMILIES, from the chord's tones relative to its root."""
    try:
        return _family_cache[chord]
    except (KeyError, TypeError):
        pass
    root = getattr(chord, "root", None)
    if not chord or root is None:
        fam = "none"
    else:
        t = chord.tones
        m3, M3 = _bit(t, root, 3), _bit(t, root, 4)
        d5, P5, a5 = _bit(t, root, 6), _bit(t, root, 7), _bit(t, root, 8)
        m7, M7 = _bit(t, root, 10), _bit(t, root, 11)
        if M3 and m7:
            fam = "dom"                       # 7, 9, 13, alterations, aug7
        elif M3 and a5 and not P5 and not M7:
            fam = "aug"
        elif M3:
            fam = "maj"                       # maj, 6, 69, maj7 family
        elif m3 and d5 and not P5:
            fam = "half-dim" if m7 else "dim"  # m7b5 | dim, dim7
        elif m3:
            fam = "min"
        else:
            fam = "sus"                       # no third at all
    try:
        _family_cache[chord] = fam
    except TypeError:
        pass
    return fam


_FAMILY_INDEX = {f: i for i, f in enumerate(FAMILIES)}


def condition_index(bar_tick, chord, beats_per_bar=4):
    """The three hot positions of the condition vector, as a tuple of ints."""
    return (POS_OFFSET + bar_tick % TPQ,
            STRENGTH_OFFSET + beat_strength(bar_tick, beats_per_bar),
            FAMILY_OFFSET + _FAMILY_INDEX[chord_family(chord)])


def condition(bar_tick, chord, beats_per_bar=4):
    """The condition vector (a list of WIDTH floats, three of them 1.0)."""
    v = [0.0] * WIDTH
    for i in condition_index(bar_tick, chord, beats_per_bar):
        v[i] = 1.0
    return v


def condition_into(buf, bar_tick, chord, beats_per_bar=4):
    """Fill a preallocated numpy buffer of length WIDTH with the condition; returns it."""
    buf.fill(0.0)
    for i in condition_index(bar_tick, chord, beats_per_bar):
        buf[i] = 1.0
    return buf
