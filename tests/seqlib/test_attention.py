"""Tests of seqlib.attention: numpy references, masking, shapes, contract, save/export."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqlib.attention import (
    BahdanauAttention,
    LuongAttention,
    MultiHeadSelfAttention,
    ScaledDotProductAttention,
    SinusoidalPositionalEncoding,
)

BATCH, TQ, TV = 3, 4, 5
D = 6  # query and key size, so every score (dot included) applies
DV = 7  # value size, different on purpose
ATOL = 1e-5

# Key padding: row 0 keeps 3 keys, row 1 all 5, row 2 none (fully masked).
VALUE_MASK = np.array(
    [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]],
    dtype=bool,
)

MECHANISMS = {
    "bahdanau": lambda: BahdanauAttention(units=8),
    "luong_dot": lambda: LuongAttention(score="dot"),
    "luong_general": lambda: LuongAttention(score="general"),
    "luong_concat": lambda: LuongAttention(score="concat", units=5),
    "scaled_dot": lambda: ScaledDotProductAttention(),
}


def _inputs(seed=0, tq=TQ):
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(BATCH, tq, D)).astype("float32")
    key = rng.normal(size=(BATCH, TV, D)).astype("float32")
    value = rng.normal(size=(BATCH, TV, DV)).astype("float32")
    return query, key, value


def _keras_mask(tensor):
    # The mask keras attaches to a layer's output (no public getter in keras 3).
    return np.asarray(tensor._keras_mask)


# ---------------------------------------------------------------- numpy references


def np_scores(name, layer, query, key):
    """The score of each mechanism, written from its equation, with the layer's weights."""
    if name == "bahdanau":
        wq, wk, v = (w.numpy() for w in (layer.query_kernel, layer.key_kernel, layer.score_vector))
        return np.tanh((query @ wq)[:, :, None, :] + (key @ wk)[:, None, :, :]) @ v
    if name == "luong_dot":
        return np.einsum("bqd,bkd->bqk", query, key)
    if name == "luong_general":
        return np.einsum("bqd,de,bke->bqk", query, layer.kernel.numpy(), key)
    if name == "luong_concat":
        w, v = layer.kernel.numpy(), layer.score_vector.numpy()
        scores = np.zeros((query.shape[0], query.shape[1], key.shape[1]))
        for b in range(query.shape[0]):
            for i in range(query.shape[1]):
                for j in range(key.shape[1]):
                    scores[b, i, j] = v @ np.tanh(np.concatenate([query[b, i], key[b, j]]) @ w)
        return scores
    if name == "scaled_dot":
        return np.einsum("bqd,bkd->bqk", query, key) / np.sqrt(query.shape[-1])
    raise KeyError(name)


def np_attention(scores, value, mask=None):
    """softmax over the unmasked keys, zero weight for masked ones, then the weighted sum."""
    mask = np.ones(scores.shape, bool) if mask is None else np.broadcast_to(mask, scores.shape)
    weights = np.zeros(scores.shape)
    for index in np.ndindex(scores.shape[:-1]):
        keep = mask[index]
        if keep.any():
            e = np.exp(scores[index][keep] - scores[index][keep].max())
            weights[index][keep] = e / e.sum()
    return weights @ value, weights


def np_multi_head(layer, x, mask):
    """Vaswani et al.'s multi-head self-attention, head by head, with the layer's weights."""
    w = {v.path.split("/")[-1]: v.numpy() for v in layer.weights}
    t = x.shape[1]
    outputs = np.zeros((x.shape[0], t, w["output_bias"].shape[0])) + w["output_bias"]
    all_weights = []
    for h in range(layer.num_heads):
        q = x @ w["query_kernel"][:, h] + w["query_bias"][h]
        k = x @ w["key_kernel"][:, h] + w["key_bias"][h]
        v = x @ w["value_kernel"][:, h] + w["value_bias"][h]
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(layer.key_dim)
        full_mask = mask[:, :, None] & mask[:, None, :] & np.tril(np.ones((t, t), bool))
        head, weights = np_attention(scores, v, full_mask)
        outputs += head @ w["output_kernel"][h]
        all_weights.append(weights)
    return outputs, np.stack(all_weights, axis=1)


# ---------------------------------------------------------------- parity with the references


@pytest.mark.parametrize("name", MECHANISMS)
def test_mechanism_matches_numpy_reference(name):
    layer = MECHANISMS[name]()
    query, key, value = _inputs()
    context, weights = layer(query, value, key=key, value_mask=VALUE_MASK)

    ref_context, ref_weights = np_attention(
        np_scores(name, layer, query, key), value, VALUE_MASK[:, None, :]
    )
    np.testing.assert_allclose(weights, ref_weights, atol=ATOL)
    np.testing.assert_allclose(context, ref_context, atol=ATOL)


