"""Per-call timings of the grammar's live-path functions (issue 2: "a small benchmark").

A thin wrapper: the measurements live in `jazzd.bench.report` (`bench_unparse(n)` and
`bench_recognize(n)`, seconds per call), where `jazzd bench --only grammar` also sets
them against music21 baselines. Run directly, this prints p50/p99 against the
project's bars (docs/BENCH.md: unparse <= 0.1 ms, recognition <= 0.05 ms).
"""

import sys

from jazzd.bench.report import bench_recognize, bench_unparse, summarize


def _report(name, times, bar_ms):
    s = summarize([t * 1e3 for t in times])
    verdict = "ok" if s["p99"] <= bar_ms else "OVER THE BAR"
    print(f"{name:<12} n={s['n']:<6} p50 {s['p50']:.4f} ms  p99 {s['p99']:.4f} ms  "
          f"(bar p99 <= {bar_ms} ms: {verdict})")
    return s["p99"] <= bar_ms


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 20000
    ok = _report("unparse", bench_unparse(n), 0.1)
    ok &= _report("recognize", bench_recognize(n), 0.05)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
