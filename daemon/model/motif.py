"""Motif memory: the line restates and sequences its own recent ideas (and, when
trading, the player's).

Human choruses come back to their ideas: interval 4-grams recur within a chorus
several times as often as in a line an LSTM samples on its own. This is a copy step
in the spirit of a cache language model: the memory keeps the last `size` notes, each
as (duration index, step index), with the first note of every phrase marked; when
the last notes of the phrase so far (up to `order` of them) were heard before, what
followed them then is proposed, the most recent match weighing most, and the
performer mixes the proposal into each head with the style's `motif` weight. Steps
are relative, so a copied figure is sequenced: it starts from wherever the line is,
and each note is still bound late against the chord sounding.

A context never reaches back across a phrase start: a new phrase is matched against
the beginnings of earlier phrases, which is how a player restates an idea.
"""

FIRST = "first"              # the context key of a phrase's first note


class MotifMemory:
    """The recent notes of the line; `propose()` lists what followed the current
    context before."""

    def __init__(self, size=48, order=2, decay=0.8):
        self.size = size
        self.order = order
        self.decay = decay
        self.keys = []            # step index, or FIRST for a phrase's first note
        self.notes = []           # (dur index, step index, kind index)
        self._rested = True

    def reset(self):
        self.keys.clear()
        self.notes.clear()
        self._rested = True

    def rest(self):
        """A rest was played: the next note starts a phrase."""
        self._rested = True

    def note(self, dur, step, kind=None):
        """A note was played: duration index `dur`, step index `step` (None: no step),
        kind index `kind` (what it was against its own chord)."""
        self.keys.append(FIRST if self._rested or step is None else step)
        self.notes.append((dur, step, kind))
        self._rested = False
        if len(self.keys) > self.size:
            del self.keys[0], self.notes[0]

    def context(self):
        """The keys of the current phrase's last notes (at most `order`), or None at a
        phrase's first note (nothing of the phrase to match yet)."""
        if self._rested or not self.keys:
            return None
        ctx = []
        for key in reversed(self.keys):
            ctx.append(key)
            if key == FIRST or len(ctx) == self.order:
                break
        return tuple(reversed(ctx))

    def propose(self):
        """[(dur index, step index, kind index, weight)]: the notes that followed the
        current context earlier in the memory; empty when the context is new."""
        ctx = self.context()
        if ctx is None:
            return []
        n, keys = len(ctx), self.keys
        out, w = [], 1.0
        for end in range(len(keys) - 2, n - 2, -1):       # not the context itself
            if tuple(keys[end - n + 1:end + 1]) == ctx and keys[end + 1] != FIRST:
                dur, step, kind = self.notes[end + 1]
                out.append((dur, step, kind, w))
                w *= self.decay
        return out
