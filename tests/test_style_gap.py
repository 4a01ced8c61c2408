"""The style gap (daemon/evaluation/style_gap.py): the overlap measure, the cross-validated AUC,
the generators, the human choruses, and the baselines on the real held-out players
when the Weimar Jazz Database is in ../shared/data (skipped otherwise)."""

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jazzd.evaluation import style_gap
from jazzd.service.errors import UserError
from jazzd.evaluation.style_gap import (arpeggiator, cross_validated_auc, human_choruses,
                              human_vs_human, measure, overlap, random_generator,
                              shipped_generator)
from jazzd.train.wjazzd import BAR_TICKS, Chorus, Note, Solo
from jazzd.grammar.chart import parse_chart
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.style_features import NAMES

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "wjazzd"
needs_data = pytest.mark.skipif(not (DATA / "solos.csv").is_file(),
                                reason="the Weimar Jazz Database is not in ../shared/data")
BLUES = parse_chart("C7 | F7 | C7 | C7 | F7 | F7 | C7 | A7 | Dm7 | G7 | C7 A7 | Dm7 G7 |")


# ---- overlap ---------------------------------------------------------------------------

def test_overlap_is_one_for_one_distribution_and_near_zero_for_disjoint_ones():
    rng = np.random.default_rng(1)
    a = rng.normal(size=300)
    assert overlap(a, a) == pytest.approx(1.0, abs=1e-3)
    assert overlap(a, rng.normal(size=300)) > 0.85
    assert overlap(a, a + 20) < 0.01
    assert overlap([0.0] * 50, [0.0] * 60) == 1.0
    b = rng.normal(1.0, 1.0, size=300)       # one SD apart: the true overlap is 0.617
    assert overlap(a, b) == pytest.approx(overlap(b, a))
    assert 0.5 < overlap(a, b) < 0.75


def test_overlap_of_a_constant_sample_is_small_against_a_spread_one():
    rng = np.random.default_rng(2)
    assert overlap(np.zeros(100), rng.uniform(0, 1, 100)) < 0.3


# ---- the cross-validated AUC ------------------------------------------------------------

def _two_classes(shift, n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (n, 4)), rng.normal(shift, 1, (n, 4))])
    y = [1] * n + [0] * n
    groups = [f"g{i // 2}" for i in range(n)] * 2
    return X, y, groups


def test_auc_is_one_for_separable_classes_and_near_a_half_for_the_same_distribution():
    auc, sd = cross_validated_auc(*_two_classes(5.0), repeats=2, trees=30)
    assert auc > 0.99 and sd < 0.01
    auc, _ = cross_validated_auc(*_two_classes(0.0), repeats=2, trees=30)
    assert 0.3 < auc < 0.7


