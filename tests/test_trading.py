"""Trading and call-and-response, without JACK: the `interplay` config, the turn grid,
the echo measure, the ear (the player's line parsed as the corpus was), the performer
hearing it through its network, and `jazzd generate --trade --call`.

The live path through a real JACK server is tests/test_trading_jack.py.
"""

import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from conftest import REPO, save_random_model, small_vocab
from conftest import validated_config as cfg
from jazzd.grammar import echo as echo_measure
from jazzd.grammar.chart import parse_chart
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.parse import parse_melody_pitched
from jazzd.grammar.swing import swung_beats
from jazzd.grammar.timeline import ChordTimeline
from jazzd.grammar.turns import JAZZD, PLAYER, Turns
from jazzd.grammar.values import Value
from jazzd.model.ear import Ear
from jazzd.model.performer import Performer
from jazzd.model.store import load_model
from jazzd.offline.midi_file import write_performance
from jazzd.offline.solo import generate, generate_trade
from jazzd.service import config
from jazzd.service.errors import ConfigError

JAZZD_BIN = str(Path(sys.executable).with_name("jazzd"))
C7, F7, DM7, G7, CMAJ7 = (parse_symbol(s) for s in ("C7", "F7", "Dm7", "G7", "Cmaj7"))
CHART = "Dm7 G7 | Cmaj7 | Cm7 F7 | Bbmaj7 |"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    vocab = small_vocab(durations=(3, 4, 6, 8, 12, 18, 24, 48), steps=range(-12, 13))
    return load_model(save_random_model(tmp_path_factory.mktemp("m"), vocab, seed=0))


