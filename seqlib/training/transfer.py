"""Fine-tuning a pretrained model, the ULMFiT way (Howard & Ruder, 2018).

"Universal Language Model Fine-tuning for Text Classification" fine-tunes a
pretrained language model into a classifier with three devices, each here:

- `SlantedTriangular`: a learning rate that rises linearly over a short first
  part of training, then decays linearly over the rest;
- discriminative learning rates, `layer_rates`: the layers are split into
  groups, and the group `d` groups below the top learns at `lr * decay**-d`
  (ULMFiT: `decay = 2.6`), so the general features of the lower layers change
  less than the task-specific ones on top;
- gradual unfreezing, `GradualUnfreezing`: the top group trains from the first
  epoch, the one below it from the second, and so on down.

How the rates reach the update. A keras optimizer updates each variable in
`update_step(gradient, variable, learning_rate)`, once per variable and step
(under TensorFlow, inside the strategy's `extended.update`). `layer_rates`
wraps that method on one optimizer instance, so that a variable of group `g`
gets `learning_rate * multiplier[g]`, where each multiplier is a
non-trainable float32 `keras.Variable`: setting it between epochs changes the
following steps without retracing the train function.

A multiplier of 0 freezes a variable exactly, bit for bit, in every keras
optimizer whose step is proportional to the learning rate (SGD, Adam, AdamW,
RMSprop, Lion, ...): `variable -= 0 * (...)` leaves it as it was. Adam's
moments still follow the gradient while frozen, so an unfrozen group starts
with warm moments rather than with one oversized first step. With momentum SGD
a group must be frozen from the first step (as gradual unfreezing does): a
momentum built up before freezing would keep moving it.

Decoupled weight decay (`AdamW`, or any optimizer's `weight_decay=`) is applied
by keras with the optimizer's own learning rate, before the update and outside
`update_step` (`_apply_weight_decay`), so it would shrink frozen variables.
The wrapped optimizer applies it inside the update instead, with the group's
rate: `variable -= variable * weight_decay * learning_rate * multiplier`,
keras' arithmetic exactly when the multiplier is 1.

The optimizer keeps its class, config and variables: checkpoints, `.keras`
files and the runner's resume see a plain keras optimizer. The multipliers are
not saved; `GradualUnfreezing` sets them from the epoch number alone, so a
resumed run (`initial_epoch > 0`) gets the same rates as an uninterrupted one.
"""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seqlib")
class SlantedTriangular(keras.optimizers.schedules.LearningRateSchedule):
    """ULMFiT's slanted triangular learning rate: a short linear rise, a long linear decay.

    At optimizer step `t` of `T = total_steps`:

    ```
    cut = floor(T * cut_frac)
    p   = t / cut                                      if t < cut
          1 - (t - cut) / (cut * (1 / cut_frac - 1))   otherwise
    lr  = max_lr * (1 + p * (ratio - 1)) / ratio
    ```

    The rate starts at `max_lr / ratio`, reaches `max_lr` at step `cut`, and
    is back at `max_lr / ratio` at step `cut / cut_frac` (that is `T` when
    `T * cut_frac` is whole); it stays there after, `p` being floored at 0.

    Args:
        max_lr: float. The peak learning rate.
        total_steps: int. Optimizer steps of the whole training, `T`.
        cut_frac: float in (0, 1). The fraction of the steps spent rising.
        ratio: float >= 1. How much smaller the lowest rate is than `max_lr`.
        name: Name of the schedule.

    Example:

    >>> schedule = SlantedTriangular(0.01, total_steps=1000)
    >>> [round(float(schedule(t)), 7) for t in (0, 100, 1000)]  # max_lr / 32, max_lr, max_lr / 32
    [0.0003125, 0.01, 0.0003125]
    >>> optimizer = keras.optimizers.Adam(learning_rate=schedule)
    """

    def __init__(self, max_lr, total_steps, cut_frac=0.1, ratio=32, name="SlantedTriangular"):
        super().__init__()
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(
                f"Expected `total_steps` to be a positive integer. Received: total_steps={total_steps!r}"
            )
        if not 0.0 < cut_frac < 1.0:
            raise ValueError(f"Expected 0 < cut_frac < 1. Received: cut_frac={cut_frac!r}")
        if ratio < 1:
            raise ValueError(f"Expected ratio >= 1. Received: ratio={ratio!r}")
        if math.floor(total_steps * cut_frac) < 1:
            raise ValueError(
                "Expected total_steps * cut_frac >= 1, so that the rate has at least one "
                f"step to rise. Received: total_steps={total_steps}, cut_frac={cut_frac}"
            )
        self.max_lr = max_lr
        self.total_steps = total_steps
        self.cut_frac = cut_frac
        self.ratio = ratio
        self.name = name
        self.cut = math.floor(total_steps * cut_frac)

    def __call__(self, step):
        t = ops.cast(step, "float32")
        cut = float(self.cut)
        rising = t / cut
        falling = 1.0 - (t - cut) / (cut * (1.0 / self.cut_frac - 1.0))
        p = ops.maximum(ops.where(t < cut, rising, falling), 0.0)
        return self.max_lr * (1.0 + p * (self.ratio - 1.0)) / self.ratio

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "cut_frac": self.cut_frac,
            "ratio": self.ratio,
            "name": self.name,
        }


