"""The standards section of `jazzd bench`: what a user's outside harness checks.

Four standards that are not in the training corpus, each played into a fresh `jazzd
run` started as soon as the one before has exited (as a service restart does), over
external MIDI clock from a master in this process (a DAW's part: 0xF8 on an absolute
grid, the chart's chords on its ticks), on the bench's JACK server: asynchronous and
non-realtime, the server users start, with a patchbay polling it (`jack_lsp` every
20 ms) where jack_lsp is installed. Measured from outside, per tune and over all:

- heard: the note-ons our port heard, against the notes the daemon says it played;
- onset error: each note-on against the master's own swung grid (its tick send times);
  a note on a beat that waited `change_grace_ms` for its chord, by design, is measured
  from the end of the grace. Bars: p50 3 ms, p99 12 ms;
- notes left sounding after each daemon's SIGTERM (CC123 not counted): bar 0;
- the musical rails (`jazzd.grammar.evaluate.BARS`) over each whole performance, on
  the master's beats: how many fall outside their band, summed over the tunes.
"""

import math
import shutil
import subprocess
import threading
import time

from jazzd.bench.jack_peers import Keyboard, Recorder
from jazzd.bench.live import DaemonRun, _jack, _peer, loopback_floor, note_ons, stuck_notes
from jazzd.bench.master import ChartPlayer, ClockMaster
from jazzd.bench.report import Bar, Figure, NotMeasured, summarize
from jazzd.bench.trading import _notes
from jazzd.grammar.chart import parse_chart
from jazzd.grammar.evaluate import check, evaluate
from jazzd.grammar.pitch import TPQ
from jazzd.live.jack_watch import open_watch
from jazzd.service.config import defaults

BPM = 140
BEATS = 4
ONSET_P50_BAR = Bar("p50", 3, "ms")
ONSET_P99_BAR = Bar("p99", 12, "ms")
HEARD_BAR = Bar("value", 0, "tunes")
STUCK_BAR = Bar("value", 0, "notes")
RAILS_BAR = Bar("value", 0, "rails")
RAIL_GRID_TOL = 0.012     # s: an onset this near the grid is on it (the p99 bar)

# name → chart (bars split by |); our own lead sheets of common changes
STANDARDS = {
    "falling leaves (G minor, 32 bars)":
        "Cm7 | F7 | Bbmaj7 | Ebmaj7 | Am7b5 | D7b9 | Gm6 | Gm6 |"
        "Cm7 | F7 | Bbmaj7 | Ebmaj7 | Am7b5 | D7b9 | Gm6 | Gm6 |"
        "Am7b5 | D7b9 | Gm6 | Gm6 | Cm7 | F7 | Bbmaj7 | Ebmaj7 |"
        "Am7b5 | D7b9 | Gm7 C7 | Fm7 Bb7 | Am7b5 | D7b9 | Gm6 | Gm6 |",
    "Coltrane changes (16 bars)":
        "Bmaj7 D7 | Gmaj7 Bb7 | Ebmaj7 | Am7 D7 | Gmaj7 Bb7 | Ebmaj7 F#7 | Bmaj7 | Fm7 Bb7 |"
        "Ebmaj7 | Am7 D7 | Gmaj7 | C#m7 F#7 | Bmaj7 | Fm7 Bb7 | Ebmaj7 | C#m7 F#7 |",
    "bebop blues in F (12 bars)":
        "Fmaj7 | Em7b5 A7b9 | Dm7 G7 | Cm7 F7 | Bb7 | Bbm7 Eb7 | Am7 D7 | Abm7 Db7 |"
        "Gm7 | C7 | Fmaj7 D7 | Gm7 C7 |",
    "minor bossa in C (16 bars)":
        "Cm7 | Cm7 | Fm7 | Fm7 | Dm7b5 | G7b9 | Cm7 | Cm7 |"
        "Ebm7 | Ab7 | Dbmaj7 | Dbmaj7 | Dm7b5 | G7b9 | Cm7 | Dm7b5 G7b9 |",
}