def test_multi_head_self_attention_matches_numpy_reference():
    layer = MultiHeadSelfAttention(num_heads=2, key_dim=3, value_dim=4, output_dim=5)
    _, _, x = _inputs()
    mask = VALUE_MASK.copy()
    mask[2, :2] = True  # a row with some padding at every position kind
    layer(x)  # build, then give the biases non-zero values so they are checked too
    for variable in layer.weights:
        if variable.path.endswith("bias"):
            variable.assign(np.random.default_rng(1).normal(size=variable.shape))

    outputs, weights = layer(x, mask=mask, use_causal_mask=True)

    ref_outputs, ref_weights = np_multi_head(layer, x, mask)
    np.testing.assert_allclose(weights, ref_weights, atol=ATOL)
    np.testing.assert_allclose(outputs, ref_outputs, atol=ATOL)


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize("name", MECHANISMS)
def test_padded_keys_get_exactly_zero_weight(name):
    query, key, value = _inputs()
    context, weights = MECHANISMS[name]()(query, value, key=key, value_mask=VALUE_MASK)
    context, weights = np.asarray(context), np.asarray(weights)

    masked = np.broadcast_to(~VALUE_MASK[:, None, :], weights.shape)
    assert np.all(weights[masked] == 0.0)
    np.testing.assert_allclose(weights[:2].sum(-1), 1.0, atol=ATOL)
    # The fully masked row: no NaN, all-zero weights and context.
    assert np.all(np.isfinite(context)) and np.all(np.isfinite(weights))
    assert np.all(weights[2] == 0.0) and np.all(context[2] == 0.0)


@pytest.mark.parametrize("name", MECHANISMS)
def test_fully_masked_row_has_finite_gradients(name):
    layer = MECHANISMS[name]()
    query, key, value = (tf.constant(x) for x in _inputs())
    with tf.GradientTape() as tape:
        tape.watch([query, key, value])
        context, _ = layer(query, value, key=key, value_mask=VALUE_MASK)
        loss = tf.reduce_sum(context**2)
    for grad in tape.gradient(loss, [query, key, value, *layer.trainable_weights]):
        assert grad is not None and np.all(np.isfinite(grad))


def test_keras_masks_of_value_and_query_are_used():
    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5], [7, 0, 0, 0, 0]])
    value = keras.layers.Embedding(10, D, mask_zero=True)(ids)  # carries a keras mask
    query = tf.constant(_inputs()[0])
    layer = LuongAttention(score="general")

    implicit_context, implicit_weights = layer(query, value)
    explicit_context, explicit_weights = layer(query, value, value_mask=ids != 0)

    np.testing.assert_array_equal(implicit_weights, explicit_weights)
    np.testing.assert_array_equal(implicit_context, explicit_context)
    assert np.all(
        np.asarray(implicit_weights)[np.broadcast_to((ids == 0)[:, None], (3, TQ, TV))] == 0
    )

    # A masked query (here from the embedding's mask) gets zero weights, and the
    # context carries the query's mask on to the next layer.
    context, weights = layer(value, value)
    assert np.all(np.asarray(weights)[ids == 0] == 0.0)
    np.testing.assert_array_equal(_keras_mask(context), ids != 0)


def test_multi_head_uses_the_inputs_keras_mask():
    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5], [7, 0, 0, 0, 0]])
    x = keras.layers.Embedding(10, D, mask_zero=True)(ids)
    layer = MultiHeadSelfAttention(num_heads=2, key_dim=3)

    implicit_outputs, implicit_weights = layer(x)
    explicit_outputs, explicit_weights = layer(x, mask=ids != 0)

    np.testing.assert_array_equal(implicit_weights, explicit_weights)
    np.testing.assert_array_equal(implicit_outputs, explicit_outputs)
    padded_keys = np.broadcast_to((ids == 0)[:, None, None, :], implicit_weights.shape)
    assert np.all(np.asarray(implicit_weights)[padded_keys] == 0.0)
    np.testing.assert_array_equal(_keras_mask(implicit_outputs), ids != 0)


SELF_ATTENTION = {
    **{name: (factory, "mechanism") for name, factory in MECHANISMS.items()},
    "multi_head": (lambda: MultiHeadSelfAttention(num_heads=2, key_dim=3), "self"),
}


def _self_attend(layer, kind, x, **kwargs):
    if kind == "self":
        return layer(x, **kwargs)
    return layer(x, x, **kwargs)


