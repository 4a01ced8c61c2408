"""Helpers for the suites that drive the live daemon through JACK (bad input, faults, soak).

conftest.py gives the JACK server, the daemon subprocess and the MIDI peers; this adds
what those suites share on top: a session wired to them, an external MIDI clock master
that remembers when it sent each tick, and the checks (onsets on the grid, notes
balanced, the log rate-limited, RSS).

Timing tolerance. rtmidi's JACK backend delivers a message at the next JACK period:
64 frames at 48 kHz = 1.33 ms. An onset crosses JACK once (daemon → ear) and, under
external clock, each tick crosses it once more (master → daemon), so quantisation alone
is up to 2 × 1.33 = 2.7 ms. On top comes the machine: two busy cores, three Python
processes (the test, the daemon, jackd) and timestamps taken in Python callbacks,
which measured 1-4 ms here (the ear polls rtmidi's queue, see conftest.Recorder).
`GRID_TOL` = 8 ms covers both with room, and is still small against the grids checked
(250 ms eighths at 120 bpm: a random onset lands within ±8 ms of the grid 6 % of the
time, so a dozen onsets cannot pass by luck). JACK also has xruns on a loaded machine
(a non-realtime jackd logs "client ... was not finished" several times a minute here):
the test server runs synchronous (conftest.jack_server), so a late client delays the
cycle rather than losing its MIDI, and a few onsets (at most `OUTLIER_SHARE`) may be
off by up to `OUTLIER_TOL` = 16 ms; one in fifty by more (`far_allowed`).
"""

import bisect
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import pytest

from conftest import Keyboard, Recorder, pair_notes, unique, write_config
from jazzd.model.style import only_length
from jazzd.bench.master import ChartPlayer, ClockMaster, voicing  # noqa: F401 (shared)

GRID_TOL = 0.008          # s, see the module docstring
OUTLIER_TOL = 0.016       # s, an onset delayed by an xrun
OUTLIER_SHARE = 0.1       # at most this share of onsets beyond GRID_TOL
FAR_SHARE = 0.02          # ... and this share (at least one) beyond OUTLIER_TOL


def far_allowed(n):
    """How many of n onsets may be beyond OUTLIER_TOL: CI's realtime dummy server logs
    tens of thousands of xruns in a run, and now and then one delays a single event
    past 16 ms (17.6 ms seen). A clock a tick off moves every onset, not one in fifty."""
    return max(1, int(FAR_SHARE * n))
# From a chord sent to the first onset that must answer it: JACK's period (1.3 ms), the
# dispatcher's poll (1 ms) and its wait while a note is sent (up to 2 ms), the binding
# lead (realize_ahead_ms, 5 ms), and room for a loaded machine (CI saw a note 12+ ms
# after a change still bound to the old chord).
CHANGE_REACH = 0.025


# The shipped model steered by its style controls into a steady line: a note on every
# eighth (no rests, no other lengths), chord and scale tones only, so a test can check
# each onset against a known grid and each pitch against the chord it was played over.
STEADY_STYLE = {"duration_weights": only_length(6),
                "kind_weights": {"A": 0, "X": 0, "R": 0}, "rest_probability": 0.0,
                "motif": 0.0}


@pytest.fixture(scope="session")
def steady_model():
    """The model of the steady sessions: the shipped default (see STEADY_STYLE)."""
    return "default"


DM7 = [50, 53, 57, 60]
FS7 = [42, 46, 49, 52]          # far from Dm7: only E and B of D dorian fit F#7


