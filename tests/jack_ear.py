"""A keyboard and an ear in a process of their own, driven over stdin by test_jack_async.

The ear runs apart from the test (as an outside listener does) because libjack keeps
one set of globals per process, bound to one server, and the test process may hold
clients of the session's server. Its first JACK client opens before the test makes the
server busy and stays open: libjack's wake-up race (docs/LIVE.md, "A client that never
runs") strikes only a client that opens while the process has no other one.

Commands, one per line:

- `round IN OUT SECONDS`: connect a keyboard to IN and an ear to OUT, hold a Dm7 for
  SECONDS, and answer `heard N` (the note-ons the ear heard) or `error TEXT`;
- `quit`.
"""

import sys
import time

import rtmidi

from jazzd.bench.jack_peers import Keyboard, Recorder

DM7 = [50, 53, 57, 60]


def play_round(inp, out, seconds, n):
    kb = Keyboard(f"ear-kb{n}", connect_to=inp)
    rec = Recorder(f"ear{n}", connect_to=out)
    try:
        time.sleep(0.3)                       # both connections made on the server
        kb.chord(DM7)
        time.sleep(seconds)
        kb.release(DM7)
        time.sleep(0.2)
        return sum(1 for _, m in rec.snapshot()
                   if len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2] > 0)
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
            heard = play_round(words[1], words[2], float(words[3]), n)
            print(f"heard {heard}", flush=True)
        except Exception as e:      # noqa: BLE001 - report it to the test
            print(f"error {e!r}", flush=True)
    first.delete()


if __name__ == "__main__":
    main()
