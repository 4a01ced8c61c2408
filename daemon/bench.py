"""`jazzd bench`: the performance figures of DESIGN.md, measured in one run on this machine.

The machine is shared and noisy, so no figure is a single number: every timing is a
distribution (p50 / p99 / max) next to a baseline measured in the same run, and the
ratio between the two is what carries over between runs. The ratio is taken at the
statistic the figure's bar is about (p99 for latencies, max for memory), else at p50.
A section whose component is missing (no model, no jackd, no TensorFlow, no
`jazzd run` yet) says "not measured: <reason>"; nothing is ever estimated or faked.
Missing a bar is a finding, not a failure: the command exits 0 and says so.

Heavy baselines (TensorFlow, music21) run in child processes, so their imports, threads
and garbage never touch the figures of the light runtime measured here. The live
sections (JACK, `jazzd run`) are in `daemon.bench_live`.
"""

import importlib
import json
import math
import os
import platform
import random
import subprocess
import sys
import time

from daemon import __version__
from daemon.errors import EX_USAGE, UserError


class NotMeasured(Exception):
    """Raised by a section (or a part of one) that cannot run here; the text says why."""


# -- figures ----------------------------------------------------------------------------

def percentile(sorted_values, q):
    """Nearest-rank q-th percentile (0-100) of a sorted list: always an observed value."""
    n = len(sorted_values)
    k = max(0, min(n - 1, math.ceil(q / 100 * n) - 1))
    return sorted_values[k]


def summarize(values):
    """{"n", "p50", "p99", "max", "mean"} of a list of numbers."""
    s = sorted(float(v) for v in values)
    if not s:
        raise ValueError("no samples")
    return {"n": len(s), "p50": percentile(s, 50), "p99": percentile(s, 99),
            "max": s[-1], "mean": sum(s) / len(s)}


class Bar:
    """A DESIGN.md quality bar: `stat` (p50, p99, max, mean or value) <= `limit`."""

    def __init__(self, stat, limit, unit):
        self.stat, self.limit, self.unit = stat, limit, unit

    @property
    def text(self):
        return f"{self.stat} <= {_num(self.limit)} {self.unit}".replace(" <= ", " ≤ ")

    def as_dict(self):
        return {"stat": self.stat, "limit": self.limit, "unit": self.unit, "text": self.text}


class Figure:
    """One row of the report: a distribution (`samples`) or a single `value`, or a
    reason it was not measured. `baseline` is the key of the row it is compared with."""

    def __init__(self, key, name, unit, samples=None, value=None, baseline=None, bar=None,
                 note=None, missing=None, role="figure", short=None):
        self.key, self.name, self.unit = key, name, unit
        self.short = short or name      # how the baseline column names this row
        self.stats = summarize(samples) if samples is not None else None
        self.value = value
        self.baseline = baseline
        self.bar = bar
        self.note = note
        self.missing = missing
        self.role = role
        self.ratio = None
        self.ratio_stat = None
        self.baseline_missing = None

    def stat(self, name):
        if self.missing is not None:
            return None
        if self.stats is None:
            return self.value
        return self.stats["p50"] if name == "value" else self.stats[name]

    @property
    def ok(self):
        if self.bar is None or self.missing is not None:
            return None
        return self.stat(self.bar.stat) <= self.bar.limit

    def as_dict(self):
        d = {"key": self.key, "name": self.name, "unit": self.unit, "role": self.role}
        if self.short != self.name:
            d["short"] = self.short
        if self.missing is not None:
            d["not_measured"] = self.missing
        elif self.stats is not None:
            d.update(self.stats)
        else:
            d["value"] = self.value
        if self.baseline:
            d["baseline"] = self.baseline
            d["ratio"] = self.ratio
            d["ratio_stat"] = self.ratio_stat
            if self.baseline_missing:
                d["baseline_not_measured"] = self.baseline_missing
        if self.bar is not None:
            d["bar"] = self.bar.as_dict()
            d["ok"] = self.ok
        if self.note:
            d["note"] = self.note
        return d


