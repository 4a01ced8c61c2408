"""Training data from corpus pieces: token and condition sequences, the split by piece,
and the two layouts a Keras model is fed with (windows, or stateful streams)."""

import numpy as np

from jazzd.service.errors import UserError


def piece_steps(piece):
    """(values, condition indices) of a corpus piece: the condition of each value's own
    onset (the step that predicts it sees it)."""
    from jazzd.grammar.features import condition_index
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
