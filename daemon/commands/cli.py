"""The `jazzd` command line: one subcommand per job, each in its own module of
`jazzd.commands` (run, ports, check_config, chord, train, generate, evaluate, bench).

Subcommand modules are imported only when their command runs, so `jazzd chord` and
`jazzd run` never pay for TensorFlow or music21. A `UserError` becomes a one-line
message on stderr and its exit status; anything else is a bug and shows a traceback.
"""

import argparse
import importlib
import sys

from jazzd import __version__
from jazzd.service.errors import EX_USAGE, UserError


def _add_run(sub):
    p = sub.add_parser("run", help="run the daemon (listen for chords, improvise, play)")
    p.add_argument("--config", metavar="FILE", help="config file (default: config.yaml "
                   "in the current directory if present, else built-in defaults)")
    p.add_argument("--debug-freeze-file", metavar="FILE", help=argparse.SUPPRESS)
    p.add_argument("--debug-crash-file", metavar="FILE", help=argparse.SUPPRESS)
    p.add_argument("--debug-hang-file", metavar="FILE", help=argparse.SUPPRESS)
    p.set_defaults(module="run")


def _add_ports(sub):
    p = sub.add_parser("ports", help="list MIDI input and output ports")
    p.add_argument("--backend", choices=["alsa", "jack"], default="alsa",
                   help="the MIDI system to ask: alsa (the ALSA sequencer) or jack (a JACK "
                        "server, or PipeWire's JACK; default: alsa)")
    p.add_argument("--config", metavar="FILE",
                   help="leave out the ports of the jazzd this config describes (default: "
                        "config.yaml in the current directory if present, else jazzd-in "
                        "and jazzd-out)")
    p.set_defaults(module="ports")


def _add_check_config(sub):
    p = sub.add_parser("check-config", help="validate a config file and load its model, "
                                            "without starting")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(module="check_config")


def _add_chord(sub):
    p = sub.add_parser("chord", help="name the chord of MIDI note numbers, or spell a symbol")
    p.add_argument("notes", nargs="*", metavar="NOTE", help="MIDI note numbers 0-127")
    p.add_argument("--symbol", metavar="FIG",
                   help="print the notes of a chord symbol as names, bass first, then "
                        "upward from the root (Bbmaj7 -> 'Bb D F A'; N.C. -> 'N.C.')")
    p.add_argument("--batch", action="store_true",
                   help="read one query per line from stdin (note numbers, or "
                        "'--symbol FIG'), write one answer per line ('error: ...' for a "
                        "bad one; exit status 65 if any was bad)")
    p.set_defaults(module="chord")


