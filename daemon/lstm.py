"""The NumPy LSTM runtime: one step of the trained network, with (h, c) carried forever.

TensorFlow is for training only (~5 s and ~530 MB to import); the daemon runs the same
cell here, in Keras's gate order (input, forget, cell, output) with sigmoid/tanh, and a
test proves it matches Keras to 1e-5 over hundreds of steps. Every buffer is allocated
once, so a step is a handful of small BLAS and ufunc calls and allocates nothing.
"""

import math
import time

import numpy as np


class LSTMRuntime:
    """A stateful step over a `daemon.model.Model`.

    `step(token, cond)` feeds the previous value's token (0 = `<s>`, a phrase start) and,
    for a conditioned model, the condition vector of the next onset, and returns the
    logits over the next value. The returned array is a buffer reused by the next call:
    copy it to keep it.
    """

    def __init__(self, model):
        w = model.weights
        self.model = model
        V, E, U, C = model.V, model.E, model.U, model.C
        self.V, self.E, self.U, self.C = V, E, U, C
        f32 = np.float32
        # The embedding lookup and the input kernel are both linear in a one-hot token:
        # fold them (and the bias) into one (V, 4U) table, so a step reads one row.
        kernel = w["lstm_kernel"].astype(np.float64)
        table = w["embedding"].astype(np.float64) @ kernel[:E] + w["lstm_bias"]
        self._table = np.ascontiguousarray(table, dtype=f32)
        self._cond_kernel = np.ascontiguousarray(kernel[E:], dtype=f32)   # (C, 4U)
        self._recurrent = np.ascontiguousarray(w["lstm_recurrent"], dtype=f32)
        self._dense = np.ascontiguousarray(w["dense_kernel"], dtype=f32)
        self._dense_bias = np.ascontiguousarray(w["dense_bias"], dtype=f32)
        self.h = np.zeros(U, f32)
        self.c = np.zeros(U, f32)
        self._z = np.zeros(4 * U, f32)
        self._zc = np.zeros(4 * U, f32)
        self._s = np.zeros(3 * U, f32)     # sigmoid of the i, f, o gates
        self._g = np.zeros(U, f32)
        self._tmp = np.zeros(U, f32)
        self.logits = np.zeros(V, f32)
        self._cond = np.zeros(C, f32)
        # views of the gate pre-activations: i f | g | o  (Keras order i, f, c, o)
        self._zif, self._zg, self._zo = self._z[:2 * U], self._z[2 * U:3 * U], self._z[3 * U:]
        self._si, self._sf, self._so = self._s[:U], self._s[U:2 * U], self._s[2 * U:]

    def reset(self):
        """Zero the state: only for a new, unrelated performance (never between bars)."""
        self.h.fill(0.0)
        self.c.fill(0.0)

    def step(self, token, cond=None):
        """One step: returns the logits (a reused float32 buffer of length V)."""
        z, U = self._z, self.U
        np.dot(self.h, self._recurrent, out=z)
        z += self._table[token]
        if self.C:
            if cond is None:
                raise ValueError("this model is conditioned: step() needs cond")
            np.dot(np.asarray(cond, dtype=np.float32), self._cond_kernel, out=self._zc)
            z += self._zc
        s = self._s
        # sigmoid of i, f (contiguous) and o, into s
        np.negative(self._zif, out=s[:2 * U])
        np.negative(self._zo, out=s[2 * U:])
        np.exp(s, out=s)
        s += 1.0
        np.reciprocal(s, out=s)
        np.tanh(self._zg, out=self._g)
        c, tmp = self.c, self._tmp
        c *= self._sf
        np.multiply(self._si, self._g, out=tmp)
        c += tmp
        np.tanh(c, out=tmp)
        np.multiply(self._so, tmp, out=self.h)
        np.dot(self.h, self._dense, out=self.logits)
        self.logits += self._dense_bias
        return self.logits


def sample(logits, temperature, rng, bias=None):
    """Draw a token from softmax((logits + bias) / temperature) with one `rng.random()`.

    `rng` is a `random.Random` or a `numpy.random.Generator` (both have `.random()`), so
    a seed makes the draw reproducible. Temperature <= 0 means argmax. Token 0 (`<s>`)
    is an input only and is never drawn.
    """
    x = np.array(logits, dtype=np.float64)
    if bias is not None:
        x += bias
    x[0] = -np.inf
    if temperature <= 0:
        return int(np.argmax(x))
    x /= temperature
    x -= x.max()
    np.exp(x, out=x)
    np.cumsum(x, out=x)
    u = rng.random() * x[-1]
    return min(int(np.searchsorted(x, u, side="right")), len(x) - 1)


def bench_lstm(n=2000, model="default", keras=True, keras_steps=50, predict_steps=10):
    """Per-step timings (ms, sorted lists) of the NumPy runtime and, if TensorFlow is
    installed and `keras` is true, of a Keras `model(x)` call and `model.predict` on the
    same weights; plus vocabulary size, model size on disk and load time.

    Returns a dict; `jazzd bench` summarises it (p50/p99).
    """
    from pathlib import Path

    from daemon.model import load_model
    t0 = time.perf_counter()
    m = load_model(model) if not hasattr(model, "weights") else model
    load_ms = (time.perf_counter() - t0) * 1e3
    out = {"vocab": m.V, "units": m.U, "embedding": m.E, "condition": m.C,
           "variant": m.variant, "load_ms": load_ms}
    if m.path is not None:
        out["size_bytes"] = sum(p.stat().st_size for p in Path(m.path).iterdir()
                                if p.is_file())
    rt = LSTMRuntime(m)
    rng = np.random.default_rng(0)
    n_inputs = max(n, keras_steps + 1, predict_steps + 1)
    tokens = rng.integers(1, m.V, size=n_inputs)
    conds = _bench_conds(m, n_inputs, rng)
    times = np.empty(n)
    clock = time.perf_counter
    for i in range(n):
        t = clock()
        rt.step(tokens[i], conds[i] if conds is not None else None)
        times[i] = clock() - t
    out["numpy_ms"] = sorted((times * 1e3).tolist())
    if keras:
        try:
            out.update(_bench_keras(m, tokens, conds, keras_steps, predict_steps))
        except ImportError as e:
            out["keras_error"] = f"TensorFlow not installed ({e})"
    return out


def _bench_conds(m, n, rng):
    if not m.C:
        return None
    conds = np.zeros((n, m.C), np.float32)
    conds[np.arange(n), rng.integers(0, m.C, size=n)] = 1.0
    return conds


def _bench_keras(m, tokens, conds, keras_steps, predict_steps):
    from daemon.train import build_keras_model
    km = build_keras_model(m.V, m.E, m.U, m.C, stateful=True, weights=m.weights)
    clock = time.perf_counter
    res = {}
    for key, steps, call in (("keras_call_ms", keras_steps, lambda x: km(x, training=False)),
                             ("keras_predict_ms", predict_steps,
                              lambda x: km.predict(x, verbose=0))):
        times = []
        for i in range(steps + 1):
            x = [np.array([[tokens[i]]], np.int32)]
            if conds is not None:
                x.append(conds[i][None, None, :])
            x = x[0] if len(x) == 1 else x
            t = clock()
            call(x)
            if i:   # the first call traces the graph
                times.append((clock() - t) * 1e3)
        res[key] = sorted(times)
    return res


def percentile(sorted_values, q):
    """The q-th percentile (0-100) of an already sorted list (nearest rank)."""
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]
