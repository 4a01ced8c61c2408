"""Corpus extraction: pieces of music → `(values, chord timeline)` sequences for training.

The only music21 user in `grammar/`: music21 reads MusicXML, ABC and MIDI well, and
extraction runs offline, once per training run. Everything after reading (the chord
of a set of sounding notes, the values of a melody) goes through the same `grammar`
functions as the live daemon (`recognize`, `parse_symbol`, `parse_melody`), so the
corpus and the daemon classify identically.

Three kinds of source:

- `bach`: the four-part chorales shipped with music21 (`bach/bwv*.mxl`). The melody
  is the soprano. The harmony is taken by `harmony_method` (see HARMONY_METHODS).
- MusicXML/ABC with chord symbols (`harmony.ChordSymbol`, read with our
  `parse_symbol`); without symbols, the other parts are chordified as for MIDI.
- MIDI: melody and harmony parts chosen by index or name, an optional offset range.

A piece that cannot be used (unreadable, no melody, no harmony, a changing metre) is
reported by name and skipped, never fatal to a run. Extraction is one job per file:
`build(paths, spec, jobs)` yields results from a process pool and is the seam where a
bigger engine (sharded files, a cluster) would plug in.
"""

import math
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD
from jazzd.grammar.parse import parse_melody_pitched
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.recognize import recognize
from jazzd.grammar.timeline import ChordTimeline

SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".abc", ".krn")
MIDI_SUFFIXES = (".mid", ".midi")

# How the harmony of a chorale is taken (measured over the chorales, see docs/MODEL.md):
#   lower-onset:  alto+tenor+bass at each of their onsets (chordify of the lower voices)
#   lower-hold:   the same, but an onset whose notes name no chord keeps the last chord
#   all-beat:     all four voices sounding at each beat
#   all-onset:    all four voices at each onset of any voice
HARMONY_METHODS = ("lower-onset", "lower-hold", "all-beat", "all-onset")
DEFAULT_BACH_HARMONY = "lower-hold"


class CorpusError(ValueError):
    """A piece that cannot be used; the message says why (the caller adds the name)."""


@dataclass
class Piece:
    """One melody as values over a chord timeline, starting on a bar line at `start`.
    `pitches[i]` is the pitch of `values[i]` (None for a rest): training conditions on
    where the line stands, which the abstract values do not say. `performer` names who
    played it, for splits by player (None when unknown); `bpm` its tempo (None when
    the source has none: the condition then reads features.DEFAULT_BPM)."""

    name: str
    values: list
    timeline: ChordTimeline
    bar_ticks: int
    beats_per_bar: int
    start: int = 0
    pitches: list = None
    performer: str = None
    bpm: float = None

    def onsets(self):
        """(tick, position in the bar, chord sounding) of each value's onset."""
        t = self.start
        for v in self.values:
            yield t, (t - self.start) % self.bar_ticks, self.timeline.at(t)
            t += v.ticks


@dataclass
class Result:
    """One outcome of extraction: a piece, or the file's name and what went wrong."""

    name: str
    piece: Piece = None
    error: str = None


@dataclass
class CorpusSpec:
    """What to extract and how: picklable, so it travels to worker processes."""

    source: str = "bach"
    melody: str = None              # part index or name (MIDI, or scores without symbols)
    harmony: list = None            # part indices or names
    offset_range: tuple = None      # (start, end) in quarter notes
    harmony_method: str = DEFAULT_BACH_HARMONY
    files: list = field(default_factory=list)

    @classmethod
    def from_args(cls, source, melody=None, harmony=None, offset_range=None,
                  harmony_method=None):
        """Build a spec from command-line text; ValueError with a clear message if bad."""
        harm = None
        if harmony:
            harm = [h.strip() for h in str(harmony).split(",") if h.strip()]
        rng = None
        if offset_range:
            m = re.fullmatch(r"\s*([0-9.]+)\s*[:\-]\s*([0-9.]+)\s*", str(offset_range))
            if not m or float(m.group(1)) >= float(m.group(2)):
                raise ValueError(f"bad --range {offset_range!r}: expected START:END in "
                                 f"quarter notes, START < END, e.g. 476:548")
            rng = (Fraction(m.group(1)), Fraction(m.group(2)))
        method = harmony_method or (DEFAULT_BACH_HARMONY if source == "bach" else "lower-hold")
        if method not in HARMONY_METHODS:
            raise ValueError(f"unknown harmony method {method!r} "
                             f"(one of {', '.join(HARMONY_METHODS)})")
        return cls(str(source), melody, harm, rng, method)

    def paths(self, limit=None):
        """The files of the corpus, sorted; ValueError if the source does not exist."""
        if self.source == "bach":
            paths = bach_paths()
        else:
            p = Path(self.source).expanduser()
            if p.is_dir():
                paths = sorted(q for q in p.rglob("*")
                               if q.suffix.lower() in SCORE_SUFFIXES + MIDI_SUFFIXES)
            elif p.is_file() and p.suffix.lower() in (".txt", ".list"):
                base = p.parent
                paths = []
                for line in p.read_text(encoding="utf-8").splitlines():
                    line = line.strip()
                    if line and not line.startswith("#"):
                        q = Path(line).expanduser()
                        paths.append(q if q.is_absolute() else base / q)
            elif p.is_file():
                paths = [p]
            else:
                raise ValueError(f"corpus {self.source!r}: no such file or directory "
                                 f"(use 'bach', a directory, a file list, or a file)")
        return paths[:limit] if limit else paths

    def describe(self):
        if self.source == "bach":
            return f"music21's Bach chorales (harmony: {self.harmony_method})"
        bits = [self.source]
        if self.melody is not None:
            bits.append(f"melody {self.melody}")
        if self.harmony:
            bits.append("harmony " + ",".join(self.harmony))
        if self.offset_range:
            bits.append(f"range {float(self.offset_range[0]):g}:{float(self.offset_range[1]):g}")
        return ", ".join(bits)


