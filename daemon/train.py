"""`jazzd train`: corpus → values → an embedding + LSTM + softmax, trained with Keras,
exported as a plain model directory (weights.npz, vocab.json, meta.json).

The only module that imports TensorFlow, and only inside functions, so importing it
(e.g. for `build_keras_model` in a benchmark) stays cheap until a model is built.

Choices, and why:

- Two variants are trained in one run on the same split: *plain* (the previous value
  only) and *conditioned* (plus `grammar.features.condition` of the next onset: its
  place in the beat, the beat's weight, the chord family). The one with the lower
  validation loss is kept; both numbers go to meta.json and stdout.
- Validation is split by piece (a seeded shuffle), never by window, so no melody is
  in both halves.
- Training is stateful, as the daemon runs: the training pieces are laid end to end
  (each opened by `<s>`) in 32 parallel streams, cut into windows of `window` values,
  and the LSTM state is carried from window to window (truncated backpropagation
  through time; the piece order is reshuffled, seeded, every epoch). Validation runs
  the NumPy runtime itself over the validation pieces with one state that is never
  reset, so the number reported is what the daemon experiences. The older
  stateless-windows mode (`mode="windows"`: zero state at each window) is kept for
  comparison; measured on the chorales it scores clearly worse when run statefully
  (docs/MODEL.md).
- Rare values (seen fewer than `min_count` times in the training pieces) are mapped
  to the nearest frequent value of the same kind: nearest duration first, then
  nearest interval window. That keeps the vocabulary small and every token learnable.
- Losses reported are exact means over the validation targets, computed with NumPy
  from the kept weights (natural log, per value).
"""

import json
import os
import platform
import sys
import time
from collections import Counter

import numpy as np

from daemon.errors import EX_USAGE, UserError
from daemon.model import START, save_model

DEFAULTS = {"embed": 64, "units": 128, "window": 32, "batch": 32, "min_count": 3,
            "val_fraction": 0.1, "patience": 6, "learning_rate": 0.005, "mode": "stream",
            "streams": 32, "dropout": 0.3}


# --------------------------------------------------------------------------- vocab

def _window_distance(a, b):
    if a.lo is None or b.lo is None:
        return 0 if a.lo is None and b.lo is None else 1000
    return abs(a.lo - b.lo) + abs(a.hi - b.hi)


def nearest_frequent(value, frequent):
    """The frequent value closest to `value`: same kind, nearest duration, then nearest
    window (a phrase start stays a phrase start when it can). None if the kind is absent."""
    best, key = None, None
    for f in frequent:
        if f.kind != value.kind:
            continue
        k = (abs(f.ticks - value.ticks), _window_distance(f, value), f.ticks, f.lo or 0)
        if key is None or k < key:
            best, key = f, k
    return best


def build_vocab(value_lists, min_count):
    """(tokens, mapping): tokens[0] = "<s>", then the frequent values by descending
    count; mapping sends every value seen to a token index."""
    from grammar.values import format_value
    counts = Counter(v for vs in value_lists for v in vs)
    frequent = [v for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], format_value(kv[0])))
                if n >= min_count]
    kinds = {v.kind for v in frequent}
    # a kind with no frequent value keeps its most common value, so it is never lost
    for v, n in counts.most_common():
        if v.kind not in kinds:
            frequent.append(v)
            kinds.add(v.kind)
    tokens = [START] + [format_value(v) for v in frequent]
    index = {v: i + 1 for i, v in enumerate(frequent)}
    return tokens, index, frequent


class Encoder:
    """Values → token ids, mapping unknown and rare values to the nearest frequent one."""

    def __init__(self, index, frequent):
        self.index = dict(index)
        self.frequent = frequent
        self.remapped = Counter()

    def __call__(self, v):
        i = self.index.get(v)
        if i is None or v in self.remapped:
            self.remapped[v] += 1
        if i is None:
            near = nearest_frequent(v, self.frequent)
            if near is None:
                near = min(self.frequent, key=lambda f: (abs(f.ticks - v.ticks), f.kind))
            i = self.index[v] = self.index[near]
        return i


