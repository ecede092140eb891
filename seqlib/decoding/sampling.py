"""Sampling with temperature, top-k and nucleus (top-p) filtering."""

import tensorflow as tf

from seqlib.decoding.common import decode_loop, is_python_number


def filter_logits(logits, temperature=1.0, top_k=0, top_p=1.0):
    """Applies temperature, then top-k, then top-p filtering to logits.

    Removed tokens get a logit of `-inf`. Ties with the last kept logit are
    kept, so a tie can keep more than `top_k` tokens. Every argument may be a
    Python number or a scalar tensor; `top_k=0` and `top_p >= 1` switch their
    filter off, also when given as tensors.

    Nucleus filtering (Holtzman et al. 2020, "The Curious Case of Neural Text
    Degeneration", https://arxiv.org/abs/1904.09751) keeps the smallest set of
    most likely tokens whose probability, after temperature and top-k, sums to
    at least `top_p`; the most likely token is always kept.

    Args:
        logits: float `(batch, vocab)`.
        temperature: float > 0. Logits are divided by it. A temperature
            <= 0 leaves the logits unscaled (see `sample` for its meaning).
        top_k: int >= 0. Keep only the `top_k` largest logits; 0 keeps all.
        top_p: float in (0, 1]. Keep only the nucleus of mass `top_p`.

    Returns:
        float32 `(batch, vocab)`: the scaled logits, `-inf` where removed.

    Example:

    ```python
    logits = tf.math.log([[0.5, 0.3, 0.15, 0.05]])
    filter_logits(logits, top_p=0.7)
    # [[log 0.5, log 0.3, -inf, -inf]]
    ```
    """
    logits = tf.cast(logits, tf.float32)
    vocab = tf.shape(logits)[-1]
    temperature = tf.cast(temperature, tf.float32)
    top_k = tf.cast(top_k, tf.int32)
    top_p = tf.cast(top_p, tf.float32)

    scaled = logits / tf.where(temperature > 0.0, temperature, 1.0)  # (batch, vocab)
    sorted_logits = tf.sort(scaled, axis=-1, direction="DESCENDING")  # (batch, vocab)
    rank = tf.range(vocab)[None, :]  # (1, vocab)

    k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
    keep = rank < k  # (1, vocab), in sorted order
    sorted_logits = tf.where(keep, sorted_logits, float("-inf"))

    # A token stays in the nucleus when the tokens ranked above it hold less
    # than `top_p` of the mass; the first always stays. `top_p >= 1` is tested
    # on its own because a float cumulative sum can reach 1 before the tail.
    probs = tf.nn.softmax(sorted_logits, axis=-1)  # (batch, vocab)
    mass_above = tf.math.cumsum(probs, axis=-1, exclusive=True)  # (batch, vocab)
    in_nucleus = (mass_above < top_p) | (rank == 0) | (top_p >= 1.0)
    keep = keep & in_nucleus  # (batch, vocab)

    threshold = tf.reduce_min(
        tf.where(keep, sorted_logits, float("inf")), axis=-1, keepdims=True
    )  # (batch, 1)
    return tf.where(scaled >= threshold, scaled, float("-inf"))


def _check_sampling_args(temperature, top_k, top_p):
    if is_python_number(temperature) and temperature < 0:
        raise ValueError(f"Expected `temperature` >= 0. Received: temperature={temperature}")
    if is_python_number(top_k) and (top_k < 0 or int(top_k) != top_k):
        raise ValueError(f"Expected `top_k` to be an int >= 0. Received: top_k={top_k}")
    if is_python_number(top_p) and not 0.0 < top_p <= 1.0:
        raise ValueError(f"Expected `top_p` in (0, 1]. Received: top_p={top_p}")


def _seed_tensor(seed):
    if seed is None:
        return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        return tf.stack([seed, tf.zeros_like(seed)])
    if seed.shape.rank != 1 or seed.shape[0] not in (None, 2):
        raise ValueError(
            f"Expected `seed` to be None, an int or an int tensor of shape () or (2,). "
            f"Received: seed.shape={seed.shape}"
        )
    return seed


def sample(
    step_fn,
    initial_state,
    start_ids,
    end_id,
    max_length,
    temperature=1.0,
    top_k=0,
    top_p=1.0,
    seed=None,
    repetition_penalty=1.0,
    no_repeat_ngram_size=0,
):
    """Decodes by sampling every token from the filtered model distribution.

    At every step the logits go through `filter_logits` (temperature, then
    top-k, then top-p) and a token is drawn with a stateless random op, so the
    same `seed` gives the same sequences, eagerly, in a `tf.function` or in a
    SavedModel. A temperature of 0 (or <= 0 given as a tensor) takes the most
    likely token instead, which is `greedy_search`.

    `temperature`, `top_k` and `top_p` may be scalar tensors, so an exported
    model can take them as serving inputs. Python numbers are checked here;
    tensors are not.

    The repetition guards, as in `greedy_search`, apply to the model's logits
    before temperature and filtering, and the scores are then the
    log-probabilities of the guarded distribution.

    Args:
        step_fn: Callable `step_fn(ids, state, time) -> (logits, new_state)`,
            see `seqlib.decoding`.
        initial_state: Nest of tensors, each `(batch, ...)`.
        start_ids: int `(batch,)`. The token fed to the first step.
        end_id: int, or `None` or -1 for no end token.
        max_length: int >= 1, or a scalar int tensor. Most tokens emitted
            per sequence.
        temperature: float >= 0. Logits are divided by it; 0 means greedy.
        top_k: int >= 0. Sample only among the `top_k` most likely tokens;
            0 switches the filter off.
        top_p: float in (0, 1]. Sample only within the nucleus of mass
            `top_p`; 1 switches the filter off.
        seed: `None`, an int, or an int tensor of shape `()` or `(2,)`. `None`
            draws a fresh seed at every call.
        repetition_penalty: float > 0, or a scalar float tensor; 1 is off. See
            `greedy_search`.
        no_repeat_ngram_size: int >= 0; 0 is off. See `greedy_search`.

    Returns:
        A `DecodeResult` laid out as for `greedy_search`. `scores` sum the
        log-probabilities of the emitted tokens under the model's own
        distribution (before temperature and filtering; after the guards).

    Example:

    ```python
    table = tf.math.log(tf.constant([[0.1, 0.6, 0.3], [0.7, 0.1, 0.2], [0.2, 0.2, 0.6]]))

    def step_fn(ids, state, time):
        return tf.gather(table, ids), state  # a bigram model

    result = sample(step_fn, (), start_ids=[2, 2], end_id=0, max_length=8, top_k=2, seed=7)
    # result.ids: (2, 8), every token drawn from the two most likely ones
    ```
    """
    _check_sampling_args(temperature, top_k, top_p)
    seed = _seed_tensor(seed)
    greedy = tf.cast(temperature, tf.float32) <= 0.0

    def select(logits, time):
        filtered = filter_logits(logits, temperature, top_k, top_p)  # (batch, vocab)
        step_seed = tf.random.experimental.stateless_fold_in(seed, time)
        drawn = tf.random.stateless_categorical(filtered, 1, seed=step_seed, dtype=tf.int32)
        best = tf.argmax(logits, axis=-1, output_type=tf.int32)  # (batch,)
        return tf.where(greedy, best, drawn[:, 0])

    return decode_loop(
        step_fn,
        initial_state,
        start_ids,
        end_id,
        max_length,
        select,
        repetition_penalty=repetition_penalty,
        no_repeat_ngram_size=no_repeat_ngram_size,
    )
