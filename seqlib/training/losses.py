"""Sparse categorical crossentropy with label smoothing.

keras 3's `SparseCategoricalCrossentropy` has no `label_smoothing` (only the
one-hot `CategoricalCrossentropy` does), and one-hot targets over a 30k-word
vocabulary would cost a (batch, time, vocabulary) tensor per step.
"""

import keras
from keras import ops

# keras has no public way for a loss function to hand a mask to `Loss.__call__`;
# this is the helper its own `ignore_class` support uses, so the reduction
# averages over the kept positions only.
from seqlib.keras_private import set_keras_mask


def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits=False, label_smoothing=0.0, ignore_class=None
):
    """Per-position sparse categorical crossentropy, with label smoothing.

    With `K` classes and smoothing `s`, the target is `(1 - s)` on the true class
    plus `s / K` on every class, exactly as `keras.losses.CategoricalCrossentropy`
    smooths one-hot labels, so the loss is
    `(1 - s) * -log p[y] + s * mean_k(-log p[k])`.

    Args:
        y_true: Integer class ids, shape `(...)` or `(..., 1)`.
        y_pred: Logits or probabilities, shape `(..., K)`.
        from_logits: Whether `y_pred` holds logits.
        label_smoothing: Float in `[0, 1)`.
        ignore_class: Optional class id whose positions get a zero loss and are
            left out of the mean.

    Returns:
        A float tensor of shape `(...)`.

    Example:

    >>> sparse_categorical_crossentropy([1], [[2.0, 1.0, 0.1]], from_logits=True,
    ...                                 label_smoothing=0.1)
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    y_true = ops.cast(y_true, "int32")
    if ignore_class is not None:
        valid = ops.not_equal(y_true, ignore_class)
        # The ignored id may be out of range (e.g. -1): gather a real class instead.
        y_true = ops.where(valid, y_true, 0)

    if from_logits:
        log_probs = ops.log_softmax(y_pred, axis=-1)
    else:
        # As keras' crossentropies: renormalise, then clip away log(0).
        probs = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
        epsilon = keras.config.epsilon()
        log_probs = ops.log(ops.clip(probs, epsilon, 1.0 - epsilon))

    # (...,): -log p of the true class, without materialising one-hot targets.
    nll = -ops.squeeze(
        ops.take_along_axis(log_probs, ops.expand_dims(y_true, -1), axis=-1), axis=-1
    )
    loss = nll
    if label_smoothing:
        uniform = -ops.mean(log_probs, axis=-1)  # (...,)
        loss = (1.0 - label_smoothing) * nll + label_smoothing * uniform

    if ignore_class is not None:
        loss = ops.where(valid, loss, ops.zeros_like(loss))
        set_keras_mask(loss, valid)
    return loss


@keras.saving.register_keras_serializable(package="seqlib")
class SparseCategoricalCrossentropy(keras.losses.Loss):
    """`keras.losses.SparseCategoricalCrossentropy` with `label_smoothing`.

    A drop-in replacement: the same arguments plus `label_smoothing`, which
    smooths the integer targets the way `keras.losses.CategoricalCrossentropy`
    smooths one-hot ones (see `sparse_categorical_crossentropy`). With
    `label_smoothing=0` it equals keras' loss. Masks from the model (e.g. an
    `Embedding(mask_zero=True)`) and `ignore_class` both exclude positions from
    the mean.

    Args:
        from_logits: Whether `y_pred` holds logits rather than probabilities.
        label_smoothing: Float in `[0, 1)`; 0 disables smoothing.
        ignore_class: Optional class id (e.g. padding) to leave out of the loss.
        reduction: As in `keras.losses.Loss`.
        name: Name of the loss.
        dtype: The dtype of the loss computation.

    Example:

    >>> loss = SparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    >>> model.compile(optimizer="adam", loss=loss)
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        ignore_class=None,
        reduction="sum_over_batch_size",
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"Expected `label_smoothing` in [0, 1). Received: label_smoothing={label_smoothing}"
            )
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.ignore_class = ignore_class

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(
            y_true,
            y_pred,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            ignore_class=self.ignore_class,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing,
                "ignore_class": self.ignore_class,
            }
        )
        return config
