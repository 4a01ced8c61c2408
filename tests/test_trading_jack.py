"""Trading and call-and-response through a real JACK server: the test is the player (a
left hand comping below the split, a right hand playing calls above it) and the ear.

What each test checks is what a player hears: jazzd never starts a note in the
player's turn and nothing of it sounds into it; it comes in on the downbeat of each of
its own turns; in answer mode it answers each call after the silence and stops when
the player comes back; it takes up the call (the echo measure of jazzd.grammar.echo);
it leaves no note hanging on any exit. The timing figures (first onset of a turn
against its downbeat, how long before the player's downbeat jazzd's last note ends,
the lag of an answer) are printed (`pytest -s`) and kept in
`FIGURES` for docs/LIVE.md.
"""

import random
import signal
import statistics
import sys
import threading
import time

import pytest

from conftest import jack_is_synchronous, pair_notes
from live import (OUTLIER_TOL, ChartPlayer, assert_balanced_messages,  # noqa: F401
                  assert_clean_exit_log, far_allowed, live, steady_model, voicing)
from jazzd.grammar import echo as echo_measure
from jazzd.grammar.chart import parse_chart
from jazzd.grammar.swing import swung_beats, unswung_ticks
from jazzd.model.style import only_length

pytestmark = pytest.mark.jack

BPM = 160
SPB = 60.0 / BPM
SPLIT = 60
CHART = parse_chart("Cm7 | F7 | Bbmaj7 | Ebmaj7 | Am7b5 | D7 | Gm7 | Gm7 |", 4)
FIGURES = {"first_onset_ms": [], "cut_before_player_ms": [], "answer_lag_ms": []}
# a steady line of eighths, so that every onset can be checked against the beat
EIGHTHS = {"duration_weights": only_length(6), "rest_probability": 0.0}
# a few ms of JACK delivery and clock estimation either way, against a contract of
# "nothing in the other's turn" that TURN_MARGIN (5 ms) keeps with room
EDGE = 0.003


@pytest.fixture
def session(live):
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)     # the test's own MIDI threads get the GIL promptly

    def make(**kw):
        kw.setdefault("style", {"rest_probability": 0.15})
        midi = kw.setdefault("midi", {})
        midi.setdefault("split_note", SPLIT)
        kw.setdefault("tempo", {}).setdefault("bpm", BPM)
        return live(steady=False, **kw)
    yield make
    sys.setswitchinterval(switch)


# -- the player ------------------------------------------------------------------------

def call_phrase(rng, beats, low=64, high=84, start=0.0):
    """A call: eighths and quarters (straight, as a MIDI file has them) in a random
    walk by steps and small leaps, filling `beats` beats from `start`: [(beat, length,
    pitch)]."""
    notes, b, p = [], start, rng.randrange(low + 4, high - 4)
    while b < start + beats - 0.25:
        length = rng.choice((0.5, 0.5, 0.5, 1.0))
        length = min(length, start + beats - b)
        notes.append((b, length * 0.9, p))
        b += length
        step = rng.choice((-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 7))
        if not low <= p + step <= high:
            step = -step                   # turn back at the edge of the range
        p += step
    return notes


class Score:
    """Timed MIDI for the keyboard: the chart's voicings on channel 1 all the time, and
    melody notes; `at(beat)` lists what is due. Played on an external master's ticks
    (`on_tick`) or on its own at the internal tempo (`play`)."""

    def __init__(self, kb, chart, n_bars, melody_channel=0):
        self.kb = kb
        self.events = []                # (beat, order, message)
        self.melody = []                # (beat, length, pitch)
        self.ch = melody_channel
        bar = chart.beats_per_bar
        held = []
        for i in range(n_bars):
            for tick, chord in chart.bars[i % len(chart.bars)]:
                b = i * bar + tick / 12
                notes = voicing(chord)
                for n in held:
                    self.events.append((b, 0, (0x80, n, 0)))
                for n in notes:
                    self.events.append((b, 1, (0x90, n, 80)))
                held = notes
        self.end = n_bars * bar
        for n in held:
            self.events.append((self.end, 0, (0x80, n, 0)))

    def add_melody(self, notes):
        for b, length, p in notes:
            self.melody.append((b, length, p))
            self.events.append((b, 2, (0x90 | self.ch, p, 90)))
            self.events.append((b + length, 0, (0x80 | self.ch, p, 0)))

    def sorted(self):
        return sorted(self.events, key=lambda e: (e[0], e[1]))

    def on_tick(self, position):
        """For a ClockMaster: send what falls on this tick (24 ppqn)."""
        if not hasattr(self, "_by_pos"):
            self._by_pos = {}
            for b, _, msg in self.sorted():
                self._by_pos.setdefault(round(b * 24), []).append(msg)
        for msg in self._by_pos.get(position, ()):
            self.kb.send(*msg)

    def play(self, t0, spb, upto=None):
        """Send everything at t0 + beat * spb, in a thread; returns it (started)."""
        def run():
            for b, _, msg in self.sorted():
                if upto is not None and b >= upto:
                    break
                t = t0 + b * spb
                while True:
                    left = t - time.monotonic()
                    if left <= 0:
                        break
                    time.sleep(min(0.0005, max(0.0, left - 0.0002)) if left > 0.0003 else 0)
                self.kb.send(*msg)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th


