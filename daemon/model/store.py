"""Model directories: `weights.npz` + `vocab.json` + `meta.json`, written by `jazzd train`
and read by the daemon.

NumPy and json only: the daemon must load a model without TensorFlow, and without
pickles (`allow_pickle=False`), so a model directory is plain data anyone can inspect.
Every problem raises `ModelError` naming the path and what is wrong with it.

The network (docs/MODEL.md) reads the previous value as three tokens (kind, duration,
step), adds the condition of the next onset, runs one recurrent cell, and predicts the
next value with three heads sampled in turn: kind, then duration given the kind, then
step given both. Arrays (float32):

- `embed_kind` (K+1, Ek), `embed_dur` (D+1, Ed), `embed_step` (S+1, Es): row 0 is
  "nothing" (the start of a performance; a rest's or a first note's step);
- the cell's arrays (CELLS), over the input of width I = Ek + Ed + Es + C;
- `kind_kernel` (U, K), `kind_bias` (K,); `dur_kernel` (U + K, D), `dur_bias` (D,);
  `step_kernel` (U + K + D, S), `step_bias` (S,).

`vocab.json` holds `kinds` (K letters), `durations` (D tick counts) and `steps` (S
semitone steps); `meta.json` the format, the cell, the condition spec, the sizes, the
corpus and its credit, and the training report.
"""

import json
import os
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from jazzd.grammar.values import KINDS
from jazzd.service.errors import ModelError

FORMAT_VERSION = 2
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_DIR = MODELS_DIR / "default"
HEAD_ARRAYS = ("embed_kind", "embed_dur", "embed_step", "kind_kernel", "kind_bias",
               "dur_kernel", "dur_bias", "step_kernel", "step_bias")
CELLS = {
    # name: {array: shape as a function of (I, U)}
    "lstm": {"lstm_kernel": lambda i, u: (i, 4 * u), "lstm_recurrent": lambda i, u: (u, 4 * u),
             "lstm_bias": lambda i, u: (4 * u,)},
    "gru": {"gru_kernel": lambda i, u: (i, 3 * u), "gru_recurrent": lambda i, u: (u, 3 * u),
            "gru_bias": lambda i, u: (2, 3 * u)},
    "conv": None,       # checked by conv_layers(): an input projection and gated layers
}
_CONV_LAYER = re.compile(r"^conv(\d+)_(kernel|bias|res_kernel|res_bias)$")


class Model:
    """A loaded model: float32 weights, the vocabularies and the metadata.

    Sizes: K kinds, D durations, S steps, U units, C conditioning width, I cell input.
    """

    def __init__(self, weights, vocab, meta, path=None):
        self.weights = weights
        self.kinds = list(vocab["kinds"])
        self.durations = [int(t) for t in vocab["durations"]]
        self.steps = [int(s) for s in vocab["steps"]]
        self.meta = meta
        self.path = path
        self.cell = meta.get("cell", "lstm")
        self.K, self.D, self.S = len(self.kinds), len(self.durations), len(self.steps)
        self.U = weights["kind_kernel"].shape[0]
        self.I = sum(weights[k].shape[1] for k in ("embed_kind", "embed_dur", "embed_step"))
        self.C = int(meta.get("condition", {}).get("width", 0)) if meta.get("condition") else 0
        self.rest = self.kinds.index("R")

    @property
    def vocab(self):
        return {"kinds": self.kinds, "durations": self.durations, "steps": self.steps}

    def __repr__(self):
        return (f"Model({self.cell}, K={self.K}, D={self.D}, S={self.S}, U={self.U}, "
                f"C={self.C}, path={str(self.path)!r})")


def conv_layers(weights):
    """The dilated layers of a conv model, [(index, kernel, bias, res_kernel, res_bias)]
    in order; ModelError-ready problems come back as a string in the second slot."""
    found = {}
    for k in weights:
        m = _CONV_LAYER.match(k)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = weights[k]
    return [(i, found[i].get("kernel"), found[i].get("bias"), found[i].get("res_kernel"),
             found[i].get("res_bias")) for i in sorted(found)]


