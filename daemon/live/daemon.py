"""The live daemon's life cycle: open the ports, start the threads, watch the devices,
reload on SIGHUP, and shut down without leaving a note sounding.

Threads (each mutates only its own state; the others read published snapshots):

- the dispatcher (dispatcher.py): sleeps until the MIDI input has something, then routes
  each message: notes and sustain to the chord listener, the player's melody to the
  melody listener, clock messages to the MIDI clock, mapped CCs to the live
  controls; runs the listener's timers;
- the improviser (improviser.py): plans values, binds pitches late; when trading,
  hears the player's melody and plays only in its turns or answers;
- the scheduler (scheduler.py): sends at absolute deadlines (to a JACK output, a
  period ahead, with the time it is due), pings the watchdog;
- the main thread (this module): signals, SIGHUP reload, device loss and
  reconnection, a JACK client the server no longer runs (jack_watch.py), STATUS.

Shutdown on SIGTERM/SIGINT (exit 0), on a crash in any thread (exit 70): note-off for
every sounding note, then CC123 on the output channel.
"""

import gc
import logging
import os
import threading
import time

from jazzd.live.chord_listener import ChordListener
from jazzd.live.clock import make_clock
from jazzd.live.dispatcher import Dispatcher
from jazzd.live.improviser import Improviser
from jazzd.live.jack_watch import open_watch, stale_futexes
from jazzd.live.melody_listener import MelodyListener, chord_midi, describe_interplay
from jazzd.live.midi_io import open_ports
from jazzd.live.port_care import PortCare
from jazzd.live.reload import Reload
from jazzd.live.scheduler import OFF_ECHO, Scheduler
from jazzd.service import signals
from jazzd.service.notify import Notifier

log = logging.getLogger("jazzd.run")

STATUS_INTERVAL = 1.0
SWITCH_INTERVAL = 0.0005     # s: how long a busy thread may keep the GIL from the scheduler



# A JACK output is handed each message this long before its cycle: the period, and a
# margin for the scheduler's wake-up and the interpreter lock.
HANDOVER_MARGIN = 0.004  # s


# -- the daemon -------------------------------------------------------------------------

def _open_count(port, name):
    """A port's count, unless it was retired (then it is in the closed ports' sum)."""
    return 0 if getattr(port, "retired", False) else getattr(port, name, 0)


