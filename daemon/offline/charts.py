"""Chord charts from the command line or a file, with errors that name the source."""

import os

from jazzd.grammar.chart import ChartError, parse_chart
from jazzd.service.errors import UserError


def read_chart(text, beats_per_bar):
    """A Chart from chart text, or from a file when `text` names one (lines starting
    with "#" are comments)."""
    where = "chord chart"
    if os.path.isfile(text):
        where = text
        try:
            with open(text, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"cannot read chart file {where}: {e}") from None
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    try:
        return parse_chart(text, beats_per_bar)
    except ChartError as e:
        raise UserError(f"{where}: {e}") from None
