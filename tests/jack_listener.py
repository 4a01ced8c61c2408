"""An ear in a process of its own that streams what it hears: `python jack_listener.py
CLIENT PORT` connects a Recorder to PORT and prints one line per message, `TIME HEX`
(monotonic arrival time, the bytes in hex), after a first line `ready`.

Why a process: on an asynchronous JACK server a late reader can read a port buffer
the writer is already refilling, and python-rtmidi's JACK input then copies garbage
and may crash its process (docs/LIVE.md). In a child, such a crash costs the test the
messages of a moment, not the test run; `live.ChildEar` notices and starts another.
"""

import sys
import time

import rtmidi

from jazzd.bench.jack_peers import Recorder


def main():
    client, port = sys.argv[1], sys.argv[2]
    # libjack's wake-up race (docs/LIVE.md) strikes a process's first client when
    # another client leaves as it attaches (as a crashed ear's does): a spare first.
    first = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=f"{client}-first")
    rec = Recorder(client, connect_to=port)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    try:
        while True:
            new = rec.take()
            if new:
                out.write("".join(f"{t:.6f} {bytes(m).hex()}\n" for t, m in new))
                out.flush()
            time.sleep(0.005)
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        rec.close()
        first.delete()


if __name__ == "__main__":
    main()