# -- checks ----------------------------------------------------------------------------

def other_call(calls, k):
    """A call of another turn than `k`'s: the one farthest from it."""
    return calls[max(calls, key=lambda j: (abs(j - k), j))]


def check_trade(s, turn_time, n_turns, turn_beats, first_player, score):
    """The acceptance checks on a recorded trade; `turn_time(k)` is when turn k starts.
    Returns the echo of each of jazzd's turns against the call before it, and against
    another call."""
    notes = [n for n in notes_of(s) if n[0] < turn_time(n_turns)]
    players = [k for k in range(n_turns) if (k % 2 == 0) == first_player]
    jazzd = [k for k in range(n_turns) if k not in players]
    for k in players:
        a, b = turn_time(k), turn_time(k + 1)
        inside = [n for n in notes if a + EDGE <= n[0] < b - EDGE]
        assert not inside, (f"jazzd started notes in the player's turn {k}: "
                            f"{[(round(n[0] - a, 3), n[2]) for n in inside]}")
        sounding = [n for n in notes if n[0] < a and (n[1] is None or n[1] > a + EDGE)]
        assert not sounding, (f"jazzd still sounds into the player's turn {k}: "
                              f"{[(round(n[0] - a, 3), round(n[1] - a, 3)) for n in sounding]}")
    echoes, others = [], []
    calls = {}
    for k in players:
        calls[k] = [p for b, _, p in score.melody if k * turn_beats <= b < (k + 1) * turn_beats]
    for k in jazzd:
        a, b = turn_time(k), turn_time(k + 1)
        mine = [n for n in notes if a - EDGE <= n[0] < b]
        assert mine, f"jazzd played nothing in its turn {k}"
        err = mine[0][0] - a
        FIGURES["first_onset_ms"].append(err * 1e3)
        if all(n[1] is not None for n in mine):     # how long before the player's
            FIGURES["cut_before_player_ms"].append((b - max(n[1] for n in mine)) * 1e3)
        assert -EDGE <= err < SPB, f"turn {k}: first onset {err * 1e3:.1f} ms after its start"
        if k - 1 in calls:
            pitches = [n[2] for n in mine]
            echoes.append(echo_measure.echo(calls[k - 1], pitches))
            others.append(echo_measure.echo(other_call(calls, k - 1), pitches))
    return echoes, others


def assert_on_the_beat(notes, t0, swing=0.6):
    """Every onset on the swung eighth-note grid of a tune whose bar 1 was at `t0`,
    within the change grace (8 ms), JACK's period and the machine's jitter; but one in
    fifty, which an xrun may delay further (tests/live.py: far_allowed), never by more
    than OUTLIER_TOL beyond."""
    off = []
    for n in notes:
        b = (n[0] - t0) / SPB
        tick = round(unswung_ticks(b, swing) / 6) * 6
        err = (b - swung_beats(tick, swing)) * SPB
        if not -0.004 < err < 0.014:
            off.append((round(err * 1e3, 1), round(b, 3)))
            assert -0.004 < err < 0.014 + OUTLIER_TOL, \
                f"an onset {err * 1e3:.1f} ms off the beat (beat {b:.3f})"
    assert notes and len(off) <= far_allowed(len(notes)), \
        f"{len(off)} of {len(notes)} onsets off the beat (ms, beat): {off}"


