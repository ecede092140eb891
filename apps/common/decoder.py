"""The base of the decoder exports: translation and captioning.

A `DecoderModule` is a `tf.Module` that holds a trained decoder (a model with
`generate(inputs, method, max_length, beam_width, length_penalty)`) and turns
raw inputs (sentences, encoded images) into words inside one graph, so the
predicting verbs, `evaluate` and TensorFlow Serving all run the same
computation and a served model needs no Python. Its signatures:

- `serving_default` (`beam`): beam search with the config's width and length
  penalty; `greedy`: greedy search. Both take a batch of strings named by the
  subclass (`text`, `image`) and return the words (`translation`,
  `caption`), `ids` `(batch, T)` (the best hypothesis) and `score` (its
  log-probability);
- `attention`: where the decoder looked while it emitted given `ids` (each
  subclass returns what its input has: source tokens, a grid).

The functions below call any form of a decoder (in process, a loaded
SavedModel or a `seqlib.serving.client.RemoteModel`): in batches
(`decode_batches`), for one input's attention (`attention_of_one`), greedy
against beam search (`greedy_and_beam`); `reference_streams` lays references
out for sacreBLEU and `token_loss` is the training loss both decoders share.
"""

import inspect
import time

import numpy as np
import tensorflow as tf

from apps.common.run import decoding_function
from apps.common.text import END, PAD, START, detokenize
from seqlib.export import export_for_serving, text_input
from seqlib.training import SparseCategoricalCrossentropy


def _search(input_name, method, doc):
    """A search signature named for the subclass's input: called as
    `decoder.beam(text=...)` in process, `signatures["greedy"](image=...)` when
    loaded. `method` is "beam" (the config's width) or "greedy".

    A `tf.function` is called in process by its Python parameters' names, so
    the function's signature carries the input's name (`self`, `input_name`).
    """
    parameters = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for name in ("self", input_name)
    ]
    signature = inspect.Signature(parameters)

    def search(*args, **kwargs):
        arguments = signature.bind(*args, **kwargs).arguments
        self = arguments["self"]
        width = self.beam_width if method == "beam" else 1
        return self._decode(arguments[input_name], method, width)

    search.__signature__ = signature
    search.__name__ = search.__qualname__ = method
    search.__doc__ = doc
    return tf.function(search, input_signature=[text_input(input_name)])


class DecoderModule(tf.Module):
    """Inputs in, words out: the search, the words table and the signatures.

    Subclasses set `input_name` (the signatures' input) and `output_name` (the
    words' output key), implement `model_inputs` and the `attention` signature.

    Args:
        model: The built decoder.
        vocabulary: Its target `apps.common.text.Vocabulary`.
        decode: A `DecodeConfig`: `beam_width`, `length_penalty` (and what the
            subclass reads).
    """

    input_name = "text"
    output_name = "text"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.beam = _search(
            cls.input_name,
            "beam",
            f"Beam search (the config's width and length penalty): `{cls.output_name}` "
            "`(batch,)` string, `ids` `(batch, T)`, `score` (log-probability).",
        )
        cls.greedy = _search(cls.input_name, "greedy", "Greedy search; outputs as `beam`'s.")

    def __init__(self, model, vocabulary, decode):
        super().__init__()
        self.model = model
        self.words = tf.constant(vocabulary.words(), tf.string)
        self.beam_width = int(decode.beam_width)
        self.length_penalty = float(decode.length_penalty)

    # What an input flagged `empty` by `model_inputs` is answered with.
    empty_text = ""

    def model_inputs(self, inputs):
        """`(model_input, max_length, empty)` of a batch of the signature's input:
        what `model.generate` reads, its most steps, and which inputs have nothing
        to decode (a boolean `(batch,)`, or None): they are answered `empty_text`."""
        raise NotImplementedError

    def generate_options(self):
        """Extra keyword arguments of `model.generate` (none here)."""
        return {}

    def output_tokens(self, inputs, model_input, ids):
        """The word of each of `ids` `(batch, T)`: the vocabulary's, here."""
        del inputs, model_input
        return tf.gather(self.words, ids)

    def _decode(self, inputs, method, beam_width=1):
        model_input, max_length, empty = self.model_inputs(inputs)
        result = self.model.generate(
            model_input,
            method=method,
            max_length=max_length,
            beam_width=beam_width,
            length_penalty=self.length_penalty,
            **self.generate_options(),
        )
        ids, scores = result.ids, result.scores
        if method == "beam":
            ids, scores = ids[:, 0], scores[:, 0]  # the best hypothesis
        text = detokenize(self.output_tokens(inputs, model_input, ids))
        if empty is not None:
            text = tf.where(empty, tf.constant(self.empty_text), text)
        return {self.output_name: text, "ids": ids, "score": scores}

    def end_words(self):
        """`words` with the end mark shown as `[END]`: the tokens of `attention`."""
        return tf.concat([self.words[:END], ["[END]"], self.words[END + 1 :]], 0)

    @staticmethod
    def decoder_inputs(ids):
        """What the decoder reads while it emits `ids` `(batch, T)`: `[START]`,
        then `ids` but the last."""
        return tf.concat([tf.fill([tf.shape(ids)[0], 1], START), ids[:, :-1]], axis=1)

    def export(self, models_dir, name, extra_assets):
        """Writes `models_dir/<name>/<next version>/` with the three signatures:
        `serving_default` (beam search), `greedy` and `attention`."""
        return export_for_serving(
            self,
            models_dir,
            name,
            signatures={
                "serving_default": self.beam,
                "greedy": self.greedy,
                "attention": self.attention,
            },
            extra_assets=extra_assets,
        )


