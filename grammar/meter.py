"""The metre: which beats of a bar are strong. The conditioned model, the style's
strong-beat weight and the musical bars all read the bar the same way."""

from jazzd.grammar.pitch import TPQ


def strong_beats(beats_per_bar):
    """Beat indices (0-based) that count as "beats 1 and 3": the downbeat, and the
    middle of the bar when the bar splits evenly in two halves of two beats or more."""
    if beats_per_bar >= 4 and beats_per_bar % 2 == 0:
        return (0, beats_per_bar // 2)
    return (0,)


def beat_strength(bar_tick, beats_per_bar=4):
    """0 = downbeat, 1 = the bar's other strong beat, 2 = weak."""
    beat = (bar_tick // TPQ) % beats_per_bar
    if beat == 0:
        return 0
    if beats_per_bar >= 4 and beats_per_bar % 2 == 0 and beat == beats_per_bar // 2:
        return 1
    if beats_per_bar in (6, 9, 12) and beat % 3 == 0:
        return 1
    return 2
