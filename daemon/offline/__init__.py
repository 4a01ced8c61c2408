"""Performances as files: chord charts in, solos out as standard MIDI files (and WAV
through fluidsynth), read back for evaluation. Shared by generate, evaluate and bench."""
