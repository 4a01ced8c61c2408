"""SIGTERM, SIGINT and SIGHUP taken by a thread of their own, so a stop is never missed.

A Python signal handler runs only in the main thread, between bytecodes: while the main
thread waits inside a C call (libjack answering slowly on a loaded server, say), a
SIGTERM is not even seen, and systemd kills the process at TimeoutStopSec with a note
still sounding. A CI rehearsal once saw `jazzd run` ignore a SIGTERM for 10 s. So these
signals are blocked in every thread (`block()`, before any thread starts: threads
inherit the mask, libjack's and rtmidi's too) and taken with `sigwait` by
`SignalThread`, which tells the daemon at once. If a stop has not finished
STOP_DEADLINE seconds after it was asked for, the thread prints every thread's stack
(where it hung), silences what it can within a second and ends the process with
status 70.
"""

import faulthandler
import logging
import os
import signal
import sys
import threading
import time

from jazzd.service.errors import EX_SOFTWARE

log = logging.getLogger("jazzd.signals")

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_DEADLINE = 5.0     # s from a stop signal to the end of the process, at most
SILENCE_WAIT = 1.0      # s the last-resort silence may take (it may be stuck too)
DELIVERY_WAIT = 0.1     # s for its messages to leave (JACK: the next period; a CI
                        # rehearsal lost the note-off of an exit right after the send)


def block():
    """Block SIGNALS in the calling thread and every thread it starts from now on."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)


class SignalThread(threading.Thread):
    """Waits for SIGNALS: `on_hup()` for SIGHUP, `on_stop(name)` for the others. After a
    stop, `finished()` must come within `deadline` seconds, or `silence()` is tried
    and the process exits 70 (see the module docstring)."""

    def __init__(self, on_stop, on_hup, silence, deadline=STOP_DEADLINE):
        super().__init__(name="signals", daemon=True)
        self.on_stop, self.on_hup, self.silence = on_stop, on_hup, silence
        self.deadline = deadline
        self._done = threading.Event()

    def finished(self):
        """The stop is done: the process is about to exit by itself."""
        self._done.set()

    def run(self):
        while True:
            sig = signal.sigwait(SIGNALS)
            if sig == signal.SIGHUP:
                self.on_hup()
                continue
            self.on_stop(signal.Signals(sig).name)
            break
        if self._done.wait(self.deadline):
            return
        log.error("the stop did not finish in %.0f s: silencing and exiting; every "
                  "thread's stack follows", self.deadline)
        for h in logging.getLogger().handlers:
            h.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        quiet = threading.Thread(target=self.silence, name="last-silence", daemon=True)
        quiet.start()
        quiet.join(SILENCE_WAIT)
        time.sleep(DELIVERY_WAIT)   # the note-offs leave at the output's next cycle
        sys.stderr.flush()
        os._exit(EX_SOFTWARE)
