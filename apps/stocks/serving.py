"""The stock export, and one way to ask any form of the model for forecasts.

`StocksServing` is what TensorFlow Serving calls (`serving_default` on
adjusted rows, `adjusted` on rows with the adjusted close, `by_ticker` with
each window's ticker, for its own calibration). `Forecaster` calls a trained
run, a loaded export or a served model alike, and `forecast` calls it in
batches.
"""

import dataclasses
import json
import pathlib

import numpy as np
import tensorflow as tf

from apps.stocks.calibration import Calibration
from apps.stocks.model import forecaster, interval_level
from seqlib.export import float_input

ADJUSTED = "adjusted"  # the signature that also takes Adj Close and adjusts inside
BY_TICKER = "by_ticker"  # the signature that also takes the ticker, for its calibration


@dataclasses.dataclass(frozen=True)
class Forecaster:
    """What `predict` calls, from a run or an export.

    Args:
        call: `(N, W, 5)` float32 OHLCV and the `N` tickers (or None) -> dict of
            numpy forecasts in price units.
        window: Rows per window.
        horizon: Days forecast.
        level: The interval's nominal coverage, e.g. 0.8; None when `call`
            returns it as `level`.
    """

    call: object
    window: int
    horizon: int
    level: float | None

    def __call__(self, ohlcv, tickers=None):
        return {key: np.asarray(value) for key, value in self.call(ohlcv, tickers).items()}

    @classmethod
    def from_keras(cls, model, scaler, config, calibration=None):
        forecast = forecaster(model, scaler, calibration)

        def call(ohlcv, tickers=None):
            if tickers is None or calibration is None:
                return forecast(ohlcv)
            return forecast(ohlcv, calibration.offsets(tickers))

        return cls(
            call,
            config.data.window,
            config.data.horizon,
            interval_level(config.model.quantiles),
        )

    @classmethod
    def from_export(cls, model, source):
        """From a loaded export or a served model (`seqlib.serving.client.RemoteModel`)."""
        serve = model.signatures["serving_default"]
        spec = serve.structured_input_signature[1]["ohlcv"]
        horizon = serve.structured_outputs["median"].shape[1]
        if "level" in serve.structured_outputs:
            level = None  # each answer says it
        else:  # an export written before the `level` output
            config_file = pathlib.Path(source) / "assets.extra" / "config.json"
            if not config_file.is_file():
                raise ValueError(
                    f"{source} does not say its interval's coverage: export the model again"
                )
            level = interval_level(json.loads(config_file.read_text())["app"]["model"]["quantiles"])

        by_ticker = model.signatures.get(BY_TICKER)  # exports since the calibration

        def call(ohlcv, tickers=None):
            ohlcv = tf.constant(ohlcv, tf.float32)
            if tickers is None or by_ticker is None:
                return serve(ohlcv=ohlcv)
            return by_ticker(ohlcv=ohlcv, ticker=tf.constant([str(t) for t in tickers]))

        return cls(call, int(spec.shape[1]), int(horizon), level)


class StocksServing(tf.Module):
    """What TensorFlow Serving calls: raw daily rows in, forecasts in price units out.

    `serving_default` takes `ohlcv`, `(batch, W, 5)` float32 rows of open, high,
    low, close and volume, oldest first, with no split inside the window (adjust
    them, or use the `adjusted` signature). `adjusted` takes `ohlcv_adj_close`,
    `(batch, W, 6)`, the same columns and the adjusted close, and adjusts for
    splits and dividends inside the graph, relative to the last row. Both return
    `median`, `lower`, `upper` `(batch, H)` and `quantiles` `(batch, H, Q)` in
    the units of the last row's close, `last_close` `(batch,)`, and `level`
    `(batch,)`, the nominal coverage of [lower, upper] (e.g. 0.8), so that a
    client of the server needs nothing but the answer. `by_ticker` takes
    `ohlcv` and `ticker` `(batch,)` strings: a ticker calibrated on its own
    gets its own interval offsets, any other ticker the pooled ones that the
    other signatures use.
    """

    def __init__(self, model, scaler, window, level, calibration=None):
        super().__init__()
        self.model = model
        self.level = float(level)
        self._forecast = forecaster(model, scaler, calibration)
        horizon = model.output_shape[1]
        calibration = calibration or Calibration.identity(level, horizon)
        names = list(calibration.tickers)
        self._tickers = tf.constant(names, tf.string, shape=(len(names),))
        # One row per calibrated ticker, then the pooled row for any other.
        self._offsets = tf.constant(
            np.concatenate(
                [calibration.offsets(names).reshape(-1, horizon), calibration.offsets()]
            ),
            tf.float32,
        )  # (T + 1, H)
        self.serve = tf.function(
            self._serve, input_signature=[float_input((window, 5), "ohlcv")], autograph=False
        )
        self.serve_by_ticker = tf.function(
            self._serve_by_ticker,
            input_signature=[
                float_input((window, 5), "ohlcv"),
                tf.TensorSpec((None,), tf.string, name="ticker"),
            ],
            autograph=False,
        )
        self.serve_adjusted = tf.function(
            self._serve_adjusted,
            input_signature=[float_input((window, 6), "ohlcv_adj_close")],
            autograph=False,
        )

    def _serve(self, ohlcv, offsets=None):
        out = dict(self._forecast(ohlcv, offsets))
        out["last_close"] = ohlcv[:, -1, 3]
        out["level"] = tf.fill(tf.shape(ohlcv)[:1], self.level)
        return out

    def _serve_by_ticker(self, ohlcv, ticker):
        known = tf.size(self._tickers)
        matches = tf.equal(ticker[:, None], self._tickers[None, :])  # (batch, T)
        positions = tf.broadcast_to(tf.range(known)[None, :], tf.shape(matches))
        candidates = tf.concat(  # each match's row, and the pooled row after the T tickers
            [tf.where(matches, positions, known), tf.fill([tf.shape(ticker)[0], 1], known)], 1
        )
        rows = tf.reduce_min(candidates, axis=1)  # (batch,) the first match, else pooled
        return self._serve(ohlcv, tf.gather(self._offsets, rows))

    def _serve_adjusted(self, ohlcv_adj_close):
        rows = tf.cast(ohlcv_adj_close, tf.float64)  # float64: ratios of large volumes
        factors = rows[..., 5] / rows[..., 3]  # (batch, W)
        relative = factors / factors[:, -1:]
        prices = rows[..., :4] * relative[..., None]  # (batch, W, 4)
        volume = rows[..., 4:5] / relative[..., None]  # (batch, W, 1)
        return self._serve(tf.cast(tf.concat([prices, volume], axis=-1), tf.float32))


def forecast(model, ohlcv, tickers=None, batch_size=512):
    """Forecasts in price units for `(N, W, 5)` windows of `tickers` (None: the pooled
    calibration), from a `Forecaster`: `{"median", "lower", "upper"}` `(N, H)` and
    `"quantiles"` `(N, H, Q)`, numpy."""
    outputs = [
        model(ohlcv[i : i + batch_size], None if tickers is None else tickers[i : i + batch_size])
        for i in range(0, len(ohlcv), batch_size)
    ]
    return {key: np.concatenate([np.asarray(o[key]) for o in outputs]) for key in outputs[0]}
