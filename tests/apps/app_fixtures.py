"""Each app's tiny config and a small data set of its own kind: what the app tests,
the shared command-line tests (`test_cli.py`) and the determinism tests train on.

`APPS[name]` is an `AppCase`: `tiny` (the `--set` options of a config that
trains in seconds) and `data(home)`, which writes the app's small data set
under `home` and returns the options that point at it (`["--data", path]`, or
`[]` for an app whose default data is generated).
"""

import dataclasses
import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

# -- sentiment -------------------------------------------------------------

SENTIMENT_TINY = [
    # No GloVe and no extra tweets: their files are tested in tests/datasets.
    "--set",
    "model.word_vectors=none",
    "--set",
    "data.extra_tweets=none",
    "--set",
    "train.epochs=2",
    "--set",
    "train.batch_size=16",
    "--set",
    "model.units=8",
    "--set",
    "model.embedding_dim=8",
    "--set",
    "model.attention_units=8",
    "--set",
    "model.subword_buckets=500",
    "--set",
    "data.max_tokens=200",
    "--set",
    "data.sequence_length=12",
    # One member, one pass over the tweets per epoch: both have tests of their own.
    "--set",
    "model.members=1",
    "--set",
    "data.train_repeats=1",
]

# -- stocks ----------------------------------------------------------------

STOCKS_TINY = [
    "--set",
    "data.window=12",
    "--set",
    "data.horizon=3",
    "--set",
    "model.units=4",
    "--set",
    "train.epochs=2",
    "--set",
    "train.batch_size=32",
]

# -- music -----------------------------------------------------------------

MUSIC_TINY = [
    "--set",
    "train.epochs=2",
    "--set",
    "train.batch_size=4",
    "--set",
    "data.window=16",
    "--set",
    "data.steps_per_epoch=12",
    "--set",
    "model.units=16",
    "--set",
    "model.embedding_dim=8",
    "--set",
    "sample.max_length=120",
]

# -- translation -----------------------------------------------------------

TRANSLATION_TINY = [
    "--set",
    "train.epochs=3",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.jit_compile=false",
    "--set",
    "model.units=32",
    "--set",
    "model.embedding_dim=16",
    "--set",
    "data.max_tokens=8",
]

# -- captioning ------------------------------------------------------------

CAPTIONING_TINY = [
    "--set",
    "data.image_size=32",
    "--set",
    "data.scenes=64,16,16",
    "--set",
    "data.max_tokens=12",
    "--set",
    "decode.max_length=12",
    "--set",
    "model.cnn_filters=8,16",
    "--set",
    "model.units=16",
    "--set",
    "model.embedding_dim=8",
    "--set",
    "model.attention_units=8",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.epochs=2",
]

POSITIVE = ["what a great day", "i love it :)", "so happy for you!", "best film ever", "nice"]
NEGATIVE = ["what a bad day", "i hate it :(", "so sad for you", "worst film ever", "awful"]