def bach_paths():
    """music21's Bach chorale files (bwv*.mxl), sorted by name."""
    from music21 import corpus
    return sorted((Path(p) for p in corpus.getComposer("bach")
                   if Path(p).name.startswith("bwv") and Path(p).suffix == ".mxl"),
                  key=lambda p: p.name)


# --------------------------------------------------------------------------- helpers

def ticks(quarters):
    """Nearest tick of a music21 offset or duration (float or Fraction, in quarters)."""
    return math.floor(Fraction(quarters) * TPQ + Fraction(1, 2))


def _notes_of(stream, skip_symbols=True):
    """[(start, end, midi)] in ticks of every sounding pitch in a music21 stream
    (voices merged, ties joined, chords spread into their pitches)."""
    from music21 import harmony
    out = []
    flat = stream.stripTies().flatten() if hasattr(stream, "stripTies") else stream.flatten()
    for el in flat.notes:
        if skip_symbols and isinstance(el, harmony.Harmony):
            continue
        t0 = ticks(el.offset)
        t1 = max(t0 + 1, ticks(el.offset + el.quarterLength))
        if el.quarterLength == 0:       # grace notes
            continue
        for p in el.pitches:
            out.append((t0, t1, int(p.midi)))
    return out


def harmony_timeline(notes, points, hold=True, length=None):
    """A ChordTimeline from the notes sounding at each sample point (`recognize`).

    With `hold`, a point whose notes name no chord keeps the chord before it (a passing
    unison or a bare fifth does not erase the harmony), and the first chord named also
    covers the points before it (an opening unison); repeated chords are merged.
    """
    notes = sorted(notes)
    changes, last, first = [], None, None
    active, k = [], 0
    for t in sorted(set(points)):
        while k < len(notes) and notes[k][0] <= t:      # sweep: notes started by t
            active.append(notes[k])
            k += 1
        active = [n for n in active if n[1] > t]
        sounding = [p for _, _, p in active]
        chord = recognize(sounding) if sounding else NO_CHORD
        if not chord and hold:
            if first is None:
                first = t
            continue
        if chord != last:
            changes.append((first if first is not None and not changes else t, chord))
            last = chord
    if length is not None:
        changes = [(t, c) for t, c in changes if t < length]
    return ChordTimeline(changes, length=length)


