"""The style gap (docs/MUSIC.md, "The style gap"): how well a classifier tells
held-out human jazz choruses from generated ones over the same changes.

- Human choruses: the choruses of the held-out players (`jazzd.train.wjazzd.split_performers`,
  split over solos.csv) with at least `MIN_BARS` bars and `MIN_NOTES` notes.
- Generated choruses: a generator is any function `(chart, n_bars, seed, bpm) ->
  notes`, notes `(onset_beats, duration_beats, pitch)` on the straight grid from the
  chart's start, durations up to the next onset unless a rest follows. It plays one
  chorus over each human chorus's own changes, at that chorus's own tempo (the solo's
  beat track: `jazzd.train.wjazzd.Solo.bpm`). `shipped_generator()` wraps
  `jazzd.offline.solo.generate` (swing 0.5, default config); `random_generator()` and
  `arpeggiator()` are the baselines that must score ~1.0 (they ignore the tempo).
- By tempo band (`tempo_table`): notes per beat, onsets per beat with an onset, rest
  share and phrase length, players against the generator, in the bands below 120,
  120-170, 170-220 and above 220 bpm; and the correlation of tempo with notes per beat.
- Every chorus becomes `jazzd.grammar.style_features.vector`. A random forest is
  cross-validated with stratified group k-fold (group = the human solo a chorus comes
  from, or was generated over: a solo's choruses are never in train and test), repeated
  with fresh shuffles; the score is the ROC AUC of the out-of-fold predictions, mean and
  SD over the repeats. Per feature, the overlapping area of the two distributions
  (1 = identical), from Gaussian kernel density estimates: with ~100 choruses a side,
  12-bin histograms of two samples of one distribution overlap only ~0.82 (KDE ~0.91),
  so histogram noise would hide a gap of the size the goal asks about.

scikit-learn is an optional extra: it is imported when a gap is measured.
`jazzd evaluate --style-gap --corpus DIR` runs every baseline and the model and prints
the table; `measure(generator, humans)` measures a new model with one call.
"""

import math
import random
import time
from typing import NamedTuple

import numpy as np

from jazzd.service.errors import EX_UNAVAILABLE, UserError
from jazzd.grammar import style_features
from jazzd.grammar.pitch import TPQ

MIN_BARS = 8          # shorter choruses are fragments (the last bars of a solo)
MIN_NOTES = 8
MAX_NO_CHORD = 0.5    # choruses with more beats than this share under N.C. are free playing
GRID_POINTS = 512     # where the two densities of an overlap are compared
FOLDS = 5
REPEATS = 5
TREES = 200
LOW, HIGH = 55, 84    # the register of the baselines (the daemon's default)


class HumanChorus(NamedTuple):
    group: str            # the solo's name: choruses of one solo share a fold
    performer: str
    chorus_id: int
    chart: object         # jazzd.grammar.chart.Chart: the chorus's own changes
    n_bars: int
    notes: list           # [(onset_beats, duration_beats, pitch)] as Fractions
    vector: list          # its features, in the order of style_features.NAMES
    bpm: float = None     # the solo's tempo (its beat track's median beat)


class Gap(NamedTuple):
    name: str
    n_human: int
    n_other: int
    auc: float
    auc_sd: float
    overlaps: dict        # feature -> overlap
    seconds: float
    vectors: list = None  # the other side's feature vectors (measure: the generated)
    bpms: list = None     # ... and the tempo each was played at
    tempo: dict = None    # tempo_table of a generator's choruses against the humans'

    @property
    def mean_overlap(self):
        return float(np.mean(list(self.overlaps.values())))

    @property
    def min_overlap(self):
        return min(self.overlaps.values())


def _beats(ticks):
    from fractions import Fraction
    return Fraction(ticks, TPQ)


def chorus_vector(notes, chart, n_bars):
    """The feature vector of notes (beats) over `n_bars` bars of `chart`."""
    changes = list(chart.timeline(n_bars))
    return style_features.vector(notes, changes, n_bars * chart.beats_per_bar,
                                 chart.beats_per_bar)


