"""Trading turns on the bar grid: whose turn a tick is in, and where jazzd's turns lie.

Turns of `bars` bars alternate from tick 0, the downbeat of bar 1 (the clock's beat 0:
a MIDI Start, a song position counted from it, or with the internal clock the first note
played after silence). `first` ("player" or "jazzd") takes turn 0. Pure integer
arithmetic on ticks, shared by the live improviser and `jazzd generate --trade`.
"""

from jazzd.grammar.pitch import TPQ

PLAYER, JAZZD = "player", "jazzd"


class Turns:
    """The turn grid of one trade: `bars` bars a turn, `beats_per_bar` beats a bar."""

    __slots__ = ("length", "first")

    def __init__(self, bars, beats_per_bar, first=PLAYER):
        if first not in (PLAYER, JAZZD):
            raise ValueError(f"first must be {PLAYER!r} or {JAZZD!r}, got {first!r}")
        self.length = bars * beats_per_bar * TPQ       # ticks per turn
        self.first = first

    def index(self, tick):
        """The number of the turn `tick` falls in (0 = the first)."""
        return int(tick // self.length)

    def owner(self, tick):
        """PLAYER or JAZZD: whose turn `tick` (an int or float tick) is in."""
        even = self.index(tick) % 2 == 0
        return self.first if even else (JAZZD if self.first == PLAYER else PLAYER)

    def start(self, index):
        return index * self.length

    def jazzd_turn(self, tick):
        """(start, end) of jazzd's turn that `tick` is in, or else of its next one."""
        i = self.index(tick)
        if self.owner(tick) != JAZZD:
            i += 1
        return self.start(i), self.start(i + 1)