def missing(key, name, reason, bar=None):
    return Figure(key, name, "", missing=reason, bar=bar)


def link_baselines(figures):
    """Fill each figure's ratio to its baseline from rows of this run: at the statistic
    of its bar when both are distributions, else at p50 (a single value is its own p50)."""
    by_key = {f.key: f for f in figures}
    for f in figures:
        if not f.baseline or f.missing is not None:
            continue
        b = by_key.get(f.baseline)
        if b is None:
            f.baseline_missing = "baseline section not run"
        elif b.missing is not None:
            f.baseline_missing = b.missing
        else:
            stat = "p50"
            if f.bar is not None and f.stats is not None and b.stats is not None:
                stat = f.bar.stat
            f.ratio_stat = stat
            mine, theirs = f.stat(stat), b.stat(stat)
            f.ratio = mine / theirs if theirs else None


# -- helpers shared by the sections -----------------------------------------------------

def run_worker(func, *args, timeout=300, env=None):
    """Run `daemon.<module>.<func>(*args)` in a fresh interpreter; return its JSON result.

    The worker prints one JSON document on its last stdout line. A worker that fails
    raises NotMeasured with the last line of its stderr.
    """
    module, name = func.rsplit(".", 1)
    code = (f"import json, sys; from {module} import {name}; "
            f"print(json.dumps({name}(*json.loads(sys.argv[1]))))")
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    full_env.update(env or {})
    try:
        p = subprocess.run([sys.executable, "-c", code, json.dumps(list(args))],
                           capture_output=True, text=True, timeout=timeout, env=full_env)
    except subprocess.TimeoutExpired:
        raise NotMeasured(f"{name} did not finish in {timeout} s") from None
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        err = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        raise NotMeasured(f"{name} failed: {err[-1] if err else 'exit ' + str(p.returncode)}")
    result = json.loads(lines[-1])
    if isinstance(result, dict) and result.get("not_measured"):
        raise NotMeasured(result["not_measured"])
    return result


def _load_model_or_skip(model):
    from daemon.model import load_model
    try:
        return load_model(model)
    except UserError as e:
        raise NotMeasured(f"no model ({e})") from None


# -- section: the NumPy LSTM runtime ----------------------------------------------------

STEP_BAR = Bar("p99", 0.1, "ms")


def section_lstm(ctx):
    """One LSTM step of the NumPy runtime, the model's size, and its load time."""
    from daemon.lstm import bench_lstm
    from daemon.model import load_model
    m = _load_model_or_skip(ctx.model)
    n = 2000 if ctx.quick else 20000
    r = bench_lstm(n, m, keras=False)
    loads = []
    for _ in range(3 if ctx.quick else 10):
        t = time.perf_counter()
        load_model(ctx.model)
        loads.append((time.perf_counter() - t) * 1e3)
    desc = f"{m.variant}, V={m.V} E={m.E} U={m.U} C={m.C}"
    figs = [
        Figure("lstm.step_numpy", "step, NumPy runtime (daemon)", "ms", r["numpy_ms"],
               baseline="keras.step_call", bar=STEP_BAR, note=desc),
        Figure("lstm.step_cpu", "step, NumPy runtime, thread CPU time", "ms",
               _step_cpu_ms(m, n), note="CPU time leaves out preemption by other "
               "processes: a wall-clock p99 far above this one is the machine's load"),
        Figure("lstm.vocab", "vocabulary size", "tokens", value=m.V),
    ]
    if "size_bytes" in r:
        figs.append(Figure("lstm.size", "model size on disk", "kB",
                           value=r["size_bytes"] / 1024, note=str(m.path)))
    figs.append(Figure("lstm.load", "model load (weights.npz + vocab + meta)", "ms", loads,
                       baseline="keras.build"))
    return figs


