"""Fitting one model variant, and the exact losses it is judged by.

- Validation is split by piece (a seeded shuffle), never by window, so no melody is
  in both halves.
- Training is stateful, as the daemon runs (`fit_stream`): the training pieces are
  laid end to end (each opened by `<s>`) in parallel streams, cut into windows, and
  the LSTM state is carried from window to window (truncated backpropagation through
  time; the piece order is reshuffled, seeded, every epoch). Validation runs the NumPy
  runtime itself over the validation pieces with one state that is never reset, so
  the number reported is what the daemon experiences. The older stateless-windows mode
  (`fit_variant`: zero state at each window) is kept for comparison; measured on the
  chorales it scores clearly worse when run statefully (docs/MODEL.md).
- Losses reported are exact means over the validation targets, computed with NumPy
  from the kept weights (natural log, per value).
"""

import time

import numpy as np

from jazzd.train.keras_model import _seed_everything, _tf, build_keras_model, get_weights
from jazzd.train.sequences import make_streams, one_hot_conds


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
        from jazzd.grammar.features import WIDTH
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
    from jazzd.model.lstm import LSTMRuntime
    from jazzd.model.store import Model
    from jazzd.grammar.features import WIDTH
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
    from jazzd.grammar.features import WIDTH
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
