"""The trading section of `jazzd bench`: `jazzd run` trading with a player we play
through JACK, measured from outside.

Two daemons in turn, on the internal clock at `BPM` (bar 1 is the first note we send,
docs/LIVE.md "Trading"), a left hand holding the chart's chords below the split and a
right hand playing calls above it:

- trade, 1-bar turns, the player first: the onset of jazzd's first note in each of its
  turns, against the turn's downbeat (when we sent it); how long before the player's
  next downbeat jazzd's last note of the turn ends; and the echo of each turn against
  the call just before it, next to the same turns against another call;
- answer, calls of 2 to 5 beats with room for the answer after each: the lag from a
  call's last note-off to jazzd's first onset, next to the contract's
  `answer_after_beats` (1 beat).

The section runs its own JACK server, synchronous (`-S`, realtime where the machine
allows it), the test suite's kind: on the other live sections' asynchronous server a
client that misses a cycle loses its MIDI, and a lost melody note-off is a key held
for ever, for which jazzd never answers (seen here: none of 8 calls answered).

The figures are a distribution each, never asserted: the tests assert the contract
(tests/test_trading_jack.py).
"""

import os
import random
import shutil
import tempfile
import threading
import time

from jazzd.bench.jack_peers import Keyboard, Recorder
from jazzd.bench.jack_server import NO_REALTIME, REALTIME, JackServer, JackUnavailable
from jazzd.bench.live import DaemonRun, _peer, note_ons
from jazzd.bench.report import Figure, NotMeasured
from jazzd.grammar import echo as echo_measure

BPM = 160
SPB = 60.0 / BPM
SPLIT = 60
CHORDS = ((48, 51, 55, 58), (41, 45, 48, 51), (46, 50, 53, 57), (51, 55, 58, 50))  # Cm7 F7 Bbmaj7 Ebmaj7


def _calls(rng, starts_and_lengths):
    """Calls: eighths and quarters (straight) in a walk by steps and small leaps, above
    the split: [(beat, length, pitch)]."""
    notes = []
    for start, beats in starts_and_lengths:
        b, p = start, rng.randrange(66, 80)
        while b < start + beats - 0.25:
            length = min(rng.choice((0.5, 0.5, 1.0)), start + beats - b)
            notes.append((b, 0.9 * length, p))
            b += length
            step = rng.choice((-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 7))
            p += step if 62 <= p + step <= 84 else -step
    return notes


def _score(n_bars, melody):
    """[(beat, order, message)]: a chord a bar (all below the split), and the melody."""
    events, held = [], ()
    for bar in range(n_bars):
        chord = CHORDS[bar % len(CHORDS)]
        events += [(bar * 4, 0, (0x80, n, 0)) for n in held]
        events += [(bar * 4, 1, (0x90, n, 80)) for n in chord]
        held = chord
    events += [(n_bars * 4, 0, (0x80, n, 0)) for n in held]
    for b, length, p in melody:
        events.append((b, 2, (0x90, p, 90)))
        events.append((b + length, 0, (0x80, p, 0)))
    return sorted(events, key=lambda e: (e[0], e[1]))


def _play(kbd, events, t0):
    """Send each event at t0 + beat * SPB (sleep, then spin the last half millisecond)."""
    def run():
        for beat, _, msg in events:
            t = t0 + beat * SPB
            while True:
                left = t - time.monotonic()
                if left <= 0:
                    break
                time.sleep(left - 0.0005 if left > 0.001 else 0)
            kbd.send(*msg)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join()


class _SyncJack:
    """This section's synchronous JACK server, for the section's length: its clients
    reach it through JACK_DEFAULT_SERVER, which close() gives back."""

    def __init__(self, ctx):
        self.workdir = tempfile.mkdtemp(prefix="jazzd-bench-trading-")
        self.ctx, self.saved = ctx, ctx.shared.get("workdir")
        ctx.shared["workdir"] = self.workdir
        try:
            self.server = JackServer(os.path.join(self.workdir, "jackd.log"),
                                     prefix="jazzd-bench-sync",
                                     modes=(REALTIME, NO_REALTIME), sync=True)
        except JackUnavailable as e:
            self.close()
            raise NotMeasured(str(e)[-300:].replace("\n", " | ")) from None

    def close(self):
        if getattr(self, "server", None) is not None:
            self.server.close()
            self.server = None
        if self.saved is None:
            self.ctx.shared.pop("workdir", None)
        else:
            self.ctx.shared["workdir"] = self.saved
        shutil.rmtree(self.workdir, ignore_errors=True)


def _session(ctx, interplay, events, seconds_after=0.4):
    """Run one daemon over `events`; returns (t0, the recorded events)."""
    jack = ctx.shared["jack_sync"]
    d = DaemonRun(ctx, jack, style={"rest_probability": 0.15},
                  extra={"midi": {"split_note": SPLIT}, "tempo": {"bpm": BPM, "swing": 0.6},
                         "interplay": interplay})
    listener = kbd = None
    try:
        listener = _peer(Recorder, f"{d.tag}-listen", connect_to=f"{d.tag}-out")
        kbd = _peer(Keyboard, f"{d.tag}-kbd", connect_to=f"{d.tag}-in")
        time.sleep(0.3)
        t0 = time.monotonic() + 0.1
        _play(kbd, events, t0)
        time.sleep(seconds_after)
        rc = d.stop()
        time.sleep(0.2)
        recorded = listener.snapshot()
    finally:
        d.close(kbd, listener)
    if rc != 0:
        raise NotMeasured(f"jazzd run exited with status {rc}: {d.log_tail()}")
    return t0, recorded