def _step_cpu_ms(m, n):
    """Per-step thread CPU time (ms) of the NumPy runtime, same inputs as bench_lstm."""
    import numpy as np

    from daemon.lstm import LSTMRuntime
    rt = LSTMRuntime(m)
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, m.V, size=n).tolist()
    cond = None
    if m.C:
        cond = np.zeros(m.C, np.float32)
        cond[0] = 1.0
    clock = time.thread_time_ns
    out = []
    for tok in tokens:
        t = clock()
        rt.step(tok, cond)
        out.append((clock() - t) / 1e6)
    return out


def keras_worker(model, call_steps, predict_steps):
    """Child process: TensorFlow import, Keras build, `model(x)` and `model.predict`."""
    import resource
    t = time.perf_counter()
    try:
        import tensorflow  # noqa: F401
    except ImportError as e:
        return {"not_measured": f"TensorFlow is not installed ({e})"}
    import_s = time.perf_counter() - t
    from daemon.lstm import bench_lstm
    from daemon.model import load_model
    from daemon.train import build_keras_model
    m = load_model(model)
    builds = []
    for _ in range(3):
        t = time.perf_counter()
        build_keras_model(m.V, m.E, m.U, m.C, stateful=True, weights=m.weights)
        builds.append((time.perf_counter() - t) * 1e3)
    r = bench_lstm(max(call_steps, predict_steps) + 1, m, keras=True, keras_steps=call_steps,
                   predict_steps=predict_steps)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"import_s": import_s, "build_ms": builds, "call_ms": r["keras_call_ms"],
            "predict_ms": r["keras_predict_ms"], "rss_mb": rss_mb,
            "tf": tensorflow.__version__}


def section_keras(ctx):
    """The baselines of the LSTM step: Keras eager call and `predict`, in a child."""
    _load_model_or_skip(ctx.model)
    calls, predicts = (30, 10) if ctx.quick else (300, 60)
    r = run_worker("daemon.bench.keras_worker", ctx.model, calls, predicts)
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


# -- section: the grammar's live-path calls ---------------------------------------------

UNPARSE_BAR = Bar("p99", 0.1, "ms")
RECOGNIZE_BAR = Bar("p99", 0.05, "ms")

_SYMBOLS = ("Dm7", "G7", "Cmaj7", "C", "F#m7b5", "B7b9", "Em7", "A7alt", "Bbmaj7#11",
            "Ebm6", "Bdim7", "Caug", "F9sus4", "G13", "Cm")
_VOICINGS = ((43, 53, 59, 64), (50, 53, 57, 60), (48, 52, 55, 59), (47, 53, 57, 64),
             (41, 45, 48, 52), (36, 46, 52, 57, 62), (55, 59, 62, 65), (40, 43, 47, 50),
             (60, 63, 67), (38, 48, 53, 57), (45, 48, 52, 55, 60), (59, 62, 65, 68))


def _unparse_cases(n, seed):
    from grammar.chords import parse_symbol
    from grammar.values import KINDS, Value
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
    """Seconds per `grammar.unparse.realize` call over random values, chords and
    previous pitches (the daemon's late binding of one pitch)."""
    from grammar.unparse import realize
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
    """Seconds per `grammar.recognize.recognize` call over a table of voicings (shells,
    rootless, inversions)."""
    from grammar.recognize import recognize
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

    from grammar.pitch import pcs_of
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
        base = run_worker("daemon.bench.music21_worker", nb_u, nb_r, timeout=600)
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


# -- section: the scheduler's send error ------------------------------------------------

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
    from daemon.config import defaults
    return defaults()["midi"]["realtime_priority"]


def _scheduler_errors(notes, priority):
    """Send error (ms) of each event played by `daemon.scheduler.Scheduler`, its thread
    asking for SCHED_FIFO at `priority` as the daemon does (0 = normal scheduling)."""
    from daemon.scheduler import Scheduler
    sent = []
    s = Scheduler(sent.append, channel=1, realtime_priority=priority)
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
        importlib.import_module("daemon.scheduler")
    except ImportError as e:
        raise NotMeasured(f"daemon.scheduler is not importable ({e})") from None
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


