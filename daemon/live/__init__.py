"""The live pipeline: MIDI in → dispatcher → chord listener / clock / controls →
improviser → scheduler → MIDI out, and the daemon that wires and runs them."""
