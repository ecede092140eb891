"""The time loop of seqlib's sequence layers.

This loop serves every seqlib cell that `bptt.py` does not cover (peephole,
zoneout, other activations, recurrent dropout, `unroll=True`), differentiated by
autodiff. Only the recurrent half of each step runs here: the inputs arrive
already projected (`cell.input_projection` over the whole sequence, one matmul),
so each iteration does one (batch, units) x (units, gates * units) matmul and the
gate arithmetic.

Masking follows keras' semantics exactly: at a masked step the states keep their
previous values and the output repeats the previous output (or is zero with
`zero_output_for_mask=True`, which `keras.layers.Bidirectional` sets when it
returns sequences).
"""

import tensorflow as tf


def recurrent_loop(
    step_fn,
    inputs,
    initial_states,
    output_size,
    mask=None,
    go_backwards=False,
    unroll=False,
    zero_output_for_mask=False,
    return_sequences=True,
    time_major=False,
):
    """Runs `step_fn` over the time axis of `inputs`.

    Args:
        step_fn: `(inputs_t, states) -> (output_t, new_states)`, states lists.
        inputs: (batch, time, features) tensor, or (time, batch, features) with
            `time_major=True`.
        initial_states: List of (batch, ...) tensors.
        output_size: Last dimension of the step output.
        mask: Optional (batch, time) boolean tensor.
        go_backwards: Process the sequence from the last step to the first; the
            outputs are then in processing (reversed) order, as in keras.
        unroll: Unroll the loop in Python (short, fixed-length sequences only).
        zero_output_for_mask: Output zeros, not the previous output, at masked
            steps.
        return_sequences: Keep every step's output (otherwise only the last).
        time_major: Whether `inputs` is time-major. The outputs are batch-major
            either way.

    Returns:
        `(last_output, outputs, final_states)`: (batch, output_size),
        (batch, time or 1, output_size), list of states.
    """
    inputs_tm = inputs if time_major else tf.transpose(inputs, [1, 0, 2])  # (time, batch, f)
    mask_tm = None
    if mask is not None:
        mask_tm = tf.transpose(tf.cast(mask, tf.bool), [1, 0])  # (time, batch)
    if go_backwards:
        inputs_tm = tf.reverse(inputs_tm, [0])
        if mask_tm is not None:
            mask_tm = tf.reverse(mask_tm, [0])
    states = tuple(initial_states)
    batch = tf.shape(inputs_tm)[1]
    zero_output = tf.zeros((batch, output_size), dtype=states[0].dtype)

    def masked(mask_t, new, old):
        return tf.where(mask_t[:, None], new, old)

    def step(t_input, mask_t, prev_output, states):
        output, new_states = step_fn(t_input, list(states))
        if mask_t is None:
            return output, tuple(new_states)
        output = masked(mask_t, output, zero_output if zero_output_for_mask else prev_output)
        new_states = tuple(masked(mask_t, n, o) for n, o in zip(new_states, states))
        return output, new_states

    if unroll:
        time_steps = inputs_tm.shape[0]
        if time_steps is None:
            raise ValueError("Cannot unroll a sequence of unknown length. Received: time=None")
        output, outputs = zero_output, []
        for t in range(time_steps):
            mask_t = mask_tm[t] if mask_tm is not None else None
            output, states = step(inputs_tm[t], mask_t, output, states)
            outputs.append(output)
        outputs_tm = tf.stack(outputs if return_sequences else outputs[-1:])
        last_output = output
    else:
        time_steps = tf.shape(inputs_tm)[0]
        inputs_ta = tf.TensorArray(inputs_tm.dtype, size=time_steps).unstack(inputs_tm)
        mask_ta = None
        if mask_tm is not None:
            mask_ta = tf.TensorArray(tf.bool, size=time_steps).unstack(mask_tm)
        outputs_ta = tf.TensorArray(
            zero_output.dtype,
            size=time_steps if return_sequences else 1,
            element_shape=tf.TensorShape([inputs_tm.shape[1], output_size]),
        )

        def body(t, outputs_ta, prev_output, *states):
            mask_t = mask_ta.read(t) if mask_ta is not None else None
            output, new_states = step(inputs_ta.read(t), mask_t, prev_output, states)
            outputs_ta = outputs_ta.write(t if return_sequences else 0, output)
            return (t + 1, outputs_ta, output, *new_states)

        loop_vars = (tf.constant(0, tf.int32), outputs_ta, zero_output, *states)
        final = tf.while_loop(
            lambda t, *_: t < time_steps,
            body,
            loop_vars,
            maximum_iterations=time_steps,
            parallel_iterations=32,
            swap_memory=True,
        )
        outputs_tm, last_output, states = final[1].stack(), final[2], final[3:]
    outputs = tf.transpose(outputs_tm, [1, 0, 2])  # (batch, time, output_size)
    return last_output, outputs, list(states)
