"""Pieces shared by the decoders: the result type, beam tiling, argument checks,
the repetition guards and the step loop of greedy search and sampling."""

import collections
import numbers

import tensorflow as tf

DecodeResult = collections.namedtuple("DecodeResult", ["ids", "lengths", "scores"])
DecodeResult.__doc__ = """The output of a decoder.

Fields:
    ids: int32 token ids, `(batch, max_length)`, or `(batch, beam_width,
        max_length)` for beam search. Position `t` holds the token emitted at
        step `t` (the start token is not included). Positions after the end
        token hold `end_id`, or 0 when there is no end token.
    lengths: int32 number of emitted tokens, end token included, `(batch,)` or
        `(batch, beam_width)`. `max_length` for a sequence that never emitted
        the end token.
    scores: float32 `(batch,)` or `(batch, beam_width)`. For greedy search and
        sampling, the sum of the model's log-probabilities of the emitted
        tokens; for beam search, that sum divided by the length penalty. With
        repetition guards on, the log-probabilities are those of the guarded
        distribution (`guard_logits`).
"""


def tile_to_beam(nest, beam_width):
    """Repeats every batch entry of a nest of tensors `beam_width` times.

    The result is batch-major: rows `b * beam_width` to
    `b * beam_width + beam_width - 1` are copies of batch entry `b`. This is
    the layout `beam_search` hands to `step_fn`.

    Args:
        nest: A tensor, or a nest (tuple, list, dict) of tensors, each with a
            leading batch dimension.
        beam_width: int >= 1. Number of copies of each batch entry.

    Returns:
        The nest with every tensor `(batch, ...)` turned into
        `(batch * beam_width, ...)`.

    Example:

    ```python
    state = {"h": tf.constant([[1.0], [2.0]])}
    tile_to_beam(state, 3)["h"][:, 0]
    # [1., 1., 1., 2., 2., 2.]
    ```
    """
    check_beam_width(beam_width)
    return tf.nest.map_structure(lambda x: tf.repeat(x, beam_width, axis=0), nest)


def is_python_number(x):
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def _check_positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ValueError(f"Expected `{name}` to be an int >= 1. Received: {name}={value}")
    if value < 1:
        raise ValueError(f"Expected `{name}` >= 1. Received: {name}={value}")


def check_beam_width(beam_width):
    _check_positive_int("beam_width", beam_width)


def check_max_length(max_length):
    """Returns `max_length` checked: a Python int >= 1, or a scalar int tensor.

    A tensor lets the bound depend on the input (say, twice the source length)
    or be a serving input; its value is not checked, and a value below 1
    decodes nothing.
    """
    if tf.is_tensor(max_length):
        if max_length.shape.rank not in (None, 0) or not max_length.dtype.is_integer:
            raise ValueError(
                "Expected `max_length` to be an int or a scalar int tensor. Received: "
                f"max_length={max_length!r}"
            )
        return tf.cast(max_length, tf.int32)
    _check_positive_int("max_length", max_length)
    return max_length


def resolve_end_id(end_id):
    """Returns `end_id` as an int, or `None` when there is no end token."""
    if end_id is None:
        return None
    if not isinstance(end_id, numbers.Integral) or isinstance(end_id, bool):
        raise ValueError(
            f"Expected `end_id` to be an int >= 0, or -1 or None for no end token. "
            f"Received: end_id={end_id}"
        )
    if end_id == -1:
        return None
    if end_id < 0:
        raise ValueError(
            f"Expected `end_id` to be an int >= 0, or -1 or None for no end token. "
            f"Received: end_id={end_id}"
        )
    return int(end_id)


def pad_id(end_id):
    """The id written after the end of a sequence."""
    return 0 if end_id is None else end_id


def start_ids_tensor(start_ids):
    start_ids = tf.convert_to_tensor(start_ids)
    if start_ids.shape.rank is not None and start_ids.shape.rank != 1:
        raise ValueError(
            f"Expected `start_ids` of shape (batch,). Received: start_ids.shape={start_ids.shape}"
        )
    return tf.cast(start_ids, tf.int32)


def shape_invariants(loop_vars):
    # The batch size may change between calls of an exported function, and a
    # `step_fn` may return states whose batch dimension is less specific than
    # the initial ones: relax the leading dimension of every batched tensor.
    def relax(x):
        shape = x.shape
        if shape.rank is None or shape.rank == 0:
            return shape
        return tf.TensorShape([None]).concatenate(shape[1:])

    return tf.nest.map_structure(relax, loop_vars)


