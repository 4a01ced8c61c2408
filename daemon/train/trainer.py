"""Train on extracted corpus pieces and write a model directory.

Two variants are trained in one run on the same split: *plain* (the previous value
only) and *conditioned* (plus `jazzd.grammar.features.condition` of the next onset:
its place in the beat, the beat's weight, the chord family). The one with the lower
validation loss is kept; both numbers go to meta.json and the log.
"""

import platform
import time

from jazzd.model.store import save_model
from jazzd.service.errors import UserError
from jazzd.train.fit import fit_stream, fit_variant, stateful_metrics
from jazzd.train.sequences import make_windows, piece_steps, split_pieces
from jazzd.train.vocab import Encoder, build_vocab

DEFAULTS = {"embed": 64, "units": 128, "window": 32, "batch": 32, "min_count": 3,
            "val_fraction": 0.1, "patience": 6, "learning_rate": 0.005, "mode": "stream",
            "streams": 32, "dropout": 0.3}


def _versions():
    import importlib.metadata as md
    out = {"python": platform.python_version()}
    for pkg in ("numpy", "tensorflow", "tensorflow-cpu", "keras", "music21"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _grammar_version():
    import jazzd.grammar as grammar
    from jazzd.grammar import values
    return getattr(grammar, "__version__", None) or getattr(values, "VERSION", None) \
        or _jazzd_version()


def _jazzd_version():
    from jazzd import __version__
    return __version__


def train_pieces(pieces, out, variant="both", epochs=100, units=128, seed=1, log=print,
                 corpus_info=None, **overrides):
    """Train on extracted corpus pieces and write the model directory `out`.

    Returns the meta dict written. `overrides` may set any key of DEFAULTS.
    """
    from jazzd.grammar import features
    hp = dict(DEFAULTS, epochs=epochs, units=units, **overrides)
    t_start = time.perf_counter()
    if len(pieces) < 2:
        raise UserError(f"need at least 2 usable pieces to train and validate, got "
                        f"{len(pieces)}")
    steps = [piece_steps(p) for p in pieces]
    tr_idx, va_idx = split_pieces(len(pieces), hp["val_fraction"], seed)
    tokens, index, frequent = build_vocab([steps[i][0] for i in tr_idx], hp["min_count"])
    enc = Encoder(index, frequent)
    seqs = [([enc(v) for v in vals], conds) for vals, conds in steps]
    n_values = sum(len(s[0]) for s in seqs)
    distinct = len({v for vals, _ in steps for v in vals})
    W = hp["window"]
    data = None
    if hp["mode"] == "windows":
        data = (make_windows([seqs[i] for i in tr_idx], W, max(1, W // 2)),
                make_windows([seqs[i] for i in va_idx], W, W))
    V = len(tokens)
    log(f"corpus: {len(pieces)} pieces ({len(tr_idx)} train, {len(va_idx)} validation), "
        f"{n_values} values, {distinct} distinct, vocabulary {V} "
        f"(values seen < {hp['min_count']} times mapped to the nearest frequent one); "
        f"training {hp['mode']}: windows of {W}")

    variants = ["plain", "conditioned"] if variant == "both" else [variant]
    results = {}
    val_seqs = [seqs[i] for i in va_idx]
    for name in variants:
        C = features.WIDTH if name == "conditioned" else 0
        if hp["mode"] == "stream":
            results[name] = fit_stream(name, [seqs[i] for i in tr_idx], val_seqs, tokens,
                                       C, hp, seed, log)
            continue
        results[name] = fit_variant(name, data, V, C, hp, seed, log)
        loss, acc = stateful_metrics(results[name][0], tokens, val_seqs, C)
        results[name][1].update(val_loss_stateful=round(loss, 5),
                                val_accuracy_stateful=round(acc, 5))
        log(f"{name:11s} validation run statefully (one state, never reset): "
            f"loss {loss:.4f}  acc {acc:.4f}")
    best = min(variants, key=lambda n: results[n][1]["val_loss"])
    if len(variants) > 1:
        log("kept: " + best + " (" + ", ".join(
            f"{n} val_loss {results[n][1]['val_loss']:.4f}" for n in variants) + ")")
    meta = {
        "variant": best,
        "condition": features.SPEC if best == "conditioned" else None,
        "variants": {n: results[n][1] for n in variants},
        "corpus": dict(corpus_info or {}, pieces=len(pieces), train_pieces=len(tr_idx),
                       validation_pieces=len(va_idx), values=n_values,
                       distinct_values=distinct,
                       validation_names=[pieces[i].name for i in va_idx]),
        "training": {k: hp[k] for k in ("mode", "embed", "units", "window", "batch",
                                        "streams", "dropout", "min_count", "val_fraction", "patience",
                                        "learning_rate", "epochs")},
        "remapped_values": sum(enc.remapped.values()),
        "seed": seed,
        "grammar_version": _grammar_version(),
        "jazzd_version": _jazzd_version(),
        "versions": _versions(),
        "training_seconds": round(time.perf_counter() - t_start, 1),
    }
    save_model(out, results[best][0], tokens, meta)
    log(f"wrote {out} ({best}, V={V}, E={hp['embed']}, U={hp['units']})")
    return meta
