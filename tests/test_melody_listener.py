"""The melody listener (daemon/live/melody_listener.py): which notes are the player's
line, and what the improviser's ear is told of them."""

from conftest import validated_config
from jazzd.live.clock import InternalClock
from jazzd.live.melody_listener import MelodyListener


def make(mode="answer", split=60):
    cfg = validated_config(midi={"split_note": split}, interplay={"mode": mode})
    clock = InternalClock(120, now=0.0)
    return MelodyListener(cfg["midi"], cfg["interplay"], lambda: clock, lambda: None), cfg


def drain(lst):
    out = []
    while not lst.events.empty():
        out.append(lst.events.get())
    return out


def test_a_reload_that_raises_the_split_releases_the_held_line_note():
    """A reload raises split_note over the melody note being held: that note no longer
    counts, nor will its note-off, so the ear must hear it end now (it stayed
    "sounding", and answer mode waited for the player for ever)."""
    lst, cfg = make()
    assert lst.note_on(1.0, 0, 64, 90)
    assert [e.kind for e in drain(lst)] == ["on"]
    higher = dict(cfg["midi"], split_note=72)
    lst.configure(higher, cfg["interplay"], t=1.5)
    events = drain(lst)
    assert [(e.kind, e.t, e.note) for e in events] == [("off", 1.5, 64)]
    assert lst.down == 0 and lst.idle(2.5, 1.0)
    assert not lst.note_off(2.0, 0, 64)          # its real note-off counts for nothing


def test_a_reload_that_keeps_the_note_counting_changes_nothing():
    lst, cfg = make()
    lst.note_on(1.0, 0, 76, 90)
    drain(lst)
    lst.configure(dict(cfg["midi"], split_note=72), cfg["interplay"], t=1.5)
    assert drain(lst) == [] and lst.down == 1
    assert lst.note_off(2.0, 0, 76)
    assert [e.kind for e in drain(lst)] == ["off"]
