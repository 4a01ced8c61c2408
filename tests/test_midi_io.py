"""MIDI ports through a real JACK server: virtual ports, connect by name, clear errors."""

import bisect
import contextlib
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO, Keyboard, Recorder, unique
from jazzd.service.errors import ConfigError, MidiSystemError
from jazzd.live.midi_io import (ArrivalTimes, find_port, list_ports, open_port, open_ports,
                                parse_spec)


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


def jack_port(direction, spec, wait=False):
    """Open a JACK input ("in") or output ("out") as the daemon does (open_port)."""
    return open_port(direction, {"backend": "jack", "input": spec, "output": spec,
                                 "wait_for_ports": wait})


def messages(items):
    return [list(m) for _, m in items]


@contextlib.contextmanager
def keyboard_into_input():
    """(port, keyboard): a virtual JACK input with a keyboard connected to it."""
    name = unique("vin")
    port = jack_port("in", f"virtual:{name}")
    kb = Keyboard(unique("kb"), connect_to=f"{name}:in")
    try:
        time.sleep(0.05)
        yield port, kb
    finally:
        kb.close()
        port.close()


@contextlib.contextmanager
def output_into_ear():
    """(output, recorder): a JACK output connected by name to a listening peer."""
    name = unique("ear")
    rec = Recorder(name, virtual="in")
    out = jack_port("out", name)
    try:
        yield out, rec
    finally:
        out.close()
        rec.close()


def assert_frame_exact(port, kb, count=40, spread=0.2):
    """Messages played at chosen times, several in a cycle and at odd frames, come in
    stamped with those frames, in order, whatever the period.

    Both ends convert with one reading of the server's clock, pinned for the test, so
    what is compared is frames: how each end's conversion follows the server's slips
    against the monotonic clock (an xrun: the dummy driver re-anchors) is
    test_a_reading_follows_the_audio_clock_at_once_after_the_server_slips."""
    pinned = port.clock.reading()
    port.clock.reading = kb.port.clock.reading = lambda: pinned
    due = [time.monotonic() + kb.lead + 0.01 + spread * k / count + 1.37e-4 * (k % 3)
           for k in range(count)]
    for k, t in enumerate(due):
        kb.send(0x90, 40 + k % 40, 1 + k, at=t)
    items = drain(port, count, timeout=2.0 + spread)
    assert [m[2] for m in messages(items)] == [1 + k for k in range(count)]
    # to the frame (20.8 µs; the due times fall between frames: half a frame each way)
    # where RtMidi gave all of a cycle's messages the cycle's start: off by up to a
    # period, 1.3 ms here, 21 ms at 1,024
    errors = [(t - d) * 48000 for (t, _), d in zip(items, due)]
    assert max(abs(e) for e in errors) <= 1.0, f"frames off: {errors}"


@pytest.mark.jack
def test_virtual_input_stamps_each_message_with_its_frame(jack_server):
    with keyboard_into_input() as (port, kb):
        t0 = time.monotonic()
        for m in ([0x90, 60, 100], [0xFA], [0xF8], [0xF2, 0x10, 0x00], [0x80, 60, 0]):
            kb.send(*m)                                  # clock included: must arrive
        time.sleep(0.05)                                 # ... and these are read late
        items = drain(port, 5)
        assert messages(items) == [[0x90, 60, 100], [0xFA], [0xF8], [0xF2, 0x10, 0],
                                   [0x80, 60, 0]]
        for t, _ in items:        # arrival, not read, times (a server that missed
            assert abs(t - t0) < 0.02   # cycles lags the wall clock by a few ms)
        assert port.received == 5
        assert_frame_exact(port, kb)


@pytest.mark.jack
@pytest.mark.parametrize("period", [256, 1024])
def test_stamps_and_output_are_frame_exact_at_large_periods(tmp_path, period):
    """At PipeWire's usual quantum (1,024 frames) every message of a cycle keeps its own
    frame, both ways: played at its time by a JackOutput, stamped with it by a
    JackInput (RtMidi gave them all the cycle's start)."""
    from jazzd.bench.jack_server import NO_REALTIME, JackServer
    server = JackServer(tmp_path / "jackd.log", prefix="jazzd-period", modes=(NO_REALTIME,),
                        period=period)
    try:
        with keyboard_into_input() as (port, kb):
            assert port.period() == pytest.approx(period / 48000)
            assert_frame_exact(port, kb, count=60, spread=0.3)
    finally:
        server.close()


@pytest.mark.jack
def test_cancel_drops_pending_messages_but_note_offs(jack_server):
    """A silence on a JACK output: what was handed over for later is dropped, except the
    note-offs, which go out at once (a note already begun must end); what was sent for
    now still goes."""
    with output_into_ear() as (out, rec):
        t = time.monotonic() + 0.3
        out.send([0x90, 60, 100])                        # now
        out.send([0x90, 64, 100], t)                     # later: dropped
        out.send([0x80, 60, 0], t + 0.1)                 # later, but an off: now
        out.send([0x90, 67, 0], t + 0.1)                 # an off too (velocity 0)
        out.send([0xB0, 1, 5], t + 0.2)                  # dropped
        out.cancel()
        out.send([0xB0, 123, 0])
        assert rec.wait_for(lambda ev: len(ev) >= 4, 1.0)
        time.sleep(0.6)
        heard = rec.snapshot()
        assert [list(m) for _, m in heard] == [[0x90, 60, 100], [0x80, 60, 0], [0x90, 67, 0],
                                               [0xB0, 123, 0]]
        assert heard[-1][0] < t - 0.1                    # nothing waited for its time
        assert out.pending() == 0


