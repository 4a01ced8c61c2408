"""Model directories: round trip, the shipped model, and a clear ModelError for every
kind of broken directory. Plus the sampler."""

import json
import random
import shutil

import numpy as np
import pytest

from jazzd.service.errors import ModelError, UserError
from jazzd.grammar.values import Value
from jazzd.model.lstm import LSTMRuntime
from jazzd.model.style import Style
from jazzd.model.store import ARRAYS, DEFAULT_DIR, load_model, save_model

V, E, U, C = 12, 4, 6, 0


def _weights(V=V, E=E, U=U, C=C, seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"embedding": (V, E), "lstm_kernel": (E + C, 4 * U),
              "lstm_recurrent": (U, 4 * U), "lstm_bias": (4 * U,),
              "dense_kernel": (U, V), "dense_bias": (V,)}
    return {k: rng.normal(0, 0.5, s).astype(np.float32) for k, s in shapes.items()}


def _tokens(n=V):
    return ["<s>"] + [f"C,{i / 4:.3f}" for i in range(1, n)]


@pytest.fixture
def model_dir(tmp_path):
    d = tmp_path / "m"
    save_model(d, _weights(), _tokens(), {"variant": "plain", "corpus": {"source": "test"}})
    return d


def test_round_trip(model_dir):
    m = load_model(model_dir)
    w = _weights()
    for k in ARRAYS:
        np.testing.assert_array_equal(m.weights[k], w[k])
    assert m.tokens == _tokens()
    assert (m.V, m.E, m.U, m.C) == (V, E, U, C)
    assert m.meta["sizes"] == {"V": V, "E": E, "U": U, "C": C}
    assert m.meta["corpus"] == {"source": "test"}
    assert m.variant == "plain"
    assert m.values[0] is None and m.values[4].ticks == 12   # "C,1.000" = a quarter


def test_model_error_is_a_user_error():
    assert issubclass(ModelError, UserError)


def test_missing_directory_names_the_path(tmp_path):
    with pytest.raises(ModelError, match=str(tmp_path / "nope")):
        load_model(tmp_path / "nope")


def test_missing_weights_names_the_file(model_dir):
    (model_dir / "weights.npz").unlink()
    with pytest.raises(ModelError, match="weights.npz"):
        load_model(model_dir)


@pytest.mark.parametrize("cut", [0, 10, 200, -30])
def test_truncated_weights_say_corrupt(model_dir, cut):
    p = model_dir / "weights.npz"
    data = p.read_bytes()
    p.write_bytes(data[:cut] if cut >= 0 else data[:cut])
    with pytest.raises(ModelError, match="corrupt or truncated"):
        load_model(model_dir)


def test_garbage_weights_say_corrupt(model_dir):
    (model_dir / "weights.npz").write_bytes(b"not a zip file at all" * 10)
    with pytest.raises(ModelError, match="corrupt"):
        load_model(model_dir)


def test_pickled_arrays_are_refused(model_dir):
    w = _weights()
    w["embedding"] = np.array([{"evil": 1}] * 3, dtype=object)
    np.savez(model_dir / "weights.npz", **w)
    with pytest.raises(ModelError, match="weights.npz"):
        load_model(model_dir)


def test_missing_array_is_named(model_dir):
    w = _weights()
    del w["dense_bias"]
    np.savez(model_dir / "weights.npz", **w)
    with pytest.raises(ModelError, match="dense_bias"):
        load_model(model_dir)


def test_wrong_shape_is_named(model_dir):
    w = _weights()
    w["lstm_recurrent"] = w["lstm_recurrent"][:, :-1]
    np.savez(model_dir / "weights.npz", **w)
    with pytest.raises(ModelError, match="lstm_recurrent"):
        load_model(model_dir)


def test_vocab_size_mismatch(model_dir):
    (model_dir / "vocab.json").write_text(json.dumps({"tokens": _tokens(V - 1)}))
    with pytest.raises(ModelError, match=f"{V - 1} tokens"):
        load_model(model_dir)


@pytest.mark.parametrize("text,problem", [
    ("{not json", "not valid JSON"),
    ('{"words": []}', "tokens"),
    ('{"tokens": ["C,1.000", "<s>"]}', "token 0"),
    ('["<s>"]', "tokens"),
])
def test_bad_vocab(model_dir, text, problem):
    (model_dir / "vocab.json").write_text(text)
    with pytest.raises(ModelError, match=problem) as e:
        load_model(model_dir)
    assert "vocab.json" in str(e.value)


