"""The stocks app's validation-period corrections: conformal offsets that deliver
their coverage, shrinkage that keeps the random walk unless the data beat it,
and an export that serves each ticker its own calibrated interval."""

import numpy as np
import pytest

from apps.stocks import calibration
from apps.stocks.calibration import Calibration


def _forecasts(rng, n, horizon=3, width=1.0):
    """Quantiles (0.1, 0.5, 0.9) of a median at 0 with half-width `width`, `(n, H, 3)`."""
    q = np.zeros((n, horizon, 3))
    q[..., 0], q[..., 2] = -width, width
    return q + rng.normal(0, 0.01, q.shape)


def test_conformal_offsets_deliver_the_level_on_exchangeable_data():
    rng = np.random.default_rng(0)
    level = 0.8
    # Intervals twice too narrow for standard normal targets (they cover ~38 %).
    fit_q, check_q = _forecasts(rng, 2000, width=0.5), _forecasts(rng, 20000, width=0.5)
    fit_y, check_y = rng.normal(size=(2000, 3)), rng.normal(size=(20000, 3))
    offsets = calibration.conformal_offset(calibration.conformity_scores(fit_q, fit_y), level)
    calibrated = calibration.apply(check_q, offsets[None])
    inside = (check_y >= calibrated[..., 0]) & (check_y <= calibrated[..., -1])
    assert np.all(np.abs(inside.mean(axis=0) - level) < 0.02), inside.mean(axis=0)
    # Too wide intervals are narrowed, never past the median.
    wide = _forecasts(rng, 2000, width=5.0)
    offsets = calibration.conformal_offset(calibration.conformity_scores(wide, fit_y), level)
    assert np.all(offsets < 0)
    narrowed = calibration.apply(wide, np.full((1, 3), -100.0))
    assert np.all(narrowed[..., 0] <= narrowed[..., 1]) and np.all(
        narrowed[..., 1] <= narrowed[..., 2]
    )
    # Too few scores for the rank: the largest one.
    scores = np.arange(4.0)[:, None]
    assert calibration.conformal_offset(scores, 0.9)[0] == 3.0


def test_shrinkage_keeps_the_random_walk_unless_the_median_earns_more():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(1500, 2))
    noise = rng.normal(size=(1500, 2))  # a median that knows nothing
    assert calibration.choose_shrinkage(noise, target) == (0.0, 0.0)
    signal = rng.normal(size=(1500, 2))
    informed = signal + 0.3 * rng.normal(size=(1500, 2))
    lam = calibration.choose_shrinkage(signal, informed)
    assert all(0.8 <= x <= 1.0 for x in lam), lam
    # Shrinkage moves every quantile with the median.
    q = np.array([[[-1.0, 2.0, 3.0]]])
    np.testing.assert_allclose(calibration.shift_median(q, [0.0], 1), [[[-3.0, 0.0, 1.0]]])


def test_fit_per_ticker_with_a_pooled_fallback_and_json_round_trip():
    rng = np.random.default_rng(2)
    n = 400
    tickers = np.array(["WIDE"] * n + ["NARROW"] * n + ["FEW"] * 10, dtype=object)
    q = _forecasts(rng, len(tickers))
    y = np.concatenate(
        [rng.normal(0, 2.0, (n, 3)), rng.normal(0, 0.3, (n, 3)), rng.normal(size=(10, 3))]
    )
    fitted = calibration.fit(q, y, tickers, 0.8, median_index=1)
    assert set(fitted.tickers) == {"WIDE", "NARROW"}  # FEW has too few days
    assert min(fitted.tickers["WIDE"]) > 0 > max(fitted.tickers["NARROW"])
    offsets = fitted.offsets(["WIDE", "FEW", "unknown"])
    np.testing.assert_allclose(offsets[0], fitted.tickers["WIDE"], rtol=1e-6)
    np.testing.assert_allclose(offsets[1:], [fitted.pooled] * 2, rtol=1e-6)
    assert Calibration.from_json(fitted.to_json()) == fitted
    pooled = calibration.fit(q, y, tickers, 0.8, 1, calibration="pooled")
    assert pooled.tickers == {} and pooled.pooled == fitted.pooled
    none = calibration.fit(q, y, tickers, 0.8, 1, calibration="none", shrink=False)
    assert none == Calibration(0.8, (1.0,) * 3, (0.0,) * 3, days=len(tickers))
    # The evidence: per-ticker calibration beats none when tickers differ.
    origins = np.tile(np.arange(n), 3)[: len(tickers)]
    rows = {row[0]: row for row in calibration.cross_check(q, y, tickers, origins, 0.8, 1)}
    assert rows["ticker"][1] < rows["none"][1]


def test_the_export_serves_each_ticker_its_calibrated_interval(tmp_path):
    import tensorflow as tf

    from apps.stocks.config import PRESETS
    from apps.stocks.model import build_model
    from apps.stocks.serving import Forecaster, StocksServing
    from seqlib.export import export_for_serving

    config = PRESETS["cpu-small"]
    scaler = {"feature_mean": [0.0] * 5, "feature_std": [1.0] * 5, "return_scale": 0.01}
    model = build_model(config, scaler)
    fitted = Calibration(
        0.8, (0.0, 0.5, 1, 1, 1), (0.1,) * 5, {"AAA": (0.5,) * 5, "BBB": (-0.2,) * 5}
    )
    rng = np.random.default_rng(3)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (3, 60)), axis=1))
    ohlcv = np.stack([closes, closes * 1.01, closes * 0.99, closes, 1e6 + closes], -1)
    ohlcv = ohlcv.astype("float32")
    tickers = ["BBB", "ZZZ", "AAA"]
    expected = Forecaster.from_keras(model, scaler, config, fitted)(ohlcv, tickers)
    module = StocksServing(model, scaler, 60, 0.8, fitted)
    path = export_for_serving(
        module, tmp_path, "stocks", {"serving_default": module.serve_by_ticker}
    )
    served = tf.saved_model.load(str(path)).signatures["serving_default"](
        ohlcv=tf.constant(ohlcv), ticker=tf.constant(tickers)
    )
    for key in ("median", "lower", "upper"):
        np.testing.assert_allclose(served[key].numpy(), expected[key], rtol=1e-5)
    # Day 1's median is persistence (lambda 0); unknown tickers get the pooled offsets.
    np.testing.assert_allclose(served["median"].numpy()[:, 0], ohlcv[:, -1, 3], rtol=1e-6)
    pooled = Forecaster.from_keras(model, scaler, config, fitted)(ohlcv)
    np.testing.assert_allclose(served["upper"].numpy()[1], pooled["upper"][1], rtol=1e-5)
    widths = served["upper"].numpy() - served["lower"].numpy()
    assert np.all(widths[2] > widths[1]) and np.all(widths[1] > widths[0])


@pytest.mark.parametrize("value", ["per-day", ""])
def test_an_unknown_calibration_is_a_config_error(value):
    from apps.stocks.config import ModelConfig

    with pytest.raises(ValueError, match="calibration="):
        ModelConfig(calibration=value)