class Live:
    """A daemon with virtual ports, a keyboard playing into it and two ears after it.

    Two ears, because on an asynchronous JACK server an ear can lose a message when its
    client misses a cycle (an ear lost a message or two in ten minutes here; one run of
    jackd2's own jack_midi_dump lost 78 of 3500), rarely both the same ones. The test
    server now runs synchronous, which stops that, and the second ear stays as a guard:
    note balance is judged on both merged (`heard`, `events`), where a note-off either
    ear heard was sent. `rec` alone gives the timing in the bad-input, fault and soak
    suites; test_run_jack uses the merged `events`.

    `sections` are config sections over the defaults; midi is JACK with unique virtual
    port names unless `midi` overrides them (a non-virtual output is not connected to).
    `child_ears` puts the ears in processes of their own (`ChildEar`).
    """

    def __init__(self, run_daemon, tmp_path, midi=None, extra_args=(), env=None,
                 child_ears=False, **sections):
        self.name = unique("jz")
        midi_cfg = {"backend": "jack", "input": f"virtual:{self.name}-in",
                    "output": f"virtual:{self.name}-out", "reconnect_interval_s": 0.2}
        midi_cfg.update(midi or {})
        imp = sections.setdefault("improviser", {})
        imp.setdefault("seed", 7)
        if os.environ.get("JAZZD_TEST_MODEL"):        # try another model directory
            imp.setdefault("model", os.environ["JAZZD_TEST_MODEL"])
        self.config = write_config(tmp_path / f"{self.name}.yaml", midi=midi_cfg, **sections)
        self.daemon = run_daemon(self.config, *extra_args, env=env)
        self.kb = self.rec = None
        self.masters = []
        self.kb_client = unique("kb")
        self.daemon.wait_ready()
        if midi_cfg["input"].startswith("virtual:"):
            self.kb = Keyboard(self.kb_client, connect_to=f"{self.name}-in:in")
        self.rec2 = None
        if midi_cfg["output"].startswith("virtual:"):
            ear = ChildEar if child_ears else Recorder
            self.rec = ear(unique("ear"), connect_to=f"{self.name}-out:out")
            self.rec2 = ear(unique("ear"), connect_to=f"{self.name}-out:out")
        time.sleep(0.05)

    @property
    def pid(self):
        return self.daemon.proc.pid

    def alive(self):
        return self.daemon.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        self.daemon.signal(sig)
        rc = self.daemon.wait()
        time.sleep(0.05)          # the last messages cross JACK at the next period
        return rc

    def clock(self, bpm=120.0, **kw):
        """A ClockMaster on this keyboard (not started); stopped before the keyboard
        closes, even when the test fails (a tick sent on a closed port crashes)."""
        m = ClockMaster(self.kb, bpm, **kw)
        self.masters.append(m)
        return m

    def heard(self):
        """What the two ears heard, merged: the record for note balance."""
        return merge_heard(self.rec.snapshot(), self.rec2.snapshot())

    def events(self):
        """What the two ears heard, merged, with arrival times: [(time, message)]."""
        return merge_events(self.rec.snapshot(), self.rec2.snapshot())

    def notes(self):
        """[(on time, off time or None, pitch, velocity)] of what the two ears heard."""
        return pair_notes(self.events())

    def close(self):
        for m in self.masters:
            if m.is_alive():
                m.finish(send_stop=False)
        for p in (self.kb, self.rec, self.rec2):
            if p is not None:
                p.close()


@pytest.fixture
def live(run_daemon, tmp_path, jack_server, steady_model):
    """`live(**config sections)` starts a `Live` session; all are closed afterwards.

    Steady sessions (the default) play the shipped model with STEADY_STYLE (a note on
    every eighth) and no grace wait on beats, unless `steady=False` or the sections
    say otherwise.
    """
    made = []

    def make(steady=True, **kw):
        if steady:
            imp = kw.setdefault("improviser", {})
            imp.setdefault("model", steady_model)
            # A chord change that happens to land on a beat makes the daemon hold later
            # on-beat notes change_grace_ms for the next change (a musical choice, tested
            # with the JACK tests); the steady line stays on the grid.
            imp.setdefault("change_grace_ms", 0)
            kw.setdefault("style", STEADY_STYLE)
        s = Live(run_daemon, tmp_path, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


class ChildEar:
    """A Recorder in a child process (tests/jack_listener.py) that streams what it
    hears; if the child dies (python-rtmidi's JACK input can crash a late reader on an
    asynchronous server, docs/LIVE.md), another is started and the crash is counted in
    `crashes` [(time, exit status)]. Same `snapshot` and `close` as a Recorder."""

    LISTENER = os.path.join(os.path.dirname(__file__), "jack_listener.py")

    def __init__(self, client, connect_to):
        self.client, self.port = client, connect_to
        self.events = []
        self.crashes = []
        self._lock = threading.Lock()
        self._closing = False
        self._start()

    def _start(self):
        name = f"{self.client}-{len(self.crashes)}" if self.crashes else self.client
        self.proc = subprocess.Popen([sys.executable, self.LISTENER, name, self.port],
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"the ear {name} did not start (exit {self.proc.wait()})")
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()

    def _read(self, proc):
        for line in proc.stdout:
            t, data = line.split()
            with self._lock:
                self.events.append((float(t), tuple(bytes.fromhex(data))))
        rc = proc.wait()
        if not self._closing:
            self.crashes.append((time.monotonic(), rc))
            time.sleep(0.5)           # the server has dropped the dead client (see
            self._start()             # jack_listener.py on libjack's wake-up race)

    def snapshot(self):
        time.sleep(0.012)                 # the child's next flush (every 5 ms) is in
        with self._lock:
            return list(self.events)

    def close(self):
        self._closing = True
        self.proc.terminate()
        self.proc.wait()
        self._reader.join(2)


# -- checks ----------------------------------------------------------------------------

def onsets(events, since=None, until=None):
    """Times of the note-ons (velocity > 0) in a recorded stream."""
    return [t for t, m in events if len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2] > 0
            and (since is None or t >= since) and (until is None or t < until)]


