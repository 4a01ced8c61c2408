"""Train on extracted corpus pieces and write a model directory.

The split is by performer when the pieces say who played them (no player in both
halves: jazzd is judged on players it has never heard), else by piece; a seeded
shuffle either way. One cell is trained (`--cell`), or several on the same split for
comparison (the best by validation loss is written; all their reports go to
meta.json).
"""

import platform
import time

from jazzd.grammar import features
from jazzd.model.store import save_model
from jazzd.service.errors import UserError
from jazzd.train.fit import fit
from jazzd.train.sequences import piece_rows, split_by
from jazzd.train.vocab import build_vocab

DEFAULTS = {"units": 128, "window": 32, "batch": 32, "streams": 32, "min_count": 3,
            "val_fraction": 0.1, "patience": 4, "learning_rate": 0.003, "dropout": 0.2,
            "epochs": 40, "conv_layers": 6}


def _versions():
    import importlib.metadata as md
    out = {"python": platform.python_version()}
    for pkg in ("numpy", "tensorflow", "keras", "music21"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _jazzd_version():
    from jazzd import __version__
    return __version__


def train_pieces(pieces, out, cells=("lstm",), seed=1, log=print, corpus_info=None,
                 **overrides):
    """Train on `pieces` and write the model directory `out`; returns the meta dict.

    `overrides` may set any key of DEFAULTS."""
    hp = dict(DEFAULTS, **{k: v for k, v in overrides.items() if v is not None})
    t_start = time.perf_counter()
    if len(pieces) < 2:
        raise UserError(f"need at least 2 usable pieces to train and validate, got "
                        f"{len(pieces)}")
    by_player = all(p.performer for p in pieces) and \
        len({p.performer for p in pieces}) >= 4
    key = (lambda p: p.performer) if by_player else (lambda p: p.name)
    train, val = split_by(pieces, key, hp["val_fraction"], seed)
    if not train or not val:
        raise UserError("the corpus is too small to split into training and validation")
    vocab = build_vocab([p.values for p in train], hp["min_count"])
    train_rows = [piece_rows(p, vocab) for p in train]
    val_rows = [piece_rows(p, vocab) for p in val]
    n_values = sum(len(p.values) for p in pieces)
    log(f"corpus: {len(pieces)} pieces ({len(train)} train, {len(val)} validation, split "
        f"by {'performer' if by_player else 'piece'}), {n_values} values; "
        f"{len(vocab.durations)} durations, {len(vocab.steps)} steps")
    results = {}
    for cell in cells:
        results[cell] = fit(cell, train_rows, val_rows, vocab, hp, seed, log)
    best = min(cells, key=lambda c: results[c][1]["loss"])
    if len(cells) > 1:
        log("kept: " + best + " (" + ", ".join(
            f"{c} val loss {results[c][1]['loss']:.4f}" for c in cells) + ")")
    meta = {
        "cell": best,
        "condition": features.SPEC,
        "cells": {c: results[c][1] for c in cells},
        "corpus": dict(corpus_info or {}, pieces=len(pieces), train_pieces=len(train),
                       validation_pieces=len(val), values=n_values,
                       split="performer" if by_player else "piece",
                       validation=sorted({key(p) for p in val}),
                       remapped_durations=sum(vocab.remapped.values())),
        "training": {k: hp[k] for k in DEFAULTS},
        "seed": seed,
        "jazzd_version": _jazzd_version(),
        "versions": _versions(),
        "training_seconds": round(time.perf_counter() - t_start, 1),
    }
    save_model(out, results[best][0], vocab.as_dict(), meta)
    log(f"wrote {out} ({best}, U={hp['units']})")
    return meta