def check_weights(weights, vocab, meta, where):
    """Raise ModelError unless the arrays have the names and consistent shapes of the
    contract above."""
    cell = meta.get("cell", "lstm")
    if cell not in CELLS:
        raise ModelError(f"{where}: unknown cell {cell!r} (one of {', '.join(CELLS)})")
    missing = [k for k in HEAD_ARRAYS if k not in weights]
    if missing:
        raise ModelError(f"{where}: missing arrays {', '.join(missing)}")
    for k, a in weights.items():
        if a.dtype.kind != "f":
            raise ModelError(f"{where}: array {k} has dtype {a.dtype}, expected float")
        if not np.all(np.isfinite(a)):
            raise ModelError(f"{where}: array {k} holds NaN or infinite values")
    K, D, S = len(vocab["kinds"]), len(vocab["durations"]), len(vocab["steps"])
    for k, rows in (("embed_kind", K + 1), ("embed_dur", D + 1), ("embed_step", S + 1)):
        a = weights[k]
        if a.ndim != 2 or a.shape[0] != rows:
            raise ModelError(f"{where}: {k} has shape {a.shape}, expected ({rows}, width): "
                             f"vocab.json has {rows - 1} entries for it")
    U = weights["kind_kernel"].shape[0] if weights["kind_kernel"].ndim == 2 else -1
    expect = {"kind_kernel": (U, K), "kind_bias": (K,), "dur_kernel": (U + K, D),
              "dur_bias": (D,), "step_kernel": (U + K + D, S), "step_bias": (S,)}
    for k, shape in expect.items():
        if weights[k].shape != shape:
            raise ModelError(f"{where}: {k} has shape {weights[k].shape}, expected {shape}")
    cond = meta.get("condition") or {}
    C = int(cond.get("width", 0)) if isinstance(cond, dict) else 0
    I = sum(weights[k].shape[1] for k in ("embed_kind", "embed_dur", "embed_step")) + C
    if cell == "conv":
        _check_conv(weights, I, U, where)
        return
    for k, shape in CELLS[cell].items():
        if k not in weights:
            raise ModelError(f"{where}: missing array {k} of the {cell} cell")
        if weights[k].shape != shape(I, U):
            raise ModelError(f"{where}: {k} has shape {weights[k].shape}, expected "
                             f"{shape(I, U)} (input {I} = embeddings + condition {C})")


def _check_conv(weights, I, U, where):
    for k, shape in (("conv_in_kernel", (I, U)), ("conv_in_bias", (U,))):
        if k not in weights or weights[k].shape != shape:
            got = weights[k].shape if k in weights else "missing"
            raise ModelError(f"{where}: {k} is {got}, expected {shape}")
    layers = conv_layers(weights)
    if not layers:
        raise ModelError(f"{where}: a conv model needs at least one conv<i>_kernel layer")
    for i, ker, bias, rk, rb in layers:
        want = {"kernel": (ker, (2, U, 2 * U)), "bias": (bias, (2 * U,)),
                "res_kernel": (rk, (U, U)), "res_bias": (rb, (U,))}
        for name, (a, shape) in want.items():
            if a is None or a.shape != shape:
                got = "missing" if a is None else a.shape
                raise ModelError(f"{where}: conv{i}_{name} is {got}, expected {shape}")


def resolve(name_or_path):
    """A model name ("default", or the name of another shipped model such as "bach")
    or a directory path."""
    if name_or_path is None:
        return DEFAULT_DIR
    text = str(name_or_path)
    if re.fullmatch(r"[A-Za-z0-9_-]+", text) and (MODELS_DIR / text).is_dir():
        return MODELS_DIR / text
    return Path(os.path.expanduser(text))


def shipped_models():
    """Names of the models shipped with jazzd."""
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / "meta.json").is_file())


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ModelError(f"model file missing: {path}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelError(f"{path} is not valid JSON: {e}") from None
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror or e}") from None


def _check_vocab(vocab, vpath):
    if not isinstance(vocab, dict):
        raise ModelError(f"{vpath}: expected an object with kinds, durations and steps")
    kinds, durs, steps = vocab.get("kinds"), vocab.get("durations"), vocab.get("steps")
    if not isinstance(kinds, list) or sorted(kinds) != sorted(KINDS) or len(kinds) != 5:
        raise ModelError(f"{vpath}: 'kinds' must list the five kinds {', '.join(KINDS)}, "
                         f"found {kinds!r}")
    if not isinstance(durs, list) or not durs or not all(
            isinstance(t, int) and not isinstance(t, bool) and t > 0 for t in durs) \
            or len(set(durs)) != len(durs):
        raise ModelError(f"{vpath}: 'durations' must be distinct positive tick counts, "
                         f"found {str(durs)[:80]}")
    if not isinstance(steps, list) or not steps or not all(
            isinstance(s, int) and not isinstance(s, bool) and -36 <= s <= 36
            for s in steps) or len(set(steps)) != len(steps):
        raise ModelError(f"{vpath}: 'steps' must be distinct semitone steps within three "
                         f"octaves, found {str(steps)[:80]}")


