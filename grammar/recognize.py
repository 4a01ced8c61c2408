"""Chord recognition from MIDI note numbers: what a player's hands give -> a Chord.

One call is a dict lookup. The table is built once, at import: for every root and
every recognisable quality, the pitch-class mask of the full chord and of each
voicing that leaves out what players leave out (the 5th, the 9th under an 11th or
13th, and the root of the rootless jazz voicings). A query's mask finds its candidates,
which are scored, and the answer is memoised per (mask, bass pitch class).

Scoring (lower wins), one simple rule:

    cost = bass + omitted + 1.2 * extra - 0.3 * prior

- bass: what the lowest note is in the candidate. Its root: 0. Its 3rd, 5th or 7th: 0.6
  (an inversion, returned as a slash chord "C/E"). Its 6th or sus tone: 0.8.
  A tension (9, 11, 13, an alteration): 1.4. Not in the chord at all: 1.6 (a slash
  chord over a foreign bass). A rootless voicing has no bass role: 1.0 flat, and it is
  returned without a slash ("B F A E" -> G13).
- omitted: 0.15 for each left-out 5th or 9th (the root's cost is in the 1.0 above; a
  rootless voicing's missing 5th is free). Only chords with a 3rd drop their 9th.
- extra: notes the candidate does not explain; tried only when nothing fits exactly.
- prior: how common the quality is in charts (jazzd.grammar.chords.QUALITIES), 0..1.

So the bass decides between readings of one pitch-class set (C E G A over C is C6,
over A is Am7), and the quality prior decides between readings with the same bass role
(the tritone-substitution twins B F A E: G13, not Db7alt). Fewer than three pitch
classes, or a set that nothing explains at a cost up to 2.5 (a cluster), is NO_CHORD.
"""

import operator
from itertools import combinations

from jazzd.grammar.chords import NO_CHORD, QUALITIES, Chord, _degree
from jazzd.grammar.pitch import rotate

# qualities a player's voicing is named with (the rarer generated dominants only parse)
RECOGNIZABLE = (
    "maj", "m", "dim", "aug", "sus4", "sus2", "6", "m6", "69", "m69", "add9", "madd9",
    "maj7", "maj9", "maj13", "maj7#11", "maj7#5", "mmaj7", "mmaj9",
    "m7", "m9", "m11", "m13", "m7b5", "m9b5", "dim7",
    "7", "9", "13", "7sus4", "9sus4", "13sus4", "7b9sus4", "7alt",
    "7b9", "7#9", "7#11", "7b13", "aug7", "7b5", "13b9", "13#11", "9#11",
    "7b9b13", "7#9b13", "7b9#11", "9#5",
)
# which qualities may be voiced without their root (3-7-9-13 and 7-3-13-9 and kin)
ROOTLESS = {"9", "13", "7b9", "7#9", "13b9", "13#11", "9#11", "7alt", "7b9b13", "7#9b13",
            "m9", "maj9", "69", "m69", "mmaj9", "13sus4"}
# qualities that keep their 5th: without it they read as something more common
KEEP_FIFTH = {"6", "m6", "maj7#11"}

BASS_ROOT, BASS_INVERSION, BASS_SIXTH, BASS_TENSION, BASS_FOREIGN = 0.0, 0.6, 0.8, 1.4, 1.6
ROOTLESS_COST, OMIT_COST, EXTRA_COST, PRIOR_WEIGHT = 1.0, 0.15, 1.2, 0.3
MAX_COST = 2.5  # an extra note over an odd bass is a cluster, not a chord


def _role_cost(degree):
    number = degree.lstrip("b#")
    if number == "1":
        return BASS_ROOT
    if number in ("3", "5", "7"):
        return BASS_INVERSION
    if number in ("6", "2", "4"):
        return BASS_SIXTH
    return BASS_TENSION


