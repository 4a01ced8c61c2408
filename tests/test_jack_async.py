"""The daemon on a JACK server started the ordinary way: asynchronous and non-realtime
(`jackd --no-realtime -d dummy`), not the synchronous test server of conftest.py.

An outside harness found daemons there that logged the notes they played while their
listener heard nothing, after a slow start. The cause is libjack's wake-up race (see
docs/LIVE.md, "A client that never runs"): a patchbay polling the server with
`jack_lsp` is enough to set it off. Each test starts its own server, and listens from a
process of its own (tests/jack_ear.py), as the harness did.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, DaemonProc, _require_jack, write_config
from jazzd.bench.jack_server import NO_REALTIME, REALTIME, JackServer, JackUnavailable
from live import STEADY_STYLE, NotifyListener, assert_clean_exit_log

pytestmark = [pytest.mark.jack, pytest.mark.slow]


@pytest.fixture
def async_jack(tmp_path):
    """A private JACK server in JACK's default (asynchronous) mode, non-realtime."""
    try:
        server = JackServer(tmp_path / "jackd.log", prefix="jazzd-async", set_env=False)
    except JackUnavailable as e:
        if _require_jack():
            pytest.fail(f"{e} (JAZZD_REQUIRE_JACK=1)")
        pytest.skip(str(e))
    yield server
    server.close()


