"""The JACK server's frames and the daemon's `time.monotonic()`, one reading at a time.

Time is the audio clock's: the bridge processes stamp what they hear with its frame and
write what they play at its frame, and only the daemon's own process converts. Each
conversion reads the server's frame counter afresh (`jack_frame_time`, the same shared
timer every client of the server reads), bracketed by two reads so that a thread
preempted in between does not skew it. No map is kept: when the audio clock slips
against the monotonic one (a dummy driver re-anchoring after an xrun, a sound card's
drift), the next conversion follows at once, and frames stay exact between clients.

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

    BRACKET = 2              # frames: a reading whose two frame reads differ more is redone

    def __init__(self, client):
        self._ptr = client._ptr
        self._frame_time = jack._lib.jack_frame_time
        self.rate = client.samplerate
        self.spf = 1.0 / self.rate

    def reading(self, _mono=time.monotonic):
        """(monotonic seconds, the frame at that moment)."""
        ft, ptr = self._frame_time, self._ptr
        for _ in range(3):
            f0 = ft(ptr)
            m = _mono()
            f1 = ft(ptr)
            d = (f1 - f0) & MASK
            if d <= self.BRACKET:
                break
        return m, (f0 + (d >> 1)) & MASK

    def to_monotonic(self, frame, reading=None):
        """The monotonic time of a (32-bit) frame; `reading` one taken for a whole batch."""
        m, now = reading or self.reading()
        return m + frames_between(now, int(frame)) * self.spf

    def to_frame(self, t):
        """The (32-bit) frame of a monotonic time."""
        m, now = self.reading()
        return (now + int(round((t - m) * self.rate))) & MASK
