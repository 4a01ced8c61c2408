"""The conditioning vector of one onset: where it falls in the bar, what kind of chord
sounds there, and where the line stands against that chord.

Next to the previous value, the model sees six one-hot groups about the *next* onset:

- its position inside the beat on the 12-tick grid (12 slots: on the beat, a
  sixteenth in, a triplet in, ...);
- the beat's weight: the downbeat, the other strong beat (beat 3 of 4/4, 6/8's
  second half), or a weak beat;
- the chord family, from the chord's intervals above its root (not its name, so every
  spelling of a chord lands in the same family): maj, min, dom, half-dim, dim, aug,
  sus, none;
- the degree of the previous sounded pitch above that chord's root (12, or none):
  with it an exact step can be chosen to land on a chord or scale tone, which the
  family alone cannot tell;
- the height of the previous pitch against the middle of the register, in bands of
  4 semitones: a line high up tends to come down;
- whether the chord has changed since the previous onset.

The same function runs at training time and in the daemon, so both see identical
vectors. `condition_into` fills a preallocated buffer for the hot path.
"""

from jazzd.grammar.meter import beat_strength
from jazzd.grammar.pitch import TPQ

VERSION = 2
FAMILIES = ("maj", "min", "dom", "half-dim", "dim", "aug", "sus", "none")
STRENGTHS = ("down", "strong", "weak")
HEIGHT_EDGES = (-12, -8, -4, 0, 4, 8, 12)    # semitones from the register's middle
N_POS = TPQ
N_DEGREES = 13                               # 12 degrees above the root, or none
N_HEIGHTS = len(HEIGHT_EDGES) + 2            # 8 bands, or none
POS_OFFSET = 0
STRENGTH_OFFSET = N_POS
FAMILY_OFFSET = STRENGTH_OFFSET + len(STRENGTHS)
DEGREE_OFFSET = FAMILY_OFFSET + len(FAMILIES)
HEIGHT_OFFSET = DEGREE_OFFSET + N_DEGREES
CHANGE_OFFSET = HEIGHT_OFFSET + N_HEIGHTS
WIDTH = CHANGE_OFFSET + 2
HOT = 6                                      # ones in every vector
SPEC = {"name": "beatpos12+strength3+family8+degree13+height9+change2",
        "version": VERSION, "width": WIDTH, "families": list(FAMILIES),
        "strengths": list(STRENGTHS), "height_edges": list(HEIGHT_EDGES)}

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


def degree(pitch, chord):
    """Semitones of `pitch` above `chord`'s root (0-11), or 12 when either is missing."""
    root = getattr(chord, "root", None)
    if pitch is None or not chord or root is None:
        return 12
    return (pitch - root) % 12


def height_band(pitch, middle):
    """The band (0-7) of `pitch` against the register's `middle`, or 8 for none."""
    if pitch is None or middle is None:
        return 8
    d = pitch - middle
    band = 0
    for edge in HEIGHT_EDGES:
        if d > edge:
            band += 1
    return band


def condition_index(bar_tick, chord, beats_per_bar=4, prev=None, middle=None,
                    changed=False):
    """The HOT hot positions of the condition vector, as a tuple of ints.

    `prev` is the previous sounded pitch (None before the first), `middle` the middle
    of the register (training: the solo's median pitch), `changed` whether `chord`
    differs from the chord at the previous onset."""
    return (POS_OFFSET + bar_tick % TPQ,
            STRENGTH_OFFSET + beat_strength(bar_tick, beats_per_bar),
            FAMILY_OFFSET + _FAMILY_INDEX[chord_family(chord)],
            DEGREE_OFFSET + degree(prev, chord),
            HEIGHT_OFFSET + height_band(prev, middle),
            CHANGE_OFFSET + (1 if changed else 0))


def condition(bar_tick, chord, beats_per_bar=4, prev=None, middle=None, changed=False):
    """The condition vector (a list of WIDTH floats, HOT of them 1.0)."""
    v = [0.0] * WIDTH
    for i in condition_index(bar_tick, chord, beats_per_bar, prev, middle, changed):
        v[i] = 1.0
    return v


def condition_into(buf, bar_tick, chord, beats_per_bar=4, prev=None, middle=None,
                   changed=False):
    """Fill a preallocated numpy buffer of length WIDTH with the condition; returns it."""
    buf.fill(0.0)
    for i in condition_index(bar_tick, chord, beats_per_bar, prev, middle, changed):
        buf[i] = 1.0
    return buf
