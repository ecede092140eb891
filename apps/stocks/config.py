"""The stock app's config: data windows, model and training, with presets.

The config owns the data encoding (which tickers, how many days the model
reads, how many it forecasts) as well as the hyper-parameters, and is saved
with every run, so that `evaluate`, `predict` and `export` rebuild exactly the
model that was trained.
"""

import dataclasses

from apps.common.config import check
from apps.stocks.calibration import CALIBRATIONS
from seqlib.training.config import TrainConfig

CELLS = ("lstm", "gru")
DEFAULT_TICKERS = ("AAPL", "IBM", "MSFT", "GOOG")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Args:
    tickers: The sample stocks to train and evaluate on (a user's CSV file
        brings its own: all of its tickers are used).
    window: Daily OHLCV rows the model reads, the forecast's origin last; it
        sees the `window - 1` day-on-day changes between them.
    horizon: Trading days forecast ahead: every day from 1 to `horizon`.
    """

    tickers: tuple[str, ...] = DEFAULT_TICKERS
    window: int = 60
    horizon: int = 5

    def __post_init__(self):
        check(
            self.window >= 3 and self.horizon >= 1 and bool(self.tickers),
            "Expected window >= 3, horizon >= 1 and at least one ticker. Received: "
            f"window={self.window}, horizon={self.horizon}, tickers={self.tickers}",
        )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Args:
    cell: `"lstm"` or `"gru"`: the seqlib recurrent layer.
    units: Units of each recurrent layer.
    layers: Number of stacked recurrent layers.
    dropout: Dropout on the recurrent layers' inputs and before the heads.
    quantiles: The quantile levels forecast for each day, increasing, with
        the median (0.5) among them; the outermost pair is the interval.
    calibration: How the interval is calibrated on the validation period after
        training (`apps.stocks.calibration`): `"ticker"`, conformal offsets per
        ticker and day ahead (pooled ones for other tickers); `"pooled"`, one
        offset per day ahead; `"none"`, the interval as trained.
    shrinkage: Shrink the median toward persistence by a factor per day ahead
        chosen on the validation period (0 unless the network's forecast beats
        persistence there significantly); false keeps the network's median.
    """

    cell: str = "gru"
    units: int = 32
    layers: int = 1
    dropout: float = 0.1
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    calibration: str = "ticker"
    shrinkage: bool = True

    def __post_init__(self):
        check(
            self.calibration in CALIBRATIONS,
            f"Expected one of {set(CALIBRATIONS)}. Received: calibration={self.calibration!r}",
        )
        check(self.cell in CELLS, f"Expected one of {set(CELLS)}. Received: cell={self.cell!r}")
        check(
            self.layers >= 1 and self.units >= 1,
            f"Expected layers >= 1 and units >= 1. Received: layers={self.layers}, "
            f"units={self.units}",
        )
        levels = self.quantiles
        check(
            0.5 in levels
            and len(levels) >= 3
            and all(0.0 < q < 1.0 for q in levels)
            and all(a < b for a, b in zip(levels, levels[1:])),
            "Expected increasing quantiles in (0, 1), 0.5 among them and one on each side. "
            f"Received: quantiles={levels}",
        )


@dataclasses.dataclass(frozen=True)
class StocksConfig:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()


PRESETS = {
    # A few minutes on 2 CPU cores.
    "cpu-small": StocksConfig(
        data=DataConfig(window=60, horizon=5),
        model=ModelConfig(cell="gru", units=32, layers=1, dropout=0.1),
        train=TrainConfig(
            epochs=30,
            batch_size=128,
            learning_rate=1e-3,
            clipnorm=1.0,
            early_stopping_patience=5,
            monitor="val_loss",
            mode="min",
        ),
    ),
    # Longer windows and horizons, a bigger model and schedule; meant for a GPU.
    "gpu-full": StocksConfig(
        data=DataConfig(window=120, horizon=10),
        model=ModelConfig(cell="lstm", units=128, layers=2, dropout=0.2),
        train=TrainConfig(
            epochs=100,
            batch_size=256,
            learning_rate=1e-3,
            lr_schedule="warmup_cosine",
            warmup_steps=200,
            clipnorm=1.0,
            early_stopping_patience=10,
            monitor="val_loss",
            mode="min",
        ),
    ),
}
