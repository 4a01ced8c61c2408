"""Fitting one network, and the exact loss it is judged by.

- Training is stateful, as the daemon runs: the training pieces are laid end to end in
  parallel streams, cut into windows, and the recurrent state is carried from window
  to window (truncated backpropagation through time; the piece order is reshuffled,
  seeded, every epoch). The convolutional stack has no state to carry: it trains on
  the same windows, each prefixed by the values before it, which it sees but is not
  scored on, so every scored value has its full receptive field.
- Validation runs the NumPy runtime itself over the validation pieces with one state
  that is never reset (`stateful_loss`), so the number reported is what the daemon
  experiences. Early stopping keeps the best epoch.
- The loss of a value is the sum of its three heads' cross-entropies (natural log):
  kind, duration given the kind, step given both (notes with a previous pitch only).
"""

import time

import numpy as np

from jazzd.grammar.features import N_TEMPO, TEMPO_OFFSET, WIDTH
from jazzd.model.network import Network
from jazzd.model.store import Model
from jazzd.train.keras_model import (_tf, build_network, get_weights, reset_states,
                                     seed_everything)
from jazzd.train.sequences import keras_inputs, one_hot_conds, streams

HEADS = ("kind", "dur", "step")


def _log_softmax_at(logits, i):
    z = logits.astype(np.float64)
    m = z.max()
    return z[i] - m - np.log(np.exp(z - m).sum())


def stateful_loss(weights, vocab, cell, rows_list):
    """{"loss", "kind", "dur", "step", "kind_acc", ...}: mean cross-entropies of the
    NumPy network run the daemon's way over `rows_list` in a row, never reset."""
    meta = {"cell": cell, "condition": {"width": WIDTH}}
    net = Network(Model(weights, vocab, meta))
    cond = np.zeros(WIDTH, np.float32)
    nll = {h: 0.0 for h in HEADS}
    hits = {h: 0 for h in HEADS}
    n, n_step = 0, 0
    for rows in rows_list:
        for i in range(len(rows["kind"])):
            cond.fill(0.0)
            cond[rows["cond"][i]] = 1.0
            cond[TEMPO_OFFSET:TEMPO_OFFSET + N_TEMPO] = rows["tempo"][i]
            net.advance(rows["prev_kind"][i], rows["prev_dur"][i], rows["prev_step"][i],
                        cond)
            k, d = rows["kind"][i], rows["dur"][i]
            lk = net.kind_logits()
            nll["kind"] -= _log_softmax_at(lk, k)
            hits["kind"] += int(np.argmax(lk) == k)
            ld = net.dur_logits(k)
            nll["dur"] -= _log_softmax_at(ld, d)
            hits["dur"] += int(np.argmax(ld) == d)
            n += 1
            if rows["step_mask"][i]:
                s = rows["step"][i]
                ls = net.step_logits(k, d)
                nll["step"] -= _log_softmax_at(ls, s)
                hits["step"] += int(np.argmax(ls) == s)
                n_step += 1
    out = {"loss": (nll["kind"] + nll["dur"] + nll["step"]) / max(n, 1)}
    for h in HEADS:
        m = n_step if h == "step" else n
        out[h] = nll[h] / max(m, 1)
        out[h + "_acc"] = hits[h] / max(m, 1)
    return {k: round(float(v), 5) for k, v in out.items()}


def _compile(model, keras, lr):
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss={h: ce for h in HEADS})


def _targets(data):
    return ({"kind": data["kind"], "dur": data["dur"], "step": data["step"]},
            {"kind": np.ones_like(data["step_mask"]), "dur": np.ones_like(data["step_mask"]),
             "step": data["step_mask"]})


def _conv_windows(rows_list, window, context):
    """Windows of `context + window` values; the first `context` of each are seen but
    not scored (weight 0), except at the very start of a piece."""
    fields = {}
    for rows in rows_list:
        n = len(rows["kind"])
        for s in range(0, n, window):
            lo = max(0, s - context)
            idx = np.arange(lo, lo + context + window)
            valid = idx < min(n, s + window)
            idx = np.minimum(idx, n - 1)
            scored = (idx >= s) & valid
            for f, a in rows.items():
                fields.setdefault(f, []).append(a[idx])
            fields.setdefault("_scored", []).append(scored.astype(np.float32))
    return {f: np.stack(v) for f, v in fields.items()}


def fit(cell, train_rows, val_rows, vocab, hp, seed, log):
    """Train one network; returns (weights, report)."""
    tf, keras = _tf()
    seed_everything(seed)
    K, D, S = len(vocab.kinds), len(vocab.durations), len(vocab.steps)
    W = hp["window"]
    total = sum(len(r["kind"]) for r in train_rows)
    recurrent = cell in ("lstm", "gru")
    B = max(1, min(hp["streams"], total // (4 * W))) if recurrent else hp["batch"]
    model = build_network(K, D, S, WIDTH, U=hp["units"], cell=cell, stateful=recurrent,
                          batch=B if recurrent else None, dropout=hp["dropout"],
                          conv_layers=hp.get("conv_layers", 6))
    _compile(model, keras, hp["learning_rate"])
    rng = np.random.default_rng(seed)
    best, best_val, best_epoch, wait = None, None, 0, 0
    t0 = time.perf_counter()
    epoch = 0
    for epoch in range(1, hp["epochs"] + 1):
        te = time.perf_counter()
        order = rng.permutation(len(train_rows))
        pieces = [train_rows[i] for i in order]
        if recurrent:
            data = streams(pieces, B, W)
            y, w = _targets(data)
            reset_states(model)
            hist = model.fit(keras_inputs(data, WIDTH), y, sample_weight=w, batch_size=B,
                             epochs=1, shuffle=False, verbose=0)
        else:
            context = 2 ** hp.get("conv_layers", 6)
            data = _conv_windows(pieces, W, context)
            y, w = _targets(data)
            w = {h: w[h] * data["_scored"] for h in HEADS}
            hist = model.fit(keras_inputs(data, WIDTH), y, sample_weight=w,
                             batch_size=B, epochs=1, shuffle=True, verbose=0)
        weights = get_weights(model, cell)
        val = stateful_loss(weights, vocab.as_dict(), cell, val_rows)
        log(f"{cell:4s} epoch {epoch:3d}/{hp['epochs']}: train {hist.history['loss'][-1]:.3f}"
            f"  val {val['loss']:.3f} (kind {val['kind']:.3f} dur {val['dur']:.3f} "
            f"step {val['step']:.3f}; acc {val['kind_acc']:.2f} {val['dur_acc']:.2f} "
            f"{val['step_acc']:.2f})  ({time.perf_counter() - te:.0f} s)")
        if best_val is None or val["loss"] < best_val["loss"] - 1e-4:
            best, best_val, best_epoch, wait = weights, val, epoch, 0
        else:
            wait += 1
            if wait >= hp["patience"]:
                break
    seconds = time.perf_counter() - t0
    report = dict(best_val, epochs_run=epoch, best_epoch=best_epoch,
                  seconds=round(seconds, 1), batch=B)
    log(f"{cell:4s} best epoch {best_epoch}: val loss {best_val['loss']:.4f}  ({seconds:.0f} s)")
    return best, report


__all__ = ["fit", "stateful_loss", "one_hot_conds"]