def sentiment_data(home):
    """`tweets.csv`: 120 short texts with `text` and `label` columns."""
    rows = ["text,label"]
    for i in range(12):
        rows += [f'"{t} {i}",positive' for t in POSITIVE] + [
            f'"{t} {i}",negative' for t in NEGATIVE
        ]
    (home / "tweets.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return ["--data", str(home / "tweets.csv")]


def synthetic_prices(tickers=("AAA", "BBB"), days=200, seed=0, split_day=None):
    """Random-walk daily prices with consistent OHLC, volumes and an adjusted close;
    the first ticker splits 2-for-1 on `split_day` (when given)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", periods=days)
    frames = []
    for i, ticker in enumerate(tickers):
        close = 50.0 * (i + 1) * np.exp(np.cumsum(rng.normal(0.0003, 0.015, days)))
        open_ = close * np.exp(rng.normal(0, 0.005, days))
        high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.006, days)))
        low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.006, days)))
        volume = rng.integers(1_000, 50_000, days).astype(float)
        adj_close = close * 0.9
        if split_day is not None and i == 0:
            before = np.arange(days) < split_day
            for column in (open_, high, low, close):
                column[before] *= 2.0
            volume[before] /= 2.0
        frames.append(
            pd.DataFrame(
                {
                    "Ticker": ticker,
                    "Date": dates.strftime("%Y-%m-%d"),
                    "Open": open_.round(4),
                    "High": high.round(4),
                    "Low": low.round(4),
                    "Close": close.round(4),
                    "Volume": volume,
                    "Adj Close": adj_close.round(4),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def stocks_data(home):
    """`prices.csv`: two tickers of 200 days, the first with a 2-for-1 split."""
    synthetic_prices(split_day=30).to_csv(home / "prices.csv", index=False)
    return ["--data", str(home / "prices.csv")]


KEYS = ("D", "G", "A", "Em", "C")
METERS = {"4/4": 8, "6/8": 6, "3/4": 6, "2/4": 4}  # eighth notes per bar (L:1/8)


def _tune(rng, number):
    meter = list(METERS)[number % len(METERS)]
    bars = []
    for _ in range(8):
        notes, left = [], METERS[meter]
        while left:
            length = int(min(left, rng.choice([1, 1, 2, 3])))
            pitch = "CDEFGABcdefg"[rng.integers(12)]
            notes.append(pitch + (str(length) if length > 1 else ""))
            left -= length
        bars.append("".join(notes))
    body = "|".join(bars[:4]) + "|\n" + "|".join(bars[4:]) + "|]\n"
    return f"X:{number}\nT:Tune {number}\nM:{meter}\nL:1/8\nK:{KEYS[number % len(KEYS)]}\n{body}"


def music_data(home):
    """`tunes/`: 40 random tunes in two files (one in a subfolder), with a binary
    and an empty .abc file that are skipped."""
    rng = np.random.default_rng(0)
    folder = home / "tunes"
    (folder / "more").mkdir(parents=True, exist_ok=True)
    tunes = [_tune(rng, i) for i in range(1, 41)]
    (folder / "a.abc").write_text("\n".join(tunes[:25]), encoding="utf-8")
    (folder / "more" / "b.abc").write_text("\n".join(tunes[25:]), encoding="utf-8")
    (folder / "more" / "broken.abc").write_bytes(b"\x00\x01binary")
    (folder / "empty.abc").write_text("", encoding="utf-8")
    return ["--data", str(folder)]


NOUNS = {"perro": "dog", "gato": "cat", "libro": "book", "coche": "car", "pájaro": "bird"}
COLOURS = {"rojo": "red", "azul": "blue", "verde": "green", "negro": "black", "blanco": "white"}
NUMBERS = {"uno": "one", "dos": "two", "tres": "three", "cuatro": "four", "cinco": "five"}


def _pairs():
    """English<TAB>Spanish lines of a toy language: the adjective moves."""
    lines = []
    for n_es, n_en in NOUNS.items():
        for c_es, c_en in COLOURS.items():
            for k_es, k_en in NUMBERS.items():
                lines.append(f"{k_en} {c_en} {n_en}.\t¿{k_es} {n_es} {c_es}?\tCC-BY toy")
    return lines


def translation_data(home):
    """`pairs.tsv`: 125 pairs of a toy language in which the adjective moves."""
    (home / "pairs.tsv").write_text("\n".join(_pairs()) + "\n", encoding="utf-8")
    return ["--data", str(home / "pairs.tsv")]


def captioning_data(home):
    """Nothing to write: the app generates its scenes (`data.scenes` in the tiny config)."""
    return []


@dataclasses.dataclass(frozen=True)
class AppCase:
    """Args:
    name: The app.
    tiny: `--set` options of a config that trains in seconds.
    data: `data(home)` writes the app's small data set, returns its options.
    changed: `changed(home)`: options that change what the app would write
        into its run directory (a vocabulary, a scaler): a run with them may
        not resume one without them, and must not overwrite its files.
    """

    name: str
    tiny: list
    data: Callable
    changed: Callable


def stocks_other_prices(home):
    """Other prices (another scaler) and another window."""
    synthetic_prices(seed=5).to_csv(home / "other.csv", index=False)
    return ["--data", str(home / "other.csv"), "--set", "data.window=10"]


APPS = {
    # 10 ids < the 30-odd words of the data: a vocabulary written anew would differ.
    "sentiment": AppCase(
        "sentiment", SENTIMENT_TINY, sentiment_data, lambda home: ["--set", "data.max_tokens=10"]
    ),
    "stocks": AppCase("stocks", STOCKS_TINY, stocks_data, stocks_other_prices),
    "music": AppCase("music", MUSIC_TINY, music_data, lambda home: ["--set", "data.window=8"]),
    "translation": AppCase(
        "translation",
        TRANSLATION_TINY,
        translation_data,
        lambda home: ["--set", "data.target_vocabulary=12"],
    ),
    "captioning": AppCase(
        "captioning", CAPTIONING_TINY, captioning_data, lambda home: ["--set", "data.vocabulary=10"]
    ),
}


def files(folder):
    """`{relative path: sha256}` of every file under `folder`."""
    return {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


class Interrupted(Exception):
    pass


def train_interrupted(cli, monkeypatch, *args):
    """`train *args` with the click group `cli`, stopped as its second epoch starts:
    the first epoch is saved, the final weights are not (a run killed half-way)."""
    import keras

    def stop_at_epoch_two(self, epoch, logs=None):
        if epoch == 1:
            raise Interrupted()

    with monkeypatch.context() as patch:
        patch.setattr(keras.callbacks.TerminateOnNaN, "on_epoch_begin", stop_at_epoch_two)
        with pytest.raises(Interrupted):
            CliRunner().invoke(cli, ["train", *map(str, args)], catch_exceptions=False)