# --------------------------------------------------------------------------- data

def piece_steps(piece):
    """(values, condition indices) of a corpus piece: the condition of each value's own
    onset (the step that predicts it sees it)."""
    from grammar.features import condition_index
    conds = [condition_index(bar_tick, chord, piece.beats_per_bar)
             for _, bar_tick, chord in piece.onsets()]
    return piece.values, conds


def split_pieces(n, val_fraction, seed):
    """Indices (train, val) of n pieces: a seeded shuffle, at least one piece each."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_val = max(1, int(round(n * val_fraction))) if n > 1 else 0
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def make_windows(seqs, window, stride):
    """Stack (token ids, conds) sequences into fixed windows.

    Input at step t is the previous token (`<s>` = 0 before the first value), target the
    value itself; the last window of a piece is padded with weight 0.
    Returns x (N, W) int32, cond (N, W, 3) int32 hot indices, y (N, W), w (N, W) float32.
    """
    xs, cs, ys, ws = [], [], [], []
    for ids, conds in seqs:
        ids = np.asarray(ids, np.int32)
        n = len(ids)
        if n == 0:
            continue
        inp = np.concatenate([[0], ids[:-1]]).astype(np.int32)
        conds = np.asarray(conds, np.int32).reshape(n, 3)
        starts = list(range(0, max(1, n - window + stride), stride))
        if starts[-1] + window < n:
            starts.append(n - window)
        for s in starts:
            e = min(s + window, n)
            k = e - s
            x = np.zeros(window, np.int32)
            y = np.zeros(window, np.int32)
            c = np.zeros((window, 3), np.int32)
            w = np.zeros(window, np.float32)
            x[:k], y[:k], c[:k], w[:k] = inp[s:e], ids[s:e], conds[s:e], 1.0
            c[k:] = conds[-1]
            xs.append(x), ys.append(y), cs.append(c), ws.append(w)
    return np.stack(xs), np.stack(cs), np.stack(ys), np.stack(ws)


def make_streams(seqs, streams, window):
    """The pieces end to end (each opened by `<s>`), cut into `streams` parallel streams
    of consecutive windows, for stateful training: row k * streams + b holds window k of
    stream b, so batch k continues batch k - 1 row for row. The tail that does not fill
    a window in every stream is dropped. Returns x, cond (hot indices), y, w."""
    xs, cs, ys = [], [], []
    for ids, conds in seqs:
        if not len(ids):
            continue
        ids = np.asarray(ids, np.int32)
        xs.append(np.concatenate([[0], ids[:-1]]).astype(np.int32))
        ys.append(ids)
        cs.append(np.asarray(conds, np.int32).reshape(len(ids), 3))
    x, y, c = np.concatenate(xs), np.concatenate(ys), np.concatenate(cs)
    k = len(x) // (streams * window)
    if k == 0:
        raise UserError(f"the corpus is too small for {streams} streams of {window} values "
                        f"({len(x)} values); use a smaller --window")
    n = k * window

    def arrange(a):
        a = a[:streams * n].reshape((streams, k, window) + a.shape[1:])
        return np.ascontiguousarray(np.swapaxes(a, 0, 1).reshape((k * streams, window)
                                                                 + a.shape[3:]))
    return arrange(x), arrange(c), arrange(y), np.ones((k * streams, window), np.float32)


def one_hot_conds(cidx, width):
    """(N, W, 3) hot indices → (N, W, width) float32 one-hot sums."""
    out = np.zeros(cidx.shape[:2] + (width,), np.float32)
    n, w, _ = cidx.shape
    ii, jj = np.meshgrid(np.arange(n), np.arange(w), indexing="ij")
    for k in range(cidx.shape[2]):
        out[ii, jj, cidx[:, :, k]] = 1.0
    return out


# --------------------------------------------------------------------------- keras

def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf
        import keras
    except ImportError as e:
        raise UserError(f"jazzd train needs TensorFlow: pip install 'jazzd[train]' ({e})",
                        status=69) from None
    return tf, keras


def build_keras_model(V, E, U, C, stateful=False, weights=None, batch=None, dropout=0.0):
    """embedding(V, E) [+ condition C] → LSTM(U) → Dense(V) logits, over sequences.

    `stateful=True` builds a batch-1 model that carries its state across calls (the
    runtime's behaviour, used by the parity test and the benchmark). `weights`: a dict
    in the model-directory layout to load.
    """
    tf, keras = _tf()
    batch = batch or (1 if stateful else None)
    tok = keras.Input(shape=(None,), batch_size=batch, dtype="int32", name="token")
    x = keras.layers.Embedding(V, E, name="embedding")(tok)
    inputs = [tok]
    if C:
        cond = keras.Input(shape=(None, C), batch_size=batch, dtype="float32", name="cond")
        x = keras.layers.Concatenate(name="concat")([x, cond])
        inputs.append(cond)
    x = keras.layers.LSTM(U, return_sequences=True, stateful=stateful, dropout=dropout,
                          name="lstm")(x)
    if dropout:     # training only: inference (and the NumPy runtime) ignore it
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    out = keras.layers.Dense(V, name="dense")(x)
    model = keras.Model(inputs if C else tok, out)
    if weights is not None:
        set_weights(model, weights)
    return model


def get_weights(model):
    """The model-directory arrays of a model built by `build_keras_model`."""
    emb, = model.get_layer("embedding").get_weights()
    kernel, recurrent, bias = model.get_layer("lstm").get_weights()
    dk, db = model.get_layer("dense").get_weights()
    return {"embedding": emb, "lstm_kernel": kernel, "lstm_recurrent": recurrent,
            "lstm_bias": bias, "dense_kernel": dk, "dense_bias": db}


def set_weights(model, w):
    model.get_layer("embedding").set_weights([w["embedding"]])
    model.get_layer("lstm").set_weights([w["lstm_kernel"], w["lstm_recurrent"], w["lstm_bias"]])
    model.get_layer("dense").set_weights([w["dense_kernel"], w["dense_bias"]])


def _seed_everything(seed):
    tf, keras = _tf()
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # already enabled, or an old TF
        pass


def masked_metrics(logits, y, w):
    """Exact mean cross-entropy and accuracy over the targets with weight > 0."""
    logits = logits.astype(np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    logz = np.log(np.exp(logits).sum(axis=-1))
    picked = np.take_along_axis(logits, y[..., None], axis=-1)[..., 0]
    nll = logz - picked
    m = w > 0
    acc = (logits.argmax(axis=-1) == y)
    return float(nll[m].mean()), float(acc[m].mean())


def fit_variant(name, data, V, C, hp, seed, log):
    """Train one variant; returns (weights dict, report dict)."""
    tf, keras = _tf()
    _seed_everything(seed)
    (xt, ct, yt, wt), (xv, cv, yv, wv) = data
    model = build_keras_model(V, hp["embed"], hp["units"], C)
    model.compile(optimizer=keras.optimizers.Adam(hp["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=["sparse_categorical_accuracy"])
    if C:
        from grammar.features import WIDTH
        train_x = [xt, one_hot_conds(ct, WIDTH)]
        val_x = [xv, one_hot_conds(cv, WIDTH)]
    else:
        train_x, val_x = xt, xv
    t0 = time.perf_counter()

    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            log(f"{name:11s} epoch {epoch + 1:3d}/{hp['epochs']}: "
                f"loss {logs.get('loss', float('nan')):.3f}  "
                f"acc {logs.get('sparse_categorical_accuracy', float('nan')):.3f}  "
                f"val_loss {logs.get('val_loss', float('nan')):.3f}  "
                f"val_acc {logs.get('val_sparse_categorical_accuracy', float('nan')):.3f}  "
                f"({time.perf_counter() - self.t:.1f} s)")

    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=hp["patience"],
                                         restore_best_weights=True)
    hist = model.fit(train_x, yt, sample_weight=wt, validation_data=(val_x, yv, wv),
                     epochs=hp["epochs"], batch_size=hp["batch"], shuffle=True, verbose=0,
                     callbacks=[stop, Progress()])
    seconds = time.perf_counter() - t0
    val_loss, val_acc = masked_metrics(np.asarray(model.predict(val_x, verbose=0,
                                                                batch_size=256)), yv, wv)
    train_loss, train_acc = masked_metrics(np.asarray(model.predict(train_x, verbose=0,
                                                                    batch_size=256)), yt, wt)
    losses = hist.history.get("val_loss", [])
    report = {"val_loss": round(val_loss, 5), "val_accuracy": round(val_acc, 5),
              "train_loss": round(train_loss, 5), "train_accuracy": round(train_acc, 5),
              "epochs_run": len(losses),
              "best_epoch": int(np.argmin(losses)) + 1 if losses else 0,
              "seconds": round(seconds, 1)}
    log(f"{name:11s} best epoch {report['best_epoch']}: val_loss {val_loss:.4f}  "
        f"val_acc {val_acc:.4f}  ({seconds:.0f} s)")
    return get_weights(model), report


def stateful_metrics(weights, tokens, seqs, C):
    """Mean cross-entropy and accuracy of the NumPy runtime run the daemon's way: one
    state carried through all `seqs` in a row, never reset, `<s>` fed at each piece's
    start. Windowed training never sees states this old; this says whether it matters."""
    from daemon.lstm import LSTMRuntime
    from daemon.model import Model
    from grammar.features import WIDTH
    meta = {"condition": {"width": C}} if C else {}
    rt = LSTMRuntime(Model(weights, tokens, meta))
    cond = np.zeros(WIDTH if C else 0, np.float32)
    nll, hits, n = 0.0, 0, 0
    for ids, conds in seqs:
        prev = 0
        for tok, ci in zip(ids, conds):
            if C:
                cond.fill(0.0)
                cond[list(ci)] = 1.0
            logits = rt.step(prev, cond if C else None).astype(np.float64)
            m = logits.max()
            nll += m + np.log(np.exp(logits - m).sum()) - logits[tok]
            hits += int(np.argmax(logits) == tok)
            n += 1
            prev = tok
    return nll / max(1, n), hits / max(1, n)


def fit_stream(name, train_seqs, val_seqs, tokens, C, hp, seed, log):
    """Train one variant statefully: pieces end to end in `hp["streams"]` parallel
    streams, the LSTM state carried from window to window (truncated backpropagation
    through time), the piece order reshuffled (seeded) each epoch. Validation runs the
    NumPy runtime over the validation pieces with one state, never reset: the daemon's
    own conditions. Early stopping keeps the best epoch. Returns (weights, report)."""
    tf, keras = _tf()
    _seed_everything(seed)
    from grammar.features import WIDTH
    W, V = hp["window"], len(tokens)
    total = sum(len(ids) for ids, _ in train_seqs)
    # a small corpus gets fewer streams, so each stream still holds a few windows
    B = max(1, min(hp["streams"], total // (4 * W)))
    model = build_keras_model(V, hp["embed"], hp["units"], C, stateful=True, batch=B,
                              dropout=hp["dropout"])
    model.compile(optimizer=keras.optimizers.Adam(hp["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["sparse_categorical_accuracy"])
    lstm = model.get_layer("lstm")
    rng = np.random.default_rng(seed)
    best, best_loss, best_epoch, wait, epoch = None, np.inf, 0, 0, 0
    t0 = time.perf_counter()
    for epoch in range(1, hp["epochs"] + 1):
        te = time.perf_counter()
        order = rng.permutation(len(train_seqs))
        x, c, y, _ = make_streams([train_seqs[i] for i in order], B, W)
        inputs = [x, one_hot_conds(c, WIDTH)] if C else x
        lstm.reset_states()
        hist = model.fit(inputs, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
        w = get_weights(model)
        vl, va = stateful_metrics(w, tokens, val_seqs, C)
        h = hist.history
        log(f"{name:11s} epoch {epoch:3d}/{hp['epochs']}: loss {h['loss'][-1]:.3f}  "
            f"acc {h['sparse_categorical_accuracy'][-1]:.3f}  val_loss {vl:.3f}  "
            f"val_acc {va:.3f}  ({time.perf_counter() - te:.1f} s)")
        if vl < best_loss - 1e-4:
            best, best_loss, best_acc, best_epoch, wait = w, vl, va, epoch, 0
        else:
            wait += 1
            if wait >= hp["patience"]:
                break
    seconds = time.perf_counter() - t0
    train_loss, train_acc = stateful_metrics(best, tokens, train_seqs, C)
    report = {"val_loss": round(float(best_loss), 5), "val_accuracy": round(best_acc, 5),
              "train_loss": round(float(train_loss), 5), "train_accuracy": round(train_acc, 5),
              "epochs_run": epoch, "best_epoch": best_epoch, "seconds": round(seconds, 1),
              "streams": B}
    log(f"{name:11s} best epoch {best_epoch}: val_loss {best_loss:.4f}  val_acc {best_acc:.4f}"
        f"  ({seconds:.0f} s)")
    return best, report


# --------------------------------------------------------------------------- driver

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
    import grammar
    from grammar import values
    return getattr(grammar, "__version__", None) or getattr(values, "VERSION", None) \
        or _jazzd_version()


def _jazzd_version():
    from daemon import __version__
    return __version__


def train_pieces(pieces, out, variant="both", epochs=100, units=128, seed=1, log=print,
                 corpus_info=None, **overrides):
    """Train on extracted corpus pieces and write the model directory `out`.

    Returns the meta dict written. `overrides` may set any key of DEFAULTS.
    """
    from grammar import features
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


def main(args):
    """`jazzd train`: extract the corpus (in parallel), train, write the model."""
    from grammar import corpus
    log = (lambda *a, **k: None) if args.quiet else (lambda s: print(s, flush=True))
    extra = {k: getattr(args, k) for k in ("embed", "window", "min_count", "dropout")
             if getattr(args, k, None) is not None}
    if not 0 <= extra.get("dropout", 0) < 0.9:
        raise UserError(f"--dropout {extra['dropout']} is out of range (0 to 0.9)",
                        status=EX_USAGE)
    for k in ("embed", "window", "min_count"):
        if k in extra and extra[k] < 1:
            raise UserError(f"--{k.replace('_', '-')} must be at least 1", status=EX_USAGE)
    for k in ("units", "epochs", "jobs", "limit"):
        if getattr(args, k, None) is not None and getattr(args, k) < 1:
            raise UserError(f"--{k} must be at least 1", status=EX_USAGE)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} exists and is not a directory", status=EX_USAGE)
    try:
        spec = corpus.CorpusSpec.from_args(args.corpus, melody=args.melody,
                                           harmony=args.harmony,
                                           offset_range=args.offset_range,
                                           harmony_method=getattr(args, "harmony_method",
                                                                  None))
        paths = spec.paths(limit=args.limit)
    except ValueError as e:
        raise UserError(str(e), status=EX_USAGE) from None
    if not paths:
        raise UserError(f"corpus {args.corpus!r}: no MusicXML, ABC or MIDI files found")
    log(f"extracting {len(paths)} file(s) from {spec.describe()} "
        f"({args.jobs or 'auto'} jobs)")
    t0 = time.perf_counter()
    pieces, skipped = [], []
    for res in corpus.build(paths, spec, jobs=args.jobs):
        if res.error:
            skipped.append({"file": res.name, "problem": res.error})
            print(f"jazzd train: skipped {res.name}: {res.error}", file=sys.stderr)
        else:
            pieces.append(res.piece)
    log(f"extracted {len(pieces)} pieces, skipped {len(skipped)} "
        f"({time.perf_counter() - t0:.0f} s)")
    info = {"source": spec.describe(), "files": len(paths), "skipped": skipped,
            "harmony": spec.harmony_method,
            "extraction_seconds": round(time.perf_counter() - t0, 1)}
    meta = train_pieces(pieces, args.out, variant=args.variant, epochs=args.epochs,
                        units=args.units, seed=args.seed, log=log, corpus_info=info, **extra)
    if args.quiet:
        return 0
    print(json.dumps({n: {"val_loss": r["val_loss"], "val_accuracy": r["val_accuracy"]}
                      for n, r in meta["variants"].items()}))
    return 0
