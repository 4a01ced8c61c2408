"""jazzd.service.notify against real Unix datagram sockets, as systemd would listen on them."""

import logging
import os
import socket
import time

import pytest

from jazzd.service.notify import Notifier


class FakeClock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def _receiver(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2.0)
    return sock


def _messages(sock):
    """Every datagram waiting on `sock`, each as a dict of its fields."""
    out = []
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(4096)
            out.append(dict(line.split("=", 1) for line in data.decode().split("\n")))
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(2.0)
    return out


@pytest.fixture
def listener(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = _receiver(path)
    yield path, sock
    sock.close()


def test_ready_status_stopping_reach_the_socket(listener):
    path, sock = listener
    n = Notifier({"NOTIFY_SOCKET": path})
    assert n.enabled and n.watchdog_interval is None
    n.ready("Dm7 at 120 bpm")
    n.status("G7\nnext line")
    n.stopping()
    msgs = _messages(sock)
    assert msgs[0]["READY"] == "1"
    assert msgs[0]["STATUS"] == "Dm7 at 120 bpm"
    assert msgs[0]["MAINPID"] == str(os.getpid())
    assert msgs[1] == {"STATUS": "G7 next line"}      # a newline must not start a field
    assert msgs[2] == {"STOPPING": "1"}
    assert len(msgs) == 3
    n.close()


def test_reloading_carries_a_monotonic_timestamp(listener):
    path, sock = listener
    n = Notifier({"NOTIFY_SOCKET": path})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    n.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    (msg,) = _messages(sock)
    assert msg["RELOADING"] == "1"
    assert before <= int(msg["MONOTONIC_USEC"]) <= after


def test_abstract_socket(tmp_path):
    name = f"jazzd-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert n.enabled
        n.ready()
        assert _messages(sock)[0]["READY"] == "1"
    finally:
        sock.close()


def test_watchdog_pings_at_most_once_per_interval(listener):
    path, sock = listener
    clock = FakeClock()
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}, clock=clock)
    assert n.watchdog_interval == pytest.approx(1.0)       # half of WatchdogSec
    for _ in range(1000):                                  # a busy scheduler loop
        n.watchdog()
    assert _messages(sock) == [{"WATCHDOG": "1"}]
    clock.t += 0.99
    n.watchdog()
    assert _messages(sock) == []
    clock.t += 0.02
    n.watchdog()
    n.watchdog()
    assert _messages(sock) == [{"WATCHDOG": "1"}]


def test_a_held_watchdog_is_not_fed(listener):
    # While the daemon's JACK client is lost the scheduler loop still runs; systemd
    # must not hear that all is well.
    path, sock = listener
    clock = FakeClock()
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}, clock=clock)
    n.hold_watchdog(True)
    for _ in range(3):
        clock.t += 5.0
        n.watchdog()
    assert _messages(sock) == []
    n.hold_watchdog(False)
    n.watchdog()
    assert _messages(sock) == [{"WATCHDOG": "1"}]


def test_watchdog_with_the_real_clock(listener):
    path, sock = listener
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})   # ping every 50 ms
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        n.watchdog()
        time.sleep(0.001)
    pings = _messages(sock)
    assert 3 <= len(pings) <= 8, pings


@pytest.mark.parametrize("env", [
    {"WATCHDOG_USEC": "0"},
    {"WATCHDOG_USEC": "junk"},
    {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"},     # meant for another process
    {},
])
def test_no_watchdog(listener, env):
    path, sock = listener
    n = Notifier({"NOTIFY_SOCKET": path, **env})
    assert n.watchdog_interval is None
    n.watchdog()
    assert _messages(sock) == []


def test_watchdog_pid_of_this_process_is_ours(listener):
    path, sock = listener
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000",
                  "WATCHDOG_PID": str(os.getpid())})
    assert n.watchdog_interval == pytest.approx(1.0)


def test_unset_is_a_no_op():
    n = Notifier({})
    assert not n.enabled and n.watchdog_interval is None
    n.ready("x")
    n.watchdog()
    n.status("x")
    n.reloading()
    n.stopping()
    n.close()


def test_reads_os_environ_by_default(listener, monkeypatch):
    path, sock = listener
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    n = Notifier()
    assert n.enabled and n.watchdog_interval == pytest.approx(2.0)
    n.stopping()
    assert _messages(sock) == [{"STOPPING": "1"}]


def test_unusable_value_disables_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="jazzd.notify"):
        n = Notifier({"NOTIFY_SOCKET": "relative/path"})
    assert not n.enabled
    assert "NOTIFY_SOCKET" in caplog.text


def test_survives_the_socket_being_deleted(listener, caplog):
    path, sock = listener
    clock = FakeClock()
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}, clock=clock)
    n.ready()
    sock.close()
    os.unlink(path)
    with caplog.at_level(logging.WARNING, logger="jazzd.notify"):
        for _ in range(5):
            n.status("still playing")
            n.watchdog()
            clock.t += 1.0
        n.stopping()
    warnings = [r for r in caplog.records if r.name == "jazzd.notify"]
    assert len(warnings) == 1                       # one warning, then silence
    # and it recovers when a listener comes back at the same path
    sock2 = _receiver(path)
    try:
        n.watchdog()                               # failed pings were not counted
        assert _messages(sock2) == [{"WATCHDOG": "1"}]
    finally:
        sock2.close()


def test_a_full_receive_queue_never_blocks(listener, caplog):
    path, sock = listener
    n = Notifier({"NOTIFY_SOCKET": path})
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="jazzd.notify"):
        for _ in range(5000):                  # nobody reads: the queue fills up
            n.status("x" * 200)
    assert time.monotonic() - start < 5.0       # generous: it must just not hang
    assert 0 < len(_messages(sock)) < 5000
    assert "cannot notify systemd" in caplog.text


def test_close_stops_sending(listener):
    path, sock = listener
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
    n.close()
    assert not n.enabled and n.watchdog_interval is None
    n.ready()
    n.watchdog()
    n.stopping()
    assert _messages(sock) == []
