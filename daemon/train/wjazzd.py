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
"""

import argparse
import csv
import math
import os
import random
import sys
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from jazzd.service.errors import EX_NOINPUT, UserError
from jazzd.grammar.chart import Chart
from jazzd.grammar.chords import NO_CHORD, ChordSymbolError
from jazzd.grammar.jazzomat import (REST_GAP_BEATS, end_tick, position, quantize_onsets,
                              read_chord, rest_after)
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.timeline import ChordTimeline

BEATS_PER_BAR = 4
BAR_TICKS = BEATS_PER_BAR * TPQ
BREAK_BEATS = Fraction(3, 2)     # a silence this long separates phrases (style gap too)

MELODY_COLUMNS = ("onset", "duration", "period", "division", "bar", "beat", "tatum",
                  "beat_duration", "signature", "pitch", "phrase_begin", "chorus_id", "chord")
BEAT_COLUMNS = ("onset", "duration", "period", "bar", "beat", "signature", "chord",
                "chorus_id")


class WjazzdError(UserError):
    """The database directory or one of its files cannot be read; names the file."""

    status = EX_NOINPUT


class SoloSkipped(Exception):
    """A solo left out of the corpus; the message says why."""


class Note(NamedTuple):
    onset: int            # ticks from the solo's origin
    duration: int         # ticks: to the next onset, or to the end of the sound before a rest
    pitch: int
    phrase_begin: bool    # annotated
    chorus_id: int        # annotated; 0 before the first chorus


class Chorus(NamedTuple):
    id: int
    start: int            # ticks, on a bar line
    end: int              # ticks, on a bar line

    @property
    def bars(self):
        return (self.end - self.start) // BAR_TICKS


class Solo:
    """One transcribed solo on the tick grid (see the module docstring)."""

    def __init__(self, name, performer, title, notes, beat_chords, first_bar, choruses,
                 bpm=None):
        self.name = name                  # the file's stem, e.g. "ArtPepper_Anthropology_FINAL"
        self.performer = performer
        self.title = title
        self.notes = notes                # [Note], onsets strictly increasing
        self.beat_chords = beat_chords    # [Chord] for every beat from the origin
        self.first_bar = first_bar        # the annotated bar number of tick 0
        self.choruses = choruses          # [Chorus]
        self.bpm = bpm                    # the tempo: 60 / the beat track's median beat
        self.n_bars = -(-len(beat_chords) // BEATS_PER_BAR)

    @property
    def timeline(self):
        """The chord changes (a ChordTimeline, ticks from the origin)."""
        changes, prev = [], None
        for i, c in enumerate(self.beat_chords):
            if c != prev:
                changes.append((i * TPQ, c))
                prev = c
        return ChordTimeline(changes, length=self.n_bars * BAR_TICKS)

    def chorus_notes(self, chorus):
        """The notes starting inside `chorus`, onsets from its start; a note's sound is
        cut at the chorus end."""
        out = []
        for n in self.notes:
            if chorus.start <= n.onset < chorus.end:
                dur = min(n.duration, chorus.end - n.onset)
                out.append(n._replace(onset=n.onset - chorus.start, duration=dur))
        return out

    def chorus_chart(self, chorus):
        """The chorus's changes as a Chart, one bar per bar; `str(chart)` is chart text
        for `jazzd generate --chords`."""
        bars = []
        first = chorus.start // TPQ
        for b in range(chorus.bars):
            bar = []
            for k in range(BEATS_PER_BAR):
                c = self.beat_chords[first + b * BEATS_PER_BAR + k]
                if not bar or bar[-1][1] != c:
                    bar.append((k * TPQ, c))
            bars.append(bar)
        return Chart(bars, BEATS_PER_BAR)

    def __repr__(self):
        return (f"<Solo {self.name}: {self.performer}, {len(self.notes)} notes, "
                f"{self.n_bars} bars, {len(self.choruses)} choruses>")


class Report:
    """What reading the corpus did: counts, movements, skipped solos and why."""

    def __init__(self):
        self.count = Counter()               # events, see format_report
        self.moves = defaultdict(Counter)    # rule -> Counter(ticks moved, exact Fraction)
        self.divisions = defaultdict(Counter)  # division -> Counter(rule)
        self.skipped = []                    # [(solo name, reason)]
        self.bad_chords = Counter()          # unreadable symbol -> notes on it
        self.bad_chord_beats = Counter()     # unreadable symbol -> beats on it
        self.simplified = {}                 # symbol -> (lead-sheet text, dropped tensions)
        self.simplified_notes = Counter()    # symbol -> notes on it
        self.symbols = set()                 # distinct symbols seen in read solos
        self.seconds = 0.0


def _cell(row, col, conv, path, line):
    try:
        return conv(row[col])
    except (KeyError, TypeError, ValueError):
        raise SoloSkipped(f"{os.path.basename(path)} line {line}: bad {col} "
                          f"{row.get(col)!r}") from None


def _rows(path, columns):
    """The rows of a CSV file as dicts, or SoloSkipped naming the file and problem."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in columns if c not in (reader.fieldnames or ())]
            if missing:
                raise SoloSkipped(f"{os.path.basename(path)}: no column {', '.join(missing)}")
            return list(reader)
    except FileNotFoundError:
        raise SoloSkipped(f"missing file {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise SoloSkipped(f"cannot read {path}: {e}") from None


def _signature(text):
    return text.strip("\"' ")


def _chord_of(symbol, report, cache):
    if symbol not in cache:
        try:
            reading = read_chord(symbol)
            cache[symbol] = reading.chord
            if reading.dropped:
                report.simplified[symbol] = (reading.text, reading.dropped)
        except ChordSymbolError:
            cache[symbol] = None
    return cache[symbol]


def read_solo(melody_path, beat_path, name, performer, title, report, rest_gap=REST_GAP_BEATS,
              chord_cache=None):
    """One solo from its two CSV files; counts go to `report`. Raises SoloSkipped."""
    cache = {} if chord_cache is None else chord_cache
    beats = _rows(beat_path, BEAT_COLUMNS)
    mel = _rows(melody_path, MELODY_COLUMNS)
    if not mel:
        raise SoloSkipped("no notes")
    if not beats:
        raise SoloSkipped("empty beat track")
    sigs = sorted({_signature(r["signature"]) for r in beats}
                  | {_signature(r["signature"]) for r in mel})
    periods = {_cell(r, "period", int, beat_path, i + 2) for i, r in enumerate(beats)}
    periods |= {_cell(r, "period", int, melody_path, i + 2) for i, r in enumerate(mel)}
    if periods != {BEATS_PER_BAR}:
        raise SoloSkipped(f"not 4/4: {', '.join(sigs)}")

    # the beat track: contiguous beats from bar `first_bar` beat 1 (the origin)
    bb = [(_cell(r, "bar", int, beat_path, i + 2), _cell(r, "beat", int, beat_path, i + 2))
          for i, r in enumerate(beats)]
    first_bar = bb[0][0]
    index = [(bar - first_bar) * BEATS_PER_BAR + beat - 1 for bar, beat in bb]
    if index != list(range(index[0], index[0] + len(index))):
        raise SoloSkipped(f"{os.path.basename(beat_path)}: beats not contiguous")
    n_beats = index[-1] + 1
    onsets = np.array([_cell(r, "onset", float, beat_path, i + 2) for i, r in enumerate(beats)])
    last_dur = _cell(beats[-1], "duration", float, beat_path, len(beats) + 1)
    if np.any(np.diff(onsets) <= 0) or last_dur <= 0:
        raise SoloSkipped(f"{os.path.basename(beat_path)}: beat onsets not increasing")
    beat_chords = [NO_CHORD] * n_beats
    beat_chorus = [0] * n_beats
    for i, r in zip(index, beats):
        chord = _chord_of(r["chord"], report, cache)
        report.symbols.add(r["chord"])
        if chord is None:
            report.bad_chord_beats[r["chord"]] += 1
            chord = NO_CHORD
        beat_chords[i] = chord
        beat_chorus[i] = max(0, _cell(r, "chorus_id", int, beat_path, i - index[0] + 2))

    def beats_at(seconds):
        """Metrical position (float beats from the origin) of a time in the recording."""
        if seconds >= onsets[-1]:
            return index[-1] + (seconds - onsets[-1]) / last_dur
        if seconds < onsets[0]:
            return max(0.0, index[0] - (onsets[0] - seconds) / (onsets[1] - onsets[0]))
        return float(np.interp(seconds, onsets, index))

    # the notes, as annotated
    raw = []
    for i, r in enumerate(mel):
        line = i + 2
        bar, beat, tatum, div = (_cell(r, col, int, melody_path, line)
                                 for col in ("bar", "beat", "tatum", "division"))
        try:
            pos = position(tatum, div)
        except ValueError as e:
            raise SoloSkipped(f"{os.path.basename(melody_path)} line {line}: {e}") from None
        b = (bar - first_bar) * BEATS_PER_BAR + beat - 1
        if not 0 <= b < n_beats or not 1 <= beat <= BEATS_PER_BAR:
            raise SoloSkipped(f"{os.path.basename(melody_path)} line {line}: bar {bar} beat "
                              f"{beat} is outside the beat track")
        pitch = _cell(r, "pitch", int, melody_path, line)
        if not 0 <= pitch <= 127:
            raise SoloSkipped(f"{os.path.basename(melody_path)} line {line}: pitch {pitch}")
        raw.append(dict(beat=b, tatum=tatum, div=div, pos=pos, bar=bar, pitch=pitch,
                        on=_cell(r, "onset", float, melody_path, line),
                        dur=_cell(r, "duration", float, melody_path, line),
                        beat_dur=_cell(r, "beat_duration", float, melody_path, line),
                        phrase=_cell(r, "phrase_begin", int, melody_path, line) == 1,
                        chorus=max(0, _cell(r, "chorus_id", int, melody_path, line)),
                        chord=r["chord"]))
    cnt = report.count
    kept_raw = []
    for n in raw:                      # one note per metrical position, in order
        if kept_raw and (n["beat"], n["pos"]) <= (kept_raw[-1]["beat"], kept_raw[-1]["pos"]):
            cnt["notes dropped: not after the previous note's position"] += 1
            continue
        kept_raw.append(n)
    raw = kept_raw
    cnt["notes read"] += len(raw)
    cnt["pickup notes (bar <= 0), kept before chorus 1"] += sum(1 for n in raw if n["bar"] <= 0)

    # chord symbols the notes stand on
    for n in raw:
        if _chord_of(n["chord"], report, cache) is None:
            report.bad_chords[n["chord"]] += 1
        if n["chord"] in report.simplified:
            report.simplified_notes[n["chord"]] += 1
        row = n["beat"] - index[0]
        if row < 0 or n["chord"] != beats[row]["chord"]:
            cnt["notes whose chord differs from the beat track's"] += 1

    # onsets on the grid
    q = quantize_onsets([(n["beat"], n["tatum"], n["div"]) for n in raw])
    for n, (tick, rule) in zip(raw, q):
        cnt[f"onsets {rule}"] += 1
        if rule in ("exact", "triplet"):
            report.moves[rule][0] += 1
        elif tick is not None:
            report.moves[rule][abs(Fraction(tick) - (n["beat"] + n["pos"]) * TPQ)] += 1
        report.divisions[n["div"]][rule] += 1
        n["tick"] = tick

    # group each kept note with the dropped ones after it: they sound as one note
    groups = []
    for n in raw:
        if n["tick"] is None:
            if not groups:
                continue
            groups[-1][1] = n                 # the sound lasts until this note's end
            groups[-1][2] = groups[-1][2] or n["phrase"]
            continue
        groups.append([n, n, False])
    notes = []
    for k, (head, tail, _) in enumerate(groups):
        phrase = head["phrase"] or (k > 0 and groups[k - 1][2])
        nxt = groups[k + 1][0] if k + 1 < len(groups) else None
        sound_end = tail["on"] + tail["dur"]
        if nxt is None:
            end = end_tick(head["tick"], beats_at(sound_end), math.inf)
            dur = end - head["tick"]
            rest = False
        else:
            dur = nxt["tick"] - head["tick"]
            rest = rest_after(sound_end - head["on"], nxt["on"] - head["on"], head["beat_dur"],
                              rest_gap)
            if rest:
                end = end_tick(head["tick"], beats_at(sound_end), nxt["tick"])
                if end is None:
                    cnt["rests with no room on the grid (note held to the next onset)"] += 1
                    rest = False
                else:
                    dur = end - head["tick"]
            cnt["rests"] += rest
            cnt["rest ticks"] += (nxt["tick"] - head["tick"] - dur)
            if nxt["phrase"]:
                cnt["annotated phrase starts (after the first note)"] += 1
                cnt["annotated phrase starts after a rest"] += rest
            else:
                cnt["rests inside annotated phrases"] += rest
        notes.append(Note(head["tick"], dur, head["pitch"], bool(phrase), head["chorus"]))
    if not notes:
        raise SoloSkipped("no notes left on the grid")
    cnt["notes kept"] += len(notes)
    cnt["annotated phrases"] += sum(n.phrase_begin for n in notes)
    cnt["ticks from the first onset to the last note's end"] += (
        notes[-1].onset + notes[-1].duration - notes[0].onset)
    breaks = sum(1 for a, b in zip(notes, notes[1:])
                 if b.onset - a.onset - a.duration >= BREAK_BEATS * TPQ)
    cnt[f"silences of {float(BREAK_BEATS):g} beats or more"] += breaks

    # choruses: runs of whole bars whose downbeat has the same chorus number
    choruses = []
    first_index = index[0]
    for b in range(-(-n_beats // BEATS_PER_BAR)):
        i0 = b * BEATS_PER_BAR
        if i0 < first_index or i0 + BEATS_PER_BAR > n_beats:
            continue                                   # a partial bar
        c = beat_chorus[i0]
        if c <= 0:
            continue
        if choruses and choruses[-1].id == c and choruses[-1].end == i0 * TPQ:
            choruses[-1] = choruses[-1]._replace(end=(i0 + BEATS_PER_BAR) * TPQ)
        else:
            if any(ch.id == c for ch in choruses):
                cnt["chorus numbers split in two runs"] += 1
            choruses.append(Chorus(c, i0 * TPQ, (i0 + BEATS_PER_BAR) * TPQ))
    for i in range(first_index + 1, n_beats):
        if beat_chorus[i] != beat_chorus[i - 1] and beat_chorus[i] > 0 and i % BEATS_PER_BAR:
            cnt["choruses annotated to start off a downbeat (moved to a bar line)"] += 1
    starts = [c.start for c in choruses]
    in_chorus = sum(1 for n in notes
                    if (k := bisect_right(starts, n.onset) - 1) >= 0 and n.onset < choruses[k].end)
    cnt["notes outside every chorus (pickups, partial last bars)"] += len(notes) - in_chorus
    cnt["choruses"] += len(choruses)
    cnt["bars"] += -(-n_beats // BEATS_PER_BAR)
    return Solo(name, performer, title, notes, beat_chords, first_bar, choruses,
                tempo_of(onsets))


def tempo_of(beat_onsets):
    """The tempo in bpm of a beat track's onsets (seconds): 60 over the median
    inter-beat interval, which a ritardando or a fermata at the end does not move."""
    d = np.diff(np.asarray(beat_onsets, float))
    d = d[d > 0]
    return float(60.0 / np.median(d)) if len(d) else None


class Entry(NamedTuple):
    name: str             # the file stem
    performer: str
    title: str


def index_entries(root):
    """The solos listed in `solos.csv`, as Entry (for `split_performers`)."""
    return [Entry(k, p, t) for k, (p, t) in sorted(read_index(root).items())]


def read_index(root):
    """{file stem: (performer, title)} from `solos.csv`."""
    if not os.path.isdir(root):
        raise WjazzdError(f"no Weimar Jazz Database at {root}: not a directory")
    path = os.path.join(root, "solos.csv")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise WjazzdError(f"cannot read {path}: {e.strerror or e}") from None
    out = {}
    for i, r in enumerate(rows):
        try:
            stem = r["file"][:-4] if r["file"].endswith(".csv") else r["file"]
            out[stem] = (r["performer"], r["title"])
        except (KeyError, TypeError):
            raise WjazzdError(f"{path} line {i + 2}: expected columns file, performer, "
                              f"title") from None
    return out


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


# ---- the report ---------------------------------------------------------------------

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