class _Patchbay:
    """`jack_lsp` every 20 ms against the server, as qjackctl and other patchbays
    poll it; nothing when jack_lsp is not installed."""

    def __init__(self, jack):
        self.lsp = shutil.which("jack_lsp")
        self.halt = threading.Event()
        self.thread = None
        if self.lsp:
            self.thread = threading.Thread(target=self._run, args=(jack.env,), daemon=True)
            self.thread.start()

    def _run(self, env):
        while not self.halt.is_set():
            subprocess.run([self.lsp], env=env, capture_output=True)
            self.halt.wait(0.02)

    def close(self):
        self.halt.set()
        if self.thread is not None:
            self.thread.join(5)


def play_tune(ctx, jack, chart, bars):
    """One daemon over `bars` bars of `chart` on external clock: (master, events,
    t_start, t_end, notes the daemon says it played, exit status, log tail)."""
    cfg = defaults()                   # as shipped, but for the ports and the clock
    d = DaemonRun(ctx, jack, extra={
        "tempo": {"source": "clock", "bpm": BPM, "swing": cfg["tempo"]["swing"]},
        "midi": {"debounce_ms": cfg["midi"]["debounce_ms"]},
        "logging": {"level": "info"}})
    listener = kbd = master = None
    try:
        listener = _peer(Recorder, f"{d.tag}-listen", connect_to=f"{d.tag}-out")
        kbd = _peer(Keyboard, f"{d.tag}-kbd", connect_to=f"{d.tag}-in")
        time.sleep(0.3)
        player = ChartPlayer(kbd, chart)
        master = ClockMaster(kbd, bpm=BPM, on_tick=player.on_tick)
        t_start = time.monotonic()
        master.start()
        time.sleep(bars * BEATS * 60.0 / BPM + 0.05)
        master.finish()
        t_end = master.stopped_at
        time.sleep(0.2)
        rc = d.stop()
        time.sleep(0.2)                # the last note-offs and CC123 on their way
        events = listener.snapshot()
    finally:
        if master is not None and master.is_alive():
            master.finish(send_stop=False)
        d.close(kbd, listener)
    played = None
    try:
        with open(d.logpath, errors="replace") as f:
            for line in f:
                if "stopped: " in line and " notes played" in line:
                    played = int(line.split("stopped: ", 1)[1].split()[0])
    except (OSError, ValueError):
        pass
    return master, events, t_start, t_end, played, rc, d.log_tail()


def onset_errors_on_master(master, events, t_start, t_end, swing, grace):
    """|error| (ms) of each note-on against the master's swung grid; a note on a beat
    that waited the chord grace is measured from the grace's end."""
    return [abs(e) * 1e3 for _, e, _ in master.timeline().graced_errors(
        note_ons(events, since=t_start, until=t_end), swing, grace)]


def missed_rails(master, events, chart, bars, swing):
    """The rails of grammar.evaluate outside their band over the performance, as
    [(name, value)], and the number of notes scored."""
    tl = master.timeline()
    notes = []
    for on, off, pitch in _notes(events):
        b_on = tl.beat_of(on)
        b_off = tl.beat_of(off) if off is not None else None
        if b_on is not None and b_off is not None and b_on < bars * BEATS:
            notes.append((b_on, b_off - b_on, pitch))
    imp = defaults()["improviser"]
    tick_s = 60.0 / BPM / TPQ
    stats = evaluate(notes, chart.timeline(bars), BEATS, swing=swing,
                     low=imp["lowest_note"], high=imp["highest_note"],
                     span_beats=bars * BEATS,
                     grid_tolerance=(RAIL_GRID_TOL + imp["change_grace_ms"] / 1000) / tick_s)
    bad = [(name, v) for name, v, _bar, ok in check(stats) if not ok]
    return bad, len(notes)


