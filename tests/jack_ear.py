"""A keyboard and an ear in a process of their own, driven over stdin by test_jack_async.

The ear runs apart from the test (as an outside listener does) because libjack keeps
one set of globals per process, bound to one server, and the test process may hold
clients of the session's server. Its first JACK client opens before the test makes the
server busy and stays open: libjack's wake-up race (docs/LIVE.md, "A client that never
runs") strikes only a client that opens while the process has no other one.

Commands, one per line:

- `round IN OUT SECONDS`: connect a keyboard to IN and an ear to OUT, hold a Dm7 for
  SECONDS, and answer `heard N PRESSES` (the note-ons the ear heard, and how often the
  chord was pressed) or `error TEXT`. As a player would, it presses the chord again
  (up to PRESSES_MAX times) while nothing has come back after REPRESS_AFTER seconds:
  an asynchronous server loses the MIDI of a cycle its reader misses, and a polling
  patchbay makes such cycles common (a chord lost at the server is not a mute daemon);
- `quit`.
"""

import sys
import time

import rtmidi

from jazzd.bench.jack_peers import Keyboard, Recorder

DM7 = [50, 53, 57, 60]
REPRESS_AFTER = 0.8
PRESSES_MAX = 3


def _note_ons(rec):
    return sum(1 for _, m in rec.snapshot() if len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2])


def play_round(inp, out, seconds, n):
    kb = Keyboard(f"ear-kb{n}", connect_to=inp)
    rec = Recorder(f"ear{n}", connect_to=out)
    try:
        time.sleep(0.3)                       # both connections made on the server
        kb.chord(DM7)
        presses, pressed = 1, time.monotonic()
        end = pressed + seconds
        while time.monotonic() < end:
            time.sleep(0.05)
            if presses < PRESSES_MAX and time.monotonic() - pressed > REPRESS_AFTER \
                    and not _note_ons(rec):
                kb.release(DM7)
                time.sleep(0.05)
                kb.chord(DM7)
                presses, pressed = presses + 1, time.monotonic()
                end = max(end, pressed + 1.0)
        kb.release(DM7)
        time.sleep(0.2)
        return _note_ons(rec), presses
    finally:
        kb.close()
        rec.close()


def main():
    first = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name="ear-first")
    print("ready", flush=True)
    n = 0
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        n += 1
        try:
            heard, presses = play_round(words[1], words[2], float(words[3]), n)
            print(f"heard {heard} {presses}", flush=True)
        except Exception as e:      # noqa: BLE001 - report it to the test
            print(f"error {e!r}", flush=True)
    first.delete()


if __name__ == "__main__":
    main()
