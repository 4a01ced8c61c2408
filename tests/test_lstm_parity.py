"""The NumPy runtime equals Keras, step for step, with the state carried across calls."""

import numpy as np
import pytest

from jazzd.model.lstm import LSTMRuntime
from jazzd.model.store import DEFAULT_DIR, Model, load_model

pytest.importorskip("tensorflow")
from jazzd.train.keras_model import build_keras_model, get_weights  # noqa: E402

STEPS = 240


def _random_weights(V, E, U, C, seed):
    """Weights big enough to drive the gates into their nonlinear range (Keras's own
    initialisation keeps everything near zero, where a wrong gate order can hide)."""
    rng = np.random.default_rng(seed)
    km = build_keras_model(V, E, U, C)
    w = get_weights(km)
    return {k: rng.normal(0, 0.6 if k != "embedding" else 1.0, a.shape).astype(np.float32)
            for k, a in w.items()}


def _inputs(V, C, n, seed):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, V, size=n)
    conds = None
    if C:
        conds = np.zeros((n, C), np.float32)
        for j in range(n):
            conds[j, rng.choice(C, size=3, replace=False)] = 1.0
    return tokens, conds


def _parity(weights, V, E, U, C, seed=0):
    km = build_keras_model(V, E, U, C, stateful=True, weights=weights)
    meta = {"condition": {"width": C}} if C else {}
    rt = LSTMRuntime(Model(weights, ["<s>"] + [f"t{i}" for i in range(1, V)], meta))
    tokens, conds = _inputs(V, C, STEPS, seed)
    worst = 0.0
    for i in range(STEPS):
        x = np.array([[tokens[i]]], np.int32)
        if C:
            ref = km([x, conds[i][None, None, :]], training=False)
            got = rt.step(int(tokens[i]), conds[i])
        else:
            ref = km(x, training=False)
            got = rt.step(int(tokens[i]))
        worst = max(worst, float(np.max(np.abs(np.asarray(ref)[0, 0] - got))))
    # the state really was carried: it is far from zero after the run
    assert np.abs(rt.h).max() > 0.1
    return worst


@pytest.mark.parametrize("C", [0, 23], ids=["plain", "conditioned"])
def test_random_weights_match_keras_over_240_steps(C):
    V, E, U = 40, 8, 16
    w = _random_weights(V, E, U, C, seed=C + 1)
    assert _parity(w, V, E, U, C) <= 1e-5


def test_shipped_model_matches_keras():
    if not (DEFAULT_DIR / "weights.npz").exists():
        pytest.skip("no shipped model yet")
    m = load_model("default")
    assert _parity(m.weights, m.V, m.E, m.U, m.C, seed=3) <= 1e-5


def test_reset_restarts_the_sequence():
    V, E, U, C = 30, 6, 12, 0
    w = _random_weights(V, E, U, C, seed=7)
    rt = LSTMRuntime(Model(w, ["<s>"] + [f"t{i}" for i in range(1, V)], {}))
    first = [rt.step(t).copy() for t in (0, 5, 9)]
    rt.reset()
    again = [rt.step(t).copy() for t in (0, 5, 9)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    # and without a reset the same inputs give different outputs (state carried)
    assert not np.allclose(rt.step(0), first[0])
