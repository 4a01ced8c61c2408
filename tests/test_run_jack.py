"""`jazzd run` end to end through a real JACK server: the test is the keyboard and the ear.

Each test starts the daemon as a subprocess with its own config and port names, plays
chords (and MIDI clock) into it through JACK MIDI ports, and records what it plays.
"""

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from fractions import Fraction

import pytest

from conftest import Keyboard, Recorder, pair_notes, unique, write_config
from live import CHANGE_REACH, live, merge_events, steady_model  # noqa: F401 - fixtures
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.swing import swung_beats, unswung_ticks
from jazzd.model.style import only_length

pytestmark = pytest.mark.jack

DM7 = [50, 53, 57, 60]
G7 = [43, 47, 50, 53]
CMAJ7 = [48, 52, 55, 59]
FS7 = [42, 46, 49, 52]
# Eighths of chord and scale tones only: the tests that check each note against the
# chord it was bound to (the model may well play an approach tone on a change; here
# the binding, not the choice, is under test).
EIGHTHS_ONLY = {"duration_weights": only_length(6), "kind_weights": {"R": 0, "A": 0, "X": 0}}
# The shipped model's own rhythms and kinds, but no note or rest longer than a beat and
# few rests: these tests need a stream of notes within seconds, whatever the seed.
LIVELY = {"duration_weights": {str(Fraction(n, 12)): 0 for n in range(13, 97)},
          "rest_probability": 0.1}
INSIDE = dict(LIVELY, kind_weights={"A": 0, "X": 0})


@pytest.fixture
def session(live):
    """`session(**config sections)`: a `live.Live` daemon on the shipped model."""
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)     # the test's own MIDI threads get the GIL promptly
    def make(**kw):
        kw.setdefault("style", LIVELY)
        return live(steady=False, **kw)
    yield make
    sys.setswitchinterval(switch)