def _notes(recorded):
    """[(on, off or None, pitch)] of the recorded stream, each note-on paired with the
    next note-off of its pitch."""
    out, sounding = [], {}
    for t, m in recorded:
        if len(m) != 3 or m[0] & 0xF0 not in (0x80, 0x90):
            continue
        if m[0] & 0xF0 == 0x90 and m[2]:
            sounding[m[1]] = len(out)
            out.append([t, None, m[1]])
        elif m[1] in sounding:
            out[sounding.pop(m[1])][1] = t
    return [tuple(n) for n in out]


def _pitches(recorded, since, until):
    return [m[1] for t, m in recorded if len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2]
            and since <= t < until]


def trade(ctx):
    turns = 8 if ctx.quick else 16
    rng = random.Random(1)
    calls = [(k * 4 + rng.choice((0, 0, 0.5)), 3.5) for k in range(0, turns, 2)]
    melody = _calls(rng, calls)
    t0, recorded = _session(ctx, {"mode": "trade", "trade_bars": 1, "first": "player"},
                            _score(turns, melody))
    onsets = note_ons(recorded)
    notes = _notes(recorded)
    errors, cuts, echoes, others = [], [], [], []
    turn_calls = {k: [p for b, _, p in melody if k * 4 <= b < k * 4 + 4]
                  for k in range(0, turns, 2)}
    for k in range(1, turns, 2):
        start, end = t0 + k * 4 * SPB, t0 + (k + 1) * 4 * SPB
        mine = [t for t in onsets if start - 0.003 <= t < end]
        if mine:
            errors.append((mine[0] - start) * 1e3)
        offs = [off for on, off, _ in notes if start - 0.003 <= on < end]
        if offs:           # a note never ended counts as ending at the last event
            last = max(off if off is not None else recorded[-1][0] for off in offs)
            cuts.append((end - last) * 1e3)
        pitches = _pitches(recorded, start - 0.003, end)
        echoes.append(echo_measure.echo(turn_calls[k - 1], pitches))
        other = turn_calls[(k - 1 + turns // 2) % turns]        # half the run away
        others.append(echo_measure.echo(other, pitches))
    if not errors:
        raise NotMeasured("jazzd played in none of its turns")
    return errors, cuts, echoes, others, turns // 2


def answer(ctx):
    n = 4 if ctx.quick else 8
    rng = random.Random(2)
    calls, b = [], 0.0
    for _ in range(n):
        length = rng.choice((2, 3, 4, 5))
        calls.append((b, length))
        b += length + length + 3                # room for the answer, and a beat or two
    melody = _calls(rng, calls)
    n_bars = int(b // 4) + 1
    t0, recorded = _session(ctx, {"mode": "answer", "answer_after_beats": 1},
                            _score(n_bars, melody))
    onsets = note_ons(recorded)
    lags = []
    for i, (start, length) in enumerate(calls):
        end = t0 + max(nb + dur for nb, dur, _ in melody if start <= nb < start + length) * SPB
        nxt = t0 + (calls[i + 1][0] if i + 1 < len(calls) else b) * SPB
        mine = [t for t in onsets if end < t < nxt]
        if mine:
            lags.append((mine[0] - end) * 1e3)
    if not lags:
        raise NotMeasured("jazzd answered none of the calls")
    return lags, n


def section_trading(ctx):
    """jazzd's first onset in its turn, and the lag of an answer, at 160 bpm."""
    jack = _SyncJack(ctx)
    ctx.shared["jack_sync"] = jack.server
    try:
        errors, cuts, echoes, others, n_turns = trade(ctx)
        lags, n_calls = answer(ctx)
    finally:
        del ctx.shared["jack_sync"]
        jack_mode = jack.server.mode if jack.server is not None else "?"
        jack.close()
    mean = echo_measure.mean
    return [
        Figure("trading.first_onset", "trade: jazzd's first onset after its turn's downbeat",
               "ms", errors, signed=True,
               note=f"synchronous JACK ({jack_mode}); "
                    f"1-bar turns at {BPM} bpm, internal clock, {len(errors)} of "
                    f"{n_turns} turns; by design 5 ms late (TURN_MARGIN), or 8 ms "
                    f"(change_grace_ms) where chords land on the beat; the contract: "
                    f"within a beat ({SPB * 1e3:.0f} ms)"),
        Figure("trading.cut", "trade: jazzd's last note-off before the player's downbeat",
               "ms", cuts, signed=True,
               note=f"{len(cuts)} turns; a note tied over the player's downbeat is cut "
                    f"5 ms before it, one that ends sooner (gate 0.9) ends sooner; "
                    f"negative would be jazzd sounding into the player's turn"),
        Figure("trading.answer_lag", "answer: a call's last note-off to jazzd's first onset",
               "ms", lags, baseline="trading.answer_after",
               note=f"{len(lags)} of {n_calls} calls of 2-5 beats; a beat of silence, then "
                    f"the next eighth (swung 0.6: up to 0.6 beat more), +5 ms"),
        Figure("trading.answer_after", "answer_after_beats: 1 beat", "ms", value=SPB * 1e3,
               role="baseline", short="1 beat"),
        Figure("trading.echo", "trade: echo of jazzd's turn on the call before it", "share",
               value=mean(echoes) or 0.0, baseline="trading.echo_other",
               note=f"interval 3-grams of the answer found in the call, mean of "
                    f"{sum(e is not None for e in echoes)} turns (echo 0.5)"),
        Figure("trading.echo_other", "the same turns against another call", "share",
               value=mean(others) or 0.0, role="baseline", short="another call"),
    ]