def _time_signature(score, where):
    """(bar_ticks, beats_per_bar) of the piece's one metre; CorpusError if it changes."""
    from music21 import meter
    sigs = []
    for ts in score.recurse().getElementsByClass(meter.TimeSignature):
        if not sigs or ts.ratioString != sigs[-1].ratioString:
            sigs.append(ts)
    if not sigs:
        return 4 * TPQ, 4
    if len({s.ratioString for s in sigs}) > 1:
        names = list(dict.fromkeys(s.ratioString for s in sigs))
        raise CorpusError(f"{where}: the metre changes (between {' and '.join(names)}); "
                          f"not supported")
    bar = ticks(sigs[0].barDuration.quarterLength)
    return bar, max(1, bar // TPQ)


def _pickup_shift(part, bar_ticks):
    """Ticks to shift a part so that its first full bar starts on a bar line."""
    from music21 import stream
    measures = part.getElementsByClass(stream.Measure)
    if not measures:
        return 0
    m0 = measures[0]
    pad = ticks(m0.paddingLeft or 0)
    if pad == 0 and 0 < ticks(m0.duration.quarterLength) < bar_ticks:
        pad = bar_ticks - ticks(m0.duration.quarterLength)
    return pad % bar_ticks


def _shift(notes, dt):
    return [(a + dt, b + dt, p) for a, b, p in notes]


def _select_part(parts, key, what):
    """A part by index ("5") or name (exact, then prefix, case-insensitive)."""
    key = str(key).strip()
    if re.fullmatch(r"-?\d+", key):
        i = int(key)
        if not -len(parts) <= i < len(parts):
            raise CorpusError(f"{what} part {i} does not exist (the file has "
                              f"{len(parts)} parts: {_part_names(parts)})")
        return parts[i]
    low = key.lower()
    for test in (lambda n: n == low, lambda n: n.startswith(low), lambda n: low in n):
        for p in parts:
            if test((p.partName or "").strip().lower()):
                return p
    raise CorpusError(f"no {what} part named {key!r} (parts: {_part_names(parts)})")


def _part_names(parts):
    return ", ".join(f"{i}={p.partName or '?'}" for i, p in enumerate(parts))


def _melody_values(notes, timeline, bar_ticks, start, end, where):
    """(values, pitches) of a melody, or CorpusError when it has no notes in range."""
    if not notes:
        raise CorpusError(f"{where}: no melody notes")
    pairs = parse_melody_pitched([(a, b - a, p) for a, b, p in notes], timeline, bar_ticks,
                                 start=start, end=end)
    if not any(v.kind != "R" for v, _ in pairs):
        raise CorpusError(f"{where}: no melody notes in range")
    return [v for v, _ in pairs], [p for _, p in pairs]


def _check_harmony(timeline, where):
    if not any(c for _, c in timeline):
        raise CorpusError(f"{where}: no harmony (no chord could be recognised)")


# --------------------------------------------------------------------------- sources

def extract_chorale(path, harmony_method=DEFAULT_BACH_HARMONY, score=None):
    """A four-part chorale: soprano over the harmony of `harmony_method`."""
    from music21 import converter
    name = Path(path).name
    s = score if score is not None else converter.parse(str(path))
    bar_ticks, beats = _time_signature(s, name)
    voices = {}
    for p in s.parts:
        pn = (p.partName or "").strip().lower()
        for v in ("soprano", "alto", "tenor", "bass"):
            if pn.startswith(v) and v not in voices:
                voices[v] = p
    if len(voices) < 4:
        raise CorpusError(f"not a four-part chorale (parts: {_part_names(s.parts)})")
    shift = _pickup_shift(voices["soprano"], bar_ticks)
    notes = {v: _shift(_notes_of(p), shift) for v, p in voices.items()}
    melody = notes["soprano"]
    lower = notes["alto"] + notes["tenor"] + notes["bass"]
    every = lower + melody
    end_tick = max(b for _, b, _ in every)
    length = -(-end_tick // bar_ticks) * bar_ticks
    if harmony_method in ("lower-onset", "lower-hold"):
        timeline = harmony_timeline(lower, [a for a, _, _ in lower],
                                    hold=harmony_method == "lower-hold", length=length)
    elif harmony_method == "all-beat":
        timeline = harmony_timeline(every, range(0, length, TPQ), hold=True, length=length)
    elif harmony_method == "all-onset":
        timeline = harmony_timeline(every, [a for a, _, _ in every], hold=True, length=length)
    else:
        raise CorpusError(f"unknown harmony method {harmony_method!r}")
    _check_harmony(timeline, name)
    values, pitches = _melody_values(melody, timeline, bar_ticks, 0, length, name)
    return Piece(name, values, timeline, bar_ticks, beats, 0, pitches, "J. S. Bach")


def _offset_window(spec, bar_ticks, where):
    if not spec.offset_range:
        return None, None
    a, b = ticks(spec.offset_range[0]), ticks(spec.offset_range[1])
    if (b - a) % bar_ticks:
        raise CorpusError(f"{where}: the range {float(spec.offset_range[0]):g}:"
                          f"{float(spec.offset_range[1]):g} is not a whole number of "
                          f"{bar_ticks / TPQ:g}-quarter bars")
    return a, b


def extract_parts(score, name, melody_key, harmony_keys, spec, method="lower-hold"):
    """Melody part + chordified harmony parts of a parsed score (MIDI or notation)."""
    parts = list(score.parts)
    if not parts:
        raise CorpusError(f"{name}: no parts")
    bar_ticks, beats = _time_signature(score, name)
    mel = _select_part(parts, melody_key if melody_key is not None else 0, "melody")
    if harmony_keys:
        harm = [_select_part(parts, k, "harmony") for k in harmony_keys]
    else:
        harm = [p for p in parts if p is not mel]
    if not harm:
        raise CorpusError(f"{name}: no harmony parts (only one part; give chord symbols "
                          f"or --harmony)")
    start, end = _offset_window(spec, bar_ticks, name)
    melody = _notes_of(mel)
    lower = [n for p in harm for n in _notes_of(p)]
    if start is None:
        start = 0
        last = max((b for _, b, _ in melody + lower), default=0)
        end = max(bar_ticks, -(-last // bar_ticks) * bar_ticks)
    points = [a for a, _, _ in lower if a < end] + [start]
    if method == "all-beat":
        points = list(range(start, end, TPQ))
        lower = lower + melody
    timeline = harmony_timeline(lower, points, hold=method != "lower-onset", length=end)
    _check_harmony(timeline, name)
    values, pitches = _melody_values(melody, timeline, bar_ticks, start, end, name)
    return Piece(name, values, timeline, bar_ticks, beats, start, pitches)


def extract_lead_sheet(score, name, spec):
    """Melody plus chord symbols (`harmony.ChordSymbol` → our `parse_symbol`)."""
    from music21 import harmony
    bar_ticks, beats = _time_signature(score, name)
    parts = list(score.parts) or [score]
    mel = _select_part(parts, spec.melody, "melody") if spec.melody is not None else \
        next((p for p in parts if any(not isinstance(n, harmony.Harmony)
                                      for n in p.flatten().notes)), None)
    if mel is None:
        raise CorpusError("no melody notes")
    shift = _pickup_shift(mel, bar_ticks)
    changes = {}
    for cs in score.flatten().getElementsByClass(harmony.Harmony):
        t = ticks(cs.offset) + shift
        if isinstance(cs, harmony.NoChord):
            changes[t] = NO_CHORD
            continue
        try:
            changes[t] = parse_symbol(cs.figure, flat_dash=True)
        except ValueError:
            pcs = [int(p.midi) for p in cs.pitches]
            changes[t] = recognize(pcs) if pcs else NO_CHORD
    melody = _shift(_notes_of(mel), shift)
    start, end = _offset_window(spec, bar_ticks, name)
    if start is None:
        start = 0
        last = max((b for _, b, _ in melody), default=0)
        end = max(bar_ticks, -(-last // bar_ticks) * bar_ticks)
    timeline = ChordTimeline(sorted((t, c) for t, c in changes.items() if t < end),
                             length=end)
    _check_harmony(timeline, name)
    values, pitches = _melody_values(melody, timeline, bar_ticks, start, end, name)
    return Piece(name, values, timeline, bar_ticks, beats, start, pitches)


def extract_file(path, spec=None):
    """All usable pieces of one file (an ABC tune book may hold several).

    Raises CorpusError (or whatever music21 raises on an unreadable file): `build`
    turns those into skipped results.
    """
    from music21 import converter, harmony, stream
    spec = spec or CorpusSpec()
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    if spec.source == "bach":
        return [extract_chorale(path, spec.harmony_method)]
    if not path.is_file():
        raise CorpusError("no such file")
    if suffix not in SCORE_SUFFIXES + MIDI_SUFFIXES:
        raise CorpusError(f"not a MusicXML, ABC or MIDI file ({suffix or 'no suffix'})")
    parsed = converter.parse(str(path))
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    pieces = []
    for i, sc in enumerate(scores):
        pname = name if len(scores) == 1 else f"{name}#{i + 1}"
        if suffix in MIDI_SUFFIXES:
            pieces.append(extract_parts(sc, pname, spec.melody, spec.harmony, spec,
                                        spec.harmony_method))
        elif spec.harmony is None and sc.flatten().getElementsByClass(harmony.Harmony):
            pieces.append(extract_lead_sheet(sc, pname, spec))
        else:
            pieces.append(extract_parts(sc, pname, spec.melody, spec.harmony, spec,
                                        spec.harmony_method))
    return pieces


def _job(args):
    path, spec = args
    name = Path(path).name
    try:
        return [Result(p.name, piece=p) for p in extract_file(path, spec)]
    except CorpusError as e:
        return [Result(name, error=str(e).removeprefix(name + ": "))]
    except Exception as e:  # an unreadable file is reported, never fatal to the run
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return [Result(name, error=f"unreadable ({type(e).__name__}: {msg[:200]})")]


def build(paths, spec=None, jobs=None):
    """Extract every file, in order, one process-pool job per file; yields Results.

    `jobs` None = one per CPU; 1 = in this process. The interface (paths in, results
    out, no shared state) is what lets extraction move to another engine.
    """
    spec = spec or CorpusSpec()
    paths = list(paths)
    jobs = jobs or os.cpu_count() or 1
    work = [(p, spec) for p in paths]
    if jobs <= 1 or len(paths) < 2:
        for w in work:
            yield from _job(w)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths))) as ex:
        for results in ex.map(_job, work, chunksize=max(1, min(8, len(paths) // (4 * jobs)))):
            yield from results
