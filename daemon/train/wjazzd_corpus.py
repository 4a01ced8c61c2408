"""The whole Weimar Jazz Database: every listed solo read (`read_corpus`), the split
by performer that keeps held-out players unseen, a solo as a training Piece, and the
rest rule's effect over the corpus."""

import os
import random
import time
from collections import defaultdict

from jazzd.grammar.jazzomat import REST_GAP_BEATS
from jazzd.train.wjazzd_solo import BAR_TICKS, BEATS_PER_BAR, Report
from jazzd.train.wjazzd_solo_reader import read_solo
from jazzd.train.wjazzd_tables import SoloSkipped, WjazzdError, read_index


def read_corpus(root, names=None, rest_gap=REST_GAP_BEATS):
    """(solos, report) for the database at `root` (the directory of solos.csv).

    `names`: file stems to read (default: every solo in solos.csv). Raises WjazzdError
    when the directory or solos.csv cannot be read; a bad solo is skipped and reported.
    """
    t0 = time.perf_counter()
    index = read_index(root)
    report = Report()
    cache = {}
    solos = []
    for stem in sorted(index if names is None else names):
        if stem not in index:
            raise WjazzdError(f"{root}/solos.csv has no solo {stem!r}")
        performer, title = index[stem]
        mel = os.path.join(root, "mcsv_melody", stem + ".csv")
        beat = os.path.join(root, "mcsv_beat", stem + "_beattrack.csv")
        try:
            solos.append(read_solo(mel, beat, stem, performer, title, report, rest_gap, cache))
        except SoloSkipped as e:
            report.skipped.append((stem, str(e)))
    report.seconds = time.perf_counter() - t0
    return solos, report


def split_performers(solos, n_holdout=12, seed=0, max_share=0.15):
    """(training solos, held-out solos, held-out performers): no player in both.

    `solos`: anything with a `.performer` (Solo objects, or `read_index` entries, which
    keeps the split independent of what the reader skips). Performers are shuffled with
    `seed` (sorted first, so the order of `solos` does not matter) and taken in that
    order, skipping any whose solos would leave too little of the `max_share` budget
    for the players still to come (one solo each at least), until `n_holdout` are held.
    """
    by_player = defaultdict(list)
    for s in solos:
        by_player[s.performer].append(s)
    players = sorted(by_player)
    random.Random(seed).shuffle(players)
    smallest = min((len(v) for v in by_player.values()), default=1)
    budget = max_share * len(solos)
    held, n_held = [], 0
    for p in players:
        if len(held) == n_holdout:
            break
        still = n_holdout - len(held) - 1
        if n_held + len(by_player[p]) + still * smallest > budget:
            continue
        held.append(p)
        n_held += len(by_player[p])
    held_set = set(held)
    train = [s for s in solos if s.performer not in held_set]
    test = [s for s in solos if s.performer in held_set]
    return train, test, sorted(held)


def solo_piece(solo):
    """A training Piece of a solo: its values and pitches over its chord timeline, from
    the bar of its first note (pickups included; the bars of the head or intro before
    it are not the solo: a model that learned them would wait bars before playing),
    its performer named."""
    from jazzd.grammar.parse import parse_melody_pitched
    from jazzd.train.corpus import Piece
    end = solo.n_bars * BAR_TICKS
    notes = [(n.onset, n.duration, n.pitch) for n in solo.notes if n.onset < end]
    start = min((n[0] for n in notes), default=0) // BAR_TICKS * BAR_TICKS
    pairs = parse_melody_pitched(notes, solo.timeline, BAR_TICKS, start=start, end=end,
                                 min_rest=1, cut_at_bars=False)
    return Piece(solo.name, [v for v, _ in pairs], solo.timeline, BAR_TICKS,
                 BEATS_PER_BAR, start, [p for _, p in pairs], solo.performer, solo.bpm)


def rest_table(root, gaps=(0.0, 0.25, 0.5, 0.75, 1.0)):
    """[(gap, dict)] the rest rule's effect for several thresholds (beats)."""
    rows = []
    for gap in gaps:
        solos, rep = read_corpus(root, rest_gap=gap)
        c = rep.count
        bars = c["ticks from the first onset to the last note's end"] / BAR_TICKS
        starts = c["annotated phrase starts (after the first note)"]
        rows.append((gap, {
            "rests per note": c["rests"] / c["notes kept"],
            "rest share": c["rest ticks"] / (bars * BAR_TICKS),
            "phrase starts after a rest": c["annotated phrase starts after a rest"] / starts,
            "rests inside phrases": c["rests inside annotated phrases"],
            "share of rests inside phrases":
                c["rests inside annotated phrases"] / max(1, c["rests"]),
            "segments per 8 bars": 8 * (c["rests"] + len(solos)) / bars,
            "annotated phrases per 8 bars": 8 * c["annotated phrases"] / bars,
            "silences >= 1.5 beats per 8 bars": 8 * c["silences of 1.5 beats or more"] / bars,
        }))
    return rows
