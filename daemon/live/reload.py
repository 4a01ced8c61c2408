"""SIGHUP: a new config taken as one step. What can fail (the model, the style, new
ports) is built first; then everything is applied, or nothing, and a port that cannot
be opened brings the old one back, patched as it was. A part of `Daemon` (daemon.py),
in a module of its own."""

import logging

from jazzd.live.clock import make_clock
from jazzd.live.jack_watch import open_watch
from jazzd.live.melody_listener import describe_interplay
from jazzd.live.midi_io import open_port
from jazzd.service import config as config_mod
from jazzd.service import logs
from jazzd.service.errors import UserError

log = logging.getLogger("jazzd.run")


class Reload:
    """Daemon methods for a reload (see daemon.Daemon for the state they use)."""

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
