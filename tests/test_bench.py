"""`jazzd bench`: the report is well formed and honest. No timed asserts: the numbers
are the bench's output, not the test's business; only their shape and sanity are."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from jazzd.bench import report as bench
from jazzd.bench import suite
from jazzd.bench.live import onset_errors, stuck_notes
from jazzd.service.errors import UserError
from conftest import save_random_model, small_vocab

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _model(directory, U=64, seed=0):
    """A runnable model with random weights: heads of 5 + 5 + 11 = 21 entries."""
    return save_random_model(directory, small_vocab(), seed=seed, units=U,
                             meta={"corpus": {"source": "test"}})


def _bench(*args, timeout=120):
    p = subprocess.run([sys.executable, "-m", "jazzd", "bench", *args],
                       capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert p.returncode == 0, p.stderr
    return p


def _check_figures(section):
    assert "figures" in section, section
    for f in section["figures"]:
        if "not_measured" in f:
            assert f["not_measured"].strip()
            continue
        if "value" in f:
            assert isinstance(f["value"], (int, float)), f
            assert f["value"] >= 0 or f.get("signed"), f     # a size, unless signed
        else:
            assert f["n"] >= 1
            assert f["p50"] <= f["p99"] <= f["max"], f
            assert f["p50"] > 0 or f.get("signed"), f
            assert f["p50"] <= f["max"] and f["mean"] <= f["max"], f
        if "bar" in f:
            assert f["ok"] in (True, False)
            assert f["bar"]["stat"] in ("p50", "p99", "max", "mean", "value")
        if f.get("ratio") is not None:
            assert f["ratio"] > 0


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    model = _model(tmp_path_factory.mktemp("bench") / "model")
    p = _bench("--quick", "--json", "--only", "lstm,grammar,scheduler", "--model", str(model))
    return json.loads(p.stdout)


def test_offline_sections_give_well_formed_numbers(offline):
    assert offline["quick"] is True
    assert list(offline["sections"]) == ["lstm", "grammar", "scheduler"]
    for name, section in offline["sections"].items():
        _check_figures(section)
    keys = {f["key"] for s in offline["sections"].values() for f in s["figures"]}
    assert {"lstm.step_numpy", "lstm.step_cpu", "lstm.next_value", "lstm.load", "lstm.vocab",
            "grammar.unparse",
            "grammar.recognize", "scheduler.send_idle", "scheduler.send_busy",
            "scheduler.naive_idle", "scheduler.naive_busy"} <= keys


def test_ratios_link_figures_to_baselines_of_the_same_run(offline):
    figs = {f["key"]: f for s in offline["sections"].values() for f in s["figures"]}
    for key in ("grammar.unparse", "scheduler.send_busy"):
        f = figs[key]
        b = figs[f["baseline"]]
        assert f["ratio_stat"] == f["bar"]["stat"] == "p99"
        assert f["ratio"] == pytest.approx(f["p99"] / b["p99"])
    f = figs["scheduler.send_idle"]          # no bar: the ratio is at p50
    assert "bar" not in f and f["ratio_stat"] == "p50"
    assert f["ratio"] == pytest.approx(f["p50"] / figs[f["baseline"]]["p50"])
    # the keras section did not run: the step's baseline says so instead of a ratio
    step = figs["lstm.step_numpy"]
    assert step["ratio"] is None and step["baseline_not_measured"]
    assert figs["lstm.vocab"]["value"] == 21


def test_every_bar_is_accounted_for(offline):
    bars = offline["bars"]
    with_bar = {f["key"] for s in offline["sections"].values() for f in s["figures"]
                if "bar" in f}
    assert with_bar == set(bars["met"]) | set(bars["missed"]) | set(bars["not_measured"])
    assert {"lstm.step_numpy", "grammar.unparse", "grammar.recognize",
            "scheduler.send_busy"} <= with_bar


def test_missing_model_is_not_measured_with_the_reason(tmp_path):
    p = _bench("--quick", "--json", "--only", "lstm", "--model", str(tmp_path / "nope"))
    doc = json.loads(p.stdout)
    reason = doc["sections"]["lstm"]["not_measured"]
    assert "nope" in reason and "figures" not in doc["sections"]["lstm"]


def test_table_names_sections_bars_and_verdict(tmp_path):
    p = _bench("--quick", "--only", "lstm", "--model", str(_model(tmp_path / "m")))
    out = p.stdout
    assert "step, NumPy network" in out and "p99 ≤ 0.1 ms" in out
    assert "bars:" in out
    assert "not run" in out or "not measured" in out     # the Keras baseline was left out


def test_unknown_section_is_a_clear_usage_error():
    with pytest.raises(UserError, match="unknown section bogus.*allowed: lstm"):
        suite.parse_only("lstm,bogus")
    p = subprocess.run([sys.executable, "-m", "jazzd", "bench", "--only", "bogus"],
                       capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 64 and "unknown section bogus" in p.stderr
    assert "Traceback" not in p.stderr


def test_only_offline_expands_in_report_order():
    assert suite.parse_only("scheduler,offline") == ["lstm", "keras", "grammar", "scheduler"]
    assert suite.parse_only(None) == list(suite.SECTIONS)


def test_percentiles_are_nearest_rank_observations():
    s = bench.summarize(range(1, 101))
    assert (s["p50"], s["p99"], s["max"], s["n"]) == (50, 99, 100, 100)
    s = bench.summarize([3.0])
    assert s["p50"] == s["p99"] == s["max"] == 3.0
    with pytest.raises(ValueError):
        bench.summarize([])


def test_bar_verdicts_follow_their_statistic():
    f = bench.Figure("x", "x", "ms", [0.01] * 98 + [0.2, 0.3], bar=bench.Bar("p99", 0.1, "ms"))
    assert f.stat("p99") == 0.2 and f.ok is False
    g = bench.Figure("y", "y", "%", value=12.0, bar=bench.Bar("value", 15, "%"))
    assert g.ok is True
    m = bench.missing("z", "z", "no jackd", bench.Bar("p99", 1, "s"))
    assert m.ok is None and m.as_dict()["not_measured"] == "no jackd"


def test_onset_errors_fit_the_phase_and_the_tempo():
    period = 0.125
    jitter = [0.0003, -0.0002, 0.0001, 0.0, 0.0004, -0.0001, 0.0002]
    times = [100.0 + 0.010 + k * 2 * period + j for k, j in enumerate(jitter)]
    errors, ppm = onset_errors(times, period)
    assert len(errors) == len(times)
    # the constant 10 ms latency is the phase, not an error
    assert max(errors) < 0.5 and sorted(errors)[len(errors) // 2] < 0.25
    assert abs(ppm) < 2000
    slow = [100.0 + k * period * 1.001 for k in range(50)]
    assert onset_errors(slow, period)[1] == pytest.approx(1000, rel=0.01)


def test_stuck_notes_counts_unmatched_note_ons():
    ev = [(0, (0x90, 60, 90)), (1, (0x80, 60, 0)), (2, (0x90, 62, 90)),
          (3, (0x90, 64, 90)), (4, (0x90, 64, 0)), (5, (0xB0, 123, 0))]
    assert stuck_notes(ev) == 1


def test_standards_onsets_are_measured_on_the_masters_swung_grid():
    from jazzd.bench.master import ClockMaster
    from jazzd.bench.standards import onset_errors_on_master
    master = ClockMaster(kb=None, bpm=120)
    period = 60 / 120 / 24
    master.ticks = [(k, 50.0 + k * period * 1.002) for k in range(24 * 8)]  # a slow master
    spb = 24 * period * 1.002
    swing, grace = 0.6, 0.008
    ons = [50.0 + 1 * spb + 0.002,              # beat 1, 2 ms late
           50.0 + 2.6 * spb - 0.001,            # the swung eighth after beat 2, 1 ms early
           50.0 + 4 * spb + grace + 0.0005]     # beat 4, waited the chord grace
    events = [(t, (0x90, 60, 90)) for t in ons] + [(51.0, (0x80, 60, 0))]
    got = onset_errors_on_master(master, sorted(events), 49.0, 60.0, swing, grace)
    assert got == pytest.approx([2.0, 1.0, 0.5], abs=0.01)


def test_standards_charts_parse_and_are_not_toy_lengths():
    from jazzd.bench.standards import BEATS, STANDARDS
    from jazzd.grammar.chart import parse_chart
    assert len(STANDARDS) == 4
    for name, text in STANDARDS.items():
        chart = parse_chart(text, BEATS)
        assert name.endswith(f"{len(chart.bars)} bars)"), name


def _jack_here(section):
    """Can a live section measure here? Without jackd it must say so (a failure where
    CI requires JACK)."""
    if shutil.which("jackd") is not None:
        return True
    if os.environ.get("JAZZD_REQUIRE_JACK") == "1":
        pytest.fail("jackd is not installed and JAZZD_REQUIRE_JACK=1")
    assert "jackd" in section["not_measured"]
    return False

@pytest.mark.jack
def test_ready_section_under_a_private_jack(tmp_path):
    model = _model(tmp_path / "m")
    p = _bench("--quick", "--json", "--only", "ready", "--model", str(model))
    section = json.loads(p.stdout)["sections"]["ready"]
    if not _jack_here(section):
        return
    _check_figures(section)
    figs = {f["key"]: f for f in section["figures"]}
    assert figs["ready.run"]["n"] == 3 and figs["ready.run"]["ratio"] > 0
    assert figs["ready.run"]["max"] < 30          # sanity: READY=1 did arrive


@pytest.mark.jack
def test_trading_section_under_a_private_jack():
    """The shipped model trading at 160 bpm: the timing of jazzd's turns and answers,
    and the echo next to its baseline; well formed, not timed."""
    p = _bench("--quick", "--json", "--only", "trading", timeout=240)
    section = json.loads(p.stdout)["sections"]["trading"]
    if not _jack_here(section):
        return
    _check_figures(section)
    figs = {f["key"]: f for f in section["figures"]}
    assert figs["trading.first_onset"]["n"] >= 3
    assert figs["trading.cut"]["n"] >= 3
    assert figs["trading.answer_lag"]["n"] >= 3
    assert figs["trading.answer_lag"]["ratio"] > 0
    assert 0 <= figs["trading.echo"]["value"] <= 1
