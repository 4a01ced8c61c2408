"""Odd and hostile MIDI into the live daemon, through real JACK ports.

Each test holds a chord on channel 1 so the daemon plays a steady line (the shipped model
with live.STEADY_STYLE:
eighth notes, no rests, chord and scale tones only; 120 bpm: a note every 250 ms), feeds it one kind
of bad input, then changes the chord (the probe: is it still listening?) and stops it
with SIGTERM. Then it asserts:

- it kept playing in time: every onset on one 250 ms grid (live.GRID_TOL explains the
  tolerance), no gap in the line while the bad input came in;
- it still listens: the notes after the probe fit the new chord;
- no exception escaped any thread: no traceback or crash report in its output, exit 0;
- the notes balance: every note-on heard has its note-off (two ears, see live.Live);
- the log is rate-limited: one line per kind of bad input, then a count per second.
"""

import random
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from conftest import Recorder, unique
from jazzd.grammar.chord_symbols import parse_symbol
from live import (CHANGE_REACH, DM7, FS7, GRID_TOL, assert_balanced_messages,  # noqa: F401
                  assert_clean_exit_log, assert_kind_logged,
                  assert_on_grid, assert_on_master_grid, live, log_time, longest_gap,
                  onsets, rate_limited_lines, rss_kb, steady_model, wait_notes,
                  warning_lines)

pytestmark = pytest.mark.jack

EIGHTH = 0.25                   # s at 120 bpm
MALFORMED = ("malformed MIDI",)


def fits(pitch, symbol):
    c = parse_symbol(symbol)
    return bool((c.tones | c.scale) >> (pitch % 12) & 1)


def steady(live, **sections):
    """A daemon playing a steady line over Dm7 held on channel 1 (chords only there)."""
    sections.setdefault("tempo", {"bpm": 120, "swing": 0.5})
    midi = {"chord_channels": [1]}
    midi.update(sections.pop("midi", {}))
    s = live(midi=midi, **sections)
    s.kb.chord(DM7)
    t = time.monotonic()
    assert wait_notes(s.rec, 3, 3.0, since=t), s.daemon.output()
    return s


def probe(s, old=DM7, new=FS7, settle=1.0):
    """Change the chord; return when. The notes after it must fit the new chord."""
    s.kb.release(old)
    s.kb.chord(new)
    tc = time.monotonic()
    time.sleep(settle)
    return tc


def finish(s):
    """Stop with SIGTERM; assert a clean exit and balanced notes; (events, log)."""
    assert s.alive(), "the daemon died:\n" + s.daemon.output()[-3000:]
    rc = s.stop()
    out = s.daemon.output()
    assert rc == 0, out[-3000:]
    assert_clean_exit_log(out)
    heard = s.heard()
    assert_balanced_messages(heard)
    assert heard[-1] == (0xB0, 123, 0), heard[-3:]
    return s.rec.snapshot(), out


def assert_kept_playing(events, t0, t1, tc, old="Dm7", new="F#7", lag=CHANGE_REACH):
    """On the grid throughout, no gap while the bad input came (t0..t1), and the
    chord change at tc was heard within `lag` (see live.CHANGE_REACH).

    "No gap" allows one missing eighth: a note whose binding comes too late (the
    improviser thread delayed past its onset, e.g. by an xrun on this loaded machine)
    is skipped rather than played late, which is the right call; two in a row is not
    a stall but a stop."""
    on = onsets(events, since=t0 - 1.0)
    during = [t for t in on if t0 <= t < t1]
    expected = (t1 - t0) / EIGHTH
    assert len(during) >= 0.9 * expected - 1, \
        f"too few notes: {len(during)} in {t1 - t0:.1f} s (a note every {EIGHTH} s)"
    assert_on_grid(on, EIGHTH)
    gap, at = longest_gap(on, t0, t1)
    assert gap <= 2 * EIGHTH + GRID_TOL, \
        f"the line stopped for {gap:.3f} s, {at - t0:.3f} s in"
    pitches = {t: m[1] for t, m in events if m[0] & 0xF0 == 0x90 and m[2] > 0}
    before = [pitches[t] for t in on if t0 <= t < tc]
    after = [pitches[t] for t in on if t >= tc + lag]
    assert after, "nothing played after the chord change"
    assert all(fits(p, old) for p in before), (old, before)
    assert all(fits(p, new) for p in after), (new, after)


