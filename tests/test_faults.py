"""Faults around the live daemon: killed, frozen, broken files, a full disk for logs.

- SIGKILL, then a restart: the new process sends CC123 on its output channel at start,
  which ends the note the killed one left sounding.
- SIGSTOP/SIGCONT under external clock: after SIGCONT it finds the clock again (its
  onsets are back on the master's eighths) and does not burst out the notes it missed.
- A corrupt or truncated weights.npz, a wrong-shape, malformed or missing vocab.json,
  an unreadable config: one clear line naming the file and the problem, no traceback,
  the documented exit status (66 for a model, 78 for a config).
- stderr on /dev/full (the disk for logs is full): it keeps playing, and exits 0.
"""

import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import zipfile

import pytest

from conftest import REPO, Keyboard, Recorder, unique, write_config
from jazzd.service.errors import EX_CONFIG, EX_NOINPUT
from jazzd.model.store import DEFAULT_DIR
from live import (DM7, NotifyListener, assert_balanced_messages,  # noqa: F401
                  assert_clean_exit_log, assert_on_grid, assert_on_master_grid, live,
                  master_grid_errors, merge_heard, onsets,
                  STEADY_STYLE, steady_model, still_sounding, wait_notes,
                  without_dac_override)

EIGHTH = 0.25


# -- SIGKILL, then a restart ----------------------------------------------------------

@pytest.mark.jack
def test_sigkill_then_restart_clears_the_note_left_sounding(live, run_daemon):
    synth = unique("synth")
    rec = Recorder(synth, virtual="in")              # the synth outlives the daemons
    try:
        s = live(midi={"output": synth, "output_channel": 5},
                 improviser={"gate": 1.0}, tempo={"bpm": 120, "swing": 0.5})
        s.kb.chord(DM7)
        assert wait_notes(rec, 2, 3.0), s.daemon.output()
        s.daemon.proc.send_signal(signal.SIGKILL)
        s.daemon.proc.wait(5)
        t_kill = time.monotonic()
        time.sleep(0.1)
        left = still_sounding(rec.snapshot())
        assert left and all(ch == 4 for ch, _ in left), \
            f"legato line killed mid-note, yet nothing left sounding: {left}"

        again = run_daemon(s.config)                 # the service manager restarts it
        again.wait_ready()
        time.sleep(0.1)
        after = [m for t, m in rec.snapshot() if t > t_kill]
        assert after, "the restarted daemon sent nothing"
        # all sound off, all notes off, then a note-off for every pitch: a receiver
        # that ignores the controllers has the left note ended all the same
        assert after[:2] == [(0xB4, 120, 0), (0xB4, 123, 0)], after[:3]
        assert {m[1] for m in after[2:130] if m[0] == 0x84} == set(range(128))
        assert still_sounding(rec.snapshot()) == []
        again.signal(signal.SIGTERM)
        assert again.wait() == 0
        assert_clean_exit_log(again.output())
    finally:
        rec.close()


def test_a_crash_in_the_main_thread_silences_and_exits_70(live, tmp_path):
    crash = tmp_path / "crash"
    s = live(improviser={"gate": 1.0}, extra_args=("--debug-crash-file", str(crash)))
    s.kb.chord(DM7)
    time.sleep(1.0)
    crash.write_text("")
    rc = s.daemon.wait(10)
    time.sleep(0.05)
    out = s.daemon.output()
    assert rc == 70, out[-2000:]
    assert "crash in the main thread" in out and "RuntimeError" in out
    assert_balanced_messages(s.heard())


def test_a_stop_while_the_main_thread_is_stuck_in_c_still_ends_silenced(live, tmp_path):
    """The main thread blocked in a C call (as in libjack answering slowly): SIGTERM is
    still taken (by the signal thread), and when the stop cannot finish the process
    prints every thread's stack, silences the notes and exits 70 within STOP_DEADLINE
    (5 s) plus the silence's second: before systemd's TimeoutStopSec (10 s) would
    SIGKILL it with a note sounding. Before the signal thread, the SIGTERM was never
    even seen."""
    hang = tmp_path / "hang"
    s = live(improviser={"gate": 1.0}, extra_args=("--debug-hang-file", str(hang)))
    s.kb.chord(DM7)
    time.sleep(1.0)
    hang.write_text("")
    assert s.daemon.wait_line("debug hang", 3.0)
    assert any(m[0] & 0xF0 == 0x90 for _, m in s.events()), "nothing was playing"
    t = time.monotonic()
    s.daemon.signal(signal.SIGTERM)
    rc = s.daemon.wait(9.0)
    took = time.monotonic() - t
    time.sleep(0.05)
    out = s.daemon.output()
    assert rc == 70, out[-2000:]
    assert 4.5 < took < 7.0, took
    assert "the stop did not finish in 5 s" in out
    assert "in loop" in out and "daemon.py" in out      # the stuck thread's stack
    assert_balanced_messages(s.heard())
    assert still_sounding(s.events()) == []