class Daemon(PortCare, Reload):
    """The running daemon: its life cycle here; keeping its ports working
    (port_care.PortCare) and a reload (reload.Reload) in modules of their own."""

    def __init__(self, cfg, path=None, freeze_file=None, notifier=None):
        self.cfg = cfg
        self.path = path
        self.freeze_file = freeze_file
        self.notifier = notifier if notifier is not None else Notifier()
        self.wake = threading.Event()
        self.stop_requested = None      # the signal name, once one arrives
        self.reload_requested = False
        self.signals = None             # service.signals.SignalThread, once installed
        self.fatal = None               # (thread name, exception) of a crash
        self.inp = self.out = None
        self.output_ok = False
        self.watch = None               # jack_watch.JackWatch, with backend jack
        self.jack_ports = []            # our virtual JACK ports, as the server names them
        self.jack_down = None           # why our JACK clients are being reopened
        self._jack_peers = {}           # their connections, restored when reopened
        self._jack_closed = False       # closed to be reopened, not open again yet
        self._stale_seen = set()        # deleted futexes seen at the last check
        self.clock = make_clock(cfg["tempo"])
        self.listener = ChordListener(chord_midi(cfg["midi"], cfg["interplay"]),
                                      lambda: self.clock.seconds_per_beat(),
                                      beat_at=lambda t: self.clock.beat_at(t),
                                      beats_per_bar=cfg["tempo"]["beats_per_bar"])
        self.melody = MelodyListener(cfg["midi"], cfg["interplay"], lambda: self.clock,
                                     self.listener.binding_chord)
        self.performer = None
        self.scheduler = self.improviser = self.dispatcher = None
        self._health_seen = {}
        self._closed_errors = [0, 0, 0, 0]  # send and read errors, late cycles and late
                                            # notes of ports closed since

    # -- start -----------------------------------------------------------------------

    def start(self):
        t0 = time.monotonic()
        midi = self.cfg["midi"]
        if midi["backend"] == "jack":
            self.watch = open_watch()   # first, so rtmidi's clients are never alone
        self.inp, self.out = open_ports(midi)
        self.output_ok = self.out.connected
        log.info("MIDI %s: input %s, output %s", midi["backend"],
                 self.inp.port_name, self.out.port_name)
        for port, key in ((self.inp, "input"), (self.out, "output")):
            if not port.connected:
                log.warning("%s; waiting for it (checking every %.1f s)",
                            getattr(port, "missing", f"MIDI {key} {port.spec!r} not found"),
                            midi["reconnect_interval_s"])
        from jazzd.model.performer import load_performer
        self.performer = load_performer(self.cfg)
        log.info("model %s loaded (seed %s)", self.cfg["improviser"]["model"],
                 self.performer.seed)
        rt = midi["realtime_priority"]
        self.scheduler = Scheduler(self.out.send, midi["output_channel"],
                                   self.notifier, self.freeze_file, realtime_priority=rt,
                                   lead=self.handover_lead())
        self.scheduler.program = midi["program"]
        self.scheduler.panic()              # a note left by a SIGKILLed predecessor
        self.improviser = Improviser(self.performer, lambda: self.clock, lambda: self.cfg,
                                     self.listener, self.scheduler,
                                     can_play=lambda: self.output_ok, realtime_priority=rt,
                                     melody=self.melody)
        self.improviser.latency = self.latency_compensation(midi)
        if self.watch is not None:
            self.jack_ports = self.own_jack_ports()
            self._stale_seen = stale_futexes()
            if self._stale_seen:
                time.sleep(0.02)        # a second look (jack_problem)
            self.watch_jack()           # a client that will never run: reopen it now
        elif midi["backend"] == "jack":
            log.warning("cannot open a JACK client through libjack; a JACK client of "
                        "ours that the server stops running will go unnoticed")
        self.dispatcher = Dispatcher(
            lambda: self.inp, lambda: self.clock, lambda: self.cfg, lambda: self.performer,
            self.listener, self.melody, self.scheduler,
            speaking=lambda: self.improviser.speaking, heard=lambda: self.improviser.poke())
        # Everything loaded so far lives as long as the process: keep it out of the
        # garbage collector's full passes (a few ms each, holding the GIL).
        gc.collect()
        gc.freeze()
        for th in (self.scheduler, self.improviser, self.dispatcher):
            th.on_error = self._crashed
            th.start()
        if self.cfg["interplay"]["mode"] != "off":
            log.info("interplay: %s", describe_interplay(self.cfg))
        self.ready_time = time.monotonic() - t0
        log.info("ready in %.0f ms: %s", self.ready_time * 1e3, self.clock.describe())
        if rt:
            deadline = time.monotonic() + 0.5
            while not self.scheduler.realtime and time.monotonic() < deadline \
                    and self.scheduler.is_alive():
                time.sleep(0.005)
            if self.scheduler.realtime:
                log.info("realtime scheduling: SCHED_FIFO priority %d", rt)
            else:
                log.info("realtime scheduling not permitted; timing threads run at normal "
                         "priority (allow it with LimitRTPRIO=%d in the systemd unit, or "
                         "an rtprio limit for this user)", rt)
        self.notifier.ready(self.status_text())

    def handover_lead(self):
        """How early the scheduler hands a message to the output: a JACK output plays
        each one at its frame, so it must have it before that frame's cycle begins
        (a period, and a margin); an ALSA output plays what it gets (0)."""
        period = self.out.period()
        if period is None:
            return 0.0
        log.info("JACK: %d frames at %d Hz (%.2f ms); notes are handed over %.2f ms "
                 "ahead and played at their frames", self.out.frames,
                 self.out.rate, period * 1e3,
                 (period + HANDOVER_MARGIN) * 1e3)
        return period + HANDOVER_MARGIN

    def latency_compensation(self, midi, quiet=False):
        """Seconds to play early: the configured figure, or for "auto" the playback
        latency downstream of our JACK output (a synth's audio; 0 into a MIDI client)."""
        value = midi["latency_compensation_ms"]
        if value != "auto":
            return value / 1000.0
        if midi["backend"] != "jack" or not hasattr(self.out, "playback_latency"):
            return 0.0
        latency = self.out.playback_latency()
        if not quiet:
            log.info("latency compensation: %.2f ms (the playback latency after our "
                     "output)", latency * 1e3)
        return latency

    def _crashed(self, exc):
        self.fatal = (threading.current_thread().name, exc)
        log.critical("crash in %s", threading.current_thread().name,
                     exc_info=(type(exc), exc, exc.__traceback__))
        self.wake.set()

    def health(self):
        """Failures counted since start, by kind (what STATUS and the log report)."""
        return {
            "MIDI send errors": _open_count(self.out, "errors") + self._closed_errors[0],
            "MIDI input read errors": _open_count(self.inp, "read_errors")
            + self._closed_errors[1],
            "notes skipped, woken too late": getattr(self.improviser, "dropped_late", 0),
            "clock ticks lost": getattr(self.clock, "lost_ticks", 0),
            "clock ticks heard twice": getattr(self.clock, "doubled_ticks", 0),
        }

    def jack_timing(self):
        """(JACK cycles our clients finished late, messages played after their frame):
        the audio side's own figures, for the stop's log line and `jazzd bench`. A
        cycle can finish late through no fault of ours (a late driver, a slow client
        before us in the graph), so they are figures, not failures."""
        return (_open_count(self.inp, "late_cycles") + _open_count(self.out, "late_cycles")
                + self._closed_errors[2],
                _open_count(self.out, "late_writes") + self._closed_errors[3])

    def report_health(self):
        """Log each kind of failure that grew since the last look (at most once per
        STATUS_INTERVAL, with how many); STATUS carries the totals."""
        now = self.health()
        for kind, n in now.items():
            grew = n - self._health_seen.get(kind, 0)
            if grew > 0:
                extra = ""
                if kind == "MIDI input read errors" and self.inp.last_read_error:
                    extra = f" (last: {self.inp.last_read_error})"
                log.warning("%d more %s (%d in all)%s", grew, kind, n, extra)
        self._health_seen = now

    def status_text(self):
        chord = self.listener.chord
        down = f"JACK client lost ({self.jack_down}), reopening; " if self.jack_down else ""
        for port, key in ((self.inp, "input"), (self.out, "output")):
            if port is not None and not port.connected:
                down += f"waiting for MIDI {key} {port.spec!r}; "
        failures = "".join(f", {n} {kind}" for kind, n in self.health().items() if n)
        return (f"{down}chord {chord.symbol if chord else '-'}, {self.clock.describe()}, "
                f"{self.scheduler.notes_played if self.scheduler else 0} notes played"
                f"{failures}")

    # -- signals ---------------------------------------------------------------------

    def install_signals(self):
        """SIGTERM/SIGINT stop, SIGHUP reloads, read by a thread of their own (see
        service.signals); call before any other thread starts. Returns that thread."""
        def stop(name):
            self.stop_requested = name
            self.wake.set()

        def hup():
            self.reload_requested = True
            self.wake.set()

        def silence():
            if self.scheduler is not None:
                self.scheduler.close()

        signals.block()
        self.signals = signals.SignalThread(stop, hup, silence)
        self.signals.start()
        return self.signals

    # -- main loop -------------------------------------------------------------------

    def loop(self, crash_file=None, hang_file=None):
        """Until a stop signal or a crash: reload, watch the ports, report status.
        `crash_file`: a debug hook for the tests: while it exists, the main thread
        raises (an unexpected error here must silence the notes and exit 70).
        `hang_file`: another: once it exists, the main thread blocks in a C call for
        good, as one stuck in libjack would (a stop must still end the process)."""
        next_poll = next_status = time.monotonic()
        while self.stop_requested is None and self.fatal is None:
            self.wake.wait(0.1)
            self.wake.clear()
            self.scheduler.keep_quiet()
            if self.stop_requested is not None or self.fatal is not None:
                break
            if crash_file is not None and os.path.exists(crash_file):
                raise RuntimeError(f"debug crash: {crash_file} exists")
            if hang_file is not None and os.path.exists(hang_file):
                log.warning("debug hang: %s exists, the main thread blocks", hang_file)
                os.read(os.pipe()[0], 1)     # nothing is ever written: blocks for good
            if self.reload_requested:
                self.reload_requested = False
                self.reload()
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + self.cfg["midi"]["reconnect_interval_s"]
                if self.jack_down is not None or self.watch is not None:
                    self.watch_jack()
                if self.jack_down is None:
                    self.watch_ports()
                    self.follow_latency()
            if now >= next_status:
                next_status = now + STATUS_INTERVAL
                self.report_health()
                self.notifier.status(self.status_text())

    def listener_reset(self):
        # The dispatcher owns the listener; a reset through the queue keeps it that way.
        self.dispatcher.post_reset()



    # -- stop ------------------------------------------------------------------------

    def shutdown(self):
        self.notifier.stopping()
        for th in (self.improviser, self.dispatcher):
            if th is not None:
                th.stop()
        if self.dispatcher is not None:
            self.dispatcher.bad.flush()         # counts still held back by the limiter
            self.dispatcher.odd.flush()
        if self.scheduler is not None:
            n = self.scheduler.sounding()
            self.scheduler.stop()
            st = self.scheduler.lateness_stats()
            late = "" if not st["count"] else \
                f"; send lateness p50 {st['p50_ms']:.3f} ms, p99 {st['p99_ms']:.3f} ms, " \
                f"max {st['max_ms']:.3f} ms"
            log.info("stopped: %d notes played, %d sounding notes ended, all notes off "
                     "sent%s", self.scheduler.notes_played, len(n), late)
        if self.improviser is not None:
            log.info("chord changes met: %d notes bound to the chord the form memory "
                     "foresaw, %d waited change_grace_ms for a chord on the beat",
                     self.improviser.anticipated, self.improviser.graced)
        if self.clock.source == "clock":
            log.info("MIDI clock: %d ticks lost and counted in, %d heard twice and "
                     "dropped", self.clock.lost_ticks, self.clock.doubled_ticks)
        if self.cfg["midi"]["backend"] == "jack" and hasattr(self.out, "refresh"):
            self.out.refresh()
            if hasattr(self.inp, "refresh_latency"):
                self.inp.refresh_latency()
                time.sleep(0.01)
                self.inp.drain()
            late, behind = self.jack_timing()
            log.info("JACK: %d cycles our clients finished late, %d messages played "
                     "after their frame", late, behind)
        gone = self.server_gone()
        if self.scheduler is not None and not gone:
            time.sleep(OFF_ECHO)                # the stop's note-offs once more (scheduler)
            self.scheduler.repeat_silence()
        for port in (self.inp, self.out):     # a JACK port's process plays what it holds
            if port is not None:
                port.close(bury_clients=gone)
        if self.watch is not None:
            self.watch.close()
        self.notifier.close()