def assert_quiet_log(out, kinds=1):
    """Bad input never floods the log: at most `kinds` warnings a second over the run."""
    stamps = [t for t in map(log_time, out.splitlines()) if t is not None]
    span = stamps[-1] - stamps[0]
    lines = warning_lines(out)
    assert len(lines) <= kinds * (span + 2), \
        f"{len(lines)} warnings in {span:.1f} s:\n" + "\n".join(lines[:40])


# -- random raw bytes (hypothesis) ---------------------------------------------------

def _raw_message():
    """Anything python-rtmidi will put on the wire: 1-3 random bytes, or a sysex-ish
    run (0xF0, random bytes, maybe 0xF7). Channel voice messages on channel 1 (the chord
    channel) are moved to channel 2: the harmony stays the keyboard's, the line must go
    on undisturbed, and the bytes are still random. That holds for a status byte inside
    a sysex body too: MIDI ends a sysex at any status byte, and the dispatcher then
    plays what follows (a 0x90 in the body would press a key of the chord)."""
    short = st.lists(st.integers(0, 255), min_size=1, max_size=3)
    sysex = st.builds(lambda body, end: [0xF0] + body + ([0xF7] if end else []),
                      st.lists(st.integers(0, 255), max_size=40), st.booleans())

    def off_channel_1(m):
        return [b | 1 if 0x80 <= b < 0xF0 and b & 0x0F == 0 else b for b in m]
    return st.one_of(short, short, short, sysex).map(off_channel_1)


def test_random_raw_bytes(live):
    s = steady(live)
    t0 = time.monotonic()
    sent = []

    @settings(max_examples=80, deadline=None, database=None,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=list(HealthCheck))
    @given(batch=st.lists(_raw_message(), min_size=10, max_size=60))
    def feed(batch):
        for m in batch:
            s.kb.rt.send_message(m)
        sent.extend(batch)
        time.sleep(0.015)
        assert s.alive(), s.daemon.output()[-3000:]

    feed()
    t1 = time.monotonic()
    tc = probe(s)
    events, out = finish(s)
    assert len(sent) > 500
    assert_kept_playing(events, t0, t1, tc)
    lines, _ = rate_limited_lines(out, MALFORMED)
    assert lines, "random bytes with no malformed-MIDI warning at all?"
    assert_quiet_log(out, kinds=2)


# -- sysex ----------------------------------------------------------------------------

SYSEX_SIZES = (1, 2, 3, 100, 1000, 8 * 1024, 32 * 1024, 64 * 1024)
WHOLE_MAX = 8 * 1024       # RtMidi's JACK output ring is 16 kB: bigger ones go in pieces


def sysex(size):
    """A sysex message of `size` bytes in all (0xF0 ... 0xF7); size 1 is a lone 0xF0."""
    if size == 1:
        return [0xF0]
    return [0xF0] + [i % 128 for i in range(size - 2)] + [0xF7]


def send_sysex(rt, msg):
    """Send whole if RtMidi can, else as a device would: the head, then 3-byte pieces.

    python-rtmidi only accepts more than 3 bytes when they start with 0xF0, and RtMidi's
    JACK input joins continuation events until one ends in 0xF7."""
    if len(msg) <= WHOLE_MAX:
        rt.send_message(msg)
        return
    rt.send_message(msg[:WHOLE_MAX])
    time.sleep(0.005)
    for n, i in enumerate(range(WHOLE_MAX, len(msg), 3)):
        rt.send_message(msg[i:i + 3])
        if n % 400 == 399:
            time.sleep(0.003)          # let JACK drain the 16 kB output ring


def sysex_lengths(events):
    """Length of each sysex heard, its pieces joined: the head (0xF0 ...) and the data
    pieces after it up to the one that ends with 0xF7 (JACK passes each as sent)."""
    lengths, open_ = [], False
    for _, m in events:
        if not m:
            continue
        if m[0] == 0xF0:
            lengths.append(len(m))
            open_ = m[-1] != 0xF7
        elif open_ and (m[0] < 0x80 or m[0] == 0xF7):
            lengths[-1] += len(m)
            open_ = m[-1] != 0xF7
    return lengths