def phase_errors(times, period):
    """Signed distance (s) of each time from the grid of `period` that fits them best.

    The internal clock's phase is the daemon's own (its start), so the grid's phase is
    taken as the median residue; everything then has to sit on that one grid.
    """
    if not times:
        return []
    half = period / 2
    r = [(t - times[0] + half) % period - half for t in times]
    ref = statistics.median(r)
    return [(x - ref + half) % period - half for x in r]


def assert_errors_small(errors, what, tol=GRID_TOL, outlier_tol=OUTLIER_TOL,
                        share=OUTLIER_SHARE):
    """All but `far_allowed` of the |errors| ≤ outlier_tol, and of the rest all but
    `share` ≤ tol (module docstring). The far ones allowed are not counted again among
    the `share`: with six onsets, one 33 ms late (an xrun) would otherwise fail a check
    whose rule allows it."""
    assert errors, f"no {what} to check"
    worst = max(abs(e) for e in errors)
    over = sum(abs(e) > tol for e in errors)
    far = sum(abs(e) > outlier_tol for e in errors)
    shown = [round(e * 1e3, 1) for e in errors]
    allowed = far_allowed(len(errors))
    assert far <= allowed and over - far <= share * (len(errors) - far), (
        f"{what}: {over} of {len(errors)} off by more than {tol * 1e3:.0f} ms, {far} by "
        f"more than {outlier_tol * 1e3:.0f} ms, the worst by {worst * 1e3:.1f} ms "
        f"(allowed: {share:.0%} up to {outlier_tol * 1e3:.0f} ms, "
        f"{far_allowed(len(errors))} beyond): {shown}")


def assert_on_grid(times, period, what="onsets", **tol):
    """All `times` on one grid of `period` (phase free): in time, whatever the start."""
    err = phase_errors(times, period)
    assert_errors_small(err, f"{what} on a {period * 1e3:.0f} ms grid", **tol)
    return err


def master_grid_errors(master, times, division=2):
    """Seconds from each time to the master's nearest 1/division-beat line."""
    tl = master.timeline()
    return [e for e in (tl.grid_error(t, division) for t in times) if e is not None]


def assert_on_master_grid(master, times, what, division=2, **tol):
    """Onsets on the external clock's grid (its eighths by default): phase and tempo."""
    errs = master_grid_errors(master, times, division)
    assert len(errs) >= 3, f"too few onsets to check ({what}): {len(errs)}"
    assert_errors_small(errs, f"{what}: onsets vs the master's 1/{division} beats", **tol)
    return errs


def merge_heard(a, b, tol=0.01, eps=0.003):
    """Two ears' recordings merged into one message sequence (see `merge_events`)."""
    return [m for _, m in merge_events(a, b, tol, eps)]


