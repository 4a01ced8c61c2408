"""`jazzd generate`: an offline solo over a chord chart, written as a MIDI file (and
a WAV through fluidsynth with --wav). The command-line flags override the config."""

import math
import os
import sys

from jazzd.offline.charts import read_chart
from jazzd.offline.midi_file import write_performance
from jazzd.offline.render import render_wav
from jazzd.offline.solo import generate
from jazzd.service import config as config_mod
from jazzd.service.errors import EX_USAGE, UserError

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


def main(args):
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
