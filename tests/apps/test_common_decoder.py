"""`apps.common.decoder`: the search signatures named by a subclass's input, the
best beam, words at the end mark, batched decoding of any form of a decoder
(in process and loaded), greedy against beam search, trimming at the end mark
and BLEU's reference streams.
The apps' tests run the real decoders end to end."""

import dataclasses

import numpy as np
import tensorflow as tf

from apps.common.decoder import (
    DecoderModule,
    attention_of_one,
    decode_batches,
    greedy_and_beam,
    reference_streams,
    trim_at_end,
)
from apps.common.text import END, START, TARGET_SPECIALS, Vocabulary


@dataclasses.dataclass(frozen=True)
class Decode:
    beam_width: int = 2
    length_penalty: float = 0.5
    batch_size: int = 8


@dataclasses.dataclass(frozen=True)
class Result:
    ids: tf.Tensor
    scores: tf.Tensor


class Echo(tf.Module):
    """A decoder that writes the ids 4, 5, END, 0 (its second beam: 5, END, 0, 0)
    for every input, and records how it was asked."""

    def generate(self, inputs, method, max_length, beam_width, length_penalty):
        batch = tf.shape(inputs)[0]
        best = tf.constant([4, 5, END, 0], tf.int32)
        other = tf.constant([5, END, 0, 0], tf.int32)
        scores = tf.fill([batch], -1.0) - tf.cast(max_length, tf.float32) * 0.0
        if method == "greedy":
            return Result(tf.tile(best[None], [batch, 1]), scores)
        beams = tf.stack([best, other] + [other] * (beam_width - 2))
        return Result(
            tf.tile(beams[None], [batch, 1, 1]),
            tf.stack([scores] + [scores - 1.0] * (beam_width - 1), axis=1) * length_penalty,
        )


class Writer(DecoderModule):
    input_name = "text"
    output_name = "words"

    def model_inputs(self, text):
        return tf.strings.length(text), 4, tf.equal(text, "")

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="text"),
            tf.TensorSpec([None, None], tf.int32, name="ids"),
        ]
    )
    def attention(self, text, ids):
        return {"tokens": tf.gather(self.end_words(), ids), "inputs": self.decoder_inputs(ids)}


def _writer():
    vocabulary = Vocabulary([*TARGET_SPECIALS, "a", "b"], len(TARGET_SPECIALS))
    return Writer(Echo(), vocabulary, Decode())


def test_search_signatures_take_the_subclass_input_and_keep_the_best_beam():
    writer = _writer()
    beam = writer.beam(text=tf.constant(["x", ""]))
    assert set(beam) == {"words", "ids", "score"}
    assert [t.decode() for t in beam["words"].numpy()] == ["a b", ""]  # "" stays empty
    np.testing.assert_array_equal(beam["ids"].numpy(), [[4, 5, END, 0]] * 2)
    np.testing.assert_allclose(beam["score"].numpy(), [-0.5, -0.5])
    greedy = writer.greedy(tf.constant(["x"]))
    assert greedy["words"].numpy()[0] == b"a b" and greedy["score"].numpy()[0] == -1.0


def test_attention_tokens_show_the_end_mark_and_the_decoder_inputs():
    writer = _writer()  # a tf.function method holds its module weakly
    out = writer.attention(text=tf.constant(["x"]), ids=tf.constant([[4, 5, END]]))
    assert [t.decode() for t in out["tokens"].numpy()[0]] == ["a", "b", "[END]"]
    np.testing.assert_array_equal(out["inputs"].numpy(), [[START, 4, 5]])


def test_any_form_of_a_decoder_decodes_in_batches(tmp_path):
    writer = _writer()
    path = writer.export(tmp_path, "writer", {})
    loaded = tf.saved_model.load(str(path))
    assert set(loaded.signatures) == {"serving_default", "greedy", "attention"}
    for name in ("serving_default", "greedy"):
        inputs = loaded.signatures[name].structured_input_signature[1]
        assert list(inputs) == ["text"]
    texts = ["x", "", "yy", "z", "w"]
    for greedy in (False, True):
        here = decode_batches(writer, texts, "text", "words", greedy, batch_size=2)
        there = decode_batches(loaded, texts, "text", "words", greedy, batch_size=3)
        assert here[0] == there[0] == ["a b", "", "a b", "a b", "a b"]
        np.testing.assert_array_equal(np.stack(here[1]), np.stack(there[1]))
        assert here[2] == there[2]
    out = attention_of_one(loaded, "text", "x", [4, END, 5, 0])
    assert [t.decode() for t in out["tokens"].numpy()[0]] == ["a", "[END]"]


def test_greedy_then_beam_search_each_timed_and_labelled():
    asked, announced = [], []

    def decode(decoder, inputs, greedy, batch_size):
        asked.append((decoder, greedy, batch_size))
        return [f"{'greedy' if greedy else 'beam'} {x}" for x in inputs], [], []

    out = greedy_and_beam(decode, "writer", ["x", "y"], Decode(beam_width=4), announced.append)
    assert announced == ["greedy", "beam"] and list(out) == ["greedy", "beam"]
    assert asked == [("writer", True, 8), ("writer", False, 8)]
    assert out["greedy"][:2] == ("greedy", ["greedy x", "greedy y"])
    assert out["beam"][:2] == ("beam 4", ["beam x", "beam y"])
    assert out["beam"][2] > 0


def test_ids_are_trimmed_after_the_end_mark():
    np.testing.assert_array_equal(trim_at_end([4, 5, END, 0, END]), [4, 5, END])
    np.testing.assert_array_equal(trim_at_end([4, 5]), [4, 5])
    assert trim_at_end(np.array([4], np.int64)).dtype == np.int32


def test_reference_streams_pad_with_none():
    refs = [["a", "b"], ["c"], ["d", "e", "f"]]
    assert reference_streams(refs) == [["a", "c", "d"], ["b", None, "e"], [None, None, "f"]]
