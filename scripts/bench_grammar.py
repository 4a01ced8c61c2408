"""Per-call timings of the grammar's live-path functions (issue 2: "a small benchmark").

`bench_unparse(n)` and `bench_recognize(n)` return a list of n per-call times in
seconds, so `jazzd bench` can fold them into its report. Run directly, it prints
p50/p99 against the DESIGN.md bars (unparse <= 0.1 ms, recognition <= 0.05 ms).
"""

import random
import sys
import time

from grammar.chords import parse_symbol
from grammar.values import KINDS, Value

_SYMBOLS = ("Dm7", "G7", "Cmaj7", "C", "F#m7b5", "B7b9", "Em7", "A7alt", "Bbmaj7#11",
            "Ebm6", "Bdim7", "Caug", "F9sus4", "G13", "Cm")
_VOICINGS = ((43, 53, 59, 64), (50, 53, 57, 60), (48, 52, 55, 59), (47, 53, 57, 64),
             (41, 45, 48, 52), (36, 46, 52, 57, 62), (55, 59, 62, 65), (40, 43, 47, 50),
             (60, 63, 67), (38, 48, 53, 57), (45, 48, 52, 55, 60), (59, 62, 65, 68))


def _percentile(times, q):
    s = sorted(times)
    return s[min(len(s) - 1, int(q * len(s)))]


def bench_unparse(n=20000, seed=1):
    """Seconds per `realize` call over random values, chords and previous pitches."""
    from grammar.unparse import realize
    rng = random.Random(seed)
    chords = [parse_symbol(s) for s in _SYMBOLS]
    cases = []
    for _ in range(n):
        kind = rng.choice(KINDS[:4])
        step = rng.randint(-7, 7)
        window = (None, None) if rng.random() < 0.1 else (step - 3, step + 3)
        cases.append((Value(kind, 3, *window), rng.randint(55, 84), rng.choice(chords)))
    play = random.Random(seed + 1)
    clock = time.perf_counter
    times = []
    for value, prev, chord in cases:
        t0 = clock()
        realize(value, prev, chord, 55, 84, play, 2, 1)
        times.append(clock() - t0)
    return times


def bench_recognize(n=20000, seed=1):
    """Seconds per `recognize` call over a table of voicings (shells, rootless, inversions)."""
    from grammar.recognize import recognize
    rng = random.Random(seed)
    cases = []      # each voicing in a random key, so nothing is answered from a cache
    for _ in range(n):
        shift = rng.randint(-6, 5)
        cases.append(tuple(p + shift for p in rng.choice(_VOICINGS)))
    clock = time.perf_counter
    times = []
    for notes in cases:
        t0 = clock()
        recognize(notes)
        times.append(clock() - t0)
    return times


def _report(name, times, bar_ms):
    p50, p99 = _percentile(times, 0.50) * 1e3, _percentile(times, 0.99) * 1e3
    verdict = "ok" if p99 <= bar_ms else "OVER THE BAR"
    print(f"{name:<12} n={len(times):<6} p50 {p50:.4f} ms  p99 {p99:.4f} ms  "
          f"(bar p99 <= {bar_ms} ms: {verdict})")
    return p99 <= bar_ms


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 20000
    ok = _report("unparse", bench_unparse(n), 0.1)
    ok &= _report("recognize", bench_recognize(n), 0.05)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
