"""One training run of the resume test, in its own process.

Trains a small LSTM with dropout; `--kill-epoch E --kill-batch B` ends the
process abruptly (`os._exit`, no cleanup) after batch B of epoch E, as a
preempted job would. Writes the final weights, optimizer variables and
non-trainable variables to `--out`.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seqlib import layers  # noqa: E402
from seqlib.training import TrainConfig, from_overrides, shuffle_for_epoch, train  # noqa: E402

KILLED = 17


class Kill(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.kill_epoch = epoch
        self.kill_batch = batch
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.kill_epoch and batch == self.kill_batch:
            os._exit(KILLED)


def build_model():
    return keras.Sequential(
        [
            keras.Input((5, 3)),
            layers.LSTM(8, dropout=0.3, recurrent_dropout=0.2),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(1),
        ]
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--kill-epoch", type=int, default=None)
    parser.add_argument("--kill-batch", type=int, default=1)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--set", action="append", default=[], help="TrainConfig key=value")
    args = parser.parse_args()

    config = TrainConfig(
        epochs=args.epochs,
        batch_size=16,
        learning_rate=1e-2,
        lr_schedule="warmup_cosine",
        warmup_steps=4,
        clipnorm=1.0,
        early_stopping_patience=10,
        seed=7,
    )
    config = from_overrides(config, args.set)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5, 3)).astype("float32")
    y = (x.sum(axis=(1, 2))[:, None] / 5).astype("float32")
    examples = tf.data.Dataset.from_tensor_slices((x, y))

    def train_data(epoch):
        return shuffle_for_epoch(examples, epoch, 96, config.seed).batch(config.batch_size)

    callbacks = [] if args.kill_epoch is None else [Kill(args.kill_epoch, args.kill_batch)]
    result = train(
        build_model,
        train_data,
        config,
        args.run_dir,
        compile_kwargs={"loss": "mse"},
        validation_data=examples.take(32).batch(16),
        resume=args.resume,
        callbacks=callbacks,
        verbose=0,
    )
    model = result.model
    np.savez(
        args.out,
        initial_epoch=result.initial_epoch,
        **{f"weight{i}": w for i, w in enumerate(model.get_weights())},
        **{f"optimizer{i}": np.asarray(v.numpy()) for i, v in enumerate(model.optimizer.variables)},
        **{f"state{i}": np.asarray(v.numpy()) for i, v in enumerate(model.non_trainable_variables)},
    )


if __name__ == "__main__":
    main()
