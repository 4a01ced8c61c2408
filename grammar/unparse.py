"""Unparsing: one value plus its context gives one pitch (GRAMMAR.md, "Unparsing").

The daemon calls `realize` a few milliseconds before each onset, against the chord
sounding at that instant, so it must stay far below 0.1 ms: it only tests bits of the
chord's precomputed masks over a window of a few semitones.

The rules:

- R, or no chord sounding, gives None (a rest).
- A value with an exact step (the model's choice) is played as `prev + step`, folded
  into the register by octaves, when that pitch is of the value's kind over the chord
  sounding now. Only when the chord makes it wrong for its kind (a change the plan
  did not foresee) does the grammar take over: the nearest pitch of that kind to it,
  ties the way the step points. So the line keeps the model's contour and motifs,
  and the late binding still has the last word on the harmony.
- Candidates are the pitches of the value's kind (A stays A and X stays X: seed bug 5;
  S comes from the same chord scale `classify` uses: seed bug 6) inside
  `prev + lo .. prev + hi` and inside the register `[low, high]`.
- The previous pitch is left out when there is another choice, and always when it has
  already sounded `max_repeats` times in a row (`repeats` says how many times it has).
- One candidate is chosen with `rng`, so a seed makes the line reproducible.
- No candidate in the window: the nearest pitch of that kind to `prev` in the register
  (ties go the way the window points), not "prev +- a whole step".
- A phrase's first note (no window) is drawn within a tritone of the register's centre,
  or of `prev` when there is one (a phrase restarts near where the last one ended);
  an anchor outside the register is first moved into it by octaves.
- A kind with no pitch in the register (e.g. X over a chord whose tones, scale and
  approach tones cover all 12) falls back X -> A -> S -> C. None if nothing fits.
"""

from jazzd.grammar.values import kind_mask

_CHAINS = {"C": ("C",), "S": ("S", "C"), "A": ("A", "S", "C"), "X": ("X", "A", "S", "C")}
_START_RADIUS = 6  # 13 semitones around the anchor hold every pitch class once


def _choose(mask, a, b, prev, no_repeat, rng):
    """A random pitch of `mask` in [a, b], leaving out prev when possible (or always)."""
    cands = []
    for p in range(a, b + 1):
        if mask >> (p % 12) & 1 and p != prev:
            cands.append(p)
    if cands:
        return cands[int(rng.random() * len(cands))] if len(cands) > 1 else cands[0]
    if not no_repeat and prev is not None and a <= prev <= b and mask >> (prev % 12) & 1:
        return prev
    return None


def _nearest(mask, anchor, low, high, prev, no_repeat, rng, direction):
    """The pitch of `mask` in [low, high] nearest to `anchor` (not prev, if avoidable)."""
    for d in range(1, max(anchor - low, high - anchor) + 1):
        down, up = anchor - d, anchor + d
        ok_down = down >= low and down <= high and mask >> (down % 12) & 1 and down != prev
        ok_up = up <= high and up >= low and mask >> (up % 12) & 1 and up != prev
        if ok_down and ok_up:
            if direction == 0:
                return up if rng.random() < 0.5 else down
            return up if direction > 0 else down
        if ok_up:
            return up
        if ok_down:
            return down
    if low <= anchor <= high and mask >> (anchor % 12) & 1 and (anchor != prev or not no_repeat):
        return anchor
    return None


def realize(value, prev, chord, low, high, rng, max_repeats=2, repeats=0):
    """The pitch (MIDI number) to play for `value` over `chord`, or None for a rest.

    `value` is a Value (kind, ticks, lo, hi); `prev` the previous sounded pitch or None;
    `low`..`high` the register (inclusive); `rng` a random.Random; `repeats` how many
    times in a row `prev` has just sounded.
    """
    kind = value[0]
    if kind == "R" or not chord:
        return None
    chain = _CHAINS.get(kind)
    if chain is None:
        raise ValueError(f"cannot realise a value of kind {kind!r}")
    if low > high:
        raise ValueError(f"empty register: lowest note {low} is above highest note {high}")
    no_repeat = repeats >= max_repeats
    lo, hi = value[2], value[3]
    step = value[4] if len(value) > 4 else None
    if step is not None and prev is not None:
        return _realize_step(chain, prev + step, step, prev, chord, low, high, no_repeat,
                             rng)
    for k in chain:
        mask = kind_mask(k, chord)
        if not mask:
            continue
        if prev is None or lo is None:
            # phrase start: near the centre, or near where the last phrase ended
            anchor = (low + high) // 2 if prev is None else prev
            while anchor > high and anchor - 12 >= low:
                anchor -= 12
            while anchor < low and anchor + 12 <= high:
                anchor += 12
            p = _choose(mask, max(anchor - _START_RADIUS, low), min(anchor + _START_RADIUS, high),
                        prev, no_repeat, rng)
            if p is None:
                p = _nearest(mask, min(max(anchor, low), high), low, high, prev, no_repeat, rng, 0)
        else:
            p = _choose(mask, max(prev + lo, low), min(prev + hi, high), prev, no_repeat, rng)
            if p is None:
                p = _nearest(mask, prev, low, high, prev, no_repeat, rng, lo + hi)
        if p is not None:
            return p
    return None


def _fold(pitch, low, high):
    """`pitch` moved by octaves into [low, high] (as near as the register allows)."""
    while pitch > high and pitch - 12 >= low:
        pitch -= 12
    while pitch < low and pitch + 12 <= high:
        pitch += 12
    return min(max(pitch, low), high)


def _realize_step(chain, target, step, prev, chord, low, high, no_repeat, rng):
    """The target pitch if it is of the value's kind, else the nearest that is."""
    target = _fold(target, low, high)
    for k in chain:
        mask = kind_mask(k, chord)
        if not mask:
            continue
        if mask >> (target % 12) & 1 and not (no_repeat and target == prev):
            return target
        p = _nearest(mask, target, low, high, prev if no_repeat or target != prev else None,
                     no_repeat, rng, step)
        if p is not None:
            return p
    return None


def realize_line(values, timeline, low, high, rng, start=0, prev=None, max_repeats=2):
    """Realise a whole list of values offline: [(onset, ticks, pitch or None)].

    Each value is bound against the chord at its own onset (never at the end of its
    slot: seed bug 2), exactly as the daemon does one value at a time.
    """
    out = []
    t = start
    repeats = 1 if prev is not None else 0
    for v in values:
        p = realize(v, prev, timeline.at(t), low, high, rng, max_repeats, repeats)
        if p is not None:
            repeats = repeats + 1 if p == prev else 1
            prev = p
        out.append((t, v.ticks, p))
        t += v.ticks
    return out
