"""`jazzd generate`: an offline solo over a chord chart, written as a MIDI file (and
a WAV through fluidsynth with --wav). The command-line flags override the config.

With `--trade N --call PLAYER.mid` it trades: turns of N bars alternate, the player's
taken from the file (and heard by the network), jazzd's improvised; the file gets
jazzd's line, the player's and the chords on three channels."""

import math
import os
import sys

from jazzd.offline.charts import read_chart
from jazzd.offline.midi_file import open_midi, read_notes, write_performance
from jazzd.offline.render import render_wav
from jazzd.offline.solo import generate, generate_trade
from jazzd.service import config as config_mod
from jazzd.service.errors import EX_NOINPUT, EX_USAGE, UserError

_FLAGS = (("swing", "tempo", "swing"), ("bpm", "tempo", "bpm"),
          ("beats_per_bar", "tempo", "beats_per_bar"),
          ("temperature", "improviser", "temperature"),
          ("lowest_note", "improviser", "lowest_note"),
          ("highest_note", "improviser", "highest_note"),
          ("model", "improviser", "model"), ("seed", "improviser", "seed"),
          ("trade", "interplay", "trade_bars"), ("first", "interplay", "first"),
          ("echo", "interplay", "echo"))


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


def check_flags(args):
    """What the flags need of each other and of the file system, checked before
    anything is written."""
    trading = getattr(args, "trade", None) is not None
    if trading != (getattr(args, "call", None) is not None):
        raise UserError("--trade and --call go together: --trade N --call PLAYER.mid",
                        status=EX_USAGE)
    if not trading:
        alone = [f for f, a in (("--first", "first"), ("--echo", "echo"),
                                ("--call-track", "call_track"))
                 if getattr(args, a, None) is not None]
        if alone:
            raise UserError(f"{' and '.join(alone)} {'is' if len(alone) == 1 else 'are'} "
                            f"for trading: add --trade N --call PLAYER.mid, or leave "
                            f"{'it' if len(alone) == 1 else 'them'} out", status=EX_USAGE)
    if getattr(args, "soundfont", None) is not None:
        if not getattr(args, "wav", None):
            raise UserError("--soundfont goes with --wav FILE.wav", status=EX_USAGE)
        if not os.path.isfile(args.soundfont):
            raise UserError(f"--soundfont {args.soundfont}: no such file",
                            status=EX_NOINPUT)
    for flag, path in (("--out", args.out), ("--wav", getattr(args, "wav", None))):
        if path is None:
            continue
        out_dir = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(out_dir):
            raise UserError(f"cannot write {path} ({flag}): directory {out_dir} does not "
                            f"exist")
    return trading


def main(args):
    trading = check_flags(args)
    cfg = settings(args)
    bpb = cfg["tempo"]["beats_per_bar"]
    chart = read_chart(args.chords, bpb)
    n_bars = len(chart) if args.bars is None else args.bars
    if n_bars < 1 or n_bars > 10000:
        raise UserError(f"--bars {args.bars}: allowed: an integer from 1 to 10000",
                        status=EX_USAGE)
    ch = cfg["midi"]["output_channel"] - 1
    chord_ch = _free_channel(ch, ())
    swing = cfg["tempo"]["swing"]
    info = {"swing": swing}
    extra = []
    if trading:
        call, _, track = read_notes(open_midi(args.call), getattr(args, "call_track", None))
        solo, chords, perf, heard = generate_trade(cfg, chart, n_bars, call)
        player_ch = _free_channel(chord_ch, (ch,))
        extra.append(("player", [(o, d, p, 90) for o, d, p in heard], player_ch, 65))
        info.update(trade=cfg["interplay"]["trade_bars"], first=cfg["interplay"]["first"])
    else:
        solo, chords, perf = generate(cfg, chart, n_bars)
    info.update(seed=perf.seed, bars=n_bars)
    write_performance(args.out, [(o, d, p, v) for o, d, p, v in solo], chords,
                      cfg["tempo"]["bpm"], bpb, solo_channel=ch, chord_channel=chord_ch,
                      info=info, extra=extra, solo_program=cfg["midi"]["program"])
    beats = n_bars * bpb
    traded = (f"; traded {cfg['interplay']['trade_bars']} bars a turn, "
              f"{len(extra[0][1])} notes of the player's from {args.call} (track "
              f"{track}) on channel {extra[0][2] + 1}") if trading else ""
    print(f"{args.out}: {len(solo)} notes over {n_bars} bars ({beats} beats, "
          f"{math.ceil(beats * 60 / cfg['tempo']['bpm'])} s at {cfg['tempo']['bpm']:g} bpm), "
          f"seed {perf.seed}{traded}", file=sys.stdout)
    if args.wav:
        render_wav(args.out, args.wav, soundfont=getattr(args, "soundfont", None))
        print(f"{args.wav}: rendered with fluidsynth", file=sys.stdout)
    return 0


def _free_channel(after, taken):
    """The next channel (0-based) after `after` that is not taken, nor the General MIDI
    drum channel (10, 0-based 9)."""
    ch = after
    while True:
        ch = (ch + 1) % 16
        if ch != 9 and ch not in taken and ch != after:
            return ch
