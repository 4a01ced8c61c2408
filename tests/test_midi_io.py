"""MIDI ports through a real JACK server: virtual ports, connect by name, clear errors."""

import contextlib
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO, Keyboard, Recorder, unique
from jazzd.service.errors import ConfigError, MidiSystemError
from jazzd.live.midi_io import (ArrivalTimes, InputPort, OutputPort, find_port, list_ports,
                            open_ports, parse_spec)


def drain(port, n, timeout=2.0):
    items = []
    deadline = time.monotonic() + timeout
    while len(items) < n and time.monotonic() < deadline:
        items.extend(port.drain(time.monotonic()))
        time.sleep(0.002)
    return items


def test_parse_spec_and_find_port():
    assert parse_spec("virtual:jazzd-in") == (True, "jazzd-in")
    assert parse_spec("Keystation") == (False, "Keystation")
    with pytest.raises(ConfigError, match="needs a name"):
        parse_spec("virtual:")
    names = ["jazzd-out:out", "Midi Through:Port-0 14:0", "Keystation 49:MIDI 1 20:0"]
    assert find_port(names, "keystation") == 2
    assert find_port(names, "jazzd", exclude=("jazzd-out",)) is None
    assert find_port(names, "nothing") is None


def test_arrival_times_from_deltas():
    a = ArrivalTimes()
    # messages 10 ms apart, read in batches 0-3 ms after the last one arrived
    assert a.stamp_batch([0.0], 100.002) == pytest.approx([100.002])
    assert a.stamp_batch([0.010], 100.0125) == pytest.approx([100.012])
    assert a.stamp_batch([0.010], 100.0205) == pytest.approx([100.0205])  # a fresh bound
    assert a.stamp_batch([0.010], 100.0335) == pytest.approx([100.0305])  # read 3 ms late
    # a batch: its last message bounds the offset, its intervals are rtmidi's own
    assert a.stamp_batch([0.010, 0.010], 100.0505) == pytest.approx([100.0405, 100.0505])
    assert a.stamp_batch([], 100.06) == []
    # the chain broke (a joined sysex lost deltas): anchor afresh, even if later
    assert a.stamp_batch([0.001], 100.1) == pytest.approx([100.0515])
    assert a.stamp_batch([0.001], 100.1, anchor=True) == pytest.approx([100.1])
    a.reset()
    assert a.stamp_batch([0.5, 0.25], 7.0) == pytest.approx([6.75, 7.0])


def test_arrival_times_creep_after_the_clocks_part():
    a = ArrivalTimes()
    a.stamp_batch([0.0], 10.0)
    # the backend's clock runs 0.5 ms/s slow: the bound grows, the creep follows
    t = 10.0
    for _ in range(100):
        t += 0.1
        got = a.stamp_batch([0.1 * (1 - 5e-4)], t)[0]
    assert got == pytest.approx(t, abs=1e-6)


@contextlib.contextmanager
def keyboard_into_input():
    """(port, keyboard, [the first message]): a virtual JACK input with a keyboard on
    it, and a first note read promptly, which anchors the arrival times."""
    name = unique("vin")
    port = InputPort("jack", f"virtual:{name}").open()
    kb = Keyboard(unique("kb"), connect_to=f"{name}:in")
    try:
        time.sleep(0.05)
        kb.send(0x90, 60, 100)
        yield port, kb, drain(port, 1)
    finally:
        kb.close()
        port.close()


def assert_stamped_as_sent(port, kb, *msg):
    """Send `msg` now: its stamp is its arrival (within a JACK period and some), not
    before it was sent."""
    sent = time.monotonic()
    kb.send(*msg)
    t = drain(port, 1)[0][0]
    assert sent - 0.0005 <= t < sent + 0.006, (t - sent)


@pytest.mark.jack
def test_virtual_input_timestamps_and_keeps_clock(jack_server):
    with keyboard_into_input() as (port, kb, first):
        t0 = time.monotonic()
        kb.send(0xFA)
        kb.send(0xF8)                                    # clock: must arrive
        kb.send(0xF2, 0x10, 0x00)
        kb.send(0x80, 60, 0)
        time.sleep(0.05)                                 # ... and these are read late
        items = first + drain(port, 4)
        assert [m for _, m in items] == [[0x90, 60, 100], [0xFA], [0xF8], [0xF2, 0x10, 0],
                                         [0x80, 60, 0]]
        for t, _ in items[1:]:
            assert t0 <= t < t0 + 0.006                  # arrival, not read, times
        assert port.received == 5


@pytest.mark.jack
def test_a_message_arriving_between_the_callers_clock_and_the_read_is_stamped_late(
        jack_server):
    """The dispatcher reads the clock, then the port. A message that arrives between
    the two (another thread held the GIL) was stamped at the dispatcher's time, before
    it was sent, and that drew every later stamp early (the 1-hour soak's lost tick)."""
    with keyboard_into_input() as (port, kb, _):
        stale = time.monotonic()                   # the dispatcher's clock ...
        time.sleep(0.02)
        sent = time.monotonic()
        kb.send(0x80, 60, 0)                       # ... a message comes in ...
        time.sleep(0.02)
        items = port.drain(stale)                  # ... and then it reads the port
        assert [m for _, m in items] == [[0x80, 60, 0]], items
        t = items[0][0]
        assert sent <= t < sent + 0.006, (t - sent)
        assert_stamped_as_sent(port, kb, 0x90, 62, 100)   # and the next is not early


