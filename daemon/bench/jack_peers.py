"""JACK MIDI peers that measure jazzd from outside: a keyboard that plays into it and a
recorder that listens to it. `jazzd bench` and the integration tests share them.

The recorder polls rtmidi's queue from a thread, as the daemon does, instead of taking
a callback: a python-rtmidi callback runs in JACK's realtime thread and waits for the
interpreter lock, so a busy Python process makes JACK drop events (and closing a port
while the callback runs can crash the process). Arrival times are rebuilt from
rtmidi's own timestamps (`jazzd.live.midi_io.ArrivalTimes`), so polling costs no accuracy.
"""

import threading
import time


class PortNotFound(LookupError):
    """No JACK port with that name (the message lists the ports there are)."""


def port_index(rt, name_part, timeout=5.0):
    """Index of the first port of `rt` whose name contains `name_part`, waiting for it."""
    deadline = time.monotonic() + timeout
    while True:
        names = rt.get_ports()
        for i, n in enumerate(names):
            if name_part in n:
                return i
        if time.monotonic() > deadline:
            raise PortNotFound(f"no JACK port containing {name_part!r} in {names}")
        time.sleep(0.02)


class Recorder:
    """A JACK MIDI input that records (arrival time, bytes) of everything it hears."""

    def __init__(self, client, connect_to=None, virtual=None):
        import rtmidi

        from jazzd.live.midi_io import ArrivalTimes
        self.events = []
        self._lock = threading.Lock()
        self._times = ArrivalTimes()
        self.rt = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=client,
                                queue_size_limit=8192)
        self.rt.ignore_types(False, False, False)
        if virtual:
            self.rt.open_virtual_port(virtual)
        else:
            self.rt.open_port(port_index(self.rt, connect_to), "in")
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self):
        while not self._halt.is_set():
            self._read()
            time.sleep(0.001)

    def _read(self):
        with self._lock:
            deltas, datas = [], []
            while True:
                msg = self.rt.get_message()
                if msg is None:
                    break
                datas.append(tuple(msg[0]))
                deltas.append(msg[1])
            if datas:          # the clock read after the queue (ArrivalTimes)
                times = self._times.stamp_batch(deltas, time.monotonic())
                self.events.extend(zip(times, datas))

    def snapshot(self):
        self._read()
        with self._lock:
            return list(self.events)

    def take(self):
        """The events heard since the last `take`, removed from `events`."""
        with self._lock:
            new, self.events = self.events, []
        return new

    def wait_for(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.snapshot()):
                return True
            time.sleep(0.01)
        return False

    def close(self):
        self._halt.set()
        self._thread.join(1)
        with self._lock:
            self.rt.close_port()
            self.rt.delete()


class Keyboard:
    """A JACK MIDI output playing into the daemon (connected, or as a virtual port)."""

    def __init__(self, client, connect_to=None, virtual=None):
        import rtmidi
        self.rt = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=client)
        if virtual:
            self.rt.open_virtual_port(virtual)
        else:
            self.rt.open_port(port_index(self.rt, connect_to), "out")

    def send(self, *msg):
        self.rt.send_message(list(msg))

    def send_message(self, msg):
        """Send a list of bytes (the `send` a `jazzd.live.scheduler.Scheduler` takes)."""
        self.rt.send_message(msg)
        return True

    def chord(self, notes, velocity=80, channel=0):
        for n in notes:
            self.send(0x90 | channel, n, velocity)

    def release(self, notes, channel=0):
        for n in notes:
            self.send(0x80 | channel, n, 0)

    def close(self):
        self.rt.close_port()
        self.rt.delete()
