"""`jazzd train`: read a corpus, train, write the model directory."""

import json
import os

from jazzd.service.errors import EX_USAGE, UserError
from jazzd.train.sources import load_pieces
from jazzd.train.trainer import train_pieces

CELLS = ("lstm", "gru", "conv")


def _check(args):
    if args.dropout is not None and not 0 <= args.dropout < 0.9:
        raise UserError(f"--dropout {args.dropout} is out of range (0 to 0.9)",
                        status=EX_USAGE)
    for k in ("units", "epochs", "jobs", "limit", "window", "min_count"):
        if getattr(args, k, None) is not None and getattr(args, k) < 1:
            raise UserError(f"--{k.replace('_', '-')} must be at least 1", status=EX_USAGE)
    if args.hold_out < 0:
        raise UserError("--hold-out must be 0 or more", status=EX_USAGE)
    cells = tuple(c.strip() for c in args.cell.split(",") if c.strip())
    bad = [c for c in cells if c not in CELLS]
    if bad or not cells:
        raise UserError(f"--cell {args.cell}: allowed: {', '.join(CELLS)}, or several "
                        f"separated by commas", status=EX_USAGE)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} exists and is not a directory", status=EX_USAGE)
    return cells


def main(args):
    cells = _check(args)
    log = (lambda *a, **k: None) if args.quiet else (lambda s: print(s, flush=True))
    pieces, info = load_pieces(args.corpus, log, hold_out=args.hold_out, limit=args.limit,
                               jobs=args.jobs, melody=args.melody, harmony=args.harmony,
                               offset_range=args.offset_range,
                               harmony_method=args.harmony_method)
    meta = train_pieces(pieces, args.out, cells=cells, seed=args.seed, log=log,
                        corpus_info=info, units=args.units, epochs=args.epochs,
                        window=args.window, dropout=args.dropout, min_count=args.min_count)
    if not args.quiet:
        print(json.dumps({c: {"val_loss": r["loss"], "epochs": r["epochs_run"]}
                          for c, r in meta["cells"].items()}))
    return 0
