"""Model directories: `weights.npz` + `vocab.json` + `meta.json`, written by `jazzd train`
and read by the daemon.

NumPy and json only: the daemon must load a model without TensorFlow, and without
pickles (`allow_pickle=False`), so a model directory is plain data anyone can inspect.
Every problem raises `ModelError` naming the path and what is wrong with it.
"""

import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from jazzd.service.errors import ModelError

FORMAT_VERSION = 1
START = "<s>"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "models" / "default"
ARRAYS = ("embedding", "lstm_kernel", "lstm_recurrent", "lstm_bias", "dense_kernel",
          "dense_bias")


class Model:
    """A loaded model: float32 weights, the token list and the metadata.

    Sizes: V tokens, E embedding width, U LSTM units, C conditioning width (0 = plain).
    """

    def __init__(self, weights, tokens, meta, path=None):
        self.weights = weights
        self.tokens = list(tokens)
        self.meta = meta
        self.path = path
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.V, self.E = weights["embedding"].shape
        self.U = weights["lstm_recurrent"].shape[0]
        self.C = weights["lstm_kernel"].shape[0] - self.E
        self._values = None

    @property
    def variant(self):
        return "conditioned" if self.C else "plain"

    @property
    def values(self):
        """`jazzd.grammar.values.Value` of every token (None for `<s>`), parsed once."""
        if self._values is None:
            from jazzd.grammar.values import parse_value
            self._values = [None] + [parse_value(t) for t in self.tokens[1:]]
        return self._values

    def __repr__(self):
        return (f"Model({self.variant}, V={self.V}, E={self.E}, U={self.U}, C={self.C}, "
                f"path={str(self.path)!r})")


def check_weights(weights, n_tokens, where):
    """Raise ModelError unless the arrays have the names and consistent shapes of the
    contract (docs/ARCHITECTURE.md, "Model directory")."""
    missing = [k for k in ARRAYS if k not in weights]
    if missing:
        raise ModelError(f"{where}: missing arrays {', '.join(missing)}")
    for k in ARRAYS:
        a = weights[k]
        if a.dtype.kind != "f":
            raise ModelError(f"{where}: array {k} has dtype {a.dtype}, expected float")
        if not np.all(np.isfinite(a)):
            raise ModelError(f"{where}: array {k} holds NaN or infinite values")
    emb = weights["embedding"]
    if emb.ndim != 2:
        raise ModelError(f"{where}: embedding has shape {emb.shape}, expected (V, E)")
    V, E = emb.shape
    rec = weights["lstm_recurrent"]
    if rec.ndim != 2 or rec.shape[1] != 4 * rec.shape[0]:
        raise ModelError(f"{where}: lstm_recurrent has shape {rec.shape}, expected (U, 4U)")
    U = rec.shape[0]
    expect = {
        "lstm_bias": (4 * U,),
        "dense_kernel": (U, V),
        "dense_bias": (V,),
    }
    for k, shape in expect.items():
        if weights[k].shape != shape:
            raise ModelError(f"{where}: {k} has shape {weights[k].shape}, expected {shape}")
    ker = weights["lstm_kernel"]
    if ker.ndim != 2 or ker.shape[1] != 4 * U or ker.shape[0] < E:
        raise ModelError(f"{where}: lstm_kernel has shape {ker.shape}, expected "
                         f"(E + C, {4 * U}) with E = {E}")
    if n_tokens is not None and n_tokens != V:
        raise ModelError(f"{where}: vocab.json has {n_tokens} tokens but the weights are "
                         f"for {V}")


def _resolve(name_or_path):
    if name_or_path is None or str(name_or_path) == "default":
        return DEFAULT_DIR
    return Path(os.path.expanduser(str(name_or_path)))


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


def load_model(name_or_path="default"):
    """Load a model directory (`"default"` = the model shipped with jazzd)."""
    d = _resolve(name_or_path)
    if not d.is_dir():
        what = "does not exist" if not d.exists() else "is not a directory"
        raise ModelError(f"model directory {d} {what}")
    wpath = d / "weights.npz"
    if not wpath.is_file():
        raise ModelError(f"model file missing: {wpath}")
    try:
        with np.load(wpath, allow_pickle=False) as z:
            weights = {k: np.ascontiguousarray(z[k], dtype=np.float32) for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, zlib.error) as e:
        raise ModelError(f"{wpath} is corrupt or truncated ({type(e).__name__}: {e})") \
            from None

    vpath = d / "vocab.json"
    vocab = _read_json(vpath)
    tokens = vocab.get("tokens") if isinstance(vocab, dict) else None
    if not isinstance(tokens, list) or not tokens or \
            not all(isinstance(t, str) for t in tokens):
        raise ModelError(f"{vpath}: expected {{\"tokens\": [\"<s>\", ...]}}, a list of strings")
    if tokens[0] != START:
        raise ModelError(f"{vpath}: token 0 must be {START!r}, found {tokens[0]!r}")
    if len(set(tokens)) != len(tokens):
        raise ModelError(f"{vpath}: duplicate tokens")
    check_weights(weights, len(tokens), str(wpath))

    mpath = d / "meta.json"
    meta = _read_json(mpath)
    if not isinstance(meta, dict):
        raise ModelError(f"{mpath}: expected a JSON object")
    if meta.get("format") != FORMAT_VERSION:
        raise ModelError(f"{mpath}: format {meta.get('format')!r} is not supported "
                         f"(this jazzd reads format {FORMAT_VERSION})")
    C = weights["lstm_kernel"].shape[0] - weights["embedding"].shape[1]
    if C:
        from jazzd.grammar import features
        cond = meta.get("condition")
        if not isinstance(cond, dict):
            raise ModelError(f"{mpath}: the weights take a {C}-wide condition but meta.json "
                             f"does not say which (key 'condition')")
        want = (features.SPEC["name"], features.SPEC["version"], features.WIDTH)
        got = (cond.get("name"), cond.get("version"), C)
        if got != want:
            raise ModelError(f"{mpath}: the model's condition {got[0]!r} version {got[1]!r} "
                             f"({C} wide) is not this jazzd's {want[0]!r} version {want[1]} "
                             f"({want[2]} wide); retrain the model")
    return Model(weights, tokens, meta, path=d)


def save_model(directory, weights, tokens, meta):
    """Write a model directory. `weights` maps the ARRAYS names to arrays; `meta` gets
    the format version and sizes filled in."""
    d = Path(directory)
    weights = {k: np.asarray(weights[k], dtype=np.float32) for k in ARRAYS}
    check_weights(weights, len(tokens), str(d))
    if tokens[0] != START:
        raise ValueError(f"token 0 must be {START!r}")
    d.mkdir(parents=True, exist_ok=True)
    V, E = weights["embedding"].shape
    U = weights["lstm_recurrent"].shape[0]
    C = weights["lstm_kernel"].shape[0] - E
    meta = dict(meta, format=FORMAT_VERSION,
                sizes={"V": int(V), "E": int(E), "U": int(U), "C": int(C)})
    tmp = d / "weights.tmp.npz"
    np.savez_compressed(tmp, **weights)
    os.replace(tmp, d / "weights.npz")
    for name, obj in (("vocab.json", {"tokens": list(tokens)}), ("meta.json", meta)):
        tmp = d / (name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1 if name == "meta.json" else None, sort_keys=False)
            f.write("\n")
        os.replace(tmp, d / name)
    return d