# -- the command ------------------------------------------------------------------------

def _live(name):
    def run(ctx):
        from daemon import bench_live
        return getattr(bench_live, "section_" + name)(ctx)
    run.__doc__ = f"live section {name} (daemon.bench_live)"
    return run


SECTIONS = {
    "lstm": ("LSTM step, NumPy runtime", section_lstm),
    "keras": ("LSTM step baselines, Keras", section_keras),
    "grammar": ("grammar: unparse and chord recognition", section_grammar),
    "scheduler": ("scheduler send error", section_scheduler),
    "ready": ("jazzd run: start to ready", _live("ready")),
    "playing": ("jazzd run: RSS and CPU while playing", _live("playing")),
    "onset": ("jazzd run: JACK round-trip onset error", _live("onset")),
}
OFFLINE = ("lstm", "keras", "grammar", "scheduler")


class Context:
    """What every section may read: the options and a place to share live results."""

    def __init__(self, quick=False, model="default"):
        self.quick = quick
        self.model = model
        self.shared = {}
        self.closers = []       # called once the last section is done (JACK server, tmp)
        self.load = {}          # section → 1/5/15-min load average when it started

    def close(self):
        while self.closers:
            self.closers.pop()()


def run_sections(names, ctx, progress=None):
    """Run the named sections in order; returns [(name, title, figures or reason)]."""
    results = []
    try:
        for name in names:
            title, func = SECTIONS[name]
            if progress:
                progress(f"bench: {name} ...")
            t = time.monotonic()
            ctx.load[name] = _loadavg()
            try:
                out = func(ctx)
            except NotMeasured as e:
                out = str(e)
            if progress:
                progress(f"bench: {name} done in {time.monotonic() - t:.1f} s")
            results.append((name, title, out))
    finally:
        ctx.close()
    figures = [f for _, _, out in results if isinstance(out, list) for f in out]
    link_baselines(figures)
    return results


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _host():
    import numpy
    load = _loadavg()
    return {"cpus": os.cpu_count(), "machine": platform.machine(),
            "kernel": platform.release(), "python": platform.python_version(),
            "numpy": numpy.__version__, "load_average": load}


def document(results, ctx, elapsed):
    """The --json document."""
    sections, met, missed, unmeasured = {}, [], [], []
    for name, title, out in results:
        if isinstance(out, str):
            sections[name] = {"title": title, "not_measured": out}
            continue
        sections[name] = {"title": title, "load_average": ctx.load.get(name),
                          "figures": [f.as_dict() for f in out]}
        for f in out:
            if f.bar is None:
                continue
            (unmeasured if f.ok is None else met if f.ok else missed).append(f.key)
    return {"jazzd": __version__, "quick": ctx.quick, "model": ctx.model,
            "elapsed_s": round(elapsed, 1), "host": _host(), "sections": sections,
            "bars": {"met": met, "missed": missed, "not_measured": unmeasured},
            "ratio": "figure / baseline at ratio_stat (the bar's statistic, else p50)"}


def _num(x):
    if x is None:
        return "-"
    if isinstance(x, int):
        return str(x)
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        return f"{x:.0f}"
    if a >= 100:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.3g}" if a < 10 else f"{x:.1f}"
    return f"{x:.2g}" if a < 0.001 else f"{x:.4f}".rstrip("0")


def _ratio(r):
    if r is None:
        return "-"
    if 0 < r < 1:
        return f"1/{1 / r:.0f}" if r < 0.01 else f"1/{1 / r:.3g}"
    return f"{r:.0f}" if r >= 100 else f"{r:.3g}"


COLUMNS = ("section", "figure", "unit", "n", "p50", "p99", "max", "baseline", "ratio",
           "bar", "ok")


