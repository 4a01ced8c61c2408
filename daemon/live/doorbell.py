"""A pipe that wakes a sleeping thread: the MIDI inputs ring it, the dispatcher sleeps
on it (`select`), so nothing polls. Ringing is one `write` of a byte, at most once
between two clears: cheap enough for JACK's process callback."""

import os


class Doorbell:
    """A non-blocking pipe that wakes the thread waiting on `fileno()`."""

    def __init__(self):
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        self.rung = False

    def ring(self):
        if not self.rung:
            self.rung = True
            try:
                os.write(self._w, b"\0")
            except OSError:
                pass

    def clear(self):
        self.rung = False
        try:
            while os.read(self._r, 4096):
                pass
        except OSError:
            pass

    def fileno(self):
        return self._r

    def close(self):
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