@pytest.mark.jack
def test_stamps_after_a_sysex_rtmidi_joined_are_not_early(jack_server):
    """rtmidi's JACK input joins an unterminated sysex with what follows until an 0xF7
    (here the port's own flush) and keeps only the last event's delta: the sum of
    deltas then falls short, and every later stamp came early by what was lost."""
    with keyboard_into_input() as (port, kb, _):
        time.sleep(0.03)
        kb.rt.send_message([0xF0, 0x01])                # cut short: no 0xF7
        time.sleep(0.05)
        kb.send(0x90, 61, 100)                           # swallowed into the sysex
        joined = drain(port, 1, timeout=1.0)             # the flush lets it out
        assert [m[0] for _, m in joined] == [0xF0], joined
        assert_stamped_as_sent(port, kb, 0x90, 62, 100)


@pytest.mark.jack
def test_connect_by_name_both_ways(jack_server):
    kb_name, rec_name = unique("kbd"), unique("synth")
    kb = Keyboard(kb_name, virtual="keys")
    rec = Recorder(rec_name, virtual="midi-in")
    try:
        inp = InputPort("jack", kb_name).open()              # part of "kbdXXXX:keys"
        out = OutputPort("jack", rec_name.upper(), ()).open()  # case-insensitive
        assert inp.port_name == f"{kb_name}:keys"
        assert out.port_name == f"{rec_name}:midi-in"
        time.sleep(0.05)
        kb.send(0x91, 64, 90)
        assert [m for _, m in drain(inp, 1)] == [[0x91, 64, 90]]
        assert out.send([0x90, 67, 80])
        assert rec.wait_for(lambda ev: any(m == (0x90, 67, 80) for _, m in ev), 2.0)
        inp.close()
        out.close()
        assert not out.send([0x90, 67, 80])                   # closed: False, no raise
    finally:
        kb.close()
        rec.close()


@pytest.mark.jack
def test_missing_port_lists_the_available_ones(jack_server):
    kb_name = unique("present")
    kb = Keyboard(kb_name, virtual="out")
    try:
        with pytest.raises(MidiSystemError) as e:
            InputPort("jack", "NoSuchKeyboard").open()
        msg = str(e.value)
        assert "'midi.input'" in msg and "NoSuchKeyboard" in msg
        assert f"{kb_name}:out" in msg
        assert e.value.status == 69          # the environment, retried by systemd
        waiting = InputPort("jack", "NoSuchKeyboard").open(wait=True)
        assert not waiting.connected and f"{kb_name}:out" in waiting.missing
        waiting.close()
    finally:
        kb.close()


@pytest.mark.jack
def test_peer_goes_away_and_comes_back(jack_server):
    kb_name = unique("plug")
    kb = Keyboard(kb_name, virtual="out")
    inp = InputPort("jack", kb_name).open()
    try:
        assert inp.present()
        kb.close()
        assert not inp.present()
        inp.drop()
        assert not inp.try_reconnect()
        kb = Keyboard(kb_name, virtual="out")
        assert inp.try_reconnect() and inp.connected
        time.sleep(0.05)
        kb.send(0x90, 61, 1)
        assert [m for _, m in drain(inp, 1)] == [[0x90, 61, 1]]
    finally:
        kb.close()
        inp.close()


@pytest.mark.jack
def test_open_ports_from_config_and_list_ports(jack_server):
    a, b = unique("jzin"), unique("jzout")
    inp, out = open_ports({"backend": "jack", "input": f"virtual:{a}",
                           "output": f"virtual:{b}"})
    try:
        ins, outs = list_ports("jack")
        assert f"{b}:out" in ins          # our output is a source others can read
        assert f"{a}:in" in outs          # our input is a destination others can write
        r = subprocess.run([sys.executable, "-m", "jazzd", "ports", "--backend", "jack"],
                           cwd=REPO, capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        assert f"{a}:in" in r.stdout and f"{b}:out" in r.stdout
    finally:
        inp.close()
        out.close()


def test_no_jack_server_says_how_to_start_one(monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", unique("no-such-server-"))
    with pytest.raises(MidiSystemError) as e:
        list_ports("jack")
    msg = str(e.value)
    assert "no JACK server is running" in msg and "jackd" in msg
    assert e.value.status == 69
    r = subprocess.run([sys.executable, "-m", "jazzd", "ports", "--backend", "jack"],
                       cwd=REPO, capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, JACK_DEFAULT_SERVER="no-such-server-x"))
    assert r.returncode == 69
    assert "no JACK server is running" in r.stderr
    assert "Traceback" not in r.stderr and "JackShm" not in r.stderr


@pytest.mark.skipif(os.path.exists("/dev/snd/seq"), reason="this machine has ALSA MIDI")
def test_no_alsa_sequencer_says_how_to_load_it():
    with pytest.raises(MidiSystemError, match="modprobe snd-seq"):
        list_ports("alsa")
