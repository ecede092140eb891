"""`TrainConfig`: the hyper-parameters of one training run, saved with the run."""

import dataclasses

OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine", "warmup_cosine", "exponential", "slanted_triangular")
STRATEGIES = ("default", "mirrored", "multiworker")
MODES = ("auto", "min", "max")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train: optimizer, schedule, stopping, seeds and devices.

    Every app keeps one of these beside its own model config; `seqlib.training.train`
    saves it to `run_dir/config.json`, and `from_overrides(config, ["epochs=3"])`
    changes it from the command line.

    Args:
        epochs: Number of epochs to train for.
        batch_size: The global batch size. The runner does not batch: apps batch
            their datasets with it (under a multi-worker strategy each worker's
            replicas get `batch_size / num_replicas` examples of every batch).
        learning_rate: The peak learning rate; the schedule scales it.
        optimizer: One of `"adam"`, `"adamw"` or `"sgd"`.
        weight_decay: Decoupled weight decay; `None` keeps the optimizer's
            default (0.004 for AdamW, none otherwise).
        momentum: Momentum of `"sgd"`; ignored by the Adam family.
        lr_schedule: `"constant"`; `"cosine"` (from `learning_rate` down to
            `min_lr_ratio * learning_rate` over all `epochs`); `"warmup_cosine"`
            (linear from 0 to `learning_rate` over `warmup_steps` steps, then
            cosine over the remaining steps); `"exponential"` (multiplied by
            `lr_decay_rate` once per epoch, smoothly in between);
            `"slanted_triangular"` (ULMFiT's: a linear rise to `learning_rate`
            over the first 10% of all steps, then a linear fall to 1/32 of it,
            `seqlib.training.transfer.SlantedTriangular`).
        warmup_steps: Optimizer steps of linear warmup, `"warmup_cosine"` only.
        lr_decay_rate: Per-epoch factor of the `"exponential"` schedule.
        min_lr_ratio: Floor of the cosine schedules, as a fraction of
            `learning_rate`.
        clipnorm: If set, gradients are rescaled so that their global norm (over
            all variables together) is at most this value.
        label_smoothing: Label smoothing for classification losses; the runner
            does not read it, apps pass it to
            `seqlib.training.SparseCategoricalCrossentropy`.
        early_stopping_patience: If set, stop after this many epochs without an
            improvement of `monitor`, and restore the weights of the best epoch.
        monitor: The logged quantity that early stopping and the `best`
            checkpoint watch, e.g. `"val_loss"` or `"val_accuracy"`.
        mode: `"min"`, `"max"` or `"auto"` (inferred from `monitor`'s name).
        seed: Seeds python, numpy, TensorFlow and keras before the model is built.
        deterministic: Also make TensorFlow ops deterministic
            (`tf.config.experimental.enable_op_determinism`) and run the train
            step without grappler's graph rewrites, whose fused and reordered
            sums can depend on thread scheduling; both for this run only. Without it a run is still
            repeatable wherever the compiled step is (seeds, data order); with
            it, also where it is not (the captioning model), at the price of
            the rewrites' speed.
        strategy: `"default"`, `"mirrored"` (all local devices) or
            `"multiworker"` (the cluster in the `TF_CONFIG` environment variable).
        mixed_precision: Train under the `"mixed_float16"` dtype policy: float16
            compute, float32 weights and a loss-scaled optimizer. Give the
            model's last layer `dtype="float32"` so logits and loss stay float32.
        jit_compile: Compile the train step with XLA.
        steps_per_execution: Train steps run per call into the compiled function.
        keep_checkpoints: If set, keep only the newest this-many per-epoch
            checkpoints (the one resume needs and the best one are always kept).

    Example:

    >>> config = TrainConfig(epochs=20, lr_schedule="warmup_cosine", warmup_steps=500)
    >>> config = dataclasses.replace(config, clipnorm=1.0)
    """

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float | None = None
    momentum: float = 0.0
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    lr_decay_rate: float = 0.5
    min_lr_ratio: float = 0.0
    clipnorm: float | None = None
    label_smoothing: float = 0.0
    early_stopping_patience: int | None = None
    monitor: str = "val_loss"
    mode: str = "auto"
    seed: int = 1234
    deterministic: bool = False
    strategy: str = "default"
    mixed_precision: bool = False
    jit_compile: bool = False
    steps_per_execution: int = 1
    keep_checkpoints: int | None = None

    def __post_init__(self):
        _check_int(self, "epochs", minimum=1)
        _check_int(self, "batch_size", minimum=1)
        _check_int(self, "warmup_steps", minimum=0)
        _check_int(self, "seed", minimum=0)
        _check_int(self, "steps_per_execution", minimum=1)
        _check_int(self, "early_stopping_patience", minimum=0, optional=True)
        _check_int(self, "keep_checkpoints", minimum=1, optional=True)
        _check_choice(self, "optimizer", OPTIMIZERS)
        _check_choice(self, "lr_schedule", LR_SCHEDULES)
        _check_choice(self, "strategy", STRATEGIES)
        _check_choice(self, "mode", MODES)
        for name in ("deterministic", "mixed_precision", "jit_compile"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"Expected `{name}` to be a bool. Received: {name}={getattr(self, name)!r}"
                )
        _check_range(self, "learning_rate", low=0.0, low_open=True)
        _check_range(self, "weight_decay", low=0.0, optional=True)
        _check_range(self, "momentum", low=0.0, high=1.0, high_open=True)
        _check_range(self, "lr_decay_rate", low=0.0, high=1.0, low_open=True)
        _check_range(self, "min_lr_ratio", low=0.0, high=1.0)
        _check_range(self, "clipnorm", low=0.0, low_open=True, optional=True)
        _check_range(self, "label_smoothing", low=0.0, high=1.0, high_open=True)
        if self.warmup_steps and self.lr_schedule != "warmup_cosine":
            # Silently ignoring a warmup would make two configs that read
            # differently train identically.
            raise ValueError(
                "Expected `warmup_steps=0` unless `lr_schedule='warmup_cosine'`. "
                f"Received: warmup_steps={self.warmup_steps}, lr_schedule={self.lr_schedule!r}"
            )
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ValueError(
                f"Expected `monitor` to be a metric name such as 'val_loss'. "
                f"Received: monitor={self.monitor!r}"
            )


def _check_int(config, name, minimum, optional=False):
    value = getattr(config, name)
    if optional and value is None:
        return
    # bool is an int subclass; `epochs=True` is a typo, not a count.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        suffix = " or None" if optional else ""
        raise ValueError(
            f"Expected `{name}` to be an integer >= {minimum}{suffix}. Received: {name}={value!r}"
        )


def _check_choice(config, name, choices):
    value = getattr(config, name)
    if value not in choices:
        raise ValueError(f"Expected `{name}` to be one of {choices}. Received: {name}={value!r}")


def _check_range(
    config, name, low=None, high=None, low_open=False, high_open=False, optional=False
):
    value = getattr(config, name)
    if optional and value is None:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        interval = (
            f"{'(' if low_open else '['}{'-inf' if low is None else low}, "
            f"{'inf' if high is None else high}{')' if high_open or high is None else ']'}"
        )
        suffix = " or None" if optional else ""
        raise ValueError(
            f"Expected `{name}` to be a number in {interval}{suffix}. Received: {name}={value!r}"
        )
