"""cuDNN fast path for LSTM and GRU on GPU, through TensorFlow's raw CudnnRNN ops.

cuDNN implements the LSTM of `seqlib.cells.LSTMCell` (no peephole) and the GRU of
`GRUCell(reset_after=True)` with tanh / sigmoid activations, a bias and no
recurrent dropout. Its weight layout differs from keras':

- every gate's matrix is stored transposed and flattened, input weights for all
  gates first, then recurrent weights, then the biases;
- cuDNN has two biases per gate (input and recurrent). An LSTM has one, so the
  input biases are zeros; a reset-after GRU uses both;
- cuDNN's GRU gate order is r, z, h where keras' is z, r, h;
- a bidirectional layer is two "pseudo-layers", forward then backward: the
  matrices of both come first, then the biases of both (the layout
  `jax.experimental.rnn` documents, and the one `CudnnRNNCanonicalToParamsV2`
  writes; `make gpu-check` compares the two).

Variable-length batches are passed as `sequence_lengths`, so a mask must be
right-padded; `RNN.inner_loop` and `Bidirectional.call` check this at run time
and take the generic path when it is not.
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


def _canonical(cell):
    """One cell's weights in cuDNN's canonical form: (matrices, biases), flat.

    Matrices: each gate's input matrix, then each gate's recurrent matrix, every
    one transposed to (units, columns) and flattened. Biases: each gate's input
    bias, then each gate's recurrent bias.
    """
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
    matrices = [tf.reshape(tf.transpose(w), [-1]) for w in kernels + recurrent]
    return matrices, [tf.reshape(b, [-1]) for b in biases]


def _params(*cells):
    """Flattens keras-layout weights into cuDNN's parameter buffer.

    One cell for a unidirectional layer; the forward and the backward cell of a
    bidirectional one: the matrices of every pseudo-layer, then their biases.
    """
    canonical = [_canonical(cell) for cell in cells]
    matrices = [m for cell_matrices, _ in canonical for m in cell_matrices]
    biases = [b for _, cell_biases in canonical for b in cell_biases]
    return tf.concat(matrices + biases, axis=0)


def _lengths(inputs, mask):
    if mask is None:
        return tf.fill([tf.shape(inputs)[0]], tf.shape(inputs)[1])
    return tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)


def _cudnn_rnn(cells, inputs, h0, c0, lengths):
    """One CudnnRNNV3 call: one cell (unidirectional) or two (bidirectional).

    `h0`, `c0`: (batch, directions, units), batch-major as `time_major=False`
    wants them. Returns `(outputs, h, c)`: (batch, time, directions * units) with
    zeros past each sequence's end, and the final states like `h0`, `c0`.
    """
    outputs, h, c, _, _ = tf.raw_ops.CudnnRNNV3(
        input=inputs,
        input_h=h0,
        input_c=c0,
        params=tf.cast(_params(*cells), inputs.dtype),
        sequence_lengths=lengths,
        rnn_mode="lstm" if cells[0].gates == 4 else "gru",
        direction="bidirectional" if len(cells) == 2 else "unidirectional",
        is_training=True,
        time_major=False,
    )
    return outputs, h, c


def _initial(states, is_lstm):
    """(batch, units) states of each direction -> cuDNN's (batch, directions, units)."""
    h0 = tf.stack([s[0] for s in states], axis=1)
    c0 = tf.stack([s[1] for s in states], axis=1) if is_lstm else tf.zeros_like(h0)
    return h0, c0


def _final(h, c, direction, is_lstm):
    states = [h[:, direction]] + ([c[:, direction]] if is_lstm else [])
    return states[0], states


def cudnn_loop(cell, inputs, initial_states, mask=None, go_backwards=False, training=False):
    """Runs an LSTM or GRU over (batch, time, features) inputs with cuDNN.

    Returns `(last_output, outputs, states)` with keras' conventions: masked steps
    of `outputs` are zeros and `last_output` is the last unmasked output.
    """
    lengths = _lengths(inputs, mask)
    if go_backwards:
        inputs = tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)
    is_lstm = cell.gates == 4
    outputs, h, c = _cudnn_rnn([cell], inputs, *_initial([initial_states], is_lstm), lengths)
    if go_backwards:
        # Processing order, as the generic loop returns it.
        outputs = tf.reverse_sequence(outputs, lengths, seq_axis=1, batch_axis=0)
        outputs = tf.reverse(outputs, axis=[1])
    last, states = _final(h, c, 0, is_lstm)
    return last, outputs, states


def cudnn_bidirectional_loop(
    forward_cell, backward_cell, inputs, forward_states, backward_states, mask=None
):
    """Runs two LSTM or two GRU cells over (batch, time, features) inputs, the
    first forward and the second backward, in one bidirectional cuDNN call.

    Returns `(last_output, outputs, states)` for each direction. Both `outputs`
    are in time order (the backward one at step t has read steps t to the end),
    with zeros at masked steps; `last_output` is the final state's output (the
    backward one's is at the first step).
    """
    is_lstm = forward_cell.gates == 4
    h0, c0 = _initial([forward_states, backward_states], is_lstm)
    outputs, h, c = _cudnn_rnn(
        [forward_cell, backward_cell], inputs, h0, c0, _lengths(inputs, mask)
    )
    forward_outputs, backward_outputs = tf.split(outputs, 2, axis=-1)  # (batch, time, units)
    forward_last, forward_final = _final(h, c, 0, is_lstm)
    backward_last, backward_final = _final(h, c, 1, is_lstm)
    return (
        (forward_last, forward_outputs, forward_final),
        (backward_last, backward_outputs, backward_final),
    )