class Ear:
    """tests/jack_ear.py: a keyboard and a listener in their own process."""

    def __init__(self, server):
        env = dict(server.env, PYTHONPATH=os.pathsep.join(
            [REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "tests", "jack_ear.py")], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def round(self, prefix, seconds=2.0):
        """Hold a chord into PREFIX-in:in for `seconds`: (the note-ons heard on
        PREFIX-out:out, how often the chord was pressed; see jack_ear.py)."""
        self.proc.stdin.write(f"round {prefix}-in:in {prefix}-out:out {seconds}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        assert answer and answer[0] == "heard", f"the ear failed: {answer}"
        return int(answer[1]), int(answer[2])

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def poll_like_a_patchbay(server, halt, interval=0.02):
    """`jack_lsp` every 20 ms, as qjackctl and other patchbays poll the server."""
    lsp = shutil.which("jack_lsp")
    while not halt.is_set():
        subprocess.run([lsp], env=server.env, capture_output=True)
        halt.wait(interval)


def daemon_config(tmp_path, prefix):
    return write_config(
        tmp_path / f"{prefix}.yaml",
        midi={"backend": "jack", "input": f"virtual:{prefix}-in",
              "output": f"virtual:{prefix}-out", "reconnect_interval_s": 0.2},
        tempo={"bpm": 120, "swing": 0.5},
        improviser={"model": "default", "seed": 7, "change_grace_ms": 0},
        style=STEADY_STYLE)


def ready_ms(output):
    m = re.search(r"ready in (\d+) ms", output)
    return int(m.group(1)) if m else None


def test_every_restart_beside_a_polling_patchbay_is_heard(async_jack, tmp_path):
    """Restarted back to back, as a service is, while a patchbay polls the server:
    every start must be heard by a listener in another process. Before the fix about
    a third of the starts were mute (and took 2 s to get ready): the daemon's output
    client waited on a wake-up futex the server had already deleted. A chord the server
    loses is pressed again (jack_ear.py); a mute daemon stays mute however often. Each
    start is READY within 1.5 s. JAZZD_RESTARTS sets how many starts (8; the
    acceptance run: 50)."""
    ear = Ear(async_jack)
    halt = threading.Event()
    poller = threading.Thread(target=poll_like_a_patchbay, args=(async_jack, halt),
                              daemon=True)
    poller.start()
    prefix = "jazzd"
    cfg = daemon_config(tmp_path, prefix)
    runs = []
    try:
        for _ in range(int(os.environ.get("JAZZD_RESTARTS", "8"))):
            d = DaemonProc(cfg, env=async_jack.env)
            try:
                d.wait_ready(15)
                heard, presses = ear.round(prefix)
                d.signal(signal.SIGTERM)
                assert d.wait(15) == 0, d.output()[-2000:]
                assert_clean_exit_log(d.output())
            finally:
                d.kill()
            played = re.search(r"stopped: (\d+) notes played", d.output())
            runs.append((ready_ms(d.output()), int(played.group(1)) if played else None,
                         heard, presses, d.output()))
    finally:
        halt.set()
        poller.join(5)
        ear.close()
    print("ready ms, played, heard, presses:", [r[:4] for r in runs])
    ready = sorted(r[0] for r in runs if r[0] is not None)
    print(f"READY over {len(ready)} starts: p50 {ready[len(ready) // 2]} ms, "
          f"max {ready[-1]} ms")
    for r in runs:
        for line in r[4].splitlines():
            if "JACK:" in line or "JACK client" in line:
                print(line)
    mute = [r for r in runs if r[2] < 3]
    assert not mute, (f"{len(mute)} of {len(runs)} starts were not heard (ready ms, "
                      f"played, heard, presses): {[r[:4] for r in runs]}\n"
                      f"{mute[0][4][-3000:]}")
    # The server lost the first chord of a start now and then (2 of 8 on CI: the daemon
    # logged the note-offs of a chord whose note-ons never reached it); pressed again,
    # it was heard. Statistical: losing it at most 6 times in 8 (at 1 in 4, p < 0.001).
    again = [r for r in runs if r[3] > 1]
    assert len(again) <= 6 * len(runs) / 8, [r[:4] for r in runs]
    assert len(ready) == len(runs) and ready[-1] <= 1500, [r[:4] for r in runs]


def test_a_server_restart_is_noticed_and_the_daemon_plays_again(async_jack, tmp_path):
    """jackd stopped and started again under a running daemon takes the daemon's
    clients with it. The daemon must notice (libjack's shutdown callback), stop feeding
    the watchdog and say why in STATUS, open its clients again once the server is
    back, and be heard again. Before the fix it went on feeding the watchdog, mute,
    with its ports gone for good."""
    notify = NotifyListener(tmp_path / "notify.sock")
    prefix = "jz-restart"
    d = DaemonProc(daemon_config(tmp_path, prefix),
                   env=dict(async_jack.env, NOTIFY_SOCKET=notify.path,
                            WATCHDOG_USEC="200000"))
    try:
        d.wait_ready(15)
        ear = Ear(async_jack)
        try:
            assert ear.round(prefix)[0] >= 3, d.output()
        finally:
            ear.close()
        assert notify.since(0, "WATCHDOG=1")
        async_jack.stop()
        stopped = time.monotonic()
        time.sleep(1.5)
        assert d.proc.poll() is None, d.output()[-3000:]
        assert any("JACK" in m for m in notify.since(stopped, "STATUS=")), \
            (notify.got[-5:], d.output()[-2000:])
        # noticed within a check interval (0.2 s) or two: no ping after that
        assert not notify.since(stopped + 0.6, "WATCHDOG=1"), d.output()[-2000:]
        async_jack.start()
        assert d.wait_line("JACK clients running again", 15), d.output()[-3000:]
        back = time.monotonic()
        ear = Ear(async_jack)
        try:
            assert ear.round(prefix)[0] >= 3, d.output()[-3000:]
        finally:
            ear.close()
        assert notify.since(back, "WATCHDOG=1"), d.output()[-2000:]
        d.signal(signal.SIGTERM)
        assert d.wait(15) == 0, d.output()[-3000:]
        assert_clean_exit_log(d.output())
    finally:
        d.kill()
        notify.close()
    print("\n".join(line for line in d.output().splitlines() if "JACK" in line))


@pytest.mark.parametrize("period, seconds", [(64, 30), (1024, 45)])
def test_over_midi_clock_on_an_asynchronous_server_at_its_period(tmp_path, period,
                                                                 seconds):
    """JACK's default asynchronous mode at the smallest and the largest period users
    have: a sample-accurate master at 200 bpm plays the 12-bar bebop
    blues into the daemon (30 s; 45 s at 1,024 frames). In time (p50 <= 1 ms, p99 <= 3 ms
    against the master's swung grid), in tune (chord tones >= 0.45, outside <= 0.20), nothing left
    sounding. A cycle the server drops on this loaded machine loses its MIDI, so the
    rails are statistics over some 150 notes; at 1,024 frames the first chorus answers
    the changes on the beat late (tests/test_pipewire.py) and the form memory the rest:
    over 30 s (two choruses) chord tones came out 0.47 three times and 0.32 once."""
    # asynchronous, realtime where the machine allows it: a non-realtime server
    # starved by other realtime work (a soak beside) stalls its whole graph, and its
    # frames then drift off the wall clock the master's grid is measured in
    modes = [NO_REALTIME]
    if os.environ.get("JAZZD_JACK_REALTIME", "1") != "0":
        modes.insert(0, REALTIME)
    try:
        server = JackServer(tmp_path / "jackd.log", prefix="jazzd-async", set_env=False,
                            period=period, modes=modes)
    except JackUnavailable as e:
        if _require_jack():
            pytest.fail(f"{e} (JAZZD_REQUIRE_JACK=1)")
        pytest.skip(str(e))
    try:
        cfg = write_config(tmp_path / "async.yaml",
                           midi={"backend": "jack", "input": "virtual:pwjz-in",
                                 "output": "virtual:pwjz-out"},
                           tempo={"source": "clock", "bpm": 200}, improviser={"seed": 7})
        r = subprocess.run([sys.executable, os.path.join(REPO, "tests", "clock_run.py"),
                            str(cfg), os.path.join(REPO, "tests", "charts",
                                                   "bird_blues_f.txt"), str(seconds),
                            "200"],
                           env=server.env, capture_output=True, text=True, timeout=150,
                           cwd=REPO)
    finally:
        server.close()
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    log = got.pop("log")
    print(f"\nasynchronous jackd, {period} frames, 200 bpm, {seconds} s: " + ", ".join(
        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in got.items()))
    print("\n".join(ln for ln in log.splitlines() if "MIDI clock:" in ln or "JACK:" in ln))
    assert got["exit"] == 0, (got, log)
    assert got["onsets"] >= 60, (got, log)
    assert got["p50_ms"] <= 1.0 and got["p99_ms"] <= 3.0, (got, log)
    assert got["sounding_at_end"] == [], (got, log)
    assert got["chord_tones"] >= 0.45 and got["outside"] <= 0.20, (got, log)
