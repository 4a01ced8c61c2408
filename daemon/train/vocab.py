"""The vocabulary: which values become tokens, and where a rare value goes.

Rare values (seen fewer than `min_count` times in the training pieces) are mapped to
the nearest frequent value of the same kind: nearest duration first, then nearest
interval window. That keeps the vocabulary small and every token learnable.
"""

from collections import Counter

from jazzd.model.store import START


def _window_distance(a, b):
    if a.lo is None or b.lo is None:
        return 0 if a.lo is None and b.lo is None else 1000
    return abs(a.lo - b.lo) + abs(a.hi - b.hi)


def nearest_frequent(value, frequent):
    """The frequent value closest to `value`: same kind, nearest duration, then nearest
    window (a phrase start stays a phrase start when it can). None if the kind is absent."""
    best, key = None, None
    for f in frequent:
        if f.kind != value.kind:
            continue
        k = (abs(f.ticks - value.ticks), _window_distance(f, value), f.ticks, f.lo or 0)
        if key is None or k < key:
            best, key = f, k
    return best


def build_vocab(value_lists, min_count):
    """(tokens, mapping): tokens[0] = "<s>", then the frequent values by descending
    count; mapping sends every value seen to a token index."""
    from jazzd.grammar.values import format_value
    counts = Counter(v for vs in value_lists for v in vs)
    frequent = [v for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], format_value(kv[0])))
                if n >= min_count]
    kinds = {v.kind for v in frequent}
    # a kind with no frequent value keeps its most common value, so it is never lost
    for v, n in counts.most_common():
        if v.kind not in kinds:
            frequent.append(v)
            kinds.add(v.kind)
    tokens = [START] + [format_value(v) for v in frequent]
    index = {v: i + 1 for i, v in enumerate(frequent)}
    return tokens, index, frequent


class Encoder:
    """Values → token ids, mapping unknown and rare values to the nearest frequent one."""

    def __init__(self, index, frequent):
        self.index = dict(index)
        self.frequent = frequent
        self.remapped = Counter()

    def __call__(self, v):
        i = self.index.get(v)
        if i is None or v in self.remapped:
            self.remapped[v] += 1
        if i is None:
            near = nearest_frequent(v, self.frequent)
            if near is None:
                near = min(self.frequent, key=lambda f: (abs(f.ticks - v.ticks), f.kind))
            i = self.index[v] = self.index[near]
        return i
