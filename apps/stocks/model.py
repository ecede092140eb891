"""The forecaster: a window of daily OHLCV rows in, quantiles of the next days out.

```
ohlcv (batch, W, 5) open, high, low, close, volume, split-adjusted
  -> OHLCVFeatures                  (batch, W-1, 5) day-on-day features, standardized
  -> seqlib GRU | LSTM x L          (batch, U) the last state
  -> Dropout -> QuantileHead        (batch, H, Q) scaled log returns from the last close
                                    z[h, q] = log(close[t+h] / close[t]) / (s sqrt(h))
```

All five features are ratios of prices (or of volumes), so a window reads the
same whatever the price level, and one model serves every ticker:

```
close_return    log(close_t / close_{t-1})
gap             log(open_t / close_{t-1})
range           log(high_t / low_t)
close_location  (close_t - low_t) / (high_t - low_t), 0.5 when high = low
volume_change   log((volume_t + 1) / (volume_{t-1} + 1))
```

`OHLCVFeatures` standardizes them with the mean and standard deviation of the
training part, held as constants of the model, so the scaling travels with the
weights into checkpoints and exports. The targets are divided by `s`, the
standard deviation of daily close returns in the training part, and by
sqrt(h), so that every day's loss has about the same size.

`QuantileHead` predicts the median and, for each level away from it, a
softplus offset added to the one before: the quantiles are increasing by
construction and never cross. `PinballLoss` is the quantile (pinball) loss
averaged over days and levels; `forecaster` turns scaled quantiles back into
prices, `close[t] * exp(z s sqrt(h))`, which maps quantiles of the log return
to quantiles of the price because exp is increasing.
"""

import statistics

import keras
import numpy as np
from keras import ops

from seqlib.models import recurrent_layer

FEATURES = ("close_return", "gap", "range", "close_location", "volume_change")
OHLCV = ("open", "high", "low", "close", "volume")


def ohlcv_features(ohlcv):
    """Day-on-day features of a `(batch, days, 5)` window: `(batch, days - 1, 5)`."""
    ohlcv = ops.convert_to_tensor(ohlcv, dtype="float32")
    open_, high, low, close, volume = (ohlcv[..., i] for i in range(5))  # (batch, days) each
    previous_close = close[:, :-1]
    spread = high - low
    location = ops.where(spread > 0, (close - low) / ops.where(spread > 0, spread, 1.0), 0.5)
    log_volume = ops.log1p(volume)
    return ops.stack(
        [
            ops.log(close[:, 1:] / previous_close),
            ops.log(open_[:, 1:] / previous_close),
            ops.log(high[:, 1:] / low[:, 1:]),
            location[:, 1:],
            log_volume[:, 1:] - log_volume[:, :-1],
        ],
        axis=-1,
    )  # (batch, days - 1, 5)


@keras.saving.register_keras_serializable(package="apps.stocks")
class OHLCVFeatures(keras.layers.Layer):
    """Raw OHLCV rows to standardized day-on-day features (see the module docstring).

    Args:
        mean: Per-feature means of the training part (5 floats).
        std: Per-feature standard deviations of the training part (5 floats).

    Call arguments:
        ohlcv: `(batch, days, 5)` open, high, low, close, volume; prices > 0.
    """

    def __init__(self, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]

    def call(self, ohlcv):
        features = ohlcv_features(ohlcv)  # (batch, days - 1, 5)
        mean = ops.convert_to_tensor(np.array(self.mean, "float32"))
        std = ops.convert_to_tensor(np.array(self.std, "float32"))
        return (features - mean) / std

    def compute_output_shape(self, input_shape):
        days = None if input_shape[1] is None else input_shape[1] - 1
        return (input_shape[0], days, len(FEATURES))

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std}


@keras.saving.register_keras_serializable(package="apps.stocks")
class QuantileHead(keras.layers.Layer):
    """Non-crossing quantiles for every day of the horizon.

    A dense layer gives, per day, the median and one raw value per other level;
    the levels above the median are the median plus a running sum of softplus
    offsets, those below it minus one, so the output is increasing along the
    last axis whatever the weights.

    Args:
        horizon: Days forecast.
        quantiles: Increasing levels with 0.5 among them.

    Call arguments:
        inputs: `(batch, units)`.
    """

    def __init__(self, horizon, quantiles, **kwargs):
        super().__init__(**kwargs)
        self.horizon = int(horizon)
        self.quantiles = [float(q) for q in quantiles]
        self.median_index = self.quantiles.index(0.5)
        self.dense = keras.layers.Dense(
            self.horizon * len(self.quantiles), dtype=self.dtype_policy, name="dense"
        )

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, inputs):
        raw = self.dense(inputs)  # (batch, H * Q)
        raw = ops.reshape(raw, (-1, self.horizon, len(self.quantiles)))  # (batch, H, Q)
        m = self.median_index
        median = raw[..., m : m + 1]  # (batch, H, 1)
        above = ops.cumsum(ops.softplus(raw[..., m + 1 :]), axis=-1)  # (batch, H, Q - m - 1)
        below = ops.flip(ops.cumsum(ops.softplus(ops.flip(raw[..., :m], -1)), axis=-1), -1)
        return ops.concatenate([median - below, median, median + above], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, len(self.quantiles))

    def get_config(self):
        return {**super().get_config(), "horizon": self.horizon, "quantiles": self.quantiles}