def table(doc):
    """The readable report of a `document`: one row per figure, one line per section or
    figure that was not measured (so a saved --json can be printed again)."""
    figures = [f for sec in doc["sections"].values() for f in sec.get("figures", [])]
    names = {f["key"]: f.get("short", f["name"]) for f in figures}
    rows, notes = [], []
    for name, sec in doc["sections"].items():
        if "not_measured" in sec:
            rows.append((name, f"not measured: {sec['not_measured']}"))
            continue
        for f in sec["figures"]:
            if "not_measured" in f:
                rows.append((name, f"{f['name']}: not measured: {f['not_measured']}"))
                continue
            if "value" in f:
                n, p50, p99, mx = 1, f["value"], None, None
            else:
                n, p50, p99, mx = f["n"], f["p50"], f["p99"], f["max"]
            base, ratio = "-", "-"
            if f.get("baseline"):
                base = names.get(f["baseline"], f["baseline"])
                if f.get("baseline_not_measured"):
                    base += " (not measured)"
                ratio = _ratio(f.get("ratio"))
                if f.get("ratio") is not None and f.get("ratio_stat") != "p50":
                    ratio += f" {f['ratio_stat']}"
            ok = "" if "ok" not in f else ("ok" if f["ok"] else "MISSED")
            rows.append((name, f["name"], f["unit"], str(n), _num(p50), _num(p99), _num(mx),
                         base, ratio, f["bar"]["text"] if "bar" in f else "", ok))
            if f.get("note"):
                notes.append(f"  {f['key']}: {f['note']}")
    full = [r for r in rows if len(r) == len(COLUMNS)]
    widths = [max([len(c)] + [len(r[i]) for r in full]) for i, c in enumerate(COLUMNS)]
    numeric = {"n", "p50", "p99", "max", "ratio"}

    def line(cells):
        return "  ".join(c.rjust(w) if COLUMNS[i] in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(COLUMNS), line(["-" * w for w in widths])]
    for r in rows:
        out.append(line(r) if len(r) == len(COLUMNS)
                   else f"{r[0].ljust(widths[0])}  {r[1]}")
    if notes:
        out += ["", "notes:"] + notes
    return "\n".join(out)


def verdict(doc):
    bars = doc["bars"]
    parts = [f"{len(bars['met'])} bars met"]
    if bars["missed"]:
        parts.append(f"{len(bars['missed'])} MISSED ({', '.join(bars['missed'])})")
    if bars["not_measured"]:
        parts.append(f"{len(bars['not_measured'])} not measured "
                     f"({', '.join(bars['not_measured'])})")
    skipped = [n for n, s in doc["sections"].items() if "not_measured" in s]
    if skipped:
        parts.append(f"sections not measured: {', '.join(skipped)}")
    return "; ".join(parts)


def parse_only(text):
    if not text:
        return list(SECTIONS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in SECTIONS and n != "offline"]
    if bad or not names:
        raise UserError(f"--only: unknown section {', '.join(bad) or repr(text)}; "
                        f"allowed: {', '.join(SECTIONS)}, offline", EX_USAGE)
    picked = set()
    for n in names:
        picked.update(OFFLINE if n == "offline" else (n,))
    return [n for n in SECTIONS if n in picked]


def main(args):
    names = parse_only(args.only)
    ctx = Context(quick=args.quick, model=getattr(args, "model", None) or "default")
    progress = (lambda msg: print(msg, file=sys.stderr, flush=True))
    t = time.monotonic()
    results = run_sections(names, ctx, progress)
    doc = document(results, ctx, time.monotonic() - t)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"jazzd bench{' --quick' if ctx.quick else ''} on {doc['host']['cpus']} cpus, "
              f"load {doc['host']['load_average']}, {doc['elapsed_s']} s; "
              f"ratio = figure / baseline at p50, or at the bar's statistic where shown")
        print(table(doc))
        print()
        print("bars: " + verdict(doc))
    if doc["bars"]["missed"]:
        print("jazzd bench: some bars are missed (see above); this is a report, exit 0",
              file=sys.stderr)
    return 0