def human_choruses(solos, min_bars=MIN_BARS, min_notes=MIN_NOTES, max_no_chord=MAX_NO_CHORD,
                   skipped=None):
    """HumanChorus for every chorus of `solos` (jazzd.train.wjazzd.Solo) long enough, with
    notes, over changes (not mostly N.C.); `skipped` (a Counter) counts the others."""
    from collections import Counter
    skipped = Counter() if skipped is None else skipped
    out = []
    for solo in solos:
        for ch in solo.choruses:
            if ch.bars < min_bars:
                skipped[f"shorter than {min_bars} bars"] += 1
                continue
            first = ch.start // TPQ
            beats = solo.beat_chords[first:first + ch.bars * 4]
            if sum(not c for c in beats) > max_no_chord * len(beats):
                skipped["mostly N.C. (free playing)"] += 1
                continue
            notes = [(_beats(n.onset), _beats(n.duration), n.pitch)
                     for n in solo.chorus_notes(ch)]
            if len(notes) < min_notes:
                skipped[f"fewer than {min_notes} notes"] += 1
                continue
            chart = solo.chorus_chart(ch)
            out.append(HumanChorus(solo.name, solo.performer, ch.id, chart, ch.bars, notes,
                                   chorus_vector(notes, chart, ch.bars),
                                   getattr(solo, "bpm", None)))
    return out


# ---- generators: (chart, n_bars, seed, bpm) -> [(onset_beats, duration_beats, pitch)] -----

def shipped_generator(cfg=None, model=None):
    """jazzd's own improviser (`jazzd.offline.solo.generate`), straight eighths, at
    the tempo it is given (None: the config's).

    `cfg`: a validated config (default: the defaults); its swing is set to 0.5.
    Durations are given back as the values' lengths (the gate taken out), so a rest is
    exactly an R value, as in the human data.
    """
    from jazzd.service import config as config_mod
    from jazzd.offline.solo import generate
    from jazzd.model.store import load_model
    cfg = config_mod.validate(cfg if cfg is not None else {}, source="style gap")
    cfg["tempo"]["swing"] = 0.5
    gate = cfg["improviser"]["gate"]
    if model is None:
        model = load_model(cfg["improviser"]["model"])

    def gen(chart, n_bars, seed, bpm=None):
        solo, _, _ = generate(cfg, chart, n_bars, seed=seed, model=model, bpm=bpm)
        out = []
        for on, dur, pitch, _ in solo:
            on_t, len_t = round(on * TPQ), round(dur / gate * TPQ)
            if abs(on * TPQ - on_t) > 1e-6 or abs(dur / gate * TPQ - len_t) > 1e-6:
                raise ValueError(f"generated note off the straight grid: {on}, {dur}")
            out.append((_beats(on_t), _beats(len_t), pitch))
        return out
    return gen


def random_generator(low=LOW, high=HIGH, iois=(3, 4, 6, 6, 8, 12, 12, 18, 24), rest=0.15):
    """Random pitches in [low, high], inter-onset times drawn from `iois` (ticks), a
    note left silent with probability `rest`."""
    def gen(chart, n_bars, seed, bpm=None):
        rng = random.Random(f"random-{seed}")
        end = n_bars * chart.bar_ticks
        out, t = [], 0
        while t < end:
            ioi = min(rng.choice(iois), end - t)
            if rng.random() >= rest:
                out.append((_beats(t), _beats(ioi), rng.randint(low, high)))
            t += ioi
        return out
    return gen


