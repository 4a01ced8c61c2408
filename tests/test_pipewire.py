"""jazzd under PipeWire's JACK: a real `pipewire` daemon, started headless by the test
(its own XDG_RUNTIME_DIR; no D-Bus or session manager needed), at its own quantum
(1,024 frames), the daemon and the measuring peers all run under `pw-jack`.

Without pipewire and pipewire-jack installed the test skips, unless
JAZZD_REQUIRE_JACK=1 (CI installs them), when it fails."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import REPO, write_config

pytestmark = pytest.mark.jack


@pytest.fixture(scope="module")
def pipewire(tmp_path_factory):
    """The environment of a running headless PipeWire daemon."""
    missing = [b for b in ("pipewire", "pw-jack") if shutil.which(b) is None]
    if missing:
        if os.environ.get("JAZZD_REQUIRE_JACK") == "1":
            pytest.fail(f"{', '.join(missing)} not installed (JAZZD_REQUIRE_JACK=1)")
        pytest.skip(f"{', '.join(missing)} not installed (Debian: pipewire pipewire-jack)")
    run = tmp_path_factory.mktemp("pipewire")
    os.chmod(run, 0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(run))
    env.pop("JACK_DEFAULT_SERVER", None)
    log = open(run / "pipewire.log", "wb")
    proc = subprocess.Popen(["pipewire"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    probe = [shutil.which("pw-jack"), sys.executable, "-c",
             "import jack; c = jack.Client('probe', no_start_server=True); "
             "print(c.blocksize)"]
    deadline = time.monotonic() + 15
    while True:
        r = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=15)
        if r.returncode == 0:
            break
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"PipeWire's JACK did not answer: {r.stderr[-500:]}")
        time.sleep(0.2)
    env["JAZZD_PW_QUANTUM"] = r.stdout.strip()
    yield env
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.mark.parametrize("bpm, seconds, chart", [(120, 20, "rhythm_bb"),
                                                 (200, 40, "bird_blues_f")])
def test_over_midi_clock_under_pipewire_at_its_quantum(pipewire, tmp_path, bpm, seconds,
                                                       chart):
    """In time (p50 <= 1 ms, 95 % within 3 ms against the master's swung grid, a note that
    waited for a chord on the beat measured from the wait's end), in tune (the human
    band: chord tones >= 0.45, outside <= 0.20), nothing left sounding, and the
    daemon's JACK clients map PipeWire's libjack.

    At 1,024 frames a note is bound 26 ms before it sounds, before a chord sent on its
    beat arrives, so in a first chorus at 200 bpm the notes on the changes answer the
    old chord; from the second chorus the form memory anticipates the changes: 40 s is
    nearly three choruses of the 12-bar bebop blues (two changes in most bars). Over
    40 s of rhythm changes (32 bars: one chorus) the same run measured outside 0.22."""
    assert int(pipewire["JAZZD_PW_QUANTUM"]) >= 256       # PipeWire's, not a jackd's
    cfg = write_config(tmp_path / "pw.yaml",
                       midi={"backend": "jack", "input": "virtual:pwjz-in",
                             "output": "virtual:pwjz-out"},
                       tempo={"source": "clock", "bpm": bpm}, improviser={"seed": 7})
    r = subprocess.run([shutil.which("pw-jack"), sys.executable,
                        os.path.join(REPO, "tests", "clock_run.py"), str(cfg),
                        os.path.join(REPO, "tests", "charts", f"{chart}.txt"),
                        str(seconds), str(bpm)], env=pipewire, capture_output=True, text=True,
                       timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    log = got.pop("log")
    print(f"\nPipeWire {bpm} bpm, {chart}, {seconds} s: " + ", ".join(
        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in got.items()))
    assert got["exit"] == 0 and got["pipewire_libjack"], (got, log)
    assert got["onsets"] >= 20, (got, log)
    # PipeWire runs its graph without realtime scheduling here (no rtkit, no session):
    # beside other realtime work one note in 38 came 14 ms late, so the tail is a share
    assert got["p50_ms"] <= 1.0 and got["within_3ms"] >= 0.95, (got, log)
    assert got["sounding_at_end"] == [], (got, log)
    assert got["chord_tones"] >= 0.45 and got["outside"] <= 0.20, (got, log)
