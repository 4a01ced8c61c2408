"""`jazzd train`: extract a corpus (in parallel), train, write the model directory."""

import json
import os
import sys
import time

from jazzd.service.errors import EX_USAGE, UserError
from jazzd.train.trainer import train_pieces


def main(args):
    """`jazzd train`: extract the corpus (in parallel), train, write the model."""
    from jazzd.train import corpus
    log = (lambda *a, **k: None) if args.quiet else (lambda s: print(s, flush=True))
    extra = {k: getattr(args, k) for k in ("embed", "window", "min_count", "dropout")
             if getattr(args, k, None) is not None}
    if not 0 <= extra.get("dropout", 0) < 0.9:
        raise UserError(f"--dropout {extra['dropout']} is out of range (0 to 0.9)",
                        status=EX_USAGE)
    for k in ("embed", "window", "min_count"):
        if k in extra and extra[k] < 1:
            raise UserError(f"--{k.replace('_', '-')} must be at least 1", status=EX_USAGE)
    for k in ("units", "epochs", "jobs", "limit"):
        if getattr(args, k, None) is not None and getattr(args, k) < 1:
            raise UserError(f"--{k} must be at least 1", status=EX_USAGE)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} exists and is not a directory", status=EX_USAGE)
    try:
        spec = corpus.CorpusSpec.from_args(args.corpus, melody=args.melody,
                                           harmony=args.harmony,
                                           offset_range=args.offset_range,
                                           harmony_method=getattr(args, "harmony_method",
                                                                  None))
        paths = spec.paths(limit=args.limit)
    except ValueError as e:
        raise UserError(str(e), status=EX_USAGE) from None
    if not paths:
        raise UserError(f"corpus {args.corpus!r}: no MusicXML, ABC or MIDI files found")
    log(f"extracting {len(paths)} file(s) from {spec.describe()} "
        f"({args.jobs or 'auto'} jobs)")
    t0 = time.perf_counter()
    pieces, skipped = [], []
    for res in corpus.build(paths, spec, jobs=args.jobs):
        if res.error:
            skipped.append({"file": res.name, "problem": res.error})
            print(f"jazzd train: skipped {res.name}: {res.error}", file=sys.stderr)
        else:
            pieces.append(res.piece)
    log(f"extracted {len(pieces)} pieces, skipped {len(skipped)} "
        f"({time.perf_counter() - t0:.0f} s)")
    info = {"source": spec.describe(), "files": len(paths), "skipped": skipped,
            "harmony": spec.harmony_method,
            "extraction_seconds": round(time.perf_counter() - t0, 1)}
    meta = train_pieces(pieces, args.out, variant=args.variant, epochs=args.epochs,
                        units=args.units, seed=args.seed, log=log, corpus_info=info, **extra)
    if args.quiet:
        return 0
    print(json.dumps({n: {"val_loss": r["val_loss"], "val_accuracy": r["val_accuracy"]}
                      for n, r in meta["variants"].items()}))
    return 0
