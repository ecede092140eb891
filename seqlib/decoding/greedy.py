"""Greedy search."""

import tensorflow as tf

from seqlib.decoding.common import decode_loop


def greedy_search(
    step_fn,
    initial_state,
    start_ids,
    end_id,
    max_length,
    repetition_penalty=1.0,
    no_repeat_ngram_size=0,
):
    """Decodes by taking the most likely token at every step.

    Runs as one `tf.while_loop`, so it works eagerly, inside a `tf.function`
    with an unknown batch size and in a SavedModel. The loop stops early once
    every sequence has emitted `end_id`.

    Two repetition guards change the logits of every step before the token is
    chosen (`seqlib.decoding.guard_logits`); the scores are then the
    log-probabilities of the guarded distribution. When every token of a step
    is blocked (a tiny vocabulary, a long sequence), the model's most likely
    token is taken and the score becomes `-inf`.

    Args:
        step_fn: Callable `step_fn(ids, state, time) -> (logits, new_state)`,
            see `seqlib.decoding`.
        initial_state: Nest of tensors, each `(batch, ...)`, handed to the
            first call of `step_fn`.
        start_ids: int `(batch,)`. The token fed to the first step.
        end_id: int, or `None` or -1 for no end token (every sequence then
            runs to `max_length`).
        max_length: int >= 1, or a scalar int tensor. Most tokens emitted
            per sequence, end token included.
        repetition_penalty: float > 0, or a scalar float tensor. The logit of
            every token the sequence already emitted (the start token aside) is
            divided by it when positive and multiplied by it when negative
            (CTRL, Keskar et al. 2019). 1 is off; about 1.2 is usual.
        no_repeat_ngram_size: int >= 0. A token that would complete an n-gram
            of this many tokens the sequence already emitted is never chosen
            (fairseq, Hugging Face). 0 is off.

    Returns:
        A `DecodeResult`: `ids` int32 `(batch, max_length)`, padded with
        `end_id` after the end token; `lengths` int32 `(batch,)`, counting the
        end token, `max_length` for a sequence that never ended; `scores`
        float32 `(batch,)`, the sum of the log-probabilities of the emitted
        tokens, end token included.

    Example:

    ```python
    table = tf.math.log(tf.constant([[0.1, 0.6, 0.3], [0.7, 0.1, 0.2], [0.2, 0.2, 0.6]]))

    def step_fn(ids, state, time):
        return tf.gather(table, ids), state  # a bigram model

    result = greedy_search(step_fn, (), start_ids=[2, 1], end_id=0, max_length=4)
    # result.ids: [[2, 2, 2, 2], [0, 0, 0, 0]]; result.lengths: [4, 1]
    ```
    """

    def select(logits, time):
        return tf.argmax(logits, axis=-1, output_type=tf.int32)  # (batch,)

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
