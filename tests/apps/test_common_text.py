"""`apps.common.text`: tokens cut and joined in the graph, vocabularies, their
tables and the words their ids print as."""

import pytest
import tensorflow as tf

from apps.common.text import (
    TARGET_SPECIALS,
    UNK,
    Vocabulary,
    detokenize,
    tokenize,
    tokenize_all,
)


@pytest.mark.parametrize(
    "sentence,tokens",
    [
        ("¿Dónde está la biblioteca?", ["¿", "Dónde", "está", "la", "biblioteca", "?"]),
        ("I don't know, Tom.", ["I", "don't", "know", ",", "Tom", "."]),
        ("¡Hola! (Sí.)", ["¡", "Hola", "!", "(", "Sí", ".", ")"]),
    ],
)
def test_tokens_round_trip(sentence, tokens):
    assert tokenize_all([sentence]) == [tokens]
    ragged = tokenize(tf.constant([sentence]))
    assert detokenize(ragged).numpy()[0].decode("utf-8") == sentence
    # Padding and special marks (empty strings) are skipped.
    padded = tf.constant([[t.encode() for t in tokens] + [b"", b""]])
    assert detokenize(padded).numpy()[0].decode("utf-8") == sentence


def test_tokens_can_be_lowercased_first():
    assert tokenize_all(["A Dog, running."], lowercase=True) == [["a", "dog", ",", "running", "."]]
    assert tokenize_all(["Ünd DAS"], lowercase=True) == [["ünd", "das"]]
    assert tokenize_all(["A Dog"]) == [["A", "Dog"]]


def test_vocabulary_ids_tables_and_json():
    sentences = [["a", "b", "a"], ["c", "a", "b"], ["d"]]
    vocabulary = Vocabulary.from_sentences(sentences, 6, TARGET_SPECIALS)
    assert vocabulary.tokens == ["", "[UNK]", "[START]", "[END]", "a", "b"]
    assert vocabulary.encode(["a", "b", "c", "[END]"]) == [4, 5, UNK, UNK]
    table = vocabulary.table()
    ids = table.lookup(tokenize(tf.constant(["a c b"]))).to_list()
    assert ids == [vocabulary.encode(["a", "c", "b"])]
    again = Vocabulary.from_json(vocabulary.to_json())
    assert again.tokens == vocabulary.tokens and again.specials == vocabulary.specials


def test_words_print_specials_as_nothing_but_unknown_words():
    vocabulary = Vocabulary([*TARGET_SPECIALS, "a", "b"], len(TARGET_SPECIALS))
    assert vocabulary.words() == ["", "[UNK]", "", "", "a", "b"]
