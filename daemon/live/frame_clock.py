"""The JACK server's frames and the daemon's `time.monotonic()`, one reading at a time.

Time is the audio clock's: the bridge processes stamp what they hear with its frame and
write what they play at its frame, and only the daemon's own process converts. Each
conversion reads the server's cycle afresh: the frame the current cycle started at
(`jack_last_frame_time`) and the frames since the server woke for it
(`jack_frames_since_cycle_start`, from the same shared timer every client reads), read
again if a cycle began in between. No map is kept: when the audio clock slips against
the monotonic one (a dummy driver re-anchoring after an xrun, a sound card's drift),
the next conversion follows at once, and frames stay exact between clients.

Each reading also takes jack2's `jack_frame_time`, and keeps it where the two agree.
That counter follows the server's cycles through a delay-locked loop: smooth where the
cycle's reading carries the lateness of the server's wake-up (up to 0.4 ms on a
non-realtime server: a step between two messages sent together), but seconds behind a
slip. Measured here after a 20 ms stall of a synchronous server: the loop 17 ms off
for the first 0.1 s, still 4 ms off 1 s later, then overshooting by 4 ms; after 50 ms,
42 ms off; the cycle's reading within 0.1 ms throughout (PipeWire's JACK: both within
0.2 ms). So the loop's frame is kept while it is ahead of the cycle's by up to AGREE
(or behind by up to EARLY_SLACK, its own wobble). Behind by more, it is wrong: a late
wake-up only ever puts the cycle's frame behind the true one. Ahead by more, it is
either a slip the loop has not followed yet or one wake-up late by over AGREE (common on a
loaded non-realtime server: steps of 1.2 ms between messages sent together): the
cycle's frame is taken once a second cycle read within CONFIRM disagrees as well,
since a slip lasts seconds in the loop and a late wake-up one cycle.

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

    AGREE = 0.001            # s: how far the loop's frame may be ahead of the cycle's
    EARLY_SLACK = 0.0002     # s: ... and behind it
    CONFIRM = 0.5            # s: a second cycle read ahead by more than AGREE within this

    def __init__(self, client):
        lib = jack._lib
        self._ptr = client._ptr
        self._cycle_start = lib.jack_last_frame_time
        self._since = lib.jack_frames_since_cycle_start
        self._frame_time = lib.jack_frame_time
        self.rate = client.samplerate
        self.spf = 1.0 / self.rate
        self._agree = (-int(self.EARLY_SLACK * self.rate), int(self.AGREE * self.rate))
        self._ahead = (None, float("-inf"))     # the latest cycle the loop was ahead in
        self._ahead_before = self._ahead        # ... and the one before it

    def reading(self, _mono=time.monotonic):
        """(monotonic seconds, the frame at that moment)."""
        start, since, ptr = self._cycle_start, self._since, self._ptr
        for _ in range(3):
            f0 = start(ptr)
            s = since(ptr)
            m = _mono()
            smooth = self._frame_time(ptr)
            if start(ptr) == f0:     # no cycle began between the reads
                break
        cycle = (f0 + s) & MASK
        lo, hi = self._agree
        ahead = frames_between(cycle, smooth)
        if lo <= ahead <= hi:
            return m, smooth
        if ahead < lo:
            return m, cycle
        if self._ahead[0] != f0:
            self._ahead_before, self._ahead = self._ahead, (f0, m)
        return m, (cycle if m - self._ahead_before[1] < self.CONFIRM else smooth)

    def to_monotonic(self, frame, reading=None):
        """The monotonic time of a (32-bit) frame; `reading` one taken for a whole batch."""
        m, now = reading or self.reading()
        return m + frames_between(now, int(frame)) * self.spf

    def to_frame(self, t):
        """The (32-bit) frame of a monotonic time."""
        m, now = self.reading()
        return (now + int(round((t - m) * self.rate))) & MASK
