"""The daemon's ports through device loss and JACK trouble: a device gone and back, the
latency after our ports, and JACK clients the server no longer runs (reopened, their
connections restored). A part of `Daemon` (daemon.py), in a module of its own."""

import logging

from jazzd.live.jack_watch import names, open_watch, stale_futexes
from jazzd.live.midi_io import open_ports
from jazzd.service.errors import UserError

log = logging.getLogger("jazzd.run")


class PortCare:
    """Daemon methods that keep its MIDI ports working (see daemon.Daemon for the
    state they use: inp, out, watch, scheduler, notifier, cfg)."""

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
