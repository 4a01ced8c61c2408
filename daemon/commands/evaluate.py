"""`jazzd evaluate`: score a recorded performance (a MIDI file) against the musical
bars, over the chord chart it was played on; or, with `--style-gap`, measure how far
jazzd's choruses are from held-out human ones (jazzd.evaluation.style_gap); or, with
`--echo`, how much of its traded answers comes from the calls (jazzd.evaluation.echo).

The statistics are `jazzd.grammar.evaluate`'s; this module reads the file, lines the chart
up with it (looped to the performance's length), prints the table or JSON, and
optionally draws a piano roll with the chords under it (matplotlib, the `plot` extra).
The exit status is 0 whatever the figures; `--strict` makes a failed bar exit 1.
"""

import json
import math

from jazzd.service import config as config_mod
from jazzd.service.errors import EX_USAGE, UserError
from jazzd.grammar.evaluate import band, check, evaluate, format_value
from jazzd.offline.charts import read_chart
from jazzd.offline.midi_file import open_midi, read_info, read_notes
from jazzd.offline.piano_roll import piano_roll


def score(notes, chart, swing, low=None, high=None):
    """Statistics of `notes` [(onset_beats, dur_beats, pitch)] over `chart` looped to
    cover them; returns (stats, timeline, n_bars)."""
    bar_beats = chart.beats_per_bar
    end = max(o + d for o, d, _ in notes)
    n_bars = max(1, math.ceil(end / bar_beats - 1e-6))
    timeline = chart.timeline(n_bars)
    stats = evaluate(notes, timeline, beats_per_bar=bar_beats, swing=swing, low=low,
                     high=high, span_beats=n_bars * bar_beats)
    return stats, timeline, n_bars


