"""Judging the music: the style gap (can a classifier tell jazzd's choruses from
held-out human ones, and where do they differ?). scikit-learn is the optional `eval`
extra, imported only when a gap is measured."""
