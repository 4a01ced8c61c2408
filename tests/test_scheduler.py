"""The scheduler: deadlines, monophony, silence (note-offs then CC123), lateness, freeze."""

import os
import threading
import time

import pytest

from jazzd.live.scheduler import Scheduler


class Sink:
    """Stands where the output port's send goes: records (time, message)."""

    def __init__(self):
        self.sent = []
        self.lock = threading.Lock()

    def __call__(self, msg, at=None):
        with self.lock:
            self.sent.append((time.monotonic(), list(msg)))
        return True

    def messages(self):
        with self.lock:
            return [m for _, m in self.sent]


@pytest.fixture
def sched():
    sink = Sink()
    s = Scheduler(sink, channel=3)
    s.sink = sink
    s.start()
    yield s
    s.stop()


def wait_until(pred, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return False


def test_notes_go_out_at_their_deadlines_in_order(sched):
    t0 = time.monotonic() + 0.05
    # scheduled out of order on purpose
    sched.note(t0 + 0.04, t0 + 0.07, 64, 90)
    sched.note(t0, t0 + 0.03, 60, 100)
    assert wait_until(lambda: len(sched.sink.sent) >= 7)
    sent = sched.sink.sent
    # each note-off goes out again OFF_ECHO (20 ms) later, and 60's also right before
    # 64's note-on, which comes first (10 ms after 60's note-off)
    assert [m for _, m in sent] == [[0x92, 60, 100], [0x82, 60, 0], [0x82, 60, 0],
                                    [0x92, 64, 90], [0x82, 60, 0], [0x82, 64, 0],
                                    [0x82, 64, 0]]
    line = [sent[i] for i in (0, 1, 3, 5)]
    for (t, _), deadline in zip(line, (t0, t0 + 0.03, t0 + 0.04, t0 + 0.07)):
        assert t >= deadline                  # never early
        assert t - deadline < 0.05            # generous sanity bound, not a benchmark
    assert sched.notes_played == 2
    stats = sched.lateness_stats()
    assert stats["count"] == 4 and stats["max_ms"] >= stats["p50_ms"] >= 0


def test_monophonic_a_new_note_ends_the_sounding_one(sched):
    t0 = time.monotonic() + 0.03
    sched.note(t0, t0 + 0.2, 60, 100)          # overlaps the next note
    sched.note(t0 + 0.02, t0 + 0.05, 67, 100)
    assert wait_until(lambda: len(sched.sink.sent) >= 4)
    time.sleep(0.2)                              # the first note's own off time passes
    msgs = sched.sink.messages()
    assert msgs == [[0x92, 60, 100], [0x82, 60, 0], [0x92, 67, 100], [0x82, 60, 0],
                    [0x82, 67, 0], [0x82, 67, 0]]


def test_a_note_off_goes_out_again_unless_the_pitch_sounds_again(sched):
    """An asynchronous JACK server loses what a client sends in a cycle it misses: the
    note-off is sent again OFF_ECHO later, but never into the same pitch struck again."""
    from jazzd.live.scheduler import OFF_ECHO
    t0 = time.monotonic() + 0.03
    sched.note(t0, t0 + 0.03, 60, 100)
    sched.note(t0 + 0.03, t0 + 0.10, 60, 100)    # the same pitch, legato
    sched.note(t0 + 0.2, t0 + 0.25, 62, 100)
    assert wait_until(lambda: len(sched.sink.sent) >= 9)
    time.sleep(0.05)
    sent = sched.sink.sent
    # the legato repeat: its note-off repeated before its note-on, never after it
    assert [m for _, m in sent] == [[0x92, 60, 100], [0x82, 60, 0], [0x82, 60, 0],
                                    [0x92, 60, 100], [0x82, 60, 0], [0x82, 60, 0],
                                    [0x92, 62, 100], [0x82, 62, 0], [0x82, 62, 0]]
    for i, off_due in ((5, t0 + 0.10), (8, t0 + 0.25)):          # due OFF_ECHO after the
        assert sent[i][0] >= off_due + OFF_ECHO - 0.001           # first was due (never early)
    assert sched.lateness_stats()["count"] == 6     # the echoes are no deadlines


def test_silence_sends_note_offs_then_cc123_and_drops_pending(sched):
    t0 = time.monotonic() + 0.02
    sched.note(t0, t0 + 5.0, 62, 100)
    sched.note(t0 + 5.5, t0 + 6.0, 65, 100)
    assert wait_until(lambda: sched.sounding() == [62])
    epoch = sched.epoch
    assert sched.silence() == 1
    msgs = sched.sink.messages()
    assert msgs[-2:] == [[0x82, 62, 0], [0xB2, 123, 0]]
    assert sched.sounding() == [] and sched.pending() == 1   # only the off's repeat
    # a silence's note-offs are repeated OFF_ECHO later too (a lost one would hang)
    assert wait_until(lambda: sched.pending() == 0)
    assert sched.sink.messages()[len(msgs):] == [[0x82, 62, 0]]
    # a note bound before the silence (old epoch) is dropped
    assert not sched.note(time.monotonic(), time.monotonic() + 0.01, 70, 100, epoch)
    assert sched.note(time.monotonic(), time.monotonic() + 0.01, 70, 100, sched.epoch)


def test_stop_leaves_nothing_sounding():
    sink = Sink()
    s = Scheduler(sink)
    s.start()
    t0 = time.monotonic()
    s.note(t0, t0 + 10, 60, 100)
    assert wait_until(lambda: s.sounding() == [60])
    s.stop()
    assert not s.is_alive()
    msgs = sink.messages()
    assert msgs[-2:] == [[0x80, 60, 0], [0xB0, 123, 0]]
    ons = [m for m in msgs if m[0] == 0x90]
    offs = [m for m in msgs if m[0] == 0x80]
    assert len(ons) == len(offs) == 1


def test_a_lost_note_off_never_sounds_under_the_next_note():
    """Whichever single note-off the server drops, the receiver has the note ended
    before the next note-on: the repeat due after it goes before it."""
    for lost in range(4):                      # drop the k-th note-off sent
        sent, offs = [], [0]

        def lossy(msg, at=None, sent=sent, offs=offs, lost=lost):
            if msg[0] & 0xF0 == 0x80:
                offs[0] += 1
                if offs[0] - 1 == lost:
                    return True                # "sent", never heard
            sent.append(list(msg))
            return True
        s = Scheduler(lossy)
        s.start()
        t0 = time.monotonic() + 0.02
        for k, p in enumerate((60, 64, 67, 64)):   # 10 ms gaps, under OFF_ECHO
            s.note(t0 + k * 0.04, t0 + k * 0.04 + 0.03, p, 100)
        assert wait_until(lambda: sum(m[0] == 0x90 for m in sent) == 4)
        time.sleep(0.1)
        s.stop()
        sounding = set()
        for m in sent:
            if m[0] == 0x90:
                assert not sounding, (lost, sent)      # an overlap at the receiver
                sounding.add(m[1])
            elif m[0] == 0x80:
                sounding.discard(m[1])
        assert not sounding, (lost, sent)


def test_a_stop_can_send_its_note_offs_again_once_nothing_can_sound(monkeypatch):
    """The stop's own note-offs (and an echo it dropped) go out once more OFF_ECHO
    later (the daemon's shutdown): an asynchronous JACK server may lose the first."""
    from jazzd.live import scheduler
    monkeypatch.setattr(scheduler, "OFF_ECHO", 5.0)   # 62's echo is surely still pending
    sink = Sink()
    s = Scheduler(sink)
    s.start()
    t0 = time.monotonic()
    s.note(t0, t0 + 0.02, 62, 100)               # ended just before the stop: its echo
    s.note(t0 + 0.025, t0 + 10, 60, 100)         # still pending then
    assert wait_until(lambda: s.sounding() == [60])
    s.repeat_silence()                           # not while the line can go on
    assert sink.messages()[-1] == [0x90, 60, 100]
    s.stop()
    n = len(sink.messages())
    s.repeat_silence()
    msgs = sink.messages()
    assert msgs[n - 2:n] == [[0x80, 60, 0], [0xB0, 123, 0]]
    assert msgs[n:] == [[0x80, 60, 0], [0x80, 62, 0], [0xB0, 123, 0]]


def test_panic_at_start_ends_every_pitch_even_for_receivers_that_ignore_cc123():
    sink = Sink()
    s = Scheduler(sink, channel=16)
    s.panic()
    msgs = sink.messages()
    assert msgs[:2] == [[0xBF, 120, 0], [0xBF, 123, 0]]
    assert msgs[2:] == [[0x8F, p, 0] for p in range(128)]


def test_a_note_sounding_when_the_channel_changes_is_ended_on_its_own_channel(sched):
    """A reload switches the channel (or the port) while a note sounds: its note-off
    and the silence go where its note-on went."""
    t0 = time.monotonic() + 0.02
    sched.note(t0, t0 + 0.4, 60, 100)
    assert wait_until(lambda: sched.sounding() == [60])
    other = Sink()
    sched.set_output(other, 5)
    sched.note(t0 + 0.05, t0 + 0.1, 62, 90)        # a new note: the new port, channel 5
    assert wait_until(lambda: len(other.messages()) >= 2)
    assert sched.sink.messages()[-1] == [0x82, 60, 0]    # ended by the next note, there
    assert other.messages()[:2] == [[0x94, 62, 90], [0x84, 62, 0]]
    sched.note(time.monotonic() + 0.01, time.monotonic() + 1.0, 64, 90)
    assert wait_until(lambda: sched.sounding() == [64])
    sched.set_output(sched.sink, 3)
    sched.silence()
    assert other.messages()[-2:] == [[0x84, 64, 0], [0xB4, 123, 0]]
    assert sched.sink.messages()[-1] == [0xB2, 123, 0]


def test_ring_buffer_wraps():
    s = Scheduler(Sink(), ring_size=8)
    s.start()
    t0 = time.monotonic() + 0.01
    for i in range(10):
        s.note(t0 + i * 0.004, t0 + i * 0.004 + 0.002, 60 + i, 100)
    assert wait_until(lambda: s.notes_played == 10)
    time.sleep(0.01)
    s.stop()
    assert len(s.lateness()) == 8
    assert s.lateness_stats()["count"] == 20


class CountingNotifier:
    def __init__(self):
        self.pings = 0

    def watchdog(self):
        self.pings += 1


def test_watchdog_pinged_from_the_loop_and_stopped_by_the_freeze_file(tmp_path):
    freeze = tmp_path / "freeze"
    n = CountingNotifier()
    s = Scheduler(Sink(), notifier=n, freeze_file=str(freeze), idle_wait=0.01)
    s.start()
    try:
        assert wait_until(lambda: n.pings > 5)
        freeze.touch()
        time.sleep(0.1)
        frozen_at = n.pings
        time.sleep(0.2)
        assert n.pings == frozen_at             # frozen: no pings
        os.unlink(freeze)
        assert wait_until(lambda: n.pings > frozen_at + 3)
    finally:
        if freeze.exists():
            os.unlink(freeze)
        s.stop()


def test_an_exception_in_the_loop_silences_and_reports():
    sink_calls = []

    def send(msg, at=None):
        sink_calls.append(list(msg))
        if msg[0] & 0xF0 == 0x90:
            raise RuntimeError("port exploded")
        return True

    errors = []
    s = Scheduler(send)
    s.on_error = errors.append
    s.start()
    s.note(time.monotonic(), time.monotonic() + 1, 60, 100)
    assert wait_until(lambda: errors)
    s.join(1)
    assert isinstance(errors[0], RuntimeError)
    assert sink_calls[-1] == [0xB0, 123, 0]


def test_other_threads_keep_quiet_around_a_send():
    s = Scheduler(Sink())
    s.quiet_until = time.monotonic() + 0.05
    t0 = time.monotonic()
    s.keep_quiet()
    assert time.monotonic() - t0 >= 0.045
    t0 = time.monotonic()
    s.keep_quiet()                                # nothing due: returns at once
    assert time.monotonic() - t0 < 0.01
