"""One solo's two CSV files (its melody and its beat track) read onto the tick grid as
a `Solo`, following the rules in the docstring of jazzd.train.wjazzd; the pure rules
are in jazzd.grammar.jazzomat. Everything moved, dropped or unreadable is counted in
the `Report`."""

import math
import os
from bisect import bisect_right
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from jazzd.grammar.chords import NO_CHORD, ChordSymbolError
from jazzd.grammar.jazzomat import (REST_GAP_BEATS, end_tick, position, quantize_onsets,
                                    read_chord, rest_after)
from jazzd.grammar.pitch import TPQ
from jazzd.train.wjazzd_solo import BEATS_PER_BAR, BREAK_BEATS, Chorus, Note, Solo, tempo_of
from jazzd.train.wjazzd_tables import (BEAT_COLUMNS, MELODY_COLUMNS, SoloSkipped, cell,
                                       signature, table_rows)


class BeatTrack(NamedTuple):
    """The beat track: contiguous beats from bar `first_bar` beat 1 (the origin)."""

    first_bar: int
    index: list            # each row's beat, counted from the origin
    onsets: np.ndarray     # each row's onset, seconds in the recording
    last_dur: float        # seconds of the last beat
    chords: list           # the Chord on every beat from the origin
    chorus: list           # the chorus number on every beat from the origin (0: none)

    @property
    def n_beats(self):
        return self.index[-1] + 1

    def beats_at(self, seconds):
        """Metrical position (float beats from the origin) of a time in the recording."""
        onsets, index = self.onsets, self.index
        if seconds >= onsets[-1]:
            return index[-1] + (seconds - onsets[-1]) / self.last_dur
        if seconds < onsets[0]:
            return max(0.0, index[0] - (onsets[0] - seconds) / (onsets[1] - onsets[0]))
        return float(np.interp(seconds, onsets, index))


def read_solo(melody_path, beat_path, name, performer, title, report, rest_gap=REST_GAP_BEATS,
              chord_cache=None):
    """One solo from its two CSV files; counts go to `report`. Raises SoloSkipped."""
    cache = {} if chord_cache is None else chord_cache
    beats = table_rows(beat_path, BEAT_COLUMNS)
    mel = table_rows(melody_path, MELODY_COLUMNS)
    _check_4_4(beats, mel, beat_path, melody_path)
    track = _beat_track(beats, beat_path, report, cache)
    cnt = report.count
    raw = _one_per_position(_annotated_notes(mel, melody_path, track), cnt)
    cnt["notes read"] += len(raw)
    cnt["pickup notes (bar <= 0), kept before chorus 1"] += sum(1 for n in raw if n["bar"] <= 0)
    _count_note_chords(raw, beats, track, report, cache)
    _place_onsets(raw, report)
    notes = _grid_notes(_sounding_groups(raw), track, rest_gap, cnt)
    if not notes:
        raise SoloSkipped("no notes left on the grid")
    _count_phrasing(notes, cnt)
    choruses = _choruses(track, cnt)
    _count_choruses(notes, choruses, track, cnt)
    return Solo(name, performer, title, notes, track.chords, track.first_bar, choruses,
                tempo_of(track.onsets))


def _chord_of(symbol, report, cache):
    """The Chord of a Jazzomat symbol, None if unreadable; read once per symbol."""
    if symbol not in cache:
        try:
            reading = read_chord(symbol)
            cache[symbol] = reading.chord
            if reading.dropped:
                report.simplified[symbol] = (reading.text, reading.dropped)
        except ChordSymbolError:
            cache[symbol] = None
    return cache[symbol]


def _check_4_4(beats, mel, beat_path, melody_path):
    """SoloSkipped unless both files have rows and every bar of both is in 4/4."""
    if not mel:
        raise SoloSkipped("no notes")
    if not beats:
        raise SoloSkipped("empty beat track")
    sigs = sorted({signature(r["signature"]) for r in beats}
                  | {signature(r["signature"]) for r in mel})
    periods = {cell(r, "period", int, beat_path, i + 2) for i, r in enumerate(beats)}
    periods |= {cell(r, "period", int, melody_path, i + 2) for i, r in enumerate(mel)}
    if periods != {BEATS_PER_BAR}:
        raise SoloSkipped(f"not 4/4: {', '.join(sigs)}")


