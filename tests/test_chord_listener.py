"""The chord listener with the real recogniser, driven by explicit timestamps."""

import pytest

from jazzd.live.chord_listener import ChordListener, FormMemory
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD

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


# -- the form memory ------------------------------------------------------------------

CHANGES = [("Dm7", 0), ("G7", 4), ("Cmaj7", 8), ("A7", 12)]      # a 4-bar form


def play_form(mem, passes, jitter=0.0):
    for k in range(passes):
        for i, (sym, beat) in enumerate(CHANGES):
            mem.record(k * 16 + beat + (jitter if i % 2 else -jitter), parse_symbol(sym))


def test_form_memory_finds_a_repeating_form_early_in_its_second_pass():
    mem = FormMemory(4)
    play_form(mem, 1)
    assert mem.form is None                       # heard once: nothing repeats yet
    mem.record(16, parse_symbol("Dm7"))
    mem.record(20, parse_symbol("G7"))
    assert mem.form is None                       # two changes confirmed: not enough
    mem.record(24.1, parse_symbol("Cmaj7"))        # a little late: still the same place
    assert mem.form == 16


def test_form_memory_predicts_the_change_that_has_not_come_yet():
    mem = FormMemory(4)
    play_form(mem, 2, jitter=0.05)                 # ... up to A7 at beat 28
    cur = parse_symbol("A7")
    assert mem.predict(32.0, cur).symbol == "Dm7"  # the top of the form, on the beat
    assert mem.predict(32.4, cur).symbol == "Dm7"  # ... or just after it
    assert mem.predict(31.5, cur) is None          # before the change: no
    assert mem.predict(33.0, cur) is None          # too long after: trust the keyboard
    assert mem.predict(30.0, cur) is None          # no change due here
    # the chord now is not the one that came before the change last time: no guess
    assert mem.predict(32.0, parse_symbol("Ebmaj7")) is None
    mem.record(32.02, parse_symbol("Dm7"))         # it came: nothing left to anticipate
    assert mem.predict(32.1, parse_symbol("Dm7")) is None


def test_form_memory_knows_the_beats_where_no_change_is_due():
    mem = FormMemory(4)
    play_form(mem, 1)
    assert not mem.quiet(18)                       # no form yet: anything may come
    play_form(mem, 2)
    assert mem.form == 16
    assert mem.quiet(34) and mem.quiet(39)         # nothing came at 2 or 7 last time
    assert not mem.quiet(36) and not mem.quiet(44)  # G7 and A7 land there


def test_form_memory_forgets_when_the_changes_stop_repeating_or_restart():
    mem = FormMemory(4)
    play_form(mem, 2)
    assert mem.form == 16
    mem.record(33, parse_symbol("F#7"))            # not what came at beat 17 last time
    assert mem.form is None
    play_form(mem, 2)                              # a restart from beat 0: a new memory
    assert mem.form == 16 and mem.beats[0] == 0


def test_a_vamp_of_one_bar_and_a_free_sequence():
    mem = FormMemory(4)
    for bar in range(4):
        mem.record(bar * 4, parse_symbol("Dm7"))
        mem.record(bar * 4 + 2, parse_symbol("G7"))
    assert mem.form == 4
    free = FormMemory(4)
    for i, sym in enumerate(["C", "F", "Bb", "Eb", "Ab", "Db", "Gb", "B", "E", "A"]):
        free.record(i * 3.0, parse_symbol(sym))
    assert free.form is None


def test_listener_anticipates_only_when_no_change_is_in_progress():
    lst = ChordListener(midi_cfg(debounce_ms=0), seconds_per_beat=lambda: 0.5,
                        beat_at=lambda t: t * 2)   # 120 bpm from t = 0
    voicings = {"Dm7": DM7, "G7": G7, "Cmaj7": [48, 52, 55, 59], "A7": [45, 49, 52, 55]}
    held = []
    for k in range(2):
        for sym, b in CHANGES:
            t = (k * 16 + b) / 2
            release(lst, t, held)
            held = voicings[sym]
            play(lst, t, held)
            lst.poll(t)
    assert lst.form.form == 16
    assert lst.anticipate(32.0, lst.chord).symbol == "Dm7"
    release(lst, 15.99, held)                      # the new chord is on its way in
    play(lst, 15.99, DM7[:2])
    assert lst.anticipate(32.0, lst.chord) is None


def test_changes_on_the_beat_are_noticed_and_human_timing_is_not():
    """Two changes in a row from one chord to another that start within a few ms of a
    beat (a sequencer) set `changes_on_beat`; one well off the beat (a player) clears
    it; the first chord out of silence says nothing either way."""
    lst = ChordListener(midi_cfg(debounce_ms=40), seconds_per_beat=lambda: 0.5,
                        beat_at=lambda t: t * 2)   # 120 bpm from t = 0

    def change(t, old, new):
        if old:
            release(lst, t, old)
        play(lst, t, new)
        lst.poll(t + 0.05)                          # past the debounce
        return lst.chord.symbol, lst.changes_on_beat

    assert change(2.003, None, [48, 52, 55, 59]) == ("Cmaj7", False)   # out of silence
    assert change(4.004, [48, 52, 55, 59], [42, 46, 49, 52]) == ("F#7", False)  # +4 ms
    assert change(5.497, [42, 46, 49, 52], [46, 49, 53, 56]) == ("Bbm7", True)  # -3 ms
    assert change(6.06, [46, 49, 53, 56], [48, 52, 55, 59]) == ("Cmaj7", False)  # +60 ms
    assert change(8.002, [48, 52, 55, 59], [42, 46, 49, 52]) == ("F#7", False)  # one alone


