"""The Keras side of the model: build it, move weights between it and a model
directory, seed it. The only module that imports TensorFlow, and only when called."""

import os

from jazzd.service.errors import UserError


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf
        import keras
    except ImportError as e:
        raise UserError(f"jazzd train needs TensorFlow: pip install 'jazzd[train]' ({e})",
                        status=69) from None
    return tf, keras


def build_keras_model(V, E, U, C, stateful=False, weights=None, batch=None, dropout=0.0):
    """embedding(V, E) [+ condition C] → LSTM(U) → Dense(V) logits, over sequences.

    `stateful=True` builds a batch-1 model that carries its state across calls (the
    runtime's behaviour, used by the parity test and the benchmark). `weights`: a dict
    in the model-directory layout to load.
    """
    tf, keras = _tf()
    batch = batch or (1 if stateful else None)
    tok = keras.Input(shape=(None,), batch_size=batch, dtype="int32", name="token")
    x = keras.layers.Embedding(V, E, name="embedding")(tok)
    inputs = [tok]
    if C:
        cond = keras.Input(shape=(None, C), batch_size=batch, dtype="float32", name="cond")
        x = keras.layers.Concatenate(name="concat")([x, cond])
        inputs.append(cond)
    x = keras.layers.LSTM(U, return_sequences=True, stateful=stateful, dropout=dropout,
                          name="lstm")(x)
    if dropout:     # training only: inference (and the NumPy runtime) ignore it
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    out = keras.layers.Dense(V, name="dense")(x)
    model = keras.Model(inputs if C else tok, out)
    if weights is not None:
        set_weights(model, weights)
    return model


def get_weights(model):
    """The model-directory arrays of a model built by `build_keras_model`."""
    emb, = model.get_layer("embedding").get_weights()
    kernel, recurrent, bias = model.get_layer("lstm").get_weights()
    dk, db = model.get_layer("dense").get_weights()
    return {"embedding": emb, "lstm_kernel": kernel, "lstm_recurrent": recurrent,
            "lstm_bias": bias, "dense_kernel": dk, "dense_bias": db}


def set_weights(model, w):
    model.get_layer("embedding").set_weights([w["embedding"]])
    model.get_layer("lstm").set_weights([w["lstm_kernel"], w["lstm_recurrent"], w["lstm_bias"]])
    model.get_layer("dense").set_weights([w["dense_kernel"], w["dense_bias"]])


def _seed_everything(seed):
    tf, keras = _tf()
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # already enabled, or an old TF
        pass
