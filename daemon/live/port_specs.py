"""The config's port text: `virtual:NAME`, or part of a peer's name; finding the peer,
and what to say when there is none. Shared by the ALSA and JACK backends."""

from jazzd.service.errors import ConfigError

VIRTUAL = "virtual:"


def parse_spec(spec):
    """`"virtual:NAME"` → (True, NAME); anything else → (False, text to search for)."""
    if spec.startswith(VIRTUAL):
        name = spec[len(VIRTUAL):].strip()
        if not name:
            raise ConfigError(f"bad MIDI port {spec!r}: 'virtual:' needs a name, "
                              f"e.g. 'virtual:jazzd-in'")
        return True, name
    return False, spec


def find_port(names, text, exclude=()):
    """Index of the first name containing `text` (case-insensitive), or None.

    Ports of our own clients (`exclude`: client-name prefixes) never match, so an
    input spec of "jazzd" cannot loop our own output back in.
    """
    want = text.lower()
    for i, name in enumerate(names):
        if any(name.startswith(p + ":") for p in exclude):
            continue
        if want in name.lower():
            return i
    return None


def missing_port_text(direction, spec, backend, names):
    """What to tell the user about a named port that does not exist (yet)."""
    what = "input" if direction == "in" else "output"
    listing = ", ".join(repr(n) for n in names) if names else "none"
    return (f"'midi.{what}': no MIDI {what} port matching {spec!r} on backend {backend}. "
            f"Available {what} ports: {listing}. Use part of one of these names, or "
            f"'virtual:NAME' to create a port that others connect to")