@pytest.mark.jack
def test_a_late_message_goes_out_at_once_and_is_counted(jack_server):
    with output_into_ear() as (out, rec):
        t = time.monotonic() - 0.05                       # due 50 ms ago
        out.send([0x90, 60, 100], t)
        assert rec.wait_for(lambda ev: len(ev) == 1, 1.0)
        out.refresh()
        assert out.late_writes == 1 and out.max_late >= 0.02   # the frame clock may lag


@pytest.mark.jack
def test_connect_by_name_both_ways(jack_server):
    kb_name, rec_name = unique("kbd"), unique("synth")
    kb = Keyboard(kb_name, virtual="keys")
    rec = Recorder(rec_name, virtual="midi-in")
    try:
        inp = jack_port("in", kb_name)                       # part of "kbdXXXX:keys"
        out = jack_port("out", rec_name.upper())             # case-insensitive
        assert inp.port_name == f"{kb_name}:keys"
        assert out.port_name == f"{rec_name}:midi-in"
        time.sleep(0.05)
        kb.send(0x91, 64, 90)
        assert messages(drain(inp, 1)) == [[0x91, 64, 90]]
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
            jack_port("in", "NoSuchKeyboard")
        msg = str(e.value)
        assert "'midi.input'" in msg and "NoSuchKeyboard" in msg
        assert f"{kb_name}:out" in msg
        assert e.value.status == 69          # the environment, retried by systemd
        waiting = jack_port("in", "NoSuchKeyboard", wait=True)
        assert not waiting.connected and f"{kb_name}:out" in waiting.missing
        waiting.close()
    finally:
        kb.close()


@pytest.mark.jack
def test_peer_goes_away_and_comes_back(jack_server):
    kb_name = unique("plug")
    kb = Keyboard(kb_name, virtual="out")
    inp = jack_port("in", kb_name)
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
        assert messages(drain(inp, 1)) == [[0x90, 61, 1]]
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


def test_a_closed_port_s_failures_are_counted_once(jack_server):
    """While the JACK server is down the daemon retires the same closed ports at every
    poll: their counts went into the totals again each time (3 errors reported as 9,
    15, 21), and health() added the closed port's own count on top."""
    from jazzd.live.daemon import Daemon
    from jazzd.live.jack_midi import JackOutput
    d = Daemon.__new__(Daemon)           # the real methods, on the state they read
    d._closed_errors = [0, 0, 0, 0]
    d.watch = d.inp = d.improviser = d.clock = None
    d.out = JackOutput("virtual:x", True, unique("jzerr")).open()
    d.out.errors = 3
    for _ in range(3):
        d._retire(d.out)
    assert d.health()["MIDI send errors"] == 3
    d.out = JackOutput("virtual:y", True, unique("jzerr")).open()
    d.out.errors = 2
    assert d.health()["MIDI send errors"] == 5
    d._retire(d.out)
    assert d.health()["MIDI send errors"] == 5


@pytest.mark.jack
def test_a_reading_follows_the_audio_clock_at_once_after_the_server_slips(tmp_path):
    """A synchronous server waits for a stalled client, and the dummy driver then
    re-anchors: its frames slip against the monotonic clock by the stall. A reading
    (frame_clock.py) must follow at once, as every client's callbacks do. jack2's
    `jack_frame_time` follows through a delay-locked loop over seconds: read that way,
    17 ms off 0.1 s after a 20 ms stall, and the notes converted meanwhile played late
    (onsets ramped to +17 ms and back over 3 s in a flood of input)."""
    import jack

    from jazzd.bench.jack_server import NO_REALTIME, REALTIME, JackServer
    from jazzd.live.frame_clock import FrameClock
    server = JackServer(tmp_path / "jackd.log", prefix="jazzd-slip",
                        modes=(REALTIME, NO_REALTIME), sync=True)
    try:
        staller, reader = jack.Client("staller"), jack.Client("reader")
        cycles, stall = [], []

        @staller.set_process_callback
        def process(frames):
            cycles.append((time.monotonic(), staller.last_frame_time))
            if stall:
                time.sleep(stall.pop())

        staller.activate()
        clock, rate = FrameClock(reader), staller.samplerate
        time.sleep(0.3)
        readings = []
        for pause in (0.02, 0.05):
            stall.append(pause)
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                readings.append(clock.reading())
                time.sleep(0.002)
        staller.deactivate()
        staller.close()
        reader.close()
    finally:
        server.close()
    # The audio clock at each moment: the epoch (monotonic time of frame 0) of the
    # last two callbacks before it (a callback only ever runs late: the smaller)
    times = [m for m, _ in cycles]
    epochs = [m - f / rate for m, f in cycles]
    assert max(epochs) - min(epochs) > 0.04, "the server did not slip: proves nothing"
    errors = []
    for m, f in readings:
        i = bisect.bisect_right(times, m)
        if i >= 2 and m - times[i - 1] < 0.005:
            errors.append(abs(m - f / rate - min(epochs[i - 2:i])))
    errors.sort()
    assert len(errors) > 500
    p50, p99 = errors[len(errors) // 2], errors[int(0.99 * (len(errors) - 1))]
    assert p50 < 0.0002 and p99 < 0.001, \
        f"readings off the callbacks' clock: p50 {p50 * 1e3:.2f}, p99 {p99 * 1e3:.1f} ms"
