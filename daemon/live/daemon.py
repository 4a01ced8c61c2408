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
from jazzd.live.jack_watch import names, open_watch, stale_futexes
from jazzd.live.melody_listener import MelodyListener, chord_midi
from jazzd.live.midi_io import open_port, open_ports
from jazzd.live.scheduler import OFF_ECHO, Scheduler
from jazzd.service import config as config_mod
from jazzd.service import logs, signals
from jazzd.service.errors import UserError
from jazzd.service.notify import Notifier

log = logging.getLogger("jazzd.run")

STATUS_INTERVAL = 1.0
SWITCH_INTERVAL = 0.0005     # s: how long a busy thread may keep the GIL from the scheduler


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


# A JACK output is handed each message this long before its cycle: the period, and a
# margin for the scheduler's wake-up and the interpreter lock.
HANDOVER_MARGIN = 0.004  # s


# -- the daemon -------------------------------------------------------------------------

def _open_count(port, name):
    """A port's count, unless it was retired (then it is in the closed ports' sum)."""
    return 0 if getattr(port, "retired", False) else getattr(port, name, 0)


class Daemon:
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
            speaking=lambda: self.improviser.speaking)
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

    def watch_ports(self):
        """Device loss: log, silence, keep the clock, reconnect when it is back."""
        inp, out = self.inp, self.out
        if inp.connected and not inp.present():
            inp.drop()
            self.listener_reset()
            self.scheduler.silence()
            log.warning("MIDI input %r is gone; silent until it comes back "
                        "(checking every %.1f s)", inp.port_name,
                        self.cfg["midi"]["reconnect_interval_s"])
        elif not inp.connected and inp.try_reconnect():
            log.info("MIDI input reconnected: %s", inp.port_name)
        if out.connected and not out.present():
            self.output_ok = False
            self.scheduler.silence()
            out.drop()
            log.warning("MIDI output %r is gone; silent until it comes back", out.port_name)
        elif not out.connected and out.try_reconnect():
            self.scheduler.panic()
            self.output_ok = True
            log.info("MIDI output reconnected: %s", out.port_name)

    def follow_latency(self):
        """The connections after our ports may change their latency: follow them."""
        midi = self.cfg["midi"]
        if midi["backend"] != "jack" or midi["latency_compensation_ms"] != "auto":
            return
        latency = self.latency_compensation(midi, quiet=True)
        if abs(latency - self.improviser.latency) > 1e-4:
            log.info("latency compensation now %.2f ms (the connections changed)",
                     latency * 1e3)
            self.improviser.latency = latency
        if hasattr(self.inp, "refresh_latency"):
            self.inp.refresh_latency()

    # -- JACK clients the server no longer runs -------------------------------------

    def own_jack_ports(self):
        """Full names of our virtual ports that the server knows (JACK renames a client
        whose name is taken; such a port cannot be watched by name)."""
        names = [p.port_name for p in (self.inp, self.out) if p.virtual and p.connected]
        if self.watch is None:
            return []
        gone = self.watch.missing(names)
        for name in gone:
            log.warning("JACK has no port %s after we opened it: is another client "
                        "called %r running?", name, name.split(":")[0])
        return [n for n in names if n not in gone]

    def jack_problem(self):
        """Why our JACK clients cannot be working, or None (jack_watch.py)."""
        watch = self.watch
        if watch is None or self._jack_closed:
            return "no JACK server to connect to"
        if watch.server_gone:
            return "the JACK server shut our clients down"
        seen, self._stale_seen = self._stale_seen, stale_futexes()
        stale = seen & self._stale_seen             # there at two looks: stale
        if stale:
            return (f"libjack waits on a wake-up futex the server has deleted "
                    f"({names(stale)}): a client of ours would never be run")
        for port in (self.inp, self.out):
            if hasattr(port, "alive") and not port.alive():
                return f"the process running our JACK client {port.client_name} ended"
        gone = watch.missing(self.jack_ports)
        if gone:
            return f"our port(s) {', '.join(gone)} vanished from the JACK server"
        return None

    def watch_jack(self):
        """Reopen our JACK clients when the server no longer runs them. Meanwhile the
        watchdog is not fed and STATUS says why; it is fed again once a check after
        the reopening passes."""
        reason = self.jack_problem()
        if reason is None:
            if self.jack_down is not None:
                log.info("JACK clients running again")
                self.jack_down = None
                self.notifier.hold_watchdog(False)
                self.notifier.status(self.status_text())
            return
        if self.jack_down is None:
            self.jack_down = reason
            self.notifier.hold_watchdog(True)
            log.warning("JACK: %s; silent until our clients are reopened", reason)
            self._jack_peers = self.jack_connections()
            self.notifier.status(self.status_text())
        self.reopen_jack()

    def jack_connections(self):
        """{our virtual port: the ports connected to it}, while the server is there."""
        if self.watch is None or self.watch.server_gone:
            return {}
        return {name: self.watch.connections(name) for name in self.jack_ports}

    def reopen_jack(self):
        """Close every JACK client of ours, so libjack forgets its table of wake-up
        futexes, then open them again (the watch first) and restore the connections
        our virtual ports had. False if the server is not (yet) there."""
        self.output_ok = False
        if self.scheduler is not None:
            self.scheduler.silence()
        self._jack_closed = True
        for port in (self.inp, self.out):
            self._retire(port)
        if self.watch is not None:
            self.watch.close()          # buried if the server is gone
        self.watch = open_watch()
        if self.watch is None:
            return False
        try:
            self.inp, self.out = open_ports(self.cfg["midi"])
        except UserError as e:
            log.warning("JACK: cannot reopen our MIDI ports yet: %s", e)
            return False
        self._jack_closed = False
        self._stale_seen = set()
        if self.scheduler is not None:
            self.scheduler.set_output(self.out.send, self.cfg["midi"]["output_channel"])
            self.scheduler.lead = self.handover_lead()
            self.scheduler.panic()
        self.output_ok = self.out.connected
        self.jack_ports = self.own_jack_ports()
        restored = 0
        for port, peers in self._jack_peers.items():
            for peer in peers:
                src, dst = (peer, port) if port == self.inp.port_name else (port, peer)
                restored += self.watch.connect(src, dst)
        log.info("JACK: clients reopened: input %s, output %s (%d connection(s) "
                 "restored)", self.inp.port_name, self.out.port_name, restored)
        return True

    def _retire(self, port):
        """Close a port that is being replaced, keeping its failure counts. If the JACK
        server shut our clients down, nothing of them is called in libjack any more:
        the port's clients are buried (graveyard.GRAVEYARD)."""
        if getattr(port, "retired", False):
            return              # the same closed port again (a server still down)
        port.close(bury_clients=self.server_gone())
        self._closed_errors[0] += getattr(port, "errors", 0)
        self._closed_errors[1] += getattr(port, "read_errors", 0)
        self._closed_errors[2] += getattr(port, "late_cycles", 0)
        self._closed_errors[3] += getattr(port, "late_writes", 0)
        port.retired = True     # its counts are in _closed_errors now

    def server_gone(self):
        """Has the JACK server shut our clients down (libjack's shutdown callback)?"""
        return self.watch is not None and self.watch.server_gone

    def listener_reset(self):
        # The dispatcher owns the listener; a reset through the queue keeps it that way.
        self.dispatcher.post_reset()

    # -- reload ----------------------------------------------------------------------

    def reload(self):
        """SIGHUP: re-read the config file; a bad one is rejected and the old one stays."""
        if self.path is None:
            log.warning("SIGHUP: no config file was given; nothing to reload")
            return
        self.notifier.reloading()
        try:
            new = config_mod.load(self.path)
            self.apply(new)
        except UserError as e:
            log.error("reload rejected, keeping the running config: %s", e)
        except Exception as e:          # noqa: BLE001 - a reload never stops the music
            log.error("reload rejected, keeping the running config: unexpected %s: %s",
                      type(e).__name__, e, exc_info=True)
        else:
            log.info("reloaded %s: %s", self.path, self.clock.describe())
        self.notifier.ready(self.status_text())

    def apply(self, new):
        """Switch to a validated config. A new model is loaded first, and a port that
        cannot be opened brings the old one back, so a failure leaves everything as it
        was."""
        old = self.cfg
        om, nm = old["midi"], new["midi"]
        ot, nt = old["tempo"], new["tempo"]
        oi, ni = old["improviser"], new["improviser"]
        perf = style = None
        if (oi["model"], oi["seed"], ot["beats_per_bar"]) != \
                (ni["model"], ni["seed"], nt["beats_per_bar"]):
            from jazzd.model.performer import load_performer
            perf = load_performer(new)             # may fail: nothing has changed yet
        elif new["style"] != old["style"]:
            style = self.performer.build_style(new["style"])    # may fail: likewise
        self._swap_ports(om, nm)
        if (nm["backend"], nm["latency_compensation_ms"]) != \
                (om["backend"], om["latency_compensation_ms"]):
            self.improviser.latency = self.latency_compensation(nm)
        if nm["output_channel"] != om["output_channel"]:
            self.scheduler.set_output(self.out.send, nm["output_channel"])
            self.scheduler.silence()            # the old channel's notes, where they are
        if (nm["program"], nm["output_channel"]) != (om["program"], om["output_channel"]):
            self.scheduler.set_program(nm["program"])
        if nt["source"] != ot["source"]:
            self.scheduler.silence()
            self.clock = make_clock(nt)
        elif nt["source"] == "internal" and nt["bpm"] != ot["bpm"]:
            self.clock.set_bpm(nt["bpm"])      # the beat goes on at the new tempo
        if perf is not None:
            perf.enabled = self.performer.enabled
            self._swap_performer(perf)
        else:
            self.performer.retune(ni)               # the LSTM's state is kept
            if style is not None:
                self.performer.set_style(new["style"], style)
        self.dispatcher.post_configure(nm, nt["beats_per_bar"], new["interplay"])
        if new["interplay"] != old["interplay"]:
            log.info("interplay: %s", describe_interplay(new))
        logging.getLogger(logs.LOGGER_NAME).setLevel(logs.LEVELS[new["logging"]["level"]])
        self.cfg = new

    def _swap_ports(self, om, nm):
        """Reopen only the ports whose spec (or the backend) changed, the old one closed
        first so its name is free again (JACK would rename a new client whose name is
        taken, and every connection the user made to it would be lost). The port that
        did not change is not touched, connections and all. If a new port cannot be
        opened, the old spec is opened again and the reload is rejected."""
        both = om["backend"] != nm["backend"]
        changed = [d for d, key in (("in", "input"), ("out", "output"))
                   if both or om[key] != nm[key]]
        if not changed:
            return
        if nm["backend"] == "jack" and self.watch is None:
            self.watch = open_watch()
        self.scheduler.silence()
        closed, opened, patches = [], [], {}
        try:
            for direction in changed:
                old = self.inp if direction == "in" else self.out
                patches[direction] = getattr(old, "connections", list)()
                self._retire(old)
                closed.append(direction)
                port = open_port(direction, nm)
                opened.append(port)
                self._set_port(direction, port)
        except BaseException:
            for port in opened:
                port.close()
            for direction in closed:            # back to the old specs, as they were,
                port = open_port(direction, self.cfg["midi"])     # patched as they were
                getattr(port, "restore", lambda _peers: None)(patches[direction])
                log.info("MIDI %s: %s back, its connections restored: %s", direction,
                         port.port_name, ", ".join(patches[direction]) or "none")
                self._set_port(direction, port)
            if "out" in closed:                 # the scheduler plays into the new one
                self.scheduler.set_output(self.out.send, self.cfg["midi"]["output_channel"])
                self.scheduler.lead = self.handover_lead()
                self.scheduler.panic()
            self.output_ok = self.out.connected
            self.jack_ports = self.own_jack_ports()
            raise
        self.scheduler.set_output(self.out.send, nm["output_channel"])
        self.scheduler.lead = self.handover_lead()
        if "out" in changed:
            self.scheduler.panic()
        self.output_ok = self.out.connected
        if nm["backend"] != "jack" and self.watch is not None:
            self.watch.close()
            self.watch = None
        self.jack_ports = self.own_jack_ports()
        log.info("MIDI ports now: input %s, output %s", self.inp.port_name,
                 self.out.port_name)

    def _set_port(self, direction, port):
        if direction == "in":
            self.inp = port
            self.listener_reset()         # the notes held on the old input are gone
        else:
            self.out = port

    def _swap_performer(self, perf):
        """A new model, seed or metre: a new Performer (its LSTM state starts fresh)."""
        self.scheduler.silence()
        self.improviser.performer = perf
        self.performer = perf
        log.info("new model, seed or metre: a new performer (seed %s)", perf.seed)

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
