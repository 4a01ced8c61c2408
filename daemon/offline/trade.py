"""A traded chorus offline: what `jazzd generate --trade N --call PLAYER.mid` writes.

The player's turns are taken from a recorded line (their notes in those bars); jazzd
plays the other turns. It is the live path with time counted instead of waited for:
the same `Performer`, the same `Ear` telling it the player's notes in the player's
turns (parsed against the chart's chord at each onset and fed through the network),
the same turn grid (`jazzd.grammar.turns`), jazzd's first value of a turn a note on its
downbeat, and its last note cut at the next player's downbeat.
"""

from jazzd.grammar.turns import PLAYER
from jazzd.model.ear import Ear
from jazzd.offline.line import play_span


def trade(performer, timeline, n_bars, swing, gate, turns, call):
    """jazzd's side of a trade over `n_bars` bars of `timeline`.

    `turns`: a `jazzd.grammar.turns.Turns`; `call`: the player's notes
    [(onset_beats, duration_beats, pitch)] as played (swung) from bar 1, of which those
    starting in the player's turns are heard. Returns (solo, player, answers): the
    solo [(onset_beats, duration_beats, pitch, velocity)] as `solo.play` gives it, the
    player's notes that were heard [(onset, duration, pitch)], and per turn
    (owner, start tick, end tick).
    """
    bar = performer.bar_ticks
    end = n_bars * bar
    ear = Ear(performer, swing, timeline.at, bar)
    events = []                       # (beats, 0 off / 1 on, pitch, note)
    for note in call:
        onset, dur, pitch = note
        events.append((onset, 1, pitch, note))
        events.append((onset + dur, 0, pitch, note))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    solo, heard, spans = [], [], []
    i = 0
    for start in range(0, end, turns.length):
        stop = min(start + turns.length, end)
        owner = turns.owner(start)
        spans.append((owner, start, stop))
        if owner == PLAYER:
            while i < len(events) and ear.tick_of(events[i][0]) < stop:
                beats, on, pitch, note = events[i]
                i += 1
                if not on:
                    ear.off(beats, pitch)
                    continue
                tick = ear.tick_of(beats)
                if tick >= start:
                    ear.on(tick, pitch, timeline.at(tick))
                    heard.append(note)
            continue
        while i < len(events) and ear.tick_of(events[i][0]) < stop:
            beats, on, pitch, _ = events[i]       # the sound of a note from the
            if not on:                            # player's turn may stop in jazzd's
                ear.off(beats, pitch)
            i += 1
        ear.flush(start)
        ear.answered()
        tick = play_span(performer, timeline, start, stop, swing, gate, solo,
                         first_note=True)
        performer.end_phrase()
        ear.position = tick
    return solo, heard, spans