def test_missing_vocab(model_dir):
    (model_dir / "vocab.json").unlink()
    with pytest.raises(ModelError, match="vocab.json"):
        load_model(model_dir)


def test_meta_format_is_checked(model_dir):
    meta = json.loads((model_dir / "meta.json").read_text())
    meta["format"] = 99
    (model_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="format 99"):
        load_model(model_dir)


def test_conditioned_model_needs_its_condition_in_meta(tmp_path):
    d = tmp_path / "c"
    save_model(d, _weights(C=23), _tokens(), {"variant": "conditioned"})
    with pytest.raises(ModelError, match="condition"):
        load_model(d)


def test_conditioned_model_with_a_foreign_condition_is_refused(tmp_path):
    d = tmp_path / "c"
    save_model(d, _weights(C=5), _tokens(),
               {"variant": "conditioned", "condition": {"name": "other", "version": 1,
                                                        "width": 5}})
    with pytest.raises(ModelError, match="condition"):
        load_model(d)


def test_shipped_default_model_loads_and_steps():
    m = load_model("default")
    assert m.path == DEFAULT_DIR
    assert m.tokens[0] == "<s>"
    assert all(v is not None for v in m.values[1:])
    size = sum(p.stat().st_size for p in DEFAULT_DIR.iterdir())
    assert size < 5_000_000
    for key in ("variant", "variants", "corpus", "grammar_version", "versions", "seed"):
        assert key in m.meta
    rt = LSTMRuntime(m)
    cond = np.zeros(m.C, np.float32)
    if m.C:
        cond[[0, 12, 15]] = 1.0
    logits = rt.step(0, cond if m.C else None)
    assert logits.shape == (m.V,) and np.all(np.isfinite(logits))


def test_copy_of_default_loads_by_path(tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(DEFAULT_DIR, d)
    assert load_model(str(d)).tokens == load_model("default").tokens


# ------------------------------------------------------------------ sampling
# The daemon draws every token through Style.sample (logits + style biases, tempered).

SAMPLE_VALUES = [None, Value("C", 6, -3, 3), Value("S", 6, -3, 3), Value("A", 6, -2, 2),
                 Value("X", 6, -5, 1)]
NEUTRAL_STYLE = {"kind_weights": {}, "duration_weights": {},
                 "strong_beat_chord_weight": 1.0, "rest_probability": None}


def _draw(logits, temperature, rng, n, **style):
    st = Style(SAMPLE_VALUES, dict(NEUTRAL_STYLE, **style))
    return [st.sample(np.asarray(logits, np.float32), 0, temperature, rng) for _ in range(n)]


def test_sample_is_reproducible_and_never_start():
    logits = [50.0, 1.0, 2.0, 0.5, 1.5]          # <s> would win if it could be drawn
    s1 = _draw(logits, 1.0, random.Random(3), 200)
    s2 = _draw(logits, 1.0, random.Random(3), 200)
    assert s1 == s2
    assert 0 not in s1 and set(s1) == {1, 2, 3, 4}


def test_sample_follows_the_softmax():
    logits = np.log([1e-9, 0.1, 0.2, 0.3, 0.4])
    counts = np.bincount(_draw(logits, 1.0, random.Random(5), 20000), minlength=5)
    np.testing.assert_allclose(counts[1:] / 20000, [0.1, 0.2, 0.3, 0.4], atol=0.015)


def test_temperature_sharpens_and_flattens():
    logits = np.log([1e-9, 0.3, 0.7, 1e-9, 1e-9])
    cold = sum(t == 2 for t in _draw(logits, 0.2, random.Random(1), 2000)) / 2000
    hot = sum(t == 2 for t in _draw(logits, 5.0, random.Random(1), 2000)) / 2000
    assert cold > 0.95 and 0.45 < hot < 0.65


def test_bias_moves_the_choice():
    drawn = set(_draw(np.zeros(5), 1.0, random.Random(2), 100,
                      kind_weights={"C": 0, "A": 0, "X": 0}))
    assert drawn == {2}
