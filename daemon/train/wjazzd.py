"""The Weimar Jazz Database (CSV export) read into solos on our tick grid.

`read_corpus(root)` reads `solos.csv`, `mcsv_melody/*.csv` and
`mcsv_beat/*_beattrack.csv` (the CSV export, docs/MODEL.md "The corpus") and returns the
solos plus a `Report` of everything moved, dropped or skipped, and why. Per solo:

- ticks count from the first beat of the earliest bar in the beat track (pickup bars,
  bar <= 0, included); every bar is 48 ticks: solos with any bar not in 4/4 are
  skipped, with the signatures in the report;
- notes: onsets quantised by `jazzd.grammar.jazzomat.quantize_onsets` (swung pairs become
  straight eighths, triplets and sixteenths kept, tuplets to the nearest free grid
  point); durations onset to onset, except that a note whose sound stops at least
  `rest_gap` local beats before the next onset (`jazzd.grammar.jazzomat.rest_after`, from the
  performed seconds) ends on the grid and leaves a rest. So `parse_melody(notes,
  timeline, min_rest=1)` turns exactly these rests into R values;
- the tempo (`Solo.bpm`): 60 over the median inter-beat interval of the beat track;
- phrase starts and chorus numbers as annotated (chorus 0: before the first chorus);
- the chord on every beat of the beat track (`jazzd.grammar.jazzomat.read_chord`); an
  unreadable symbol sounds as NO_CHORD and is counted;
- choruses: the whole bars whose downbeat carries the chorus number, each with its
  changes as a `jazzd.grammar.chart.Chart` (`Solo.chorus_chart`) for `jazzd generate`.

Only the csv module and numpy; no pandas. `python -m jazzd.train.wjazzd DIR` prints the
report, `--rest-table` the rest rule's effect for several thresholds.

This module is the reader's front door: its names live in `wjazzd_tables` (the
export's CSV files), `wjazzd_solo` (Solo, Note, Chorus, Report), `wjazzd_solo_reader`
(one solo onto the grid), `wjazzd_corpus` (the corpus, the performer split, training
pieces) and `wjazzd_report` (the report's text).
"""

import argparse
import sys

from jazzd.grammar.jazzomat import REST_GAP_BEATS
from jazzd.service.errors import UserError
from jazzd.train.wjazzd_corpus import read_corpus, rest_table, solo_piece, split_performers
from jazzd.train.wjazzd_report import MOVE_BUCKETS, format_report
from jazzd.train.wjazzd_solo import (BAR_TICKS, BEATS_PER_BAR, BREAK_BEATS, Chorus, Note,
                                     Report, Solo, tempo_of)
from jazzd.train.wjazzd_solo_reader import read_solo
from jazzd.train.wjazzd_tables import (BEAT_COLUMNS, MELODY_COLUMNS, Entry, SoloSkipped,
                                       WjazzdError, index_entries, read_index)

__all__ = ["BAR_TICKS", "BEATS_PER_BAR", "BEAT_COLUMNS", "BREAK_BEATS", "Chorus", "Entry",
           "MELODY_COLUMNS", "MOVE_BUCKETS", "Note", "Report", "Solo", "SoloSkipped",
           "WjazzdError", "format_report", "index_entries", "main", "read_corpus",
           "read_index", "read_solo", "rest_table", "solo_piece", "split_performers",
           "tempo_of"]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m jazzd.train.wjazzd",
                                 description="Read the Weimar Jazz Database and report.")
    ap.add_argument("root", help="the directory holding solos.csv, mcsv_melody/, mcsv_beat/")
    ap.add_argument("--rest-gap", type=float, default=REST_GAP_BEATS,
                    help="silence (beats) after a note that makes a rest")
    ap.add_argument("--rest-table", action="store_true",
                    help="the rest rule's effect for several thresholds")
    ap.add_argument("--holdout", type=int, default=12, help="players held out")
    ap.add_argument("--seed", type=int, default=0, help="seed of the performer split")
    args = ap.parse_args(argv)
    try:
        if args.rest_table:
            for gap, row in rest_table(args.root):
                cells = (f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in row.items())
                print(f"rest gap {gap:g} beats: " + ", ".join(cells))
            return 0
        solos, report = read_corpus(args.root, rest_gap=args.rest_gap)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.status
    print(format_report(solos, report))
    entries = index_entries(args.root)
    _, test, held = split_performers(entries, args.holdout, args.seed)
    held_read = [s for s in solos if s.performer in set(held)]
    print(f"held out (seed {args.seed}, split over solos.csv): {len(held)} performers, "
          f"{len(test)} of {len(entries)} listed solos ({len(test) / len(entries):.3f}), "
          f"{len(held_read)} of {len(solos)} read solos: {', '.join(held)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
