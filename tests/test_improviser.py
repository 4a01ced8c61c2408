"""The improviser thread's one pass, `Improviser.step(now)`, driven by hand: a real
performer on the shipped model, a real internal clock and chord listener, a real
scheduler whose thread is not started (so what the improviser hands it stays queued and
is read back). No JACK, no waiting on the wall clock: `now` is the test's."""

from fractions import Fraction

import pytest

from conftest import validated_config
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.swing import swung_beats, unswung_ticks
from jazzd.live.chord_listener import ChordListener
from jazzd.live.clock import InternalClock
from jazzd.live.improviser import MIN_SOUND, Improviser
from jazzd.live.scheduler import Scheduler
from jazzd.model.performer import Performer
from jazzd.model.store import load_model
from jazzd.model.style import only_length

DM7, G7 = [50, 53, 57, 60], [43, 47, 50, 53]
# the model's own rhythms, but no note or rest longer than a beat and few rests: a
# stream of notes within seconds, whatever the seed
LIVELY = {"duration_weights": {str(Fraction(n, 12)): 0 for n in range(13, 97)},
          "rest_probability": 0.1}
STEP = 0.002                  # s between passes (the thread re-reads at least every 10 ms)


@pytest.fixture(scope="module")
def model():
    return load_model("default")


class Rig:
    """One improviser and what it plays into."""

    def __init__(self, model, bpm=120, **sections):
        sections.setdefault("improviser", {}).setdefault("seed", 7)
        sections.setdefault("style", LIVELY)
        self.cfg = validated_config(tempo={"bpm": bpm, "swing": 0.6}, **sections)
        self.clock = InternalClock(bpm, now=0.0)
        mc = dict(self.cfg["midi"], debounce_ms=0)
        self.listener = ChordListener(mc, self.clock.seconds_per_beat,
                                      beat_at=self.clock.beat_at)
        self.scheduler = Scheduler(lambda msg: None)
        self.perf = Performer(model, self.cfg)
        self.imp = Improviser(self.perf, lambda: self.clock, lambda: self.cfg,
                              self.listener, self.scheduler)
        self.imp.monotonic = lambda: self.now
        self.now = 0.0

    def chord(self, t, notes, old=()):
        self.run_until(t)
        for n in old:
            self.listener.note_off(t, 0, n)
        for n in notes:
            self.listener.note_on(t, 0, n, 90)
        self.listener.poll(t)

    def run_until(self, t):
        while self.now < t:
            self.imp.step(self.now)
            self.now += STEP

    def notes(self):
        """[(on, off, pitch)] of what was scheduled, in onset order."""
        ons, out = {}, []
        for t, kind, pitch, _v in self.scheduler.queued():
            if kind == "on":
                ons[pitch] = t
            elif pitch in ons:
                out.append((ons.pop(pitch), t, pitch))
        return sorted(out)


def fits(pitch, symbol):
    c = parse_symbol(symbol)
    return bool((c.tones | c.scale) >> (pitch % 12) & 1)


def test_notes_land_on_the_swung_grid_in_the_register_one_at_a_time(model):
    r = Rig(model)
    r.chord(0.1, DM7)
    r.run_until(6.0)
    notes = r.notes()
    assert len(notes) >= 8
    imp = r.cfg["improviser"]
    for on, off, pitch in notes:
        tick = unswung_ticks(r.clock.beat_at(on), 0.6)
        assert on == pytest.approx(r.clock.time_of(swung_beats(round(tick), 0.6)),
                                   abs=1e-9), (on, tick)
        assert off >= on + MIN_SOUND
        assert imp["lowest_note"] <= pitch <= imp["highest_note"]
    for (_, off, _), (on, _, _) in zip(notes, notes[1:]):
        assert off <= on + 1e-9                      # monophonic


def test_the_first_note_starts_on_an_eighth_after_the_chord(model):
    r = Rig(model)
    r.chord(0.73, DM7)
    r.run_until(3.0)
    first = r.notes()[0][0]
    beat = r.clock.beat_at(first)
    assert first > 0.73
    assert unswung_ticks(beat, 0.6) % (TPQ // 2) == pytest.approx(0, abs=1e-6)


def test_a_silence_ends_the_phrase_and_nothing_bound_before_it_is_played(model):
    r = Rig(model)
    r.chord(0.1, DM7)
    r.run_until(2.0)
    assert r.imp.active
    r.scheduler.silence()
    assert r.scheduler.queued() == []
    r.imp.step(r.now)
    assert not r.imp.active or r.imp._epoch == r.scheduler.epoch
    r.run_until(4.0)
    assert r.notes() and all(on > 2.0 for on, _, _ in r.notes())   # a new phrase


def test_a_graced_note_never_ends_before_it_starts(model):
    """A note on a beat that waits change_grace_ms for a chord landing there keeps its
    length from where it starts: with a grace longer than the note (50 ms at 240 bpm,
    one-tick notes) its off was once scheduled 22.5 ms before its on."""
    r = Rig(model, bpm=240, improviser={"change_grace_ms": 50, "seed": 3},
            style={"duration_weights": only_length(1), "kind_weights": {"R": 0}})
    assert r.cfg["improviser"]["change_grace_ms"] == 50
    spb = 0.25
    held = []
    for k, notes in enumerate([DM7, G7] * 6):        # changes on the beat, a sequencer
        r.chord(0.5 + k * 2 * spb, notes, held)
        held = notes
    r.run_until(0.5 + 12 * 2 * spb + 0.5)
    assert r.imp.graced > 0                          # the grace was taken
    assert all(off >= on + MIN_SOUND for on, off, _ in r.notes())


def test_the_note_on_a_change_answers_the_new_chord(model):
    """A chord played a beat ahead of its notes' binding: every note bound after it
    fits it (late binding: the pitch is chosen against the chord sounding then)."""
    r = Rig(model, style=dict(LIVELY, kind_weights={"A": 0, "X": 0}))
    r.chord(0.1, DM7)
    r.run_until(2.0)
    r.chord(2.0, G7, DM7)
    r.run_until(4.0)
    ahead = r.imp._ahead(r.cfg)
    after = [p for on, _, p in r.notes() if on >= 2.0 + ahead + 0.001]
    assert after and all(fits(p, "G7") for p in after), after
