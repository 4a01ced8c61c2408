"""The text report of a corpus read (what `python -m jazzd.train.wjazzd` prints): solos
skipped and why, how far each onset rule moved notes, rests and phrases, chord symbols
unreadable or simplified, chorus lengths."""

from collections import Counter
from fractions import Fraction

from jazzd.train.wjazzd_solo import BAR_TICKS, BREAK_BEATS

MOVE_BUCKETS = (Fraction(0), Fraction(1, 2), Fraction(1), Fraction(3, 2), Fraction(2),
                Fraction(3))


def _moves_line(rule, moves):
    total = sum(moves.values())
    moved = sum(v for d, v in moves.items() if d)
    if not total:
        return f"  {rule}: 0 onsets"
    mean = sum(float(d) * v for d, v in moves.items()) / total
    hist = []
    lo = None
    for hi in MOVE_BUCKETS:
        n = sum(v for d, v in moves.items() if (lo is None or d > lo) and d <= hi)
        if n:
            hist.append(f"{'0' if lo is None else f'({float(lo):g}'}"
                        f"{'' if lo is None else f', {float(hi):g}]'}: {n}")
        lo = hi
    n = sum(v for d, v in moves.items() if d > lo)
    if n:
        hist.append(f"> {float(lo):g}: {n}")
    return (f"  {rule}: {total} onsets, {moved} moved, mean move {mean:.3f} ticks, "
            f"max {float(max(moves)):g}; ticks moved -> onsets: {', '.join(hist)}")


def format_report(solos, report):
    """The report as text (what `python -m jazzd.train.wjazzd` prints)."""
    c = report.count
    out = [f"read {len(solos)} solos by {len({s.performer for s in solos})} performers "
           f"in {report.seconds:.1f} s; skipped {len(report.skipped)}"]
    reasons = Counter(r.split(":")[0] for _, r in report.skipped)
    for reason, n in reasons.most_common():
        out.append(f"  skipped, {reason}: {n}")
    for name, reason in report.skipped:
        out.append(f"    {name}: {reason}")
    out.append(f"notes read {c['notes read']}, kept {c['notes kept']}")
    out.append("onsets by rule:")
    for rule in ("exact", "swing", "triplet", "tuplet"):
        out.append(_moves_line(rule, report.moves[rule]))
    out.append(f"  dropped (merged into the note before): {c['onsets dropped']}")
    out.append("  by division: " + "; ".join(
        f"{d}: " + " ".join(f"{r} {n}" for r, n in sorted(report.divisions[d].items()))
        for d in sorted(report.divisions)))
    starts = c["annotated phrase starts (after the first note)"]
    bars = c["ticks from the first onset to the last note's end"] / BAR_TICKS
    out.append(f"rests: {c['rests']} ({c['rests'] / max(1, c['notes kept']):.3f} per note), "
               f"rest share of the played span {c['rest ticks'] / max(1, bars * BAR_TICKS):.3f}")
    after = c["annotated phrase starts after a rest"]
    out.append(f"  annotated phrase starts after a rest: {after} of {starts} "
               f"({after / max(1, starts):.3f})")
    out.append(f"  rests inside annotated phrases: {c['rests inside annotated phrases']} "
               f"({c['rests inside annotated phrases'] / max(1, c['rests']):.3f} of the rests)")
    out.append(f"  per 8 bars: annotated phrases {8 * c['annotated phrases'] / max(1, bars):.2f}, "
               f"rest-delimited segments {8 * (c['rests'] + len(solos)) / max(1, bars):.2f}, "
               f"silences >= {float(BREAK_BEATS):g} beats "
               f"{8 * c['silences of 1.5 beats or more'] / max(1, bars):.2f}")
    for key in sorted(c):
        if key.startswith(("notes dropped", "rests with no room", "pickup", "notes outside",
                           "notes whose chord", "chorus", "choruses")):
            out.append(f"{key}: {c[key]}")
    out.append(f"chord symbols: {len(report.symbols)} distinct; unreadable "
               f"{len(report.bad_chord_beats)} ({sum(report.bad_chord_beats.values())} beats, "
               f"{sum(report.bad_chords.values())} notes)")
    for sym, n in report.bad_chord_beats.most_common():
        out.append(f"  unreadable {sym!r}: {n} beats, {report.bad_chords[sym]} notes")
    out.append(f"  read with tensions dropped: {len(report.simplified)} symbols, "
               f"{sum(report.simplified_notes.values())} notes")
    for sym, (text, dropped) in sorted(report.simplified.items()):
        out.append(f"    {sym} -> {text} (without {' '.join(dropped)}): "
                   f"{report.simplified_notes[sym]} notes")
    lengths = Counter(ch.bars for s in solos for ch in s.choruses)
    out.append(f"choruses {sum(lengths.values())}; bars -> choruses: "
               + ", ".join(f"{k}: {v}" for k, v in sorted(lengths.items())))
    return "\n".join(out)
