"""The improviser's brain: model directories, the NumPy LSTM runtime, the style
controls and the performer that turns them into values and pitches. No TensorFlow."""