def layer_rates(optimizer, groups, decay=2.6):
    """Gives each group of layers its own learning rate: discriminative fine-tuning.

    With `groups` ordered from the bottom (the embedding) to the top (the
    head), the group `d` groups below the top learns at

    ```
    lr_d = lr * decay**-d          (d = 0 for the top group)
    ```

    where `lr` is the optimizer's learning rate (or schedule) at that step.
    Variables in no group keep `lr`. The rates are multipliers held in
    variables, returned here: assigning one (0 freezes its group exactly, see
    the module docstring) takes effect at the next step, without retracing.

    Call it before the optimizer's first traced step (before `fit`), or from a
    callback's `on_train_begin` that then rebuilds `model.train_function`, as
    `GradualUnfreezing` does. Calling it again with the same groups returns
    the same multipliers, reset to `decay**-d`. Under a `tf.distribute`
    strategy, call it inside the strategy's scope. A `LossScaleOptimizer`
    (mixed precision) passes the rates to its inner optimizer.

    Args:
        optimizer: A `keras.optimizers.Optimizer`.
        groups: A list of groups, bottom first; a group is a layer, a
            variable, or a list of layers and variables. A layer stands for
            its trainable variables, read when the train step is traced.
        decay: float > 0. The factor between the rates of adjacent groups.

    Returns:
        The multipliers: one non-trainable float32 `keras.Variable` per group,
        in the order of `groups`.

    Example:

    >>> optimizer = keras.optimizers.AdamW(learning_rate=SlantedTriangular(0.01, 1000))
    >>> layer_rates(optimizer, [model.get_layer("embedding"),
    ...                         model.get_layer("bidirectional_0"), model.get_layer("head")])
    >>> model.compile(optimizer=optimizer, loss=...)
    """
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(f"Expected a keras optimizer. Received: optimizer={optimizer!r}")
    if not decay > 0:
        raise ValueError(f"Expected decay > 0. Received: decay={decay!r}")
    groups = _check_groups(groups)
    rates = getattr(optimizer, "_seqlib_layer_rates", None)
    if rates is None:
        rates = _LayerRates(groups)
        _install(optimizer, rates)
    elif not rates.same_groups(groups):
        raise ValueError(
            "Expected the groups this optimizer already has layer rates for (it gets one set): "
            f"{_names(rates.groups)}. Received: groups={_names(groups)}"
        )
    for depth, multiplier in enumerate(reversed(rates.multipliers)):
        multiplier.assign(decay**-depth)
    return rates.multipliers


