"""Recurrent cells in NumPy, equal to their Keras counterparts, with state carried forever.

TensorFlow is for training only (~5 s and ~530 MB to import); the daemon runs the same
cells here, and tests prove each matches Keras to 1e-5 over hundreds of steps. Every
buffer is allocated once, so a step is a handful of small BLAS and ufunc calls and
allocates nothing. A cell's `step(x)` takes the input's pre-activation `x` (the input
already multiplied by the input kernel, bias included: see network.InputTables) and
returns the new output `h`, a buffer reused by the next call.

- LSTMCell: Keras's gate order (input, forget, cell, output), sigmoid/tanh.
- GRUCell: Keras's GRU with reset_after=True (its default): gates (update, reset,
  candidate), the reset gate applied after the recurrent matrix product.
- ConvCell: a causal stack of gated dilated convolutions (WaveNet-style, kernel 2,
  dilations 1, 2, 4, ...) over the sequence; statefully, each layer keeps the inputs
  it will need again in a ring, so a step costs the same as the first.
"""

import numpy as np

from jazzd.model.store import conv_layers

F32 = np.float32


def _sigmoid_into(x, out):
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def _lstm_layout(a):
    """Keras's LSTM columns (i, f, c, o) reordered to (i, f, o, c), the three gate
    blocks halved: sigmoid(z) = 0.5 + 0.5 * tanh(z / 2), so one tanh over all four
    blocks computes the gates and the candidate at once."""
    a = np.asarray(a, F32)
    U = a.shape[-1] // 4
    i, f, c, o = (a[..., k * U:(k + 1) * U] for k in range(4))
    return np.ascontiguousarray(np.concatenate([0.5 * i, 0.5 * f, 0.5 * o, c], axis=-1),
                                dtype=F32)


class LSTMCell:
    gates = 4

    def __init__(self, weights, U):
        self.U = U
        self.recurrent = _lstm_layout(weights["lstm_recurrent"])
        self.h = np.zeros(U, F32)
        self.c = np.zeros(U, F32)
        self._z = np.zeros(4 * U, F32)
        self._tmp = np.zeros(U, F32)
        z = self._z
        self._gates = z[:3 * U]
        self._si, self._sf, self._so, self._g = (z[k * U:(k + 1) * U] for k in range(4))

    @staticmethod
    def input_kernel(weights):
        return _lstm_layout(weights["lstm_kernel"]), _lstm_layout(weights["lstm_bias"])

    def reset(self):
        self.h.fill(0.0)
        self.c.fill(0.0)

    def step(self, x):
        z = self._z
        np.dot(self.h, self.recurrent, out=z)
        z += x
        np.tanh(z, out=z)              # gates: tanh(z / 2) (halved at load); candidate
        gates = self._gates
        gates *= 0.5
        gates += 0.5                   # = sigmoid of the gates' pre-activations
        c, tmp = self.c, self._tmp
        c *= self._sf
        np.multiply(self._si, self._g, out=tmp)
        c += tmp
        np.tanh(c, out=tmp)
        np.multiply(self._so, tmp, out=self.h)
        return self.h


class GRUCell:
    gates = 3

    def __init__(self, weights, U):
        self.U = U
        self.recurrent = np.ascontiguousarray(weights["gru_recurrent"], dtype=F32)
        self.rbias = np.ascontiguousarray(weights["gru_bias"][1], dtype=F32)
        self.h = np.zeros(U, F32)
        self._r = np.zeros(3 * U, F32)       # h R + recurrent bias: z | r | h parts
        self._zr = np.zeros(2 * U, F32)
        self._cand = np.zeros(U, F32)

    @staticmethod
    def input_kernel(weights):
        return weights["gru_kernel"], weights["gru_bias"][0]

    def reset(self):
        self.h.fill(0.0)

    def step(self, x):
        U, r, zr = self.U, self._r, self._zr
        np.dot(self.h, self.recurrent, out=r)
        r += self.rbias
        np.add(x[:2 * U], r[:2 * U], out=zr)
        _sigmoid_into(zr, zr)                  # update z = zr[:U], reset = zr[U:]
        cand = self._cand
        np.multiply(zr[U:], r[2 * U:], out=cand)
        cand += x[2 * U:]
        np.tanh(cand, out=cand)
        # h = z * h + (1 - z) * cand = cand + z * (h - cand)
        h = self.h
        h -= cand
        h *= zr[:U]
        h += cand
        return h


class ConvCell:
    """The input projection's output goes through each gated dilated layer:
    z = x[t] @ K[1] + x[t - d] @ K[0] + b; y = tanh(z[:U]) * sigmoid(z[U:]);
    x <- x + y @ R + r. The cell's output is the last layer's x."""

    gates = 1

    def __init__(self, weights, U):
        self.U = U
        self.layers = []
        for i, ker, bias, rk, rb in conv_layers(weights):
            d = 2 ** len(self.layers)
            self.layers.append({
                "d": d, "k0": np.ascontiguousarray(ker[0], F32),
                "k1": np.ascontiguousarray(ker[1], F32),
                "b": np.ascontiguousarray(bias, F32), "rk": np.ascontiguousarray(rk, F32),
                "rb": np.ascontiguousarray(rb, F32),
                "ring": np.zeros((d, U), F32), "pos": 0})
        self.h = np.zeros(U, F32)
        self._z = np.zeros(2 * U, F32)
        self._z2 = np.zeros(2 * U, F32)
        self._y = np.zeros(U, F32)
        self._s = np.zeros(U, F32)
        self._res = np.zeros(U, F32)

    @staticmethod
    def input_kernel(weights):
        return weights["conv_in_kernel"], weights["conv_in_bias"]

    @property
    def receptive_field(self):
        return 1 + sum(layer["d"] for layer in self.layers)

    def reset(self):
        self.h.fill(0.0)
        for layer in self.layers:
            layer["ring"].fill(0.0)
            layer["pos"] = 0

    def step(self, x):
        U = self.U
        h = self.h
        h[:] = x
        for layer in self.layers:
            ring, pos = layer["ring"], layer["pos"]
            old = ring[pos]                      # this layer's input d steps ago
            np.dot(h, layer["k1"], out=self._z)
            np.dot(old, layer["k0"], out=self._z2)
            self._z += self._z2
            self._z += layer["b"]
            ring[pos] = h                        # kept for d steps from now
            layer["pos"] = (pos + 1) % layer["d"]
            np.tanh(self._z[:U], out=self._y)
            _sigmoid_into(self._z[U:], self._s)
            self._y *= self._s
            np.dot(self._y, layer["rk"], out=self._res)
            h += self._res
            h += layer["rb"]
        return h


CELL_CLASSES = {"lstm": LSTMCell, "gru": GRUCell, "conv": ConvCell}