def heard(s):
    """[(time, message)] of what jazzd sent, from the two ears. Each ear keeps JACK's
    order, but its times are when its rtmidi callback ran: on this shared 2-core
    machine one ear's callback can be held up (the interpreter lock) for tens of ms,
    so its times run late, never early. When both ears heard the same messages (a
    synchronous server loses none), each message takes the earlier of its two times;
    otherwise (an ear lost one) the merge by time of `Live.events`."""
    a, b = s.rec.snapshot(), s.rec2.snapshot()
    if [m for _, m in a] == [m for _, m in b]:
        return [(min(ta, tb), m) for (ta, m), (tb, _) in zip(a, b)]
    return s.events()


def notes_of(s):
    """[(on, off or None, pitch, velocity)] of `heard(s)`."""
    return pair_notes(heard(s))


def finish(s):
    """Exit 0 on SIGTERM, no note left hanging, all notes off last, a clean log. The
    balance is judged per ear: a merge by time can double a message when one ear's
    times run late (see `heard`); a synchronous server loses nothing, so both ears
    must be balanced, and on an asynchronous one at least one."""
    assert s.stop() == 0, s.daemon.output()[-3000:]
    ears = [[m for _, m in r.snapshot()] for r in (s.rec, s.rec2)]
    if jack_is_synchronous():
        for ear in ears:
            assert_balanced_messages(ear)
    else:
        errors = []
        for ear in ears:
            try:
                assert_balanced_messages(ear)
            except AssertionError as e:
                errors.append(e)
        assert len(errors) < 2, errors
    events = heard(s)
    assert events[-1][1] == (0xB0, 123, 0)
    assert_clean_exit_log(s.daemon.output())
    return events


