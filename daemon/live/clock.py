"""Where the beat is: an internal tempo, or external MIDI clock (24 ticks per quarter).

Both clocks answer the same two questions, in `time.monotonic()` seconds and in beats
(quarter notes, float, beat 0 = start):

- `time_of(beat)`: when will (or did) this beat sound?
- `beat_at(t)`: which beat is it at time t?

The internal clock is here; the MIDI clock, which follows an external master, is in
midi_clock.py.
"""

import time

from jazzd.live.midi_clock import PPQN, MidiClock

__all__ = ["PPQN", "InternalClock", "MidiClock", "make_clock"]


class InternalClock:
    """A steady tempo; `set_bpm` changes it without moving the current beat."""

    source = "internal"

    def __init__(self, bpm, now=None):
        now = time.monotonic() if now is None else now
        self._state = (now, 0.0, 60.0 / bpm)     # anchor time, anchor beat, sec/beat
        self.generation = 0

    def set_bpm(self, bpm, now=None):
        """New tempo from `now` on; the beat at `now` stays where it is."""
        now = time.monotonic() if now is None else now
        beat = self.beat_at(now)
        self._state = (now, beat, 60.0 / bpm)

    def restart(self, t):
        """Beat 0 is now `t`: the first note after silence when trading, as a MIDI
        Start is with an external clock (planned notes are thrown away)."""
        self._state = (t, 0.0, self._state[2])
        self.generation += 1

    @property
    def bpm(self):
        return 60.0 / self._state[2]

    def seconds_per_beat(self):
        return self._state[2]

    def running(self, now=None):
        return True

    def counting(self):
        return True

    def beat_at(self, t):
        t0, b0, spb = self._state
        return b0 + (t - t0) / spb

    def time_of(self, beat):
        t0, b0, spb = self._state
        return t0 + (beat - b0) * spb

    def describe(self):
        return f"{self.bpm:.1f} bpm (internal)"


def make_clock(tempo_cfg, now=None):
    if tempo_cfg["source"] == "clock":
        return MidiClock(tempo_cfg["bpm"])
    return InternalClock(tempo_cfg["bpm"], now)
