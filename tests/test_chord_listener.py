"""The chord listener with the real recogniser, driven by explicit timestamps."""

import pytest

from daemon.chord_listener import ChordListener
from grammar.chords import NO_CHORD

C7 = [48, 52, 55, 58]
DM7 = [50, 53, 57, 60]
G7 = [43, 47, 50, 53]


def midi_cfg(**kw):
    cfg = {"chord_channels": "all", "split_note": None, "debounce_ms": 40, "hold_beats": 8}
    cfg.update(kw)
    return cfg


def listener(**kw):
    return ChordListener(midi_cfg(**kw), seconds_per_beat=lambda: 0.5)   # 120 bpm


def play(lst, t, notes, ch=0, spread=0.0):
    for i, n in enumerate(notes):
        lst.note_on(t + i * spread, ch, n, 90)
    return t + (len(notes) - 1) * spread


def release(lst, t, notes, ch=0):
    for n in notes:
        lst.note_off(t, ch, n)


def test_a_rolled_chord_is_one_change():
    lst = listener()
    end = play(lst, 1.0, C7, spread=0.015)       # rolled over 45 ms
    lst.poll(end + 0.039)
    assert lst.chord is NO_CHORD                  # still inside the debounce
    assert lst.fresh.symbol == "C7"               # ... but late binding already sees it
    assert lst.binding_chord().symbol == "C7"
    lst.poll(end + 0.041)
    assert lst.chord.symbol == "C7"
    assert lst.changes == 1                       # not C, then C7


def test_poll_reports_the_next_timer():
    lst = listener()
    play(lst, 1.0, DM7)
    assert lst.poll(1.0) == pytest.approx(1.04)
    assert lst.poll(1.05) is None
    release(lst, 2.0, DM7)
    assert lst.poll(2.0) == pytest.approx(2.04)
    assert lst.poll(2.05) == pytest.approx(2.04 + 8 * 0.5)   # from the settled release


def test_release_holds_the_chord_for_hold_beats_then_no_chord():
    lst = listener(hold_beats=4)
    play(lst, 1.0, DM7)
    lst.poll(1.1)
    release(lst, 2.0, DM7)
    lst.poll(2.1)
    assert lst.chord.symbol == "Dm7"
    assert lst.binding_chord().symbol == "Dm7"     # held after release
    lst.poll(2.04 + 4 * 0.5 - 0.01)
    assert lst.chord.symbol == "Dm7"
    lst.poll(2.04 + 4 * 0.5 + 0.001)
    assert lst.chord is NO_CHORD
    assert not lst.binding_chord()


def test_a_new_chord_within_the_hold_cancels_it():
    lst = listener(hold_beats=2)
    play(lst, 1.0, DM7)
    lst.poll(1.1)
    release(lst, 2.0, DM7)
    lst.poll(2.1)
    play(lst, 2.5, G7)
    lst.poll(2.6)
    lst.poll(10.0)
    assert lst.chord.symbol == "G7"


def test_partial_release_keeps_the_last_chord():
    lst = listener()
    play(lst, 1.0, C7)
    lst.poll(1.1)
    release(lst, 1.5, C7[1:3])                    # two notes left: no chord of their own
    lst.poll(1.6)
    assert lst.chord.symbol == "C7"


def test_sustain_pedal_holds_released_notes():
    lst = listener()
    lst.sustain(0.9, 0, 127)
    play(lst, 1.0, DM7)
    lst.poll(1.1)
    release(lst, 1.2, DM7)
    lst.poll(1.3)
    assert lst.fresh.symbol == "Dm7"              # still sounding under the pedal
    assert lst.sounding_notes() == sorted(DM7)
    lst.sustain(1.4, 0, 0)                         # pedal up: the notes stop
    assert not lst.fresh
    lst.poll(1.5)
    assert lst.chord.symbol == "Dm7"              # ... and the hold begins
    assert lst.poll(1.5) == pytest.approx(1.44 + 8 * 0.5)


def test_note_on_velocity_zero_is_a_note_off_and_stray_offs_are_ignored():
    lst = listener(debounce_ms=0)
    assert not lst.note_off(0.5, 0, 99)           # note-off without note-on
    play(lst, 1.0, G7)
    assert lst.chord.symbol == "G7"
    for n in G7:
        lst.note_on(1.2, 0, n, 0)
    assert lst.sounding_notes() == []


def test_channels_and_split_note():
    lst = listener(chord_channels=[2], split_note=60, debounce_ms=0)
    play(lst, 1.0, C7, ch=0)                       # channel 1: ignored
    assert lst.chord is NO_CHORD
    play(lst, 1.1, [60, 64, 67, 72], ch=1)         # at/above the split: the right hand
    assert lst.chord is NO_CHORD
    play(lst, 1.2, DM7[:3], ch=1)                  # 50 53 57: Dm under the split
    assert lst.chord.symbol == "Dm"


def test_reset_forgets_everything():
    lst = listener(debounce_ms=0)
    play(lst, 1.0, C7)
    lst.sustain(1.0, 0, 127)
    lst.reset(2.0)
    assert lst.chord is NO_CHORD and lst.sounding_notes() == []
    assert lst.poll(2.1) is None


def test_configure_applies_new_settings():
    lst = listener()
    lst.configure(midi_cfg(chord_channels=[1], debounce_ms=0))
    play(lst, 1.0, C7, ch=3)
    assert lst.chord is NO_CHORD
    play(lst, 1.0, C7, ch=0)
    assert lst.chord.symbol == "C7"