def test_groups_never_straddle_train_and_test():
    """Features that only identify the group (a solo's fingerprint) cannot help when a
    group is never in train and test; with every chorus its own group they would."""
    rng = np.random.default_rng(3)
    n_groups, size = 40, 4
    prints = rng.normal(size=(n_groups, 3))
    labels = rng.permutation([0, 1] * (n_groups // 2))
    groups = [f"g{g}" for g in range(n_groups) for _ in range(size)]
    y = [int(labels[g]) for g in range(n_groups) for _ in range(size)]
    X = np.array([prints[g] + rng.normal(0, 0.01, 3) for g in range(n_groups) for _ in range(size)])
    grouped, _ = cross_validated_auc(X, y, groups, repeats=2, trees=30)
    ungrouped, _ = cross_validated_auc(X, y, list(range(len(y))), repeats=2, trees=30)
    assert grouped < 0.75
    assert ungrouped > 0.95


def test_a_missing_scikit_learn_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    with pytest.raises(UserError, match="scikit-learn"):
        cross_validated_auc(*_two_classes(1.0), repeats=1, trees=5)


# ---- generators ----------------------------------------------------------------------------

def _check_notes(notes, n_bars, low=55, high=84):
    assert notes
    ticks = [(o * TPQ, d * TPQ, p) for o, d, p in notes]
    assert all(float(o).is_integer() and float(d).is_integer() and d > 0 for o, d, _ in ticks)
    assert all(a[0] + a[1] <= b[0] for a, b in zip(ticks, ticks[1:]))
    assert ticks[-1][0] + ticks[-1][1] <= n_bars * BAR_TICKS
    assert all(low <= p <= high for _, _, p in ticks)


def test_random_notes_are_on_the_grid_in_the_register_and_seeded():
    gen = random_generator()
    a = gen(BLUES, 12, 5)
    _check_notes(a, 12)
    assert a == gen(BLUES, 12, 5) and a != gen(BLUES, 12, 6)


def test_the_arpeggiator_plays_eighths_of_chord_tones_up_and_down():
    notes = arpeggiator()(BLUES, 12, 0)
    _check_notes(notes, 12)
    assert len(notes) == 12 * 8
    timeline = BLUES.timeline(12)
    assert all(timeline.at(int(o * TPQ)).tones >> (p % 12) & 1 for o, _, p in notes)
    steps = [b[2] - a[2] for a, b in zip(notes, notes[1:])]
    assert any(s > 0 for s in steps) and any(s < 0 for s in steps)


def test_the_shipped_model_plays_on_the_straight_grid():
    gen = shipped_generator()
    notes = gen(BLUES, 12, 3)
    _check_notes(notes, 12)
    assert notes == gen(BLUES, 12, 3)


def test_the_shipped_generator_plays_at_the_tempo_it_is_given():
    """Each human chorus's changes are played at that chorus's tempo: the same seed
    and changes give another line at 80 bpm than at 280, denser (the default is the
    config's 120)."""
    gen = shipped_generator()
    assert gen(BLUES, 12, 3, 120) == gen(BLUES, 12, 3)
    slow = sum(len(gen(BLUES, 12, s, 80)) for s in range(4))
    fast = sum(len(gen(BLUES, 12, s, 280)) for s in range(4))
    assert slow > fast * 1.15, (slow, fast)


# ---- human choruses ---------------------------------------------------------------------------

def _solo(name, chords_per_bar, notes, choruses):
    beats = [parse_symbol(c) if c != "NC" else NO_CHORD for c in chords_per_bar for _ in range(4)]
    return Solo(name, name.split("_")[0], "T", notes, beats, 1, choruses)


def test_human_choruses_leave_out_fragments_free_playing_and_near_silence():
    from collections import Counter
    line = [Note(t, 6, 60 + (t // 6) % 7, False, 1) for t in range(0, 8 * BAR_TICKS, 6)]
    ok = _solo("A_x", ["C7"] * 8, line, [Chorus(1, 0, 8 * BAR_TICKS)])
    short = _solo("B_x", ["C7"] * 8, line, [Chorus(1, 0, 4 * BAR_TICKS)])
    free = _solo("C_x", ["NC"] * 5 + ["C7"] * 3, line, [Chorus(1, 0, 8 * BAR_TICKS)])
    quiet = _solo("D_x", ["C7"] * 8, line[:3], [Chorus(1, 0, 8 * BAR_TICKS)])
    skipped = Counter()
    got = human_choruses([ok, short, free, quiet], skipped=skipped)
    assert [h.group for h in got] == ["A_x"]
    assert skipped == {"shorter than 8 bars": 1, "mostly N.C. (free playing)": 1,
                       "fewer than 8 notes": 1}
    h = got[0]
    assert h.n_bars == 8 and len(h.vector) == len(NAMES)
    assert h.notes[1] == (0.5, 0.5, 61)


def _fake_humans(n=30, seed=0):
    """Human-like choruses: a random walk in mixed rhythms over the blues."""
    rng = random.Random(seed)
    humans = []
    for k in range(n):
        notes, t, p = [], 0, 64
        while t < 12 * BAR_TICKS:
            ioi = rng.choice((4, 6, 6, 6, 12, 18))
            if rng.random() < 0.85:
                notes.append(Note(t, ioi, p, False, 1))
            p = min(80, max(55, p + rng.choice((-4, -2, -1, 1, 2, 3))))
            t += ioi
        solo = Solo(f"P{k % 6}_s{k}", f"P{k % 6}", "T", notes,
                    [c for bar in BLUES.bars for c in [bar[0][1]] * 4], 1,
                    [Chorus(1, 0, 12 * BAR_TICKS)])
        humans += human_choruses([solo])
    return humans


def test_measure_takes_any_generator_and_an_arpeggiator_is_told_apart():
    humans = _fake_humans()
    g = measure(arpeggiator(), humans, "arp", repeats=1, trees=30)
    assert g.n_human == g.n_other == 30
    assert g.auc > 0.95
    assert set(g.overlaps) == set(NAMES)
    assert g.min_overlap < 0.2 and 0 <= g.mean_overlap <= 1


def test_the_tempo_table_compares_the_bands():
    humans = [h._replace(bpm=b) for h, b in zip(_fake_humans(40),
                                               [90, 150, 190, 260] * 10)]
    vectors = [h.vector for h in humans]
    i = NAMES.index("notes_per_beat")
    model = [list(v) for v in vectors]
    for v in model:
        v[i] = 1.5                                   # the same density at every tempo
    g = style_gap.Gap("m", 40, 40, 0.5, 0.0, {n: 1.0 for n in NAMES}, 0.0,
                      vectors=model, bpms=[h.bpm for h in humans])
    t = style_gap.tempo_table(humans, g)
    assert [r["band"] for r in t["bands"]] == ["< 120", "120-170", "170-220", "> 220"]
    assert [r["n"] for r in t["bands"]] == [10] * 4
    for r in t["bands"]:
        lo, med, hi = r["players"]["notes_per_beat"]
        assert lo <= med <= hi and r["model"]["notes_per_beat"] == (1.5, 1.5, 1.5)
        assert set(r["players"]) == {"notes_per_beat", "onsets_per_beat", "rest_share",
                                     "phrase_beats"}
    assert np.isnan(t["corr_model"])                  # a constant has no correlation
    m = style_gap.band_measures(vectors[0])
    beats_0 = vectors[0][NAMES.index("beats_0")]
    assert m["onsets_per_beat"] == pytest.approx(vectors[0][i] / (1 - beats_0))
    text = style_gap.format_tempo_table(t)
    assert "| < 120 | 10 |" in text and "correlation of tempo" in text
    assert style_gap.tempo_band(119.9) == "< 120" and style_gap.tempo_band(220) == "> 220"


def test_a_generator_that_plays_nothing_is_a_clear_error():
    with pytest.raises(UserError, match="only 0 of 30 generated choruses"):
        measure(lambda chart, bars, seed, bpm: [], _fake_humans(), "silent", repeats=1,
                trees=5)


def test_the_command_line_names_a_missing_database(tmp_path):
    r = subprocess.run([sys.executable, "-m", "jazzd", "evaluate", "--style-gap", "--corpus",
                        str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 66 and "not a directory" in r.stderr
    assert str(tmp_path / "nowhere") in r.stderr and "Traceback" not in r.stderr


def test_the_style_gap_needs_its_corpus():
    r = subprocess.run([sys.executable, "-m", "jazzd", "evaluate", "--style-gap"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 64 and "--corpus" in r.stderr and "Traceback" not in r.stderr


# ---- the real held-out players ------------------------------------------------------------

@needs_data
@pytest.mark.slow
def test_on_the_held_out_players_humans_match_humans_and_baselines_do_not():
    humans, held, _, _ = style_gap.held_out_humans(str(DATA))
    assert len(held) == 12 and len(humans) >= 60
    hh = human_vs_human(humans, repeats=2, trees=50)
    assert 0.3 < hh.auc < 0.7
    assert hh.mean_overlap > 0.8
    rnd = measure(random_generator(), humans, "random", repeats=1, trees=50)
    assert rnd.auc > 0.95 and rnd.mean_overlap < hh.mean_overlap - 0.3