class Listening(Performer):
    """The real performer, keeping a list of what it was told."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.told = []

    def hear(self, pitch, ticks, tick, chord):
        value = super().hear(pitch, ticks, tick, chord)
        self.told.append((tick, value, pitch))
        return value


# -- config ----------------------------------------------------------------------------

def load_text(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return config.load(p)


def test_interplay_defaults_keep_todays_behaviour(tmp_path):
    c = config.defaults()
    assert c["interplay"] == {"mode": "off", "trade_bars": 4, "first": "player",
                              "answer_after_beats": 1, "echo": 0.5, "melody_channels": []}
    assert c["controls"]["interplay_cc"] is None
    # YAML reads a bare `off` as false: it is the mode off
    assert load_text(tmp_path, "interplay: {mode: off}\n")["interplay"]["mode"] == "off"
    got = load_text(tmp_path, "midi: {split_note: 60}\ninterplay: {mode: trade, "
                              "trade_bars: 2, first: jazzd, melody_channels: 3}\n")
    assert got["interplay"]["trade_bars"] == 2 and got["interplay"]["melody_channels"] == [3]


@pytest.mark.parametrize("text, words", [
    ("interplay: {mode: duet}", ["interplay.mode", "duet", "off, trade, answer"]),
    ("interplay: {mode: on}", ["interplay.mode", "True"]),
    ("interplay: {trade_bars: 3}", ["interplay.trade_bars", "1, 2, 4, 8"]),
    ("interplay: {trade_bars: true}", ["interplay.trade_bars"]),
    ("interplay: {first: drummer}", ["interplay.first", "player, jazzd"]),
    ("interplay: {echo: 1.5}", ["interplay.echo", "from 0 to 1"]),
    ("interplay: {answer_after_beats: 0}", ["interplay.answer_after_beats"]),
    ("interplay: {melody_channels: [17]}", ["interplay.melody_channels", "1-16"]),
    ("interplay: {mode: trade}", ["interplay.mode", "midi.split_note",
                                  "interplay.melody_channels"]),
    ("controls: {interplay_cc: 20}", ["controls.interplay_cc", "midi.split_note"]),
    ("midi: {chord_channels: [1, 2]}\ninterplay: {melody_channels: [2, 5]}",
     ["channel(s) 2", "midi.chord_channels", "interplay.melody_channels"]),
    ("interplay: {melody_channels: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}",
     ["none is left for the chords"]),
    ("midi: {split_note: 60}\ncontrols: {interplay_cc: 64}", ["interplay_cc", "sustain"]),
    ("midi: {split_note: 60}\ncontrols: {interplay_cc: 20, enable_cc: 20}",
     ["controls.interplay_cc", "controls.enable_cc", "CC20"]),
    ("interplay: {tempo: 3}", ["unknown key", "interplay.tempo"]),
])
def test_bad_interplay_configs_name_the_problem(tmp_path, text, words):
    with pytest.raises(ConfigError) as e:
        load_text(tmp_path, text)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_check_config_validates_interplay(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("interplay: {mode: answer}\n")
    r = subprocess.run([sys.executable, "-m", "jazzd", "check-config", str(bad)], cwd=REPO,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 78 and "midi.split_note" in r.stderr and "Traceback" not in r.stderr
    good = tmp_path / "good.yaml"
    good.write_text("midi: {split_note: 60}\ninterplay: {mode: answer}\n"
                    "controls: {interplay_cc: 30}\n")
    r = subprocess.run([sys.executable, "-m", "jazzd", "check-config", str(good)], cwd=REPO,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


# -- the turn grid and the echo measure --------------------------------------------------

def test_turns_alternate_from_bar_one():
    t = Turns(2, 4, PLAYER)                     # 96 ticks a turn
    assert t.length == 96
    assert [t.owner(x) for x in (0, 95, 96, 191, 192, 300)] == \
        [PLAYER, PLAYER, JAZZD, JAZZD, PLAYER, JAZZD]
    assert t.jazzd_turn(0) == (96, 192) and t.jazzd_turn(100) == (96, 192)
    assert t.jazzd_turn(192) == (288, 384)
    j = Turns(4, 3, JAZZD)                      # 3/4: 144 ticks a turn, jazzd first
    assert j.owner(0) == JAZZD and j.owner(144) == PLAYER and j.jazzd_turn(150) == (288, 432)
    assert j.owner(95.5) == JAZZD               # a float tick (a clock position)


def test_echo_counts_the_answers_interval_3grams_found_in_the_call():
    call = [60, 62, 64, 65, 67, 65, 64]
    assert echo_measure.interval_ngrams(call)[:2] == [(2, 2, 1), (2, 1, 2)]
    assert echo_measure.echo(call, [p + 5 for p in call]) == 1.0      # transposed
    assert echo_measure.echo(call, [70, 69, 70, 72, 75, 73]) == 0.0
    # half of the answer restates the call a tone lower, half is new
    half = echo_measure.echo(call, [58, 60, 62, 63, 59, 52, 53, 61])
    assert 0 < half < 1
    assert echo_measure.echo(call, [60, 61, 62]) is None                # no 3-gram
    assert echo_measure.mean([None, 0.5, 1.0]) == 0.75


# -- the ear -------------------------------------------------------------------------------

def timeline():
    return ChordTimeline([(0, DM7), (24, G7), (48, CMAJ7), (96, F7)])


def test_the_ear_parses_a_line_as_the_corpus_reader_does(model):
    """Notes with their sounds' ends, straight: the values the performer is told are
    parse_melody_pitched's (ties kept, rests cut at bar lines, a silence of half a beat
    or more a rest, a shorter one articulation)."""
    notes = [(0, 5, 62), (6, 6, 65), (12, 3, 69), (18, 6, 72),   # 3-tick gap: legato
             (24, 40, 71),                                       # tied over the bar
             (72, 4, 67), (76, 2, 64),                           # a rest after it
             (132, 12, 60)]                                      # a rest over a bar line
    perf = Listening(model, cfg(), seed=1)
    tl = timeline()
    ear = Ear(perf, 0.5, tl.at, 48)
    for onset, dur, pitch in notes:
        ear.on(ear.tick_of(onset / 12), pitch, tl.at(onset))
        ear.off((onset + dur) / 12, pitch)
    ear.flush(192)
    told = [(v.kind, v.ticks, p) for _, v, p in perf.told]
    want = [(v.kind, v.ticks, p) for v, p in parse_melody_pitched(
        notes, tl, 48, start=0, end=192, min_rest=6, cut_at_bars=False)]
    assert told == want
    assert sum(v.ticks for _, v, _ in perf.told) == 192
    assert [v.step for _, v, _ in perf.told if v.kind != "R"][1:] == [3, 4, 3, -1, -4, -3, -4]


def test_the_ear_unswings_and_keeps_the_top_of_a_double_stop(model):
    perf = Listening(model, cfg(), seed=1)
    tl = timeline()
    ear = Ear(perf, 0.6, tl.at, 48)
    for tick, pitch in ((0, 60), (6, 64), (12, 67), (18, 64)):
        beats = swung_beats(tick, 0.6) + 0.004          # swung, a little late
        ear.on(ear.tick_of(beats), pitch, tl.at(tick))
        if tick == 12:
            ear.on(ear.tick_of(beats + 0.01), 72, tl.at(tick))   # the top of a double stop
    ear.flush(24)
    assert [(t, v.ticks, p) for t, v, p in perf.told] == \
        [(0, 6, 60), (6, 6, 64), (12, 6, 72), (18, 6, 64)]


def test_the_ear_hears_a_straight_or_a_hard_swung_eighth_as_an_eighth(model):
    perf = Performer(model, cfg(), seed=1)
    ear = Ear(perf, 0.6, timeline().at, 48)
    assert [ear.tick_of(b) for b in (0.0, 0.49, 0.5, 0.6, 0.667, 1.02)] == [0, 6, 6, 6, 6, 12]
    assert [ear.tick_of(b) for b in (0.2, 0.4, 0.75, 0.9)] == [2, 4, 8, 10]
    straight = Ear(perf, 0.5, timeline().at, 48)
    assert [straight.tick_of(b) for b in (0.25, 0.333, 0.5, 0.667, 0.75)] == [3, 4, 6, 8, 9]


def test_the_ear_tells_the_gap_since_jazzds_line_as_a_rest(model):
    perf = Listening(model, cfg(), seed=1)
    tl = timeline()
    ear = Ear(perf, 0.5, tl.at, 48)
    ear.position = 40                     # jazzd's line ended there
    ear.on(54, 64, tl.at(54))
    ear.flush(96)
    assert [(t, v.kind, v.ticks) for t, v, _ in perf.told] == \
        [(40, "R", 8), (48, "R", 6), (54, "C", 42)]     # E over Cmaj7, to the flush
    assert ear.position == 96


# -- the performer hears --------------------------------------------------------------------

def test_hearing_moves_the_state_and_the_line_and_draws_nothing(model):
    a = Performer(model, cfg(), seed=4)
    b = Performer(model, cfg(), seed=4)
    rng = a._value_rng.getstate()
    h = a.net.h.copy()
    heard = a.hear(64, 6, 0, C7)
    assert heard == Value("C", 6)             # no step: nothing before it
    a.hear(67, 6, 6, C7)
    assert not np.allclose(a.net.h, h)        # the state heard it
    assert a._value_rng.getstate() == rng     # nothing drawn
    assert a._plan_pitch == 67 and a._prev_pitch == 67    # the line continues from it
    assert a._tokens[2] - 1 == a.steps.index(3)           # the step the player took
    va = [a.next_value(t, C7) for t in (12, 18, 24)]
    vb = [b.next_value(t, C7) for t in (12, 18, 24)]
    assert va != vb


def test_a_call_in_another_octave_is_heard_next_to_the_line(model):
    perf = Performer(model, cfg(), seed=1)
    perf._plan_pitch = perf._prev_pitch = 70
    perf.hear(96, 6, 0, C7)                    # two octaves up: heard at 72
    assert perf._plan_pitch == 72
    perf.hear(98, 6, 6, C7)
    assert perf._plan_pitch == 74 and perf.steps[perf._tokens[2] - 1] == 2


def test_the_first_value_of_a_turn_can_be_made_a_note(model):
    perf = Performer(model, cfg(style={"rest_probability": 0.95}), seed=2)
    assert all(perf.next_value(0, C7, no_rest=True).kind != "R" for _ in range(30))
    rests = sum(perf.next_value(0, C7).kind == "R" for _ in range(30))
    assert rests > 15


def answer_to(perf, call, chord=C7, n=None):
    """Hear `call` (pitches, eighths), then plan and realise as many values."""
    for i, p in enumerate(call):
        perf.hear(p, 6, i * 6, chord)
    out, tick = [], len(call) * 6
    for _ in range(n or len(call)):
        v = perf.next_value(tick % 48, chord)
        p = perf.realize(v, chord, tick % 48)
        if p is not None:
            out.append(p)
        tick += v.ticks
    return out


def test_the_answer_takes_up_the_call_as_strongly_as_echo_says(model):
    """A call of chord tones over C7; the answer, planned and bound over C7, restates
    its interval 3-grams: almost all with echo 1, some with 0.5, few with 0."""
    call = [60, 64, 67, 70, 72, 70, 67, 64, 60, 64, 67, 70]
    scores = {}
    for w in (0.0, 0.5, 1.0):
        got = []
        for seed in range(6):
            perf = Performer(model, cfg(style={"rest_probability": 0.0}), seed=seed)
            perf.echo = w
            got.append(echo_measure.echo(call, answer_to(perf, call)))
        scores[w] = echo_measure.mean(got)
    assert scores[1.0] > 0.8, scores
    assert scores[0.0] < scores[0.5] < scores[1.0], scores


def test_without_hearing_the_performer_is_todays(model):
    """Mode off never calls `hear`: an echo weight then changes nothing."""
    a = Performer(model, cfg(), seed=3)
    b = Performer(model, cfg(), seed=3)
    b.echo = 1.0
    tl = timeline()
    va = [a.next_value(t % 48, tl.at(t)) for t in range(0, 480, 6)]
    vb = [b.next_value(t % 48, tl.at(t)) for t in range(0, 480, 6)]
    assert va == vb


# -- jazzd generate --trade --call ----------------------------------------------------------

def call_line(n_bars=16, bpb=4):
    """A player's line: a four-note figure every two beats, sequenced up a tone a bar."""
    notes = []
    for bar in range(n_bars):
        for half in range(2):
            base = 62 + 2 * (bar % 4) + half * 3
            for i, step in enumerate((0, 2, 4, 7)):
                notes.append((bar * bpb + half * 2 + i * 0.5, 0.45, base + step))
    return notes