def test_sysex_of_every_size_up_to_64k(live):
    s = steady(live)
    # A witness on the keyboard's port, sysex not ignored: proof that each message
    # really crossed JACK whole (the daemon ignores sysex, so it cannot tell us).
    witness = Recorder(unique("witness"), connect_to=f"{s.kb_client}:out")
    try:
        t0 = time.monotonic()
        for size in SYSEX_SIZES:
            send_sysex(s.kb.rt, sysex(size))
            if size == 1:
                s.kb.send(0xF7)        # the lone 0xF0 ends with the next 0xF7
            time.sleep(0.15)
            assert s.alive(), s.daemon.output()[-3000:]
        time.sleep(0.3)
        t1 = time.monotonic()
        got = sysex_lengths(witness.snapshot())
        want = [2 if n == 1 else n for n in SYSEX_SIZES]
        # Whole, or nearly: a JACK cycle the witness misses (an xrun on a loaded
        # machine) takes the pieces of a long one that crossed in it.
        assert len(got) == len(want) and all(w * 0.9 <= g <= w for g, w in zip(got, want)), \
            (got, want)
        tc = probe(s)
        events, out = finish(s)
        assert_kept_playing(events, t0, t1, tc)
        assert_quiet_log(out)
        assert_kind_logged(out, r"sys ?ex", "sysex")
    finally:
        witness.close()


def test_unterminated_sysex_does_not_deafen_the_input(live):
    """A sysex cut short (no 0xF7) must not deafen the input: what follows is heard
    (an input that joins it with the next messages, as RtMidi's did, has them split as
    MIDI says: dispatcher._split)."""
    s = steady(live)
    s.kb.send(0xF0, 0x7E, 0x00)        # a sysex cut short (a cable pulled mid-dump)
    time.sleep(0.05)
    tc = probe(s)
    events, out = finish(s)
    after = [m[1] for t, m in events if t >= tc + CHANGE_REACH and m[0] == 0x90 and m[2]]
    assert after and all(fits(p, "F#7") for p in after), after


# -- running status and other malformed messages --------------------------------------

def test_running_status_and_truncated_messages(live):
    s = steady(live)
    odd = [
        [0x3E, 0x64],            # running-status data bytes (not allowed in JACK MIDI)
        [0x3E],                  # a lone data byte
        [0x91, 0x3C, 0x64],      # a real note-on on channel 2, then its running status:
        [0x40, 0x64],
        [0x90],                  # a status byte alone
        [0x90, 0x3C],            # a note-on one byte short
        [0x80, 0x32],            # a note-off one byte short (50 = D of the held Dm7)
        [0x90, 0xF8, 0x3C],      # a clock byte inside a message (legal on a DIN cable)
        [0x90, 0x3C, 0xC8],      # a data byte over 127
        [0xC0],                  # a program change without its program
        [0xC0, 0x05, 0x07],      # ... and with one byte too many
        [0xE0, 0x00],            # pitch bend one byte short
        [0xF4], [0xF5], [0xFD],  # undefined system messages
        [0xF7],                  # an end of sysex without a start
        [0xF1], [0xF3, 0x7F],    # MTC quarter frame and song select, short or odd
    ]
    malformed = sum(1 for m in odd if m[0] < 0x80 or any(b > 0x7F for b in m[1:]))
    t0 = time.monotonic()
    rounds = 0
    while time.monotonic() < t0 + 2.0:
        for m in odd:
            s.kb.rt.send_message(m)
        rounds += 1
        time.sleep(0.01)
    t1 = time.monotonic()
    tc = probe(s, settle=0.8)
    # The last burst, just before SIGTERM: its count is still held back by the rate
    # limiter when the daemon stops, and must reach the log all the same.
    time.sleep(1.1)
    for m in odd:
        s.kb.rt.send_message(m)
    rounds += 1
    time.sleep(0.1)
    events, out = finish(s)
    assert_kept_playing(events, t0, t1, tc)
    lines, accounted = rate_limited_lines(out, MALFORMED)
    assert 2 <= len(lines) <= (t1 - t0) + 4, lines
    assert accounted == rounds * malformed, (
        f"{rounds * malformed} malformed messages sent, the log accounts for {accounted}:\n"
        + "\n".join(lines))
    assert_quiet_log(out)


# -- note-offs without note-ons, velocity 0 --------------------------------------------

def test_note_off_without_note_on_changes_nothing(live):
    s = steady(live)
    t0 = time.monotonic()
    while time.monotonic() < t0 + 2.0:
        for note in range(128):
            if note not in DM7:
                s.kb.send(0x80, note, 64)            # on the chord channel, never pressed
            s.kb.send(0x80 | (note % 15 + 1), DM7[note % 4], 0)   # held, but elsewhere
        time.sleep(0.02)
    t1 = time.monotonic()
    tc = probe(s)
    events, out = finish(s)
    assert_kept_playing(events, t0, t1, tc)
    assert_quiet_log(out)
    assert_kind_logged(out, r"note[-_ ]?off.*(without|no note[-_ ]?on)|"
                            r"(stray|unmatched|orphan).*note[-_ ]?off",
                       "note-off without note-on")


