"""Which sections `jazzd bench` has, and running them in order."""

import importlib
import time

from jazzd.bench import offline
from jazzd.bench.report import NotMeasured, _loadavg, link_baselines
from jazzd.service.errors import EX_USAGE, UserError


def _live(name, module="live"):
    def run(ctx):
        bench_live = importlib.import_module(f"jazzd.bench.{module}")
        return getattr(bench_live, "section_" + name)(ctx)
    run.__doc__ = f"live section {name} (jazzd.bench.{module})"
    return run


SECTIONS = {
    "lstm": ("LSTM step, NumPy runtime", offline.section_lstm),
    "keras": ("LSTM step baselines, Keras", offline.section_keras),
    "grammar": ("grammar: unparse and chord recognition", offline.section_grammar),
    "scheduler": ("scheduler send error", offline.section_scheduler),
    "ready": ("jazzd run: start to ready", _live("ready")),
    "playing": ("jazzd run: RSS and CPU while playing", _live("playing")),
    "onset": ("jazzd run: JACK round-trip onset error", _live("onset")),
    "trading": ("jazzd run: trading and answering at 160 bpm", _live("trading", "trading")),
    "standards": ("jazzd run: four standards over MIDI clock, back to back",
                  _live("standards", "standards")),
}


OFFLINE = ("lstm", "keras", "grammar", "scheduler")


def run_sections(names, ctx, progress=None):
    """Run the named sections in order; returns [(name, title, figures or reason)]."""
    results = []
    try:
        for name in names:
            title, func = SECTIONS[name]
            if progress:
                progress(f"bench: {name} ...")
            t = time.monotonic()
            ctx.load[name] = _loadavg()
            try:
                out = func(ctx)
            except NotMeasured as e:
                out = str(e)
            if progress:
                progress(f"bench: {name} done in {time.monotonic() - t:.1f} s")
            results.append((name, title, out))
    finally:
        ctx.close()
    figures = [f for _, _, out in results if isinstance(out, list) for f in out]
    link_baselines(figures)
    return results


def parse_only(text):
    if not text:
        return list(SECTIONS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in SECTIONS and n != "offline"]
    if bad or not names:
        raise UserError(f"--only: unknown section {', '.join(bad) or repr(text)}; "
                        f"allowed: {', '.join(SECTIONS)}, offline", EX_USAGE)
    picked = set()
    for n in names:
        picked.update(OFFLINE if n == "offline" else (n,))
    return [n for n in SECTIONS if n in picked]
