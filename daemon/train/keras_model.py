"""The Keras side of the network: build it, move weights between it and a model
directory, seed it. TensorFlow is imported only when one of these is called.

The network (docs/MODEL.md): the previous value's kind, duration and step, each
embedded, plus the condition of the next onset → a recurrent cell (LSTM, GRU, or a
causal stack of gated dilated convolutions) → three heads. The duration head also
reads the kind being predicted and the step head the kind and the duration (teacher
forcing while training: the true ones; the daemon feeds the ones it drew), so the
three are sampled in turn and a joint vocabulary is never built.
"""

import os

from jazzd.service.errors import UserError

EMBED = (8, 16, 16)            # widths of the kind, duration and step embeddings
CONV_LAYERS = 6                # dilations 1 .. 32: 64 values of context


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import keras
        import tensorflow as tf
    except ImportError as e:
        raise UserError(f"jazzd train needs TensorFlow and music21, which are not "
                        f"installed ({e}): in the jazzd source tree run "
                        f"`scripts/setup-venv.sh train` (or `.venv/bin/pip install -e "
                        f"'.[train]'`)", status=69) from None
    return tf, keras


def build_network(K, D, S, C, U=128, cell="lstm", embed=EMBED, stateful=False,
                  batch=None, dropout=0.0, weights=None, conv_layers=CONV_LAYERS):
    """The network over sequences. Inputs, in order: prev_kind, prev_dur, prev_step
    (int, 0 = nothing), cond (C floats), kind, dur (int targets fed to the later
    heads). Outputs: {"kind": (K), "dur": (D), "step": (S)} logits.

    `stateful=True` builds a model that carries its state across calls (batch 1 unless
    `batch`): the daemon's behaviour, used by training, the parity test and the bench.
    """
    tf, keras = _tf()
    L, ops = keras.layers, keras.ops
    batch = batch or (1 if stateful else None)

    def inp(name, shape=(None,), dtype="int32"):
        return keras.Input(shape=shape, batch_size=batch, dtype=dtype, name=name)

    pk, pd, ps = inp("prev_kind"), inp("prev_dur"), inp("prev_step")
    cond = inp("cond", (None, C), "float32")
    tk, td = inp("kind"), inp("dur")
    x = L.Concatenate(name="input")([
        L.Embedding(K + 1, embed[0], name="embed_kind")(pk),
        L.Embedding(D + 1, embed[1], name="embed_dur")(pd),
        L.Embedding(S + 1, embed[2], name="embed_step")(ps), cond])
    if cell == "lstm":
        h = L.LSTM(U, return_sequences=True, stateful=stateful, name="lstm")(x)
    elif cell == "gru":
        h = L.GRU(U, return_sequences=True, stateful=stateful, reset_after=True,
                  name="gru")(x)
    elif cell == "conv":
        h = L.Dense(U, name="conv_in")(x)
        for i in range(conv_layers):
            z = L.Conv1D(2 * U, 2, dilation_rate=2 ** i, padding="causal",
                         name=f"conv{i}")(h)
            y = L.Multiply()([L.Activation("tanh")(z[..., :U]),
                              L.Activation("sigmoid")(z[..., U:])])
            h = L.Add()([h, L.Dense(U, name=f"conv{i}_res")(y)])
    else:
        raise ValueError(f"unknown cell {cell!r}")
    if dropout:                  # training only: inference (and NumPy) never drops
        h = L.Dropout(dropout, name="dropout")(h)
    hk = ops.one_hot(tk, K)
    hd = ops.one_hot(td, D)
    out = {"kind": L.Dense(K, name="kind_head")(h),
           "dur": L.Dense(D, name="dur_head")(L.Concatenate()([h, hk])),
           "step": L.Dense(S, name="step_head")(L.Concatenate()([h, hk, hd]))}
    model = keras.Model([pk, pd, ps, cond, tk, td], out)
    if weights is not None:
        set_weights(model, weights, cell)
    return model


def get_weights(model, cell="lstm"):
    """The model-directory arrays of a network built by `build_network`."""
    w = {}
    for name in ("embed_kind", "embed_dur", "embed_step"):
        w[name], = model.get_layer(name).get_weights()
    for head, key in (("kind_head", "kind"), ("dur_head", "dur"), ("step_head", "step")):
        w[f"{key}_kernel"], w[f"{key}_bias"] = model.get_layer(head).get_weights()
    if cell in ("lstm", "gru"):
        w[f"{cell}_kernel"], w[f"{cell}_recurrent"], w[f"{cell}_bias"] = \
            model.get_layer(cell).get_weights()
    else:
        w["conv_in_kernel"], w["conv_in_bias"] = model.get_layer("conv_in").get_weights()
        i = 0
        while _has_layer(model, f"conv{i}"):
            w[f"conv{i}_kernel"], w[f"conv{i}_bias"] = model.get_layer(f"conv{i}").get_weights()
            w[f"conv{i}_res_kernel"], w[f"conv{i}_res_bias"] = \
                model.get_layer(f"conv{i}_res").get_weights()
            i += 1
    return w


def set_weights(model, w, cell="lstm"):
    for name in ("embed_kind", "embed_dur", "embed_step"):
        model.get_layer(name).set_weights([w[name]])
    for head, key in (("kind_head", "kind"), ("dur_head", "dur"), ("step_head", "step")):
        model.get_layer(head).set_weights([w[f"{key}_kernel"], w[f"{key}_bias"]])
    if cell in ("lstm", "gru"):
        model.get_layer(cell).set_weights([w[f"{cell}_kernel"], w[f"{cell}_recurrent"],
                                           w[f"{cell}_bias"]])
    else:
        model.get_layer("conv_in").set_weights([w["conv_in_kernel"], w["conv_in_bias"]])
        i = 0
        while _has_layer(model, f"conv{i}"):
            model.get_layer(f"conv{i}").set_weights([w[f"conv{i}_kernel"], w[f"conv{i}_bias"]])
            model.get_layer(f"conv{i}_res").set_weights([w[f"conv{i}_res_kernel"],
                                                         w[f"conv{i}_res_bias"]])
            i += 1


def _has_layer(model, name):
    return any(layer.name == name for layer in model.layers)


def reset_states(model):
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()


def seed_everything(seed):
    tf, keras = _tf()
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # noqa: BLE001 - already enabled, or an old TF
        pass
