"""Rendering a MIDI file to WAV with the fluidsynth program (optional: Debian's
fluidsynth and fluid-soundfont-gm), for listening to offline solos."""

import os
import shutil
import subprocess

from jazzd.service.errors import EX_DATAERR, EX_UNAVAILABLE, UserError

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
              "/usr/share/soundfonts/default.sf2", "/usr/share/sounds/sf2/default-GM.sf2")


def render_wav(mid_path, wav_path, soundfont=None):
    """Render a MIDI file to WAV with the fluidsynth program."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise UserError(f"cannot render {wav_path}: the fluidsynth program is not installed "
                        f"(Debian: apt install fluidsynth fluid-soundfont-gm); the MIDI file "
                        f"{mid_path} was written", status=EX_UNAVAILABLE)
    sf = soundfont or os.environ.get("JAZZD_SOUNDFONT") or next(
        (p for p in SOUNDFONTS if os.path.isfile(p)), None)
    if sf is None or not os.path.isfile(sf):
        raise UserError(f"cannot render {wav_path}: no General MIDI soundfont found "
                        f"(looked in {', '.join(SOUNDFONTS)}; set JAZZD_SOUNDFONT); the MIDI "
                        f"file {mid_path} was written", status=EX_UNAVAILABLE)
    try:
        r = subprocess.run([exe, "-ni", "-q", "-g", "0.6", "-r", "44100", "-F", wav_path,
                            sf, mid_path], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError(f"fluidsynth failed: {e}", status=EX_UNAVAILABLE) from None
    if "failed to load" in (r.stderr + r.stdout).lower():
        # fluidsynth carries on without it and writes silence: not a WAV worth keeping
        if os.path.isfile(wav_path):
            os.remove(wav_path)
        raise UserError(f"fluidsynth could not load the soundfont {sf} (not a SoundFont "
                        f"2 file?); the MIDI file {mid_path} was written", status=EX_DATAERR)
    if r.returncode != 0 or not os.path.isfile(wav_path):
        msg = (r.stderr or r.stdout).strip().splitlines()
        raise UserError(f"fluidsynth could not render {wav_path}: "
                        f"{msg[-1] if msg else 'exit status %d' % r.returncode}",
                        status=EX_UNAVAILABLE)
