import functools

import keras
import tensorflow as tf
from keras import ops

from seqlib.layers import cudnn
from seqlib.layers.gru import GRU
from seqlib.layers.lstm import LSTM


@keras.saving.register_keras_serializable(package="seqlib")
class Bidirectional(keras.layers.Bidirectional):
    """`keras.layers.Bidirectional` that runs both directions of a seqlib LSTM or
    GRU as one bidirectional cuDNN call on a GPU.

    keras' wrapper calls the forward layer, then the backward one. keras 3.15
    fuses the two for its own LSTM and GRU on the JAX and torch backends: `call`
    asks `_can_attempt_fused_lstm` (or `_gru`) whether the layers allow it, then
    `_call_fused_lstm` runs a fused backend function. Those hooks accept keras'
    classes only, and the TensorFlow backend has no fused function (it raises
    `NotImplementedError`, so keras' own layers run in two calls there too).

    This subclass answers the same hooks for seqlib's `LSTM` and `GRU`, with
    keras' preconditions (no mask, not stateful, `use_cudnn` not False, no
    dropout, bias, matching units and activations, built, the right number of
    initial states) and seqlib's own for cuDNN (`cudnn.cudnn_compatible`: no
    peephole, no recurrent dropout, a reset-after GRU; not unrolled; no activity
    regularizer, which a fused call would skip).
    On a GPU both directions then run in one `CudnnRNNV3` call with
    `direction="bidirectional"`; without one the hook raises
    `NotImplementedError` and keras' two calls run, as keras' own fallback does.

    One addition: keras takes the fused path only without a mask. A right-padded
    mask (what `Embedding(mask_zero=True)` gives for end-padded batches) is
    passed to cuDNN as sequence lengths, any other mask runs the two layers; the
    choice is made at run time, as `seqlib.layers.RNN` makes it for one direction.

    The constructor, the weights and their order, the outputs and the config are
    keras'; with keras' own layers, or wherever the fused path does not apply,
    this is `keras.layers.Bidirectional`.

    Args:
        layer, merge_mode, weights, backward_layer: As in
            `keras.layers.Bidirectional`.

    Call arguments:
        sequences, initial_state, mask, training: As in
            `keras.layers.Bidirectional`.

    Example:

    >>> layer = Bidirectional(seqlib.layers.LSTM(16, return_sequences=True))
    >>> layer(np.zeros((2, 7, 8), "float32")).shape
    (2, 7, 32)
    """

    def _seqlib_class(self):
        """`LSTM` or `GRU` when both directions are that seqlib class, else None."""
        kind = type(self.forward_layer)
        if kind in (LSTM, GRU) and type(self.backward_layer) is kind:
            return kind
        return None

    def _fusable(self, initial_state):
        """Whether both directions can run as one cuDNN call, a mask aside."""
        forward, backward = self.forward_layer, self.backward_layer
        if self._seqlib_class() is None or self.stateful:
            return False
        if initial_state is not None and len(initial_state) != 2 * len(forward.state_size):
            return False
        if forward.go_backwards or not backward.go_backwards:
            return False
        if forward.cell.units != backward.cell.units:
            return False
        return all(
            layer.use_cudnn in (True, "auto")
            and layer.built
            and not layer.unroll
            and not layer.cell.dropout
            and layer.activity_regularizer is None
            and cudnn.cudnn_compatible(layer.cell)
            for layer in (forward, backward)
        )

    # keras' hooks (keras.src.layers.rnn.bidirectional; see seqlib/keras_private.py).

    def _can_attempt_fused_lstm(self, mask, initial_state=None):
        if self._seqlib_class() is LSTM:
            return mask is None and self._fusable(initial_state)
        return super()._can_attempt_fused_lstm(mask, initial_state)

    def _can_attempt_fused_gru(self, mask, initial_state=None):
        if self._seqlib_class() is GRU:
            return mask is None and self._fusable(initial_state)
        return super()._can_attempt_fused_gru(mask, initial_state)

    def _call_fused_lstm(self, sequences, initial_state):
        if self._seqlib_class() is LSTM:
            return self._call_fused(sequences, initial_state)
        return super()._call_fused_lstm(sequences, initial_state)

    def _call_fused_gru(self, sequences, initial_state):
        if self._seqlib_class() is GRU:
            return self._call_fused(sequences, initial_state)
        return super()._call_fused_gru(sequences, initial_state)

    def call(self, sequences, initial_state=None, mask=None, training=None):
        two_layers = functools.partial(
            super().call, sequences, initial_state=initial_state, mask=mask, training=training
        )
        if mask is None or not self._fusable(initial_state) or not cudnn.gpu_available():
            return two_layers()
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        return tf.cond(
            cudnn.is_right_padded(mask),
            lambda: self._call_fused(sequences, initial_state, mask),
            two_layers,
        )

    def _call_fused(self, sequences, initial_state, mask=None):
        if not cudnn.gpu_available():
            raise NotImplementedError  # keras' signal to run the two layers instead
        forward, backward = self.forward_layer, self.backward_layer
        # What each layer would compute in: integer inputs are cast, as they are.
        sequences = ops.cast(sequences, forward.compute_dtype)  # (batch, time, features)
        n = len(forward.state_size)
        if initial_state is None:
            zeros = ops.zeros((ops.shape(sequences)[0], forward.cell.units), sequences.dtype)
            initial_state = [zeros] * (2 * n)
        states = [ops.cast(s, sequences.dtype) for s in initial_state]
        (f_last, f_outputs, f_states), (b_last, b_outputs, b_states) = (
            cudnn.cudnn_bidirectional_loop(
                forward.cell, backward.cell, sequences, states[:n], states[n:], mask
            )
        )
        if self.return_sequences:
            y, y_rev = f_outputs, b_outputs  # both in time order already
        else:
            y, y_rev = f_last, b_last
        output = self._merge(ops.cast(y, self.compute_dtype), ops.cast(y_rev, self.compute_dtype))
        if not self.return_state:
            return output
        states = tuple(f_states + b_states)
        return output + states if self.merge_mode is None else (output, *states)

    def _merge(self, y, y_rev):
        if self.merge_mode == "concat":
            return ops.concatenate([y, y_rev], axis=-1)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "ave":
            return (y + y_rev) / 2
        if self.merge_mode == "mul":
            return y * y_rev
        return (y, y_rev)