def decode_batches(decoder, inputs, input_name, output_name, greedy=False, batch_size=64):
    """`(words, ids, scores)` of a list of inputs (strings or bytes), in order,
    decoded `batch_size` at a time by any form of a decoder: `words` the
    decoded `output_name` strings, `ids` the id arrays, `scores` floats."""
    decode = decoding_function(decoder, "greedy" if greedy else "serving_default")
    words, ids, scores = [], [], []
    for i in range(0, len(inputs), batch_size):
        out = decode(**{input_name: tf.constant(inputs[i : i + batch_size], tf.string)})
        words.extend(t.decode("utf-8") for t in out[output_name].numpy())
        ids.extend(out["ids"].numpy())
        scores.extend(float(x) for x in out["score"].numpy())
    return words, ids, scores


def greedy_and_beam(decode, decoder, inputs, decode_config, announce=lambda method: None):
    """Decodes `inputs` by greedy, then beam search, timing each:
    `{method: (label, words, inputs per second, ids)}`, `label` "greedy" or
    "beam <width>". `decode(decoder, inputs, greedy, batch_size)` is the app's
    batched decoding; `announce(method)` runs before each search."""
    out = {}
    for method in ("greedy", "beam"):
        announce(method)
        started = time.time()
        words, ids, _ = decode(decoder, inputs, method == "greedy", decode_config.batch_size)
        seconds = time.time() - started
        label = f"beam {decode_config.beam_width}" if method == "beam" else "greedy"
        out[method] = (label, words, len(inputs) / seconds, ids)
    return out


def trim_at_end(ids):
    """`ids` (int32) up to and including the first end mark."""
    ids = np.asarray(ids, np.int32)
    ends = np.flatnonzero(ids == END)
    return ids[: ends[0] + 1] if len(ends) else ids


def attention_of_one(decoder, input_name, one, ids):
    """The `attention` outputs (tensors, batch of one) of any form of a decoder
    for one input and its `ids`, trimmed at the end mark."""
    return decoding_function(decoder, "attention")(
        **{input_name: tf.constant([one], tf.string)},
        ids=tf.constant(trim_at_end(ids)[None, :], tf.int32),
    )


def reference_streams(refs):
    """sacreBLEU's reference streams of lists of references (any number per
    hypothesis): stream `k` holds each hypothesis' `k`-th reference, or None."""
    most = max(len(r) for r in refs)
    return [[r[k] if k < len(r) else None for r in refs] for k in range(most)]


def token_loss(train_config):
    """The training loss of a decoder over target ids: cross-entropy of the
    logits, padding left out, with the `TrainConfig`'s label smoothing."""
    return SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=PAD, label_smoothing=train_config.label_smoothing
    )