def test_note_on_velocity_0_is_a_note_off(live):
    s = steady(live, midi={"hold_beats": 1})
    t0 = time.monotonic()
    while time.monotonic() < t0 + 1.5:
        for note in range(128):
            if note not in DM7:
                s.kb.send(0x90, note, 0)             # never pressed: nothing to release
        time.sleep(0.02)
    t1 = time.monotonic()
    tc = probe(s)                                    # plays on over F#7 ...
    for n in FS7:
        s.kb.send(0x90, n, 0)                        # ... released by velocity 0
    t_rel = time.monotonic()
    time.sleep(1.5)                                  # hold_beats 1 = 0.5 s, then silence
    events, out = finish(s)
    assert_kept_playing(events, t0, t1, tc)
    late = onsets(events, since=t_rel + 0.5 + EIGHTH + GRID_TOL)
    assert not late, f"still playing {late[0] - t_rel:.2f} s after the velocity-0 release"
    assert_quiet_log(out)


# -- all 16 channels -------------------------------------------------------------------

def test_all_16_channels_at_once(live):
    s = live(tempo={"bpm": 120, "swing": 0.5}, midi={"chord_channels": "all", "hold_beats": 1})
    t0 = time.monotonic()
    for ch in range(16):                             # the same chord on every channel
        s.kb.chord(DM7, channel=ch)
        s.kb.send(0xB0 | ch, 64, 127)                # and every pedal down
    assert wait_notes(s.rec, 4, 3.0, since=t0), s.daemon.output()
    for ch in range(16):                             # released: the pedals hold it
        s.kb.release(DM7, channel=ch)
    time.sleep(1.0)
    t1 = time.monotonic()
    for ch in range(16):                             # pedals up: Dm7 is gone
        s.kb.send(0xB0 | ch, 64, 0)
    for ch in range(16):
        s.kb.chord(FS7, channel=ch)
    tc = time.monotonic()
    time.sleep(1.0)
    for ch in range(16):
        s.kb.release(FS7, channel=ch)
    t_rel = time.monotonic()
    time.sleep(1.5)
    events, out = finish(s)
    assert_kept_playing(events, t0 + 0.3, t1, tc)
    late = onsets(events, since=t_rel + 0.5 + EIGHTH + GRID_TOL)
    assert not late, "a channel's note is still counted after all 16 were released"
    assert_quiet_log(out)


# -- a flood: 10 000 messages a second for 10 s -----------------------------------------

def _flood_messages(n, rng):
    """A controller gone mad, on channels 2-16: aftertouch, CCs, bends, notes, clock,
    active sensing, and one in ten malformed."""
    out = []
    malformed = 0
    for _ in range(n):
        ch = rng.randrange(1, 16)
        r = rng.random()
        if r < 0.2:
            m = [0xA0 | ch, rng.randrange(128), rng.randrange(128)]
        elif r < 0.4:
            m = [0xB0 | ch, rng.choice([1, 2, 7, 10, 11, 64, 74]), rng.randrange(128)]
        elif r < 0.55:
            m = [0xE0 | ch, rng.randrange(128), rng.randrange(128)]
        elif r < 0.65:
            m = [0xD0 | ch, rng.randrange(128)]
        elif r < 0.8:
            m = [rng.choice((0x80, 0x90)) | ch, rng.randrange(128), rng.randrange(128)]
        elif r < 0.9:
            m = [rng.choice((0xF8, 0xFE, 0xF8))]
        else:
            m = rng.choice(([rng.randrange(128), rng.randrange(128)],
                            [0x90 | ch, 0x80 | rng.randrange(128), 64]))
            malformed += 1
        out.append(m)
    return out, malformed


@pytest.mark.slow
def test_flood_of_10000_messages_a_second_for_10_s(live):
    rate, seconds, batch = 10_000, 10.0, 50
    msgs, malformed = _flood_messages(int(rate * seconds), random.Random(6))
    s = steady(live)
    rss0 = rss_kb(s.pid)
    rt = s.kb.rt
    t0 = time.monotonic()
    tc = None
    for i in range(0, len(msgs), batch):
        due = t0 + i / rate                       # absolute schedule: 10 000 a second
        while time.monotonic() < due:
            time.sleep(0.0005)
        for m in msgs[i:i + batch]:
            rt.send_message(m)
        if tc is None and i >= len(msgs) // 2:    # half-way: is it still listening?
            s.kb.release(DM7)
            s.kb.chord(FS7)
            tc = time.monotonic()
    t1 = time.monotonic()
    rss1 = rss_kb(s.pid)
    time.sleep(1.3)                               # the rate limiter's last summary is due
    events, out = finish(s)
    sent_rate = len(msgs) / (t1 - t0)
    assert sent_rate >= 0.9 * rate, f"the test only managed {sent_rate:.0f} messages/s"
    # Heard within 100 ms in the middle of the flood: the dispatcher keeps up.
    assert_kept_playing(events, t0, t1, tc, lag=0.1)
    lines, accounted = rate_limited_lines(out, MALFORMED)
    assert len(lines) <= seconds + 3, "\n".join(lines)
    assert 0.95 * malformed <= accounted <= malformed, (accounted, malformed)
    assert_quiet_log(out)
    assert rss1 - rss0 < 20_000, f"RSS grew {rss1 - rss0} kB during the flood (a backlog?)"


