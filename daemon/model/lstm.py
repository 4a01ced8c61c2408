"""The NumPy LSTM runtime: one step of the trained network, with (h, c) carried forever.

TensorFlow is for training only (~5 s and ~530 MB to import); the daemon runs the same
cell here, in Keras's gate order (input, forget, cell, output) with sigmoid/tanh, and a
test proves it matches Keras to 1e-5 over hundreds of steps. Every buffer is allocated
once, so a step is a handful of small BLAS and ufunc calls and allocates nothing.
"""

import numpy as np


class LSTMRuntime:
    """A stateful step over a `jazzd.model.store.Model`.

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
