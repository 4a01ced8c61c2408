"""`jazzd train`: vocabularies, rows and streams (no TensorFlow), then real runs through
the CLI (chorales; the jazz corpus when it is beside the repository), checked for a
loadable, complete, deterministic model directory."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar import features
from jazzd.grammar.features import HOT_V3, condition_index
from jazzd.grammar.timeline import ChordTimeline
from jazzd.grammar.values import Value, stepped
from jazzd.model.store import load_model
from jazzd.train.corpus import Piece
from jazzd.train.sequences import piece_rows, split_by, streams
from jazzd.train.vocab import Vocab, build_vocab, fold_step

WJAZZD = Path(__file__).resolve().parents[2] / "shared" / "data" / "wjazzd"
C7 = parse_symbol("C7")


def test_rare_durations_map_to_the_nearest_frequent_one():
    common = [Value("C", 6)] * 5 + [Value("C", 12)] * 5 + [Value("R", 24)] * 3
    rare = [Value("C", 7), Value("S", 10), Value("R", 30), Value("A", 2)]
    v = build_vocab([common + rare], min_count=3)
    assert v.durations == [6, 12, 24]
    assert [v.durations[v.duration_index(t)] for t in (7, 10, 30, 2, 9)] == [6, 12, 24, 6, 6]
    assert v.remapped == {7: 1, 10: 1, 30: 1, 2: 1, 9: 1}


def test_steps_fold_into_the_vocabulary_by_octaves():
    assert [fold_step(s) for s in (0, 16, 17, -16, -17, 29, -30)] == \
        [0, 16, 5, -16, -5, 5, -6]
    v = Vocab([6])
    assert v.encode(stepped("C", 6, 19)) == (0, 0, v.step_index[7])
    assert v.encode(Value("R", 6)) == (4, 0, None)


def _piece(values, pitches, performer="P", bpm=None):
    return Piece("p", values, ChordTimeline([(0, C7)], length=96), 48, 4, 0, pitches,
                 performer, bpm)


def test_rows_are_what_the_performer_computes_before_each_value():
    values = [Value("C", 6), stepped("S", 6, 2), Value("R", 12), stepped("C", 24, -5)]
    pitches = [64, 66, None, 61]
    rows = piece_rows(_piece(values, pitches, bpm=240), Vocab([6, 12, 24]))
    assert rows["cond"].shape == (4, HOT_V3)
    assert list(rows["prev_kind"]) == [0, 1, 2, 5]           # nothing, C, S, R (+1)
    assert list(rows["prev_dur"]) == [0, 1, 1, 2]
    assert list(rows["kind"]) == [0, 1, 4, 0] and list(rows["dur"]) == [0, 0, 1, 2]
    assert list(rows["step_mask"]) == [0, 1, 0, 1]           # no step: first note, rest
    assert rows["prev_step"][3] == 0                         # a rest's step is "nothing"
    middle = 64                                              # the median of 64, 66, 61
    phrase = features.PHRASE_OFFSET
    assert tuple(rows["cond"][3]) == condition_index(24, C7, 4, 66, middle, False) \
        + (phrase + 0,)                                      # after a rest: a new phrase
    assert tuple(rows["cond"][0]) == condition_index(0, C7, 4, None, middle, True) \
        + (phrase + 0,)                                      # the start
    assert rows["cond"][1][-1] == phrase + 1                 # 6 ticks into the phrase
    assert rows["cond"][2][-1] == phrase + 1                 # 12 ticks: still band 1
    np.testing.assert_allclose(rows["tempo"], [features.tempo_features(240)] * 4,
                               rtol=1e-6)
    untimed = piece_rows(_piece(values, pitches), Vocab([6, 12, 24]))
    np.testing.assert_allclose(untimed["tempo"][0], features.tempo_features(120), rtol=1e-6)


def test_streams_continue_row_for_row():
    pieces = []
    for p in range(8):                  # 8 pieces of 50 values = 400
        vals = [stepped("C", 6, 1)] * 50
        pieces.append(piece_rows(_piece(vals, list(range(50))), Vocab([6])))
    data = streams(pieces, 3, 10)       # 3 streams of 13 windows (390 values)
    assert data["kind"].shape == (39, 10) and data["cond"].shape == (39, 10, HOT_V3)
    assert data["tempo"].shape == (39, 10, 2)
    flat = np.concatenate([r["prev_kind"] for r in pieces])
    for b in range(3):                  # each stream is a contiguous run
        s = np.concatenate([data["prev_kind"][k * 3 + b] for k in range(13)])
        np.testing.assert_array_equal(s, flat[b * 130:(b + 1) * 130])
    assert data["prev_kind"][0, 0] == 0 and data["prev_kind"][0, 1] == 1


def test_split_is_by_group_and_seeded():
    items = [(f"p{i % 20}", i) for i in range(200)]
    tr, va = split_by(items, lambda x: x[0], 0.1, seed=4)
    assert {g for g, _ in tr}.isdisjoint({g for g, _ in va})
    assert len(va) == 20 and len(tr) + len(va) == 200       # two players of ten pieces
    assert split_by(items, lambda x: x[0], 0.1, seed=4) == (tr, va)
    assert any(split_by(items, lambda x: x[0], 0.1, seed=s) != (tr, va) for s in range(5, 9))


def test_bad_corpus_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "jazzd", "train", "--corpus",
                          str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 64
    assert "no such file or directory" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("args,words", [
    (["--corpus", "bach", "--cell", "transformer"], "--cell transformer"),
    (["--corpus", "bach", "--hold-out", "-1"], "--hold-out"),
    (["--corpus", "bach", "--units", "0"], "--units"),
    (["--corpus", "wjazzd:/nowhere"], "not a Weimar Jazz Database directory"),
])
def test_bad_options_are_clear_errors(tmp_path, args, words):
    out = subprocess.run([sys.executable, "-m", "jazzd", "train", *args,
                          "--out", str(tmp_path / "m")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 64 and words in out.stderr and "Traceback" not in out.stderr


pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("model") / "bach5"
    out = subprocess.run([sys.executable, "-m", "jazzd", "train", "--corpus", "bach",
                          "--limit", "5", "--epochs", "3", "--seed", "7", "--jobs", "1",
                          "--units", "16", "--window", "8", "--cell", "lstm,gru",
                          "--out", str(d)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return d, out.stdout


def test_five_chorale_model_is_loadable_and_complete(trained):
    d, stdout = trained
    m = load_model(d)
    meta = m.meta
    assert set(meta["cells"]) == {"lstm", "gru"}
    for r in meta["cells"].values():
        assert r["loss"] > 0 and 0 <= r["kind_acc"] <= 1
        assert 1 <= r["best_epoch"] <= r["epochs_run"] <= 3
    best = min(meta["cells"], key=lambda c: meta["cells"][c]["loss"])
    assert meta["cell"] == m.cell == best
    assert meta["corpus"]["pieces"] == 5 and meta["corpus"]["split"] == "piece"
    assert "public domain" in meta["corpus"]["credit"]
    assert meta["sizes"]["U"] == 16 and meta["sizes"]["C"] == m.C
    assert meta["seed"] == 7 and meta["training_seconds"] > 0
    assert {"numpy", "music21", "keras", "python"} <= set(meta["versions"])
    # progress: one line per epoch and cell, then the losses as JSON
    assert len(re.findall(r"^(lstm|gru) +epoch +\d+/3:", stdout, re.M)) >= 4
    last = json.loads(stdout.strip().splitlines()[-1])
    assert set(last) == {"lstm", "gru"}
    with np.load(d / "weights.npz", allow_pickle=False) as z:
        assert sorted(z.files) == sorted(m.weights)


def test_same_seed_same_weights(trained, tmp_path):
    """The CLI run above and this in-process run share nothing but the seed."""
    from jazzd.train import corpus
    from jazzd.train.trainer import train_pieces
    d, _ = trained
    pieces = [r.piece for r in corpus.build(corpus.bach_paths()[:5], corpus.CorpusSpec(),
                                            jobs=1)]
    train_pieces(pieces, tmp_path / "again", cells=("lstm", "gru"), epochs=3, units=16,
                 window=8, seed=7, log=lambda s: None)
    a, b = load_model(d), load_model(tmp_path / "again")
    assert a.vocab == b.vocab and a.cell == b.cell
    for k in a.weights:
        np.testing.assert_array_equal(a.weights[k], b.weights[k])


@pytest.mark.skipif(not WJAZZD.is_dir(), reason="../shared/data/wjazzd is not present")
def test_the_jazz_corpus_trains_with_its_players_held_out(tmp_path):
    d = tmp_path / "jazz"
    out = subprocess.run([sys.executable, "-m", "jazzd", "train", "--corpus",
                          f"wjazzd:{WJAZZD}", "--limit", "12", "--epochs", "1",
                          "--units", "16", "--window", "8", "--out", str(d)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    meta = load_model(d).meta
    held = meta["corpus"]["held_out_players"]
    assert len(held) == 12 and "Weimar Jazz Database" in meta["corpus"]["credit"]
    assert meta["corpus"]["split"] in ("performer", "piece")
    assert not set(held) & set(meta["corpus"]["validation"])
