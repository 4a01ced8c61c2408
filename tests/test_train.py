"""`jazzd train`: vocabulary and windows (no TensorFlow), then a real 5-chorale run through
the CLI, checked for a loadable, complete, deterministic model directory."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from jazzd.model.store import load_model
from jazzd.train.sequences import make_windows, split_pieces
from jazzd.train.vocab import build_vocab, nearest_frequent
from jazzd.grammar.values import Value


def test_rare_values_map_to_the_nearest_frequent_of_their_kind():
    common = [Value("C", 6, -1, 5)] * 5 + [Value("C", 12, -5, 1)] * 5 + \
        [Value("S", 6, 0, 6)] * 5 + [Value("R", 12)] * 5 + [Value("C", 12)] * 3
    rare = [Value("C", 7, -2, 4), Value("C", 11, 2, 8), Value("S", 24, -9, -3),
            Value("R", 3), Value("C", 24), Value("A", 3, 0, 6)]
    tokens, index, frequent = build_vocab([common + rare], min_count=3)
    assert tokens[0] == "<s>"
    assert len(tokens) == 1 + 5 + 1        # 5 frequent + A's only value kept
    assert nearest_frequent(Value("C", 7, -2, 4), frequent) == Value("C", 6, -1, 5)
    assert nearest_frequent(Value("C", 11, 2, 8), frequent) == Value("C", 12, -5, 1)
    assert nearest_frequent(Value("S", 24, -9, -3), frequent) == Value("S", 6, 0, 6)
    assert nearest_frequent(Value("R", 3), frequent) == Value("R", 12)
    assert nearest_frequent(Value("C", 24), frequent) == Value("C", 12)   # a phrase start
    assert Value("A", 3, 0, 6) in frequent                                # never lost


def test_windows_cover_every_target_once_in_validation():
    seqs = [(list(range(1, 71)), [(0, 12, 15)] * 70), (list(range(1, 11)), [(3, 13, 16)] * 10)]
    x, c, y, w = make_windows(seqs, 32, 32)
    assert x.shape == (4, 32) and c.shape == (4, 32, 3)
    assert w.sum() == 80
    assert sorted(y[w > 0].tolist()) == sorted(list(range(1, 71)) + list(range(1, 11)))
    assert x[0, 0] == 0 and y[0, 0] == 1 and x[0, 1] == 1      # <s> then the previous value
    assert x[3, 0] == 0                                        # second piece starts with <s>
    x2, _, _, w2 = make_windows(seqs, 32, 16)
    assert w2.sum() > 80 and x2.shape[0] > 4                   # training windows overlap


def test_streams_continue_row_for_row():
    from jazzd.train.sequences import make_streams
    seqs = [(list(range(100 * p + 1, 100 * p + 51)), [(p % 12, 12, 15)] * 50)
            for p in range(8)]                     # 8 pieces of 50 values = 400
    x, c, y, w = make_streams(seqs, 3, 10)         # 3 streams of 13 windows (390 values)
    assert x.shape == (39, 10) and c.shape == (39, 10, 3) and w.sum() == 390
    stream = [np.concatenate([y[k * 3 + b] for k in range(13)]) for b in range(3)]
    flat = np.concatenate([ids for ids, _ in seqs])
    for b in range(3):                             # each stream is a contiguous run
        np.testing.assert_array_equal(stream[b], flat[b * 130:(b + 1) * 130])
    xs = [np.concatenate([x[k * 3 + b] for k in range(13)]) for b in range(3)]
    # inputs are the previous value, and <s> (0) where a piece starts
    starts = {i for i in range(400) if i % 50 == 0}
    for b in range(3):
        for i in range(1, 130):
            g = b * 130 + i
            assert xs[b][i] == (0 if g in starts else flat[g - 1])


def test_split_is_by_piece_and_seeded():
    tr, va = split_pieces(20, 0.1, seed=4)
    assert len(va) == 2 and not set(tr) & set(va) and sorted(tr + va) == list(range(20))
    assert split_pieces(20, 0.1, seed=4) == (tr, va)
    assert split_pieces(20, 0.1, seed=5) != (tr, va)


def test_bad_corpus_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "jazzd", "train", "--corpus",
                          str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 64
    assert "no such file or directory" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "m").exists()


pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("model") / "bach5"
    out = subprocess.run([sys.executable, "-m", "jazzd", "train", "--corpus", "bach",
                          "--limit", "5", "--epochs", "3", "--seed", "7", "--jobs", "1",
                          "--units", "32", "--embed", "16", "--out", str(d)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return d, out.stdout


def test_five_chorale_model_is_loadable_and_complete(trained):
    d, stdout = trained
    m = load_model(d)
    meta = m.meta
    assert meta["variant"] in ("plain", "conditioned") and meta["variant"] == m.variant
    assert set(meta["variants"]) == {"plain", "conditioned"}
    for r in meta["variants"].values():
        assert r["val_loss"] > 0 and 0 <= r["val_accuracy"] <= 1
        assert 1 <= r["best_epoch"] <= r["epochs_run"] <= 3
    best = min(meta["variants"], key=lambda n: meta["variants"][n]["val_loss"])
    assert meta["variant"] == best
    assert meta["corpus"]["pieces"] == 5 and meta["corpus"]["validation_pieces"] == 1
    assert meta["sizes"] == {"V": m.V, "E": 16, "U": 32, "C": m.C}
    assert meta["seed"] == 7 and meta["grammar_version"] and meta["training_seconds"] > 0
    assert {"numpy", "music21", "keras", "python"} <= set(meta["versions"])
    # progress: one line per epoch and variant, then both losses as JSON
    assert len(re.findall(r"^(plain|conditioned) +epoch +\d+/3:", stdout, re.M)) == 6
    last = json.loads(stdout.strip().splitlines()[-1])
    assert set(last) == {"plain", "conditioned"}
    with np.load(d / "weights.npz", allow_pickle=False) as z:
        assert sorted(z.files) == sorted(m.weights)


def test_same_seed_same_weights(trained, tmp_path):
    """The CLI run above and this in-process run share nothing but the seed."""
    from jazzd.train.trainer import train_pieces
    from jazzd.train import corpus
    d, _ = trained
    pieces = [r.piece for r in corpus.build(corpus.bach_paths()[:5], corpus.CorpusSpec(),
                                            jobs=1)]
    meta = train_pieces(pieces, tmp_path / "again", epochs=3, units=32, embed=16, seed=7,
                        log=lambda s: None)
    a, b = load_model(d), load_model(tmp_path / "again")
    assert a.tokens == b.tokens and meta["variant"] == a.variant
    for k in a.weights:
        np.testing.assert_array_equal(a.weights[k], b.weights[k])
