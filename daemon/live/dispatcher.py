"""The dispatcher thread: reads the MIDI input and routes every message.

Notes and the sustain pedal go to the chord listener, the player's melody (notes at
or above the split, notes on melody channels) to the melody listener, clock messages
to the MIDI clock, mapped CCs to the live controls; it also runs the listener's
debounce and hold timers. It is the only thread that mutates the two listeners, so
other threads ask it for a reset or a new configuration through its queue
(`post_reset`, `post_configure`). Bad input is counted and logged, rate-limited;
nothing raises.

Trading adds two things done here, where the player's notes arrive first: with the
internal clock, the first note after silence is the downbeat of bar 1
(`InternalClock.restart`); in answer mode, a melody note while jazzd answers silences
jazzd at once.

The thread sleeps until the input has something (its `fileno()` is readable: the
port's callback rings it), a timer of the listener is due, or another thread posts an
item; it never polls. Each message comes stamped with its arrival time (on JACK, the
frame it came in at).
"""

import logging
import queue
import select
import threading
import time

# Imported here, when the daemon starts, not where it is used (_split): its first import
# (mido pulls in some 90 modules: email, importlib.metadata, zipfile...) took 50-190 ms
# of this thread, holding the interpreter and import locks for much of it, in the middle
# of a performance, at the first sysex cut short by another message.
import mido

from jazzd.live.controls import apply_cc, apply_interplay_cc
from jazzd.live.doorbell import Doorbell
from jazzd.live.melody_listener import chord_midi
from jazzd.live.scheduler import try_realtime
from jazzd.service import logs

log = logging.getLogger("jazzd.run")

IDLE_WAIT = 0.5              # s: the longest sleep (the input and the queue wake it)
# Internal items travel through the queue as tuples (MIDI data are lists).
_RESET = "reset"
_CONFIGURE = "configure"


