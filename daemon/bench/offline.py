"""The offline sections of `jazzd bench`: the NumPy LSTM step (and its Keras baselines),
the grammar's unparse and chord recognition (and music21's), and the scheduler's send
error against chained sleeps. Heavy baselines run in child processes (run_worker)."""

import importlib
import os
import random
import subprocess
import sys
import time

import numpy as np

from jazzd.bench.report import Bar, Figure, NotMeasured, missing, run_worker
from jazzd.model.network import Network
from jazzd.service.errors import UserError


def _load_model_or_skip(model):
    from jazzd.model.store import load_model
    try:
        return load_model(model)
    except UserError as e:
        raise NotMeasured(f"no model ({e})") from None


# -- section: the NumPy network ---------------------------------------------------

STEP_BAR = Bar("p99", 0.1, "ms")


def _inputs(m, n, seed=0):
    """n random steps: previous tokens, one-hot conditions, drawn kind and duration."""
    rng = np.random.default_rng(seed)
    rows = np.stack([rng.integers(0, m.K + 1, n), rng.integers(0, m.D + 1, n),
                     rng.integers(0, m.S + 1, n), rng.integers(0, m.K, n),
                     rng.integers(0, m.D, n)], axis=1)
    conds = np.zeros((n, m.C), np.float32)
    for i in range(n):
        conds[i, rng.choice(m.C, size=6, replace=False)] = 1.0
    return rows.tolist(), conds


def bench_step(m, n=2000, clock=time.perf_counter):
    """Per-step times (ms) of the NumPy network: the cell and the three heads, as the
    performer runs them for one value."""
    net = Network(m)
    rows, conds = _inputs(m, n)
    times = np.empty(n)
    for i, (pk, pd, ps, k, d) in enumerate(rows):
        c = conds[i]
        t = clock()
        net.advance(pk, pd, ps, c)
        net.kind_logits()
        net.dur_logits(k)
        net.step_logits(k, d)
        times[i] = clock() - t
    scale = 1e3 if clock is time.perf_counter else 1e-6
    return sorted((times * scale).tolist())


