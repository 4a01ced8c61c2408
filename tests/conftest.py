"""Shared fixtures: a private JACK server (dummy driver), MIDI peers, a daemon runner.

The JACK server is started once per test session, with a unique name, and stopped at
the end. Without `jackd` the tests that need it skip, unless JAZZD_REQUIRE_JACK=1 (CI),
where they fail.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import yaml

from jazzd.bench import jack_peers
from jazzd.bench.jack_peers import Keyboard  # noqa: F401 - the tests import it from here
from jazzd.bench.jack_server import NO_REALTIME, REALTIME, JackServer, JackUnavailable
from jazzd.service import config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _require_jack():
    return os.environ.get("JAZZD_REQUIRE_JACK") == "1"


JACK_REPORT = {}      # how the session's JACK server ran, for the terminal summary


def jack_is_synchronous():
    """Does the session's JACK server run with -S? Asynchronous JACK loses and doubles
    the MIDI of a client that misses its cycle: tests then assert statistically."""
    return "-S" in JACK_REPORT.get("mode", "").split()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Every test that uses the session's JACK server is marked `jack`, whether or not
    its file says so: scripts/test.sh runs the jack tests apart from the others (which
    must not load the machine under them at the same priority)."""
    for item in items:
        if "jack_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.jack)


def pytest_terminal_summary(terminalreporter):
    """One line on the JACK server the live tests used: its mode and its xruns."""
    if not JACK_REPORT:
        return
    try:
        text = JACK_REPORT["log"].read_text(errors="replace")
    except OSError:
        text = ""
    late = text.count("was not finished") + text.count("XRun")
    terminalreporter.write_line(f"JACK test server: jackd {JACK_REPORT['mode']} -d dummy "
                                f"-p 64; {late} xrun/late-client lines in its log")


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory):
    """The name of a running private JACK server; JACK_DEFAULT_SERVER is set to it."""
    logfile = tmp_path_factory.mktemp("jack") / "jackd.log"
    # Realtime first, where the machine allows it: on a loaded machine a non-realtime
    # server misses cycles, which would make the tests measure the machine rather than
    # jazzd. JAZZD_JACK_REALTIME=0 skips it.
    # Synchronous mode (-S): in JACK's default asynchronous mode a client that misses
    # its cycle loses the MIDI it wrote (a later run clears its port buffer) or has it
    # read twice (the readers see the old buffer again). Measured here with a
    # non-realtime server and one busy core: a note-off the daemon sent was missing for
    # both ears, and a note-on it sent once was heard twice. With -S the server waits
    # for a late client and nothing is lost, only late. JAZZD_JACK_SYNC=0 turns it off.
    modes = [NO_REALTIME]
    if os.environ.get("JAZZD_JACK_REALTIME", "1") != "0":
        modes.insert(0, REALTIME)
    sync = os.environ.get("JAZZD_JACK_SYNC", "1") != "0"
    try:
        server = JackServer(logfile, prefix="jazzd-test", modes=modes, sync=sync)
    except JackUnavailable as e:
        if _require_jack():
            pytest.fail(f"{e} (JAZZD_REQUIRE_JACK=1)")
        pytest.skip(str(e))
    JACK_REPORT.update(mode=server.mode, log=logfile)
    try:
        yield server.name
    finally:
        server.close()


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:6]}"


# -- MIDI peers (the keyboard and the listener) -------------------------------------------

class Recorder(jack_peers.Recorder):
    """The shared recorder (daemon/jack_peers.py), with its notes paired."""

    def notes(self):
        """[(on time, off time or None, pitch, velocity)] from the recorded stream."""
        return pair_notes(self.snapshot())


def pair_notes(events):
    """Pair note-ons with their note-offs: [(on_t, off_t|None, pitch, velocity)]."""
    open_notes = {}
    out = []
    for t, msg in events:
        if not msg:
            continue
        kind = msg[0] & 0xF0
        if kind == 0x90 and len(msg) == 3 and msg[2] > 0:
            if msg[1] in open_notes:
                out.append(open_notes.pop(msg[1]))       # re-struck before its off
            open_notes[msg[1]] = [t, None, msg[1], msg[2]]
        elif (kind == 0x80 or (kind == 0x90 and msg[2] == 0)) and len(msg) == 3:
            n = open_notes.pop(msg[1], None)
            if n is not None:
                n[1] = t
                out.append(n)
    out.extend(open_notes.values())
    return sorted((tuple(n) for n in out), key=lambda n: n[0])