def _variants(quality):
    """(relative mask, omitted cost, rootless, {relative pc: bass cost}) for each voicing."""
    q = QUALITIES[quality]
    degrees = q.degrees
    optional = []
    has_third = "3" in degrees or "b3" in degrees
    if "5" in degrees and len(degrees) >= 4 and quality not in KEEP_FIFTH:
        optional.append("5")
    if "9" in degrees and has_third and any(d.lstrip("b#") in ("11", "13") for d in degrees):
        optional.append("9")
    if quality in ROOTLESS:
        optional.append("1")
    out = []
    for n in range(len(optional) + 1):
        for left_out in combinations(optional, n):
            kept = [d for d in degrees if d not in left_out]
            if len(kept) < 3 or ("5" in left_out and not has_third and len(kept) < 4):
                continue  # 1-3-7 is a shell; 1-4-b7 is more likely a sus4 inversion
            rootless = "1" in left_out
            roles = {_degree(d)[0]: _role_cost(d) for d in kept}
            rel = 0
            for pc in roles:
                rel |= 1 << pc
            # a rootless voicing leaves out the 5th as a matter of course
            omitted = OMIT_COST * sum(d != "1" and not (rootless and d == "5") for d in left_out)
            out.append((rel, omitted, rootless, roles))
    return out


def _build_table():
    table = {}
    for quality in RECOGNIZABLE:
        prior = QUALITIES[quality].prior
        for rel, omitted, rootless, roles in _variants(quality):
            base = omitted - PRIOR_WEIGHT * prior
            for root in range(12):
                costs = [None] * 12
                for pc, cost in roles.items():
                    costs[(pc + root) % 12] = cost
                table.setdefault(rotate(rel, root), []).append(
                    (base, -prior, quality, root, rootless, tuple(costs)))
    return table


TABLE = _build_table()
_MEMO = {}


def _best(mask, bass, extra_cost):
    """Best (cost, -prior, quality, root above bass, root, chord-bass) reading of `mask`
    over `bass`. Ties break on names relative to the bass, so the answer transposes."""
    best = None
    for base, neg_prior, quality, root, rootless, costs in TABLE.get(mask, ()):
        rel = (root - bass) % 12
        if rootless:
            cand = (base + ROOTLESS_COST + extra_cost, neg_prior, quality, rel, root, None)
        else:
            cand = (base + costs[bass] + extra_cost, neg_prior, quality, rel, root,
                    None if root == bass else bass)
        if best is None or cand < best:
            best = cand
    bit = 1 << bass
    for base, neg_prior, quality, root, rootless, costs in TABLE.get(mask & ~bit, ()):
        if not rootless:  # a slash chord over a bass that is not a chord tone
            cand = (base + BASS_FOREIGN + extra_cost, neg_prior, quality, (root - bass) % 12,
                    root, bass)
            if best is None or cand < best:
                best = cand
    return best


def _solve(mask, bass):
    best = _best(mask, bass, 0.0)
    others = [pc for pc in range(12) if mask >> pc & 1 and pc != bass]
    for n_extra in (1, 2):
        if best is not None and best[0] <= n_extra * EXTRA_COST - PRIOR_WEIGHT:
            break  # nothing with more unexplained notes can win
        for dropped in combinations(others, n_extra):
            m = mask
            for pc in dropped:
                m &= ~(1 << pc)
            cand = _best(m, bass, n_extra * EXTRA_COST)
            if cand is not None and (best is None or cand < best):
                best = cand
    if best is None or best[0] > MAX_COST:
        return NO_CHORD
    _, _, quality, _, root, chord_bass = best
    return Chord(root, quality, chord_bass)


def recognize(notes):
    """The chord of some MIDI note numbers (any order, doubled, spread over octaves).

    The lowest note is the bass. Returns NO_CHORD for fewer than three distinct pitch
    classes, an empty input, or a set no chord explains. Raises ValueError naming the
    bad item for anything that is not a MIDI note number 0-127.
    """
    mask = 0
    low = 128
    try:
        it = iter(notes)
    except TypeError:
        raise ValueError(f"notes must be MIDI note numbers, not {notes!r}") from None
    for n in it:
        try:
            if n is True or n is False:
                raise TypeError
            n = operator.index(n)
        except TypeError:
            raise ValueError(f"not a MIDI note number: {n!r}") from None
        if not 0 <= n <= 127:
            raise ValueError(f"MIDI note out of range 0-127: {n}")
        mask |= 1 << (n % 12)
        if n < low:
            low = n
    key = (mask, low % 12)
    chord = _MEMO.get(key)
    if chord is None:
        if bin(mask).count("1") < 3:
            return NO_CHORD
        chord = _MEMO[key] = _solve(mask, low % 12)
    return chord
