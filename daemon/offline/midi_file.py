"""Standard MIDI files for offline performances: write `generate`'s output, read a
performance back for `evaluate`. mido only; times in beats (floats, as played).
"""

import re

import mido

from jazzd.service.errors import EX_NOINPUT, UserError

PPQ = 480
MARKER = "jazzd"     # a text event "jazzd swing=0.6 ..." tells `evaluate` how it was played


def _ticks(beats):
    return int(round(beats * PPQ))


def write_performance(path, solo, chords, bpm, beats_per_bar=4, solo_channel=0,
                      chord_channel=1, info=None, solo_program=66, chord_program=0,
                      extra=()):
    """Write a type-1 SMF: track "solo" (tempo, meter, info text, the line) and track
    "chords" (block voicings on their own channel), then the `extra` tracks.

    solo: [(onset_beats, duration_beats, pitch, velocity)];
    chords: [(onset_beats, duration_beats, [pitches], velocity)];
    info: {key: value} written as one text event, e.g. {"swing": 0.6, "seed": 1};
    extra: [(name, notes like solo's, channel, program)], e.g. the player's line of a
    trade. Programs are the 0-based numbers of the program-change message (66: General
    MIDI's tenor sax, number 67 in its 1-based list); solo_program None sends none.
    Everything is integer ticks and sorted deterministically, so equal input gives a
    byte-identical file.
    """
    mid = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    head = [mido.MetaMessage("track_name", name="solo", time=0),
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
            mido.MetaMessage("time_signature", numerator=beats_per_bar, denominator=4,
                             time=0)]
    if info:
        text = MARKER + " " + " ".join(f"{k}={v}" for k, v in info.items())
        head.append(mido.MetaMessage("text", text=text, time=0))
    if solo_program is not None:     # midi.program: null sends none (the synth's own sound)
        head.append(mido.Message("program_change", channel=solo_channel,
                                 program=solo_program))
    mid.tracks.append(_track(head, [(o, d, [p], v) for o, d, p, v in solo], solo_channel))
    head = [mido.MetaMessage("track_name", name="chords", time=0),
            mido.Message("program_change", channel=chord_channel, program=chord_program)]
    mid.tracks.append(_track(head, chords, chord_channel))
    for name, notes, channel, program in extra:
        head = [mido.MetaMessage("track_name", name=name, time=0),
                mido.Message("program_change", channel=channel, program=program)]
        mid.tracks.append(_track(head, [(o, d, [p], v) for o, d, p, v in notes], channel))
    try:
        mid.save(path)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None
    return mid


def _track(head, notes, channel):
    events = []   # (tick, order, message): note_offs (0) before note_ons (1) at a tick
    for onset, dur, pitches, vel in notes:
        on, off = _ticks(onset), _ticks(onset + dur)
        if off <= on:
            off = on + 1
        for p in pitches:
            events.append((on, 1, p, mido.Message("note_on", channel=channel, note=p,
                                                  velocity=vel)))
            events.append((off, 0, p, mido.Message("note_off", channel=channel, note=p,
                                                   velocity=0)))
    events.sort(key=lambda e: e[:3])
    track = mido.MidiTrack(head)
    now = 0
    for tick, _, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def read_info(mid):
    """The key=value pairs of a jazzd text event, if the file has one."""
    for track in mid.tracks:
        for msg in track:
            if msg.type == "text" and msg.text.startswith(MARKER + " "):
                return dict(re.findall(r"(\w+)=(\S+)", msg.text))
    return {}


def open_midi(path):
    """mido.MidiFile of `path`, or a UserError naming the file and the problem."""
    try:
        return mido.MidiFile(path)
    except FileNotFoundError:
        raise UserError(f"no such file: {path}", status=EX_NOINPUT) from None
    except IsADirectoryError:
        raise UserError(f"{path} is a directory, not a MIDI file", status=EX_NOINPUT) from None
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as e:
        raise UserError(f"{path} is not a readable standard MIDI file ({e})") from None


def _track_notes(track):
    """[(on_tick, off_tick, pitch)] of one track, pairing each note_off with its note_on."""
    now, sounding, out = 0, {}, []
    for msg in track:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            key = (msg.channel, msg.note)
            if key in sounding:       # restruck without a note_off: end the first one
                out.append((sounding.pop(key), now, msg.note))
            sounding[key] = now
        elif msg.type in ("note_off", "note_on"):
            start = sounding.pop((msg.channel, msg.note), None)
            if start is not None:
                out.append((start, now, msg.note))
    out.extend((start, now, note) for (_, note), start in sounding.items())
    out.sort()
    return out


def _tempo_map(mid):
    """[(tick, tempo µs/beat)] from every track's set_tempo events (default 120 bpm)."""
    changes = []
    for track in mid.tracks:
        now = 0
        for msg in track:
            now += msg.time
            if msg.type == "set_tempo":
                changes.append((now, msg.tempo))
    changes.sort()
    if not changes or changes[0][0] > 0:
        changes.insert(0, (0, mido.bpm2tempo(120)))
    return changes


def _seconds(tick, tempo_map, ppq):
    sec, last_tick, tempo = 0.0, 0, tempo_map[0][1]
    for t, tp in tempo_map:
        if t > tick:
            break
        sec += (t - last_tick) * tempo / 1e6 / ppq
        last_tick, tempo = t, tp
    return sec + (tick - last_tick) * tempo / 1e6 / ppq


def choose_track(mid, track=None):
    """The index of the solo track: `track` as an index or a name, else the one named
    "solo", else the first track with notes."""
    names = [next((m.name for m in t if m.type == "track_name"), "") for t in mid.tracks]
    if track is not None:
        if str(track).isdigit():
            i = int(track)
            if i >= len(mid.tracks):
                raise UserError(f"no track {i}: the file has {len(mid.tracks)} tracks "
                                f"({_listing(names)})")
            return i
        for i, n in enumerate(names):
            if n == track:
                return i
        raise UserError(f"no track named {track!r}; tracks: {_listing(names)}")
    if "solo" in names:
        return names.index("solo")
    for i, t in enumerate(mid.tracks):
        if any(m.type == "note_on" and m.velocity > 0 for m in t):
            return i
    raise UserError("the file has no notes in any track")


def _listing(names):
    return ", ".join(f"{i}: {n!r}" for i, n in enumerate(names)) or "none"


def read_notes(mid, track=None, bpm=None):
    """The notes of the solo track as [(onset_beats, duration_beats, pitch)] and the
    tempo used. Beats come from the file's own tick grid, whatever its tempo changes
    (a file's bars are in ticks: read through seconds at one tempo, a file with a
    ritardando would drift off them), unless `bpm` is given: then the file's times in
    seconds are read at that tempo (for a live recording made with a different tempo
    in the file)."""
    i = choose_track(mid, track)
    raw = _track_notes(mid.tracks[i])
    if not raw:
        raise UserError(f"track {i} has no notes")
    tmap = _tempo_map(mid)
    file_bpm = round(mido.tempo2bpm(tmap[0][1]), 3)   # µs per beat: 130 reads 130.00013
    ppq = mid.ticks_per_beat
    if bpm is None:
        notes = [(a / ppq, (b - a) / ppq, p) for a, b, p in raw]
        return notes, file_bpm, i
    use = bpm or file_bpm
    notes = []
    for a, b, p in raw:
        sa, sb = _seconds(a, tmap, ppq), _seconds(b, tmap, ppq)
        notes.append((sa * use / 60.0, (sb - sa) * use / 60.0, p))
    return notes, use, i