@pytest.mark.parametrize("name", SELF_ATTENTION)
def test_causal_mask_hides_the_future(name):
    factory, kind = SELF_ATTENTION[name]
    layer = factory()
    x = _inputs()[1]  # (batch, 5, D)
    outputs, weights = _self_attend(layer, kind, x, use_causal_mask=True)

    future = np.triu(np.ones((TV, TV), bool), k=1)
    assert np.all(np.asarray(weights)[..., future] == 0.0)
    np.testing.assert_allclose(np.sum(weights, -1), 1.0, atol=ATOL)
    # Changing the last step changes no earlier output.
    x_changed = x.copy()
    x_changed[:, -1] += 10.0
    changed, _ = _self_attend(layer, kind, x_changed, use_causal_mask=True)
    np.testing.assert_allclose(changed[:, :-1], outputs[:, :-1], atol=ATOL)
    assert not np.allclose(changed[:, -1], outputs[:, -1])


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("name", MECHANISMS)
def test_rank2_query_is_one_step_of_rank3(name):
    layer = MECHANISMS[name]()
    query, key, value = _inputs()
    context, weights = layer(query, value, key=key, value_mask=VALUE_MASK)
    for step in range(TQ):
        step_context, step_weights = layer(query[:, step], value, key=key, value_mask=VALUE_MASK)
        assert step_context.shape == (BATCH, DV) and step_weights.shape == (BATCH, TV)
        np.testing.assert_allclose(step_context, context[:, step], atol=ATOL)
        np.testing.assert_allclose(step_weights, weights[:, step], atol=ATOL)


@pytest.mark.parametrize("name", MECHANISMS)
def test_precomputed_key_gives_the_same_result(name):
    # What a decoder does: the key-side features once, then one query per step.
    layer = MECHANISMS[name]()
    query, key, value = _inputs()
    context, weights = layer(query, value, key=key, value_mask=VALUE_MASK)
    keys = layer.precompute_key(key)
    for step in range(TQ):
        step_context, step_weights = layer(
            query[:, step], value, key=key, value_mask=VALUE_MASK, precomputed_key=keys
        )
        np.testing.assert_allclose(step_context, context[:, step], atol=ATOL)
        np.testing.assert_allclose(step_weights, weights[:, step], atol=ATOL)


def test_precompute_key_needs_a_built_layer():
    _, key, _ = _inputs()
    with pytest.raises(ValueError, match="must be built"):
        BahdanauAttention(units=4).precompute_key(key)


def test_causal_mask_with_rank2_query_is_an_error():
    query, _, value = _inputs()
    with pytest.raises(ValueError, match="rank-3 query"):
        BahdanauAttention(units=4)(query[:, 0], value, use_causal_mask=True)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match=r"Expected one of .*Received: score='cosine'"):
        LuongAttention(score="cosine")
    with pytest.raises(ValueError, match="units"):
        LuongAttention(score="dot", units=4)
    with pytest.raises(ValueError, match="Received: mode='concat'"):
        SinusoidalPositionalEncoding(mode="concat")
    query, _, value = _inputs()
    with pytest.raises(ValueError, match="same size"):
        LuongAttention(score="dot")(query, value)  # D != DV
    with pytest.raises(ValueError, match="same size"):
        ScaledDotProductAttention()(query, value)


def test_dropout_acts_on_the_context_and_returns_the_undropped_weights():
    query, key, value = _inputs()
    layer = BahdanauAttention(units=8, dropout=0.5, seed=1)
    reference = BahdanauAttention(units=8)
    reference(query, value, key=key)
    layer(query, value, key=key)
    layer.set_weights(reference.get_weights())

    inference = layer(query, value, key=key, training=False)
    training = layer(query, value, key=key, training=True)
    expected = reference(query, value, key=key)
    np.testing.assert_allclose(inference[0], expected[0], atol=ATOL)
    np.testing.assert_allclose(training[1], expected[1], atol=ATOL)
    assert not np.allclose(training[0], expected[0])


# ---------------------------------------------------------------- contract over every class

CONTRACT = {
    **{name: (factory, "mechanism") for name, factory in MECHANISMS.items()},
    "multi_head": (
        lambda: MultiHeadSelfAttention(num_heads=2, key_dim=3, value_dim=4, output_dim=DV),
        "self",
    ),
}


@pytest.mark.parametrize("name", CONTRACT)
def test_attention_contract(name):
    factory, kind = CONTRACT[name]
    layer = factory()
    query, key, value = (tf.constant(x) for x in _inputs())
    with tf.GradientTape() as tape:
        tape.watch([query, key, value])
        if kind == "self":
            outputs, weights = layer(value, mask=VALUE_MASK[1:2].repeat(BATCH, 0))
            expected = (BATCH, TV, DV), (BATCH, 2, TV, TV)
            sources = [value]
        else:
            outputs, weights = layer(query, value, key=key)
            expected = (BATCH, TQ, DV), (BATCH, TQ, TV)
            sources = [query, key, value]
        loss = tf.reduce_sum(outputs**2) + tf.reduce_sum(weights * tf.range(TV, dtype="float32"))

    assert (tuple(outputs.shape), tuple(weights.shape)) == expected
    np.testing.assert_allclose(np.sum(weights, -1), 1.0, atol=ATOL)
    grads = tape.gradient(loss, sources + layer.trainable_weights)
    for variable, grad in zip(sources + layer.trainable_weights, grads, strict=True):
        assert grad is not None, getattr(variable, "path", "input")
        assert np.all(np.isfinite(grad)) and np.any(np.asarray(grad) != 0)

    # get_config() holds every __init__ argument and rebuilds an equal layer.
    config = layer.get_config()
    init_args = set(inspect.signature(type(layer).__init__).parameters) - {"self", "kwargs"}
    assert init_args <= set(config)
    assert type(layer).from_config(config).get_config() == config


