"""Model directories: round trip, the shipped models, and a clear ModelError for every
kind of broken directory. Plus the sampler the daemon draws every head through."""

import json
import random
import shutil

import numpy as np
import pytest

from conftest import random_weights, small_vocab
from jazzd.grammar.features import HOT, WIDTH
from jazzd.model.network import Network
from jazzd.model.store import (DEFAULT_DIR, MODELS_DIR, load_model, resolve, save_model,
                               shipped_models)
from jazzd.model.style import Style, draw
from jazzd.service.errors import ModelError, UserError

VOCAB = small_vocab()
META = {"corpus": {"source": "test"}}


@pytest.fixture
def model_dir(tmp_path):
    d = tmp_path / "m"
    save_model(d, random_weights(VOCAB), VOCAB, META)
    return d


def _rewrite_weights(d, change):
    with np.load(d / "weights.npz") as z:
        w = {k: z[k] for k in z.files}
    change(w)
    np.savez(d / "weights.npz", **w)


def test_round_trip(model_dir):
    m = load_model(model_dir)
    w = random_weights(VOCAB)
    for k in w:
        np.testing.assert_array_equal(m.weights[k], w[k])
    assert m.vocab == VOCAB
    assert (m.K, m.D, m.S, m.U, m.C) == (5, 5, 11, 16, WIDTH)
    assert m.meta["sizes"] == {"K": 5, "D": 5, "S": 11, "U": 16, "C": WIDTH, "E": [4, 6, 6]}
    assert m.meta["corpus"] == {"source": "test"}
    assert m.cell == "lstm" and m.rest == 4


@pytest.mark.parametrize("cell", ["lstm", "gru", "conv"])
def test_every_cell_round_trips_and_steps(tmp_path, cell):
    save_model(tmp_path / cell, random_weights(VOCAB, cell), VOCAB, dict(META, cell=cell))
    m = load_model(tmp_path / cell)
    net = Network(m)
    cond = np.zeros(WIDTH, np.float32)
    cond[:HOT] = 1.0
    net.advance(0, 0, 0, cond)
    assert m.cell == cell and np.all(np.isfinite(net.step_logits(1, 2)))


def test_model_error_is_a_user_error():
    assert issubclass(ModelError, UserError)


def test_missing_directory_names_the_path_and_the_shipped_models(tmp_path):
    with pytest.raises(ModelError, match=str(tmp_path / "nope")) as e:
        load_model(tmp_path / "nope")
    assert "default" in str(e.value)


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
    def evil(w):
        w["embed_kind"] = np.array([{"evil": 1}] * 3, dtype=object)
    _rewrite_weights(model_dir, evil)
    with pytest.raises(ModelError, match="weights.npz"):
        load_model(model_dir)


def test_missing_array_is_named(model_dir):
    _rewrite_weights(model_dir, lambda w: w.pop("step_bias"))
    with pytest.raises(ModelError, match="step_bias"):
        load_model(model_dir)


def test_wrong_shape_is_named(model_dir):
    def cut(w):
        w["lstm_recurrent"] = w["lstm_recurrent"][:, :-1]
    _rewrite_weights(model_dir, cut)
    with pytest.raises(ModelError, match="lstm_recurrent"):
        load_model(model_dir)


def test_vocab_size_mismatch(model_dir):
    (model_dir / "vocab.json").write_text(json.dumps(dict(VOCAB, steps=list(range(-4, 6)))))
    with pytest.raises(ModelError, match="embed_step"):
        load_model(model_dir)


