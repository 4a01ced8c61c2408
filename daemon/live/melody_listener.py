"""The player's melody: notes at or above `midi.split_note` on the chord channels, and
every note on `interplay.melody_channels`, put on the clock's beat grid and handed to
the improviser thread, which hears them (trading, docs/LIVE.md).

All mutations happen on the dispatcher thread, which owns this listener as it owns the
chord listener. The improviser reads:

- `events`, a queue of tuples, each tagged with the clock's generation (a Start, a
  song position or a new bar 1 makes older positions meaningless):
  ("on", generation, t, beats, pitch, chord) when the line's note starts,
  ("off", generation, t, beats, pitch) when its sound stops,
  ("chord", generation, t, pitch, chord) when a chord is struck just after the
  line's note (`CHORD_SLACK`): the chord at its onset is that one;
- `settings`, an `Interplay` tuple swapped whole (the config's, with the mode a CC
  may switch);
- `down`, how many melody keys are held (answer mode waits for none).

The line is monophonic: a note-on makes the new note the line's (a note overlapping
the next ends where the next starts), and only the line's note sends an "off". With
the mode off nothing is queued, as the melody was ignored before trading existed.
"""

import queue
from typing import NamedTuple

CHORD_SLACK = 0.03     # s: a chord struck this soon after a melody onset is its chord


class MelodyEvent(NamedTuple):
    """What the improviser's ear is told: a note of the player's line began ("on") or
    ended ("off") at beat `beat`, or a chord was struck with it ("chord": `beat` is
    None, `chord` the chord heard with that note)."""
    kind: str
    generation: int          # the clock's generation it was counted in
    t: float                 # arrival time (s)
    beat: object             # the clock's beat (float), or None for "chord"
    note: int
    chord: object = None     # the chord at the note (on, chord), or None


class Interplay(NamedTuple):
    mode: str                  # "off", "trade" or "answer"
    trade_bars: int
    first: str                 # "player" or "jazzd"
    answer_after_beats: float
    echo: float


def interplay_of(inter_cfg, mode=None):
    return Interplay(mode or inter_cfg["mode"], inter_cfg["trade_bars"], inter_cfg["first"],
                     float(inter_cfg["answer_after_beats"]), float(inter_cfg["echo"]))


def chord_midi(midi_cfg, inter_cfg):
    """The `midi` section as the chord listener sees it: melody channels are not chord
    channels (with `chord_channels: all`, all the others are)."""
    melody = set(inter_cfg["melody_channels"])
    if not melody:
        return midi_cfg
    chans = midi_cfg["chord_channels"]
    chans = range(1, 17) if chans == "all" else chans
    return dict(midi_cfg, chord_channels=[c for c in chans if c not in melody])


class MelodyListener:
    """`clock()` gives the current clock (swapped on a reload), `chord_now()` the chord
    to stamp a note with (the chord listener's binding chord)."""

    def __init__(self, midi_cfg, inter_cfg, clock, chord_now):
        self.clock = clock
        self.chord_now = chord_now
        self.events = queue.SimpleQueue()
        self._keys = set()          # (channel, note) held, 0-based channels
        self.down = 0
        self._line = None           # (channel, note, time) of the line's note sounding
        self.last_t = None          # time of the last melody note event
        self.configure(midi_cfg, inter_cfg)

    def configure(self, midi_cfg, inter_cfg, t=None):
        """New settings (a reload; the mode comes from the file again). Keys that no
        longer count are released now, at `t`: their note-offs would not count, and the
        line's note would stay sounding to the ear for good (an answer never comes)."""
        self.melody_channels = frozenset(c - 1 for c in inter_cfg["melody_channels"])
        chans = midi_cfg["chord_channels"]
        chord = frozenset(range(16)) if chans == "all" else frozenset(c - 1 for c in chans)
        self.chord_channels = chord - self.melody_channels
        self.split = midi_cfg["split_note"]
        self.settings = interplay_of(inter_cfg)
        for key in [k for k in self._keys if not self.counts(*k)]:
            self._release(t, key)

    def set_mode(self, mode):
        """The mode switched live (a CC)."""
        self.settings = self.settings._replace(mode=mode)

    def counts(self, ch, note):
        """Is this note (0-based channel) the player's melody?"""
        return ch in self.melody_channels or (
            self.split is not None and note >= self.split and ch in self.chord_channels)

    # -- events (dispatcher thread) --------------------------------------------------

    def note_on(self, t, ch, note, velocity):
        if velocity == 0:
            return self.note_off(t, ch, note)
        if not self.counts(ch, note):
            return False
        self._keys.add((ch, note))
        self.down = len(self._keys)
        self.last_t = t
        self._line = (ch, note, t)
        if self.settings.mode != "off":
            clock = self.clock()
            if clock.counting():
                self.events.put(MelodyEvent("on", clock.generation, t, clock.beat_at(t), note,
                                 self.chord_now()))
        return True

    def note_off(self, t, ch, note):
        if not self.counts(ch, note) or (ch, note) not in self._keys:
            return False            # a note-off without its note-on
        self._release(t, (ch, note))
        return True

    def _release(self, t, key):
        self._keys.discard(key)
        self.down = len(self._keys)
        if t is not None:
            self.last_t = t
        if self._line is not None and self._line[:2] == key:
            self._line = None
            if self.settings.mode != "off" and t is not None:
                clock = self.clock()
                if clock.counting():
                    self.events.put(MelodyEvent("off", clock.generation, t,
                                                clock.beat_at(t), key[1]))

    def chord_struck(self, t, chord):
        """The chord listener heard a change at `t`: a chord struck with the line's
        note, a moment after it, is the chord at that note's onset."""
        line = self._line
        if line is not None and t - line[2] <= CHORD_SLACK and chord \
                and self.settings.mode != "off":
            self.events.put(MelodyEvent("chord", self.clock().generation, t, None, line[1],
                                        chord))

    def idle(self, t, seconds):
        """No melody key held, and none played for `seconds` before `t`."""
        return not self._keys and (self.last_t is None or t - self.last_t >= seconds)

    def panic(self, t, ch):
        """All notes off (or sound off, or reset all controllers) on channel `ch`."""
        for key in [k for k in self._keys if k[0] == ch]:
            self.note_off(t, *key)

    def reset(self, t):
        """The input device went away: nothing is held any more."""
        for key in list(self._keys):
            self.note_off(t, *key)


def describe_interplay(cfg):
    """One log line on how jazzd listens to the player's melody."""
    inter, midi = cfg["interplay"], cfg["midi"]
    where = []
    if midi["split_note"] is not None:
        where.append(f"notes from {midi['split_note']} up")
    if inter["melody_channels"]:
        where.append("channel(s) " + ", ".join(map(str, inter["melody_channels"])))
    how = {"off": "off (the melody is not listened to)",
           "trade": f"trading {inter['trade_bars']} bars, {inter['first']} first",
           "answer": f"answering after {inter['answer_after_beats']:g} beat(s) of "
                     f"silence"}[inter["mode"]]
    return f"{how}; melody: {' and '.join(where) or 'none'}; echo {inter['echo']:g}"
