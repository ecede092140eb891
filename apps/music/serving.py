"""The music export and the sampler every form of the model shares.

`MusicServing` samples in one graph (prefix text in, tunes out): what
TensorFlow Serving calls (`serving_default`, one tune; `sample`, several, with
top-k and nucleus filtering). `generate` samples from a trained model in
process or from a loaded export or a served model alike: the same graph, so
the same seed gives the same tunes.
"""

import dataclasses
import weakref

import numpy as np
import tensorflow as tf

from apps.music.model import END, UNKNOWN
from datasets.abc_normalize import canonical_prefix
from seqlib import decoding
from seqlib.serving.server import error_message

# The longest continuation an export samples; larger `length` requests are cut to it.
SERVING_MAX_LENGTH = 4000
# Logit of a character that must not be drawn.
_NEVER = -1e9


def sample_ids(model, prefix_ids, num, length, max_length, temperature, top_k, top_p, seed):
    """Samples `num` continuations of one prefix; runs eagerly or in a graph.

    The state is primed with the end mark then the prefix (a tune starts after
    the previous one ended, as in training); sampling starts from the
    prefix's last character and stops at the end mark. A continuation that
    reaches `length` characters is ended there (`length` and `max_length` may
    be scalar tensors; `max_length > length` leaves room for the end mark).
    The unknown id is never drawn.

    Args:
        prefix_ids: int32 `(P,)`, `P >= 1`.

    Returns:
        A `seqlib.decoding.DecodeResult`, ids `(num, max_length)`: the end mark
        at `lengths - 1` and after it; `lengths <= length` when the model ended
        the tune itself.
    """
    prefix = tf.concat([[END], tf.cast(prefix_ids, tf.int32)], axis=0)  # (P + 1,)
    prefix = tf.tile(prefix[None, :], [num, 1])  # (num, P + 1)
    state = model.prime(prefix[:, :-1])
    vocab = model.vocab_size
    never_unknown = tf.one_hot(UNKNOWN, vocab, on_value=_NEVER, off_value=0.0)  # (V,)
    only_end = tf.one_hot(END, vocab, on_value=0.0, off_value=_NEVER)  # (V,)
    length = tf.cast(length, tf.int32)

    def step_fn(ids, state, time):
        logits, state = model.step(ids, state, time)  # (num, V)
        logits = tf.where(time >= length, only_end[None, :], logits + never_unknown[None, :])
        return logits, state

    return decoding.sample(
        step_fn,
        state,
        start_ids=prefix[:, -1],
        end_id=END,
        max_length=max_length,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
    )


@dataclasses.dataclass(frozen=True)
class GeneratedTune:
    """A sampled tune: the prefix and what followed it, up to the end mark.

    Args:
        abc: The tune's text.
        finished: The model ended the tune itself (else it reached the length limit).
    """

    abc: str
    finished: bool


