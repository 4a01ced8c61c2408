"""Where JACK clients of a server that has gone away are kept, never touched again."""

# Clients of a JACK server that has gone away, kept here and never touched again.
# libjack (JACK2, to 1.9.22 at least) frees every client of the process the next time
# any client is opened while the server is down ("Jack server was closed but clients
# are still allocated, cleanup..."); closing such a client afterwards
# (jack_client_close) is a use after free. So a dead server's clients are neither
# closed nor deleted, here or at interpreter exit: a few KB per server restart.
GRAVEYARD = []


def bury(obj):
    """Keep `obj` (a JACK client or JackWatch of a dead server) for ever: referenced
    here, and with one reference that is never released, so that not even the
    interpreter's finalisation runs its destructor (which would call into libjack)."""
    import ctypes
    GRAVEYARD.append(obj)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
