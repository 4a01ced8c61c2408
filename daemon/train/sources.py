"""Which corpus a `jazzd train --corpus` names, read into training pieces.

- `wjazzd:DIR`, or a directory that holds the Weimar Jazz Database CSV export
  (solos.csv, mcsv_melody/, mcsv_beat/): the transcribed jazz solos (wjazzd.py). The
  solos of `hold_out` players (a seeded split by performer) are left out of training
  altogether: the style gap measures the model against them, and a player heard in
  training would flatter it.
- `bach`: the four-part chorales that come with music21.
- any other directory, file list or file: MusicXML, ABC or MIDI read with music21
  (corpus.py), in parallel.

Each source says how its material is to be credited; the model's meta.json keeps it.
"""

import sys
import time
from pathlib import Path

from jazzd.service.errors import EX_USAGE, UserError

WJAZZD_CREDIT = ("Weimar Jazz Database, Jazzomat Research Project, Pfleiderer et al. "
                 "(eds.), Inside the Jazzomat, 2017 (Open Data Commons ODbL 1.0)")
BACH_CREDIT = "J. S. Bach's chorales as encoded in music21's corpus (public domain)"
HOLD_OUT = 12            # players kept out of training for the style gap
HOLD_OUT_SEED = 0


def is_wjazzd(path):
    p = Path(path)
    return (p / "solos.csv").is_file() and (p / "mcsv_melody").is_dir()


def load_pieces(source, log, hold_out=HOLD_OUT, hold_out_seed=HOLD_OUT_SEED, limit=None,
                jobs=None, melody=None, harmony=None, offset_range=None,
                harmony_method=None):
    """(pieces, corpus info for meta.json) of the corpus `source` names."""
    text = str(source)
    if text.startswith("wjazzd:") or (text != "bach" and is_wjazzd(text)):
        return _wjazzd(text.removeprefix("wjazzd:"), log, hold_out, hold_out_seed, limit)
    return _music21(text, log, limit, jobs, melody, harmony, offset_range, harmony_method)


def _wjazzd(root, log, hold_out, seed, limit):
    from jazzd.train import wjazzd
    if not is_wjazzd(root):
        raise UserError(f"--corpus wjazzd:{root}: not a Weimar Jazz Database directory "
                        f"(expected solos.csv, mcsv_melody/ and mcsv_beat/ in it)",
                        status=EX_USAGE)
    t0 = time.perf_counter()
    entries = wjazzd.index_entries(root)
    held = []
    if hold_out:
        _, _, held = wjazzd.split_performers(entries, hold_out, seed)
    names = sorted(e.name for e in entries if e.performer not in set(held))
    if limit:
        names = names[:limit]
    solos, report = wjazzd.read_corpus(root, names=names)
    pieces = [wjazzd.solo_piece(s) for s in solos]
    log(f"read {len(pieces)} solos of {len({s.performer for s in solos})} players from "
        f"{root}; {len(report.skipped)} skipped; held out for the style gap: "
        f"{', '.join(held) or 'none'} ({time.perf_counter() - t0:.0f} s)")
    info = {"source": f"Weimar Jazz Database ({root})", "credit": WJAZZD_CREDIT,
            "files": len(names), "skipped": [{"file": n, "problem": p}
                                             for n, p in report.skipped],
            "held_out_players": held, "hold_out_seed": seed,
            "reading_seconds": round(time.perf_counter() - t0, 1)}
    return pieces, info


def _music21(text, log, limit, jobs, melody, harmony, offset_range, harmony_method):
    from jazzd.train import corpus
    try:
        spec = corpus.CorpusSpec.from_args(text, melody=melody, harmony=harmony,
                                           offset_range=offset_range,
                                           harmony_method=harmony_method)
        paths = spec.paths(limit=limit)
    except ValueError as e:
        raise UserError(str(e), status=EX_USAGE) from None
    if not paths:
        raise UserError(f"corpus {text!r}: no MusicXML, ABC or MIDI files found")
    log(f"extracting {len(paths)} file(s) from {spec.describe()} ({jobs or 'auto'} jobs)")
    t0 = time.perf_counter()
    pieces, skipped = [], []
    for res in corpus.build(paths, spec, jobs=jobs):
        if res.error:
            skipped.append({"file": res.name, "problem": res.error})
            print(f"jazzd train: skipped {res.name}: {res.error}", file=sys.stderr)
        else:
            pieces.append(res.piece)
    log(f"extracted {len(pieces)} pieces, skipped {len(skipped)} "
        f"({time.perf_counter() - t0:.0f} s)")
    info = {"source": spec.describe(), "files": len(paths), "skipped": skipped,
            "harmony": spec.harmony_method,
            "credit": BACH_CREDIT if text == "bach" else "see the corpus's own licence",
            "extraction_seconds": round(time.perf_counter() - t0, 1)}
    return pieces, info