def merge_events(a, b, tol=0.01, eps=0.003):
    """Two ears' recordings [(time, message)] merged into one [(time, message)].

    An event of `b` is the same as one of `a` if the message is equal and the times
    are within `tol` (the daemon's notes are at least 30 ms apart, the ears' clocks
    agree to about a millisecond). What only `b` heard goes in after the event of `a`
    that matches its predecessor in `b`, and after any later event of `a` more than
    `eps` older than it; a note-on also after the note-offs of its JACK cycle (the
    scheduler ends the sounding note before it starts the next one).
    """
    order = sorted(range(len(a)), key=lambda i: a[i][0])   # times may step back a hair
    times = [a[i][0] for i in order]
    used = set()
    matched = {}
    for bi, (tb, mb) in enumerate(b):
        lo = bisect.bisect_left(times, tb - tol)
        hi = bisect.bisect_right(times, tb + tol)
        for ai in sorted(order[lo:hi], key=lambda i: abs(a[i][0] - tb)):
            if ai not in used and a[ai][1] == mb:
                matched[bi] = ai
                used.add(ai)
                break
    before = {}                         # index in a (len(a): at the end) -> b-only
    last = -1
    for bi, (tb, mb) in enumerate(b):
        if bi in matched:
            last = matched[bi]
            continue
        pos = last + 1
        on = mb[0] & 0xF0 == 0x90 and len(mb) == 3 and mb[2] > 0
        while pos < len(a) and (a[pos][0] < tb - eps or (
                on and a[pos][0] <= tb + eps and _is_off(a[pos][1]))):
            pos += 1
        before.setdefault(pos, []).append((tb, tuple(mb)))
        last = pos - 1
    out = []
    for ai, (ta, ma) in enumerate(a):
        out.extend(before.get(ai, ()))
        out.append((ta, tuple(ma)))
    out.extend(before.get(len(a), ()))
    return out


def _is_off(m):
    return len(m) == 3 and (m[0] & 0xF0 == 0x80 or (m[0] & 0xF0 == 0x90 and m[2] == 0))


def assert_balanced_messages(messages, monophonic=True):
    """In `messages` (tuples, in order: `Live.heard()`), every note-on has its own
    note-off before the same pitch sounds again and none is left at the end (CC123 does
    not count); with `monophonic`, no note-on comes while another note sounds.
    Returns the number of notes."""
    sounding = {}
    bad = []
    notes = 0
    for i, m in enumerate(messages):
        if len(m) != 3 or m[0] & 0xF0 not in (0x80, 0x90):
            continue
        key = (m[0] & 0x0F, m[1])
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            notes += 1
            if key in sounding:
                bad.append((sounding[key], "struck again before its note-off"))
            elif monophonic and sounding:
                bad.append((i, f"while {sorted(sounding)} still sound(s)"))
            sounding[key] = i
        else:
            sounding.pop(key, None)
    bad += [(i, "never ended") for i in sounding.values()]
    if bad:
        i, why = min(bad)
        raise AssertionError(f"{len(bad)} unbalanced notes, e.g. message {i} of "
                             f"{len(messages)} {why}: {[list(m) for m in messages[max(0, i - 3):i + 5]]}")
    return notes


def unbalanced_share(messages):
    """The share of note-ons in one ear's `messages` that are not ended by their own
    note-off before the pitch sounds again (or at the end): 0.0 when all are."""
    sounding, notes, bad = set(), 0, 0
    for m in messages:
        if len(m) != 3 or m[0] & 0xF0 not in (0x80, 0x90):
            continue
        key = (m[0] & 0x0F, m[1])
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            notes += 1
            bad += key in sounding
            sounding.add(key)
        else:
            sounding.discard(key)
    bad += len(sounding)
    return bad / notes if notes else 0.0


def still_sounding(events):
    """(channel, pitch) of notes left on, counting CC123/CC120 as ending a channel's notes."""
    on = {}
    for t, m in events:
        if len(m) != 3:
            continue
        kind, ch = m[0] & 0xF0, m[0] & 0x0F
        if kind == 0x90 and m[2] > 0:
            on[(ch, m[1])] = t
        elif kind == 0x80 or kind == 0x90:
            on.pop((ch, m[1]), None)
        elif kind == 0xB0 and m[1] in (120, 123):
            for key in [k for k in on if k[0] == ch]:
                del on[key]
    return sorted(on)


