"""An offline solo over a chord chart: what `jazzd generate` writes.

It runs exactly the daemon's improviser path (`jazzd.model.performer.Performer`): one
`next_value` per onset with the LSTM state carried across every bar, and each pitch
realised against the chord at that note's onset. Only the clock differs: here time is
counted in ticks instead of waited for. Same seed, same chart, same settings: the same
bytes.
"""

from jazzd.grammar.swing import swung_beats
from jazzd.offline.line import play_span


def play(performer, timeline, n_bars, swing, gate=0.9):
    """The solo over `n_bars` bars of `timeline` (a ChordTimeline in ticks).

    Returns [(onset_beats, duration_beats, pitch, velocity)], onsets swung. The loop is
    the daemon's: ask for the value at this onset, realise it against the chord now,
    advance by its length.
    """
    notes = []
    play_span(performer, timeline, 0, n_bars * performer.bar_ticks, swing, gate, notes)
    return notes


def voicing(chord):
    """A block voicing: the bass (slash bass or root) in octave 2, the chord tones
    stacked inside E3..Eb4."""
    if not chord:
        return []
    bass = chord.bass if chord.bass is not None else chord.root
    notes = [36 + (bass - 36) % 12]
    notes += sorted(52 + (pc - 52) % 12 for pc in range(12) if chord.tones >> pc & 1)
    return notes


def chord_track(timeline, n_bars, bar_ticks, swing):
    """[(onset_beats, duration_beats, pitches, velocity)]: each chart entry struck until
    the next one (a chord restruck in the next bar is struck again)."""
    end = n_bars * bar_ticks
    entries = [(t, c) for t, c in timeline if t < end]
    out = []
    for i, (t, c) in enumerate(entries):
        nxt = entries[i + 1][0] if i + 1 < len(entries) else end
        pitches = voicing(c)
        if pitches:
            on = swung_beats(t, swing)
            out.append((on, swung_beats(nxt, swing) - on - 0.05, pitches, 72))
    return out


def generate(cfg, chart, n_bars, seed=None, model=None, bpm=None):
    """(solo notes, chord notes, performer) for `n_bars` of `chart` under `cfg`, played
    at `bpm` (None: the config's `tempo.bpm`, which `jazzd generate --bpm` sets): the
    network hears the tempo it plays at."""
    from jazzd.model.performer import Performer, load_performer
    perf = (Performer(model, cfg, seed=seed) if model is not None
            else load_performer(cfg, seed=seed))
    if bpm is not None:
        perf.set_tempo(bpm)
    timeline = chart.timeline(n_bars)
    swing = cfg["tempo"]["swing"]
    solo = play(perf, timeline, n_bars, swing, cfg["improviser"]["gate"])
    chords = chord_track(timeline, n_bars, chart.bar_ticks, swing)
    return solo, chords, perf


def generate_trade(cfg, chart, n_bars, call, seed=None, model=None):
    """(solo notes, chord notes, performer, the player's notes heard) of a trade over
    `n_bars` of `chart` under `cfg` (its `interplay` section: trade_bars, first, echo),
    the player's turns taken from `call` [(onset_beats, duration_beats, pitch)]."""
    from jazzd.grammar.turns import Turns
    from jazzd.model.performer import Performer, load_performer
    from jazzd.offline.trade import trade
    perf = (Performer(model, cfg, seed=seed) if model is not None
            else load_performer(cfg, seed=seed))
    inter = cfg["interplay"]
    perf.echo = inter["echo"]
    timeline = chart.timeline(n_bars)
    swing = cfg["tempo"]["swing"]
    turns = Turns(inter["trade_bars"], chart.beats_per_bar, inter["first"])
    solo, heard, _ = trade(perf, timeline, n_bars, swing, cfg["improviser"]["gate"],
                           turns, call)
    chords = chord_track(timeline, n_bars, chart.bar_ticks, swing)
    return solo, chords, perf, heard
