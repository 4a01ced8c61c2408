"""The Weimar Jazz Database export's CSV tables: `solos.csv`, the index of solos, and
one file's rows and cells, with errors that name the file and line."""

import csv
import os
from typing import NamedTuple

from jazzd.service.errors import EX_NOINPUT, UserError

MELODY_COLUMNS = ("onset", "duration", "period", "division", "bar", "beat", "tatum",
                  "beat_duration", "signature", "pitch", "phrase_begin", "chorus_id", "chord")
BEAT_COLUMNS = ("onset", "duration", "period", "bar", "beat", "signature", "chord",
                "chorus_id")


class WjazzdError(UserError):
    """The database directory or one of its files cannot be read; names the file."""

    status = EX_NOINPUT


class SoloSkipped(Exception):
    """A solo left out of the corpus; the message says why."""


class Entry(NamedTuple):
    name: str             # the file stem
    performer: str
    title: str


def cell(row, col, conv, path, line):
    """`conv(row[col])`, or SoloSkipped naming the file, line and column."""
    try:
        return conv(row[col])
    except (KeyError, TypeError, ValueError):
        raise SoloSkipped(f"{os.path.basename(path)} line {line}: bad {col} "
                          f"{row.get(col)!r}") from None


def table_rows(path, columns):
    """The rows of a CSV file as dicts, or SoloSkipped naming the file and problem."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in columns if c not in (reader.fieldnames or ())]
            if missing:
                raise SoloSkipped(f"{os.path.basename(path)}: no column {', '.join(missing)}")
            return list(reader)
    except FileNotFoundError:
        raise SoloSkipped(f"missing file {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise SoloSkipped(f"cannot read {path}: {e}") from None


def signature(text):
    """A time signature without the quotes the export puts round it."""
    return text.strip("\"' ")


def index_entries(root):
    """The solos listed in `solos.csv`, as Entry (for `split_performers`)."""
    return [Entry(k, p, t) for k, (p, t) in sorted(read_index(root).items())]


def read_index(root):
    """{file stem: (performer, title)} from `solos.csv`."""
    if not os.path.isdir(root):
        raise WjazzdError(f"no Weimar Jazz Database at {root}: not a directory")
    path = os.path.join(root, "solos.csv")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise WjazzdError(f"cannot read {path}: {e.strerror or e}") from None
    out = {}
    for i, r in enumerate(rows):
        try:
            stem = r["file"][:-4] if r["file"].endswith(".csv") else r["file"]
            out[stem] = (r["performer"], r["title"])
        except (KeyError, TypeError):
            raise WjazzdError(f"{path} line {i + 2}: expected columns file, performer, "
                              f"title") from None
    return out
