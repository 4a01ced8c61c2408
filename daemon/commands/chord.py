"""`jazzd chord`: name the chord of MIDI note numbers, or spell a chord symbol.

    jazzd chord 43 53 59 64          -> G13
    jazzd chord --symbol Bbmaj7      -> Bb D F A     (note names, bass first, then the
                                                     chord's degrees upward from the root)
    jazzd chord --batch < queries    -> one answer per query line

Notes that form no chord print "N.C."; so does the symbol "N.C.". In --batch mode each
line is either MIDI note numbers (spaces or commas) or "--symbol FIG"; a bad line prints
"error: ..." and the next line is still answered. Output is flushed per line, so a tool
can drive it as a coprocess. The exit status is 65 if any query was bad.
"""

import re
import sys

from jazzd.service.errors import EX_DATAERR, EX_USAGE, UserError
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import ChordSymbolError
from jazzd.grammar.recognize import recognize


def _notes(words):
    notes = []
    for w in words:
        if not re.fullmatch(r"[+-]?\d+", w.strip()):
            raise UserError(f"not a MIDI note number: {w!r}")
        n = int(w)
        if not 0 <= n <= 127:
            raise UserError(f"MIDI note out of range 0-127: {n}")
        notes.append(n)
    return notes


def name_notes(words):
    """The symbol of the chord of note-number strings ("N.C." when none)."""
    return recognize(_notes(words)).symbol


def spell_symbol(text):
    """The notes of a chord symbol as names, bass first ("N.C." for no chord)."""
    try:
        chord = parse_symbol(text)
    except ChordSymbolError as e:
        raise UserError(str(e)) from None
    return " ".join(chord.spelled()) if chord else "N.C."


def answer(line):
    """One --batch answer: note numbers, or a "--symbol FIG" line."""
    line = line.strip()
    m = re.fullmatch(r"--symbol(?:=|\s+)(.*)", line)
    if m:
        return spell_symbol(m.group(1))
    if line.startswith("-") and not re.match(r"-\d", line):
        raise UserError(f"unknown query {line!r} (expected note numbers or --symbol FIG)")
    return name_notes(w for w in re.split(r"[\s,]+", line) if w)


def _batch(stdin, stdout):
    bad = 0
    for line in stdin:
        if not line.strip():
            print("", file=stdout, flush=True)
            continue
        try:
            out = answer(line)
        except UserError as e:
            bad += 1
            out = f"error: {e}"
        print(out, file=stdout, flush=True)
    return EX_DATAERR if bad else 0


def main(args, stdin=None, stdout=None):
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    if args.batch:
        if args.notes or args.symbol is not None:
            raise UserError("--batch reads its queries from stdin: give no notes or --symbol",
                            EX_USAGE)
        return _batch(stdin, stdout)
    if args.symbol is not None:
        if args.notes:
            raise UserError("give either note numbers or --symbol, not both", EX_USAGE)
        print(spell_symbol(args.symbol), file=stdout)
        return 0
    if not args.notes:
        raise UserError("give MIDI note numbers (e.g. 43 53 59 64), --symbol FIG, or --batch",
                        EX_USAGE)
    print(name_notes(args.notes), file=stdout)
    return 0
