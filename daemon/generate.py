"""`jazzd generate`: an offline solo over a chord chart, written as a MIDI file.

It runs exactly the daemon's improviser path (`daemon.performer.Performer`): one
`next_value` per onset with the LSTM state carried across every bar, and each pitch
realised against the chord at that note's onset. Only the clock differs: here time is
counted in ticks instead of waited for. Same seed, same chart, same settings: the same
bytes.
"""

import math
import os
import shutil
import subprocess
import sys

from daemon import config as config_mod
from daemon.errors import EX_UNAVAILABLE, EX_USAGE, UserError
from grammar.swing import swung_beats

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
              "/usr/share/soundfonts/default.sf2", "/usr/share/sounds/sf2/default-GM.sf2")


def play(performer, timeline, n_bars, swing, gate=0.9):
    """The solo over `n_bars` bars of `timeline` (a ChordTimeline in ticks).

    Returns [(onset_beats, duration_beats, pitch, velocity)], onsets swung. The loop is
    the daemon's: ask for the value at this onset, realise it against the chord now,
    advance by its length.
    """
    bar_ticks = performer.bar_ticks
    end = n_bars * bar_ticks
    notes = []
    tick = 0
    while tick < end:
        bar_tick = tick % bar_ticks
        chord = timeline.at(tick)
        value = performer.next_value(bar_tick, chord)
        pitch = performer.realize(value, chord, bar_tick)
        if pitch is not None:
            on = swung_beats(tick, swing)
            length = swung_beats(tick + value.ticks, swing) - on
            notes.append((on, gate * length, pitch, performer.velocity(bar_tick)))
        tick += value.ticks
    return notes


def voicing(chord):
    """A block voicing: the bass (slash bass or root) in octave 2, the chord tones
    stacked inside E3..Eb4."""
    if not chord:
        return []
    bass = chord.bass if chord.bass is not None else chord.root
    notes = [36 + (bass - 36) % 12]
    notes += sorted(52 + (pc - 52) % 12 for pc in range(12) if chord.tones >> pc & 1)
    return notes


def chord_track(timeline, n_bars, bar_ticks, swing):
    """[(onset_beats, duration_beats, pitches, velocity)]: each chart entry struck until
    the next one (a chord restruck in the next bar is struck again)."""
    end = n_bars * bar_ticks
    entries = [(t, c) for t, c in timeline if t < end]
    out = []
    for i, (t, c) in enumerate(entries):
        nxt = entries[i + 1][0] if i + 1 < len(entries) else end
        pitches = voicing(c)
        if pitches:
            on = swung_beats(t, swing)
            out.append((on, swung_beats(nxt, swing) - on - 0.05, pitches, 72))
    return out


def read_chart(text, beats_per_bar):
    """A Chart from chart text, or from a file when `text` names one (lines starting
    with "#" are comments)."""
    from grammar.chart import ChartError, parse_chart
    where = "chord chart"
    if os.path.isfile(text):
        where = text
        try:
            with open(text, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"cannot read chart file {where}: {e}") from None
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    try:
        return parse_chart(text, beats_per_bar)
    except ChartError as e:
        raise UserError(f"{where}: {e}") from None


_FLAGS = (("swing", "tempo", "swing"), ("bpm", "tempo", "bpm"),
          ("temperature", "improviser", "temperature"),
          ("lowest_note", "improviser", "lowest_note"),
          ("highest_note", "improviser", "highest_note"),
          ("model", "improviser", "model"), ("seed", "improviser", "seed"))


def settings(args):
    """The validated config with the command-line flags applied on top; a bad flag is
    named as the flag (e.g. "--swing 0.9: allowed: a number from 0.5 to 0.75")."""
    cfg, _ = config_mod.load_or_default(getattr(args, "config", None))
    for attr, sec, key in _FLAGS:
        v = getattr(args, attr, None)
        if v is None:
            continue
        spec = config_mod.SCHEMA[sec][key]
        flag = "--" + attr.replace("_", "-")
        try:
            cfg[sec][key] = spec.check(v)
        except (ValueError, TypeError):
            raise UserError(f"{flag} {v}: allowed: {spec.allowed}", status=EX_USAGE) from None
    lo, hi = cfg["improviser"]["lowest_note"], cfg["improviser"]["highest_note"]
    if lo + 12 > hi:
        raise UserError(f"the register --lowest-note {lo} .. --highest-note {hi} must span "
                        f"at least an octave", status=EX_USAGE)
    return config_mod.validate(cfg, source="settings")


def generate(cfg, chart, n_bars, seed=None, model=None):
    """(solo notes, chord notes, performer) for `n_bars` of `chart` under `cfg`."""
    from daemon.performer import Performer, load_performer
    perf = (Performer(model, cfg, seed=seed) if model is not None
            else load_performer(cfg, seed=seed))
    timeline = chart.timeline(n_bars)
    swing = cfg["tempo"]["swing"]
    solo = play(perf, timeline, n_bars, swing, cfg["improviser"]["gate"])
    chords = chord_track(timeline, n_bars, chart.bar_ticks, swing)
    return solo, chords, perf


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
    if r.returncode != 0 or not os.path.isfile(wav_path):
        msg = (r.stderr or r.stdout).strip().splitlines()
        raise UserError(f"fluidsynth could not render {wav_path}: "
                        f"{msg[-1] if msg else 'exit status %d' % r.returncode}",
                        status=EX_UNAVAILABLE)


def main(args):
    from daemon.midi_file import write_performance
    cfg = settings(args)
    bpb = cfg["tempo"]["beats_per_bar"]
    chart = read_chart(args.chords, bpb)
    n_bars = len(chart) if args.bars is None else args.bars
    if n_bars < 1 or n_bars > 10000:
        raise UserError(f"--bars {args.bars}: allowed: an integer from 1 to 10000",
                        status=EX_USAGE)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise UserError(f"cannot write {args.out}: directory {out_dir} does not exist")
    solo, chords, perf = generate(cfg, chart, n_bars)
    ch = cfg["midi"]["output_channel"] - 1
    chord_ch = (ch + 1) % 16
    if chord_ch == 9:          # keep the chords off the General MIDI drum channel
        chord_ch = 10
    swing = cfg["tempo"]["swing"]
    write_performance(args.out, [(o, d, p, v) for o, d, p, v in solo], chords,
                      cfg["tempo"]["bpm"], bpb, solo_channel=ch, chord_channel=chord_ch,
                      info={"swing": swing, "seed": perf.seed, "bars": n_bars})
    beats = n_bars * bpb
    print(f"{args.out}: {len(solo)} notes over {n_bars} bars ({beats} beats, "
          f"{math.ceil(beats * 60 / cfg['tempo']['bpm'])} s at {cfg['tempo']['bpm']:g} bpm), "
          f"seed {perf.seed}", file=sys.stdout)
    if args.wav:
        render_wav(args.out, args.wav)
        print(f"{args.wav}: rendered with fluidsynth", file=sys.stdout)
    return 0
