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

# values, timelines, parse/unparse, clean-up and charts (all cheap to import)
from grammar.values import (KINDS, Value, classify, format_seed_style,  # noqa: E402
                            format_value, parse_value)
from grammar.timeline import ChordTimeline  # noqa: E402
from grammar.parse import parse_melody  # noqa: E402
from grammar.unparse import realize  # noqa: E402
from grammar.prune import clean, snap_ticks  # noqa: E402
from grammar.chart import Chart, ChartError, parse_chart  # noqa: E402

__all__ += ["KINDS", "Value", "classify", "format_value", "format_seed_style", "parse_value",
            "ChordTimeline", "parse_melody", "realize", "clean", "snap_ticks", "Chart",
            "ChartError", "parse_chart"]