def test_a_reload_that_fails_unexpectedly_keeps_the_old_settings(live, tmp_path):
    """A SIGHUP naming a model whose meta.json is malformed in a way no check foresaw:
    the reload is rejected, the old model plays on, and the daemon does not exit."""
    model = tmp_path / "model"
    shutil.copytree(DEFAULT_DIR, model)
    _damage(model, "meta-cell-not-a-name")
    s = live()
    s.kb.chord(DM7)
    time.sleep(0.5)
    cfg = s.config.read_text()
    s.config.write_text(cfg.replace("model: default", f"model: {model}"))
    s.daemon.signal(signal.SIGHUP)
    assert s.daemon.wait_line("reload rejected", 5), s.daemon.output()[-2000:]
    t = time.monotonic()
    time.sleep(1.0)
    assert s.alive() and any(tt > t for tt, m in s.events() if m[0] & 0xF0 == 0x90)
    assert s.stop() == 0
    assert_balanced_messages(s.heard())


def test_failures_are_logged_and_counted_in_status(live, tmp_path):
    """Notes skipped because the improviser woke too late (the process was stopped)
    are logged once, with how many, and STATUS carries the count."""
    notify = NotifyListener(tmp_path / "notify.sock")
    try:
        s = live(tempo={"bpm": 150, "swing": 0.5}, env={"NOTIFY_SOCKET": notify.path})
        s.kb.chord(DM7)
        time.sleep(1.0)
        os.kill(s.pid, signal.SIGSTOP)
        time.sleep(0.5)
        os.kill(s.pid, signal.SIGCONT)
        assert s.daemon.wait_line("notes skipped, woken too late", 5), \
            s.daemon.output()[-2000:]
        time.sleep(1.5)
        status = [m for _, m in notify.got if m.startswith("STATUS=")]
        assert any("notes skipped, woken too late" in m for m in status), status[-3:]
        logged = [ln for ln in s.daemon.lines if "woken too late" in ln]
        assert len(logged) <= 3, logged          # rate-limited, not one per note
        assert s.stop() == 0
    finally:
        notify.close()


# -- SIGSTOP / SIGCONT -------------------------------------------------------------------

@pytest.mark.jack
def test_sigstop_sigcont_resyncs_to_the_clock_without_a_burst(live):
    s = live(tempo={"source": "clock", "bpm": 120, "swing": 0.5})
    s.kb.chord(DM7)
    master = s.clock(bpm=120)
    master.start()
    time.sleep(2.0)
    # Frozen for 54 ticks: 4.5 eighths, so a daemon that only counts the ticks it
    # received comes back a sixteenth (125 ms) off the master's eighths.
    freeze = 54 * 60.0 / 120 / 24
    s.daemon.signal(signal.SIGSTOP)
    t_stop = time.monotonic()
    time.sleep(freeze)
    s.daemon.signal(signal.SIGCONT)
    t_cont = time.monotonic()
    time.sleep(2.5)
    master.finish()
    time.sleep(0.3)
    assert s.alive(), s.daemon.output()[-3000:]
    rc = s.stop()
    out = s.daemon.output()
    assert rc == 0, out[-3000:]
    assert_clean_exit_log(out)
    events = s.rec.snapshot()
    assert_balanced_messages(s.heard())
    burst = onsets(events, t_cont, t_cont + 0.2)
    # 200 ms hold at most one eighth-note onset (250 ms apart); the ~4 notes missed
    # while frozen must not all come out at once.
    assert len(burst) <= 1, f"{len(burst)} notes in the 200 ms after SIGCONT"
    before = onsets(events, t_stop - 1.5, t_stop)
    assert_on_master_grid(master, before, "before SIGSTOP")
    after = onsets(events, t_cont + 0.5, master.stopped_at)
    assert len(after) >= 4, f"only {len(after)} notes after SIGCONT"
    # Back on the master's ticks and in its tempo ...
    assert_on_master_grid(master, after, "after SIGCONT, ticks", division=24)
    assert_on_grid(after, EIGHTH, "after SIGCONT")
    # ... and on its beat: the ticks that went by while it was frozen count.
    errs = master_grid_errors(master, after)
    off = statistics.median(errs) / (60.0 / 120 / 24)
    assert abs(off) < 0.5, (
        f"after SIGCONT the beat is {off:+.1f} MIDI clock ticks off the master's: the "
        f"~54 ticks that went by while it was frozen were not counted in")
    assert_on_master_grid(master, after, "after SIGCONT")


