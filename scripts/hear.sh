#!/usr/bin/env bash
# Hear jazzd with no MIDI set-up at all: set up .venv (once), improvise a solo over a
# standard with the shipped model, render it to solo.wav with fluidsynth and the
# General MIDI soundfont, and play it if an audio player is there.
#
#   scripts/hear.sh                                   # Autumn Leaves at 150 bpm
#   scripts/hear.sh docs/charts/blue-bossa.txt --bpm 130 --seed 7
#
# The first argument, if it does not start with "-", is the chart (docs/CHARTS.md);
# the rest go to `jazzd generate` (see `.venv/bin/jazzd generate --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
chart="docs/charts/autumn-leaves.txt"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then chart="$1"; shift; fi
sudo_cmd=""
[ "$(id -u)" = 0 ] || sudo_cmd="sudo"

soundfont=""
for sf in ${JAZZD_SOUNDFONT:-} /usr/share/sounds/sf2/FluidR3_GM.sf2 \
          /usr/share/soundfonts/FluidR3_GM.sf2 /usr/share/soundfonts/default.sf2; do
    [ -f "$sf" ] && { soundfont="$sf"; break; }
done
if ! command -v fluidsynth >/dev/null || [ -z "$soundfont" ]; then
    echo "hear: installing fluidsynth and fluid-soundfont-gm (apt-get)" >&2
    $sudo_cmd apt-get install -y -q fluidsynth fluid-soundfont-gm >/dev/null
fi
bash scripts/setup-venv.sh
.venv/bin/jazzd generate --chords "$chart" --bpm 150 --out solo.mid --wav solo.wav "$@"

# Play it with the first player there is (PipeWire, PulseAudio, ALSA, ffmpeg, sox).
for player in pw-play paplay aplay ffplay play; do
    command -v "$player" >/dev/null || continue
    case "$player" in
        ffplay) args=(-nodisp -autoexit -loglevel error) ;;
        play|aplay) args=(-q) ;;
        *) args=() ;;
    esac
    echo "hear: playing solo.wav with $player (Ctrl-C stops it)" >&2
    if "$player" "${args[@]}" solo.wav 2>/dev/null; then exit 0; fi
    echo "hear: $player could not play it (no sound device?)" >&2
    break
done
echo "hear: open $(pwd)/solo.wav in any audio player" >&2