@keras.saving.register_keras_serializable(package="apps.stocks")
class PinballLoss(keras.losses.Loss):
    """The quantile loss: for level q and error e = y - y_hat, q e if e >= 0 else (q - 1) e.

    Args:
        quantiles: The levels of the last axis of `y_pred`.

    Call arguments:
        y_true: `(batch, H)` targets.
        y_pred: `(batch, H, Q)` quantiles.
    """

    def __init__(self, quantiles, name="pinball", **kwargs):
        super().__init__(name=name, **kwargs)
        self.quantiles = [float(q) for q in quantiles]

    def call(self, y_true, y_pred):
        levels = ops.convert_to_tensor(np.array(self.quantiles, "float32"))
        error = ops.expand_dims(ops.cast(y_true, y_pred.dtype), -1) - y_pred  # (batch, H, Q)
        loss = ops.maximum(levels * error, (levels - 1.0) * error)
        return ops.mean(loss, axis=(-2, -1))  # (batch,)

    def get_config(self):
        return {**super().get_config(), "quantiles": self.quantiles}


def build_model(config, scaler):
    """The trainable model: `(batch, window, 5)` OHLCV in, `(batch, H, Q)` scaled quantiles out."""
    model_config = config.model
    ohlcv = keras.Input((config.data.window, len(OHLCV)), name="ohlcv")
    x = OHLCVFeatures(scaler["feature_mean"], scaler["feature_std"], name="features")(ohlcv)
    for i in range(model_config.layers):
        last = i == model_config.layers - 1
        x = recurrent_layer(
            model_config.cell,
            model_config.units,
            return_sequences=not last,
            dropout=model_config.dropout,
            name=f"{model_config.cell}_{i}",
        )(x)  # (batch, W - 1, U), the last layer (batch, U)
    x = keras.layers.Dropout(model_config.dropout, name="dropout")(x)
    # float32 heads keep the loss exact under mixed precision.
    quantiles = QuantileHead(
        config.data.horizon, model_config.quantiles, dtype="float32", name="quantiles"
    )(x)
    return keras.Model(ohlcv, quantiles, name="stocks")


def horizon_scale(scaler, horizon):
    """`s sqrt(h)` for h = 1..horizon: the scale of each day's target, `(horizon,)` float32."""
    days = np.arange(1, horizon + 1, dtype="float64")
    return (scaler["return_scale"] * np.sqrt(days)).astype("float32")


def to_prices(scaled, last_close, scale):
    """Scaled quantiles `(batch, H, Q)` to prices: `last_close * exp(scaled * scale)`."""
    scaled = ops.convert_to_tensor(scaled, dtype="float32")
    last_close = ops.reshape(ops.convert_to_tensor(last_close, dtype="float32"), (-1, 1, 1))
    scale = ops.reshape(ops.convert_to_tensor(scale, dtype="float32"), (1, -1, 1))
    return last_close * ops.exp(scaled * scale)  # (batch, H, Q)


def forecaster(model, scaler, calibration=None):
    """A function from `(batch, window, 5)` OHLCV to named forecasts in price units.

    `calibration` (`apps.stocks.calibration.Calibration`, None for none) shrinks
    the median toward persistence and widens the interval by conformal offsets:
    `forecast(ohlcv, offsets)` takes `(batch or 1, H)` scaled offsets, the
    calibration's pooled ones when None.

    Returns `{"median", "lower", "upper"}`, each `(batch, H)`, and `"quantiles"`,
    `(batch, H, Q)`: what evaluation, `predict` and the export all use.
    """
    horizon = model.output_shape[1]
    scale = horizon_scale(scaler, horizon)
    quantiles = model.layers[-1].quantiles
    median_index = quantiles.index(0.5)
    shrinkage = np.asarray(calibration.shrinkage if calibration else [1.0] * horizon, "float32")
    pooled = np.asarray([calibration.pooled if calibration else [0.0] * horizon], "float32")

    def forecast(ohlcv, offsets=None, training=False):
        ohlcv = ops.convert_to_tensor(ohlcv, dtype="float32")
        scaled = model(ohlcv, training=training)  # (batch, H, Q)
        median = scaled[..., median_index : median_index + 1]  # (batch, H, 1)
        scaled = scaled + (ops.reshape(shrinkage, (1, -1, 1)) - 1.0) * median
        offsets = ops.convert_to_tensor(pooled if offsets is None else offsets, "float32")
        lower = ops.minimum(scaled[..., 0] - offsets, scaled[..., 1])  # (batch, H)
        upper = ops.maximum(scaled[..., -1] + offsets, scaled[..., -2])
        scaled = ops.concatenate(
            [lower[..., None], scaled[..., 1:-1], upper[..., None]], axis=-1
        )  # (batch, H, Q)
        prices = to_prices(scaled, ohlcv[:, -1, 3], scale)
        return {
            "median": prices[..., median_index],
            "lower": prices[..., 0],
            "upper": prices[..., -1],
            "quantiles": prices,
        }

    return forecast


def interval_level(quantiles):
    """The nominal coverage of the outermost pair of levels, e.g. 0.8 for 0.1 and 0.9."""
    return round(quantiles[-1] - quantiles[0], 6)


def normal_width(quantiles):
    """Standard deviations between the outermost levels of a normal distribution."""
    normal = statistics.NormalDist()
    return normal.inv_cdf(quantiles[-1]) - normal.inv_cdf(quantiles[0])