def _add_train(sub):
    p = sub.add_parser("train", help="train a model directory from a corpus (needs the "
                                     "train extra: scripts/setup-venv.sh train)")
    p.add_argument("--corpus", default="bach",
                   help="'wjazzd:DIR' (or a directory holding) the Weimar Jazz Database "
                        "CSV export, 'bach' (music21's chorales), or a directory or file "
                        "list of MusicXML/ABC/MIDI files (default: bach)")
    p.add_argument("--out", required=True, metavar="DIR", help="model directory to write")
    p.add_argument("--cell", default="lstm",
                   help="lstm, gru or conv (dilated causal convolutions); several, comma "
                        "separated, are trained on the same split and the best is kept "
                        "(default: lstm)")
    p.add_argument("--hold-out", type=int, default=12, metavar="N",
                   help="Weimar Jazz Database: players left out of training for the "
                        "style gap (default 12; 0 = none)")
    p.add_argument("--limit", type=int, default=None, help="use at most this many pieces")
    p.add_argument("--epochs", type=int, default=None,
                   help="at most this many epochs (early stopping ends sooner; default 40)")
    p.add_argument("--units", type=int, default=None, help="cell units (default 128)")
    p.add_argument("--window", type=int, default=None,
                   help="training window in values (default 32)")
    p.add_argument("--dropout", type=float, default=None,
                   help="dropout while training, 0-0.9 (default 0.2)")
    p.add_argument("--min-count", type=int, default=None,
                   help="durations seen fewer times map to the nearest frequent one "
                        "(default 3)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=None, help="music21 extraction processes")
    p.add_argument("--melody", default=None, help="MIDI: melody part index or name")
    p.add_argument("--harmony", default=None,
                   help="MIDI: comma-separated harmony part indices or names")
    p.add_argument("--range", dest="offset_range", default=None, metavar="START:END",
                   help="MIDI: quarter-note offset range to use")
    p.add_argument("--harmony-method", default=None,
                   choices=["lower-onset", "lower-hold", "all-beat", "all-onset"],
                   help="how chords are taken from the accompanying parts "
                        "(default: lower-hold; see docs/MODEL.md)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(module="train")


def _add_generate(sub):
    p = sub.add_parser("generate", help="improvise offline over a chord chart into a MIDI file "
                                        "(and a WAV)")
    p.add_argument("--chords", required=True, metavar="CHART",
                   help='a chart such as "Dm7 G7 | Cmaj7 |", or a file holding one, looped '
                        'to fill --bars (syntax: docs/CHARTS.md)')
    p.add_argument("--bars", type=int, default=None, help="bars to play (default: one chorus)")
    p.add_argument("--bpm", type=float, default=None,
                   help="tempo in beats per minute, 20-400 (default: the config's tempo.bpm, "
                        "120)")
    p.add_argument("--beats-per-bar", type=int, default=None, metavar="N",
                   help="beats in a bar of the chart, 1-12, e.g. 3 for a waltz (default: "
                        "the config's tempo.beats_per_bar, 4)")
    p.add_argument("--swing", type=float, default=None,
                   help="share of the beat taken by the first of two eighths, 0.5 "
                        "(straight) to 0.75; 0.667 is triplet swing (default: the config's "
                        "tempo.swing, 0.6)")
    p.add_argument("--seed", type=int, default=None,
                   help="an integer makes the solo reproducible: the same seed, chart and "
                        "settings give the same file (default: a new seed each run, "
                        "printed)")
    p.add_argument("--temperature", type=float, default=None,
                   help="sampling temperature, 0.05-5: lower is safer and more repetitive, "
                        "higher is wilder (default: the config's improviser.temperature, "
                        "0.9)")
    p.add_argument("--lowest-note", type=int, default=None, metavar="NOTE",
                   help="the bottom of the register, a MIDI note number 0-127 (default: "
                        "the config's improviser.lowest_note, 55, the G below middle C)")
    p.add_argument("--highest-note", type=int, default=None, metavar="NOTE",
                   help="the top of the register, at least an octave above the bottom "
                        "(default: the config's improviser.highest_note, 84)")
    p.add_argument("--model", default=None,
                   help="'default', 'bach' or a model directory made by `jazzd train`")
    p.add_argument("--config", metavar="FILE",
                   help="take the other settings from this config file (default: "
                        "config.yaml in the current directory if present)")
    p.add_argument("--out", required=True, metavar="FILE.mid",
                   help="the MIDI file to write: the solo, and the chords on their own "
                        "track")
    p.add_argument("--wav", metavar="FILE.wav",
                   help="also render the MIDI file to WAV with the fluidsynth program")
    p.add_argument("--soundfont", metavar="FILE.sf2",
                   help="with --wav: the SoundFont to render with (default: "
                        "$JAZZD_SOUNDFONT, else FluidR3_GM.sf2 of Debian's "
                        "fluid-soundfont-gm)")
    p.add_argument("--trade", type=int, default=None, metavar="N",
                   help="trade turns of N bars (1, 2, 4, 8) with the player's line of "
                        "--call: jazzd hears the player's turns and plays the others")
    p.add_argument("--call", metavar="PLAYER.mid",
                   help="with --trade: the player's line, from bar 1 (its notes in the "
                        "player's turns are used)")
    p.add_argument("--call-track", default=None,
                   help="with --call: the track of the player's line, index or name "
                        "(default: the track named 'solo', else the first with notes)")
    p.add_argument("--first", choices=["player", "jazzd"], default=None,
                   help="with --trade: who takes the first turn (default: the config's "
                        "interplay.first, player)")
    p.add_argument("--echo", type=float, default=None,
                   help="with --trade: 0-1, how strongly jazzd takes up the turn it "
                        "answers (default: the config's interplay.echo, 0.5)")
    p.set_defaults(module="generate")


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="score a recorded performance against the musical "
                                        "bars, or measure the style gap")
    p.add_argument("performance", metavar="PERFORMANCE.mid", nargs="?")
    p.add_argument("--chords", metavar="CHART")
    p.add_argument("--bpm", type=float, default=None,
                   help="tempo, if the file carries none (default: the file's tempo)")
    p.add_argument("--swing", type=float, default=None)
    p.add_argument("--track", default=None, help="solo track index or name")
    p.add_argument("--json", action="store_true")
    p.add_argument("--png", metavar="FILE.png", help="also draw a piano roll (needs the "
                   "plot extra: scripts/setup-venv.sh plot)")
    p.add_argument("--beats-per-bar", type=int, default=None)
    p.add_argument("--lowest-note", type=int, default=None,
                   help="the register's bottom (default: the config default)")
    p.add_argument("--highest-note", type=int, default=None)
    p.add_argument("--strict", action="store_true", help="exit 1 when a bar is missed")
    p.add_argument("--style-gap", action="store_true",
                   help="instead: can a classifier tell jazzd's choruses from held-out "
                        "human ones? (needs --corpus and scikit-learn, the eval extra)")
    p.add_argument("--echo", action="store_true",
                   help="instead: trade with held-out human choruses and measure how much "
                        "of jazzd's answers comes from the call before them, against not "
                        "listening (needs --corpus)")
    p.add_argument("--trade", type=int, default=None, metavar="N",
                   help="--echo: bars per turn (default: the config's interplay.trade_bars)")
    p.add_argument("--seeds", type=int, default=1, metavar="S",
                   help="--echo: run every row with S seeds and report their spread "
                        "(default 1)")
    p.add_argument("--corpus", metavar="DIR",
                   help="--style-gap, --echo: the Weimar Jazz Database CSV export")
    p.add_argument("--model", default=None,
                   help="--style-gap, --echo: 'default' or a model directory")
    p.add_argument("--config", metavar="FILE", help="--style-gap, --echo: jazzd's settings")
    p.add_argument("--runs", default=None,
                   help="--style-gap: comma-separated: human, random, arpeggiator, model "
                        "(default: all)")
    p.add_argument("--repeats", type=int, default=5, help="--style-gap: CV repeats")
    p.add_argument("--seed", type=int, default=0, help="--style-gap: generation seed")
    p.set_defaults(module="evaluate")


def _add_bench(sub):
    p = sub.add_parser("bench", help="measure the performance figures (docs/BENCH.md)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="fewer repetitions")
    p.add_argument("--only", default=None, help="comma-separated section names")
    p.add_argument("--model", default=None, help="'default' or a model directory")
    p.set_defaults(module="bench")


DESCRIPTION = """\
jazzd improvises jazz lines in real time: it hears the chords you play on a MIDI
input and plays a line over them, in tempo, on a MIDI output (a stateful LSTM
chooses what kind of note comes next, a jazz grammar picks its pitch against the
chord sounding then). Offline, it improvises over a chord chart into a MIDI or WAV
file."""

EPILOG = """\
Run `jazzd COMMAND --help` for a command's options. Hear it without any MIDI set-up:
  jazzd generate --chords "Dm7 G7 | Cmaj7 | % |" --bars 16 --out solo.mid --wav solo.wav
The documentation is in the source tree: README.md, docs/LIVE.md (playing live),
docs/CHARTS.md (chord charts), systemd/README.md (running as a service)."""

COMMANDS = [_add_run, _add_ports, _add_check_config, _add_chord, _add_train,
            _add_generate, _add_evaluate, _add_bench]


def build_parser():
    parser = argparse.ArgumentParser(prog="jazzd", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"jazzd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)      # each sets `module`: the jazzd.commands module whose main() runs it
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EX_USAGE
    try:
        command = importlib.import_module(f"jazzd.commands.{args.module}")
        return command.main(args) or 0
    except UserError as e:
        print(f"jazzd {args.command}: error: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
