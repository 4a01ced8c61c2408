"""Are our JACK clients still run by the server? A watch client beside rtmidi's.

Two ways a JACK client of ours falls silent without any error from rtmidi:

- libjack's wake-up race (JACK2, to 1.9.22 at least): libjack keeps one table of
  wake-up futexes per process, and a client that is still connecting skips the
  "client removed" notice that would unmap a leaving client's futex. If the process
  has no other client yet, the mapping stays; the next client of the process that the
  server gives the same number waits on that deleted futex for ever. Its process
  callback never runs, its ports exist and stay connected, and everything sent to it
  stays in rtmidi's buffer. The server, meanwhile, logs "client ... was not finished"
  every cycle and takes half a second (its client timeout) over every graph change,
  so opening and closing clients gets slow. /proc/self/maps shows the futex as
  "(deleted)": `stale_futexes`.
- the server went away (stopped, crashed, restarted): libjack calls the client's
  shutdown callback, which rtmidi does not set and the watch client does.

The watch client is opened in the same libjack as our ports' control clients
(jack_midi), first; it is never activated, so the server never waits for it. Through
it we also read the JACK period and our ports' connections.
"""

import ctypes
import ctypes.util
import logging
import os
import time

log = logging.getLogger("jazzd.jack")

MAPS = "/proc/self/maps"
_NO_START_SERVER = 0x01
_SHUTDOWN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def stale_futexes(maps=MAPS):
    """{(name, inode)} of the JACK2 wake-up futexes this process maps that the server
    has deleted. One seen once may be a client leaving right now (libjack unmaps it
    a moment after the server deletes it); one still there at the next look, same
    inode, is stale (names repeat: every `jack_lsp` is "lsp")."""
    found = set()
    try:
        with open(maps) as f:
            for line in f:
                if "/jack_sem." in line and line.rstrip().endswith("(deleted)"):
                    fields = line.split()
                    found.add((line.split("/jack_sem.", 1)[1].split()[0], fields[4]))
    except OSError:
        pass
    return found


def names(futexes):
    return ", ".join(sorted(name for name, _ in futexes))


def _loaded_libjack(maps=MAPS):
    """Path of the libjack already loaded into this process (by rtmidi), or None."""
    try:
        with open(maps) as f:
            for line in f:
                path = line.split(None, 5)[-1].strip()
                if os.path.basename(path).startswith("libjack") and ".so" in path:
                    return path
    except OSError:
        pass
    return None


def _library():
    """The libjack our ports use (JACK-Client's: the one the dynamic linker finds as
    libjack.so.0, so `pw-jack` gives PipeWire's; dlopen of a loaded library shares its
    state)."""
    try:
        lib = ctypes.CDLL("libjack.so.0")
    except OSError:
        lib = ctypes.CDLL(_loaded_libjack() or ctypes.util.find_library("jack")
                          or "libjack.so.0")
    lib.jack_client_open.restype = ctypes.c_void_p
    lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int,
                                     ctypes.POINTER(ctypes.c_int)]
    for f in (lib.jack_get_buffer_size, lib.jack_get_sample_rate, lib.jack_client_close):
        f.argtypes = [ctypes.c_void_p]
    lib.jack_on_shutdown.argtypes = [ctypes.c_void_p, _SHUTDOWN, ctypes.c_void_p]
    lib.jack_on_shutdown.restype = None
    lib.jack_port_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.jack_port_by_name.restype = ctypes.c_void_p
    lib.jack_port_get_all_connections.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.jack_port_get_all_connections.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.jack_free.argtypes = [ctypes.c_void_p]
    lib.jack_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    return lib


class JackWatch:
    """An inactive JACK client that notices the server going away.

    `open()` returns None when there is no libjack or no server. The shutdown
    callback runs on libjack's notification thread and only sets a flag.
    """

    def __init__(self, lib, client, name):
        self._lib = lib
        self._client = client
        self.name = name
        self.server_gone = False
        self._on_shutdown = _SHUTDOWN(self._shut_down)     # kept: libjack holds it
        lib.jack_on_shutdown(client, self._on_shutdown, None)

    @classmethod
    def open(cls, name="jazzd-watch"):
        from jazzd.live.midi_io import _QuietStderr
        try:
            lib = _library()
            status = ctypes.c_int(0)
            with _QuietStderr():
                client = lib.jack_client_open(name.encode(), _NO_START_SERVER,
                                              ctypes.byref(status))
        except (OSError, AttributeError):
            return None
        if not client:
            return None
        return cls(lib, client, name)

    def _shut_down(self, _arg):
        self.server_gone = True

    def period(self):
        """One JACK period in seconds (buffer size / sample rate), or None."""
        frames = self._lib.jack_get_buffer_size(self._client)
        rate = self._lib.jack_get_sample_rate(self._client)
        return frames / rate if frames > 0 and rate > 0 else None

    def missing(self, ports):
        """Those of `ports` (full names) the server does not know."""
        return [p for p in ports if not self._lib.jack_port_by_name(self._client,
                                                                    p.encode())]

    def connections(self, port):
        """Full names of the ports connected to `port`."""
        lib = self._lib
        handle = lib.jack_port_by_name(self._client, port.encode())
        if not handle:
            return []
        names = lib.jack_port_get_all_connections(self._client, handle)
        if not names:
            return []
        out = []
        i = 0
        while names[i] is not None:
            out.append(names[i].decode("utf-8", "replace"))
            i += 1
        lib.jack_free(ctypes.cast(names, ctypes.c_void_p))
        return out

    def connect(self, source, destination):
        return self._lib.jack_connect(self._client, source.encode(),
                                      destination.encode()) == 0

    def close(self):
        """Close the client; once the server has shut it down, bury it instead (libjack
        may already have freed it: see graveyard.GRAVEYARD)."""
        client, self._client = self._client, None
        if not client:
            return
        if self.server_gone:
            from jazzd.live.graveyard import bury
            bury(self)                  # and with it the callback libjack holds
            return
        self._lib.jack_client_close(client)


def open_watch(tries=5):
    """The watch client, opened so that no futex of this process is stale: if one
    is (a client left the server while the watch connected), close and try again.
    Closing the process's only client resets libjack's table."""
    for _ in range(tries):
        watch = JackWatch.open()
        if watch is None:
            return None
        stale = stale_futexes()
        if stale:
            time.sleep(0.02)
            stale &= stale_futexes()
        if not stale:
            return watch
        log.info("JACK: a client left the server while ours connected, and libjack "
                 "kept its wake-up futex (%s); connecting again", names(stale))
        watch.close()
    return JackWatch.open()