def test_a_trade_plays_only_in_jazzds_turns_and_cuts_at_the_players_downbeat(model):
    chart = parse_chart(CHART, 4)
    c = cfg(midi={"split_note": 60}, interplay={"mode": "trade", "trade_bars": 2},
            tempo={"swing": 0.5})
    call = call_line()
    solo, chords, perf, heard = generate_trade(c, chart, 16, call, seed=1, model=model)
    assert solo and heard and chords
    for on, dur, pitch, _ in solo:
        turn = int(on // 8)
        assert turn % 2 == 1, (on, "jazzd played in the player's turn")
        assert on + dur <= (turn + 1) * 8 + 1e-9, (on, dur, "sounds into the player's turn")
    firsts = {int(on // 8): on for on, *_ in reversed(solo)}
    assert all(on == turn * 8 for turn, on in firsts.items()), firsts   # on the downbeat
    assert len(firsts) == 4
    assert all(int(o // 8) % 2 == 0 for o, _, _ in heard)
    assert len(heard) == sum(int(o // 8) % 2 == 0 for o, _, _ in call)


def test_generate_trade_writes_three_tracks_on_three_channels(model, tmp_path):
    model_dir = model.path
    call = [(o, d, p, 90) for o, d, p in call_line(8)]
    call_file = tmp_path / "player.mid"
    write_performance(str(call_file), call, [], 120)
    out = tmp_path / "traded.mid"

    def run(*extra, dest=out):
        return subprocess.run([JAZZD_BIN, "generate", "--chords", CHART, "--bars", "8",
                               "--seed", "1", "--model", str(model_dir), "--out", str(dest),
                               *map(str, extra)], capture_output=True, text=True,
                              timeout=120)
    r = run("--trade", 2, "--call", call_file)
    assert r.returncode == 0, r.stderr
    assert "traded 2 bars a turn" in r.stdout
    mid = mido.MidiFile(out)
    names = [t.name for t in mid.tracks]
    assert names == ["solo", "chords", "player"]
    chans = [{m.channel for m in t if m.type == "note_on"} for t in mid.tracks]
    assert all(len(c) == 1 for c in chans) and len(set.union(*chans)) == 3
    assert 9 not in set.union(*chans)                       # not the drum channel
    again = tmp_path / "again.mid"
    assert run("--trade", 2, "--call", call_file, dest=again).returncode == 0
    assert again.read_bytes() == out.read_bytes()           # same seed, same bytes
    for extra, words in ((("--trade", 2), "--trade and --call"),
                         (("--trade", 3, "--call", call_file), "--trade 3"),
                         (("--trade", 2, "--call", tmp_path / "none.mid"), "no such file")):
        r = run(*extra)
        assert r.returncode != 0 and words in r.stderr and "Traceback" not in r.stderr, \
            r.stderr


def test_traded_answers_echo_their_calls_and_a_deaf_solo_does_not():
    """The shipped model: jazzd's turns take up the player's turn before them (echo
    0.5) far more than the same turns of a solo that does not listen, or than the same
    answers do another call."""
    chart = parse_chart(CHART, 4)
    c = cfg(midi={"split_note": 60}, interplay={"mode": "trade", "trade_bars": 2},
            tempo={"swing": 0.5})
    call = call_line()
    model = load_model("default")
    listened, deaf, other = [], [], []
    for seed in range(4):
        solo, _, _, _ = generate_trade(c, chart, 16, call, seed=seed, model=model)
        plain, _, _ = generate(c, chart, 16, seed=seed, model=model)
        for turn in range(1, 8, 2):
            before = [p for o, _, p in call if (turn - 1) * 8 <= o < turn * 8]
            elsewhere = [p + 1 for p in before[::-1]]       # another call: upside down
            mine = [p for o, _, p, _ in solo if turn * 8 <= o < turn * 8 + 8]
            plain_turn = [p for o, _, p, _ in plain if turn * 8 <= o < turn * 8 + 8]
            listened.append(echo_measure.echo(before, mine))
            deaf.append(echo_measure.echo(before, plain_turn))
            other.append(echo_measure.echo(elsewhere, mine))
    got = {k: echo_measure.mean(v) for k, v in
           (("listening", listened), ("deaf", deaf), ("other call", other))}
    assert got["listening"] > 0.15 and got["listening"] > 3 * got["deaf"], got
    assert got["listening"] > 2 * got["other call"], got


DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "wjazzd"


@pytest.mark.skipif(not (DATA / "solos.csv").is_file(),
                    reason="the Weimar Jazz Database is not in ../shared/data")
def test_evaluate_echo_trades_with_held_out_players(tmp_path):
    """`jazzd evaluate --echo`: real calls (held-out players' choruses), 2-bar turns.
    The listening answers take up their calls; today's daemon, not listening, and the
    same answers against another call score what chance gives."""
    r = subprocess.run([JAZZD_BIN, "evaluate", "--echo", "--corpus", str(DATA), "--trade",
                        "2", "--json"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    import json
    rows = {row["name"]: row for row in json.loads(r.stdout)["rows"]}
    listening = rows["listening, echo 0.5"]["mean"]
    heard_only = rows["listening, echo 0"]["mean"]
    deaf = rows["not listening (mode off, today's daemon)"]["mean"]
    other = rows["listening, echo 0.5, against another chorus's call"]["mean"]
    assert rows["listening, echo 0.5"]["answers"] > 300
    assert deaf < 0.05 and other < 0.05, rows
    assert listening > 0.2 and listening > 5 * deaf and listening > 5 * other, rows
    assert deaf < heard_only < listening, rows