def test_only_beats_where_changes_have_landed_may_wait_for_one():
    lst = ChordListener(midi_cfg(debounce_ms=40), seconds_per_beat=lambda: 0.5,
                        beat_at=lambda t: t * 2)   # 120 bpm from t = 0
    chords = ([48, 52, 55, 59], [42, 46, 49, 52], [46, 49, 53, 56])
    held = None
    for t, notes in zip((2.0, 4.0, 5.0), chords):  # beats 4, 8 (downbeats), 10 (beat 3)
        if held:
            release(lst, t, held)
        play(lst, t, notes)
        lst.poll(t + 0.05)
        held = notes
    assert lst.changes_on_beat
    assert lst.may_change_on(12) and lst.may_change_on(14)        # beats 1 and 3
    assert not lst.may_change_on(13) and not lst.may_change_on(15)  # beats 2 and 4


@pytest.mark.parametrize("how", ["reset", "forget_timing"])
def test_a_sequencer_gone_leaves_no_wait_behind(how):
    """The input went away (reset) or bar 1 starts again (the dispatcher's downbeat):
    no beat waits for a chord any more until changes land on beats again."""
    lst = ChordListener(midi_cfg(debounce_ms=40), seconds_per_beat=lambda: 0.5,
                        beat_at=lambda t: t * 2)
    held = None
    for t, notes in zip((2.0, 4.0, 5.0), ([48, 52, 55, 59], [42, 46, 49, 52],
                                          [46, 49, 53, 56])):
        if held:
            release(lst, t, held)
        play(lst, t, notes)
        lst.poll(t + 0.05)
        held = notes
    assert lst.may_change_on(12)
    lst.reset(6.0) if how == "reset" else lst.forget_timing()
    assert not lst.changes_on_beat
    assert not any(lst.may_change_on(b) for b in range(12, 20))


# -- reloads, panic and threads ---------------------------------------------------------

def test_lowering_the_split_forgets_the_notes_that_no_longer_count():
    """A reload lowers split_note while C7 is held: its upper notes no longer count,
    and their note-offs would not count either, so they must not hold the chord."""
    lst = listener(hold_beats=2, debounce_ms=0)
    play(lst, 1.0, C7)
    assert lst.chord.symbol == "C7"
    lst.configure(midi_cfg(hold_beats=2, debounce_ms=0, split_note=50), t=1.5)
    assert lst.sounding_notes() == [48]
    release(lst, 2.0, C7)
    lst.poll(2.0)
    lst.poll(2.0 + 2 * 0.5 + 0.01)
    assert lst.chord is NO_CHORD and lst.sounding_notes() == []


def test_a_metre_change_starts_a_new_form_memory():
    lst = listener()
    old = lst.form
    lst.configure(midi_cfg(), t=1.0, beats_per_bar=3)
    assert lst.form is not old and lst.form.beats_per_bar == 3
    lst.configure(midi_cfg(), t=2.0, beats_per_bar=3)
    assert lst.form.beats_per_bar == 3


@pytest.mark.parametrize("cc", [120, 121, 123])
def test_panic_releases_every_note_of_its_channel_at_once(cc):
    lst = listener(debounce_ms=0)
    play(lst, 1.0, C7, ch=0)
    lst.sustain(1.0, 0, 127)
    release(lst, 1.1, C7[:2], ch=0)              # held by the pedal
    lst.panic(1.2, 0)
    assert lst.sounding_notes() == [] and lst.chord is NO_CHORD
    assert lst.poll(1.3) is None                 # no hold: the chord is gone now
    play(lst, 2.0, DM7, ch=1)
    lst.panic(2.1, 0)                            # another channel: DM7 stays
    assert lst.chord.symbol == "Dm7"


def test_form_memory_readers_never_see_a_half_trimmed_memory():
    """The improviser predicts while the dispatcher records, restarts (a master that
    went back to the top) and trims; a reader must never fail or mix the lists."""
    import sys
    import threading
    mem = FormMemory(4)
    errors, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            try:
                for b in (15.9, 16.0, 31.95, 48.0):
                    mem.predict(b, parse_symbol("Dm7"))
                    mem.quiet(b)
                beats, chords, _ = mem.view
                assert len(beats) == len(chords)
            except Exception as e:                 # noqa: BLE001 - what the test is for
                errors.append(e)
                return

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    reader = threading.Thread(target=read)
    reader.start()
    try:
        for rnd in range(1000):
            play_form(mem, 3)                      # beats go back to 0: a reset
            if errors:
                break
    finally:
        stop.set()
        reader.join()
        sys.setswitchinterval(old)
    assert not errors, errors[0]


def test_each_answer_of_the_form_memory_reads_one_snapshot():
    """The deterministic half of the test above: predict and quiet read the published
    view once per call, so nothing the dispatcher does meanwhile can split them."""
    class Counting(FormMemory):
        reads = 0

        @property
        def view(self):
            type(self).reads += 1
            return self._view

        @view.setter
        def view(self, value):
            self._view = value

    mem = Counting(4)
    play_form(mem, 2)
    for call in (lambda: mem.predict(31.9, parse_symbol("A7")), lambda: mem.quiet(30.0)):
        Counting.reads = 0
        call()
        assert Counting.reads == 1