class MusicServing(tf.Module):
    """Sampling in one graph: prefix text in, tunes out.

    Characters become ids through a `tf.lookup.StaticHashTable` over
    `tf.strings.unicode_split`, the sampling loop is `seqlib.decoding.sample`
    (a `tf.while_loop`), and ids become text through a gather and a join. The
    prefix must use only characters of the training tunes: any other fails the
    call with "the prefix has characters the model never saw in training". The
    graph samples from the prefix as it is sent: a model trained on canonical
    tunes (`data.normalize`) expects a header in that form (`X:1`, `T:`, `M:`,
    `L:`, `K:`, in this order; `datasets.abc_normalize.canonical_prefix`), which
    `generate` writes for its callers.

    Args:
        model: A `LanguageModel` (not stateful).
        vocabulary: Its `Vocabulary`.
        max_length: The most characters sampled per tune; `length` is cut to it.
    """

    def __init__(self, model, vocabulary, max_length=SERVING_MAX_LENGTH):
        super().__init__()
        self.model = model
        self.max_length = int(max_length)
        keys = [c.encode("utf-8") for c in vocabulary.characters]
        ids = np.arange(2, vocabulary.size, dtype=np.int32)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.string), tf.constant(ids, tf.int32)
            ),
            default_value=-1,
        )
        # The specials (unknown, end of tune) print as nothing.
        self.characters = tf.constant([b"", b"", *keys], tf.string)

    def _sample(self, prefix, num, length, temperature, top_k, top_p, seed):
        characters = tf.strings.unicode_split(prefix, "UTF-8")  # (P,) one character each
        ids = self.table.lookup(characters)  # (P,)
        check = tf.debugging.assert_non_negative(
            ids, message="the prefix has characters the model never saw in training"
        )
        check_empty = tf.debugging.assert_positive(
            tf.size(ids), message="the prefix must not be empty"
        )
        with tf.control_dependencies([check, check_empty]):
            length = tf.clip_by_value(tf.cast(length, tf.int32), 0, self.max_length)
        result = sample_ids(
            self.model,
            ids,
            num,
            length,
            length + 1,  # room for the end mark after `length` characters
            temperature,
            top_k,
            top_p,
            seed,
        )
        text = tf.strings.reduce_join(tf.gather(self.characters, result.ids), axis=-1)  # (num,)
        return {"abc": prefix + text, "finished": result.lengths <= length}

    @tf.function(
        input_signature=[
            tf.TensorSpec((), tf.string, name="prefix"),
            tf.TensorSpec((), tf.int32, name="length"),
            tf.TensorSpec((), tf.float32, name="temperature"),
            tf.TensorSpec((), tf.int64, name="seed"),
        ]
    )
    def serve(self, prefix, length, temperature, seed):
        """One tune: `abc` (the prefix and its continuation) and `finished`."""
        out = self._sample(prefix, 1, length, temperature, 0, 1.0, seed)
        return {"abc": out["abc"][0], "finished": out["finished"][0]}

    @tf.function(
        input_signature=[
            tf.TensorSpec((), tf.string, name="prefix"),
            tf.TensorSpec((), tf.int32, name="num"),
            tf.TensorSpec((), tf.int32, name="length"),
            tf.TensorSpec((), tf.float32, name="temperature"),
            tf.TensorSpec((), tf.int32, name="top_k"),
            tf.TensorSpec((), tf.float32, name="top_p"),
            tf.TensorSpec((), tf.int64, name="seed"),
        ]
    )
    def sample(self, prefix, num, length, temperature, top_k, top_p, seed):
        """`num` tunes from one prefix, with top-k and nucleus filtering: `abc`, `finished`."""
        return self._sample(prefix, num, length, temperature, top_k, top_p, seed)


# The sampling modules of the models `generate` has seen (a tf.function method
# holds its module weakly, so the module must live as long as its model).
_modules = weakref.WeakKeyDictionary()


def generate(
    model,
    vocabulary,
    prefix,
    num=1,
    length=1000,
    temperature=0.8,
    top_k=0,
    top_p=1.0,
    seed=1,
    canonical=True,
):
    """Samples `num` tunes after `prefix` in one batch; returns `GeneratedTune`s.

    `model` is a trained `LanguageModel` (with its `vocabulary`) or a loaded
    export (`vocabulary=None`), which runs its `sample` signature: the same
    graph, so the same seed gives the same tunes. With `canonical`, a prefix
    that holds a whole header is first put in the canonical form the model
    was trained on (`datasets.abc_normalize.canonical_prefix`): the tunes
    start with that form.
    """
    if not prefix:
        raise ValueError("Expected a non-empty prefix, e.g. 'X:1\\n'. Received: prefix=''")
    if length < 1 or num < 1:
        raise ValueError(f"Expected num >= 1 and length >= 1. Received: num={num}, length={length}")
    if vocabulary is not None:
        vocabulary.encode(prefix, strict=True)  # a clear error for unknown characters
        written = canonical_prefix(prefix) if canonical else prefix
        if UNKNOWN not in vocabulary.encode(written):  # e.g. `M:none` needs an `o`
            prefix = written
        # One module per model and vocabulary, traced once: `length` is a tensor input.
        key = (tuple(vocabulary.characters), max(length, SERVING_MAX_LENGTH))
        module = _modules.setdefault(model, {}).get(key)
        if module is None:
            module = _modules[model][key] = MusicServing(model, vocabulary, max_length=key[1])
        sampler = module.sample
    else:
        prefix = canonical_prefix(prefix) if canonical else prefix
        sampler = model.signatures["sample"]
    try:
        out = sampler(
            prefix=tf.constant(prefix.encode("utf-8")),
            num=tf.constant(num, tf.int32),
            length=tf.constant(length, tf.int32),
            temperature=tf.constant(temperature, tf.float32),
            top_k=tf.constant(top_k, tf.int32),
            top_p=tf.constant(top_p, tf.float32),
            seed=tf.constant(seed, tf.int64),
        )
    except tf.errors.InvalidArgumentError as error:
        for known in ("the prefix has characters the model never saw in training",):
            if known in error.message:
                raise ValueError(f"{known.capitalize()}.") from None
        raise ValueError(error_message(error)) from None
    return [
        GeneratedTune(abc.decode("utf-8"), bool(finished))
        for abc, finished in zip(out["abc"].numpy(), out["finished"].numpy())
    ]