# -- MIDI clock at absurd rates, song position past the end --------------------------------

def clocked(live, **sections):
    sections.setdefault("tempo", {"source": "clock", "bpm": 120, "swing": 0.5})
    return live(midi={"chord_channels": [1]}, **sections)


def assert_in_step(master, times):
    """Back at 120 bpm: onsets on the master's ticks, an eighth (250 ms) apart.

    Not necessarily on the master's eighths: at 1000 bpm a tick comes every 2.5 ms, two
    JACK periods, and a tick lost to an xrun cannot be told from jitter, so the beat
    count (the phase within the beat) may be a few ticks off for good. Only a song
    position pointer can restore it; tick phase and tempo must come back regardless."""
    assert len(times) >= 4, times
    assert_on_master_grid(master, times, "back at 120 bpm, ticks", division=24)
    assert_on_grid(times, EIGHTH, "back at 120 bpm")


def test_clock_at_1000_bpm_then_back_to_120(live):
    s = clocked(live)
    s.kb.chord(DM7)
    master = s.clock(bpm=1000)
    master.start()
    t_fast = time.monotonic()
    time.sleep(1.5)
    master.bpm = 120
    t_back = time.monotonic()
    time.sleep(2.5)
    master.finish()
    time.sleep(0.3)
    events, out = finish(s)
    fast = onsets(events, t_fast, t_back)
    # at most one note per eighth (30 ms at 1000 bpm), whatever it makes of the tempo
    assert len(fast) <= 1.5 / 0.030 + 2, len(fast)
    back = onsets(events, t_back + 0.5, master.stopped_at)
    assert_in_step(master, back)
    assert not onsets(events, since=master.stopped_at + 0.01), "played after 0xFC"
    assert_quiet_log(out)


@pytest.mark.slow
def test_clock_at_1_bpm_then_back_to_120(live):
    s = clocked(live)
    s.kb.chord(DM7)
    master = s.clock(bpm=1)               # a tick every 2.5 s
    master.start()
    t_slow = time.monotonic()
    time.sleep(2.6)                                 # ticks at 0 and 2.5 s
    master.bpm = 120                                # from the tick at 5 s on
    t_back = t_slow + 5.0
    time.sleep(2.4 + 2.0)
    master.finish()
    time.sleep(0.3)
    events, out = finish(s)
    slow = onsets(events, t_slow, t_back)
    assert len(slow) <= 1, f"{len(slow)} notes while a quarter lasted a minute"
    assert_in_step(master, onsets(events, t_back + 0.5, master.stopped_at))
    assert_quiet_log(out)


def test_song_position_past_the_end(live):
    s = clocked(live)
    s.kb.chord(DM7)
    master = s.clock(bpm=120)
    master.start()
    time.sleep(1.2)
    # Stop, jump to the last position a song position pointer can name (16383
    # sixteenths: beat 4095.75, a sixteenth off the eighths), continue.
    master.send_locked(0xFC)
    master.hold()
    time.sleep(0.1)
    master.send_locked(0xF2, 0x7F, 0x7F, position=16383 * 6)
    master.send_locked(0xF2, 0x7F)                  # and a truncated one, ignored
    master.send_locked(0xFB)
    master.hold(False)
    t_jump = time.monotonic()
    time.sleep(2.0)
    # ... and once more, while playing, past the end again: 0x7F 0x7F is the maximum.
    master.send_locked(0xF2, 0x7F, 0x7F, position=16383 * 6)
    t_jump2 = time.monotonic()
    time.sleep(1.5)
    master.finish()
    time.sleep(0.3)
    events, out = finish(s)
    assert_on_master_grid(master, onsets(events, t_jump + 0.5, t_jump2), "after the jump")
    assert_on_master_grid(master, onsets(events, t_jump2 + 0.5, master.stopped_at),
                          "after the second jump")
    assert_quiet_log(out)
