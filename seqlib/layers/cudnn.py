"""cuDNN fast path for LSTM and GRU on GPU, through TensorFlow's raw CudnnRNN ops.

cuDNN implements the LSTM of `seqlib.cells.LSTMCell` (no peephole) and the GRU of
`GRUCell(reset_after=True)` with tanh / sigmoid activations, a bias and no
recurrent dropout. Its weight layout differs from keras':

- every gate's matrix is stored transposed and flattened, input weights for all
  gates first, then recurrent weights, then the biases;
- cuDNN has two biases per gate (input and recurrent). An LSTM has one, so the
  input biases are zeros; a reset-after GRU uses both;
- cuDNN's GRU gate order is r, z, h where keras' is z, r, h.

Variable-length batches are passed as `sequence_lengths`, so a mask must be
right-padded; `RNN.inner_loop` checks this at run time and takes the generic
loop when it is not.
"""

import tensorflow as tf
from keras import ops


def gpu_available():
    return bool(tf.config.list_logical_devices("GPU"))


def cudnn_compatible(cell):
    """Whether a cell's configuration is one cuDNN computes exactly.

    Those are the LSTM and reset-after GRU configurations among the standard
    cells `bptt.supports` (tanh / sigmoid, no peephole), with a bias and no
    recurrent dropout.
    """
    from seqlib.cells import GRUCell, LSTMCell
    from seqlib.layers import bptt

    if type(cell) not in (LSTMCell, GRUCell) or not bptt.supports(cell):
        return False
    if isinstance(cell, GRUCell) and not cell.reset_after:
        return False
    return bool(cell.use_bias and not cell.recurrent_dropout)


def is_right_padded(mask):
    """True when every row of a (batch, time) mask is ones then zeros, none empty."""
    mask = tf.cast(mask, tf.bool)
    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    right_padded = tf.sequence_mask(lengths, maxlen=tf.shape(mask)[1])
    return tf.logical_and(tf.reduce_all(tf.equal(mask, right_padded)), tf.reduce_all(lengths > 0))


def _params(cell):
    """Flattens keras-layout weights into cuDNN's canonical parameter buffer."""
    gates = cell.gates
    kernels = tf.split(ops.convert_to_tensor(cell.kernel), gates, axis=1)
    recurrent = tf.split(ops.convert_to_tensor(cell.recurrent_kernel), gates, axis=1)
    bias = ops.convert_to_tensor(cell.bias)  # autocast under mixed precision
    if gates == 4:  # LSTM: i, f, c, o in both layouts; input biases are zero.
        biases = tf.split(tf.concat([tf.zeros_like(bias), bias], 0), 8)
    else:  # GRU: keras z, r, h -> cuDNN r, z, h; bias rows: input, recurrent.
        order = [1, 0, 2]
        kernels = [kernels[k] for k in order]
        recurrent = [recurrent[k] for k in order]
        b_in, b_rec = tf.split(tf.reshape(bias, [-1]), 2)
        b_in, b_rec = tf.split(b_in, 3), tf.split(b_rec, 3)
        biases = [b_in[k] for k in order] + [b_rec[k] for k in order]
    weights = [tf.reshape(tf.transpose(w), [-1]) for w in kernels + recurrent]
    return tf.concat(weights + [tf.reshape(b, [-1]) for b in biases], axis=0)


def cudnn_loop(cell, inputs, initial_states, mask=None, go_backwards=False, training=False):
    """Runs an LSTM or GRU over (batch, time, features) inputs with cuDNN.

    Returns `(last_output, outputs, states)` with keras' conventions: masked steps
    of `outputs` are zeros and `last_output` is the last unmasked output.
    """
    batch, time = tf.shape(inputs)[0], tf.shape(inputs)[1]
    if mask is None:
        lengths = tf.fill([batch], time)
    else:
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    if go_backwards:
        inputs = tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)
    init_h = tf.expand_dims(initial_states[0], axis=1)  # (batch, 1, units) batch-major
    is_lstm = cell.gates == 4
    init_c = tf.expand_dims(initial_states[1], axis=1) if is_lstm else tf.zeros_like(init_h)
    outputs, h, c, _, _ = tf.raw_ops.CudnnRNNV3(
        input=inputs,
        input_h=init_h,
        input_c=init_c,
        params=_params(cell),
        sequence_lengths=lengths,
        rnn_mode="lstm" if is_lstm else "gru",
        is_training=True,
        time_major=False,
    )
    if go_backwards:
        # Processing order, as the generic loop returns it.
        outputs = tf.reverse_sequence(outputs, lengths, seq_axis=1, batch_axis=0)
        outputs = tf.reverse(outputs, axis=[1])
    h = tf.squeeze(h, axis=1)
    states = [h, tf.squeeze(c, axis=1)] if is_lstm else [h]
    return h, outputs, states