def bench_next_value(m, n=2000):
    """Per-value times (ms) of Performer.next_value over a ii-V-I: the network step,
    the style, the motif memory, three draws and the planned pitch."""
    from jazzd.grammar.chord_symbols import parse_symbol
    from jazzd.model.performer import Performer
    from jazzd.service.config import defaults
    perf = Performer(m, defaults(), seed=1)
    chords = [parse_symbol(s) for s in ("Dm7", "G7", "Cmaj7", "A7b9")]
    times = np.empty(n)
    clock = time.perf_counter
    tick = 0
    for i in range(n):
        chord = chords[(tick // 48) % 4]
        t = clock()
        v = perf.next_value(tick % 48, chord)
        times[i] = clock() - t
        perf.realize(v, chord, tick % 48)
        tick += v.ticks
    return sorted((times * 1e3).tolist())


def section_lstm(ctx):
    """One step of the NumPy network, one whole value, the model's size and load time."""
    from pathlib import Path

    from jazzd.model.store import load_model
    m = _load_model_or_skip(ctx.model)
    n = 2000 if ctx.quick else 20000
    loads = []
    for _ in range(3 if ctx.quick else 10):
        t = time.perf_counter()
        load_model(ctx.model)
        loads.append((time.perf_counter() - t) * 1e3)
    desc = f"{m.cell}, U={m.U}, heads K={m.K} D={m.D} S={m.S}, C={m.C}"
    figs = [
        Figure("lstm.step_numpy", "step, NumPy network (cell + three heads)", "ms",
               bench_step(m, n), baseline="keras.step_call", bar=STEP_BAR, note=desc),
        Figure("lstm.step_cpu", "step, NumPy network, thread CPU time", "ms",
               bench_step(m, n, time.thread_time_ns),
               note="CPU time leaves out preemption by other processes: a wall-clock "
                    "p99 far above this one is the machine's load"),
        Figure("lstm.next_value", "one value planned (step, style, motif, draws, pitch)",
               "ms", bench_next_value(m, n // 4)),
        Figure("lstm.vocab", "head sizes K + D + S", "entries", value=m.K + m.D + m.S),
    ]
    if m.path is not None:
        size = sum(p.stat().st_size for p in Path(m.path).iterdir() if p.is_file())
        figs.append(Figure("lstm.size", "model size on disk", "kB", value=size / 1024,
                           note=str(m.path)))
    figs.append(Figure("lstm.load", "model load (weights.npz + vocab + meta)", "ms", loads,
                       baseline="keras.build"))
    return figs


def keras_worker(model, call_steps, predict_steps):
    """Child process: TensorFlow import, Keras build, `model(x)` and `model.predict`."""
    import resource
    t = time.perf_counter()
    try:
        import tensorflow  # noqa: F401
    except ImportError as e:
        return {"not_measured": f"TensorFlow is not installed ({e})"}
    import_s = time.perf_counter() - t
    from jazzd.model.store import load_model
    from jazzd.train.keras_model import build_network
    m = load_model(model)

    def build():
        layers = sum(1 for k in m.weights if k.endswith("_res_bias"))
        return build_network(m.K, m.D, m.S, m.C, U=m.U, cell=m.cell,
                             stateful=m.cell != "conv", weights=m.weights,
                             conv_layers=layers)
    builds = []
    for _ in range(3):
        t = time.perf_counter()
        km = build()
        builds.append((time.perf_counter() - t) * 1e3)
    rows, conds = _inputs(m, max(call_steps, predict_steps) + 1)
    res = {}
    for key, steps, call in (("call_ms", call_steps, lambda x: km(x, training=False)),
                             ("predict_ms", predict_steps, lambda x: km.predict(x, verbose=0))):
        times = []
        for i in range(steps + 1):
            pk, pd, ps, k, d = rows[i]
            x = [np.array([[v]], np.int32) for v in (pk, pd, ps)] + \
                [conds[i][None, None, :], np.array([[k]], np.int32), np.array([[d]], np.int32)]
            t = time.perf_counter()
            call(x)
            if i:   # the first call traces the graph
                times.append((time.perf_counter() - t) * 1e3)
        res[key] = sorted(times)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"import_s": import_s, "build_ms": builds, "call_ms": res["call_ms"],
            "predict_ms": res["predict_ms"], "rss_mb": rss_mb, "tf": tensorflow.__version__}


def section_keras(ctx):
    """The baselines of the network step: Keras eager call and `predict`, in a child."""
    _load_model_or_skip(ctx.model)
    calls, predicts = (30, 10) if ctx.quick else (300, 60)
    r = run_worker("jazzd.bench.offline.keras_worker", ctx.model, calls, predicts)
    tf = f"TensorFlow {r['tf']}, in a child process"
    return [
        Figure("keras.step_call", "step, Keras eager model(x)", "ms", r["call_ms"],
               baseline="keras.step_predict", role="baseline", note=tf,
               short="Keras model(x)"),
        Figure("keras.step_predict", "step, Keras model.predict (the seeds' way)", "ms",
               r["predict_ms"], role="baseline", short="model.predict"),
        Figure("keras.build", "Keras build + set weights", "ms", r["build_ms"],
               role="baseline", short="Keras build"),
        Figure("keras.import", "import tensorflow", "s", value=r["import_s"],
               role="baseline"),
        Figure("keras.rss", "peak RSS of the Keras process", "MB", value=r["rss_mb"],
               role="baseline"),
    ]


# -- section: the grammar -------------------------------------------------------

UNPARSE_BAR = Bar("p99", 0.1, "ms")


RECOGNIZE_BAR = Bar("p99", 0.05, "ms")


_SYMBOLS = ("Dm7", "G7", "Cmaj7", "C", "F#m7b5", "B7b9", "Em7", "A7alt", "Bbmaj7#11",
            "Ebm6", "Bdim7", "Caug", "F9sus4", "G13", "Cm")


_VOICINGS = ((43, 53, 59, 64), (50, 53, 57, 60), (48, 52, 55, 59), (47, 53, 57, 64),
             (41, 45, 48, 52), (36, 46, 52, 57, 62), (55, 59, 62, 65), (40, 43, 47, 50),
             (60, 63, 67), (38, 48, 53, 57), (45, 48, 52, 55, 60), (59, 62, 65, 68))


def _unparse_cases(n, seed):
    from jazzd.grammar.chord_symbols import parse_symbol
    from jazzd.grammar.values import KINDS, Value
    rng = random.Random(seed)
    chords = [parse_symbol(s) for s in _SYMBOLS]
    cases = []
    for _ in range(n):
        kind = rng.choice(KINDS[:4])
        step = rng.randint(-7, 7)
        window = (None, None) if rng.random() < 0.1 else (step - 3, step + 3)
        cases.append((Value(kind, 3, *window), rng.randint(55, 84), rng.choice(chords)))
    return cases


def bench_unparse(n=20000, seed=1):
    """Seconds per `jazzd.grammar.unparse.realize` call over random values, chords and
    previous pitches (the daemon's late binding of one pitch)."""
    from jazzd.grammar.unparse import realize
    cases = _unparse_cases(n, seed)
    play = random.Random(seed + 1)
    clock = time.perf_counter
    times = []
    for value, prev, chord in cases:
        t0 = clock()
        realize(value, prev, chord, 55, 84, play, 2, 1)
        times.append(clock() - t0)
    return times


def bench_recognize(n=20000, seed=1):
    """Seconds per `jazzd.grammar.recognize.recognize` call over a table of voicings (shells,
    rootless, inversions)."""
    from jazzd.grammar.recognize import recognize
    rng = random.Random(seed)
    cases = [rng.choice(_VOICINGS) for _ in range(n)]
    clock = time.perf_counter
    times = []
    for notes in cases:
        t0 = clock()
        recognize(notes)
        times.append(clock() - t0)
    return times


def music21_worker(n_unparse, n_recognize, seed=1):
    """Child process: the seeds' way with music21, per call, on the same cases.

    Unparse: derive the chord scale (`scale.derive`, Dorian, or major for a major
    chord), list its pitches in the window, keep those of the value's kind, choose one.
    Recognition: `chord.Chord(notes)`, then its root and common name.
    """
    from music21 import chord as m21chord
    from music21 import pitch, scale

    from jazzd.grammar.pitch import pcs_of
    out = {}
    cases = _unparse_cases(n_unparse, seed)
    m21 = {}
    for _, _, c in cases:   # the chords as the seeds had them: music21 objects, built once
        if c.symbol not in m21:
            pcs = sorted(pcs_of(c.tones), key=lambda pc: (pc - c.root) % 12)
            m21[c.symbol] = m21chord.Chord([48 + c.root + (pc - c.root) % 12 for pc in pcs])
    rng = random.Random(seed + 1)
    clock = time.perf_counter
    times = []
    for value, prev, c in cases:
        cs = m21[c.symbol]
        t0 = clock()
        kind_scale = scale.MajorScale() if cs.quality == "major" else scale.DorianScale()
        derived = kind_scale.derive(cs)
        names = {p.name for p in (cs.pitches if value.kind == "C" else derived.getPitches())}
        lo, hi = (value.lo, value.hi) if value.lo is not None else (-6, 6)
        low, high = pitch.Pitch(midi=prev + lo), pitch.Pitch(midi=prev + hi)
        cands = [p for p in derived.getPitches(low, high) if p.name in names]
        if cands:
            rng.choice(cands).midi
        times.append(clock() - t0)
    out["unparse_s"] = times
    rng = random.Random(seed)
    voicings = [rng.choice(_VOICINGS) for _ in range(n_recognize)]
    times = []
    for notes in voicings:
        t0 = clock()
        ch = m21chord.Chord(list(notes))
        ch.root()
        ch.commonName
        times.append(clock() - t0)
    out["recognize_s"] = times
    return out


def section_grammar(ctx):
    """unparse of one value and recognition of one voicing, vs music21 the seeds' way."""
    n, nb_u, nb_r = (2000, 20, 50) if ctx.quick else (30000, 300, 2000)
    ms = lambda ts: [t * 1e3 for t in ts]   # noqa: E731
    figs, base = [], None
    try:
        base = run_worker("jazzd.bench.offline.music21_worker", nb_u, nb_r, timeout=600)
    except NotMeasured as e:
        base_reason = str(e)
    for key, title, bench, bar, base_key, base_title, short in (
            ("unparse", "unparse one value (realize)", bench_unparse, UNPARSE_BAR,
             "unparse_s", "unparse, music21 scale.derive per call (the seeds' way)",
             "music21 derive"),
            ("recognize", "recognize one voicing", bench_recognize, RECOGNIZE_BAR,
             "recognize_s", "recognize, music21 chord.Chord root + commonName",
             "music21 Chord")):
        try:
            figs.append(Figure(f"grammar.{key}", title, "ms", ms(bench(n)),
                               baseline=f"grammar.{key}_m21", bar=bar))
        except ImportError as e:
            figs.append(missing(f"grammar.{key}", title,
                                f"grammar.{key} is not importable ({e})", bar))
        figs.append(Figure(f"grammar.{key}_m21", base_title, "ms", ms(base[base_key]),
                           role="baseline", short=short)
                    if base else missing(f"grammar.{key}_m21", f"{key}, music21 baseline",
                                         base_reason))
    return figs


# -- section: the scheduler -----------------------------------------------------

SEND_BAR = Bar("p99", 0.5, "ms")


def _schedule(duration, lead=0.05, period=0.04, gate=0.5):
    """Deadlines of a run of notes (relative to a start): (on, off, pitch) triples."""
    notes, k = [], 0
    while k * period < duration:
        on = lead + k * period
        notes.append((on, on + gate * period, 60 + k % 12))
        k += 1
    return notes


def _shipped_priority():
    """The realtime priority the daemon asks for with the default config."""
    from jazzd.service.config import defaults
    return defaults()["midi"]["realtime_priority"]


def _scheduler_errors(notes, priority):
    """Send error (ms) of each event played by `jazzd.live.scheduler.Scheduler`, its thread
    asking for SCHED_FIFO at `priority` as the daemon does (0 = normal scheduling)."""
    from jazzd.live.scheduler import Scheduler
    sent = []
    s = Scheduler(lambda data, at=None: sent.append(data), channel=1,
                  realtime_priority=priority)
    s.start()
    try:
        time.sleep(0.05)                  # the thread sets its own policy as it starts
        policy = _policy(s.native_id)
        t0 = time.monotonic()
        for on, off, pitch in notes:
            s.note(t0 + on, t0 + off, pitch, 90)
        time.sleep(notes[-1][1] + 0.1)
        lat = s.lateness()
    finally:
        s.stop()
    if len(lat) < 2 * len(notes):
        raise NotMeasured(f"the scheduler sent {len(lat)} of {2 * len(notes)} events")
    return [x * 1e3 for x in lat], policy


def _policy(tid):
    """The scheduling policy of a thread, by name (SCHED_OTHER, SCHED_FIFO, ...)."""
    try:
        p = os.sched_getscheduler(tid)
    except (OSError, AttributeError):
        return "unknown"
    names = {getattr(os, n): n for n in ("SCHED_OTHER", "SCHED_FIFO", "SCHED_RR",
                                          "SCHED_BATCH", "SCHED_IDLE") if hasattr(os, n)}
    return names.get(p, str(p))


def _naive_errors(notes):
    """The baseline: one chained `time.sleep(dt)` per event, as a naive loop would."""
    events = sorted([(on, pitch) for on, _, pitch in notes]
                    + [(off, pitch) for _, off, pitch in notes])
    sent, errors = [], []
    t0 = time.monotonic()
    last = 0.0
    for when, pitch in events:
        time.sleep(when - last)
        last = when
        now = time.monotonic()
        sent.append([0x90, pitch, 90])
        errors.append((now - (t0 + when)) * 1e3)
    return errors


def busy_core():
    """Start a child that keeps one core busy; the caller kills it."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def section_scheduler(ctx):
    """Send time − deadline at the output call, idle and with the other core busy: the
    scheduler as the daemon runs it (realtime where allowed), at normal priority (where
    the system refuses realtime), and a chained-sleep loop as the baseline."""
    try:
        importlib.import_module("jazzd.live.scheduler")
    except ImportError as e:
        raise NotMeasured(f"jazzd.live.scheduler is not importable ({e})") from None
    notes = _schedule(0.4 if ctx.quick else 8.0)
    priority = _shipped_priority()
    figs = []
    for label, busy in (("idle", False), ("other core busy", True)):
        hog = busy_core() if busy else None
        try:
            if hog:
                time.sleep(0.2)
            sched, policy = _scheduler_errors(notes, priority)
            normal = _scheduler_errors(notes, 0)[0] if busy else None
            naive = _naive_errors(notes)
        finally:
            if hog:
                hog.kill()
                hog.wait()
        tag = "busy" if busy else "idle"
        figs.append(Figure(f"scheduler.send_{tag}", f"send error, scheduler, {label}", "ms",
                           sched, baseline=f"scheduler.naive_{tag}",
                           bar=SEND_BAR if busy else None, short=f"scheduler, {tag}",
                           note=f"{len(notes)} notes, one every 40 ms; the thread's "
                                f"policy as the daemon sets it (realtime_priority "
                                f"{priority}): {policy}"))
        if normal is not None:
            figs.append(Figure("scheduler.normal_busy",
                               f"send error, scheduler at normal priority, {label}", "ms",
                               normal, baseline=f"scheduler.naive_{tag}",
                               short="scheduler, normal priority, busy",
                               note="where the system refuses realtime priority "
                                    "(no LimitRTPRIO=, no rtprio limit)"))
        figs.append(Figure(f"scheduler.naive_{tag}", f"send error, chained sleep, {label}",
                           "ms", naive, role="baseline", short=f"chained sleep, {tag}"))
    return figs
