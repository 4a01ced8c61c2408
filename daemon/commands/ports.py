"""`jazzd ports`: list the MIDI ports a backend can see, as names to put in config.yaml."""

from jazzd.live.midi_io import list_ports


def main(args):
    inputs, outputs = list_ports(args.backend)
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
    return 0
