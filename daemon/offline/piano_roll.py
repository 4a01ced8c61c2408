"""A piano roll of a performance, coloured by kind, with the chords under it
(`jazzd evaluate --png`). matplotlib is the optional `plot` extra, imported only here."""

from jazzd.grammar.evaluate import annotate
from jazzd.service.errors import EX_UNAVAILABLE, UserError

KIND_COLOURS = {"C": "#2a7f3f", "S": "#2f6db5", "A": "#e08a1e", "X": "#c8322f", "-": "#888888"}


def piano_roll(path, notes, timeline, n_bars, beats_per_bar, swing, title=""):
    """Draw the notes (coloured by kind) with the chord symbols under them."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        raise UserError("--png needs matplotlib, which is not installed: in the jazzd "
                        "source tree run `scripts/setup-venv.sh plot` (or `.venv/bin/pip "
                        "install -e '.[plot]'`)", status=EX_UNAVAILABLE) from None
    from jazzd.grammar.swing import swung_beats
    marked = annotate(notes, timeline, swing)
    beats = n_bars * beats_per_bar
    fig, ax = plt.subplots(figsize=(min(60, max(8, beats * 0.18)), 5))
    pitches = [p for _, _, p, _ in marked]
    lo, hi = min(pitches) - 2, max(pitches) + 2
    for o, d, p, k in marked:
        ax.add_patch(matplotlib.patches.Rectangle((o, p - 0.4), d, 0.8,
                                                  color=KIND_COLOURS[k], lw=0))
    for b in range(n_bars + 1):
        ax.axvline(b * beats_per_bar, color="#bbbbbb", lw=0.6, zorder=0)
    prev = None
    for t, c in timeline:
        if c.symbol != prev:
            ax.text(swung_beats(t, swing), lo - 1.5, c.symbol, fontsize=7, va="top",
                    ha="left", rotation=0)
            prev = c.symbol
    ax.set_xlim(0, beats)
    ax.set_ylim(lo - 4, hi)
    ax.set_xlabel("beats")
    ax.set_ylabel("MIDI note")
    ax.set_xticks(range(0, beats + 1, beats_per_bar))
    ax.legend(handles=[Patch(color=KIND_COLOURS[k], label=lab) for k, lab in
                       (("C", "chord"), ("S", "scale"), ("A", "approach"), ("X", "outside"))],
              loc="upper right", fontsize=7, ncol=4)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        plt.close(fig)
