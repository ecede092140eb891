"""Tests of seqlib.decoding against brute-force enumeration of a tiny recurrent model."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from seqlib.decoding import (
    DecodeResult,
    beam_search,
    filter_logits,
    greedy_search,
    guard_logits,
    sample,
    tile_to_beam,
)

VOCAB, END, HIDDEN = 4, 2, 3
START = 0
ATOL = 1e-5


# ---------------------------------------------------------------- a tiny model


class TinyRNN:
    """A random recurrent language model, in TensorFlow and in numpy.

    `h' = tanh(h W + E[prev] + context)`, `logits = h' U + time_bias[time]`.
    The logits depend on the whole history through `h`, and `context` is a
    constant part of the state, like encoder outputs.
    """

    def __init__(self, seed=0, max_time=8, scale=2.0):
        rng = np.random.default_rng(seed)
        self.embedding = rng.normal(size=(VOCAB, HIDDEN)).astype("float32")
        self.recurrent = rng.normal(size=(HIDDEN, HIDDEN)).astype("float32")
        self.output = (scale * rng.normal(size=(HIDDEN, VOCAB))).astype("float32")
        self.time_bias = rng.normal(size=(max_time, VOCAB)).astype("float32")

    def initial_state(self, batch, seed=1):
        rng = np.random.default_rng(seed)
        return {
            "h": rng.normal(size=(batch, HIDDEN)).astype("float32"),
            "context": rng.normal(size=(batch, HIDDEN)).astype("float32"),
        }

    def step_fn(self, ids, state, time):
        h = tf.tanh(
            tf.matmul(state["h"], self.recurrent)
            + tf.gather(self.embedding, ids)
            + state["context"]
        )  # (n, hidden)
        logits = tf.matmul(h, self.output) + tf.gather(self.time_bias, time)  # (n, vocab)
        return logits, {"h": h, "context": state["context"]}

    def np_step(self, ids, state, time):
        f = lambda x: np.asarray(x, np.float64)
        h = np.tanh(
            f(state["h"]) @ f(self.recurrent) + f(self.embedding)[ids] + f(state["context"])
        )
        logits = h @ f(self.output) + f(self.time_bias)[time]
        return logits, {"h": h, "context": state["context"]}


def np_log_softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def np_guard(logits, history, penalty=1.0, ngram=0):
    """The repetition guards on one row of logits, after what `history` emitted."""
    logits = np.array(logits, np.float64)
    if penalty != 1.0:
        for token in set(history):
            value = logits[token]
            logits[token] = value / penalty if value > 0 else value * penalty
    if ngram:
        tail = tuple(history[len(history) - ngram + 1 :]) if ngram > 1 else ()
        for start in range(len(history) - ngram + 1):
            if tuple(history[start : start + ngram - 1]) == tail:
                logits[history[start + ngram - 1]] = -np.inf
    return logits


def np_sequence_log_prob(model, state, tokens, start=START, penalty=1.0, ngram=0):
    """Log-probability of `tokens` for one batch entry (`state` of batch 1),
    under the distribution the repetition guards leave (-inf if blocked)."""
    total, prev = 0.0, start
    for time, token in enumerate(tokens):
        logits, state = model.np_step(np.array([prev]), state, time)
        if penalty != 1.0 or ngram:
            logits = np_guard(logits[0], list(tokens[:time]), penalty, ngram)[None]
            if logits[0, token] == -np.inf:
                return -np.inf
        total += np_log_softmax(logits)[0, token]
        prev = token
    return total


def gnmt(length, alpha):
    return ((5.0 + length) / 6.0) ** alpha


def enumerate_hypotheses(max_length, end_id=END, vocab=VOCAB):
    """Every finished hypothesis: ends with end_id, or reaches max_length."""
    others = [v for v in range(vocab) if v != end_id]
    if end_id is None:
        return [list(s) for s in itertools.product(range(vocab), repeat=max_length)]
    hypotheses = []
    for length in range(1, max_length + 1):
        for prefix in itertools.product(others, repeat=length - 1):
            hypotheses.append(list(prefix) + [end_id])
            if length == max_length:
                hypotheses.extend(list(prefix) + [v] for v in others)
    return hypotheses


def brute_force(model, state, row, max_length, alpha, end_id=END, penalty=1.0, ngram=0):
    """All hypotheses of batch entry `row` the guards allow, best first:
    [(score, tokens)]."""
    row_state = {k: v[row : row + 1] for k, v in state.items()}
    scored = []
    for tokens in enumerate_hypotheses(max_length, end_id):
        log_prob = np_sequence_log_prob(model, row_state, tokens, penalty=penalty, ngram=ngram)
        if log_prob > -np.inf:
            scored.append((log_prob / gnmt(len(tokens), alpha), tokens))
    scored.sort(key=lambda x: -x[0])
    return scored


def start_ids(batch):
    return np.full([batch], START, np.int32)


def trimmed(ids, length):
    return [int(v) for v in ids[:length]]


# ---------------------------------------------------------------- beam search


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_search_matches_brute_force(alpha):
    model, max_length = TinyRNN(seed=0), 4
    state = model.initial_state(3)
    # With VOCAB - 1 = 3 non-end tokens at most 3 ** 3 = 27 prefixes are alive at
    # once, so a beam of 27 prunes nothing and its top 27 must be the exact top 27.
    width = 27
    result = beam_search(
        model.step_fn,
        state,
        start_ids(3),
        end_id=END,
        max_length=max_length,
        beam_width=width,
        length_penalty=alpha,
    )
    assert isinstance(result, DecodeResult)
    ids, lengths, scores = (np.asarray(x) for x in result)
    assert ids.shape == (3, width, max_length) and ids.dtype == np.int32
    assert lengths.shape == (3, width) and scores.shape == (3, width)
    for row in range(3):
        expected = brute_force(model, state, row, max_length, alpha)[:width]
        np.testing.assert_allclose(scores[row], [s for s, _ in expected], atol=ATOL)
        for j, (_, tokens) in enumerate(expected):
            assert lengths[row, j] == len(tokens)
            assert trimmed(ids[row, j], lengths[row, j]) == tokens
            # Padded with the end token after the end.
            assert np.all(ids[row, j, lengths[row, j] :] == END)


def test_beam_search_small_beam_finds_best():
    model, max_length = TinyRNN(seed=0), 4
    state = model.initial_state(3)
    result = beam_search(
        model.step_fn, state, start_ids(3), end_id=END, max_length=max_length, beam_width=6
    )
    for row in range(3):
        best_score, best_tokens = brute_force(model, state, row, max_length, 0.0)[0]
        np.testing.assert_allclose(result.scores[row, 0], best_score, atol=ATOL)
        assert trimmed(result.ids[row, 0].numpy(), result.lengths[row, 0]) == best_tokens
        assert np.all(np.diff(result.scores[row].numpy()) <= 0)  # best first


def test_beam_search_without_end_token_matches_brute_force():
    model, max_length = TinyRNN(seed=2), 3
    state = model.initial_state(3, seed=3)
    width = VOCAB ** (max_length - 1)  # every alive prefix fits
    for end_id in (None, -1):
        result = beam_search(
            model.step_fn,
            state,
            start_ids(3),
            end_id=end_id,
            max_length=max_length,
            beam_width=width,
        )
        assert np.all(result.lengths.numpy() == max_length)
        for row in range(3):
            expected = brute_force(model, state, row, max_length, 0.0, end_id=None)[:width]
            np.testing.assert_allclose(result.scores[row], [s for s, _ in expected], atol=ATOL)
            assert [list(x) for x in result.ids[row].numpy()] == [t for _, t in expected]


def test_beam_wider_than_hypotheses_leaves_empty_slots():
    model, max_length = TinyRNN(seed=0), 2
    state = model.initial_state(3)
    count = len(enumerate_hypotheses(max_length))  # 1 + 3 * 4 = 13
    width = count + 3
    result = beam_search(
        model.step_fn, state, start_ids(3), end_id=END, max_length=max_length, beam_width=width
    )
    scores = result.scores.numpy()
    assert np.all(np.isfinite(scores[:, :count]))
    assert np.all(scores[:, count:] == -np.inf)
    assert np.all(result.lengths.numpy()[:, count:] == 0)
    assert np.all(result.ids.numpy()[:, count:] == END)
    for row in range(3):
        expected = brute_force(model, state, row, max_length, 0.0)
        np.testing.assert_allclose(scores[row, :count], [s for s, _ in expected], atol=ATOL)


# A table model: logits[kind, time, previous id], `kind` carried in the state.
def table_step_fn(table):
    table = tf.constant(np.log(table), tf.float32)  # (kinds, time, vocab, vocab)

    def step_fn(ids, state, time):
        time = tf.fill(tf.shape(ids), time)
        index = tf.stack([state["kind"], time, ids], axis=-1)
        return tf.gather_nd(table, index), state

    return step_fn


def test_greedy_is_beaten_by_beam_search():
    # Step 0 prefers token 0 (0.5) over token 1 (0.4), but after 0 everything
    # is uniform, while after 1 the end token is nearly certain:
    # greedy gets 0.5 * 0.25 = 0.125, beam search 0.4 * 0.9 = 0.36.
    table = np.full([1, 3, VOCAB, VOCAB], 1.0 / VOCAB)
    table[0, 0, START] = [0.5, 0.4, 0.05, 0.05]
    table[0, 1, 1] = [0.05, 0.025, 0.9, 0.025]
    step_fn = table_step_fn(table)
    state = {"kind": np.zeros([1], np.int32)}
    greedy = greedy_search(step_fn, state, start_ids(1), end_id=END, max_length=3)
    beam = beam_search(step_fn, state, start_ids(1), end_id=END, max_length=3, beam_width=2)
    assert trimmed(beam.ids[0, 0].numpy(), beam.lengths[0, 0]) == [1, END]
    np.testing.assert_allclose(beam.scores[0, 0], np.log(0.36), atol=ATOL)
    assert greedy.ids[0, 0] == 0
    assert greedy.scores[0] < beam.scores[0, 0] - 0.5

    # The random model of the brute-force test is no pushover for greedy either.
    model, max_length = TinyRNN(seed=0), 4
    state = model.initial_state(3)
    greedy = greedy_search(model.step_fn, state, start_ids(3), END, max_length)
    best = [brute_force(model, state, row, max_length, 0.0)[0][0] for row in range(3)]
    assert np.any(greedy.scores.numpy() < np.array(best) - 1e-3)


@pytest.mark.parametrize("beam_width", [1, 3])
def test_early_end_hypothesis_is_returned(beam_width):
    # Kind 0 ends at step 0 with 0.4, which is not the most likely token (0.45),
    # and every continuation is uniform: the one-token hypothesis is the best.
    # Kind 1 never favours the end token.
    table = np.full([2, 4, VOCAB, VOCAB], 1.0 / VOCAB)
    table[0, 0, START] = [0.45, 0.1, 0.4, 0.05]
    table[1, :, :] = [0.3, 0.3, 0.1, 0.3]
    step_fn = table_step_fn(table)
    state = {"kind": np.array([0, 1], np.int32)}
    result = beam_search(
        step_fn, state, start_ids(2), end_id=END, max_length=4, beam_width=beam_width
    )
    assert result.lengths[0, 0] == 1
    assert list(result.ids[0, 0].numpy()) == [END] * 4
    np.testing.assert_allclose(result.scores[0, 0], np.log(0.4), atol=ATOL)
    # Greedy follows the 0.45 token instead.
    greedy = greedy_search(step_fn, state, start_ids(2), end_id=END, max_length=4)
    assert greedy.ids[0, 0] == 0 and greedy.scores[0] < np.log(0.4)


def test_beam_search_exits_early():
    calls = []

    def step_fn(ids, state, time):
        calls.append(1)
        logits = tf.one_hot(tf.fill(tf.shape(ids), END), VOCAB) * 10.0  # end ~ certain
        return logits, state

    for alpha in (0.0, 0.6):
        calls.clear()
        result = beam_search(
            step_fn, (), start_ids(2), END, max_length=10, beam_width=2, length_penalty=alpha
        )
        # Step 0 finishes [END], step 1 finishes [x, END]; the alive hypotheses
        # (two unlikely tokens) can no longer beat them.
        assert len(calls) == 2
        assert list(result.lengths.numpy()[0]) == [1, 2]
    calls.clear()
    greedy_search(step_fn, (), start_ids(2), END, max_length=10)
    assert len(calls) == 1


def test_early_exit_is_safe_with_length_penalty():
    # alpha = 2: penalties 1, 1.36, 1.78, 2.25 for lengths 1..4. After step 1
    # the alive [0, 0] (log-prob -1.40) cannot beat the finished [END] (-0.69)
    # if it ended at length 3 (-0.79), but can at length 4 (-0.62), which
    # [0, 0, 0, END] does. Stopping on the next length alone would miss it.
    table = np.full([1, 4, VOCAB, VOCAB], 1.0 / VOCAB)
    table[0, 0, START] = [0.45, 0.03, 0.5, 0.02]
    table[0, 1, 0] = [0.55, 0.2, 0.05, 0.2]
    table[0, 2, 0] = [0.997, 0.001, 0.001, 0.001]
    table[0, 3, 0] = [0.001, 0.001, 0.997, 0.001]
    step_fn = table_step_fn(table)
    state = {"kind": np.zeros([1], np.int32)}
    result = beam_search(
        step_fn, state, start_ids(1), END, max_length=4, beam_width=1, length_penalty=2.0
    )
    assert list(result.ids[0, 0].numpy()) == [0, 0, 0, END]
    expected = np.log([0.45, 0.55, 0.997, 0.997]).sum() / gnmt(4, 2.0)
    np.testing.assert_allclose(result.scores[0, 0], expected, atol=ATOL)
    assert expected > np.log(0.5)


# ---------------------------------------------------------------- beam width 1, greedy


def test_beam_width_one_equals_greedy_without_end_token():
    model, max_length = TinyRNN(seed=4), 5
    state = model.initial_state(3, seed=5)
    greedy = greedy_search(model.step_fn, state, start_ids(3), end_id=None, max_length=max_length)
    beam = beam_search(
        model.step_fn, state, start_ids(3), end_id=None, max_length=max_length, beam_width=1
    )
    np.testing.assert_array_equal(beam.ids[:, 0], greedy.ids)
    np.testing.assert_allclose(beam.scores[:, 0], greedy.scores, atol=ATOL)
    np.testing.assert_array_equal(greedy.lengths, [max_length] * 3)


def test_beam_width_one_is_greedy_with_finished_set():
    # With an end token, a beam of one follows the greedy path but also keeps
    # the best "greedy prefix + end" seen on the way, so it returns the best of
    # those, which is the greedy output or better.
    model, max_length = TinyRNN(seed=0), 5
    state = model.initial_state(3)
    greedy = greedy_search(model.step_fn, state, start_ids(3), END, max_length)
    beam = beam_search(model.step_fn, state, start_ids(3), END, max_length, beam_width=1)
    for row in range(3):
        row_state = {k: v[row : row + 1] for k, v in state.items()}
        path = trimmed(greedy.ids[row].numpy(), greedy.lengths[row])
        candidates = [path[:t] + [END] for t in range(len(path)) if END not in path[:t]]
        if path[-1] != END:
            candidates.append(path)
        scored = [(np_sequence_log_prob(model, row_state, c), c) for c in candidates]
        best_score, best_tokens = max(scored, key=lambda x: x[0])
        np.testing.assert_allclose(beam.scores[row, 0], best_score, atol=ATOL)
        assert trimmed(beam.ids[row, 0].numpy(), beam.lengths[row, 0]) == best_tokens
        assert beam.scores[row, 0] >= greedy.scores[row] - ATOL
        np.testing.assert_allclose(
            greedy.scores[row], np_sequence_log_prob(model, row_state, path), atol=ATOL
        )


# ---------------------------------------------------------------- greedy and sampling


def test_greedy_pads_with_end_and_freezes_score():
    table = np.full([1, 4, VOCAB, VOCAB], 0.1 / (VOCAB - 1))
    table[..., END] = 0.9  # ends at step 0 almost surely
    step_fn = table_step_fn(table)
    result = greedy_search(step_fn, {"kind": np.zeros([2], np.int32)}, start_ids(2), END, 4)
    np.testing.assert_array_equal(result.ids, np.full([2, 4], END))
    np.testing.assert_array_equal(result.lengths, [1, 1])
    np.testing.assert_allclose(result.scores, np.log([0.9, 0.9]), atol=ATOL)


@pytest.mark.parametrize("temperature", [0, 0.0, 1e-4])
def test_sample_at_zero_temperature_is_greedy(temperature):
    model, max_length = TinyRNN(seed=0), 5
    state = model.initial_state(8, seed=6)
    greedy = greedy_search(model.step_fn, state, start_ids(8), END, max_length)
    sampled = sample(
        model.step_fn, state, start_ids(8), END, max_length, temperature=temperature, seed=3
    )
    for got, expected in zip(sampled, greedy):
        np.testing.assert_allclose(got, expected, atol=ATOL)


def replay_logits(model, state, ids):
    """Numpy logits `(batch, max_length, vocab)` along the emitted histories."""
    batch, max_length = ids.shape
    prev = start_ids(batch)
    logits = []
    for time in range(max_length):
        step_logits, state = model.np_step(prev, state, time)
        logits.append(step_logits)
        prev = ids[:, time]
    return np.stack(logits, axis=1)


def np_nucleus(logits, temperature, top_p):
    """Boolean (vocab,) nucleus of one row of logits."""
    probs = np.exp(np_log_softmax(logits / temperature))
    order = np.argsort(-probs)
    mass_above = np.concatenate([[0.0], np.cumsum(probs[order])[:-1]])
    keep = np.zeros_like(probs, bool)
    keep[order[mass_above < top_p]] = True
    return keep


def test_sample_top_k_and_top_p_stay_in_support():
    model, max_length, batch = TinyRNN(seed=0, scale=1.0), 5, 256
    state = model.initial_state(batch, seed=7)
    for top_k, top_p, temperature in [(2, 1.0, 1.0), (0, 0.6, 0.8), (3, 0.5, 1.5)]:
        result = sample(
            model.step_fn,
            state,
            start_ids(batch),
            END,
            max_length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=11,
        )
        ids, lengths = result.ids.numpy(), result.lengths.numpy()
        logits = replay_logits(model, state, ids)
        outside_argmax = 0
        for row, time in itertools.product(range(batch), range(max_length)):
            if time >= lengths[row]:
                assert ids[row, time] == END
                continue
            step_logits, token = logits[row, time], ids[row, time]
            allowed = np.ones(VOCAB, bool)
            if top_k:
                allowed &= step_logits >= np.sort(step_logits)[-top_k]
            if top_p < 1:
                filtered = np.where(allowed, step_logits, -np.inf)
                allowed &= np_nucleus(filtered, temperature, top_p)
            assert allowed[token], (top_k, top_p, row, time)
            outside_argmax += token != np.argmax(step_logits)
        assert outside_argmax > 0  # it does sample
        expected_scores = [
            np_log_softmax(logits[row, : lengths[row]])[
                np.arange(lengths[row]), ids[row, : lengths[row]]
            ].sum()
            for row in range(batch)
        ]
        np.testing.assert_allclose(result.scores, expected_scores, atol=1e-4)


def test_sample_seeds():
    model, max_length, batch = TinyRNN(seed=0, scale=1.0), 5, 256
    state = model.initial_state(batch, seed=7)
    draw = lambda seed: sample(
        model.step_fn, state, start_ids(batch), END, max_length, seed=seed
    ).ids.numpy()
    np.testing.assert_array_equal(draw(5), draw(5))
    np.testing.assert_array_equal(draw(5), draw(tf.constant([5, 0], tf.int64)))
    assert np.any(draw(5) != draw(6))
    assert np.any(draw(None) != draw(None))


def test_filter_logits():
    logits = np.log([[0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5]]).astype("float32")
    got = filter_logits(logits, top_p=0.7).numpy()
    np.testing.assert_array_equal(np.isfinite(got), [[1, 1, 0, 0], [0, 0, 1, 1]])
    got = filter_logits(logits, top_k=3).numpy()
    np.testing.assert_array_equal(np.isfinite(got), [[1, 1, 1, 0], [0, 1, 1, 1]])
    # A tiny nucleus still keeps the most likely token; "off" keeps everything.
    got = filter_logits(logits, top_p=1e-6).numpy()
    np.testing.assert_array_equal(np.isfinite(got), [[1, 0, 0, 0], [0, 0, 0, 1]])
    got = filter_logits(logits, temperature=2.0, top_k=0, top_p=1.0).numpy()
    np.testing.assert_allclose(got, logits / 2.0, atol=ATOL)


# ---------------------------------------------------------------- repetition guards

GUARDS = [
    # (repetition_penalty, no_repeat_ngram_size): penalties above and below 1
    # (the logits have both signs), n-grams of 1 and 2, and both together.
    (1.5, 0),
    (0.7, 0),
    (1.0, 1),
    (1.0, 2),
    (1.3, 2),
]


def test_guard_logits_matches_numpy():
    rng = np.random.default_rng(0)
    n, vocab, length = 6, 5, 7
    logits = rng.normal(size=(n, vocab)).astype("float32")
    history = rng.integers(0, 3, size=(n, length)).astype("int32")  # few ids: many repeats
    for (penalty, ngram), time in itertools.product(GUARDS + [(1.2, 3)], range(length + 1)):
        got = guard_logits(logits, history, time, penalty, ngram).numpy()
        for row in range(n):
            expected = np_guard(logits[row], list(history[row, :time]), penalty, ngram)
            np.testing.assert_allclose(got[row], expected, rtol=1e-6)
    # As a tensor, in a graph, with the history longer than the steps taken.
    graph = tf.function(guard_logits)
    got = graph(logits, history, tf.constant(4), tf.constant(1.5), 2).numpy()
    expected = [np_guard(logits[r], list(history[r, :4]), 1.5, 2) for r in range(n)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("penalty, ngram", GUARDS)
@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_search_with_guards_matches_brute_force(penalty, ngram, alpha):
    model, max_length, width = TinyRNN(seed=0), 4, 27  # no prefix is pruned (see above)
    state = model.initial_state(3)
    result = beam_search(
        model.step_fn,
        state,
        start_ids(3),
        END,
        max_length,
        beam_width=width,
        length_penalty=alpha,
        repetition_penalty=penalty,
        no_repeat_ngram_size=ngram,
    )
    ids, lengths, scores = (np.asarray(x) for x in result)
    for row in range(3):
        expected = brute_force(model, state, row, max_length, alpha, penalty=penalty, ngram=ngram)[
            :width
        ]
        count = len(expected)
        np.testing.assert_allclose(scores[row, :count], [s for s, _ in expected], atol=ATOL)
        for j, (_, tokens) in enumerate(expected):
            assert trimmed(ids[row, j], lengths[row, j]) == tokens
        # Blocked hypotheses are missing, not ranked.
        assert np.all(scores[row, count:] == -np.inf) and np.all(lengths[row, count:] == 0)
    if ngram == 1:
        assert count < width  # 16 hypotheses repeat no token


def np_guarded_greedy(model, state, max_length, penalty, ngram, end_id=END):
    """Greedy search of one batch entry, step by step: `(tokens, score)`."""
    tokens, score, prev = [], 0.0, START
    for time in range(max_length):
        logits, state = model.np_step(np.array([prev]), state, time)
        guarded = np_guard(logits[0], tokens, penalty, ngram)
        if np.all(guarded == -np.inf):  # every token blocked: the model's choice
            token, score = int(np.argmax(logits[0])), -np.inf
        else:
            token = int(np.argmax(guarded))
            score += np_log_softmax(guarded[None])[0, token]
        tokens.append(token)
        prev = token
        if token == end_id:
            break
    return tokens, score


@pytest.mark.parametrize("penalty, ngram", GUARDS)
@pytest.mark.parametrize("end_id", [END, None])
def test_greedy_search_with_guards_matches_brute_force(penalty, ngram, end_id):
    model, max_length, batch = TinyRNN(seed=1), 5, 8
    state = model.initial_state(batch, seed=4)
    result = greedy_search(
        model.step_fn,
        state,
        start_ids(batch),
        end_id,
        max_length,
        repetition_penalty=penalty,
        no_repeat_ngram_size=ngram,
    )
    ids, lengths, scores = (np.asarray(x) for x in result)
    blocked = 0
    for row in range(batch):
        row_state = {k: v[row : row + 1] for k, v in state.items()}
        tokens, score = np_guarded_greedy(model, row_state, max_length, penalty, ngram, end_id)
        assert trimmed(ids[row], lengths[row]) == tokens
        np.testing.assert_allclose(scores[row], score, atol=ATOL)
        if score == -np.inf:
            blocked += 1
            continue
        # The score is the one the enumeration of every sequence gives it.
        enumerated = np_sequence_log_prob(model, row_state, tokens, penalty=penalty, ngram=ngram)
        np.testing.assert_allclose(scores[row], enumerated, atol=ATOL)
    # Without an end token, 5 steps over 4 ids must repeat one.
    assert blocked == (batch if ngram == 1 and end_id is None else 0)


def repeated_ngrams(tokens, n):
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(grams) - len(set(grams))


@pytest.mark.parametrize("ngram, max_length", [(1, 6), (2, 12)])
def test_no_repeat_ngram_with_a_model_that_always_prefers_one_token(ngram, max_length):
    vocab, batch = 6, 16
    preference = np.log(np.array([0.5, 0.2, 0.12, 0.08, 0.06, 0.04], np.float32))

    def step_fn(ids, state, time):
        return tf.tile(preference[None], [tf.shape(ids)[0], 1]), state

    start = np.zeros([batch], np.int32)
    plain = greedy_search(step_fn, (), start, None, max_length)
    assert np.all(plain.ids.numpy() == 0)  # unguarded: one token, over and over
    results = {
        "greedy": greedy_search(step_fn, (), start, None, max_length, no_repeat_ngram_size=ngram),
        "beam": beam_search(
            step_fn, (), start, None, max_length, beam_width=4, no_repeat_ngram_size=ngram
        ),
        "sample": sample(step_fn, (), start, None, max_length, seed=3, no_repeat_ngram_size=ngram),
    }
    for name, result in results.items():
        ids = result.ids.numpy().reshape(-1, max_length)
        assert np.all(np.isfinite(result.scores.numpy())), name
        for tokens in ids:
            assert repeated_ngrams(list(tokens), ngram) == 0, (name, tokens)
    if ngram == 1:  # every token once, most preferred first
        np.testing.assert_array_equal(results["greedy"].ids[0], np.arange(vocab))
    # Sampling at temperature 0 is greedy search, guards included.
    greedy = sample(
        step_fn, (), start, None, max_length, temperature=0.0, no_repeat_ngram_size=ngram
    )
    np.testing.assert_array_equal(greedy.ids, results["greedy"].ids)


def test_guards_off_leave_the_decoders_bit_for_bit_unchanged():
    model, max_length = TinyRNN(seed=2), 5
    state = model.initial_state(4, seed=9)
    args = (model.step_fn, state, start_ids(4), END, max_length)
    decoders = [
        lambda **guards: greedy_search(*args, **guards),
        lambda **guards: beam_search(*args, beam_width=3, length_penalty=0.6, **guards),
        lambda **guards: sample(*args, seed=5, **guards),
    ]
    for decode in decoders:
        default = decode()
        for guards in (
            {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0},
            {"repetition_penalty": 1},
            # A tensor penalty always runs the guard, and a penalty of 1 changes nothing.
            {"repetition_penalty": tf.constant(1.0)},
        ):
            for got, expected in zip(decode(**guards), default):
                np.testing.assert_array_equal(got, expected)
        assert np.any(decode(repetition_penalty=2.0).scores.numpy() != default.scores.numpy())


def test_guards_in_tf_function_and_under_xla():
    model = TinyRNN(seed=3)
    spec = [tf.TensorSpec([None, HIDDEN], tf.float32)] * 2 + [
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.float32),
    ]

    def decode(h, context, max_length, penalty, sampled=True):
        state = {"h": h, "context": context}
        start = tf.fill(tf.shape(h)[:1], START)
        guards = {"repetition_penalty": penalty, "no_repeat_ngram_size": 2}
        out = (
            greedy_search(model.step_fn, state, start, END, max_length, **guards),
            beam_search(model.step_fn, state, start, END, max_length, beam_width=3, **guards),
        )
        if sampled:
            out += (sample(model.step_fn, state, start, END, max_length, seed=5, **guards),)
        return out

    graph = tf.function(decode, input_signature=spec)
    # Under XLA the stateless random ops draw other numbers: no sampling there.
    xla = tf.function(lambda *args: decode(*args, sampled=False), jit_compile=True)
    state = model.initial_state(4, seed=2)
    for max_length, penalty in [(3, 1.4), (6, 0.8)]:
        expected = decode(state["h"], state["context"], max_length, penalty)
        got = graph(state["h"], state["context"], tf.constant(max_length), tf.constant(penalty))
        results = [got]
        if max_length == 6:  # one compilation is enough, and slow enough
            results.append(xla(state["h"], state["context"], max_length, tf.constant(penalty)))
        for result in results:
            for g, e in zip(result, expected):
                np.testing.assert_array_equal(g.ids, e.ids)
                np.testing.assert_array_equal(g.lengths, e.lengths)
                np.testing.assert_allclose(g.scores, e.scores, atol=ATOL)
    assert graph.experimental_get_tracing_count() == 1


# ---------------------------------------------------------------- graph mode and export


def test_tile_to_beam():
    nest = {"a": tf.constant([[1, 2], [3, 4]]), "b": (tf.constant([5, 6]),)}
    tiled = tile_to_beam(nest, 3)
    np.testing.assert_array_equal(tiled["a"], [[1, 2]] * 3 + [[3, 4]] * 3)
    np.testing.assert_array_equal(tiled["b"][0], [5, 5, 5, 6, 6, 6])


def test_decoders_in_tf_function_with_unknown_batch():
    model, max_length = TinyRNN(seed=0), 5

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, HIDDEN], tf.float32),
            tf.TensorSpec([None, HIDDEN], tf.float32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([], tf.float32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.float32),
            tf.TensorSpec([2], tf.int64),
        ]
    )
    def decode(h, context, start, temperature, top_k, top_p, seed):
        state = {"h": h, "context": context}
        greedy = greedy_search(model.step_fn, state, start, END, max_length)
        beam = beam_search(model.step_fn, state, start, END, max_length, beam_width=3)
        sampled = sample(
            model.step_fn,
            state,
            start,
            END,
            max_length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
        )
        return greedy, beam, sampled

    for batch in (3, 5):
        state = model.initial_state(batch, seed=batch)
        args = (state["h"], state["context"], start_ids(batch))
        seed = tf.constant([9, 1], tf.int64)
        greedy, beam, sampled = decode(*args, 1.0, 0, 1.0, seed)
        eager = [
            greedy_search(model.step_fn, state, start_ids(batch), END, max_length),
            beam_search(model.step_fn, state, start_ids(batch), END, max_length, beam_width=3),
            sample(model.step_fn, state, start_ids(batch), END, max_length, seed=seed),
        ]
        for got, expected in zip((greedy, beam, sampled), eager):
            np.testing.assert_array_equal(got.ids, expected.ids)
            np.testing.assert_array_equal(got.lengths, expected.lengths)
            np.testing.assert_allclose(got.scores, expected.scores, atol=ATOL)
        # Tensor hyper-parameters: each of these makes sampling greedy.
        for temperature, top_k, top_p in [(0.0, 0, 1.0), (1.0, 1, 1.0), (1.0, 0, 1e-6)]:
            _, _, sampled = decode(*args, temperature, top_k, top_p, seed)
            np.testing.assert_array_equal(sampled.ids, greedy.ids)
    assert decode.experimental_get_tracing_count() == 1


def test_max_length_as_a_tensor():
    """One trace serves every bound; the results equal those of a Python int."""
    model = TinyRNN(seed=3)
    spec = [tf.TensorSpec([None, HIDDEN], tf.float32)] * 2 + [tf.TensorSpec([], tf.int32)]

    @tf.function(input_signature=spec)
    def decode(h, context, max_length):
        state = {"h": h, "context": context}
        start = tf.fill(tf.shape(h)[:1], START)
        return (
            greedy_search(model.step_fn, state, start, END, max_length),
            beam_search(model.step_fn, state, start, END, max_length, beam_width=3),
            sample(model.step_fn, state, start, END, max_length, seed=5),
        )

    state = model.initial_state(4, seed=2)
    for max_length in (1, 3, 6):
        got = decode(state["h"], state["context"], tf.constant(max_length))
        expected = (
            greedy_search(model.step_fn, state, start_ids(4), END, max_length),
            beam_search(model.step_fn, state, start_ids(4), END, max_length, beam_width=3),
            sample(model.step_fn, state, start_ids(4), END, max_length, seed=5),
        )
        for g, e in zip(got, expected):
            assert g.ids.shape[-1] == max_length
            np.testing.assert_array_equal(g.ids, e.ids)
            np.testing.assert_array_equal(g.lengths, e.lengths)
            np.testing.assert_allclose(g.scores, e.scores, atol=ATOL)
    assert decode.experimental_get_tracing_count() == 1
    with pytest.raises(ValueError, match="max_length"):
        greedy_search(model.step_fn, state, start_ids(4), END, tf.constant([2, 3]))


class Exported(tf.Module):
    def __init__(self, model, max_length):
        super().__init__()
        self.model = model
        self.max_length = max_length
        # Weights as variables, as an exported keras model would hold them.
        self.output = tf.Variable(model.output)
        spec = [tf.TensorSpec([None, HIDDEN], tf.float32)] * 2

        def step_fn(ids, state, time):
            logits, state = model.step_fn(ids, state, time)
            # Adds 0 * the variable so the SavedModel must capture it.
            return logits + 0.0 * tf.reduce_sum(self.output), state

        self.step_fn = step_fn

        @tf.function(input_signature=spec)
        def greedy(h, context):
            state = {"h": h, "context": context}
            start = tf.fill(tf.shape(h)[:1], START)
            return greedy_search(self.step_fn, state, start, END, max_length)

        @tf.function(input_signature=spec + [tf.TensorSpec([], tf.float32)])
        def beam(h, context, alpha):
            state = {"h": h, "context": context}
            start = tf.fill(tf.shape(h)[:1], START)
            return beam_search(
                self.step_fn, state, start, END, max_length, beam_width=4, length_penalty=alpha
            )._asdict()

        self.greedy = greedy
        self.beam = beam


def test_saved_model_round_trip(tmp_path):
    model, max_length = TinyRNN(seed=0), 5
    module = Exported(model, max_length)
    tf.saved_model.save(module, str(tmp_path / "decoder"))
    del module
    loaded = tf.saved_model.load(str(tmp_path / "decoder"))
    state = model.initial_state(6, seed=8)
    greedy = loaded.greedy(state["h"], state["context"])
    expected = greedy_search(model.step_fn, state, start_ids(6), END, max_length)
    np.testing.assert_array_equal(greedy.ids, expected.ids)
    np.testing.assert_array_equal(greedy.lengths, expected.lengths)
    np.testing.assert_allclose(greedy.scores, expected.scores, atol=ATOL)
    beam = loaded.beam(state["h"], state["context"], 0.6)
    expected = beam_search(
        model.step_fn, state, start_ids(6), END, max_length, beam_width=4, length_penalty=0.6
    )
    np.testing.assert_array_equal(beam["ids"], expected.ids)
    np.testing.assert_array_equal(beam["lengths"], expected.lengths)
    np.testing.assert_allclose(beam["scores"], expected.scores, atol=ATOL)


# ---------------------------------------------------------------- argument checks


def test_invalid_arguments():
    model = TinyRNN()
    state = model.initial_state(2)
    args = (model.step_fn, state, start_ids(2), END)
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(*args, max_length=3, beam_width=0)
    with pytest.raises(ValueError, match="beam_width"):
        tile_to_beam(state, 0)
    for decode in (greedy_search, sample):
        with pytest.raises(ValueError, match="max_length"):
            decode(*args, max_length=0)
    with pytest.raises(ValueError, match="max_length"):
        beam_search(*args, max_length=0, beam_width=2)
    with pytest.raises(ValueError, match="temperature"):
        sample(*args, max_length=3, temperature=-0.5)
    for top_p in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="top_p"):
            sample(*args, max_length=3, top_p=top_p)
    with pytest.raises(ValueError, match="top_k"):
        sample(*args, max_length=3, top_k=-1)
    with pytest.raises(ValueError, match="end_id"):
        greedy_search(model.step_fn, state, start_ids(2), end_id=-3, max_length=3)


def test_invalid_guards():
    model = TinyRNN()
    state = model.initial_state(2)
    args = (model.step_fn, state, start_ids(2), END, 3)
    for decode in (
        greedy_search,
        sample,
        lambda *a, **k: beam_search(*a, beam_width=2, **k),
    ):
        for penalty in (0, -1.0, "1.2", None, tf.constant([1.0, 2.0]), tf.constant(2)):
            with pytest.raises(ValueError, match="repetition_penalty"):
                decode(*args, repetition_penalty=penalty)
        for size in (-1, 1.5, True, tf.constant(2)):
            with pytest.raises(ValueError, match="no_repeat_ngram_size"):
                decode(*args, no_repeat_ngram_size=size)