def longest_gap(times, since, until):
    """(length, start) of the longest stretch of [since, until) without an onset."""
    pts = [since] + [t for t in times if since <= t < until] + [until]
    return max((b - a, a) for a, b in zip(pts, pts[1:]))


def assert_clean_exit_log(output):
    """No exception escaped a thread: no traceback, no crash report."""
    for bad in ("Traceback", "crash in", "CRITICAL", "Exception in thread",
                "Fatal Python error"):              # faulthandler: a segfault, an abort
        assert bad not in output, f"{bad!r} in the daemon's output:\n{output[-3000:]}"


_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) ")
_MORE = re.compile(r"(\d+) more like this")


def log_time(line):
    """Seconds since midnight of a terminal-format log line (HH:MM:SS.mmm LEVEL ...)."""
    m = _STAMP.match(line)
    if not m:
        return None
    h, mi, s, ms = (int(x) for x in m.groups())
    return h * 3600 + mi * 60 + s + ms / 1000


def rate_limited_lines(output, needles=(), pattern=None):
    """The log lines of one kind of warning, asserted rate-limited.

    A line is of the kind if it contains any of `needles`, or matches the regular
    expression `pattern` (case-insensitive). RateLimiter promises one line at once,
    then at most one per second carrying the count of the ones left out. Returns
    (lines, messages accounted for: each line is one message plus its "N more like
    this").
    """
    rx = re.compile(pattern, re.I) if pattern else None
    lines = [ln for ln in output.splitlines()
             if any(n in ln for n in needles) or (rx is not None and rx.search(ln))]
    stamps = [log_time(ln) for ln in lines]
    pairs = list(zip(zip(stamps, lines), zip(stamps[1:], lines[1:])))
    if pairs and _is_summary(lines[-1]):
        pairs.pop()           # a summary flushed on shutdown may come early
    for (a, la), (b, lb) in pairs:
        if a is not None and b is not None:
            assert b - a >= 0.9, f"two lines of one kind {b - a:.3f} s apart:\n{la}\n{lb}"
    accounted = 0
    for ln in lines:
        m = _MORE.search(ln)
        if _is_summary(ln):
            accounted += int(m.group(1))          # a flush summary: only the count
        elif m:
            accounted += 1 + int(m.group(1))      # a warning carrying the count
        else:
            accounted += 1
    return lines, accounted


def _is_summary(line):
    """RateLimiter.flush's line: "KIND: N more like this in the last X s (latest: ...)"."""
    m = _MORE.search(line)
    return bool(m) and ": " + m.group(0) in line


def assert_kind_logged(output, pattern, what):
    """Bad input of one kind shows in the log (at the default level), rate-limited."""
    lines, _ = rate_limited_lines(output, pattern=pattern)
    lines = [ln for ln in lines if " DEBUG " not in ln]
    assert lines, (f"{what}: no log line matching {pattern!r} (garbage input "
                   f"is logged once per kind):\n{output[-2000:]}")
    return lines


def warning_lines(output):
    return [ln for ln in output.splitlines() if " WARNING " in ln or " ERROR " in ln]


def rss_kb(pid):
    """VmRSS of a process in kB, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def wait_notes(rec, n, timeout, since=0.0):
    """Wait until the ear has heard `n` note-ons after `since`."""
    return rec.wait_for(lambda ev: len(onsets(ev, since)) >= n, timeout)


def without_dac_override():
    """A preexec_fn that takes from a root child the power to read any file.

    Root ignores file modes through CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so
    `chmod 000` alone tests nothing when the suite runs as root. Dropping both from the
    bounding set before exec leaves them out of the new program's capabilities, while
    it stays root (and can still run the interpreter under /root). Not root: no-op.
    """
    def preexec():
        if os.geteuid() != 0:
            return
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (1, 2):                    # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, cap, 0, 0, 0) != 0:     # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    return preexec


class NotifyListener:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET; a thread collects
    (arrival time, message) of everything sent to it."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        self.got = []
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self):
        while not self._halt.is_set():
            try:
                self.got.append((time.monotonic(), self.sock.recv(4096).decode()))
            except socket.timeout:
                pass

    def since(self, t, field):
        return [m for at, m in list(self.got) if at >= t and field in m]

    def close(self):
        self._halt.set()
        self._thread.join(2)
        self.sock.close()
