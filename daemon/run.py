"""`jazzd run`: wire MIDI in → chord listener / clock / controls → improviser → scheduler.

Threads (DESIGN.md, "Data flow"):

- rtmidi's input thread: the callback timestamps and enqueues (midi_io.InputPort);
- the dispatcher: parses each message and routes it (notes and sustain to the chord
  listener, clock messages to the MIDI clock, mapped CCs to the live controls) and
  runs the listener's debounce and hold timers;
- the improviser: plans values, binds pitches late (improviser.py);
- the scheduler: sends at absolute deadlines, pings the watchdog (scheduler.py);
- the main thread: signals, SIGHUP reload, device loss and reconnection, a JACK
  client the server no longer runs (jack_watch.py), STATUS.

Shutdown on SIGTERM/SIGINT (exit 0), on a crash in any thread (exit 70): note-off for
every sounding note, then CC123 on the output channel.
"""

import faulthandler
import gc
import logging
import queue
import signal
import sys
import threading
import time

from daemon import config as config_mod
from daemon import logs
from daemon.chord_listener import ChordListener, FormMemory
from daemon.clock import make_clock
from daemon.errors import EX_SOFTWARE, UserError
from daemon.improviser import Improviser
from daemon.jack_watch import names, open_watch, stale_futexes
from daemon.midi_io import jack_period, open_ports
from daemon.notify import Notifier
from daemon.scheduler import Scheduler, try_realtime

log = logging.getLogger("jazzd.run")

STATUS_INTERVAL = 1.0
# Internal items travel through the input queue as tuples (MIDI data are lists), so
# only the dispatcher thread ever touches the chord listener's state.
_RESET = "reset"
_CONFIGURE = "configure"
SWITCH_INTERVAL = 0.0005
POLL_INTERVAL = 0.001        # s between reads of the MIDI input (see midi_io.InputPort)     # s: how long a busy thread may keep the GIL from the scheduler


# -- live controls ----------------------------------------------------------------------

def temperature_of_cc(value):
    """CC 0..127 → temperature 0.1..2.0 (64 ≈ 1.05)."""
    return 0.1 + 1.9 * value / 127.0


def rest_probability_of_cc(value):
    """CC 0..127 → rest probability 0.9..0 (turn it up for a denser line)."""
    return 0.9 * (1.0 - value / 127.0)


class Dispatcher(threading.Thread):
    """Parses raw MIDI from the input queue and routes it. Never raises on bad input."""

    def __init__(self, daemon):
        super().__init__(name="jazzd-dispatcher", daemon=True)
        self.d = daemon
        self.queue = daemon.queue
        self._halt = threading.Event()
        midi_log = logging.getLogger("jazzd.midi")
        self.bad = logs.RateLimiter(midi_log)                      # malformed: a warning
        self.odd = logs.RateLimiter(midi_log, level=logging.INFO)  # legal, but not for us
        self.messages = 0
        self.on_error = None

    def stop(self, timeout=1.0):
        self._halt.set()
        if self.is_alive():
            self.join(timeout)

    def run(self):
        try_realtime(self.d.cfg["midi"]["realtime_priority"])
        try:
            self._loop()
        except BaseException as e:     # noqa: BLE001
            if self.on_error is not None:
                self.on_error(e)
            else:
                raise

    def _loop(self):
        q = self.queue
        listener = self.d.listener
        mono = time.monotonic
        sleep = time.sleep
        while not self._halt.is_set():
            self.d.scheduler.keep_quiet()
            now = mono()
            batch = self.d.inp.drain(now)
            for t, data in batch:
                self._safe_handle(t, data)
            while True:                        # internal items (reset, configure)
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    self._safe_handle(item[0], item[1])
            next_timer = listener.poll(mono())
            if len(batch) >= 1024:
                continue                       # a flood: read on without sleeping
            wait = POLL_INTERVAL
            if next_timer is not None:
                wait = min(wait, max(0.0, next_timer - mono()))
            sleep(wait)

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
        if st < 0x80 or (st != 0xF0 and any(b > 0x7F for b in data[1:])):
            self.bad.warn("bad-bytes", "ignoring malformed MIDI message %s", _hex(data))
            return
        d = self.d
        if st >= 0xF0:
            if st == 0xF0:
                self.odd.warn("sysex", "ignoring sysex messages (this one %d bytes): "
                              "jazzd has no use for them", n)
                return
            if st == 0xFE:
                return                         # active sensing: nothing to do
            clock = d.clock
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
                d.scheduler.silence()
                log.info("MIDI clock: stop")
            elif st == 0xF2 and n == 3:
                clock.on_song_position(data[1] | (data[2] << 7), t)
            return
        kind = st & 0xF0
        ch = st & 0x0F
        listener = d.listener
        if kind == 0x90 and n == 3:
            if not listener.note_on(t, ch, data[1], data[2]) and data[2] == 0 \
                    and listener.counts(ch, data[1]):
                self.odd.warn("stray-note-off", "ignoring a note-off without note-on "
                              "(channel %d, note %d)", ch + 1, data[1])
        elif kind == 0x80 and n == 3:
            if not listener.note_off(t, ch, data[1]) and listener.counts(ch, data[1]):
                self.odd.warn("stray-note-off", "ignoring a note-off without note-on "
                              "(channel %d, note %d)", ch + 1, data[1])
        elif kind == 0xB0 and n == 3:
            cc, value = data[1], data[2]
            if cc == 64:
                listener.sustain(t, ch, value)
            self.control(ch, cc, value)

    def _internal(self, t, item):
        if item[0] == _RESET:
            self.d.listener.reset(t)
        elif item[0] == _CONFIGURE:
            self.d.listener.configure(item[1])

    def control(self, ch, cc, value):
        controls = self.d.cfg["controls"]
        chans = controls["channel"]
        if chans != "all" and ch + 1 not in chans:
            return
        perf = self.d.performer
        if cc == controls["temperature_cc"]:
            perf.temperature = temperature_of_cc(value)
            log.debug("temperature %.2f (CC%d)", perf.temperature, cc)
        if cc == controls["enable_cc"]:
            on = value >= 64
            if on != perf.enabled:
                perf.enabled = on
                log.info("improviser %s (CC%d)", "on" if on else "off", cc)
        if cc == controls["density_cc"]:
            perf.density = rest_probability_of_cc(value)
            log.debug("rest probability %.2f (CC%d)", perf.density, cc)