def tick_grid(master):
    """Position (24 ppqn) -> the time the master meant to send it. The master keeps its
    grid (t += period; after a stall of over 50 ms it skips positions, never moves the
    grid), but a tick sent while the test process stalled is stamped late, never
    early: the median offset of all ticks from the grid is the grid's phase."""
    period = 60.0 / master.bpm / 24
    offsets = sorted(t - pos * period for pos, t in master.ticks)
    base = offsets[len(offsets) // 2]
    return lambda pos: base + pos * period


def report(what, echoes, others):
    e, o = echo_measure.mean(echoes), echo_measure.mean(others)
    print(f"\n{what}: echo {e:.3f} over {sum(x is not None for x in echoes)} answers, "
          f"against another call {o:.3f}; first onsets after the downbeat (ms): "
          f"{[round(x, 1) for x in FIGURES['first_onset_ms'][-len(echoes):]]}")
    return e, o


# -- trading ----------------------------------------------------------------------------

def trade_score(kb, n_turns, turn_beats, first_player, seed):
    rng = random.Random(seed)
    score = Score(kb, CHART, n_turns * turn_beats // 4)
    for k in range(n_turns):
        if (k % 2 == 0) == first_player:
            score.add_melody(call_phrase(rng, turn_beats - rng.choice((0.5, 1, 1.5)),
                                         start=k * turn_beats + rng.choice((0, 0, 0.5))))
    return score


@pytest.mark.parametrize("bars, turns", [(2, 6), (4, 4)])
def test_trade_on_the_internal_clock(session, bars, turns):
    s = session(interplay={"mode": "trade", "trade_bars": bars, "first": "player"})
    turn_beats = bars * 4
    score = trade_score(s.kb, turns, turn_beats, True, seed=bars)
    t0 = time.monotonic() + 0.1
    th = score.play(t0, SPB)             # its first note is bar 1's downbeat
    th.join()
    time.sleep(0.3)
    assert s.daemon.wait_line("bar 1 starts now", 1), s.daemon.output()[-2000:]
    finish(s)
    echoes, others = check_trade(s, lambda k: t0 + k * turn_beats * SPB, turns,
                                 turn_beats, True, score)
    report(f"trade {bars} bars, internal clock", echoes, others)


@pytest.mark.parametrize("bars, turns", [(2, 6), (4, 4)])
def test_trade_on_external_clock(session, bars, turns):
    s = session(tempo={"source": "clock"},
                interplay={"mode": "trade", "trade_bars": bars, "first": "player"})
    turn_beats = bars * 4
    score = trade_score(s.kb, turns, turn_beats, True, seed=10 + bars)
    master = s.clock(bpm=BPM, on_tick=score.on_tick)
    master.start()
    time.sleep(turns * turn_beats * SPB + 0.2)
    master.finish()
    time.sleep(0.2)
    finish(s)
    grid = tick_grid(master)
    echoes, others = check_trade(s, lambda k: grid(k * turn_beats * 24), turns,
                                 turn_beats, True, score)
    report(f"trade {bars} bars, external clock", echoes, others)


def test_jazzds_turns_take_up_the_calls_before_them(session):
    """Echo, live: twelve 2-bar turns, six answers. Each of jazzd's turns restates
    interval 3-grams of the call just before it (echo 0.5, the default) far more than
    it does those of another call (chance, ~0.01-0.05 for these lines)."""
    s = session(interplay={"mode": "trade", "trade_bars": 2, "first": "player"})
    score = trade_score(s.kb, 12, 8, True, seed=21)
    t0 = time.monotonic() + 0.1
    score.play(t0, SPB).join()
    time.sleep(0.3)
    finish(s)
    echoes, others = check_trade(s, lambda k: t0 + k * 8 * SPB, 12, 8, True, score)
    e, o = report("echo, trade 2 bars", echoes, others)
    FIGURES.setdefault("echo", []).extend(x for x in echoes if x is not None)
    FIGURES.setdefault("echo_other_call", []).extend(x for x in others if x is not None)
    assert e > 0.15 and e > 3 * o, (echoes, others)


def test_trade_from_a_song_position_counts_bars_from_there(session):
    """A DAW starting at bar 3 (song position 32 sixteenths), jazzd first, 2-bar
    turns: bar 3 is turn 1 counted from bar 1, the player's: jazzd waits for bar 5."""
    s = session(tempo={"source": "clock"},
                interplay={"mode": "trade", "trade_bars": 2, "first": "jazzd"})
    score = trade_score(s.kb, 6, 8, False, seed=3)
    master = s.clock(bpm=BPM, on_tick=score.on_tick, send_start=False)
    master.position = 8 * 24
    s.kb.send(0xF2, 32 & 0x7F, 32 >> 7)
    s.kb.send(0xFB)
    master.start()
    time.sleep(4 * 8 * SPB + 0.2)
    master.finish()
    time.sleep(0.2)
    finish(s)
    grid = tick_grid(master)
    notes = notes_of(s)
    player = [n for n in notes if grid(8 * 24) + EDGE <= n[0] < grid(16 * 24) - EDGE]
    assert not player, ([(round(n[0] - grid(8 * 24), 3), round(n[1] - grid(8 * 24), 3))
                         for n in player], master.skipped)
    mine = [n for n in notes if grid(16 * 24) - EDGE <= n[0] < grid(24 * 24)]
    assert mine and mine[0][0] - grid(16 * 24) < SPB


# -- answer ------------------------------------------------------------------------------

def test_answers_follow_calls_of_uneven_length_and_stop_when_the_player_returns(session):
    s = session(interplay={"mode": "answer", "answer_after_beats": 1})
    rng = random.Random(5)
    lengths = (3, 7, 2, 5)                 # beats
    gaps = (6, 10, 5, 2.5)                 # beats of silence after each: the last is cut
    score = Score(s.kb, CHART, 12)
    calls, b = [], 0.0
    for length, gap in zip(lengths, gaps):
        call = call_phrase(rng, length, start=b)
        score.add_melody(call)
        calls.append(call)
        b += length + gap
    last = call_phrase(rng, 3, start=b)   # cuts the last answer short
    score.add_melody(last)
    t0 = time.monotonic() + 0.1
    score.play(t0, SPB, upto=b + 9).join()
    time.sleep(0.3)
    finish(s)
    notes = notes_of(s)
    mel = [(t0 + nb * SPB, t0 + (nb + length) * SPB) for nb, length, _ in score.melody]
    for on, off, p, _ in notes:      # never a note over the player's
        for a, z in mel:
            assert not (a + EDGE < on < z), (f"jazzd started {p} while the player played "
                                            f"({on - a:.3f} s after the note-on)")
            if on < a < (off or 1e18):
                assert off - a < 0.02, f"jazzd sounded {off - a:.3f} s over the player's note"
    lags, spans = [], []
    for i, call in enumerate(calls + [last]):
        end_b = max(nb + length for nb, length, _ in call)
        end = t0 + end_b * SPB
        nxt = t0 + (calls[i + 1][0][0] if i + 1 < len(calls) else last[0][0]) * SPB \
            if i < len(calls) else t0 + (b + 9) * SPB
        mine = [n for n in notes if end < n[0] < nxt]
        assert mine, f"no answer to call {i} ({lengths[i] if i < len(lengths) else 3} beats)"
        lag = mine[0][0] - end
        lags.append(lag)
        FIGURES["answer_lag_ms"].append(lag * 1e3)
        # a beat, then the next eighth (swung: up to 0.6 of a beat later), its first
        # note TURN_MARGIN (5 ms) after that, plus the delivery jitter that
        # assert_on_the_beat allows (+14 ms). A call ending exactly on a grid point goes
        # either way by a hair of jitter: a lag of 1 beat, or of 1.4-1.6.
        assert SPB - 0.01 <= lag <= 1.6 * SPB + 0.005 + 0.014, \
            f"call {i}: answered after {lag:.3f} s"
        spans.append(max(n[1] for n in mine) - mine[0][0])
    print(f"\nanswer: lags from the call's last note-off (ms) "
          f"{[round(x * 1e3, 1) for x in lags]}; answer lengths (beats) "
          f"{[round(x / SPB, 2) for x in spans]} for calls of {list(lengths)} beats")
    # an answer lasts about as long as its call: the 7-beat call's is the longest, and
    # none outlasts its call by more than the rounding to the beat
    assert spans[1] == max(spans[:4]), spans
    for span, length in zip(spans, lengths):
        assert span <= (length + 1) * SPB + 0.05, (spans, lengths)
    # the fourth answer (2.5 beats of room) was cut by the player coming back
    cut_at = t0 + last[0][0] * SPB
    assert all(n[1] <= cut_at + 0.02 for n in notes if n[0] < cut_at)


def test_a_melody_on_its_own_channel(session):
    """A second keyboard on channel 2 plays calls in the chord register (below the
    split, were there one): they are melody, not chord notes. jazzd answers each call,
    and its notes still fit the chord held on channel 1."""
    s = session(midi={"split_note": None},
                style={"rest_probability": 0.1, "kind_weights": {"A": 0, "X": 0}},
                interplay={"mode": "answer", "melody_channels": [2]})
    rng = random.Random(8)
    score = Score(s.kb, parse_chart("Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7 |", 4), 8,
                  melody_channel=1)
    starts = (0, 8, 16)
    for b in starts:
        score.add_melody(call_phrase(rng, 3, low=45, high=58, start=b))
    t0 = time.monotonic() + 0.1
    score.play(t0, SPB, upto=24).join()
    time.sleep(0.3)
    finish(s)
    notes = notes_of(s)
    for b in starts:
        mine = [n for n in notes if t0 + (b + 3) * SPB < n[0] < t0 + (b + 8) * SPB]
        assert mine, f"no answer to the call at beat {b}"
    assert not [n for n in notes if n[0] < t0 + 3 * SPB], "played before the first call"
    cmaj = {0, 2, 4, 5, 7, 9, 11}
    assert all(n[2] % 12 in cmaj for n in notes), [n[2] for n in notes]


# -- live switches, signals ------------------------------------------------------------

def test_a_mode_switch_by_cc_in_the_middle_of_a_tune(session):
    """Off (plays all the time) → trade by CC (from then on, nothing in the player's
    turns) → answer (silent until a call has ended) → off again (plays on), over one
    running tune; the beat never moves."""
    s = session(controls={"interplay_cc": 30}, style=EIGHTHS,
                interplay={"trade_bars": 2, "first": "player"})
    turn = 8
    score = Score(s.kb, CHART, 28)
    rng = random.Random(2)
    for k in (4, 6):                           # calls in the player's turns 4 and 6
        score.add_melody(call_phrase(rng, 6, start=k * turn))
    score.add_melody(call_phrase(rng, 3, start=9 * turn))   # a call in answer mode
    t0 = time.monotonic() + 0.1
    th = score.play(t0, SPB, upto=14 * turn)

    def at(beat):
        return t0 + beat * SPB

    def wait_until(beat):
        time.sleep(max(0.0, at(beat) - time.monotonic()))

    wait_until(2 * turn + 2)
    s.kb.send(0xB0, 30, 64)                    # trade, in turn 2 (the player's)
    wait_until(8 * turn + 1)
    s.kb.send(0xB0, 30, 127)                   # answer, in turn 8
    wait_until(11 * turn)
    s.kb.send(0xB0, 30, 0)                     # off
    th.join()
    time.sleep(0.3)
    finish(s)
    out = s.daemon.output()
    for mode in ("trade", "answer", "off"):
        assert f"interplay {mode} (CC30)" in out, out[-2000:]
    notes = notes_of(s)
    assert [n for n in notes if n[0] < at(2 * turn)], "mode off: jazzd plays over the chords"
    for k in (4, 6):                           # the player's turns in trade mode
        assert not [n for n in notes if at(k * turn) + EDGE <= n[0] < at((k + 1) * turn) - EDGE]
    for k in (5, 7):                           # jazzd's, on the downbeat
        mine = [n for n in notes if at(k * turn) - EDGE <= n[0] < at((k + 1) * turn)]
        assert mine and mine[0][0] - at(k * turn) < SPB, (k, mine[:2])
    # answer: silent from the switch until the call at turn 9 has ended, then answers
    call_end = max(b + length for b, length, _ in score.melody if b >= 9 * turn)
    assert not [n for n in notes if at(8 * turn) + SPB <= n[0] < at(call_end)]
    assert [n for n in notes if at(call_end) < n[0] < at(11 * turn)]
    late = [n[0] for n in notes if n[0] >= at(11 * turn) + SPB]
    assert len(late) >= 4, "off again: jazzd plays on"
    # the beat never moved: every onset sits on the tune's eighth-note grid (swung),
    # give or take the turn margin or the change grace (8 ms) and JACK
    assert_on_the_beat(notes, t0)


def _trade_until(s, turn_beats, until_beat):
    score = trade_score(s.kb, 8, turn_beats, True, seed=4)
    t0 = time.monotonic() + 0.1
    score.play(t0, SPB, upto=until_beat)
    time.sleep(max(0.0, t0 + until_beat * SPB - time.monotonic()))
    return t0


@pytest.mark.parametrize("whose", ["jazzd", "player"])
def test_sigterm_in_either_turn_leaves_nothing_hanging(session, whose):
    s = session(interplay={"mode": "trade", "trade_bars": 1}, improviser={"gate": 1.0})
    # 1-bar turns: bar 2 is jazzd's; stop 2.5 beats into bar 2 (jazzd's) or bar 3
    beat = 4 + 2.5 if whose == "jazzd" else 8 + 2.5
    t0 = _trade_until(s, 4, beat)
    assert s.alive()
    if whose == "jazzd":
        assert [n for n in notes_of(s) if n[0] > t0 + 4 * SPB], "jazzd was not playing"
    finish(s)
    assert "exiting on SIGTERM" in s.daemon.output()


def test_sighup_changing_interplay_keeps_the_beat(session):
    s = session(interplay={"mode": "trade", "trade_bars": 1, "first": "player"},
                style=EIGHTHS)
    score = trade_score(s.kb, 12, 4, True, seed=6)
    t0 = time.monotonic() + 0.1
    th = score.play(t0, SPB, upto=40)
    time.sleep(max(0.0, t0 + 13 * SPB - time.monotonic()))
    text = s.config.read_text().replace("trade_bars: 1", "trade_bars: 2")
    assert "trade_bars: 2" in text
    s.config.write_text(text)
    s.daemon.signal(signal.SIGHUP)
    assert s.daemon.wait_line("reloaded", 3), s.daemon.output()[-2000:]
    th.join()
    time.sleep(0.3)
    finish(s)
    notes = notes_of(s)
    # from bar 5 on the turns are 2 bars: bars 5-6 the player's (turn 2), 7-8 jazzd's
    assert not [n for n in notes if t0 + 16 * SPB + EDGE <= n[0] < t0 + 24 * SPB - EDGE]
    mine = [n for n in notes if t0 + 24 * SPB - EDGE <= n[0] < t0 + 32 * SPB]
    assert mine and mine[0][0] - (t0 + 24 * SPB) < 0.02, "the beat moved"
    assert_on_the_beat(notes, t0)


def test_figures():
    """The timing figures gathered by the tests above (run with them, `-s`)."""
    for name, vals in FIGURES.items():
        if vals:
            vals = sorted(vals)
            p99 = vals[min(len(vals) - 1, int(round(0.99 * (len(vals) - 1))))]
            print(f"\n{name}: n {len(vals)}, median {statistics.median(vals):.1f}, "
                  f"p99 {p99:.1f}, max {max(vals):.1f}")
