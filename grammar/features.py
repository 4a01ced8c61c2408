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

Version 3 (issue 19) adds what a player's phrasing and tempo depend on:

- the phrase so far: how long since the phrase began (its first onset after a rest or
  at the start), in bands of beats: 0 (this onset begins a phrase), up to 1, 2, 4, 8,
  16 beats, longer. In the Weimar Jazz Database the lines between rests run about 5
  beats at every tempo (4.8 below 120 bpm, 5.0 above 220), so beats, not seconds;
- the tempo, two numbers on every step: log2(bpm / 140) and the beat's length in
  seconds. Players play denser at slow tempi (notes per beat 2.24 below 120 bpm, 1.28
  above 220 in the corpus's solos); a tempo-blind model plays the same at every tempo.

Version 2 models (the vectors without the last two groups, WIDTH_V2 wide) still load:
`condition_into` fills what the buffer's width holds.

The same function runs at training time and in the daemon, so both see identical
vectors. `condition_into` fills a preallocated buffer for the hot path.
"""

import math

from jazzd.grammar.meter import beat_strength
from jazzd.grammar.pitch import TPQ

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
WIDTH_V2 = CHANGE_OFFSET + 2
HOT = 6                                      # ones of the first six groups
PHRASE_EDGES = (0, 12, 24, 48, 96, 192)      # ticks since the phrase began: band edges
N_PHRASE = len(PHRASE_EDGES) + 1
PHRASE_OFFSET = WIDTH_V2
TEMPO_OFFSET = PHRASE_OFFSET + N_PHRASE      # the dense part: log2(bpm / 140), beat seconds
N_TEMPO = 2
TEMPO_REF = 140.0
DEFAULT_BPM = 120.0                          # a corpus without tempi (the chorales)
WIDTH = TEMPO_OFFSET + N_TEMPO
HOT_V3 = HOT + 1                             # ones in a version 3 vector
SPEC_V2 = {"name": "beatpos12+strength3+family8+degree13+height9+change2",
           "version": 2, "width": WIDTH_V2, "families": list(FAMILIES),
           "strengths": list(STRENGTHS), "height_edges": list(HEIGHT_EDGES)}
VERSION = 3
SPEC = dict(SPEC_V2, name=SPEC_V2["name"] + "+phrase7+tempo2", version=VERSION,
            width=WIDTH, phrase_edges=list(PHRASE_EDGES), tempo=["log2(bpm/140)",
                                                                "seconds per beat"])
SPECS = {2: SPEC_V2, 3: SPEC}

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


def phrase_band(since):
    """The band (0-6) of `since`, the ticks from the phrase's first onset to this one;
    0 (None or 0) when this onset begins a phrase."""
    if not since:
        return 0
    band = 0
    for edge in PHRASE_EDGES:
        if since > edge:
            band += 1
    return band


def tempo_features(bpm):
    """The dense tempo part: (log2(bpm / 140), seconds per beat)."""
    bpm = float(bpm) if bpm else DEFAULT_BPM
    return (math.log2(bpm / TEMPO_REF), 60.0 / bpm)


def condition(bar_tick, chord, beats_per_bar=4, prev=None, middle=None, changed=False,
              since=None, bpm=None, width=WIDTH):
    """The condition vector (a list of `width` floats: WIDTH, or WIDTH_V2 for a
    version 2 model)."""
    v = [0.0] * width
    for i in condition_index(bar_tick, chord, beats_per_bar, prev, middle, changed):
        v[i] = 1.0
    if width > WIDTH_V2:
        v[PHRASE_OFFSET + phrase_band(since)] = 1.0
        v[TEMPO_OFFSET:TEMPO_OFFSET + N_TEMPO] = tempo_features(bpm)
    return v


def condition_into(buf, bar_tick, chord, beats_per_bar=4, prev=None, middle=None,
                   changed=False, since=None, tempo=None):
    """Fill a preallocated numpy buffer with the condition; returns it. A buffer
    WIDTH wide also gets the phrase band of `since` and `tempo`, the two tempo
    features (`tempo_features`, precomputed by the caller: the hot path does no
    logarithm); WIDTH_V2 wide, the version 2 vector alone."""
    buf.fill(0.0)
    for i in condition_index(bar_tick, chord, beats_per_bar, prev, middle, changed):
        buf[i] = 1.0
    if len(buf) > WIDTH_V2:
        buf[PHRASE_OFFSET + phrase_band(since)] = 1.0
        if tempo is None:
            tempo = tempo_features(None)
        buf[TEMPO_OFFSET] = tempo[0]
        buf[TEMPO_OFFSET + 1] = tempo[1]
    return buf
