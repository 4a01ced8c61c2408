"""The jazz grammar: chords, chord scales, recognition, values. Pure music logic.

The main names are re-exported here; importing `grammar` stays cheap (no music21).
"""

from jazzd.grammar.pitch import TPQ
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD, QUALITIES, Chord, ChordSymbolError
# imported eagerly: a lazy attribute would be shadowed by the submodule jazzd.grammar.recognize.
# Its template table costs a few ms at import, never at the first chord.
from jazzd.grammar.recognize import recognize

__all__ = ["TPQ", "Chord", "NO_CHORD", "QUALITIES", "ChordSymbolError", "parse_symbol",
           "recognize"]

# values, timelines, parse/unparse, clean-up and charts (all cheap to import)
from jazzd.grammar.values import (KINDS, Value, classify, format_seed_style,  # noqa: E402
                            format_value, parse_value)
from jazzd.grammar.timeline import ChordTimeline  # noqa: E402
from jazzd.grammar.parse import parse_melody  # noqa: E402
from jazzd.grammar.unparse import realize  # noqa: E402
from jazzd.grammar.prune import clean, snap_ticks  # noqa: E402
from jazzd.grammar.chart import Chart, ChartError, parse_chart  # noqa: E402

__all__ += ["KINDS", "Value", "classify", "format_value", "format_seed_style", "parse_value",
            "ChordTimeline", "parse_melody", "realize", "clean", "snap_ticks", "Chart",
            "ChartError", "parse_chart"]
