"""Training data from corpus pieces: one row per value with the network's inputs
(the previous value's tokens, the condition of this value's onset) and targets, and
the stateful stream layout Keras is fed with.

A row is exactly what the daemon's Performer computes before it draws that value: the
condition reads the last sounded pitch before the onset, the middle of the register
(here the piece's median pitch: the player's own register), and whether the chord
changed since the previous onset, how long since the phrase began (its first onset
after a rest), and the piece's tempo.
"""

import statistics

import numpy as np

from jazzd.grammar.features import (HOT_V3, N_TEMPO, PHRASE_OFFSET, TEMPO_OFFSET,
                                    condition_index, phrase_band, tempo_features)
from jazzd.service.errors import UserError

FIELDS = ("prev_kind", "prev_dur", "prev_step", "cond", "tempo", "kind", "dur", "step",
          "step_mask")


def piece_rows(piece, vocab):
    """{field: array} of one piece (FIELDS; `cond` holds HOT_V3 hot indices per row,
    `tempo` the N_TEMPO dense tempo features)."""
    n = len(piece.values)
    out = {f: np.zeros(n, np.int32) for f in FIELDS
           if f not in ("cond", "tempo", "step_mask")}
    out["cond"] = np.zeros((n, HOT_V3), np.int32)
    out["tempo"] = np.tile(np.asarray(tempo_features(getattr(piece, "bpm", None)),
                                      np.float32), (n, 1))
    out["step_mask"] = np.zeros(n, np.float32)
    sounded = [p for p in piece.pitches if p is not None]
    middle = int(statistics.median(sounded)) if sounded else None
    prev_tokens = (0, 0, 0)
    prev_pitch, prev_chord = None, None
    since = None                 # ticks from the phrase's first onset to this one
    t = piece.start
    for i, (v, pitch) in enumerate(zip(piece.values, piece.pitches)):
        chord = piece.timeline.at(t)
        bar_tick = (t - piece.start) % piece.bar_ticks
        k, d, s = vocab.encode(v)
        out["prev_kind"][i], out["prev_dur"][i], out["prev_step"][i] = prev_tokens
        out["cond"][i] = condition_index(bar_tick, chord, piece.beats_per_bar, prev_pitch,
                                         middle, chord != prev_chord) \
            + (PHRASE_OFFSET + phrase_band(since),)
        out["kind"][i], out["dur"][i] = k, d
        if s is not None and v.kind != "R" and prev_pitch is not None:
            out["step"][i] = s
            out["step_mask"][i] = 1.0
        prev_tokens = (k + 1, d + 1, 0 if s is None or v.kind == "R" else s + 1)
        if pitch is not None:
            prev_pitch = pitch
        prev_chord = chord
        since = None if v.kind == "R" else (since or 0) + v.ticks
        t += v.ticks
    return out


def split_by(items, key, val_fraction, seed):
    """(train, val) lists: whole groups (e.g. players) go to one side, a seeded
    shuffle of the sorted group names, about `val_fraction` of the items in val."""
    groups = sorted({key(x) for x in items})
    rng = np.random.default_rng(seed)
    order = [groups[i] for i in rng.permutation(len(groups))]
    want = max(1, int(round(val_fraction * len(items))))
    val_groups, n = set(), 0
    for g in order:
        if n >= want:
            break
        size = sum(1 for x in items if key(x) == g)
        val_groups.add(g)
        n += size
    return ([x for x in items if key(x) not in val_groups],
            [x for x in items if key(x) in val_groups])


def concat(rows_list):
    return {f: np.concatenate([r[f] for r in rows_list]) for f in FIELDS}


def streams(rows_list, n_streams, window):
    """The pieces end to end (each opened by the "nothing" tokens), cut into
    `n_streams` parallel streams of consecutive windows: row k * B + b holds window k
    of stream b, so batch k continues batch k - 1 row for row. The tail that does not
    fill a window in every stream is dropped."""
    rows = concat(rows_list)
    total = len(rows["kind"])
    k = total // (n_streams * window)
    if k == 0:
        raise UserError(f"the corpus is too small for {n_streams} streams of {window} "
                        f"values ({total} values); use a smaller window")
    n = k * window

    def arrange(a):
        a = a[:n_streams * n].reshape((n_streams, k, window) + a.shape[1:])
        return np.ascontiguousarray(np.swapaxes(a, 0, 1).reshape((k * n_streams, window)
                                                                 + a.shape[3:]))
    return {f: arrange(a) for f, a in rows.items()}


def one_hot_conds(cidx, width, tempo=None):
    """(..., HOT_V3) hot indices → (..., width) float32 one-hot sums, with the dense
    tempo features (..., N_TEMPO) in their columns."""
    out = np.zeros(cidx.shape[:-1] + (width,), np.float32)
    np.put_along_axis(out, cidx, 1.0, axis=-1)
    if tempo is not None:
        out[..., TEMPO_OFFSET:TEMPO_OFFSET + N_TEMPO] = tempo
    return out


def keras_inputs(rows, width):
    """The network's inputs (build_network's order) from rows of any leading shape."""
    return [rows["prev_kind"], rows["prev_dur"], rows["prev_step"],
            one_hot_conds(rows["cond"], width, rows["tempo"]), rows["kind"], rows["dur"]]
