"""apps.translation.numbers: placeholders for numbers, in Python (training) and
in the graph (serving), the same on both sides."""

import tensorflow as tf

from apps.common.text import tokenize, tokenize_all
from apps.translation.numbers import MAX_NUMBERS, mark_pair, mark_source, restore


def test_mark_pair_names_numbers_by_their_order_in_the_source():
    source = ["tengo", "19", "años", "y", "3", "gatos", "."]
    target = ["i'm", "19", "and", "have", "3", "cats", ",", "not", "4", "."]
    assert mark_pair(source, target) == (
        ["tengo", "<num1>", "años", "y", "<num2>", "gatos", "."],
        ["i'm", "<num1>", "and", "have", "<num2>", "cats", ",", "not", "4", "."],
    )
    many = [str(i) for i in range(MAX_NUMBERS + 2)]
    marked, _ = mark_pair(many, [])
    assert marked[:MAX_NUMBERS] == [f"<num{k}>" for k in range(1, MAX_NUMBERS + 1)]
    assert marked[MAX_NUMBERS:] == many[MAX_NUMBERS:]  # beyond the last placeholder


def test_the_graph_marks_sources_as_training_does():
    sentences = [
        "Tengo 19 años y 3 gatos.",
        "A las 5:00, ni 7 ni 8.",
        "Sin números.",
        "",
        " ".join(str(i) for i in range(12)),
    ]
    marked = mark_source(tokenize(tf.constant(sentences))).to_list()
    expected = [mark_pair(tokens, [])[0] for tokens in tokenize_all(sentences)]
    assert [[t.decode() for t in row] for row in marked] == expected


def test_restore_writes_the_source_numbers_back():
    sources = tokenize(tf.constant(["Tengo 19 años y 3 gatos.", "Nada.", "A las 5:00."]))
    words = tf.constant(
        [
            ["i'm", "<num1>", "with", "<num2>", "cats"],
            ["nothing", "<num1>", ".", "", ""],
            ["at", "<num1>", ":", "<num2>", "."],
        ]
    )
    assert restore(words, sources).numpy().tolist() == [
        [b"i'm", b"19", b"with", b"3", b"cats"],
        [b"nothing", b"", b".", b"", b""],  # the source has no number
        [b"at", b"5", b":", b"00", b"."],
    ]
