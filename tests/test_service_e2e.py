"""`jazzd run` under a service manager's eyes: a real NOTIFY_SOCKET datagram socket, as
systemd creates it, and a private JACK server (conftest.jack_server).

READY=1 once the ports exist, periodic WATCHDOG=1 from the scheduler's loop (and none
while the scheduler is frozen), STATUS with chord, tempo and notes played, RELOADING=1
then READY=1 on SIGHUP, STOPPING=1 on SIGTERM, exit status 78 on a bad config.
"""

import os
import signal
import socket
import threading
import time

import pytest

from jazzd.service.errors import EX_CONFIG
from tests.conftest import Keyboard, unique, write_config

pytestmark = pytest.mark.jack

WATCHDOG_USEC = 400_000          # a ping every 0.2 s


class NotifySocket:
    """The service manager's end: collects (monotonic time, {field: value}) datagrams."""

    def __init__(self, address):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)
        self.messages = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def env_value(self):
        return "@" + self.address[1:] if self.address.startswith("\0") else self.address

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
            with self._lock:
                self.messages.append((time.monotonic(), fields))

    def snapshot(self):
        with self._lock:
            return list(self.messages)

    def with_field(self, key, since=0.0):
        return [(t, m) for t, m in self.snapshot() if key in m and t >= since]

    def wait_for(self, key, value=None, timeout=15.0, since=0.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, m in self.with_field(key, since):
                if value is None or m[key] == value:
                    return t, m
            time.sleep(0.01)
        raise AssertionError(f"no {key}={value or '...'} within {timeout} s; got "
                             f"{[m for _, m in self.snapshot()][-10:]}")

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify(tmp_path):
    sock = NotifySocket(str(tmp_path / "notify.sock"))
    yield sock
    sock.close()


@pytest.fixture
def model_dir():
    """The shipped default model: what a service really starts with."""
    return "default"


def _config(tmp_path, model_dir, **extra):
    names = {"in": unique("e2e-in-"), "out": unique("e2e-out-")}
    cfg = write_config(tmp_path / "config.yaml",
                       midi={"backend": "jack", "input": f"virtual:{names['in']}",
                             "output": f"virtual:{names['out']}", "debounce_ms": 10},
                       tempo={"bpm": 200},
                       improviser={"model": str(model_dir), "seed": 1}, **extra)
    return cfg, names


def _start(run_daemon, cfg, notify, *args, watchdog=True):
    env = {"NOTIFY_SOCKET": notify.env_value,
           "WATCHDOG_USEC": str(WATCHDOG_USEC) if watchdog else "",
           "WATCHDOG_PID": ""}
    return run_daemon(cfg, *args, env=env)


def _jack_ports():
    import rtmidi
    out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=unique("e2e-probe-"))
    inp = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=unique("e2e-probe-"))
    try:
        return out.get_ports() + inp.get_ports()
    finally:
        out.delete()
        inp.delete()


def test_ready_after_the_ports_exist(jack_server, tmp_path, model_dir, notify, run_daemon):
    cfg, names = _config(tmp_path, model_dir)
    d = _start(run_daemon, cfg, notify)
    _, ready = notify.wait_for("READY", "1")
    ports = _jack_ports()            # right after READY=1: both must already be there
    assert any(p.startswith(names["in"] + ":") for p in ports), ports
    assert any(p.startswith(names["out"] + ":") for p in ports), ports
    assert ready["MAINPID"] == str(d.proc.pid)
    assert "bpm" in ready["STATUS"]
    first_ready = notify.with_field("READY")[0][0]
    assert not [m for t, m in notify.snapshot() if t < first_ready and "STATUS" not in m
                and "WATCHDOG" not in m], "nothing but pings and status before READY"
    d.signal(signal.SIGTERM)
    assert d.wait() == 0


def test_periodic_watchdog_and_none_without_watchdog_usec(jack_server, tmp_path, model_dir,
                                                          notify, run_daemon):
    cfg, _ = _config(tmp_path, model_dir)
    d = _start(run_daemon, cfg, notify)
    t_ready, _ = notify.wait_for("READY", "1")
    time.sleep(2.0)
    pings = [t for t, _ in notify.with_field("WATCHDOG", since=t_ready)]
    # every 0.2 s: about 10 in 2 s; never the flood of one per scheduler loop
    assert 6 <= len(pings) <= 16, pings
    assert max(b - a for a, b in zip(pings, pings[1:])) < WATCHDOG_USEC / 1e6
    d.signal(signal.SIGTERM)
    assert d.wait() == 0

    quiet = NotifySocket(str(tmp_path / "quiet.sock"))
    try:
        d2 = _start(run_daemon, cfg, quiet, watchdog=False)
        quiet.wait_for("READY", "1")
        time.sleep(1.0)
        assert quiet.with_field("WATCHDOG") == []
        d2.signal(signal.SIGTERM)
        assert d2.wait() == 0
    finally:
        quiet.close()


