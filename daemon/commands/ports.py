"""`jazzd ports`: list the MIDI ports a backend can see, as names to put in config.yaml.

jazzd's own virtual ports (a running daemon's `jazzd-in` and `jazzd-out`, or the names
its config gives them) are left out: connecting jazzd to itself only loops its line
back in."""

import os

from jazzd.service import config as config_mod
from jazzd.service.errors import ConfigError, MidiSystemError

VIRTUAL = "virtual:"


def own_clients(cfg):
    """Client names of the virtual ports a jazzd with this config creates."""
    return sorted({spec[len(VIRTUAL):].strip() for spec in
                   (cfg["midi"]["input"], cfg["midi"]["output"])
                   if spec.startswith(VIRTUAL) and spec[len(VIRTUAL):].strip()})


def without_own(names, clients):
    """The port names that are not a port of one of `clients` ("CLIENT:port ...")."""
    return [n for n in names if not any(n.startswith(c + ":") for c in clients)]


def _list(backend):
    if backend == "alsa" and not os.path.exists("/dev/snd/seq"):
        raise MidiSystemError("MIDI backend alsa: the ALSA sequencer is missing "
                              "(/dev/snd/seq does not exist). Load it with `sudo modprobe "
                              "snd-seq`, or list a JACK (or PipeWire JACK) server's ports "
                              "with `jazzd ports --backend jack`")
    from jazzd.live.midi_io import list_ports
    try:
        return list_ports(backend)
    except MidiSystemError as e:
        other = "alsa" if backend == "jack" else "jack"
        raise MidiSystemError(str(e).replace(f"set `midi.backend: {other}`",
                                             f"try `jazzd ports --backend {other}`")
                              .replace("`pw-jack jazzd run`",
                                       "`pw-jack jazzd ports --backend jack`")) from None


def main(args):
    try:
        cfg, _ = config_mod.load_or_default(getattr(args, "config", None))
    except ConfigError:
        if getattr(args, "config", None):
            raise
        cfg = config_mod.defaults()      # a broken ./config.yaml: jazzd's default names
    own = own_clients(cfg)
    inputs, outputs = _list(args.backend)
    inputs, outputs = without_own(inputs, own), without_own(outputs, own)
    print(f"MIDI backend: {args.backend}")
    print("inputs (use in midi.input; jazzd listens to these):")
    for name in inputs:
        print(f"  {name}")
    if not inputs:
        print("  (none)")
    print("outputs (use in midi.output; jazzd plays into these):")
    for name in outputs:
        print(f"  {name}")
    if not outputs:
        print("  (none)")
    print('Any part of a name will do; "virtual:NAME" creates a port of that name instead.')
    if own:
        print(f"(jazzd's own ports, {' and '.join(own)}, are left out.)")
    return 0
