"""The daemon's improvising loop with time counted in ticks instead of waited for: one
`next_value` per onset, each pitch realised against the chord at its onset. A solo
(`solo.play`) is one span of it, a trade (`trade.trade`) one span per jazzd turn."""

from jazzd.grammar.swing import swung_beats


def play_span(performer, timeline, start, stop, swing, gate, out, first_note=False):
    """The daemon's loop over ticks [start, stop), appending notes to `out`; a note
    tied over `stop` stops there. `first_note`: the first value is a note (a trading
    turn's downbeat). Returns the tick where the line ends."""
    bar = performer.bar_ticks
    tick = start
    while tick < stop:
        bar_tick = tick % bar
        chord = timeline.at(tick)
        value = performer.next_value(bar_tick, chord, no_rest=first_note)
        first_note = False
        pitch = performer.realize(value, chord, bar_tick)
        if pitch is not None:
            on = swung_beats(tick, swing)
            length = swung_beats(min(tick + value.ticks, stop), swing) - on
            out.append((on, gate * length, pitch, performer.velocity(bar_tick)))
        tick += value.ticks
    return tick