def check_guards(repetition_penalty, no_repeat_ngram_size):
    """Checks the repetition guards; returns whether any is on.

    A Python `repetition_penalty` of 1 and a `no_repeat_ngram_size` of 0 are
    off, and then the decoders run exactly the ops they run without guards. A
    tensor penalty is always applied (a penalty of 1 changes no logit).
    """
    if tf.is_tensor(repetition_penalty):
        if (
            repetition_penalty.shape.rank not in (None, 0)
            or not repetition_penalty.dtype.is_floating
        ):
            raise ValueError(
                "Expected `repetition_penalty` to be a number > 0 or a scalar float tensor. "
                f"Received: repetition_penalty={repetition_penalty!r}"
            )
    elif not is_python_number(repetition_penalty) or not repetition_penalty > 0:
        raise ValueError(
            "Expected `repetition_penalty` to be a number > 0 or a scalar float tensor. "
            f"Received: repetition_penalty={repetition_penalty!r}"
        )
    if (
        not isinstance(no_repeat_ngram_size, numbers.Integral)
        or isinstance(no_repeat_ngram_size, bool)
        or no_repeat_ngram_size < 0
    ):
        raise ValueError(
            "Expected `no_repeat_ngram_size` to be an int >= 0. "
            f"Received: no_repeat_ngram_size={no_repeat_ngram_size!r}"
        )
    return tf.is_tensor(repetition_penalty) or repetition_penalty != 1 or no_repeat_ngram_size > 0


def _token_mask(tokens, valid, vocab):
    """bool `(n, vocab)`: True where row `i` has `valid[i, j]` with `tokens[i, j]`.

    A scatter, so the memory is `(n, vocab)`, not `(n, length, vocab)`.
    """
    n = tf.shape(tokens)[0]
    rows = tf.broadcast_to(tf.range(n)[:, None], tf.shape(tokens))  # (n, length)
    indices = tf.reshape(tf.stack([rows, tokens], axis=-1), [-1, 2])  # (n * length, 2)
    counts = tf.scatter_nd(
        indices, tf.reshape(tf.cast(valid, tf.int32), [-1]), tf.stack([n, vocab])
    )  # (n, vocab)
    return counts > 0


def guard_logits(logits, history, time, repetition_penalty=1.0, no_repeat_ngram_size=0):
    """Applies the repetition guards to one step's logits.

    The history is what a hypothesis emitted before step `time`: the start
    token is not part of it.

    - Repetition penalty (CTRL, Keskar et al. 2019, "CTRL: A Conditional
      Transformer Language Model for Controllable Generation",
      https://arxiv.org/abs/1909.05858; Hugging Face's
      `RepetitionPenaltyLogitsProcessor`): the logit of every token already in
      the history is divided by `repetition_penalty` when positive and
      multiplied by it when negative, so a penalty above 1 makes repeats less
      likely. 1 is off.
    - No repeated n-gram (fairseq's and Hugging Face's `no_repeat_ngram_size`):
      a token that would complete an n-gram of `no_repeat_ngram_size` tokens
      already in the history gets a logit of `-inf`. With 1 no token repeats;
      0 is off.

    Args:
        logits: float `(n, vocab)`.
        history: int `(n, max_length)`: the tokens emitted so far by each row,
            at positions `0 .. time - 1`; later positions are ignored but must
            hold valid ids.
        time: int scalar: the step whose token the logits choose.
        repetition_penalty: float > 0, or a scalar float tensor.
        no_repeat_ngram_size: int >= 0.

    Returns:
        float32 `(n, vocab)` logits; `-inf` where a token is blocked.

    Example:

    ```python
    logits = tf.constant([[2.0, -1.0, 0.5]])
    history = tf.constant([[0, 1, 0, 2]])
    guard_logits(logits, history, time=3, repetition_penalty=2.0)
    # [[1.0, -2.0, 0.5]]: tokens 0 and 1 were emitted; position 3 is not history
    guard_logits(logits, history, time=3, no_repeat_ngram_size=2)
    # [[2.0, -inf, 0.5]]: "0 1" was emitted and the last token is 0
    ```
    """
    penalty = repetition_penalty
    size = no_repeat_ngram_size
    logits = tf.cast(logits, tf.float32)
    history = tf.cast(history, tf.int32)
    time = tf.cast(time, tf.int32)
    vocab = tf.shape(logits)[-1]
    length = tf.shape(history)[1]
    if tf.is_tensor(penalty) or penalty != 1:
        emitted = tf.broadcast_to(tf.range(length)[None, :] < time, tf.shape(history))
        seen = _token_mask(history, emitted, vocab)  # (n, vocab)
        penalty = tf.cast(penalty, tf.float32)
        penalised = tf.where(logits > 0, logits / penalty, logits * penalty)
        logits = tf.where(seen, penalised, logits)
    if size > 0:
        # The n-gram starting at `start` is history[start : start + size]; it
        # blocks its last token when it is complete before `time` and its first
        # size - 1 tokens equal the last size - 1 tokens emitted.
        count = length - size + 1
        starts = tf.range(tf.maximum(count, 0))  # (count,)
        match = tf.broadcast_to(
            starts[None, :] <= time - size, [tf.shape(history)[0], tf.size(starts)]
        )
        for k in range(size - 1):
            last = tf.gather(history, tf.maximum(time - size + 1 + k, 0), axis=1)  # (n,)
            match &= tf.equal(history[:, k : k + count], last[:, None])  # (n, count)
        blocked = _token_mask(history[:, size - 1 : size - 1 + count], match, vocab)
        logits = tf.where(blocked, float("-inf"), logits)
    return logits


