"""Beam search with finished hypotheses kept apart and the GNMT length penalty."""

import tensorflow as tf

from seqlib.decoding.common import (
    DecodeResult,
    check_beam_width,
    check_guards,
    guard_logits,
    guarded_log_softmax,
    prepare_inputs,
    shape_invariants,
    tile_to_beam,
)

NEG_INF = float("-inf")


def gnmt_length_penalty(lengths, alpha):
    """The length penalty of Wu et al. (2016): `((5 + length) / 6) ** alpha`.

    "Google's Neural Machine Translation System",
    https://arxiv.org/abs/1609.08144. A beam search score is the sum of the
    log-probabilities divided by this penalty; `alpha = 0` gives 1.

    Args:
        lengths: int or float tensor of any shape.
        alpha: float or scalar tensor.

    Returns:
        float32 tensor of the shape of `lengths`.
    """
    lengths = tf.cast(lengths, tf.float32)
    return tf.pow((5.0 + lengths) / 6.0, tf.cast(alpha, tf.float32))


def beam_search(
    step_fn,
    initial_state,
    start_ids,
    end_id,
    max_length,
    beam_width,
    length_penalty=0.0,
    repetition_penalty=1.0,
    no_repeat_ngram_size=0,
):
    """Beam search that keeps alive and finished hypotheses apart.

    Every step extends the `beam_width` alive hypotheses of each batch entry
    by every token. Extensions ending in `end_id` go to a finished set of
    `beam_width` hypotheses per batch entry and are never extended again; the
    `beam_width` best other extensions stay alive. A finished hypothesis thus
    never takes the slot of an alive one (the scheme of tensor2tensor). At the
    last step every extension is finished, with length `max_length`.

    A hypothesis of `length` tokens (end token included) and log-probability
    `log_prob` (sum over its tokens, end token included) scores
    `log_prob / ((5 + length) / 6) ** length_penalty`. Alive hypotheses are
    ranked by `log_prob` alone, as they all have the same length.

    The loop stops early once, for every batch entry, no alive hypothesis can
    reach a score above the worst of `beam_width` finished ones. Log-probabilities
    only decrease as a hypothesis grows, so the best an alive hypothesis of
    log-probability `s` can reach is the largest `s / penalty(L)` over the
    lengths `L` it can still end with; with `length_penalty >= 0` that is the
    one at `max_length`. The result is therefore the same as running to
    `max_length`.

    `initial_state` is tiled with `tile_to_beam`, and every state tensor is
    gathered along the beam at every step.

    Two repetition guards change the logits of every hypothesis at every step,
    from what that hypothesis emitted, before they are normalised
    (`seqlib.decoding.guard_logits`): the search then ranks by the
    log-probabilities of the guarded distribution. A hypothesis that completes
    a blocked n-gram has log-probability `-inf` and is never kept.

    Args:
        step_fn: Callable `step_fn(ids, state, time) -> (logits, new_state)`,
            see `seqlib.decoding`; called with `batch * beam_width` rows.
        initial_state: Nest of tensors, each `(batch, ...)`.
        start_ids: int `(batch,)`. The token fed to the first step.
        end_id: int, or `None` or -1 for no end token (every hypothesis then
            runs to `max_length`).
        max_length: int >= 1, or a scalar int tensor. Most tokens per
            hypothesis, end token included.
        beam_width: int >= 1. Hypotheses kept per batch entry.
        length_penalty: float or scalar tensor, the `alpha` of the GNMT length
            penalty. 0 ranks by log-probability; about 0.6 favours longer
            outputs.
        repetition_penalty: float > 0, or a scalar float tensor. The logit of
            every token the hypothesis already emitted (the start token aside)
            is divided by it when positive and multiplied by it when negative
            (CTRL, Keskar et al. 2019). 1 is off.
        no_repeat_ngram_size: int >= 0. An extension that would complete an
            n-gram of this many tokens the hypothesis already emitted is never
            made (fairseq, Hugging Face). 0 is off.

    Returns:
        A `DecodeResult`, best first along the beam: `ids` int32
        `(batch, beam_width, max_length)` padded with `end_id` (0 without end
        token) after the end token; `lengths` int32 `(batch, beam_width)`
        counting the end token; `scores` float32 `(batch, beam_width)`. When
        fewer than `beam_width` distinct hypotheses exist, the missing ones
        have score `-inf`, length 0 and padding ids.

    Example:

    ```python
    table = tf.math.log(tf.constant([[0.1, 0.6, 0.3], [0.7, 0.1, 0.2], [0.2, 0.2, 0.6]]))

    def step_fn(ids, state, time):
        return tf.gather(table, ids), state  # a bigram model

    result = beam_search(
        step_fn, (), start_ids=[2, 1], end_id=0, max_length=4, beam_width=3
    )
    # result.ids: (2, 3, 4); result.scores[:, 0] is the best score of each row
    ```
    """
    check_beam_width(beam_width)
    guarded = check_guards(repetition_penalty, no_repeat_ngram_size)
    end_id, pad, start_ids, initial_state, max_length = prepare_inputs(
        initial_state, start_ids, end_id, max_length
    )
    batch = tf.shape(start_ids)[0]
    width = beam_width

    positions = tf.range(max_length)  # (max_length,)
    all_lengths = tf.range(max_length + 1)  # (max_length + 1,)
    # One table serves both the scores and the early-exit bound, so the two
    # compare exactly the same float values.
    penalties = gnmt_length_penalty(all_lengths, length_penalty)  # (max_length + 1,)
    row_offsets = (tf.range(batch) * width)[:, None]  # (batch, 1)

    def extend(seq, beam, token, time):
        # seq (batch, beam, max_length); beam, token (batch, beam)
        seq = tf.gather(seq, beam, batch_dims=1)
        return tf.where(positions[None, None, :] == time, token[:, :, None], seq)

    def cond(time, ids, state, seq, log_probs, fin_seq, fin_scores, fin_lengths, done):
        return (time < max_length) & tf.logical_not(done)

    def body(time, ids, state, seq, log_probs, fin_seq, fin_scores, fin_lengths, done):
        logits, state = step_fn(ids, state, time)
        if guarded:
            history = tf.reshape(seq, [batch * width, -1])  # (batch * beam, max_length)
            logits = guard_logits(logits, history, time, repetition_penalty, no_repeat_ngram_size)
            step_log_probs = guarded_log_softmax(logits)  # (batch * beam, vocab)
        else:
            step_log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))  # (batch * beam, vocab)
        vocab = tf.shape(step_log_probs)[-1]
        step_log_probs = tf.reshape(step_log_probs, [batch, width, vocab])
        candidates = log_probs[:, :, None] + step_log_probs  # (batch, beam, vocab)
        candidates = tf.reshape(candidates, [batch, width * vocab])  # (batch, beam * vocab)
        tokens = tf.tile(tf.range(vocab), [width])[None, :]  # (1, beam * vocab)
        if end_id is None:
            ends = tf.zeros_like(tokens, tf.bool)
        else:
            ends = tf.equal(tokens, end_id)

        # Alive: the best extensions that did not end.
        alive_candidates = tf.where(ends, NEG_INF, candidates)
        new_log_probs, index = tf.math.top_k(alive_candidates, k=width)  # (batch, beam)
        beam, token = index // vocab, index % vocab
        new_seq = extend(seq, beam, token, time)
        state_index = tf.reshape(row_offsets + beam, [-1])  # (batch * beam,)
        state = tf.nest.map_structure(lambda x: tf.gather(x, state_index), state)
        new_ids = tf.reshape(token, [-1])  # (batch * beam,)

        # Finished: the extensions that ended (all of them at the last step),
        # merged with those finished before. Old ones come first, so a tie
        # keeps the earlier hypothesis.
        finishing = ends | (time == max_length - 1)
        finished_candidates = tf.where(finishing, candidates / penalties[time + 1], NEG_INF)
        new_scores, index = tf.math.top_k(finished_candidates, k=width)  # (batch, beam)
        beam, token = index // vocab, index % vocab
        merged_seq = tf.concat([fin_seq, extend(seq, beam, token, time)], axis=1)
        merged_scores = tf.concat([fin_scores, new_scores], axis=1)  # (batch, 2 * beam)
        merged_lengths = tf.concat([fin_lengths, tf.fill(tf.shape(new_scores), time + 1)], axis=1)
        fin_scores, index = tf.math.top_k(merged_scores, k=width)  # (batch, beam)
        fin_seq = tf.gather(merged_seq, index, batch_dims=1)
        fin_lengths = tf.gather(merged_lengths, index, batch_dims=1)

        # Early exit: the best score an alive hypothesis can still reach, over
        # the lengths it may end with (time + 2 .. max_length).
        reachable = (all_lengths >= time + 2)[None, None, :]  # (1, 1, max_length + 1)
        best_reachable = tf.where(
            reachable, new_log_probs[:, :, None] / penalties[None, None, :], NEG_INF
        )  # (batch, beam, max_length + 1)
        bound = tf.reduce_max(best_reachable, axis=[1, 2])  # (batch,)
        worst_finished = tf.reduce_min(fin_scores, axis=1)  # (batch,)
        done = tf.reduce_all(bound <= worst_finished)
        return (
            time + 1,
            new_ids,
            state,
            new_seq,
            new_log_probs,
            fin_seq,
            fin_scores,
            fin_lengths,
            done,
        )

    # Only the first copy of each batch entry starts alive: the copies are
    # identical and would otherwise fill the beam with duplicates.
    first_only = tf.concat([tf.zeros([1]), tf.fill([width - 1], NEG_INF)], axis=0)
    loop_vars = (
        tf.constant(0, tf.int32),
        tf.repeat(start_ids, width),  # (batch * beam,)
        tile_to_beam(initial_state, width),
        tf.fill([batch, width, max_length], tf.constant(pad, tf.int32)),
        tf.tile(first_only[None, :], [batch, 1]),  # (batch, beam)
        tf.fill([batch, width, max_length], tf.constant(pad, tf.int32)),
        tf.fill([batch, width], NEG_INF),
        tf.zeros([batch, width], tf.int32),
        tf.constant(False),
    )
    outputs = tf.while_loop(
        cond,
        body,
        loop_vars,
        shape_invariants=shape_invariants(loop_vars),
        maximum_iterations=max_length,
    )
    fin_seq, fin_scores, fin_lengths = outputs[5:8]

    # The loop ends at max_length, where every alive hypothesis was moved to
    # the finished set, or early, when none could enter it any more: the
    # finished set is the answer. Slots that never held a hypothesis are
    # cleaned up.
    valid = fin_scores > NEG_INF  # (batch, beam)
    ids = tf.where(valid[:, :, None], fin_seq, pad)
    lengths = tf.where(valid, fin_lengths, 0)
    return DecodeResult(ids=ids, lengths=lengths, scores=fin_scores)