class GradualUnfreezing(keras.callbacks.Callback):
    """Trains the layer groups from the top down, one more each epoch (ULMFiT).

    At the start of epoch `e`, the group `d` groups below the top trains if
    `d <= e`, at the discriminative rate of `layer_rates`, and is frozen
    (multiplier 0: not moved at all, weight decay included) otherwise:

    ```
    multiplier_d(e) = decay**-d   if d <= e
                      0           otherwise
    ```

    So epoch 0 trains the top group only, epoch 1 the top two, and from epoch
    `len(groups) - 1` on, every group. The multipliers depend on the epoch
    number alone, so a run resumed with `initial_epoch=k` trains as the
    uninterrupted run did. At the start of training the callback installs
    `layer_rates` on `model.optimizer` (reusing them if the same groups are
    already installed) and rebuilds the train function, so it works with a
    model compiled elsewhere, such as by `seqlib.training.train`. The
    multipliers keep their last values after training.

    Args:
        groups: A list of groups, bottom first, as in `layer_rates`; a layer
            may also be given by its name, looked up with `model.get_layer`
            when training starts (the only way when the model is built
            later, as in `seqlib.training.train`).
        decay: float > 0. The factor between the rates of adjacent groups;
            1.0 unfreezes without discriminative rates.

    Example:

    >>> unfreezing = GradualUnfreezing([["embedding"], ["bidirectional_0"], ["head"]])
    >>> model.fit(train, epochs=4, callbacks=[unfreezing])
    """

    def __init__(self, groups, decay=2.6):
        super().__init__()
        if not decay > 0:
            raise ValueError(f"Expected decay > 0. Received: decay={decay!r}")
        self.groups = groups
        self.decay = decay
        self.multipliers = None

    def on_train_begin(self, logs=None):
        def layer(item):
            return self.model.get_layer(item) if isinstance(item, str) else item

        groups = [
            [layer(item) for item in group] if isinstance(group, (list, tuple)) else layer(group)
            for group in self.groups
        ]
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        installed = getattr(optimizer, "_seqlib_layer_rates", None) is not None
        with self.model.distribute_strategy.scope():
            self.multipliers = layer_rates(optimizer, groups, self.decay)
        if not installed:
            # `fit` made its train function before calling back; it may have
            # been traced by an earlier `fit`, without the rates.
            self.model.make_train_function(force=True)

    def on_epoch_begin(self, epoch, logs=None):
        for depth, multiplier in enumerate(reversed(self.multipliers)):
            multiplier.assign(self.decay**-depth if depth <= epoch else 0.0)


class _LayerRates:
    """The groups and multipliers of one optimizer. Not a keras or TF trackable,
    so the optimizer's saved state does not change."""

    def __init__(self, groups):
        self.groups = groups
        self.multipliers = [
            keras.Variable(1.0, dtype="float32", trainable=False, name=f"layer_rate_{g}")
            for g in range(len(groups))
        ]
        self._by_key = None

    def same_groups(self, groups):
        def ids(groups):
            return [[id(item) for item in group] for group in groups]

        return ids(groups) == ids(self.groups)

    def multiplier(self, optimizer, variable):
        """The multiplier of `variable`, or None; the groups' variables are
        read on the first call, when the train step is traced."""
        if self._by_key is None:
            by_key = {}
            for g, (group, multiplier) in enumerate(zip(self.groups, self.multipliers)):
                variables = [v for item in group for v in _variables(item)]
                if not variables:
                    raise ValueError(
                        f"Expected every group to hold trainable variables. Received: group {g} "
                        f"({[getattr(item, 'name', item) for item in group]}) has none; "
                        "is its layer built?"
                    )
                for v in variables:
                    key = optimizer._var_key(v)
                    if by_key.get(key, multiplier) is not multiplier:
                        raise ValueError(
                            f"Expected each variable in one group. Received: {v.path} in two"
                        )
                    by_key[key] = multiplier
            self._by_key = by_key
        return self._by_key.get(optimizer._var_key(variable))


def _install(optimizer, rates):
    # The class's own (bound) update step, which the wrapper calls.
    update_step = optimizer.update_step

    def update_step_with_rates(gradient, variable, learning_rate):
        multiplier = rates.multiplier(optimizer, variable)
        if multiplier is not None:
            learning_rate = ops.multiply(ops.cast(learning_rate, "float32"), multiplier)
        if optimizer.weight_decay is not None and optimizer._use_weight_decay(variable):
            # keras' decoupled decay, with this variable's rate (see the module docstring).
            lr = ops.cast(learning_rate, variable.dtype)
            wd = ops.cast(optimizer.weight_decay, variable.dtype)
            optimizer.assign_sub(variable, ops.multiply(ops.multiply(variable, wd), lr))
        return update_step(gradient, variable, learning_rate)

    def no_weight_decay(variables):
        # Applied by `update_step_with_rates` instead.
        return None

    optimizer.update_step = update_step_with_rates
    optimizer._apply_weight_decay = no_weight_decay
    optimizer._seqlib_layer_rates = rates


def _check_groups(groups):
    if not isinstance(groups, (list, tuple)) or not groups:
        raise ValueError(f"Expected a non-empty list of groups. Received: groups={groups!r}")
    checked = []
    for group in groups:
        items = list(group) if isinstance(group, (list, tuple)) else [group]
        for item in items:
            if not isinstance(item, (keras.layers.Layer, keras.Variable)):
                raise ValueError(
                    "Expected groups of keras layers and variables. "
                    f"Received: {item!r} in group {len(checked)}"
                )
        checked.append(items)
    return checked


def _names(groups):
    return [[item.path for item in group] for group in groups]


def _variables(item):
    return [item] if isinstance(item, keras.Variable) else list(item.trainable_variables)
