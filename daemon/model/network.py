"""One step of the whole network in NumPy: the previous value in, three heads out.

The input of a step is the previous value as three tokens (kind, duration, step;
index 0 = nothing) plus the condition of the next onset. The embeddings and the
cell's input kernel are both linear, so they are folded at load time into one table
per token kind: a step adds three table rows and one small product with the
condition, then runs the cell. The heads are read in turn, as they are sampled:

    kind logits     = h @ Wk + bk
    duration logits = h @ Wd[:U] + Wd[U + kind] + bd
    step logits     = h @ Ws[:U] + Ws[U + kind] + Ws[U + K + duration] + bs

Each returns a buffer reused by the next call.
"""

import numpy as np

from jazzd.model.cells import CELL_CLASSES

F32 = np.float32


class Network:
    """A stateful step over a `jazzd.model.store.Model`; the state is never reset
    while a performance runs (`reset` is for a new, unrelated performance)."""

    def __init__(self, model):
        w = model.weights
        self.model = model
        U, K, D = model.U, model.K, model.D
        self.U, self.K, self.D = U, K, D
        self.cell = CELL_CLASSES[model.cell](w, U)
        kernel, bias = self.cell.input_kernel(w)
        kernel = kernel.astype(np.float64)
        widths = [w[k].shape[1] for k in ("embed_kind", "embed_dur", "embed_step")]
        rows, tables = 0, []
        for name, width in zip(("embed_kind", "embed_dur", "embed_step"), widths):
            tables.append(np.ascontiguousarray(
                w[name].astype(np.float64) @ kernel[rows:rows + width], dtype=F32))
            rows += width
        tables[0] += np.asarray(bias, F32)         # the bias rides on the kind table
        self._tk, self._td, self._ts = tables
        self._cond_kernel = np.ascontiguousarray(kernel[rows:], dtype=F32)
        self.C = self._cond_kernel.shape[0]
        self._x = np.zeros(kernel.shape[1], F32)
        self._xc = np.zeros(kernel.shape[1], F32)
        self._wk = np.ascontiguousarray(w["kind_kernel"], F32)
        self._bk = np.ascontiguousarray(w["kind_bias"], F32)
        self._wd = np.ascontiguousarray(w["dur_kernel"][:U], F32)
        # the bias rides on the row of the kind (duration head) and of the kind
        # (step head), so a head is one product and one or two row additions
        self._wd_kind = np.ascontiguousarray(w["dur_kernel"][U:] + w["dur_bias"], F32)
        self._ws = np.ascontiguousarray(w["step_kernel"][:U], F32)
        self._ws_kind = np.ascontiguousarray(w["step_kernel"][U:U + K] + w["step_bias"], F32)
        self._ws_dur = np.ascontiguousarray(w["step_kernel"][U + K:], F32)
        self.kind = np.zeros(K, F32)
        self.dur = np.zeros(D, F32)
        self.step_ = np.zeros(model.S, F32)
        self.h = self.cell.h

    def reset(self):
        self.cell.reset()

    def advance(self, prev_kind, prev_dur, prev_step, cond):
        """Feed the previous value's token indices (0 = nothing) and the next onset's
        condition vector; returns the cell's output h."""
        x = self._x
        np.add(self._tk[prev_kind], self._td[prev_dur], out=x)
        x += self._ts[prev_step]
        if self.C:
            np.dot(cond, self._cond_kernel, out=self._xc)
            x += self._xc
        return self.cell.step(x)

    def kind_logits(self):
        np.dot(self.cell.h, self._wk, out=self.kind)
        self.kind += self._bk
        return self.kind

    def dur_logits(self, kind):
        np.dot(self.cell.h, self._wd, out=self.dur)
        self.dur += self._wd_kind[kind]
        return self.dur

    def step_logits(self, kind, dur):
        np.dot(self.cell.h, self._ws, out=self.step_)
        self.step_ += self._ws_kind[kind]
        self.step_ += self._ws_dur[dur]
        return self.step_