# -- the daemon as a subprocess ---------------------------------------------------------

KINDS5 = ["C", "S", "A", "X", "R"]


def random_weights(vocab, cell="lstm", units=16, embed=(4, 6, 6), seed=0, conv_layers=2,
                   scale=0.5):
    """Weights of the model-directory layout (jazzd.model.store) for `vocab`, drawn at
    random: shapes only, no TensorFlow needed."""
    import numpy as np

    from jazzd.grammar.features import WIDTH
    r = np.random.default_rng(seed)
    K, D, S = len(vocab["kinds"]), len(vocab["durations"]), len(vocab["steps"])
    U = units
    I = sum(embed) + WIDTH
    shapes = {"embed_kind": (K + 1, embed[0]), "embed_dur": (D + 1, embed[1]),
              "embed_step": (S + 1, embed[2]), "kind_kernel": (U, K), "kind_bias": (K,),
              "dur_kernel": (U + K, D), "dur_bias": (D,), "step_kernel": (U + K + D, S),
              "step_bias": (S,)}
    if cell == "lstm":
        shapes.update(lstm_kernel=(I, 4 * U), lstm_recurrent=(U, 4 * U), lstm_bias=(4 * U,))
    elif cell == "gru":
        shapes.update(gru_kernel=(I, 3 * U), gru_recurrent=(U, 3 * U), gru_bias=(2, 3 * U))
    else:
        shapes.update(conv_in_kernel=(I, U), conv_in_bias=(U,))
        for i in range(conv_layers):
            shapes.update({f"conv{i}_kernel": (2, U, 2 * U), f"conv{i}_bias": (2 * U,),
                           f"conv{i}_res_kernel": (U, U), f"conv{i}_res_bias": (U,)})
    return {k: r.normal(0, scale, s).astype(np.float32) for k, s in shapes.items()}


def small_vocab(durations=(3, 4, 6, 12, 24), steps=range(-5, 6)):
    return {"kinds": list(KINDS5), "durations": list(durations), "steps": list(steps)}


def save_random_model(directory, vocab=None, seed=0, meta=None, cell="lstm", units=16):
    """A model directory with random weights over `vocab`: what a test needs when it
    must know which values the daemon can play (the real network code runs it)."""
    from jazzd.model.store import save_model
    vocab = vocab or small_vocab()
    meta = dict(meta or {}, cell=cell)
    save_model(directory, random_weights(vocab, cell, units, seed=seed), vocab, meta)
    return str(directory)


def write_config(path, **sections):
    """A config file with `sections` ({"midi": {...}, ...}) over nothing (defaults)."""
    path.write_text(yaml.safe_dump(sections, sort_keys=False))
    return path


class DaemonProc:
    """`jazzd run --config FILE` as a subprocess, with its stderr collected."""

    def __init__(self, config_path, extra_args=(), env=None):
        self.config_path = config_path
        self.lines = []
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jazzd", "run", "--config", str(config_path),
             *extra_args],
            cwd=REPO, env=dict(os.environ, PYTHONFAULTHANDLER="1", **(env or {})),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self):
        return "\n".join(self.lines)

    def wait_line(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return True
            if self.proc.poll() is not None:
                time.sleep(0.1)
                return any(text in line for line in self.lines)
            time.sleep(0.01)
        return False

    def wait_ready(self, timeout=10.0):
        if not self.wait_line("ready in", timeout):
            self.kill()
            raise AssertionError("jazzd run did not become ready:\n" + self.output())

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=10.0):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # SIGABRT first: faulthandler prints every thread's stack, which says where
            # it hung; then SIGKILL.
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                pass
            self.kill()
            self._reader.join(2)
            raise AssertionError("jazzd run did not exit:\n" + self.output()) from None
        self._reader.join(2)
        if rc < 0:                # killed by a signal: show why (faulthandler's report)
            print(f"jazzd run died of signal {-rc}; its output:\n{self.output()[-8000:]}")
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def run_daemon():
    """Start daemons with `run_daemon(config_path, *args)`; all are killed afterwards."""
    procs = []

    def start(config_path, *args, env=None):
        d = DaemonProc(config_path, args, env)
        procs.append(d)
        return d

    yield start
    for d in procs:
        d.kill()


def validated_config(**sections):
    """The default config with `sections` updated over it, validated."""
    c = config.defaults()
    for sec, kv in sections.items():
        c[sec].update(kv)
    return config.validate(c)