def table(stats):
    """The bars as a text table: bar, human band, ours, ok."""
    rows = [("bar", "human p10 / median / p90", "band", "measured", "")]
    for name, value, bar, ok in check(stats):
        rows.append((bar.label, bar.human, band(bar), format_value(value),
                     "ok" if ok else "MISS"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    k = stats["kinds"]
    lines.append("")
    lines.append(f"{stats['notes']} notes over {stats['beats']:g} beats; kinds "
                 + "  ".join(f"{x} {format_value(k[x])}" for x in "CSAX")
                 + (f"; {stats['unclassified']} notes with no chord"
                    if stats["unclassified"] else ""))
    return "\n".join(lines)


def style_gap(args):
    """`jazzd evaluate --style-gap --corpus DIR`: the table, or JSON with --json."""
    import sys

    from jazzd.evaluation import style_gap as sg
    from jazzd.model.store import load_model
    if not args.corpus:
        raise UserError("--style-gap needs --corpus DIR, the Weimar Jazz Database CSV "
                        "export (solos.csv, mcsv_melody/, mcsv_beat/)", status=EX_USAGE)
    cfg, _ = config_mod.load_or_default(args.config)
    if args.model:
        cfg["improviser"]["model"] = args.model
    model = load_model(cfg["improviser"]["model"])
    runs = args.runs.split(",") if args.runs else sg.RUNS
    bad = [r for r in runs if r not in sg.RUNS]
    if bad:
        raise UserError(f"--runs: unknown {', '.join(bad)}; allowed: {', '.join(sg.RUNS)}",
                        status=EX_USAGE)
    log = (lambda m: print(m, file=sys.stderr, flush=True))
    gaps, held, n = sg.run(args.corpus.removeprefix("wjazzd:"), runs, cfg, model,
                           repeats=args.repeats, seed=args.seed or 0, log=log)
    if args.json:
        print(json.dumps(sg.as_json(gaps, held, n), indent=1))
    else:
        print(f"model {cfg['improviser']['model']}; {n} choruses of held-out players "
              f"{', '.join(held)}")
        print(sg.format_table(gaps))
        print()
        print(sg.format_overlaps(gaps))
        for g in gaps:
            if g.tempo:
                print()
                print(f"by tempo (each chorus at its own tempo), {g.name}: median "
                      f"(p25-p75) of the players, jazzd's median (* outside the "
                      f"players' p25-p75)")
                print(sg.format_tempo_table(g.tempo))
    return 0


def echo(args):
    """`jazzd evaluate --echo --corpus DIR`: how much of jazzd's traded answers comes
    from the call before them (jazzd.evaluation.echo), against not listening."""
    import sys

    from jazzd.evaluation import echo as ev
    from jazzd.model.store import load_model
    if not args.corpus:
        raise UserError("--echo needs --corpus DIR, the Weimar Jazz Database CSV export "
                        "(solos.csv, mcsv_melody/, mcsv_beat/): its held-out players' "
                        "choruses are the calls", status=EX_USAGE)
    cfg, _ = config_mod.load_or_default(args.config)
    if args.model:
        cfg["improviser"]["model"] = args.model
    bars = args.trade or cfg["interplay"]["trade_bars"]
    if bars not in (1, 2, 4, 8):
        raise UserError(f"--trade {bars}: allowed: one of 1, 2, 4, 8", status=EX_USAGE)
    if args.seeds < 1:
        raise UserError(f"--seeds {args.seeds}: at least 1", status=EX_USAGE)
    model = load_model(cfg["improviser"]["model"])
    log = (lambda m: print(m, file=sys.stderr, flush=True))
    rows = ev.run(args.corpus.removeprefix("wjazzd:"), cfg, model, bars, seeds=args.seeds,
                  log=log)
    if args.json:
        print(json.dumps({"trade_bars": bars, "seeds": args.seeds, "rows": rows}, indent=1))
    else:
        print(f"echo: share of each answer's interval 3-grams found in the call before it; "
              f"{bars}-bar turns, {args.seeds} seed(s), model {cfg['improviser']['model']}")
        print(ev.format_table(rows))
    return 0


def main(args):
    if getattr(args, "style_gap", False):
        return style_gap(args)
    if getattr(args, "echo", False):
        return echo(args)
    if not args.performance or not args.chords:
        raise UserError("give a PERFORMANCE.mid and --chords CHART, or --style-gap "
                        "--corpus DIR, or --echo --corpus DIR", status=EX_USAGE)
    defaults = config_mod.defaults()
    bpb = getattr(args, "beats_per_bar", None) or defaults["tempo"]["beats_per_bar"]
    if args.bpm is not None and not 20 <= args.bpm <= 400:
        raise UserError(f"--bpm {args.bpm:g}: allowed: a number from 20 to 400")
    if args.swing is not None and not 0.5 <= args.swing <= 0.75:
        raise UserError(f"--swing {args.swing:g}: allowed: a number from 0.5 to 0.75")
    chart = read_chart(args.chords, bpb)
    mid = open_midi(args.performance)
    notes, bpm, track = read_notes(mid, args.track, args.bpm)
    info = read_info(mid)
    swing = args.swing
    if swing is None:
        try:
            swing = float(info["swing"])
        except (KeyError, ValueError):
            swing = defaults["tempo"]["swing"]
    low = getattr(args, "lowest_note", None)
    high = getattr(args, "highest_note", None)
    low = defaults["improviser"]["lowest_note"] if low is None else low
    high = defaults["improviser"]["highest_note"] if high is None else high
    stats, timeline, n_bars = score(notes, chart, swing, low, high)
    results = check(stats)
    if args.json:
        out = {"file": args.performance, "track": track, "bpm": bpm, "swing": swing,
               "bars": n_bars, "stats": _jsonable(stats),
               "checks": [{"bar": name, "value": _jsonable(v), "lo": bar.lo, "hi": bar.hi,
                           "human": bar.human, "ok": ok} for name, v, bar, ok in results]}
        print(json.dumps(out, indent=1))
    else:
        print(f"{args.performance}: track {track}, {bpm:g} bpm, swing {swing:g}, "
              f"{n_bars} bars of the chart")
        print(table(stats))
    if args.png:
        piano_roll(args.png, notes, timeline, n_bars, bpb, swing, title=args.performance)
        if not args.json:
            print(f"{args.png}: piano roll written")
    if getattr(args, "strict", False) and not all(ok for *_, ok in results):
        return 1
    return 0


def _jsonable(x):
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    return x


