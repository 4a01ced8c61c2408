"""`jazzd bench`: the performance figures and quality bars of docs/BENCH.md, measured in
one run on this machine.

The machine is shared and noisy, so no figure is a single number: every timing is a
distribution (p50 / p99 / max) next to a baseline measured in the same run, and the
ratio between the two is what carries over between runs. The ratio is taken at the
statistic the figure's bar is about (p99 for latencies, max for memory), else at p50.
A section whose component is missing (no model, no jackd, no TensorFlow, no
`jazzd run` yet) says "not measured: <reason>"; nothing is ever estimated or faked.
Missing a bar is a finding, not a failure: the command exits 0 and says so.

Heavy baselines (TensorFlow, music21) run in child processes, so their imports, threads
and garbage never touch the figures of the light runtime measured here. The offline
sections are in `offline.py`, the live ones (JACK, `jazzd run`) in `live.py`; this
module holds what they share: figures, bars, baselines and the report.
"""

import json
import os
import platform
import subprocess
import sys

import numpy as np

from jazzd import __version__


class NotMeasured(Exception):
    """Raised by a section (or a part of one) that cannot run here; the text says why."""


# -- figures ---------------------------------------------------------------------

def summarize(values):
    """{"n", "p50", "p99", "max", "mean"} of a list of numbers. Percentiles are nearest
    rank (NumPy's inverted_cdf): always an observed value."""
    a = np.asarray(values, dtype=float)
    if not a.size:
        raise ValueError("no samples")
    p50, p99 = np.percentile(a, [50, 99], method="inverted_cdf")
    return {"n": int(a.size), "p50": float(p50), "p99": float(p99),
            "max": float(a.max()), "mean": float(a.mean())}


class Bar:
    """A quality bar (docs/BENCH.md): `stat` (p50, p99, max, mean or value) <= `limit`."""

    def __init__(self, stat, limit, unit):
        self.stat, self.limit, self.unit = stat, limit, unit

    @property
    def text(self):
        return f"{self.stat} <= {_num(self.limit)} {self.unit}".replace(" <= ", " ≤ ")

    def as_dict(self):
        return {"stat": self.stat, "limit": self.limit, "unit": self.unit, "text": self.text}


class Figure:
    """One row of the report: a distribution (`samples`) or a single `value`, or a
    reason it was not measured. `baseline` is the key of the row it is compared with.
    `signed` marks a quantity whose sign means something (a margin, a drift): it may be
    negative, where every other figure is a size."""

    def __init__(self, key, name, unit, samples=None, value=None, baseline=None, bar=None,
                 note=None, missing=None, role="figure", short=None, signed=False):
        self.key, self.name, self.unit = key, name, unit
        self.signed = signed
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
        if self.signed:
            d["signed"] = True
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


# -- running sections ------------------------------------------------------------

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


# -- the report ------------------------------------------------------------------

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