def arpeggiator(low=LOW, high=HIGH):
    """Eighths up and down the chord tones of the chord sounding at each onset,
    turning at the register's edges; silent where no chord sounds."""
    def gen(chart, n_bars, seed, bpm=None):
        timeline = chart.timeline(n_bars)
        out, prev, up = [], None, True
        for t in range(0, n_bars * chart.bar_ticks, TPQ // 2):
            chord = timeline.at(t)
            if not chord:
                continue
            tones = [p for p in range(low, high + 1) if chord.tones >> (p % 12) & 1]
            if prev is None:
                pitch = min(tones, key=lambda p: abs(p - (low + high) // 2))
            else:
                above = [p for p in tones if p > prev]
                below = [p for p in tones if p < prev]
                if up and not above:
                    up = False
                elif not up and not below:
                    up = True
                pitch = min(above) if up else max(below)
            out.append((_beats(t), _beats(TPQ // 2), pitch))
            prev = pitch
        return out
    return gen


def generated_vectors(generator, humans, seed=0, with_bpms=False):
    """One generated chorus over each human chorus's changes, at its tempo: (vectors,
    groups), and the tempi with `with_bpms`."""
    vectors, groups, bpms = [], [], []
    for k, h in enumerate(humans):
        notes = generator(h.chart, h.n_bars, seed * 100_003 + k, h.bpm)
        if not notes:
            continue               # nothing played: no features (counted by the caller)
        vectors.append(chorus_vector(notes, h.chart, h.n_bars))
        groups.append(h.group)
        bpms.append(h.bpm)
    return (vectors, groups, bpms) if with_bpms else (vectors, groups)


# ---- the measure -----------------------------------------------------------------------

def _sklearn():
    try:
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedGroupKFold
    except ImportError:
        raise UserError("the style gap needs scikit-learn (the evaluation extra): "
                        "pip install scikit-learn", status=EX_UNAVAILABLE) from None
    return RandomForestClassifier, roc_auc_score, StratifiedGroupKFold


def cross_validated_auc(X, y, groups, folds=FOLDS, repeats=REPEATS, trees=TREES, seed=0):
    """(mean, SD) over `repeats` of the ROC AUC of out-of-fold random-forest
    predictions of y (1 = human), stratified and grouped k-fold."""
    forest, roc_auc, kfold = _sklearn()
    X, y, groups = np.asarray(X, float), np.asarray(y, int), np.asarray(groups)
    aucs = []
    for r in range(repeats):
        cv = kfold(n_splits=folds, shuffle=True, random_state=seed + r)
        pred = np.zeros(len(y))
        for train, test in cv.split(X, y, groups):
            clf = forest(n_estimators=trees, random_state=seed + r, n_jobs=1)
            clf.fit(X[train], y[train])
            pred[test] = clf.predict_proba(X[test])[:, 1]
        aucs.append(roc_auc(y, pred))
    return float(np.mean(aucs)), float(np.std(aucs))


def _bandwidth(x, pooled_sd):
    """Silverman's rule, the spread floored at a tenth of the pooled one (a sample
    that is one value, e.g. an arpeggiator's, is a narrow bump, not a spike)."""
    return 1.06 * max(float(np.std(x)), 0.1 * pooled_sd) * len(x) ** -0.2


def _density(x, h, grid):
    z = (grid[:, None] - x[None, :]) / h
    return np.exp(-0.5 * z * z).sum(axis=1) / (len(x) * h * math.sqrt(2 * math.pi))


def overlap(a, b):
    """Overlapping area of two samples' distributions (1 = identical): the integral of
    the smaller of their Gaussian kernel density estimates."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    pooled_sd = float(np.std(np.concatenate([a, b])))
    if pooled_sd == 0:
        return 1.0
    ha, hb = _bandwidth(a, pooled_sd), _bandwidth(b, pooled_sd)
    lo = min(a.min() - 4 * ha, b.min() - 4 * hb)
    hi = max(a.max() + 4 * ha, b.max() + 4 * hb)
    grid = np.linspace(lo, hi, GRID_POINTS)
    m = np.minimum(_density(a, ha, grid), _density(b, hb, grid))
    return float(min(1.0, (m[1:] + m[:-1]).sum() / 2 * (grid[1] - grid[0])))


def gap(name, human, other, human_groups, other_groups, seed=0, repeats=REPEATS, trees=TREES):
    """The Gap between two sets of feature vectors (human = label 1).

    The classifier reads the features alone, not the chorus's tempo: tried, a forest
    on ~100 choruses a side does not use it (a density that does not follow the tempo
    is an interaction of two columns, which greedy trees on so few samples miss; the
    old tempo-blind model scored the same with it, 0.814 against 0.812). Whether the
    density follows the tempo is `tempo_table`'s to show."""
    t0 = time.perf_counter()
    X = list(human) + list(other)
    y = [1] * len(human) + [0] * len(other)
    auc, sd = cross_validated_auc(X, y, list(human_groups) + list(other_groups),
                                  repeats=repeats, trees=trees, seed=seed)
    H, O = np.asarray(human, float), np.asarray(other, float)
    ov = {n: overlap(H[:, i], O[:, i]) for i, n in enumerate(style_features.NAMES)}
    return Gap(name, len(human), len(other), auc, sd, ov, time.perf_counter() - t0)


def measure(generator, humans, name="model", seed=0, repeats=REPEATS, trees=TREES):
    """The style gap of `generator` against HumanChorus list `humans`: one call."""
    t0 = time.perf_counter()
    vectors, groups, bpms = generated_vectors(generator, humans, seed, with_bpms=True)
    if len(vectors) < FOLDS:
        raise UserError(f"{name}: only {len(vectors)} of {len(humans)} generated choruses "
                        f"have notes; the style gap needs {FOLDS} or more")
    g = gap(name, [h.vector for h in humans], vectors, [h.group for h in humans], groups,
            seed, repeats, trees)
    return g._replace(seconds=time.perf_counter() - t0, vectors=vectors, bpms=bpms)


# ---- by tempo ----------------------------------------------------------------------------

TEMPO_BANDS = ((0, 120, "< 120"), (120, 170, "120-170"), (170, 220, "170-220"),
               (220, math.inf, "> 220"))
BAND_MEASURES = (("notes_per_beat", "notes per beat"),
                 ("onsets_per_beat", "onsets per beat with an onset"),
                 ("rest_share", "rest share"), ("phrase_beats", "phrase length, beats"))
_INDEX = {n: i for i, n in enumerate(style_features.NAMES)}


def band_measures(vector):
    """The measures of the tempo table from a feature vector: notes per beat, onsets
    per beat among the beats with an onset, rest share, mean phrase length (beats)."""
    npb = vector[_INDEX["notes_per_beat"]]
    sounding = 1.0 - vector[_INDEX["beats_0"]]
    return {"notes_per_beat": npb,
            "onsets_per_beat": npb / sounding if sounding > 0 else 0.0,
            "rest_share": vector[_INDEX["rest_share"]],
            "phrase_beats": vector[_INDEX["phrase_beats"]]}


def tempo_band(bpm):
    for lo, hi, label in TEMPO_BANDS:
        if lo <= bpm < hi:
            return label
    return None


def tempo_table(humans, g):
    """{"bands": [{band, n, players: {measure: (p25, median, p75)}, model: {...}}],
    "corr_players", "corr_model"}: the measures by tempo band of the held-out choruses
    and of `g`'s generated ones (a Gap from `measure`, which keeps its vectors and
    tempi); the correlations are Pearson's, of tempo with notes per beat."""
    def side(vectors, bpms):
        rows = {}
        for v, b in zip(vectors, bpms):
            if b is not None:
                rows.setdefault(tempo_band(b), []).append(band_measures(v))
        return rows

    def corr(vectors, bpms):
        pairs = [(b, v[_INDEX["notes_per_beat"]]) for v, b in zip(vectors, bpms)
                 if b is not None]
        if len(pairs) < 3:
            return float("nan")
        x, y = np.array(pairs, float).T
        return float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 \
            else float("nan")

    hv, hb = [h.vector for h in humans], [h.bpm for h in humans]
    players, model = side(hv, hb), side(g.vectors or [], g.bpms or [])
    bands = []
    for _, _, label in TEMPO_BANDS:
        row = {"band": label, "n": len(players.get(label, [])),
               "n_model": len(model.get(label, []))}
        for who, rows in (("players", players), ("model", model)):
            got = rows.get(label, [])
            row[who] = {m: tuple(float(q) for q in np.percentile([r[m] for r in got],
                                                                 (25, 50, 75)))
                        for m, _ in BAND_MEASURES} if got else {}
        bands.append(row)
    return {"bands": bands, "corr_players": corr(hv, hb),
            "corr_model": corr(g.vectors or [], g.bpms or [])}


def format_tempo_table(table, name="jazzd"):
    """The tempo table as markdown: per band and measure, the players' median (p25-p75)
    and the model's median, marked * when it is outside the players' p25-p75."""
    head = "| tempo | choruses | " + " | ".join(
        f"{label}: players | {name}" for _, label in BAND_MEASURES) + " |"
    out = [head, "| --- | --- |" + " --- | --- |" * len(BAND_MEASURES)]
    for row in table["bands"]:
        cells = []
        for m, _ in BAND_MEASURES:
            p, g = row["players"].get(m), row["model"].get(m)
            cells.append(f"{p[1]:.2f} ({p[0]:.2f}-{p[2]:.2f})" if p else "–")
            mark = "" if not (p and g) or p[0] <= g[1] <= p[2] else " *"
            cells.append(f"{g[1]:.2f}{mark}" if g else "–")
        out.append(f"| {row['band']} | {row['n']} | " + " | ".join(cells) + " |")
    out.append(f"\ncorrelation of tempo with notes per beat: players "
               f"{table['corr_players']:.2f}, {name} {table['corr_model']:.2f}")
    return "\n".join(out)


def human_vs_human(humans, seed=0, repeats=REPEATS, trees=TREES):
    """Held-out humans against themselves: `repeats` random halvings (each chorus
    labelled at random, seeded), each cross-validated once; AUC mean and SD over the
    halvings, overlaps averaged. Must score ~0.5; its overlaps (of two half-size
    samples) are the sampling-noise floor under the other comparisons' gaps."""
    t0 = time.perf_counter()
    gaps = []
    for r in range(repeats):
        rng = random.Random(f"human-split-{seed}-{r}")
        labels = [rng.random() < 0.5 for _ in humans]
        a = [h for h, lab in zip(humans, labels) if lab]
        b = [h for h, lab in zip(humans, labels) if not lab]
        gaps.append(gap("", [h.vector for h in a], [h.vector for h in b],
                        [h.group for h in a], [h.group for h in b], seed + r, 1, trees))
    aucs = [g.auc for g in gaps]
    ov = {n: float(np.mean([g.overlaps[n] for g in gaps])) for n in style_features.NAMES}
    return Gap("human vs human (random halves)", gaps[0].n_human, gaps[0].n_other,
               float(np.mean(aucs)), float(np.std(aucs)), ov, time.perf_counter() - t0)


def held_out_humans(root, n_holdout=12, seed=0):
    """(HumanChorus list, held-out performers, reader Report) for the database at root."""
    from jazzd.train.wjazzd import index_entries, read_corpus, split_performers
    _, test, held = split_performers(index_entries(root), n_holdout, seed)
    solos, report = read_corpus(root, names=[e.name for e in test])
    from collections import Counter
    skipped = Counter()
    humans = human_choruses(solos, skipped=skipped)
    report.count.update({f"held-out choruses left out: {k}": v for k, v in skipped.items()})
    return humans, held, report, solos


# ---- the table ---------------------------------------------------------------------------

def format_table(gaps):
    out = ["| comparison | human choruses | other | ROC AUC (mean ± SD) | mean overlap | "
           "min overlap (feature) | seconds |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for g in gaps:
        worst = min(g.overlaps, key=g.overlaps.get)
        out.append(f"| {g.name} | {g.n_human} | {g.n_other} | {g.auc:.3f} ± {g.auc_sd:.3f} | "
                   f"{g.mean_overlap:.3f} | {g.min_overlap:.3f} ({worst}) | {g.seconds:.1f} |")
    return "\n".join(out)


def format_overlaps(gaps):
    """Per-feature overlaps, one column per comparison, sorted by the last column."""
    last = gaps[-1]
    names = sorted(style_features.NAMES, key=lambda n: last.overlaps[n])
    out = ["| feature | " + " | ".join(g.name for g in gaps) + " |",
           "| --- |" + " --- |" * len(gaps)]
    for n in names:
        out.append(f"| {n} | " + " | ".join(f"{g.overlaps[n]:.2f}" for g in gaps) + " |")
    return "\n".join(out)


RUNS = ("human", "random", "arpeggiator", "model")
RUN_NAMES = {"human": "human vs human (random halves)", "random": "human vs random notes",
             "arpeggiator": "human vs chord-tone arpeggiator", "model": "human vs jazzd"}


def run(root, runs=RUNS, cfg=None, model=None, holdout=12, split_seed=0, seed=0,
        repeats=REPEATS, log=print):
    """Measure `runs` against the held-out players' choruses of the database at `root`;
    `cfg` and `model` are jazzd's (None: the defaults, the shipped model). Returns
    (gaps, held-out performers, number of human choruses)."""
    t0 = time.perf_counter()
    humans, held, report, solos = held_out_humans(root, holdout, split_seed)
    left = "; ".join(f"{k.split(': ', 1)[1]} {v}" for k, v in sorted(report.count.items())
                     if k.startswith("held-out choruses left out"))
    log(f"held out: {', '.join(held)}: {len(solos)} solos read ({len(report.skipped)} "
        f"skipped), {len(humans)} choruses (left out: {left or 'none'}) "
        f"({time.perf_counter() - t0:.1f} s)")
    if len(humans) < 2 * FOLDS:
        raise UserError(f"only {len(humans)} held-out human choruses: too few to measure")
    gaps = []
    for name in runs:
        if name == "human":
            g = human_vs_human(humans, seed, repeats)
        else:
            gen = {"random": random_generator, "arpeggiator": arpeggiator}.get(name)
            gen = gen() if gen else shipped_generator(cfg, model)
            g = measure(gen, humans, RUN_NAMES[name], seed, repeats)
            if name == "model":
                g = g._replace(tempo=tempo_table(humans, g))
        gaps.append(g)
        log(f"{g.name}: AUC {g.auc:.3f} ± {g.auc_sd:.3f}, mean overlap "
            f"{g.mean_overlap:.3f}, min {g.min_overlap:.3f} ({g.seconds:.1f} s)")
    return gaps, held, len(humans)


def as_json(gaps, held, n_humans):
    return {"held_out": held, "humans": n_humans,
            "gaps": [dict({"name": g.name, "n_human": g.n_human, "n_other": g.n_other,
                           "auc": g.auc, "auc_sd": g.auc_sd,
                           "mean_overlap": g.mean_overlap, "min_overlap": g.min_overlap,
                           "overlaps": g.overlaps, "seconds": g.seconds},
                          **({"by_tempo": g.tempo} if g.tempo else {}))
                     for g in gaps]}
