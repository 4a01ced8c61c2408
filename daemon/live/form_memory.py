"""The chord form: the changes heard, by beat, and the form they repeat as, if any.

A standard played chorus after chorus, or a vamp, repeats its changes. Once it has,
in the few milliseconds between a change's predicted beat and the chord's arrival,
the memory offers the chord that came there last time. A sequencer sends the new
chord on the beat, at the same moment as a note of ours that must be bound a few ms
*before* the beat to sound on it: without anticipation that note would always be
bound to the old chord.

Threads: the dispatcher records; the improviser predicts. Every record publishes an
immutable view (beats, chords, form), swapped whole, so a reader never sees the lists
half trimmed or a beat paired with the wrong chord.
"""

import bisect
import logging

log = logging.getLogger("jazzd.chords")


class FormMemory:
    """The chord changes heard, by beat, and the repeating form they make, if any.

    A form of L beats (a whole number of bars from BARS) holds when every change of
    the last L beats repeats one L beats earlier (same chord, within TOL beats) and
    vice versa, with at least MIN_CHANGES changes in it. The shortest such L is used.
    """

    BARS = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64)
    TOL = 0.5            # beats
    WINDOW = 0.5         # beats after a predicted change in which it is anticipated
    MIN_CHANGES = 3
    SPAN_BARS = 4        # a short form must hold over at least this many bars
    MERGE = 0.25         # beats: a change this soon after the last one replaces it

    def __init__(self, beats_per_bar=4):
        self.beats_per_bar = beats_per_bar
        self.reset()

    def reset(self):
        self._beats = []     # change positions in beats, ascending (dispatcher only)
        self._chords = []    # the chord from each change on
        self._form = None    # the form's length in beats, or None
        self._publish()

    def _publish(self):
        self.view = (tuple(self._beats), tuple(self._chords), self._form)

    @property
    def beats(self):
        return self.view[0]

    @property
    def chords(self):
        return self.view[1]

    @property
    def form(self):
        return self.view[2]

    def record(self, beat, chord):
        """A change to `chord` at `beat`. A beat earlier than the last one (the master
        restarted) starts the memory again."""
        beats, chords = self._beats, self._chords
        if beats and beat < beats[-1] - self.TOL:
            self.reset()
            beats, chords = self._beats, self._chords
        if chords and chord == chords[-1]:
            return
        log.debug("chord change to %s at beat %.3f", chord.symbol, beat)
        if beats and beat - beats[-1] < self.MERGE:
            chords[-1] = chord                # the same change, still settling
        else:
            beats.append(beat)
            chords.append(chord)
        keep = 2 * self.BARS[-1] * self.beats_per_bar
        while beats and beats[0] < beat - keep:
            del beats[0], chords[0]
        form = self._find_form(beats, chords)
        if form != self._form:
            if form:
                log.info("the chord changes repeat every %d bars: anticipating them",
                         form // self.beats_per_bar)
            else:
                log.info("the chord changes no longer repeat as a form")
        self._form = form
        self._publish()

    @staticmethod
    def _changes_in(beats, chords, lo, hi):
        i = bisect.bisect_left(beats, lo)
        j = bisect.bisect_left(beats, hi)
        return list(zip(beats[i:j], chords[i:j]))

    def _find_form(self, beats, chords):
        """The shortest L under which the changes heard so far repeat.

        The latest changes that have a place L beats earlier inside the memory are
        compared with what was heard there: the same chords at the same places (within
        TOL), nothing more, nothing less, and at least MIN_CHANGES of them. So a form
        is recognised as soon as its second time round has confirmed a few changes.
        """
        if len(beats) <= self.MIN_CHANGES:
            return None
        first, last = beats[0], beats[-1]
        for bars in self.BARS:
            L = bars * self.beats_per_bar
            if last - first < L - self.TOL:
                break
            span = max(L, self.SPAN_BARS * self.beats_per_bar)
            recent = self._changes_in(beats, chords,
                                      max(first + L - self.TOL, last - span + self.TOL),
                                      last + self.TOL)
            if len(recent) < self.MIN_CHANGES:
                continue
            earlier = self._changes_in(beats, chords, recent[0][0] - L - self.TOL,
                                       recent[-1][0] - L + self.TOL)
            if len(recent) == len(earlier) and \
                    all(c1 == c0 and abs(b1 - L - b0) <= self.TOL
                        for (b0, c0), (b1, c1) in zip(earlier, recent)):
                return L
        return None

    def chord_before(self, beat, view=None):
        """The chord recorded as sounding just before `beat`, or None."""
        beats, chords, _ = view or self.view
        i = bisect.bisect_left(beats, beat) - 1
        return chords[i] if i >= 0 else None

    def predict(self, beat, current):
        """The chord expected at `beat` if a change is due there and has not come yet.

        A change heard L beats earlier at c - L (c within WINDOW before `beat`) predicts
        one at c, provided the chord now is the one that came before it last time and
        no change has been heard since c - TOL.
        """
        view = self.view                    # one consistent snapshot for the whole answer
        beats, chords, L = view
        if L is None or not current:
            return None
        found = self._changes_in(beats, chords, beat - L - self.WINDOW, beat - L + 0.02)
        if not found:
            return None
        b0, chord = found[-1]
        if beats[-1] >= b0 + L - self.TOL:
            return None                     # a change was heard there already
        if chord != current and self.chord_before(b0, view) == current:
            return chord
        return None

    def quiet(self, beat):
        """True when the form is known and last time round no change came near `beat`:
        no chord is due to land there, so a note on it need not wait for one."""
        beats, chords, L = self.view
        return L is not None and not self._changes_in(beats, chords, beat - L - self.TOL,
                                                      beat - L + self.TOL)