def _beat_track(beats, beat_path, report, cache):
    """The beat track's rows as a BeatTrack; unreadable chords sound as NO_CHORD."""
    bb = [(cell(r, "bar", int, beat_path, i + 2), cell(r, "beat", int, beat_path, i + 2))
          for i, r in enumerate(beats)]
    first_bar = bb[0][0]
    index = [(bar - first_bar) * BEATS_PER_BAR + beat - 1 for bar, beat in bb]
    if index != list(range(index[0], index[0] + len(index))):
        raise SoloSkipped(f"{os.path.basename(beat_path)}: beats not contiguous")
    n_beats = index[-1] + 1
    onsets = np.array([cell(r, "onset", float, beat_path, i + 2) for i, r in enumerate(beats)])
    last_dur = cell(beats[-1], "duration", float, beat_path, len(beats) + 1)
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
        beat_chorus[i] = max(0, cell(r, "chorus_id", int, beat_path, i - index[0] + 2))
    return BeatTrack(first_bar, index, onsets, last_dur, beat_chords, beat_chorus)


def _annotated_notes(mel, melody_path, track):
    """The melody's rows as dicts, positions as annotated (beats from the origin)."""
    return [_annotated_note(r, melody_path, i + 2, track) for i, r in enumerate(mel)]


def _annotated_note(r, melody_path, line, track):
    bar, beat, tatum, div = (cell(r, col, int, melody_path, line)
                             for col in ("bar", "beat", "tatum", "division"))
    try:
        pos = position(tatum, div)
    except ValueError as e:
        raise SoloSkipped(f"{os.path.basename(melody_path)} line {line}: {e}") from None
    b = (bar - track.first_bar) * BEATS_PER_BAR + beat - 1
    if not 0 <= b < track.n_beats or not 1 <= beat <= BEATS_PER_BAR:
        raise SoloSkipped(f"{os.path.basename(melody_path)} line {line}: bar {bar} beat "
                          f"{beat} is outside the beat track")
    pitch = cell(r, "pitch", int, melody_path, line)
    if not 0 <= pitch <= 127:
        raise SoloSkipped(f"{os.path.basename(melody_path)} line {line}: pitch {pitch}")
    return dict(beat=b, tatum=tatum, div=div, pos=pos, bar=bar, pitch=pitch,
                on=cell(r, "onset", float, melody_path, line),
                dur=cell(r, "duration", float, melody_path, line),
                beat_dur=cell(r, "beat_duration", float, melody_path, line),
                phrase=cell(r, "phrase_begin", int, melody_path, line) == 1,
                chorus=max(0, cell(r, "chorus_id", int, melody_path, line)),
                chord=r["chord"])


def _one_per_position(raw, cnt):
    """The notes each after the previous one's metrical position; the others dropped."""
    kept = []
    for n in raw:
        if kept and (n["beat"], n["pos"]) <= (kept[-1]["beat"], kept[-1]["pos"]):
            cnt["notes dropped: not after the previous note's position"] += 1
            continue
        kept.append(n)
    return kept


def _count_note_chords(raw, beats, track, report, cache):
    """Counts the chord symbols the notes stand on: unreadable, simplified, or not the
    beat track's."""
    for n in raw:
        if _chord_of(n["chord"], report, cache) is None:
            report.bad_chords[n["chord"]] += 1
        if n["chord"] in report.simplified:
            report.simplified_notes[n["chord"]] += 1
        row = n["beat"] - track.index[0]
        if row < 0 or n["chord"] != beats[row]["chord"]:
            report.count["notes whose chord differs from the beat track's"] += 1


def _place_onsets(raw, report):
    """Sets each note's "tick" (None: dropped) and counts each rule's moves."""
    q = quantize_onsets([(n["beat"], n["tatum"], n["div"]) for n in raw])
    for n, (tick, rule) in zip(raw, q):
        report.count[f"onsets {rule}"] += 1
        if rule in ("exact", "triplet"):
            report.moves[rule][0] += 1
        elif tick is not None:
            report.moves[rule][abs(Fraction(tick) - (n["beat"] + n["pos"]) * TPQ)] += 1
        report.divisions[n["div"]][rule] += 1
        n["tick"] = tick


