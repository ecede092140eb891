"""The baseline the model is measured against: an interpolated character n-gram.

Witten-Bell interpolation (Witten & Bell 1991; as in Chen & Goodman 1998, eq. 16),
from order 1 up to `order`, over a uniform distribution on the vocabulary:

```
P_n(w | h) = (c(h w) + N1+(h .) P_{n-1}(w | h')) / (c(h) + N1+(h .))
P_0(w)     = 1 / V
```

where `h` holds the `n - 1` characters before `w`, `h'` drops the oldest of
them, `c` counts occurrences in the training text and `N1+(h .)` is the number
of distinct characters seen after `h`. A history never seen in training falls
back to `P_{n-1}`. It has no parameter to tune.

The counts live in sorted numpy arrays of int64 keys (a history and its next
character written in base V), so fitting 4 M characters and scoring the test
split take seconds.
"""

import math

import numpy as np


class WittenBellNgram:
    """A character n-gram language model with Witten-Bell interpolation.

    Args:
        order: The longest n-gram, e.g. 7 (six characters of history).
        vocabulary_size: Ids run from 0 to `vocabulary_size - 1`.

    Example:

    ```python
    ngram = WittenBellNgram(7, vocabulary.size).fit(train_ids)
    bits, count = ngram.bits(test_sequences)
    bits / count    # bits per character
    ```
    """

    def __init__(self, order, vocabulary_size):
        if order < 1:
            raise ValueError(f"Expected order >= 1. Received: order={order}")
        if vocabulary_size**order >= 2**62:
            raise ValueError(
                "Expected vocabulary_size ** order < 2 ** 62 (the n-gram keys are int64). "
                f"Received: vocabulary_size={vocabulary_size}, order={order}"
            )
        self.order = order
        self.vocabulary_size = vocabulary_size
        self._tables = []

    def fit(self, ids):
        """Counts every n-gram of `ids` `(N,)` for n = 1 .. order; returns self."""
        ids = np.asarray(ids, dtype=np.int64)
        v = self.vocabulary_size
        self._tables = []
        keys = np.zeros(len(ids), np.int64)  # the (n-1)-grams ending before each position
        for n in range(1, self.order + 1):
            # keys[i]: the n-gram ids[i - n + 1 .. i] in base V.
            keys = keys[:-1] * v + ids[n - 1 :] if n > 1 else ids.copy()
            grams, counts = np.unique(keys, return_counts=True)  # sorted
            histories, first, followers = np.unique(
                grams // v, return_index=True, return_counts=True
            )
            self._tables.append(
                {
                    "grams": grams,
                    "counts": counts,
                    "histories": histories,
                    "history_counts": np.add.reduceat(counts, first),
                    "followers": followers,
                }
            )
        return self

    def probabilities(self, sequence):
        """P(sequence[i] | what precedes it in the sequence) for i = 1 .. len - 1."""
        ids = np.asarray(sequence, dtype=np.int64)
        v = self.vocabulary_size
        targets = ids[1:]
        p = np.full(len(targets), 1.0 / v)
        positions = np.arange(1, len(ids))
        history = np.zeros(len(targets), np.int64)  # the n-1 ids before each target
        for n, table in enumerate(self._tables, start=1):
            if n > 1:
                # Add the id n - 1 places back as the oldest, most significant digit.
                back = np.where(positions >= n - 1, ids[np.maximum(positions - (n - 1), 0)], 0)
                history = history + back * v ** (n - 2)
            known = positions >= n - 1
            at = np.searchsorted(table["histories"], history)
            at = np.minimum(at, len(table["histories"]) - 1)
            seen = known & (table["histories"][at] == history)
            c_h = np.where(seen, table["history_counts"][at], 0)
            n1 = np.where(seen, table["followers"][at], 0)
            gram = history * v + targets
            g = np.minimum(np.searchsorted(table["grams"], gram), len(table["grams"]) - 1)
            c_hw = np.where(seen & (table["grams"][g] == gram), table["counts"][g], 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                interpolated = (c_hw + n1 * p) / (c_h + n1)
            p = np.where(seen, interpolated, p)
        return p

    def bits(self, sequences):
        """Total bits and number of characters over `sequences` (first id of each is context)."""
        bits, count = 0.0, 0
        for sequence in sequences:
            p = self.probabilities(sequence)
            bits -= float(np.log(p).sum()) / math.log(2.0)
            count += len(p)
        return bits, count
