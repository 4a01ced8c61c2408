"""`jazzd bench`: the performance figures and bars of docs/BENCH.md, in one run."""

import json
import sys
import time

from jazzd.bench.report import Context, document, table, verdict
from jazzd.bench.suite import parse_only, run_sections


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
