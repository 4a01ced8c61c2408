"""The NumPy network equals Keras, step for step, with the state carried across calls:
every head, every cell (LSTM, GRU, the dilated convolution stack)."""

import itertools

import numpy as np
import pytest

from jazzd.grammar.features import HOT_V3, TEMPO_OFFSET, WIDTH, tempo_features
from jazzd.model.network import Network
from jazzd.model.store import Model, load_model

pytest.importorskip("tensorflow")
from jazzd.train.keras_model import build_network, get_weights  # noqa: E402

STEPS = 240
KINDS = ["C", "S", "A", "X", "R"]


def _vocab(D, S):
    return {"kinds": KINDS, "durations": list(range(1, D + 1)),
            "steps": list(range(-(S // 2), S - S // 2))}


def _random_weights(cell, D, S, U, seed, layers=3):
    """Weights big enough to drive the gates into their nonlinear range (Keras's own
    initialisation keeps everything near zero, where a wrong gate order can hide)."""
    rng = np.random.default_rng(seed)
    km = build_network(5, D, S, WIDTH, U=U, cell=cell, conv_layers=layers)
    w = get_weights(km, cell)
    return {k: rng.normal(0, 0.3 if cell == "conv" else 0.6, a.shape).astype(np.float32)
            for k, a in w.items()}


def _inputs(D, S, n, seed):
    rng = np.random.default_rng(seed)
    rows = {"prev_kind": rng.integers(0, 6, n), "prev_dur": rng.integers(0, D + 1, n),
            "prev_step": rng.integers(0, S + 1, n), "kind": rng.integers(0, 5, n),
            "dur": rng.integers(0, D, n)}
    cond = np.zeros((n, WIDTH), np.float32)
    for j in range(n):
        cond[j, rng.choice(TEMPO_OFFSET, size=HOT_V3, replace=False)] = 1.0
        # the dense tempo part: log2(bpm / 140) and seconds per beat, 40-400 bpm
        cond[j, TEMPO_OFFSET:] = tempo_features(rng.uniform(40, 400))
    return rows, cond


def _parity(weights, vocab, cell, seed=0, layers=3):
    D, S = len(vocab["durations"]), len(vocab["steps"])
    U = weights["kind_kernel"].shape[0]
    km = build_network(5, D, S, WIDTH, U=U, cell=cell, stateful=cell != "conv",
                       weights=weights, conv_layers=layers)
    net = Network(Model(weights, vocab, {"cell": cell, "condition": {"width": WIDTH}}))
    rows, cond = _inputs(D, S, STEPS, seed)
    seq = [rows[f][None, :].astype(np.int32) for f in ("prev_kind", "prev_dur", "prev_step")]
    seq += [cond[None], rows["kind"][None].astype(np.int32), rows["dur"][None].astype(np.int32)]
    # Keras runs the 240 steps in a few calls of uneven length: the recurrent cells
    # carry their state from call to call (stateful), the convolution has none and runs
    # causally over the whole sequence at once. Chunks, not one call per step: the
    # outputs are the same and 240 separate calls cost ~10 s.
    cuts = [0, STEPS] if cell == "conv" else [0, 1, 16, 80, STEPS]
    ref_all = {}
    for lo, hi in itertools.pairwise(cuts):
        out = km([x[:, lo:hi] for x in seq], training=False)
        for h in out:
            ref_all.setdefault(h, []).append(np.asarray(out[h])[0])
    ref_all = {h: np.concatenate(v) for h, v in ref_all.items()}
    assert all(len(v) == STEPS for v in ref_all.values())
    worst = 0.0
    for i in range(STEPS):
        net.advance(rows["prev_kind"][i], rows["prev_dur"][i], rows["prev_step"][i], cond[i])
        k, d = int(rows["kind"][i]), int(rows["dur"][i])
        got = {"kind": net.kind_logits().copy(), "dur": net.dur_logits(k).copy(),
               "step": net.step_logits(k, d).copy()}
        for h in got:
            worst = max(worst, float(np.max(np.abs(ref_all[h][i] - got[h]))))
    assert np.abs(net.h).max() > 0.1          # the state really was carried
    return worst


@pytest.mark.parametrize("cell", ["lstm", "gru", "conv"])
def test_random_weights_match_keras_over_240_steps(cell):
    vocab = _vocab(9, 11)
    w = _random_weights(cell, 9, 11, 16, seed=len(cell))
    assert _parity(w, vocab, cell) <= 1e-5


def test_shipped_model_matches_keras():
    m = load_model("default")
    assert _parity(m.weights, m.vocab, m.cell, seed=3) <= 1e-5


def test_a_wrong_gate_order_is_caught():
    """The parity check can fail: swap the LSTM's forget and input gates."""
    vocab = _vocab(9, 11)
    w = _random_weights("lstm", 9, 11, 16, seed=5)
    bad = dict(w)
    U = 16
    for k in ("lstm_kernel", "lstm_recurrent"):
        a = w[k].copy()
        a[..., :U], a[..., U:2 * U] = w[k][..., U:2 * U], w[k][..., :U]
        bad[k] = a
    net = Network(Model(bad, vocab, {"cell": "lstm", "condition": {"width": WIDTH}}))
    km = build_network(5, 9, 11, WIDTH, U=U, stateful=True, weights=w)
    rows, cond = _inputs(9, 11, 20, 1)
    diff = 0.0
    for i in range(20):
        net.advance(rows["prev_kind"][i], rows["prev_dur"][i], rows["prev_step"][i], cond[i])
        x = [np.array([[rows[f][i]]], np.int32) for f in ("prev_kind", "prev_dur", "prev_step")]
        out = km(x + [cond[i][None, None, :], np.array([[0]], np.int32),
                      np.array([[0]], np.int32)], training=False)
        diff = max(diff, float(np.max(np.abs(np.asarray(out["kind"])[0, 0] -
                                             net.kind_logits()))))
    assert diff > 1e-3


def test_reset_restarts_the_sequence():
    vocab = _vocab(9, 11)
    w = _random_weights("gru", 9, 11, 12, seed=7)
    net = Network(Model(w, vocab, {"cell": "gru", "condition": {"width": WIDTH}}))
    cond = np.zeros(WIDTH, np.float32)
    cond[:HOT_V3] = 1.0
    first = [net.advance(t, t, t, cond).copy() for t in (0, 3, 5)]
    net.reset()
    again = [net.advance(t, t, t, cond).copy() for t in (0, 3, 5)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(net.advance(0, 0, 0, cond), first[0])   # state carried