# -- broken model files ------------------------------------------------------------------

def _member_data_offset(data, name):
    """Where the (deflated) bytes of one member of a .npz start."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    h = data[info.header_offset:info.header_offset + 30]
    return info.header_offset + 30 + int.from_bytes(h[26:28], "little") + \
        int.from_bytes(h[28:30], "little"), info.compress_size


def _damage(model_dir, how):
    w, v, m = model_dir / "weights.npz", model_dir / "vocab.json", model_dir / "meta.json"
    data = w.read_bytes()
    if how == "weights-truncated":
        w.write_bytes(data[:len(data) // 2])
    elif how == "weights-empty":
        w.write_bytes(b"")
    elif how == "weights-not-a-zip":
        w.write_bytes(b"this is not an npz file\n" * 100)
    elif how == "weights-bad-crc":
        start, size = _member_data_offset(data, "lstm_recurrent.npy")
        mid = start + size // 2
        w.write_bytes(data[:mid] + b"\x00" * 16 + data[mid + 16:])
    elif how == "weights-bad-deflate":
        start, _ = _member_data_offset(data, "lstm_recurrent.npy")
        w.write_bytes(data[:start] + b"\xff" + data[start + 1:])    # reserved block type
    elif how == "vocab-wrong-shape":
        vocab = json.loads(v.read_text())
        v.write_text(json.dumps(dict(vocab, durations=vocab["durations"][:-3])))
    elif how == "vocab-not-a-list":
        v.write_text(json.dumps(dict(json.loads(v.read_text()), steps="-1 0 1")))
    elif how == "vocab-bad-token":
        vocab = json.loads(v.read_text())
        v.write_text(json.dumps(dict(vocab, durations=["C,0.500"] + vocab["durations"][1:])))
    elif how == "vocab-not-json":
        v.write_text('{"kinds": ["C", ')
    elif how == "meta-cell-not-a-name":
        m.write_text(json.dumps(dict(json.loads(m.read_text()), cell=["lstm"])))
    elif how == "meta-condition-garbled":
        m.write_text(json.dumps(dict(json.loads(m.read_text()), condition=[1, 2])))
    elif how == "vocab-missing":
        v.unlink()
    elif how == "dir-missing":
        shutil.rmtree(model_dir)
    else:
        raise AssertionError(how)


MODEL_DAMAGE = {
    # how: (file the message must name, words it must contain)
    "weights-truncated": ("weights.npz", "corrupt"),
    "weights-empty": ("weights.npz", "corrupt"),
    "weights-not-a-zip": ("weights.npz", "corrupt"),
    "weights-bad-crc": ("weights.npz", "corrupt"),
    "weights-bad-deflate": ("weights.npz", "corrupt"),
    "vocab-wrong-shape": ("vocab.json", "embed_dur"),
    "vocab-not-a-list": ("vocab.json", "steps"),
    "vocab-bad-token": ("vocab.json", "durations"),
    "vocab-not-json": ("vocab.json", "JSON"),
    "meta-cell-not-a-name": ("meta.json", "cell"),
    "meta-condition-garbled": ("meta.json", "condition"),
    "vocab-missing": ("vocab.json", "missing"),
    "dir-missing": ("", "does not exist"),
}


def assert_one_line_error(out, status, rc, must):
    """Exit `status`; one "jazzd run: error: ..." line containing `must`; no traceback."""
    assert rc == status, f"exit {rc}, expected {status}:\n{out}"
    assert "Traceback" not in out, out
    errors = [ln for ln in out.splitlines() if ln.startswith("jazzd run: error: ")]
    assert len(errors) == 1, out
    after = out.splitlines()[out.splitlines().index(errors[0]) + 1:]
    assert not [ln for ln in after if ln.strip()], f"more after the error line:\n{out}"
    for word in must:
        assert word in errors[0], f"{word!r} not in {errors[0]!r}"
    return errors[0]


@pytest.mark.jack
@pytest.mark.parametrize("how", list(MODEL_DAMAGE))
def test_broken_model_gives_one_clear_line_and_status_66(how, tmp_path, run_daemon,
                                                          jack_server):
    model = tmp_path / "model"
    shutil.copytree(DEFAULT_DIR, model)
    _damage(model, how)
    name = unique("jz")
    cfg = write_config(tmp_path / "c.yaml",
                       midi={"backend": "jack", "input": f"virtual:{name}-in",
                             "output": f"virtual:{name}-out"},
                       improviser={"model": str(model)})
    d = run_daemon(cfg)
    rc = d.wait(20)
    filename, word = MODEL_DAMAGE[how]
    line = assert_one_line_error(d.output(), EX_NOINPUT, rc, [str(model), filename, word])
    print(line)


# -- unreadable configs (no JACK needed: the config is read first) -------------------------

def test_config_that_is_a_directory(tmp_path, run_daemon):
    d = run_daemon(tmp_path)
    rc = d.wait(20)
    assert_one_line_error(d.output(), EX_CONFIG, rc,
                          [str(tmp_path), "cannot read config file", "Is a directory"])


def test_config_that_is_not_utf8(tmp_path, run_daemon):
    cfg = tmp_path / "latin1.yaml"
    cfg.write_bytes("tempo:\n  bpm: 120  # caf\xe9\n".encode("latin-1"))
    d = run_daemon(cfg)
    rc = d.wait(20)
    assert_one_line_error(d.output(), EX_CONFIG, rc, [str(cfg), "utf-8"])


def test_config_that_is_not_yaml(tmp_path, run_daemon):
    cfg = tmp_path / "broken.yaml"
    cfg.write_text("midi: {backend: jack, input: [unclosed\n")
    d = run_daemon(cfg)
    rc = d.wait(20)
    assert_one_line_error(d.output(), EX_CONFIG, rc, [str(cfg), "YAML"])


def test_config_without_read_permission(tmp_path):
    """chmod 000 (as root: and without the capability that ignores it)."""
    cfg = tmp_path / "secret.yaml"
    cfg.write_text("tempo: {bpm: 100}\n")
    cfg.chmod(0o000)
    r = subprocess.run([sys.executable, "-m", "jazzd", "run", "--config", str(cfg)],
                       cwd=REPO, capture_output=True, text=True, timeout=30,
                       preexec_fn=without_dac_override())
    assert_one_line_error(r.stdout + r.stderr, EX_CONFIG, r.returncode,
                          [str(cfg), "Permission denied"])


# -- a full disk for logs ----------------------------------------------------------------------

@pytest.mark.jack
def test_logs_to_a_full_disk_keep_playing(tmp_path, jack_server, steady_model):
    name = unique("jz")
    cfg = write_config(tmp_path / "c.yaml",
                       midi={"backend": "jack", "input": f"virtual:{name}-in",
                             "output": f"virtual:{name}-out"},
                       tempo={"bpm": 120, "swing": 0.5}, logging={"level": "debug"},
                       improviser={"seed": 3, "model": steady_model},
                       style=STEADY_STYLE)
    with open("/dev/full", "w") as full:
        proc = subprocess.Popen([sys.executable, "-m", "jazzd", "run", "--config", str(cfg)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=full, text=True)
    kb = rec = rec2 = None
    try:
        kb = Keyboard(unique("kb"), connect_to=f"{name}-in:in")      # these wait for the
        rec = Recorder(unique("ear"), connect_to=f"{name}-out:out")  # ports (5 s)
        rec2 = Recorder(unique("ear"), connect_to=f"{name}-out:out")  # see live.Live
        kb.chord(DM7)
        t0 = time.monotonic()
        assert wait_notes(rec, 2, 5.0, since=t0), "no notes with stderr on /dev/full"
        for _ in range(200):                         # warnings to write, too
            kb.send(0x3C, 0x40)
        proc.send_signal(signal.SIGHUP)              # and a reload's log lines
        t_hup = time.monotonic()
        time.sleep(2.5)
        assert proc.poll() is None, "died with its log on a full disk"
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(10)
        time.sleep(0.05)
        stdout = proc.stdout.read()
        assert rc == 0, stdout
        events = rec.snapshot()
        heard = merge_heard(events, rec2.snapshot())
        assert_balanced_messages(heard)
        assert heard[-1] == (0xB0, 123, 0)
        on = onsets(events, since=t0)
        assert len(on) >= 8, on
        # In time once the flood of warnings and the reload have been written off: while
        # they are, a loaded machine made notes up to 23 ms late (a CI rehearsal beside a
        # soak), and that is not what this test is about.
        after = onsets(events, since=t_hup + 0.5)
        assert len(after) >= 6, after
        assert_on_grid(after, EIGHTH)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in (kb, rec, rec2):
            if p is not None:
                p.close()
