"""Training: corpora → values → a Keras model → a model directory. The only package
that imports TensorFlow or music21, and only inside functions."""