def load_model(name_or_path="default"):
    """Load a model directory (`"default"` = the model shipped with jazzd)."""
    d = resolve(name_or_path)
    if not d.is_dir():
        what = "does not exist" if not d.exists() else "is not a directory"
        hint = f" (shipped models: {', '.join(shipped_models())})"
        raise ModelError(f"model directory {d} {what}{hint}")
    wpath = d / "weights.npz"
    if not wpath.is_file():
        raise ModelError(f"model file missing: {wpath}")
    try:
        with np.load(wpath, allow_pickle=False) as z:
            weights = {k: np.ascontiguousarray(z[k], dtype=np.float32) for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, zlib.error) as e:
        raise ModelError(f"{wpath} is corrupt or truncated ({type(e).__name__}: {e})") \
            from None
    mpath = d / "meta.json"
    meta = _read_json(mpath)
    if not isinstance(meta, dict):
        raise ModelError(f"{mpath}: expected a JSON object")
    cell = meta.get("cell", "lstm")
    if not isinstance(cell, str):
        raise ModelError(f"{mpath}: 'cell' must be a name ({', '.join(CELLS)}), "
                         f"found {cell!r}")
    if meta.get("format") != FORMAT_VERSION:
        raise ModelError(f"{mpath}: format {meta.get('format')!r} is not supported "
                         f"(this jazzd reads format {FORMAT_VERSION}); retrain the model")
    vpath = d / "vocab.json"
    vocab = _read_json(vpath)
    _check_vocab(vocab, vpath)
    _check_condition(meta, mpath)
    try:
        check_weights(weights, vocab, meta, str(wpath))
        return Model(weights, vocab, meta, path=d)
    except ModelError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
        # whatever else a hand-edited directory can hold: still a clear message
        raise ModelError(f"model directory {d} is malformed ({type(e).__name__}: {e})") \
            from None


def _check_condition(meta, mpath):
    from jazzd.grammar import features
    cond = meta.get("condition")
    if not isinstance(cond, dict):
        raise ModelError(f"{mpath}: the model does not say which condition it reads "
                         f"(key 'condition')")
    got = (cond.get("name"), cond.get("version"), cond.get("width"))
    known = [(s["name"], s["version"], s["width"]) for s in features.SPECS.values()]
    if got not in known:
        want = known[-1]
        raise ModelError(f"{mpath}: the model's condition {got[0]!r} version {got[1]!r} "
                         f"({got[2]} wide) is not this jazzd's {want[0]!r} version "
                         f"{want[1]} ({want[2]} wide) nor an earlier one it reads; "
                         f"retrain the model")


def save_model(directory, weights, vocab, meta):
    """Write a model directory. `meta` gets the format version and sizes filled in."""
    from jazzd.grammar import features
    d = Path(directory)
    weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
    vocab = {"kinds": list(vocab["kinds"]), "durations": [int(t) for t in vocab["durations"]],
             "steps": [int(s) for s in vocab["steps"]]}
    meta = dict(meta, format=FORMAT_VERSION, condition=meta.get("condition") or features.SPEC)
    meta.setdefault("cell", "lstm")
    _check_vocab(vocab, d / "vocab.json")
    check_weights(weights, vocab, meta, str(d))
    d.mkdir(parents=True, exist_ok=True)
    U = weights["kind_kernel"].shape[0]
    meta["sizes"] = {"K": len(vocab["kinds"]), "D": len(vocab["durations"]),
                     "S": len(vocab["steps"]), "U": int(U),
                     "C": int(meta["condition"]["width"]),
                     "E": [int(weights[k].shape[1])
                           for k in ("embed_kind", "embed_dur", "embed_step")]}
    tmp = d / "weights.tmp.npz"
    np.savez_compressed(tmp, **weights)
    os.replace(tmp, d / "weights.npz")
    for name, obj in (("vocab.json", vocab), ("meta.json", meta)):
        tmp = d / (name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1 if name == "meta.json" else None, sort_keys=False)
            f.write("\n")
        os.replace(tmp, d / name)
    return d
