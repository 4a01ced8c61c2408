"""The jazz grammar: chords, chord scales, recognition, values. Pure music logic.

The main names are re-exported here; importing `grammar` stays cheap (no music21).
"""

from grammar.pitch import TPQ
from grammar.chords import NO_CHORD, QUALITIES, Chord, ChordSymbolError, parse_symbol

__all__ = ["TPQ", "Chord", "NO_CHORD", "QUALITIES", "ChordSymbolError", "parse_symbol",
           "recognize"]


def __getattr__(name):
    # recognize builds its template table on first import; load it only when used
    if name == "recognize":
        from grammar.recognize import recognize
        return recognize
    raise AttributeError(f"module 'grammar' has no attribute {name!r}")
