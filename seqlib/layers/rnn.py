import keras
import tensorflow as tf
from keras import ops

from seqlib.layers import bptt, cudnn
from seqlib.layers.loop import recurrent_loop


def _fused(cell):
    """Whether the cell splits its step into input projection + recurrent step."""
    return callable(getattr(cell, "input_projection", None)) and callable(
        getattr(cell, "recurrent_step", None)
    )


@keras.saving.register_keras_serializable(package="seqlib")
class RNN(keras.layers.RNN):
    """A sequence layer over any cell, fused when the cell allows it.

    Same constructor and call semantics as `keras.layers.RNN` (`return_sequences`,
    `return_state`, `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`;
    `initial_state`, `mask`, `training` at call time), so it works inside
    `keras.layers.Bidirectional` and stacks.

    What differs is how the time loop runs, chosen per call:

    1. On a GPU, an LSTM or reset-after GRU cell in a cuDNN-compatible
       configuration runs on `tf.raw_ops.CudnnRNNV3` (`use_cudnn="auto"`), with a
       run-time fallback when a mask is not right-padded (`cudnn.py`).
    2. The standard seqlib cells (LSTM without peephole, GRU, tanh SimpleRNN; no
       recurrent dropout) run on `bptt.py`: in training, a forward loop that saves
       what its hand-written backward pass needs; in inference, a lean loop.
    3. Any other seqlib cell (peephole, zoneout, other activations, recurrent
       dropout, `unroll=True`) runs `loop.py`: the input half of every step for
       the whole sequence in one matmul, X W + b, then a loop over the recurrent
       half only, differentiated by autodiff.
    4. Any other cell (a keras cell, say) runs step by step, as in keras.

    All paths give keras' results: masked steps keep the states and repeat the
    previous output (or zeros with `zero_output_for_mask`); `go_backwards`
    returns outputs in processing order; an integer or boolean input is cast to
    the compute dtype first, as keras' ops promote it. Both directions of a
    `seqlib.layers.Bidirectional` can run as one cuDNN call (`bidirectional.py`).

    Args:
        cell: A recurrent cell honouring the keras cell contract.
        use_cudnn: `"auto"` (cuDNN when eligible), `True` (raise if not eligible)
            or `False`. keras' RNN has no such argument; seqlib's takes it because
            it runs LSTM and GRU cells on cuDNN. `SimpleRNN`, like keras', has none.
        **kwargs: As in `keras.layers.RNN`.

    Example:

    >>> layer = RNN(ZoneoutWrapper(LSTMCell(16), zoneout_h=0.1), return_sequences=True)
    >>> layer(np.zeros((2, 7, 3), "float32")).shape
    (2, 7, 16)
    """

    # Whether the layer takes `use_cudnn`: keras' LSTM and GRU do, its SimpleRNN
    # does not (and keras' Bidirectional copies the attribute where it exists).
    _has_use_cudnn = True

    def __init__(self, cell, use_cudnn="auto", **kwargs):
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                f"Expected one of {{'auto', True, False}}. Received: use_cudnn={use_cudnn!r}"
            )
        super().__init__(cell, **kwargs)
        if self._has_use_cudnn:
            self.use_cudnn = use_cudnn

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if not keras.backend.is_float_dtype(sequences.dtype):
            # keras' cells meet an integer (or boolean) input in keras.ops, which
            # promote it to the weights' float type; seqlib's loops and cuDNN use
            # TensorFlow ops, which do not. Cast it first, to the same dtype.
            sequences = ops.cast(sequences, self.compute_dtype)
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def _use_cudnn_path(self):
        if not self._has_use_cudnn:
            return False
        eligible = cudnn.cudnn_compatible(self.cell) and not self.unroll and cudnn.gpu_available()
        if self.use_cudnn is True and not eligible:
            raise ValueError(
                "use_cudnn=True, but this layer cannot run on cuDNN: it needs a GPU, "
                "tanh/sigmoid activations, a bias, no recurrent dropout, no peephole, "
                "reset_after=True for a GRU and unroll=False. Received: "
                f"cell={self.cell.__class__.__name__}, unroll={self.unroll}, "
                f"gpu={cudnn.gpu_available()}"
            )
        return eligible and self.use_cudnn in ("auto", True)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        cell = self.cell
        if not _fused(cell):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        if training and cell.dropout:
            # One mask per sequence, shared by all steps (as keras does).
            dp_mask = cell.get_dropout_mask(sequences[:, 0, :])  # (batch, input_dim)
            sequences = sequences * tf.expand_dims(dp_mask, 1)
        recurrent_mask = None
        if training and cell.recurrent_dropout:
            recurrent_mask = cell.get_recurrent_dropout_mask(initial_state[0])

        def generic():
            sequences_tm = tf.transpose(sequences, [1, 0, 2])  # (time, batch, input_dim)
            if recurrent_mask is None and not self.unroll and bptt.supports(cell):
                mask_tm = None if mask is None else tf.transpose(mask, [1, 0])
                if self.go_backwards:
                    mask_tm = None if mask is None else tf.reverse(mask_tm, [0])
                # Training runs the hand-written BPTT; inference a lean loop that
                # saves nothing for a backward pass (and is still differentiable).
                last, outputs, states = bptt.run(
                    cell,
                    tf.reverse(sequences_tm, [0]) if self.go_backwards else sequences_tm,
                    initial_state,
                    mask_tm,
                    self.zero_output_for_mask,
                    training=training if isinstance(training, bool) else training is not None,
                )
                if not self.return_sequences:
                    outputs = outputs[-1:]
                return last, tf.transpose(outputs, [1, 0, 2]), states  # (batch, time, units)
            # Any other cell: project all steps in one GEMM (time-major: transposing
            # the input is cheaper than transposing its projection), then loop.
            projected = cell.input_projection(sequences_tm)  # (time, batch, gates * units)
            return recurrent_loop(
                lambda x_t, states: cell.recurrent_step(x_t, states, recurrent_mask, training),
                projected,
                initial_state,
                output_size=cell.output_size,
                mask=mask,
                go_backwards=self.go_backwards,
                unroll=self.unroll,
                zero_output_for_mask=self.zero_output_for_mask,
                return_sequences=self.return_sequences,
                time_major=True,
            )

        if not self._use_cudnn_path():
            return generic()

        def fast():
            last, outputs, states = cudnn.cudnn_loop(
                cell, sequences, initial_state, mask, self.go_backwards, training
            )
            if mask is not None and not self.zero_output_for_mask and not self.go_backwards:
                # cuDNN writes zeros past each sequence's end; keras repeats the last
                # output there, and so do we.
                outputs = tf.where(tf.cast(mask, tf.bool)[:, :, None], outputs, last[:, None, :])
            if not self.return_sequences:
                outputs = tf.expand_dims(last, 1)
            return last, outputs, states

        if mask is None:
            return fast()
        # Non-right-padded masks are legal but not cuDNN's: decide at run time.
        return tf.cond(cudnn.is_right_padded(mask), fast, generic)

    def get_config(self):
        config = super().get_config()
        if self._has_use_cudnn:
            config["use_cudnn"] = self.use_cudnn
        return config