def realtime_if_allowed():
    """SCHED_FIFO for the calling thread if the machine allows it (a test tool only)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (OSError, AttributeError):
        pass


# -- checks -----------------------------------------------------------------------------

def grid_error(beat, swing):
    """Distance in beats from a beat position to the nearest swung 1/12-beat grid point."""
    tick = unswung_ticks(beat, swing)
    return abs(beat - swung_beats(round(tick), swing))


def grid_misfit(onsets, spb, swing):
    """How far (s) the onsets are from one swung 1/12-beat grid at `spb` s per beat.

    The grid's phase is unknown: each of the first notes is tried on each of the 12
    positions of a beat, and the best phase's error is returned: the largest but one
    from ten onsets on (a loaded JACK server delays a single event now and then; a
    wrong tempo or swing moves most of them).
    """
    best = float("inf")
    skip = 1 if len(onsets) >= 10 else 0
    for ref in onsets[:3]:
        for k in range(12):
            origin = ref - swung_beats(k, swing) * spb
            errs = sorted(grid_error((t - origin) / spb, swing) * spb for t in onsets)
            best = min(best, errs[-1 - skip])
    return best


def assert_no_hanging(events):
    notes = pair_notes(events)
    hanging = [n for n in notes if n[1] is None]
    assert not hanging, f"notes without note-off: {hanging}; the last messages: {events[-6:]}"
    return notes


def assert_monophonic(notes):
    for a, b in zip(notes, notes[1:]):
        assert a[1] <= b[0] + 1e-4, f"overlap: {a} then {b}"


def fits(pitch, symbol):
    c = parse_symbol(symbol)
    return bool((c.tones | c.scale) >> (pitch % 12) & 1)


# -- tests ------------------------------------------------------------------------------

def test_plays_in_tempo_on_the_swung_grid_then_falls_silent(session):
    s = session(tempo={"bpm": 120, "swing": 0.6}, midi={"hold_beats": 2})
    s.kb.chord(DM7)
    time.sleep(4.0)
    s.kb.release(DM7)
    t_release = time.monotonic()
    time.sleep(2.0)                           # hold_beats 2 = 1 s, then silence
    assert s.daemon.proc.poll() is None
    assert s.stop() == 0
    events = s.events()
    notes = assert_no_hanging(events)
    onsets = [n[0] for n in notes]
    assert len(onsets) >= 5, s.daemon.output()
    assert grid_misfit(onsets, 0.5, 0.6) < 0.004, onsets
    assert grid_misfit(onsets, 0.5 * 0.87, 0.6) > 0.004         # the check can fail
    assert_monophonic(notes)
    assert all(55 <= n[2] <= 84 for n in notes)
    # the phrase ended after the hold: nothing starts later than release + 2 beats
    assert max(onsets) < t_release + 1.0 + 0.1
    assert events[-1][1] == (0xB0, 123, 0)    # all notes off, last


def test_first_note_after_a_chord_change_fits_the_new_chord(session):
    s = session(tempo={"bpm": 140}, style=INSIDE)
    changes = []
    held = None
    for chord, symbol in ((CMAJ7, "Cmaj7"), (FS7, "F#7"), (DM7, "Dm7"), (FS7, "F#7"),
                          (CMAJ7, "Cmaj7"), (G7, "G7")):
        if held:
            s.kb.release(held)
        s.kb.chord(chord)
        changes.append((time.monotonic(), symbol))
        held = chord
        time.sleep(0.9)
    assert s.stop() == 0
    notes = assert_no_hanging(s.events())
    checked = 0
    for (t, symbol), nxt in zip(changes[1:], changes[2:] + [(1e18, None)]):
        after = [n for n in notes if t <= n[0] < nxt[0]]
        # A note sounding within CHANGE_REACH of the change may have been bound before
        # the chord arrived: if it does not fit the new chord, the next note answers it.
        # (The note that does answer it is C or S: resolve_on_change; the one after
        # may be an approach tone again.)
        if after and after[0][0] < t + CHANGE_REACH and not fits(after[0][2], symbol):
            after = after[1:]
        if after:
            checked += 1
            assert fits(after[0][2], symbol), (symbol, f"{(after[0][0] - t) * 1e3:.1f} ms "
                                               "after the change", after[:2],
                                               s.daemon.output()[-1500:])
    assert checked >= 4


def test_external_clock_tempo_changes_and_stop(session):
    s = session(tempo={"source": "clock", "bpm": 100, "swing": 0.5}, style=EIGHTHS_ONLY)
    ticks = []                                 # (tick index, send time)
    stop_at = []

    def master():
        realtime_if_allowed()                  # a steadier master makes a fairer test
        n = 0
        t = time.monotonic() + 0.05
        s.kb.send(0xFA)
        for bpm, beats in ((120, 6), (160, 8)):
            period = 60.0 / bpm / 24
            for _ in range(beats * 24):
                while time.monotonic() < t:
                    time.sleep(max(0.0, min(0.0005, t - time.monotonic() - 0.0002)))
                s.kb.send(0xF8)
                ticks.append((n, time.monotonic()))
                n += 1
                t += period
        s.kb.send(0xFC)
        stop_at.append(time.monotonic())

    s.kb.chord(DM7)
    th = threading.Thread(target=master)
    th.start()
    th.join()
    time.sleep(0.4)
    assert s.daemon.proc.poll() is None
    events = s.events()
    assert s.stop() == 0
    notes = assert_no_hanging(events)
    assert notes, s.daemon.output()
    # stopped: no note starts after the stop message (+ JACK delivery)
    assert all(n[0] < stop_at[0] + 0.01 for n in notes), (stop_at, notes[-3:])
    assert all(n[1] < stop_at[0] + 0.02 for n in notes)       # ... and all have ended

    def beat_of(t):
        for (i, ta), (_, tb) in zip(ticks, ticks[1:]):
            if ta <= t < tb:
                return (i + (t - ta) / (tb - ta)) / 24
        return None

    slow = [n[0] for n in notes if 1.0 <= (beat_of(n[0]) or -1) < 6]
    fast = [n[0] for n in notes if 7.5 <= (beat_of(n[0]) or -1) < 14]
    assert len(slow) >= 6 and len(fast) >= 8, (len(slow), len(fast))
    for part, bpm in ((slow, 120), (fast, 160)):
        spb = 60.0 / bpm
        errors = [grid_error(beat_of(t), 0.5) * spb for t in part]
        # On the grid of the new tempo (the old one would put eighths tens of ms off);
        # a loaded realtime JACK server jitters single events by several ms.
        assert statistics.median(errors) < 0.004, (bpm, errors)
        assert max(errors) < 0.015, (bpm, errors)
        ioi = [b - a for a, b in zip(part, part[1:])]
        # eighths at the new tempo (the steady line plays nothing shorter)
        assert statistics.median(ioi) == pytest.approx(spb / 2, abs=0.004), ioi
        assert min(ioi) > 0.75 * spb / 2, ioi


def sequence_on_clock(kb, bars, bpm):
    """Play like a sequencer: MIDI clock at `bpm`, each bar's chord (a list of
    `(notes, symbol)`, one per bar) sent with the bar's first tick, then stop.
    Returns the (send time, symbol) of each chord. Runs in a thread of its own, so
    that its realtime priority does not pass to the daemons the test starts later."""
    changes = []

    def master():
        # sample-accurate, as a DAW's sequencer: each tick and chord is handed to the
        # keyboard's JACK port ahead, with the time it is due, and played at its frame
        realtime_if_allowed()
        period = 60.0 / bpm / 24
        t = time.monotonic() + 0.05 + kb.lead
        held = None
        kb.send(0xFA)
        for n in range(len(bars) * 96):
            while time.monotonic() < t - kb.lead:
                time.sleep(max(0.0, min(0.0005, t - kb.lead - time.monotonic())))
            kb.at = t
            if n % 96 == 0:                    # the bar's chord, with its first tick
                chord, symbol = bars[n // 96]
                if held:
                    kb.release(held)
                kb.chord(chord)
                held = chord
                changes.append((t, symbol))
            kb.send(0xF8)
            kb.at = None
            t += period
        kb.send(0xFC, at=t)

    th = threading.Thread(target=master)
    th.start()
    th.join()
    return changes


def test_a_repeating_form_is_anticipated_on_the_downbeat(session):
    """A sequencer sends each chord on its bar's first tick, when the note on that beat
    has already been bound (realize_ahead_ms before it). Once the two-bar form has
    repeated, the note on each downbeat must fit the chord arriving with it, and no
    note waits for a chord any more."""
    s = session(tempo={"source": "clock", "swing": 0.5}, style=EIGHTHS_ONLY,
                logging={"level": "debug"})
    form = [(CMAJ7, "Cmaj7"), (FS7, "F#7")]
    changes = sequence_on_clock(s.kb, form * 4, bpm=200)
    time.sleep(0.2)
    assert s.stop() == 0
    notes = assert_no_hanging(s.events())
    assert "repeat every 2 bars" in s.daemon.output(), s.daemon.output()
    for t, symbol in changes[5:]:
        downbeat = [n for n in notes if t - 0.003 <= n[0] < t + 0.1]
        if not downbeat:                       # the whole story, untruncated
            print(s.daemon.output(), [(round(n[0] - t, 3), n[2]) for n in notes])
        assert downbeat, (t, symbol)
        assert fits(downbeat[0][2], symbol), (symbol, downbeat[0], s.daemon.output()[-3000:])
    # With the form known, no note waits change_grace_ms (8 ms) for a chord: the
    # downbeats are anticipated (the daemon says so, beat by beat), and on the other
    # beats no change is due.
    out = s.daemon.output()
    waited = [float(b) for b in re.findall(r"waited for a chord at beat ([\d.]+)", out)]
    foreseen = [float(b) for b in re.findall(r"anticipating \S+ at beat ([\d.]+)", out)]
    assert foreseen and foreseen[0] <= 5 * 4, out[-3000:]
    assert not [b for b in waited if b >= foreseen[0]], (waited, foreseen)
    # The timing agrees: onsets sit on the eighth-note grid, not 8 ms behind it. (A
    # loaded realtime JACK server jitters single events by several ms: the median.)
    eighth = 60.0 / 200 / 2
    errs = []
    for (t, _), (nxt, _) in zip(changes[5:], changes[6:]):
        for n in notes:
            if t - 0.003 <= n[0] < nxt - 0.003:
                errs.append(abs(n[0] - (t + round((n[0] - t) / eighth) * eighth)))
    assert len(errs) >= 12, (errs, notes)
    assert statistics.median(errs) < 0.003, [round(e * 1e3, 1) for e in errs]


def test_chords_sent_on_the_beat_are_answered_in_the_first_chorus(session):
    """A sequencer sends each new chord exactly on its bar's first clock tick, through a
    progression that never repeats, so the form memory cannot help. Once two changes
    have shown that chords land on the beat, the note on each later downbeat
    waits `change_grace_ms` for the chord and must fit it, and sounds within that
    grace (plus JACK's period) of the beat."""
    s = session(tempo={"source": "clock", "swing": 0.5}, style=EIGHTHS_ONLY)
    prog = [([48, 52, 55, 59], "Cmaj7"), ([42, 46, 49, 52], "F#7"),
            ([46, 49, 53, 56], "Bbm7"), ([40, 44, 47, 50], "E7"),
            ([44, 48, 51, 55], "Abmaj7"), ([50, 54, 57, 60], "D7"),
            ([42, 46, 49, 53], "F#maj7"), ([48, 52, 55, 58], "C7")]
    changes = sequence_on_clock(s.kb, prog, bpm=180)
    time.sleep(0.2)
    assert s.stop() == 0
    notes = assert_no_hanging(s.events())
    misfits, waits = [], []
    for t, symbol in changes[3:]:              # [0] starts, [1] and [2] show changes land on beats
        downbeat = [n for n in notes if t - 0.003 <= n[0] < t + 0.1]
        assert downbeat, (t, symbol, notes)
        waits.append(downbeat[0][0] - t)
        if not fits(downbeat[0][2], symbol):
            misfits.append((symbol, downbeat[0], round(waits[-1] * 1e3, 1)))
    # A note that waited the whole grace and still missed its chord: the chord reached
    # the daemon late (CI's loaded machine saw one in five once). One such is the
    # machine; a misfit that did not wait, or two, is the design failing.
    grace = 0.008
    waited = [m for m in misfits if m[2] >= (grace - 0.0005) * 1e3]
    assert len(misfits) == len(waited) <= 1, (misfits, s.daemon.output()[-2000:])
    # Within the grace and a JACK period or two; single events jitter on a loaded server.
    assert statistics.median(waits) < 0.008 + 0.004, waits
    assert max(waits) < 0.008 + 0.015, waits


def test_sigterm_in_the_middle_of_a_note_leaves_nothing_hanging(session):
    s = session(improviser={"gate": 1.0})
    s.kb.chord(G7)
    assert s.rec.wait_for(lambda ev: any(m[0] == 0x90 for _, m in ev), 3.0)
    assert s.stop(signal.SIGTERM) == 0
    events = s.events()
    assert_no_hanging(events)
    assert events[-1][1] == (0xB0, 123, 0)
    assert "exiting on SIGTERM" in s.daemon.output()


def test_sigint_also_exits_0_silently(session):
    s = session()
    s.kb.chord(G7)
    assert s.rec.wait_for(lambda ev: any(m[0] == 0x90 for _, m in ev), 3.0)
    assert s.stop(signal.SIGINT) == 0
    assert_no_hanging(s.events())


def _reload(s, text, expect="reloaded"):
    """SIGHUP with `text` as the config; wait for a new log line containing `expect`."""
    before = sum(expect in ln for ln in s.daemon.lines)
    s.config.write_text(text)
    s.daemon.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5.0
    while sum(expect in ln for ln in s.daemon.lines) <= before:
        assert time.monotonic() < deadline, s.daemon.output()[-2000:]
        time.sleep(0.01)


def _lsp():
    return subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout.split()


def test_a_reload_of_style_and_register_is_taken_and_heard(session):
    """A reload that changes `style:` and the register is applied (not rejected, not
    half-applied): after it every note keeps to the new register and to the new
    style's kinds (chord tones only), with no gap in the line."""
    import yaml
    s = session(tempo={"bpm": 150, "swing": 0.5}, style=EIGHTHS_ONLY)
    s.kb.chord(DM7)
    assert s.rec.wait_for(lambda ev: sum(m[0] & 0xF0 == 0x90 for _, m in ev) >= 3, 3.0)
    cfg = yaml.safe_load(s.config.read_text())
    cfg.setdefault("improviser", {}).update(lowest_note=74, highest_note=86)
    cfg["style"] = dict(EIGHTHS_ONLY, kind_weights={"R": 0, "A": 0, "X": 0, "S": 0,
                                                    "L": 0})
    _reload(s, yaml.safe_dump(cfg, sort_keys=False))
    # values planned before the reload (plan_ahead_beats: 1, up to 0.8 s here) keep
    # the kinds they were drawn with
    t = time.monotonic() + 1.0
    assert s.rec.wait_for(lambda ev: sum(tt > t and m[0] & 0xF0 == 0x90 and m[2] > 0
                                         for tt, m in ev) >= 8, 4.0), \
        s.daemon.output()[-2000:]
    after = [m[1] for tt, m in s.rec.snapshot()
             if tt > t and m[0] & 0xF0 == 0x90 and m[2] > 0]
    assert all(74 <= p <= 86 and p % 12 in (2, 5, 9, 0) for p in after), after
    assert "reload rejected" not in s.daemon.output()
    assert s.stop(signal.SIGINT) == 0
    assert_no_hanging(s.events())


def test_reloads_of_ports_model_clock_and_channel(session, tmp_path):
    """A reload reopens only what changed, under the names it names: the input the
    keyboard is patched into stays patched when only the output changes (and the new
    output is not renamed -01); a channel, a model and a clock source change keep it
    playing, and nothing is left hanging on the old port or channel."""
    s = session(tempo={"bpm": 150, "swing": 0.5}, style=EIGHTHS_ONLY)
    s.kb.chord(DM7)
    assert s.rec.wait_for(lambda ev: sum(m[0] & 0xF0 == 0x90 for _, m in ev) >= 3, 3.0)
    # 1. a new output: the input keeps its patch, the new port has exactly its name
    new_out = unique("jznew")
    text = s.config.read_text().replace(f"virtual:{s.name}-out", f"virtual:{new_out}")
    _reload(s, text)
    assert f"{new_out}:out" in _lsp() and f"{new_out}-01:out" not in _lsp()
    ear = Recorder(unique("ear"), connect_to=f"{new_out}:out")
    try:
        s.kb.release(DM7)
        s.kb.chord(FS7)                              # heard through the untouched input
        assert ear.wait_for(lambda ev: sum(m[0] & 0xF0 == 0x90 for _, m in ev) >= 4, 3.0), \
            s.daemon.output()[-2000:]
        notes = [m[1] for _, m in ear.snapshot() if m[0] & 0xF0 == 0x90 and m[2]]
        assert all(fits(p, "F#7") for p in notes[1:]), notes
        assert_no_hanging(s.events())                # the old port was silenced
        # 2. a new channel: the notes move to channel 3, none hangs on channel 1
        text = text.replace("midi:\n", "midi:\n  output_channel: 3\n", 1)
        _reload(s, text)
        t = time.monotonic()
        assert ear.wait_for(lambda ev: any(tt > t + 0.1 and m[0] == 0x92 for tt, m in ev),
                            3.0), s.daemon.output()[-2000:]
        # 3. another model and 4. the MIDI clock as the source: silent until it ticks
        text = text.replace("improviser:\n", "improviser:\n  model: bach\n", 1)
        _reload(s, text)
        assert "new model, seed or metre" in s.daemon.output()
        _reload(s, text.replace("tempo:\n", "tempo:\n  source: clock\n", 1))
        time.sleep(0.5)
        t = time.monotonic()
        time.sleep(0.6)
        assert not any(tt > t and m[0] & 0xF0 == 0x90 for tt, m in ear.snapshot())
        master = s.clock(120)
        master.start()
        assert ear.wait_for(lambda ev: sum(tt > t and m[0] & 0xF0 == 0x90
                                           for tt, m in ev) >= 3, 4.0), \
            s.daemon.output()[-2000:]
        master.finish()
        assert s.stop() == 0
        heard = sorted(ear.snapshot() + s.events())
        assert_no_hanging(heard)
    finally:
        ear.close()


def test_a_rejected_port_change_keeps_the_old_ports_patched(session):
    """A reload names an output that is not there (wait_for_ports: false): it is
    rejected and the old virtual output comes back, and with it the connections the
    user had made to it: the ear patched into it hears the line go on (it came back
    unpatched, and the scheduler played into the closed port: silence while "the old
    settings stay")."""
    import yaml
    s = session(tempo={"bpm": 150, "swing": 0.5}, style=EIGHTHS_ONLY,
                midi={"wait_for_ports": False})
    s.kb.chord(DM7)
    assert s.rec.wait_for(lambda ev: sum(m[0] & 0xF0 == 0x90 for _, m in ev) >= 3, 3.0)
    cfg = yaml.safe_load(s.config.read_text())
    cfg["midi"]["output"] = "no such synth anywhere"
    _reload(s, yaml.safe_dump(cfg, sort_keys=False), expect="reload rejected")
    t = time.monotonic()
    assert s.rec.wait_for(lambda ev: sum(tt > t and m[0] & 0xF0 == 0x90 and m[2] > 0
                                         for tt, m in ev) >= 4, 3.0), \
        s.daemon.output()[-2000:]
    assert s.stop(signal.SIGINT) == 0
    assert_no_hanging(s.events())


def test_sighup_changes_the_tempo_and_a_broken_config_keeps_playing(session):
    s = session(tempo={"bpm": 100, "swing": 0.5}, style=EIGHTHS_ONLY)
    s.kb.chord(DM7)
    time.sleep(2.0)
    t1 = time.monotonic()
    text = s.config.read_text().replace("bpm: 100", "bpm: 150")
    assert "bpm: 150" in text
    text = text.replace("improviser:\n", "improviser:\n  velocity_low: 30\n  velocity_high: 40\n")
    s.config.write_text(text)
    s.daemon.signal(signal.SIGHUP)
    assert s.daemon.wait_line("reloaded", 3.0)
    time.sleep(2.0)
    t2 = time.monotonic()
    s.config.write_text("tempo: {bpm: fast}\n")
    s.daemon.signal(signal.SIGHUP)
    assert s.daemon.wait_line("reload rejected", 3.0)
    time.sleep(1.5)
    assert s.daemon.proc.poll() is None
    assert s.stop() == 0
    notes = assert_no_hanging(s.events())
    out = s.daemon.output()
    assert "tempo.bpm" in out and "'fast'" in out          # the reason is logged

    def eighth(a, b):
        on = [n[0] for n in notes if a <= n[0] < b]
        ioi = sorted(y - x for x, y in zip(on, on[1:]))
        assert len(ioi) >= 4, (a, b, notes)
        return ioi[len(ioi) // 2]

    assert all(30 <= n[3] <= 40 for n in notes if n[0] > t1 + 0.3)     # retuned live
    assert any(n[3] > 40 for n in notes if n[0] < t1)
    assert eighth(0, t1) == pytest.approx(0.3, abs=0.006)             # 100 bpm
    assert eighth(t1 + 0.3, t2) == pytest.approx(0.2, abs=0.006)      # 150 bpm
    assert eighth(t2 + 0.3, 1e18) == pytest.approx(0.2, abs=0.006)    # still playing


def test_a_named_port_missing_at_boot_is_waited_for(run_daemon, tmp_path, jack_server):
    """A USB keyboard that enumerates after the box booted: jazzd starts, says what it
    waits for (listing the ports there are), and plays once the keyboard appears."""
    kb_name = unique("latekeys")
    out_name = unique("jzout")
    cfg = write_config(tmp_path / "late.yaml",
                       midi={"backend": "jack", "input": kb_name,
                             "output": f"virtual:{out_name}", "reconnect_interval_s": 0.2})
    d = run_daemon(cfg)
    d.wait_ready()
    assert d.wait_line(f"no MIDI input port matching '{kb_name}'", 5), d.output()
    assert "Available input ports" in d.output() and "waiting for it" in d.output()
    rec = Recorder(unique("ear"), connect_to=f"{out_name}:out")
    kb = Keyboard(kb_name, virtual="out")
    try:
        assert d.wait_line("MIDI input reconnected", 5), d.output()
        kb.chord(DM7)
        assert rec.wait_for(lambda ev: sum(m[0] == 0x90 for _, m in ev) >= 2, 4.0), \
            d.output()
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        kb.close()
        rec.close()


def test_a_missing_port_without_waiting_exits_69_and_a_bad_config_78(run_daemon, tmp_path,
                                                                    jack_server):
    cfg = write_config(tmp_path / "noport.yaml",
                       midi={"backend": "jack", "input": "NoSuchKeyboard",
                             "wait_for_ports": False})
    d = run_daemon(cfg)
    assert d.wait(20) == 69          # the environment: systemd retries it
    out = d.output()
    assert "no MIDI input port matching 'NoSuchKeyboard'" in out
    assert "Available input ports" in out and "Traceback" not in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("midi: {backend: jack, outptu: x}\n")
    d = run_daemon(bad)
    assert d.wait(20) == 78
    assert "midi.outptu" in d.output() and "Traceback" not in d.output()


def test_keyboard_and_synth_unplugged_and_back(session):
    kb_name, synth_name = unique("keys"), unique("synth")
    kb = Keyboard(kb_name, virtual="out")
    rec = Recorder(synth_name, virtual="in")
    s = session(midi={"input": kb_name, "output": synth_name, "hold_beats": 16,
                      "output_channel": 3, "program": 11})
    try:
        kb.chord(DM7)
        assert rec.wait_for(lambda ev: sum(m[0] == 0x92 for _, m in ev) >= 2, 3.0)
        # midi.program: sent at start, after the panic, before the first note
        first = [m for _, m in rec.snapshot()]
        assert (0xC2, 11) in first and first.index((0xC2, 11)) < first.index(
            next(m for m in first if m[0] == 0x92 and m[2])), first[:4]
        kb.close()                                  # the keyboard is unplugged
        assert s.daemon.wait_line(f"MIDI input '{kb_name}:out' is gone", 3.0)
        time.sleep(0.1)
        quiet = len(rec.snapshot())
        assert_no_hanging(rec.snapshot())
        time.sleep(0.6)
        assert len(rec.snapshot()) == quiet         # silent while it is away
        kb = Keyboard(kb_name, virtual="out")       # ... and plugged back in
        assert s.daemon.wait_line("MIDI input reconnected", 3.0)
        kb.chord(G7)
        assert rec.wait_for(lambda ev: sum(m[0] == 0x92 for _, m in ev[quiet:]) >= 2, 3.0)

        rec.close()                                 # the synth goes away
        assert s.daemon.wait_line(f"MIDI output '{synth_name}:in' is gone", 3.0)
        rec = Recorder(synth_name, virtual="in")
        assert s.daemon.wait_line("MIDI output reconnected", 3.0)
        assert rec.wait_for(lambda ev: sum(m[0] == 0x92 for _, m in ev) >= 2, 3.0)
        assert (0xC2, 11) in [m for _, m in rec.snapshot()]     # ... and after a reconnect
        assert s.daemon.proc.poll() is None
        assert s.stop() == 0
        assert_no_hanging(rec.snapshot())
    finally:
        kb.close()
        rec.close()


def test_garbage_input_keeps_time_and_logs_once_per_kind(session):
    # garbage note events are chord changes at random times; some land on beats, and
    # the grace wait they may switch on (tested above) is not what this test measures
    s = session(tempo={"bpm": 120, "swing": 0.6}, improviser={"change_grace_ms": 0})
    s.kb.chord(DM7)
    t0 = time.monotonic()
    junk = [[0x80, 99, 0], [0x90, 200 & 0x7F, 0], [0xF4], [0xF7], [0x85, 60, 0],
            [0xB0, 64, 127], [0xB0, 64, 0], [0xE0, 0, 64], [0xD0, 5]]
    import random
    rng = random.Random(3)
    sent = 0
    while time.monotonic() < t0 + 2.5:            # ~ several thousand messages a second
        for _ in range(50):
            m = junk[rng.randrange(len(junk))] if rng.random() < 0.7 else \
                [rng.randrange(256) for _ in range(rng.randrange(1, 4))]
            s.kb.rt.send_message(m)
            sent += 1
        time.sleep(0.005)
    time.sleep(0.3)
    assert s.daemon.proc.poll() is None, s.daemon.output()
    assert s.stop() == 0
    notes = assert_no_hanging(s.events())
    onsets = [n[0] for n in notes]
    assert len(onsets) >= 4, s.daemon.output()
    assert grid_misfit(onsets, 0.5, 0.6) < 0.006, onsets
    out = s.daemon.output()
    assert "Traceback" not in out
    assert out.count("malformed MIDI") <= 2.5 + 2, out[-2000:]   # rate-limited: ~1 line a second
    assert sent > 2000


def test_ready_watchdog_freeze_and_stopping_over_notify_socket(session, tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.05)
    freeze = tmp_path / "freeze"
    got = []

    def collect(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                got.append((time.monotonic(), sock.recv(4096).decode()))
            except socket.timeout:
                pass

    try:
        s = session(extra_args=("--debug-freeze-file", str(freeze)),
                    env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
        collect(0.6)
        assert any("READY=1" in m for _, m in got)
        assert sum("WATCHDOG=1" in m for _, m in got) >= 3
        freeze.touch()
        collect(0.2)                          # pings already in flight
        n = len(got)
        collect(0.6)
        assert not any("WATCHDOG=1" in m for _, m in got[n:])   # frozen: pings stop
        os.unlink(freeze)
        collect(0.4)
        assert any("WATCHDOG=1" in m for _, m in got[n:])
        s.daemon.signal(signal.SIGTERM)
        collect(0.5)
        assert s.daemon.wait() == 0
        assert any("STOPPING=1" in m for _, m in got)
    finally:
        sock.close()


def test_live_controls_switch_off_and_on_and_set_temperature(session):
    s = session(controls={"enable_cc": 20, "temperature_cc": 21, "density_cc": 22})
    s.kb.chord(DM7)
    assert s.rec.wait_for(lambda ev: sum(m[0] == 0x90 for _, m in ev) >= 2, 3.0)
    s.kb.send(0xB0, 21, 20)                    # temperature down, density up: still plays
    s.kb.send(0xB0, 22, 127)
    s.kb.send(0xB0, 20, 0)                     # off
    assert s.daemon.wait_line("improviser off (CC20)", 2.0)
    time.sleep(0.3)                            # a note bound just before may still end
    quiet_from = time.monotonic()
    time.sleep(1.0)
    assert not [m for t, m in s.events() if t > quiet_from and m[0] == 0x90]
    s.kb.send(0xB0, 20, 127)                   # on again
    assert s.daemon.wait_line("improviser on (CC20)", 2.0)
    assert s.rec.wait_for(lambda ev: any(t > quiet_from + 1.0 and m[0] == 0x90
                                         for t, m in ev), 3.0)
    assert s.stop() == 0
    assert_no_hanging(s.events())


def test_a_crash_in_the_improviser_silences_everything(jack_server, tmp_path):
    """In-process, with one fault injected: the improviser's performer raises mid-phrase.
    Everything else is real: JACK ports, threads, the scheduler's silence."""
    from jazzd.service import config
    from jazzd.live.daemon import Daemon
    name = unique("crash")
    cfg = config.defaults()
    cfg["midi"].update(backend="jack", input=f"virtual:{name}-in",
                       output=f"virtual:{name}-out")
    cfg["improviser"].update(seed=3, gate=1.0)
    if os.environ.get("JAZZD_TEST_MODEL"):
        cfg["improviser"]["model"] = os.environ["JAZZD_TEST_MODEL"]
    d = Daemon(cfg)
    d.start()
    kb = Keyboard(unique("kb"), connect_to=f"{name}-in:in")
    rec = Recorder(unique("ear"), connect_to=f"{name}-out:out")
    rec2 = Recorder(unique("ear"), connect_to=f"{name}-out:out")   # see live.Live
    try:
        time.sleep(0.05)
        kb.chord(G7)
        assert rec.wait_for(lambda ev: any(m[0] == 0x90 for _, m in ev), 3.0)

        def broken(*_args):
            raise RuntimeError("injected fault")
        d.performer.realize = broken
        t0 = time.monotonic()
        d.loop()                                # returns when the crash is reported
        assert time.monotonic() - t0 < 3.0
        assert d.fatal is not None and d.fatal[0] == "jazzd-improviser"
        d.shutdown()
        time.sleep(0.05)
        events = merge_events(rec.snapshot(), rec2.snapshot())
        assert_no_hanging(events)
        assert events[-1][1] == (0xB0, 123, 0)
    finally:
        if d.fatal is None:
            d.shutdown()
        kb.close()
        rec.close()
        rec2.close()