def _hex(data):
    try:
        return " ".join(f"{b:02X}" for b in data[:8]) + (" ..." if len(data) > 8 else "")
    except (TypeError, ValueError):
        return repr(data)[:40]


# -- the daemon -------------------------------------------------------------------------

class Daemon:
    def __init__(self, cfg, path=None, freeze_file=None, notifier=None):
        self.cfg = cfg
        self.path = path
        self.freeze_file = freeze_file
        self.notifier = notifier if notifier is not None else Notifier()
        self.queue = queue.SimpleQueue()
        self.wake = threading.Event()
        self.stop_requested = None      # the signal name, once one arrives
        self.reload_requested = False
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
        self.listener = ChordListener(cfg["midi"], lambda: self.clock.seconds_per_beat(),
                                      beat_at=lambda t: self.clock.beat_at(t),
                                      beats_per_bar=cfg["tempo"]["beats_per_bar"])
        self.performer = None
        self.scheduler = self.improviser = self.dispatcher = None

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
                log.warning("MIDI %s %r not found; waiting for it (checking every %.1f s)",
                            key, port.spec, midi["reconnect_interval_s"])
        from daemon.performer import load_performer
        self.performer = load_performer(self.cfg)
        log.info("model %s loaded (seed %s)", self.cfg["improviser"]["model"],
                 self.performer.seed)
        rt = midi["realtime_priority"]
        self.scheduler = Scheduler(self.out.send, midi["output_channel"],
                                   self.notifier, self.freeze_file, realtime_priority=rt)
        self.scheduler.all_notes_off()      # a note left by a SIGKILLed predecessor
        self.improviser = Improviser(self.performer, lambda: self.clock, lambda: self.cfg,
                                     self.listener, self.scheduler,
                                     can_play=lambda: self.output_ok, realtime_priority=rt)
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
        self.dispatcher = Dispatcher(self)
        # Everything loaded so far lives as long as the process: keep it out of the
        # garbage collector's full passes (a few ms each, holding the GIL).
        gc.collect()
        gc.freeze()
        for th in (self.scheduler, self.improviser, self.dispatcher):
            th.on_error = self._crashed
            th.start()
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

    def latency_compensation(self, midi):
        """Seconds to play early: the configured figure, or for "auto" one JACK period."""
        value = midi["latency_compensation_ms"]
        if value != "auto":
            return value / 1000.0
        if midi["backend"] != "jack":
            return 0.0
        period = self.watch.period() if self.watch is not None else jack_period()
        if period is None:
            log.warning("cannot read the JACK period; no latency compensation")
            return 0.0
        log.info("latency compensation: %.2f ms (one JACK period)", period * 1e3)
        return period

    def _crashed(self, exc):
        self.fatal = (threading.current_thread().name, exc)
        log.critical("crash in %s", threading.current_thread().name,
                     exc_info=(type(exc), exc, exc.__traceback__))
        self.wake.set()

    def status_text(self):
        chord = self.listener.chord
        down = f"JACK client lost ({self.jack_down}), reopening; " if self.jack_down else ""
        return (f"{down}chord {chord.symbol if chord else '-'}, {self.clock.describe()}, "
                f"{self.scheduler.notes_played if self.scheduler else 0} notes played")

    # -- signals ---------------------------------------------------------------------

    def install_signals(self):
        def stop(signum, _frame):
            self.stop_requested = signal.Signals(signum).name
            self.wake.set()

        def hup(_signum, _frame):
            self.reload_requested = True
            self.wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, hup)

    # -- main loop -------------------------------------------------------------------

    def loop(self):
        """Until a stop signal or a crash: reload, watch the ports, report status."""
        next_poll = next_status = time.monotonic()
        while self.stop_requested is None and self.fatal is None:
            self.wake.wait(0.1)
            self.wake.clear()
            self.scheduler.keep_quiet()
            if self.stop_requested is not None or self.fatal is not None:
                break
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
            if now >= next_status:
                next_status = now + STATUS_INTERVAL
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
            self.scheduler.all_notes_off()
            self.output_ok = True
            log.info("MIDI output reconnected: %s", out.port_name)

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
            port.close()
        if self.watch is not None:
            self.watch.close()
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
            self.scheduler._send = self.out.send
            self.scheduler.all_notes_off()
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

    def listener_reset(self):
        # The dispatcher owns the listener; a reset through the queue keeps it that way.
        self.queue.put((time.monotonic(), (_RESET,)))

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
        else:
            log.info("reloaded %s: %s", self.path, self.clock.describe())
        self.notifier.ready(self.status_text())

    def apply(self, new):
        """Switch to a validated config. What can fail (new ports, a new model) is done
        first, so a failure leaves everything as it was."""
        old = self.cfg
        om, nm = old["midi"], new["midi"]
        ot, nt = old["tempo"], new["tempo"]
        oi, ni = old["improviser"], new["improviser"]
        ports = None
        if (om["backend"], om["input"], om["output"]) != \
                (nm["backend"], nm["input"], nm["output"]):
            if nm["backend"] == "jack" and self.watch is None:
                self.watch = open_watch()
            ports = open_ports(nm)
        perf = None
        if (oi["model"], oi["seed"], ot["beats_per_bar"]) != \
                (ni["model"], ni["seed"], nt["beats_per_bar"]):
            try:
                from daemon.performer import load_performer
                perf = load_performer(new)
            except BaseException:
                for port in ports or ():
                    port.close()
                raise

        if ports is not None:
            self.scheduler.silence()
            old_ports = (self.inp, self.out)
            self.inp, self.out = ports
            self.scheduler._send = self.out.send
            self.scheduler.all_notes_off()
            self.output_ok = self.out.connected
            for port in old_ports:
                port.close()
            if nm["backend"] != "jack" and self.watch is not None:
                self.watch.close()
                self.watch = None
            self.jack_ports = self.own_jack_ports()
            log.info("MIDI ports now: input %s, output %s", self.inp.port_name,
                     self.out.port_name)
        if (nm["backend"], nm["latency_compensation_ms"]) != \
                (om["backend"], om["latency_compensation_ms"]):
            self.improviser.latency = self.latency_compensation(nm)
        if nm["output_channel"] != om["output_channel"]:
            self.scheduler.silence()
            self.scheduler.channel = nm["output_channel"] - 1
        if nt["beats_per_bar"] != ot["beats_per_bar"]:
            self.listener.form = FormMemory(nt["beats_per_bar"])
        if nt["source"] != ot["source"]:
            self.scheduler.silence()
            self.clock = make_clock(nt)
        elif nt["source"] == "internal" and nt["bpm"] != ot["bpm"]:
            self.clock.set_bpm(nt["bpm"])      # the beat goes on at the new tempo
        if perf is not None:
            perf.enabled = self.performer.enabled
            self._swap_performer(perf)
        else:
            self._retune_performer(new)
        self.queue.put((time.monotonic(), (_CONFIGURE, nm)))
        logging.getLogger(logs.LOGGER_NAME).setLevel(logs.LEVELS[new["logging"]["level"]])
        self.cfg = new

    def _retune_performer(self, new):
        """Style and register changes keep the performer, and so the LSTM's state."""
        perf, imp = self.performer, new["improviser"]
        perf.temperature = float(imp["temperature"])
        perf.low, perf.high = imp["lowest_note"], imp["highest_note"]
        perf.max_repeats = imp["max_repeats"]
        perf.resolve_on_change = imp["resolve_on_change"]
        perf.velocity_low, perf.velocity_high = imp["velocity_low"], imp["velocity_high"]
        if new["style"] != self.cfg["style"]:
            from daemon.style import Style
            perf.style = Style(perf.values, new["style"], perf.beats_per_bar)

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
        if self.clock.source == "clock":
            log.info("MIDI clock: %d ticks lost and counted in, %d heard twice and "
                     "dropped", self.clock.lost_ticks, self.clock.doubled_ticks)
        for port in (self.inp, self.out):
            if port is not None:
                port.close()
        if self.watch is not None:
            self.watch.close()
        self.notifier.close()


def main(args):
    faulthandler.enable()            # a fatal signal in a C extension leaves a traceback
    cfg, path = config_mod.load_or_default(args.config)
    logs.setup(cfg["logging"]["level"])
    sys.setswitchinterval(SWITCH_INTERVAL)
    daemon = Daemon(cfg, path, freeze_file=getattr(args, "debug_freeze_file", None))
    daemon.install_signals()
    try:
        daemon.start()
        daemon.loop()
    finally:
        daemon.shutdown()
    if daemon.fatal is not None:
        return EX_SOFTWARE
    log.info("exiting on %s", daemon.stop_requested)
    return 0
