"""The JACK server's frames and the daemon's `time.monotonic()`, one reading at a time.

Time is the audio clock's: the bridge processes stamp what they hear with its frame and
write what they play at its frame, and only the daemon's own process converts. Each
conversion reads the server's cycle afresh: the frame the current cycle started at
(`jack_last_frame_time`) and the frames since the server woke for it
(`jack_frames_since_cycle_start`, from the same shared timer every client reads), read
again if a cycle began in between. No map is kept: when the audio clock slips against
the monotonic one (a dummy driver re-anchoring after an xrun, a sound card's drift),
the next conversion follows at once, and frames stay exact between clients.

Not jack2's `jack_frame_time`: it follows the server's cycles through a delay-locked
loop, which takes seconds to follow a slip. Measured here after a 20 ms stall of a
synchronous server: the loop 17 ms off for the first 0.1 s, still 4 ms off 1 s later,
then overshooting by 4 ms; after a 50 ms stall, 42 ms off; the cycle's reading within
0.1 ms throughout (PipeWire's JACK: both within 0.2 ms). The cycle's reading carries
the lateness of the server's wake-up for that cycle instead (up to 0.4 ms on an idle
non-realtime server, over 1 ms on a loaded one), the same for every client reading in
that cycle. (A mix, the loop's reading where the two agree and the cycle's after a
slip, needs a state in each process, and two processes in different states then
disagree by the loop's lag.)

Frames are JACK's 32-bit counter, which wraps every 24.9 hours at 48 kHz: a frame is
read as the one nearest to now, so nothing needs unwrapping.
"""

import time

import jack

MASK = (1 << 32) - 1
HALF = 1 << 31


def frames_between(a, b):
    """b − a for two 32-bit frame counts less than 2**31 apart (signed)."""
    return ((b - a + HALF) & MASK) - HALF


class FrameClock:
    """Converts between frames and monotonic seconds through one (inactive) client."""

    def __init__(self, client):
        lib = jack._lib
        self._ptr = client._ptr
        self._cycle_start = lib.jack_last_frame_time
        self._since = lib.jack_frames_since_cycle_start
        self.rate = client.samplerate
        self.spf = 1.0 / self.rate

    def reading(self, _mono=time.monotonic):
        """(monotonic seconds, the frame at that moment)."""
        start, since, ptr = self._cycle_start, self._since, self._ptr
        for _ in range(3):
            f0 = start(ptr)
            s = since(ptr)
            m = _mono()
            if start(ptr) == f0:     # no cycle began between the reads
                break
        return m, (f0 + s) & MASK

    def to_monotonic(self, frame, reading=None):
        """The monotonic time of a (32-bit) frame; `reading` one taken for a whole batch."""
        m, now = reading or self.reading()
        return m + frames_between(now, int(frame)) * self.spf

    def to_frame(self, t):
        """The (32-bit) frame of a monotonic time."""
        m, now = self.reading()
        return (now + int(round((t - m) * self.rate))) & MASK