class Dispatcher(threading.Thread):
    """Parses raw MIDI from the input and routes it. Never raises on bad input.

    What a reload may swap is given as a callable that returns the current one: the
    input port `inp()`, the clock `clock()`, the config `cfg()`, the performer
    `performer()`; `speaking()` says whether jazzd is answering the player now;
    `heard()` is called after a pass that handled anything (the improviser looks at
    once). The two listeners and the scheduler live as long as the daemon."""

    def __init__(self, inp, clock, cfg, performer, listener, melody, scheduler,
                 speaking=lambda: False, heard=lambda: None):
        super().__init__(name="jazzd-dispatcher", daemon=True)
        self.inp, self.clock, self.cfg, self.performer = inp, clock, cfg, performer
        self.listener, self.melody, self.scheduler = listener, melody, scheduler
        self.speaking, self.heard = speaking, heard
        self.queue = queue.SimpleQueue()     # internal items from other threads
        self.bell = Doorbell()               # rung with each of them
        self._halt = threading.Event()
        midi_log = logging.getLogger("jazzd.midi")
        self.bad = logs.RateLimiter(midi_log)                      # malformed: a warning
        self.odd = logs.RateLimiter(midi_log, level=logging.INFO)  # legal, but not for us
        self.messages = 0
        self.on_error = None

    def stop(self, timeout=1.0):
        self._halt.set()
        self.bell.ring()
        if self.is_alive():
            self.join(timeout)

    def run(self):
        try_realtime(self.cfg()["midi"]["realtime_priority"])
        try:
            self._loop()
        except BaseException as e:     # noqa: BLE001
            if self.on_error is not None:
                self.on_error(e)
            else:
                raise

    def _loop(self):
        q = self.queue
        listener = self.listener
        mono = time.monotonic
        bell = self.bell
        while not self._halt.is_set():
            self.scheduler.keep_quiet()
            inp = self.inp()
            batch = inp.drain(mono())
            for t, data in batch:
                self._safe_handle(t, data)
            handled = bool(batch)
            while True:                        # internal items (reset, configure)
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    self._safe_handle(item[0], item[1])
                    handled = True
            chord = listener.chord
            next_timer = listener.poll(mono())
            if handled or listener.chord is not chord:  # (a chord settles in poll)
                self.heard()
            if len(batch) >= 1024:
                continue                       # a flood: read on without sleeping
            wait = IDLE_WAIT
            if next_timer is not None:
                wait = min(wait, max(0.0, next_timer - mono()))
            if wait > 0:
                try:
                    select.select((bell, inp), (), (), wait)
                except (OSError, ValueError):  # the input was closed meanwhile (a
                    time.sleep(0.001)          # reconnect): the next pass has the new
            bell.clear()

    def _safe_handle(self, t, data):
        try:
            self.handle(t, data)
        except Exception as e:                 # noqa: BLE001 - odd MIDI never stops us
            self.bad.warn("dispatch-error", "error handling MIDI %s: %r", _hex(data), e)

    def handle(self, t, data):
        """Route one message (a list of ints) that arrived at monotonic time `t`."""
        if data.__class__ is tuple:        # an internal item (see _RESET, _CONFIGURE)
            self._internal(t, data)
            return
        self.messages += 1
        n = len(data)
        if n == 0:
            return
        st = data[0]
        if st == 0xF0 and _merged(data):
            self._split(t, data)
            return
        if st < 0x80 or (st != 0xF0 and any(b > 0x7F for b in data[1:])):
            self.bad.warn("bad-bytes", "ignoring malformed MIDI message %s", _hex(data))
            return
        if st >= 0xF0:
            if st == 0xF0:
                self.odd.warn("sysex", "ignoring sysex messages (this one %d bytes): "
                              "jazzd has no use for them", n)
                return
            if st == 0xFE:
                return                         # active sensing: nothing to do
            clock = self.clock()
            if clock.source != "clock":
                return
            if st == 0xF8:
                clock.on_tick(t)
            elif st == 0xFA:
                clock.on_start(t)
                log.info("MIDI clock: start")
            elif st == 0xFB:
                clock.on_continue(t)
                log.info("MIDI clock: continue")
            elif st == 0xFC:
                clock.on_stop(t)
                self.scheduler.silence()
                log.info("MIDI clock: stop")
            elif st == 0xF2 and n == 3:
                clock.on_song_position(data[1] | (data[2] << 7), t)
            return
        kind = st & 0xF0
        ch = st & 0x0F
        listener, melody = self.listener, self.melody
        if (kind == 0x90 or kind == 0x80) and n == 3 and melody.counts(ch, data[1]):
            self.melody_note(t, ch, data[1], data[2] if kind == 0x90 else 0)
        elif kind == 0x90 and n == 3:
            if data[2]:
                self.downbeat(t)
            fresh = listener.fresh
            if not listener.note_on(t, ch, data[1], data[2]) and data[2] == 0 \
                    and listener.counts(ch, data[1]):
                self.odd.warn("stray-note-off", "ignoring a note-off without note-on "
                              "(channel %d, note %d)", ch + 1, data[1])
            if listener.fresh != fresh:
                melody.chord_struck(t, listener.fresh)
        elif kind == 0x80 and n == 3:
            if not listener.note_off(t, ch, data[1]) and listener.counts(ch, data[1]):
                self.odd.warn("stray-note-off", "ignoring a note-off without note-on "
                              "(channel %d, note %d)", ch + 1, data[1])
        elif kind == 0xB0 and n == 3:
            cc, value = data[1], data[2]
            if cc == 64:
                listener.sustain(t, ch, value)
            elif cc in PANIC_CCS and (ch in listener.channels
                                      or ch in melody.melody_channels):
                listener.panic(t, ch)
                melody.panic(t, ch)
                if cc != 121:                  # all notes / all sound off: now
                    self.scheduler.silence()
                log.info("CC%d (%s) on channel %d: chord released", cc, PANIC_CCS[cc],
                         ch + 1)
            self.control(ch, cc, value)

    def _split(self, t, data):
        """A sysex that swallowed other messages (python-rtmidi's JACK input reads
        everything after a lone 0xF0 as sysex until an 0xF7). MIDI says any status
        byte but a real-time one ends a sysex: split there, as mido's parser does, and
        handle what follows; real-time bytes inside (clock) count as sent."""
        parser = mido.Parser()
        parser.feed(data)
        self.odd.warn("sysex-split", "a sysex was cut short by another message; "
                      "handling the messages after it")
        for msg in parser:
            if msg.type != "sysex":
                self.handle(t, msg.bytes())

    def melody_note(self, t, ch, note, velocity):
        """A note of the player's melody (velocity 0: its end)."""
        melody = self.melody
        if velocity:
            self.downbeat(t)
            melody.note_on(t, ch, note, velocity)
            if melody.settings.mode == "answer" and self.speaking():
                self.scheduler.silence()       # the player is back: jazzd stops now
        elif not melody.note_off(t, ch, note):
            self.odd.warn("stray-note-off", "ignoring a note-off without note-on "
                          "(channel %d, note %d)", ch + 1, note)

    def downbeat(self, t):
        """Trading on the internal clock: the first note after silence (nothing held,
        no chord, no melody for `hold_beats`) is the downbeat of bar 1, as a Start is
        with MIDI clock, so the turns fall where the player counts them. Also with the
        mode off when a CC may switch it on (`controls.interplay_cc`): the turns are
        then where the tune's bars are."""
        clock, listener, melody, cfg = self.clock(), self.listener, self.melody, self.cfg()
        if clock.source != "internal" or (melody.settings.mode == "off"
                                          and cfg["controls"]["interplay_cc"] is None) \
                or listener.chord or listener.fresh or listener.sounding_notes():
            return
        hold = cfg["midi"]["hold_beats"] * clock.seconds_per_beat()
        if not melody.idle(t, max(hold, clock.seconds_per_beat())):
            return
        clock.restart(t)
        listener.forget_timing()
        log.info("bar 1 starts now: the first note after silence (interplay %s)",
                 melody.settings.mode)

    def post_reset(self):
        """Forget every held note (the input device went away), on this thread."""
        self.queue.put((time.monotonic(), (_RESET,)))
        self.bell.ring()

    def post_configure(self, midi_cfg, beats_per_bar, interplay_cfg):
        """Apply a reloaded `midi` section, metre and `interplay` section to the two
        listeners, on this thread (the only one that touches them)."""
        self.queue.put((time.monotonic(), (_CONFIGURE, midi_cfg, beats_per_bar,
                                           interplay_cfg)))
        self.bell.ring()

    def _internal(self, t, item):
        if item[0] == _RESET:
            self.listener.reset(t)
            self.melody.reset(t)
        elif item[0] == _CONFIGURE:
            midi_cfg, bpb, inter = item[1:]
            self.listener.configure(chord_midi(midi_cfg, inter), t, bpb)
            self.melody.configure(midi_cfg, inter, t)

    def control(self, ch, cc, value):
        controls = self.cfg()["controls"]
        apply_cc(controls, self.performer(), ch, cc, value)
        apply_interplay_cc(controls, self.melody, ch, cc, value)


PANIC_CCS = {120: "all sound off", 121: "reset all controllers", 123: "all notes off"}


def _merged(data):
    """Does this sysex hold other messages: a status byte other than a real-time one
    (0xF8-0xFF) before its end? (One without its 0xF7 is a piece of a long one, or
    one cut short: a sysex all the same, as JACK passes each event as it was sent.)"""
    last = len(data) - 1
    for i in range(1, len(data)):
        b = data[i]
        if b >= 0x80 and b < 0xF8 and not (b == 0xF7 and i == last):
            return True
    return False


def _hex(data):
    try:
        return " ".join(f"{b:02X}" for b in data[:8]) + (" ..." if len(data) > 8 else "")
    except (TypeError, ValueError):
        return repr(data)[:40]
