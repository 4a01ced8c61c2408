#!/usr/bin/env bash
# Set up .venv (once) and start the daemon in the foreground on the shipped default
# model, with ./config.yaml. Extra arguments go to `jazzd run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh

# The one thing a fresh machine most often lacks: the ALSA sequencer (containers, some
# cloud and WSL machines). Say what to do instead of starting a daemon that cannot
# open a MIDI port. (A config that names another backend, or another --config, is
# left to `jazzd run`, whose errors say the same for JACK.)
backend=$(.venv/bin/python -c 'from jazzd.service.config import load_or_default
print(load_or_default("config.yaml")[0]["midi"]["backend"])' 2>/dev/null || echo unknown)
if [ "$backend" = alsa ] && [ ! -e /dev/snd/seq ] && [[ " $* " != *" --config"* ]]; then
    cat >&2 <<'MSG'
start: no ALSA sequencer on this machine (/dev/snd/seq is missing), and config.yaml
has midi.backend: alsa, so jazzd cannot open its MIDI ports. Next:
  - load it:          sudo modprobe snd-seq   (then run scripts/start.sh again)
  - or use JACK or PipeWire: set `backend: jack` under midi: in config.yaml
    (README.md, "Play with it"; a JACK server with no sound card: docs/LIVE.md,
    "Without hardware")
  - or hear jazzd with no MIDI system at all, rendered to a WAV file:
      scripts/hear.sh
      .venv/bin/jazzd generate --chords docs/charts/autumn-leaves.txt --out solo.mid --wav solo.wav
MSG
    exit 69
fi
exec .venv/bin/jazzd run --config config.yaml "$@"
