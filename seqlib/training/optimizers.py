"""The optimizer and learning-rate schedule a `TrainConfig` describes."""

import keras


def make_learning_rate(config, steps_per_epoch):
    """Returns the learning rate, or schedule over optimizer steps, of a config.

    The schedule is a function of `optimizer.iterations`, which is saved in every
    checkpoint, so a resumed run continues it from the same step.

    Args:
        config: A `seqlib.training.TrainConfig`.
        steps_per_epoch: Optimizer steps in one epoch; the cosine schedules span
            `config.epochs * steps_per_epoch` steps and `"exponential"` decays
            by `config.lr_decay_rate` every `steps_per_epoch` steps.

    Returns:
        A float (for `"constant"`) or a `keras.optimizers.schedules.LearningRateSchedule`.

    Example:

    >>> schedule = make_learning_rate(TrainConfig(lr_schedule="cosine", epochs=2), 100)
    >>> float(schedule(200))  # the end of training: `min_lr_ratio * learning_rate`
    0.0
    """
    if (
        isinstance(steps_per_epoch, bool)
        or not isinstance(steps_per_epoch, int)
        or steps_per_epoch < 1
    ):
        raise ValueError(
            f"Expected `steps_per_epoch` to be a positive integer. "
            f"Received: steps_per_epoch={steps_per_epoch!r}"
        )
    total_steps = config.epochs * steps_per_epoch
    schedules = keras.optimizers.schedules
    if config.lr_schedule == "constant":
        return config.learning_rate
    if config.lr_schedule == "cosine":
        return schedules.CosineDecay(
            config.learning_rate, decay_steps=total_steps, alpha=config.min_lr_ratio
        )
    if config.lr_schedule == "warmup_cosine":
        # keras' CosineDecay warms up from `initial_learning_rate` to
        # `warmup_target`, then decays over `decay_steps` further steps.
        return schedules.CosineDecay(
            0.0,
            decay_steps=max(total_steps - config.warmup_steps, 1),
            alpha=config.min_lr_ratio,
            warmup_target=config.learning_rate,
            warmup_steps=config.warmup_steps,
        )
    if config.lr_schedule == "exponential":
        return schedules.ExponentialDecay(
            config.learning_rate, decay_steps=steps_per_epoch, decay_rate=config.lr_decay_rate
        )
    if config.lr_schedule == "slanted_triangular":
        from seqlib.training.transfer import SlantedTriangular

        return SlantedTriangular(config.learning_rate, total_steps=max(total_steps, 10))
    raise ValueError(
        f"Expected a known `lr_schedule`. Received: lr_schedule={config.lr_schedule!r}"
    )


def make_optimizer(config, steps_per_epoch):
    """Returns the keras optimizer of a config, with its schedule and clipping.

    `config.clipnorm` becomes keras' `global_clipnorm`: the gradients of all
    variables are rescaled together so that their joint norm is at most
    `clipnorm`, which keeps the direction of the update (per-variable
    `clipnorm` would not).

    Args:
        config: A `seqlib.training.TrainConfig`.
        steps_per_epoch: Optimizer steps in one epoch, see `make_learning_rate`.

    Returns:
        A `keras.optimizers.Optimizer`, not yet built.

    Example:

    >>> optimizer = make_optimizer(TrainConfig(optimizer="adamw", clipnorm=1.0), 100)
    """
    learning_rate = make_learning_rate(config, steps_per_epoch)
    kwargs = {"learning_rate": learning_rate, "global_clipnorm": config.clipnorm}
    if config.weight_decay is not None:
        kwargs["weight_decay"] = config.weight_decay
    if config.optimizer == "adam":
        return keras.optimizers.Adam(**kwargs)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(**kwargs)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=config.momentum, **kwargs)
    raise ValueError(f"Expected a known `optimizer`. Received: optimizer={config.optimizer!r}")