def _sounding_groups(raw):
    """[head, tail, phrase]: each note on the grid with the dropped ones after it, which
    sound as one note until the tail's end; phrase: a dropped one began a phrase."""
    groups = []
    for n in raw:
        if n["tick"] is None:
            if not groups:
                continue
            groups[-1][1] = n                 # the sound lasts until this note's end
            groups[-1][2] = groups[-1][2] or n["phrase"]
            continue
        groups.append([n, n, False])
    return groups


def _grid_notes(groups, track, rest_gap, cnt):
    """The Notes of the sounding groups, each lasting to the next onset or, before a
    rest, to the end of its sound on the grid."""
    notes = []
    for k, (head, tail, _) in enumerate(groups):
        phrase = head["phrase"] or (k > 0 and groups[k - 1][2])
        nxt = groups[k + 1][0] if k + 1 < len(groups) else None
        sound_end = tail["on"] + tail["dur"]
        if nxt is None:
            end = end_tick(head["tick"], track.beats_at(sound_end), math.inf)
            dur = end - head["tick"]
        else:
            dur = _duration_before(head, nxt, sound_end, track, rest_gap, cnt)
        notes.append(Note(head["tick"], dur, head["pitch"], bool(phrase), head["chorus"]))
    return notes


def _duration_before(head, nxt, sound_end, track, rest_gap, cnt):
    """Ticks of `head` before the next note `nxt`: to its onset, or less when the sound
    stops early enough to leave a rest; counts the rests and the phrases they start."""
    dur = nxt["tick"] - head["tick"]
    rest = rest_after(sound_end - head["on"], nxt["on"] - head["on"], head["beat_dur"],
                      rest_gap)
    if rest:
        end = end_tick(head["tick"], track.beats_at(sound_end), nxt["tick"])
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
    return dur


def _count_phrasing(notes, cnt):
    """Counts the kept notes, annotated phrases, the played span and long silences."""
    cnt["notes kept"] += len(notes)
    cnt["annotated phrases"] += sum(n.phrase_begin for n in notes)
    cnt["ticks from the first onset to the last note's end"] += (
        notes[-1].onset + notes[-1].duration - notes[0].onset)
    breaks = sum(1 for a, b in zip(notes, notes[1:])
                 if b.onset - a.onset - a.duration >= BREAK_BEATS * TPQ)
    cnt[f"silences of {float(BREAK_BEATS):g} beats or more"] += breaks


def _choruses(track, cnt):
    """Runs of whole bars whose downbeat has the same chorus number, as Chorus."""
    choruses = []
    first_index, n_beats = track.index[0], track.n_beats
    for b in range(-(-n_beats // BEATS_PER_BAR)):
        i0 = b * BEATS_PER_BAR
        if i0 < first_index or i0 + BEATS_PER_BAR > n_beats:
            continue                                   # a partial bar
        c = track.chorus[i0]
        if c <= 0:
            continue
        if choruses and choruses[-1].id == c and choruses[-1].end == i0 * TPQ:
            choruses[-1] = choruses[-1]._replace(end=(i0 + BEATS_PER_BAR) * TPQ)
        else:
            if any(ch.id == c for ch in choruses):
                cnt["chorus numbers split in two runs"] += 1
            choruses.append(Chorus(c, i0 * TPQ, (i0 + BEATS_PER_BAR) * TPQ))
    return choruses


def _count_choruses(notes, choruses, track, cnt):
    """Counts choruses annotated off a downbeat, notes outside every chorus, choruses
    and bars."""
    beat_chorus, n_beats = track.chorus, track.n_beats
    for i in range(track.index[0] + 1, n_beats):
        if beat_chorus[i] != beat_chorus[i - 1] and beat_chorus[i] > 0 and i % BEATS_PER_BAR:
            cnt["choruses annotated to start off a downbeat (moved to a bar line)"] += 1
    starts = [c.start for c in choruses]
    in_chorus = sum(1 for n in notes
                    if (k := bisect_right(starts, n.onset) - 1) >= 0 and n.onset < choruses[k].end)
    cnt["notes outside every chorus (pickups, partial last bars)"] += len(notes) - in_chorus
    cnt["choruses"] += len(choruses)
    cnt["bars"] += -(-n_beats // BEATS_PER_BAR)