def guarded_log_softmax(logits):
    """`tf.nn.log_softmax`, but `-inf` (not NaN) for a row whose logits are all `-inf`."""
    blocked = tf.reduce_all(tf.equal(logits, float("-inf")), axis=-1, keepdims=True)
    return tf.where(blocked, float("-inf"), tf.nn.log_softmax(logits))


def prepare_inputs(initial_state, start_ids, end_id, max_length):
    """Checks and converts what every decoder takes: returns
    `(end_id, pad_id, start_ids, initial_state, max_length)`."""
    max_length = check_max_length(max_length)
    end_id = resolve_end_id(end_id)
    start_ids = start_ids_tensor(start_ids)
    initial_state = tf.nest.map_structure(tf.convert_to_tensor, initial_state)
    return end_id, pad_id(end_id), start_ids, initial_state, max_length


def decode_loop(
    step_fn,
    initial_state,
    start_ids,
    end_id,
    max_length,
    select_fn,
    repetition_penalty=1.0,
    no_repeat_ngram_size=0,
):
    """Runs `step_fn` one token at a time, choosing each token with `select_fn`.

    `select_fn(logits, time) -> ids` gets float32 `(batch, vocab)` logits (after
    the repetition guards, see `guard_logits`) and returns int32 `(batch,)`
    token ids. A row whose every token is blocked by the guards takes the
    model's most likely token, and its score becomes `-inf`. Used by greedy
    search and sampling.
    """
    guarded = check_guards(repetition_penalty, no_repeat_ngram_size)
    end_id, pad, start_ids, initial_state, max_length = prepare_inputs(
        initial_state, start_ids, end_id, max_length
    )
    batch = tf.shape(start_ids)[0]
    positions = tf.range(max_length)  # (max_length,)

    def cond(time, ids, state, seq, lengths, scores, finished):
        return (time < max_length) & tf.logical_not(tf.reduce_all(finished))

    def body(time, ids, state, seq, lengths, scores, finished):
        logits, state = step_fn(ids, state, time)
        logits = tf.cast(logits, tf.float32)  # (batch, vocab)
        if guarded:
            model_logits = logits
            logits = guard_logits(logits, seq, time, repetition_penalty, no_repeat_ngram_size)
            log_probs = guarded_log_softmax(logits)  # (batch, vocab)
            new_ids = tf.cast(select_fn(logits, time), tf.int32)  # (batch,)
            blocked = tf.reduce_all(tf.equal(logits, float("-inf")), axis=-1)  # (batch,)
            best = tf.argmax(model_logits, axis=-1, output_type=tf.int32)
            new_ids = tf.where(blocked, best, new_ids)
        else:
            log_probs = tf.nn.log_softmax(logits)  # (batch, vocab)
            new_ids = tf.cast(select_fn(logits, time), tf.int32)  # (batch,)
        new_ids = tf.where(finished, pad, new_ids)
        token_log_probs = tf.gather(log_probs, new_ids, batch_dims=1)  # (batch,)
        scores = scores + tf.where(finished, 0.0, token_log_probs)
        seq = tf.where(positions[None, :] == time, new_ids[:, None], seq)  # (batch, max_length)
        if end_id is not None:
            just_ended = tf.logical_not(finished) & tf.equal(new_ids, end_id)
            lengths = tf.where(just_ended, time + 1, lengths)
            finished = finished | just_ended
        return time + 1, new_ids, state, seq, lengths, scores, finished

    loop_vars = (
        tf.constant(0, tf.int32),
        start_ids,
        initial_state,
        tf.fill([batch, max_length], tf.constant(pad, tf.int32)),
        tf.fill([batch], tf.cast(max_length, tf.int32)),
        tf.zeros([batch], tf.float32),
        tf.zeros([batch], tf.bool),
    )
    _, _, _, seq, lengths, scores, _ = tf.while_loop(
        cond,
        body,
        loop_vars,
        shape_invariants=shape_invariants(loop_vars),
        maximum_iterations=max_length,
    )
    return DecodeResult(ids=seq, lengths=lengths, scores=scores)
