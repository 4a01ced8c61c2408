"""Echo (docs/LIVE.md, "Trading"): how much of jazzd's answers comes from the call
just before them, on real calls.

The held-out players of the Weimar Jazz Database (the style gap's,
`jazzd.evaluation.style_gap.held_out_humans`) trade with jazzd: each chorus of 8 bars
or more is cut into turns of `bars` bars, the player first. The player's turns are the
human's own notes in those bars, heard through the network on `jazzd generate
--trade`'s path (`jazzd.offline.trade`); jazzd plays the other turns over the same
changes. Per answer, `jazzd.grammar.echo.echo`: the share of its interval 3-grams found
in the call just before it. Rows:

- listening: the trade with the configured echo weight;
- listening, echo 0: the network hears the call and answers with no proposal from it
  (the state and the motif memory alone);
- not listening: today's daemon (mode off: `jazzd.offline.solo.generate`, same changes,
  same seed), its notes in the same turns;
- the same listening answers against another chorus's call: what chance gives lines
  like these.

Swing 0.5: the database's onsets are on the straight grid. With `seeds` > 1 every row
is run once per seed (chorus i of seed s plays with seed `1000 * s + i`): the answers
are pooled, and the spread of the per-seed means is reported next to the pooled
quartiles. `jazzd evaluate --echo --corpus DIR [--trade N] [--seeds S]` prints the
table.
"""

import statistics
import time

from jazzd.grammar import echo as echo_measure
from jazzd.grammar.pitch import TPQ
from jazzd.service.errors import UserError


def _turn_pitches(notes, k, turn_beats):
    return [n[2] for n in notes if k * turn_beats <= n[0] < (k + 1) * turn_beats]


def answers(humans, cfg, model, bars, weight, listen=True, seed=0):
    """[(call pitches, answer pitches)] of every jazzd turn that follows a call."""
    from jazzd.offline.solo import generate, generate_trade
    out = []
    c = _cfg(cfg, bars, weight)
    for i, h in enumerate(humans):
        call = [(float(o), float(d), p) for o, d, p in h.notes]
        s = 1000 * seed + i
        if listen:
            solo, _, _, _ = generate_trade(c, h.chart, h.n_bars, call, seed=s, model=model)
        else:
            solo, _, _ = generate(c, h.chart, h.n_bars, seed=s, model=model)
        turn_beats = bars * h.chart.bar_ticks // TPQ
        for k in range(1, h.n_bars // bars, 2):
            out.append((_turn_pitches(call, k - 1, turn_beats),
                        _turn_pitches(solo, k, turn_beats)))
    return out


def _cfg(cfg, bars, weight):
    from jazzd.service import config
    c = {sec: dict(keys) for sec, keys in (cfg or config.defaults()).items()}
    c["tempo"]["swing"] = 0.5
    c["interplay"].update(mode="trade", trade_bars=bars, first="player", echo=weight)
    if c["midi"]["split_note"] is None and not c["interplay"]["melody_channels"]:
        c["midi"]["split_note"] = 60           # any melody source: nothing is live here
    return config.validate(c)


def summary(name, per_seed):
    """A row: `per_seed` is one list of scores (None: an answer too short) per seed."""
    vals = [v for scores in per_seed for v in scores if v is not None]
    if not vals:
        return {"name": name, "answers": 0, "mean": None, "median": None, "q1": None,
                "q3": None, "some": None, "seed_means": []}
    q1, _, q3 = statistics.quantiles(vals, n=4) if len(vals) > 1 else (vals[0],) * 3
    return {"name": name, "answers": len(vals), "mean": sum(vals) / len(vals),
            "median": statistics.median(vals), "q1": q1, "q3": q3,
            "some": sum(v > 0 for v in vals) / len(vals),
            "seed_means": [echo_measure.mean(scores) for scores in per_seed]}


def run(root, cfg=None, model=None, bars=2, weight=None, holdout=12, seeds=1, log=print):
    """The table's rows (dicts) for the database at `root`."""
    from jazzd.evaluation.style_gap import held_out_humans
    t0 = time.perf_counter()
    humans, held, _, _ = held_out_humans(root, holdout)
    humans = [h for h in humans if h.n_bars >= 2 * bars]
    if len(humans) < 2:
        raise UserError(f"only {len(humans)} held-out choruses of {2 * bars} bars or more")
    if weight is None:
        weight = (cfg or {}).get("interplay", {}).get("echo", 0.5)
    log(f"{len(humans)} choruses of held-out players {', '.join(held)}, "
        f"{bars}-bar turns ({time.perf_counter() - t0:.1f} s)")
    def scores(weight, listen=True):
        per_seed = []
        for seed in range(seeds):
            pairs = answers(humans, cfg, model, bars, weight, listen, seed)
            per_seed.append(pairs)
        return per_seed

    def measure(per_seed):
        return [[echo_measure.echo(c, a) for c, a in pairs] for pairs in per_seed]

    rows = []
    listened = scores(weight)
    rows.append(summary(f"listening, echo {weight:g}", measure(listened)))
    if weight:
        rows.append(summary("listening, echo 0", measure(scores(0.0))))
    rows.append(summary("not listening (mode off, today's daemon)",
                        measure(scores(weight, listen=False))))
    others = []
    for pairs in listened:
        n = len(pairs)
        others.append([echo_measure.echo(pairs[(i + n // 2) % n][0], a)
                       for i, (_, a) in enumerate(pairs)])
    rows.append(summary(f"listening, echo {weight:g}, against another chorus's call",
                        others))
    log(f"measured in {time.perf_counter() - t0:.1f} s")
    return rows


def format_table(rows):
    out = ["| answers | n | mean echo | per-seed means | median [quartiles] | "
           "share with any 3-gram of the call |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r["answers"]:
            means = [m for m in r["seed_means"] if m is not None]
            spread = (f"{min(means):.3f}..{max(means):.3f}" if len(means) > 1
                      else "-")
            out.append(f"| {r['name']} | {r['answers']} | {r['mean']:.3f} | {spread} | "
                       f"{r['median']:.3f} [{r['q1']:.3f}, {r['q3']:.3f}] | "
                       f"{r['some']:.2f} |")
        else:
            out.append(f"| {r['name']} | 0 | - | - | - | - |")
    return "\n".join(out)
