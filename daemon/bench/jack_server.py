"""A private JACK server with the dummy driver, for the bench's live sections and the
test suite: one launcher, so both measure the daemon under the same kind of server.

    JACK_NO_AUDIO_RESERVATION=1 jackd [-R -P 70 | --no-realtime] [-S] -n NAME \
        -d dummy -r 48000 -p 64

Clients reach it with JACK_DEFAULT_SERVER=NAME (`env`, and `os.environ` while it runs).
"""

import os
import shutil
import signal
import subprocess
import time
import uuid

REALTIME = ("-R", "-P", "70")
NO_REALTIME = ("--no-realtime",)


class JackUnavailable(Exception):
    """jackd is missing or would not start; the text says which, with its log's tail."""


class JackServer:
    """Start `jackd` in the first of `modes` that works (e.g. realtime, where the
    machine allows it, then not); `sync` adds -S (synchronous mode). `stop()` and
    `start()` restart it under the same name (clients lose it meanwhile); `close()`
    stops it for good. With `set_env` it is this process's JACK_DEFAULT_SERVER while
    it runs (close() restores the old value)."""

    def __init__(self, logfile, prefix="jazzd", modes=(NO_REALTIME,), sync=False,
                 period=64, set_env=True):
        self.jackd = shutil.which("jackd")
        if self.jackd is None:
            raise JackUnavailable("jackd is not installed (Debian: apt install jackd2)")
        self.name = self._free_name(prefix)
        self.env = dict(os.environ, JACK_DEFAULT_SERVER=self.name,
                        JACK_NO_AUDIO_RESERVATION="1")
        self.log = str(logfile)
        self.modes, self.sync, self.period = modes, sync, period
        self.proc = None
        self.mode = None
        self.start()
        if set_env:
            self._saved = os.environ.get("JACK_DEFAULT_SERVER")
            os.environ["JACK_DEFAULT_SERVER"] = self.name   # this process's clients

    @staticmethod
    def _free_name(prefix):
        """The first of PREFIX-0 … PREFIX-7 that no running server has.

        libjack registers every server in one table of 8 slots (/dev/shm/
        jack-shm-registry) and frees a dead server's slot only when a server of the
        same name starts: names unique per run (pid and a random part, as before)
        leaked a slot at every jackd that did not exit cleanly, until no server
        could start ("Too many servers already active"; seen here after a day of
        killed runs). Reused names take their slots back."""
        lsp = shutil.which("jack_lsp")
        for k in range(8 if lsp else 0):
            name = f"{prefix}-{k}"
            env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
            r = subprocess.run([lsp], env=env, capture_output=True, timeout=10)
            if r.returncode != 0:                   # nobody serves under this name
                return name
        return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"   # no way to tell

    def start(self):
        extra = ["-S"] if self.sync else []
        for mode in self.modes:
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    [self.jackd, *mode, *extra, "-n", self.name, "-d", "dummy", "-r",
                     "48000", "-p", str(self.period)], env=self.env, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait(10.0):
                self.mode = " ".join(list(mode) + extra)
                return
            self.stop()
        with open(self.log, errors="replace") as f:
            tail = f.read()[-2000:].strip()
        raise JackUnavailable(f"jackd did not start: {tail}")

    def _wait(self, timeout):
        lsp = shutil.which("jack_lsp")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if lsp is None:
                time.sleep(1.0)
                return True
            r = subprocess.run([lsp], env=self.env, capture_output=True, timeout=5)
            if r.returncode == 0 and b"system:" in r.stdout:
                return True
            time.sleep(0.05)
        return False

    def xruns(self):
        """Lines in the server's log that tell of a late client or an xrun."""
        try:
            with open(self.log, errors="replace") as f:
                text = f.read()
        except OSError:
            return 0
        return text.count("was not finished") + text.count("XRun")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self):
        if getattr(self, "_saved", 0) != 0:
            if self._saved is None:
                os.environ.pop("JACK_DEFAULT_SERVER", None)
            else:
                os.environ["JACK_DEFAULT_SERVER"] = self._saved
            del self._saved
        self.stop()
