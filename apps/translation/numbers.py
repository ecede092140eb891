"""Numbers as placeholders: the model translates `<num1>`, the graph writes `19`.

A word model cannot learn every number, and a copy by attention loses some:
beam search prefers a likely word to an `[UNK]`, and attention may point next
to the number. So numbers are taken out before the model sees them (the
placeholders of NMT systems, as in Luong et al. 2015's copy model, with one
token per position instead of a pointer):

- in a source sentence, the `k`-th token that holds a digit becomes `<numk>`
  (`k` up to `MAX_NUMBERS`; later ones are left as they are and read as
  `[UNK]`);
- in its training translation, a token equal to one of those numbers becomes
  that number's placeholder; other numbers are left as they are (outside the
  vocabulary: `[UNK]`), e.g. "diecinueve" -> "19";
- in a translation the model writes, `<numk>` becomes the source's `k`-th
  number, or nothing when the source has fewer.

`mark_pair` does the training side in Python; `mark_source` and `restore` do
the same in the graph (regex, cumulative sums and gathers: core TF ops), so
the export needs no Python. A number is a token with a digit in it, after
`apps.common.text.tokenize` (`5:00` is three tokens: `5`, `:`, `00`).
"""

import re

import tensorflow as tf

MAX_NUMBERS = 9

_DIGIT = re.compile(r"\d")
_PLACEHOLDER = re.compile(r"<num[1-9]>")
# The same tests in RE2, for the graph.
_DIGIT_RE2 = r".*[0-9].*"
_PLACEHOLDER_RE2 = r"<num[1-9]>"


def placeholder(k):
    """The token of a sentence's `k`-th number, e.g. `<num1>`."""
    return f"<num{k}>"


def is_number(token):
    """Whether a token is a number to hide (it holds a digit; not a placeholder)."""
    return bool(_DIGIT.search(token)) and not _PLACEHOLDER.fullmatch(token)


def mark_pair(source, target):
    """`(source, target)` token lists with numbers replaced by placeholders: the
    `k`-th number of the source by `<numk>`, the same number in the target by
    the same placeholder."""
    marks, marked, k = {}, [], 0
    for token in source:
        if is_number(token):
            k += 1
            if k <= MAX_NUMBERS:
                marks.setdefault(token, placeholder(k))
                token = placeholder(k)
        marked.append(token)
    return marked, [marks.get(token, token) for token in target]


def mark_source(tokens):
    """The graph's `mark_pair` for sources: a ragged `(batch, None)` string tensor
    of tokens with each of the first `MAX_NUMBERS` numbers of a row replaced by
    its placeholder."""
    number = tf.strings.regex_full_match(tokens, _DIGIT_RE2)  # ragged bool
    count = tf.math.cumsum(tf.cast(number, tf.int32).to_tensor(), axis=1)  # (batch, S)
    count = tf.RaggedTensor.from_tensor(count, lengths=tokens.row_lengths())
    names = tf.strings.join(["<num", tf.strings.as_string(count.flat_values), ">"])
    hide = number.flat_values & (count.flat_values <= MAX_NUMBERS)
    return tokens.with_flat_values(tf.where(hide, names, tokens.flat_values))


def restore(words, tokens):
    """`words` `(batch, T)` (a translation's tokens) with every `<numk>` replaced
    by the `k`-th number of the source `tokens` (ragged `(batch, None)`, before
    `mark_source`), or by an empty token when the source has fewer."""
    numbers = tf.ragged.boolean_mask(tokens, tf.strings.regex_full_match(tokens, _DIGIT_RE2))
    numbers = numbers.to_tensor(default_value="")  # (batch, N)
    numbers = tf.pad(numbers, [[0, 0], [1, 0]], constant_values="")  # 0: no number
    marked = tf.strings.regex_full_match(words, _PLACEHOLDER_RE2)  # (batch, T)
    digit = tf.strings.substr(tf.where(marked, words, "<num0>"), 4, 1)
    k = tf.minimum(tf.strings.to_number(digit, tf.int32), tf.shape(numbers)[1] - 1)
    return tf.where(marked, tf.gather(numbers, k, batch_dims=1), words)