def section_standards(ctx):
    """Four standards over external clock on an asynchronous server, back to back."""
    jack = _jack(ctx)
    cfg = defaults()
    swing = cfg["tempo"]["swing"]
    grace = cfg["improviser"]["change_grace_ms"] / 1000.0
    min_bars = 12 if ctx.quick else 32
    # This process's first JACK client, before the patchbay polls: a client that leaves
    # while a process's first one attaches leaves it waiting for ever (docs/LIVE.md, "A
    # client that never runs"; a run here hung 15 minutes on it). The daemon opens
    # the same watch first for the same reason.
    watch = open_watch()
    patchbay = _Patchbay(jack)
    rows = []
    try:
        for name, text in STANDARDS.items():
            chart = parse_chart(text, BEATS)
            bars = len(chart.bars) * math.ceil(min_bars / len(chart.bars))
            master, events, t0, t1, played, rc, tail = play_tune(ctx, jack, chart, bars)
            if rc != 0:
                raise NotMeasured(f"{name}: jazzd run exited with status {rc}: {tail}")
            heard = len(note_ons(events, since=t0))
            errors = onset_errors_on_master(master, events, t0, t1, swing, grace)
            rails, scored = missed_rails(master, events, chart, bars, swing)
            rows.append((name, bars, played, heard, errors, stuck_notes(events), rails,
                         scored, sum(k for _, k in master.skipped)))
    finally:
        patchbay.close()
        if watch is not None:
            watch.close()
    floor, _ = loopback_floor(ctx, 2.0 if ctx.quick else 8.0, 60 / BPM / 4)
    errors = [e for r in rows for e in r[4]]
    if not errors:
        raise NotMeasured("no onset was heard in any tune")
    per_tune = "; ".join(
        f"{name.split(' (')[0]}: {bars} bars, heard {heard} of {played} played"
        + (", p50 {p50:.1f} / p99 {p99:.1f} ms".format(**summarize(errs)) if errs else "")
        + (f", {stuck} left sounding" if stuck else "")
        for name, bars, played, heard, errs, stuck, *_ in rows)
    unheard = [r[0] for r in rows if not r[3] or (r[2] and r[3] < 0.9 * r[2])]
    rails = [f"{r[0].split(' (')[0]}: {', '.join(f'{n} {v:.3f}' for n, v in r[6])}"
             for r in rows if r[6]]
    skipped = sum(r[8] for r in rows)
    mode = f"{'synchronous' if jack.sync else 'asynchronous'}, {jack.mode}"
    return [
        Figure("standards.onset", "onset error vs the master's swung grid (p99 bar)", "ms",
               errors, bar=ONSET_P99_BAR, baseline="standards.floor",
               note=f"{len(rows)} tunes at {BPM} bpm on external clock, JACK {mode}; "
                    f"{per_tune}; the master skipped {skipped} ticks"),
        Figure("standards.onset_p50", "onset error vs the master's swung grid (p50 bar)",
               "ms", value=summarize(errors)["p50"], bar=ONSET_P50_BAR),
        Figure("standards.floor", "onset error, scheduler in-process → JACK → us (floor)",
               "ms", floor, role="baseline", short="JACK floor"),
        Figure("standards.unheard", "tunes not heard (under 90 % of the notes played)",
               "tunes", value=len(unheard), bar=HEARD_BAR,
               note=", ".join(unheard) or "every tune heard"),
        Figure("standards.stuck", "notes left sounding after each SIGTERM, summed", "notes",
               value=sum(r[5] for r in rows), bar=STUCK_BAR),
        Figure("standards.rails", "rails outside their band, summed over tunes",
               "rails", value=sum(len(r[6]) for r in rows), bar=RAILS_BAR,
               note="; ".join(rails) or
                    f"every rail in band in every tune ({sum(r[7] for r in rows)} notes)"),
    ]