# ---------------------------------------------------------------- graphs, save, export


def _all_classes_model():
    query = keras.Input((TQ, D), name="query")
    value = keras.Input((TV, D), name="value")
    value_mask = keras.Input((TV,), dtype="bool", name="value_mask")
    x = SinusoidalPositionalEncoding(max_length=16)(value)
    x, self_weights = MultiHeadSelfAttention(num_heads=2, key_dim=3)(
        x, mask=value_mask, use_causal_mask=True
    )
    outputs = {"self_weights": self_weights}
    for name, factory in MECHANISMS.items():
        layer = factory()
        outputs[name], outputs[f"{name}_weights"] = layer(query, x, value_mask=value_mask)
    step, _ = BahdanauAttention(units=4)(query[:, 0], x, value_mask=value_mask)
    outputs["step"] = step
    return keras.Model([query, value, value_mask], outputs)


def test_keras_save_load_and_export_round_trip(tmp_path):
    model = _all_classes_model()
    query, _, value = _inputs()
    inputs = [query, value[..., :D], VALUE_MASK]
    expected = model.predict(inputs, verbose=0)

    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    got = loaded.predict(inputs, verbose=0)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)

    model.export(str(tmp_path / "saved_model"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "saved_model"))  # keep it alive while serving
    served = reloaded.serve(inputs)
    for key in expected:
        np.testing.assert_allclose(served[key], expected[key], atol=ATOL, err_msg=key)


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_compiled_tf_function_with_unknown_shapes(jit_compile):
    layers = {name: factory() for name, factory in MECHANISMS.items()}
    multi_head = MultiHeadSelfAttention(num_heads=2, key_dim=3)
    encoding = SinusoidalPositionalEncoding(max_length=16)

    def run(query, value, mask):
        outputs = {}
        for name, layer in layers.items():
            outputs[name] = layer(query, value, value_mask=mask, use_causal_mask=True)[0]
        outputs["multi_head"] = multi_head(encoding(value), mask=mask, use_causal_mask=True)[0]
        return outputs

    spec = [
        tf.TensorSpec((None, None, D), tf.float32),
        tf.TensorSpec((None, None, D), tf.float32),
        tf.TensorSpec((None, None), tf.bool),
    ]
    query, key, _ = _inputs()
    eager = run(query, key, VALUE_MASK)
    compiled = tf.function(run, input_signature=spec, jit_compile=jit_compile)(
        query, key, VALUE_MASK
    )
    for name in eager:
        np.testing.assert_allclose(compiled[name], eager[name], atol=ATOL, err_msg=name)


# ---------------------------------------------------------------- positional encoding


@pytest.mark.parametrize("d_model", [6, 7])
def test_sinusoidal_encoding_is_the_closed_form(d_model):
    x = np.random.default_rng(0).normal(size=(BATCH, TV, d_model)).astype("float32")
    encoding = np.asarray(SinusoidalPositionalEncoding(max_length=8, mode="encoding")(x))
    added = np.asarray(SinusoidalPositionalEncoding(max_length=8)(x))

    expected = np.zeros((TV, d_model))
    for pos in range(TV):
        for i in range(0, d_model, 2):
            expected[pos, i] = np.sin(pos / 10000 ** (i / d_model))
            if i + 1 < d_model:
                expected[pos, i + 1] = np.cos(pos / 10000 ** (i / d_model))
    assert encoding.shape == (BATCH, TV, d_model)
    np.testing.assert_allclose(encoding, np.broadcast_to(expected, x.shape), atol=ATOL)
    np.testing.assert_allclose(added, x + expected, atol=ATOL)


def test_sinusoidal_encoding_limits_and_mask():
    layer = SinusoidalPositionalEncoding(max_length=4)
    with pytest.raises(ValueError, match="max_length=4"):
        layer(np.zeros((1, 5, 6), "float32"))
    ids = np.array([[1, 2, 0, 0]])
    outputs = layer(keras.layers.Embedding(5, 6, mask_zero=True)(ids))
    np.testing.assert_array_equal(_keras_mask(outputs), ids != 0)
