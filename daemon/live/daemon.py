"""The live daemon's life cycle: open the ports, start the threads, watch the devices,
reload on SIGHUP, and shut down without leaving a note sounding.

Threads (each mutates only its own state; the others read published snapshots):

- the dispatcher (dispatcher.py): polls the MIDI input every millisecond and routes
  each message: notes and sustain to the chord listener, clock messages to the MIDI
  clock, mapped CCs to the live controls; runs the listener's timers;
- the improviser (improviser.py): plans values, binds pitches late;
- the scheduler (scheduler.py): sends at absolute deadlines, pings the watchdog;
- the main thread (this module): signals, SIGHUP reload, device loss and
  reconnection, STATUS.

Shutdown on SIGTERM/SIGINT (exit 0), on a crash in any thread (exit 70): note-off for
every sounding note, then CC123 on the output channel.
"""

import gc
import logging
import signal
import threading
import time

from jazzd.live.chord_listener import ChordListener
from jazzd.live.clock import make_clock
from jazzd.live.dispatcher import Dispatcher
from jazzd.live.improviser import Improviser
from jazzd.live.midi_io import jack_period, open_ports
from jazzd.live.scheduler import Scheduler
from jazzd.service import config as config_mod
from jazzd.service import logs
from jazzd.service.errors import UserError
from jazzd.service.notify import Notifier

log = logging.getLogger("jazzd.run")

STATUS_INTERVAL = 1.0
SWITCH_INTERVAL = 0.0005     # s: how long a busy thread may keep the GIL from the scheduler


# -- the daemon -------------------------------------------------------------------------

class Daemon:
    def __init__(self, cfg, path=None, freeze_file=None, notifier=None):
        self.cfg = cfg
        self.path = path
        self.freeze_file = freeze_file
        self.notifier = notifier if notifier is not None else Notifier()
        self.wake = threading.Event()
        self.stop_requested = None      # the signal name, once one arrives
        self.reload_requested = False
        self.fatal = None               # (thread name, exception) of a crash
        self.inp = self.out = None
        self.output_ok = False
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
        self.inp, self.out = open_ports(midi)
        self.output_ok = self.out.connected
        log.info("MIDI %s: input %s, output %s", midi["backend"],
                 self.inp.port_name, self.out.port_name)
        for port, key in ((self.inp, "input"), (self.out, "output")):
            if not port.connected:
                log.warning("MIDI %s %r not found; waiting for it (checking every %.1f s)",
                            key, port.spec, midi["reconnect_interval_s"])
        from jazzd.model.performer import load_performer
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
        period = jack_period()
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
        return (f"chord {chord.symbol if chord else '-'}, {self.clock.describe()}, "
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
            ports = open_ports(nm)
        perf = None
        if (oi["model"], oi["seed"], ot["beats_per_bar"]) != \
                (ni["model"], ni["seed"], nt["beats_per_bar"]):
            try:
                from jazzd.model.performer import load_performer
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
            log.info("MIDI ports now: input %s, output %s", self.inp.port_name,
                     self.out.port_name)
        if (nm["backend"], nm["latency_compensation_ms"]) != \
                (om["backend"], om["latency_compensation_ms"]):
            self.improviser.latency = self.latency_compensation(nm)
        if nm["output_channel"] != om["output_channel"]:
            self.scheduler.silence()
            self.scheduler.channel = nm["output_channel"] - 1
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
        self.dispatcher.post_configure(nm, nt["beats_per_bar"])
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
            from jazzd.model.style import Style
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
        for port in (self.inp, self.out):
            if port is not None:
                port.close()
        self.notifier.close()