def test_frozen_scheduler_stops_the_pings(jack_server, tmp_path, model_dir, notify,
                                          run_daemon):
    freeze = tmp_path / "freeze"
    cfg, _ = _config(tmp_path, model_dir)
    d = _start(run_daemon, cfg, notify, "--debug-freeze-file", str(freeze))
    notify.wait_for("READY", "1")
    notify.wait_for("WATCHDOG", "1", timeout=2.0)
    freeze.touch()
    time.sleep(0.5)                              # let a ping already under way land
    frozen_at = time.monotonic()
    time.sleep(2.0)                              # ten ping intervals
    assert notify.with_field("WATCHDOG", since=frozen_at) == []
    # the rest of the daemon lives on (STATUS comes from the main thread): only the
    # scheduler's own loop pings, which is the point
    assert notify.with_field("STATUS", since=frozen_at)
    assert d.proc.poll() is None
    freeze.unlink()
    notify.wait_for("WATCHDOG", "1", timeout=2.0, since=time.monotonic())
    d.signal(signal.SIGTERM)
    assert d.wait() == 0


def test_status_shows_chord_tempo_and_notes_played(jack_server, tmp_path, model_dir,
                                                   notify, run_daemon):
    cfg, names = _config(tmp_path, model_dir)
    d = _start(run_daemon, cfg, notify)
    notify.wait_for("READY", "1")
    kb = Keyboard(unique("e2e-kb-"), connect_to=names["in"])
    try:
        kb.chord([48, 52, 55, 59])               # C E G B: Cmaj7
        deadline = time.monotonic() + 10
        status = ""
        while time.monotonic() < deadline:
            msgs = notify.with_field("STATUS")
            status = msgs[-1][1]["STATUS"] if msgs else ""
            if "Cmaj7" in status and not status.endswith(" 0 notes played"):
                break
            time.sleep(0.1)
        assert "Cmaj7" in status, status
        assert "200.0 bpm" in status, status
        assert status.endswith("notes played") and " 0 notes played" not in status, status
        kb.release([48, 52, 55, 59])
    finally:
        kb.close()
    d.signal(signal.SIGTERM)
    assert d.wait() == 0


def test_sighup_reloads_with_reloading_then_ready(jack_server, tmp_path, model_dir,
                                                  run_daemon):
    # an abstract-namespace socket this time, as NOTIFY_SOCKET=@name
    notify = NotifySocket("\0" + unique(f"jazzd-e2e-{os.getpid()}-"))
    try:
        cfg, names = _config(tmp_path, model_dir)
        d = _start(run_daemon, cfg, notify)
        notify.wait_for("READY", "1")
        write_config(cfg, midi={"backend": "jack", "input": f"virtual:{names['in']}",
                                "output": f"virtual:{names['out']}"},
                     tempo={"bpm": 90}, improviser={"model": str(model_dir), "seed": 1})
        sent = time.monotonic()
        before_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        d.signal(signal.SIGHUP)
        t_rel, rel = notify.wait_for("RELOADING", "1", since=sent)
        assert int(rel["MONOTONIC_USEC"]) >= before_usec
        t_ready, ready = notify.wait_for("READY", "1", since=t_rel)
        assert "90.0 bpm" in ready["STATUS"]
        assert d.proc.poll() is None
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        notify.close()


def test_stopping_on_sigterm(jack_server, tmp_path, model_dir, notify, run_daemon):
    cfg, _ = _config(tmp_path, model_dir)
    d = _start(run_daemon, cfg, notify)
    notify.wait_for("READY", "1")
    sent = time.monotonic()
    d.signal(signal.SIGTERM)
    notify.wait_for("STOPPING", "1", timeout=5.0, since=sent)
    assert d.wait() == 0
    stopping_at = notify.with_field("STOPPING")[0][0]
    assert not notify.with_field("READY", since=stopping_at)


def test_config_error_exits_78_without_ready(tmp_path, notify, run_daemon):
    cfg = write_config(tmp_path / "bad.yaml", tempo={"bpm": "fast"})
    d = _start(run_daemon, cfg, notify)
    assert d.wait() == EX_CONFIG == 78
    assert "tempo.bpm" in d.output()
    time.sleep(0.1)
    assert not notify.with_field("READY")