@pytest.mark.parametrize("text,problem", [
    ("{not json", "not valid JSON"),
    ('{"words": []}', "kinds"),
    ('{"kinds": ["C", "S", "A", "X", "Q"], "durations": [3], "steps": [0]}', "kinds"),
    ('["C"]', "expected an object"),
    ('{"kinds": ["C", "S", "A", "X", "R"], "durations": [0, 3], "steps": [0]}', "durations"),
    ('{"kinds": ["C", "S", "A", "X", "R"], "durations": [3], "steps": ["up"]}', "steps"),
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


def test_a_format_1_model_is_refused_with_a_reason(model_dir):
    meta = json.loads((model_dir / "meta.json").read_text())
    meta["format"] = 1
    (model_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="retrain"):
        load_model(model_dir)


def test_model_without_its_condition_in_meta(model_dir):
    meta = json.loads((model_dir / "meta.json").read_text())
    del meta["condition"]
    (model_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="condition"):
        load_model(model_dir)


def test_model_with_a_foreign_condition_is_refused(model_dir):
    meta = json.loads((model_dir / "meta.json").read_text())
    meta["condition"] = {"name": "other", "version": 1, "width": 5}
    (model_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="condition"):
        load_model(model_dir)


def test_a_model_of_the_previous_condition_still_loads(tmp_path):
    """Version 2 (before the phrase and the tempo, issue 19): the shipped chorale model
    is one; its weights read 47 condition columns. Version 2 named with version 3's
    width is refused."""
    from jazzd.grammar import features
    w = random_weights(VOCAB)
    w["lstm_kernel"] = w["lstm_kernel"][:-(features.WIDTH - features.WIDTH_V2)]
    save_model(tmp_path / "v2", w, VOCAB, dict(META, condition=features.SPEC_V2))
    m = load_model(tmp_path / "v2")
    assert m.C == features.WIDTH_V2 and m.meta["condition"]["version"] == 2
    assert load_model("bach").C == features.WIDTH_V2
    meta = json.loads((tmp_path / "v2" / "meta.json").read_text())
    meta["condition"]["width"] = features.WIDTH
    (tmp_path / "v2" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="condition"):
        load_model(tmp_path / "v2")


def test_unknown_cell_is_named(model_dir):
    meta = json.loads((model_dir / "meta.json").read_text())
    meta["cell"] = "transformer"
    (model_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="transformer"):
        load_model(model_dir)


@pytest.mark.parametrize("name", ["default", "bach"])
def test_shipped_models_load_and_step(name):
    m = load_model(name)
    assert m.path == MODELS_DIR / name
    size = sum(p.stat().st_size for p in m.path.iterdir())
    assert size < 5_000_000
    for key in ("cell", "cells", "corpus", "versions", "seed", "condition"):
        assert key in m.meta
    assert "credit" in m.meta["corpus"]
    net = Network(m)
    cond = np.zeros(m.C, np.float32)
    cond[[0, 12, 15, 23, 36, 46]] = 1.0
    net.advance(0, 0, 0, cond)
    for logits in (net.kind_logits(), net.dur_logits(0), net.step_logits(0, 0)):
        assert np.all(np.isfinite(logits))


def test_the_jazz_model_is_the_default_and_credits_the_database():
    assert resolve("default") == DEFAULT_DIR and set(shipped_models()) >= {"default", "bach"}
    meta = load_model("default").meta
    assert "Weimar Jazz Database" in meta["corpus"]["credit"]
    assert "Bach" in load_model("bach").meta["corpus"]["source"]


def test_copy_of_default_loads_by_path(tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(DEFAULT_DIR, d)
    assert load_model(str(d)).vocab == load_model("default").vocab


# ------------------------------------------------------------------ sampling
# The daemon draws every head through Style's distributions and `draw`.

NEUTRAL_STYLE = {"kind_weights": {}, "duration_weights": {},
                 "strong_beat_chord_weight": 1.0, "rest_probability": None}


def _draw_kinds(logits, temperature, rng, n, **style):
    st = Style(VOCAB["kinds"], VOCAB["durations"], dict(NEUTRAL_STYLE, **style))
    cum = np.zeros(5)
    return [draw(st.kind_distribution(np.asarray(logits, np.float32), 6, temperature),
                 rng, cum) for _ in range(n)]


def test_sample_is_reproducible():
    logits = [1.0, 2.0, 0.5, 1.5, 0.2]
    s1 = _draw_kinds(logits, 1.0, random.Random(3), 200)
    s2 = _draw_kinds(logits, 1.0, random.Random(3), 200)
    assert s1 == s2 and set(s1) == {0, 1, 2, 3, 4}


def test_sample_follows_the_softmax():
    logits = np.log([0.1, 0.2, 0.3, 0.25, 0.15])
    counts = np.bincount(_draw_kinds(logits, 1.0, random.Random(5), 20000), minlength=5)
    np.testing.assert_allclose(counts / 20000, [0.1, 0.2, 0.3, 0.25, 0.15], atol=0.015)


def test_temperature_sharpens_and_flattens():
    logits = np.log([0.3, 0.7, 1e-9, 1e-9, 1e-9])
    cold = sum(t == 1 for t in _draw_kinds(logits, 0.2, random.Random(1), 2000)) / 2000
    hot = sum(t == 1 for t in _draw_kinds(logits, 5.0, random.Random(1), 2000)) / 2000
    assert cold > 0.95 and 0.45 < hot < 0.6      # 0.7 ** 0.2 / (0.3 ** 0.2 + 0.7 ** 0.2 + ...)


def test_bias_moves_the_choice():
    drawn = set(_draw_kinds(np.zeros(5), 1.0, random.Random(2), 100,
                            kind_weights={"C": 0, "A": 0, "X": 0, "R": 0}))
    assert drawn == {1}


def test_draw_never_returns_a_zero_probability_entry():
    p = np.array([0.0, 0.5, 0.0, 0.5, 0.0])
    rng = random.Random(0)
    cum = np.zeros(5)
    assert {draw(p, rng, cum) for _ in range(500)} == {1, 3}
