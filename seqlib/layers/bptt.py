"""Backpropagation through time, written out, for the standard cells.

Automatic differentiation of a `tf.while_loop` differentiates every op of every
step: per step it pops the saved intermediates, runs the transposed ops (with
transposed matmuls) and accumulates the gradient of the recurrent kernel U with a
(units, batch) x (batch, gates * units) matmul and a (units, gates * units) add.

BPTT by hand does less. Because z_t = x_t W + b + h_{t-1} U, the gradient of the
loss with respect to the pre-activations, dz_t, is all the loop has to produce:

    backward, t = T..1:   dz_t      = (gate derivatives at t) ⊙ (dh_t, dc_t)
                          dh_{t-1}  = dz_t Uᵀ   (+ direct paths, e.g. GRU's z ⊙ dh_t)

and everything else leaves the loop as one large matmul over all steps at once:

    dU = Σ_t h_{t-1}ᵀ dz_t = H_prevᵀ dZ    (units, time·batch) x (time·batch, gates·units)
    dX_proj = dZ                             then dW = Xᵀ dZ and db = Σ dZ outside

Uᵀ is materialised once before the loop: on CPU, a matmul with `transpose_b` in
every step costs several times a plain one.

Masks follow keras: at a masked step the states keep their previous values,

    s_t = m_t ? s̃_t : s_{t-1}     so    ds̃_t = m_t ? ds_t : 0,   ds_{t-1} += m_t ? 0 : ds_t

The functions here return the *state* sequence; `run` turns it into keras'
outputs (a masked step repeats the previous output, or is zero).

This covers the cuDNN-shaped configurations: LSTM without peephole, GRU with
`reset_after` True or False, SimpleRNN with tanh, with the default activations
and no recurrent dropout. Other configurations use the automatically
differentiated loop of `loop.py`; the tests check both against keras.

All sequences here are time-major: (time, batch, features).
"""

import tensorflow as tf
from keras import activations, ops


def _scan(step, sequences, carry, num_outputs, reverse=False):
    """Runs `step(inputs_t, carry) -> (carry, outputs_t)` over time.

    Args:
        step: The step function; `inputs_t` and `outputs_t` are tuples.
        sequences: Tuple of (time, batch, ...) tensors read at each step.
        carry: Tuple of tensors carried from step to step.
        num_outputs: Length of `outputs_t`.
        reverse: Run from the last step to the first (outputs keep time order).

    Returns:
        `(carry, outputs)` with outputs stacked to (time, batch, ...).
    """
    time_steps = tf.shape(sequences[0])[0]
    inputs = [tf.TensorArray(s.dtype, size=time_steps).unstack(s) for s in sequences]
    outputs = [tf.TensorArray(carry[0].dtype, size=time_steps) for _ in range(num_outputs)]

    def body(i, outputs, *carry):
        t = time_steps - 1 - i if reverse else i
        carry, out = step([ta.read(t) for ta in inputs], carry)
        outputs = [ta.write(t, o) for ta, o in zip(outputs, out)]
        return (i + 1, outputs, *carry)

    result = tf.while_loop(
        lambda i, *_: i < time_steps,
        body,
        (tf.constant(0), outputs, *carry),
        maximum_iterations=time_steps,
        parallel_iterations=32,
    )
    return tuple(result[2:]), tuple(ta.stack() for ta in result[1])


def _previous(states, first):
    """(s_0, ..., s_{T-1}) from the state sequence (s_1, ..., s_T) and s_0."""
    return tf.concat([first[None], states[:-1]], axis=0)


def _outer(a, b):
    """Σ_t a_tᵀ b_t for (time, batch, m) and (time, batch, n) -> (m, n): one matmul."""
    a2 = tf.reshape(a, [-1, a.shape[-1]])
    b2 = tf.reshape(b, [-1, b.shape[-1]])
    return tf.matmul(a2, b2, transpose_a=True)


def _sum_time_batch(x):
    return tf.reduce_sum(tf.reshape(x, [-1, x.shape[-1]]), axis=0)


def _keep(m, new, old):
    """Forward of a masked step: the new state where m, else the old one."""
    return new if m is None else tf.where(m, new, old)


def _route(m, d):
    """Backward of `_keep`: (gradient into the new state, gradient passed through)."""
    if m is None:
        return d, 0.0
    zero = tf.zeros_like(d)
    return tf.where(m, d, zero), tf.where(m, zero, d)


def _mask_inputs(masked, mask):
    return (mask,) if masked else ()


def _make_lstm(masked):
    @tf.custom_gradient
    def lstm_sequence(x_proj, mask, h0, c0, u):
        def step(inputs, carry):
            x_t, m = inputs[0], (inputs[1] if masked else None)
            h_tm1, c_tm1 = carry
            z = x_t + tf.matmul(h_tm1, u)  # (batch, 4 * units)
            z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
            i, f, o = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.sigmoid(z_o)
            g = tf.tanh(z_c)
            c_new = f * c_tm1 + i * g
            h_new = o * tf.tanh(c_new)
            h, c = _keep(m, h_new, h_tm1), _keep(m, c_new, c_tm1)
            return (h, c), (h, c, c_new, tf.concat([i, f, g, o], axis=-1))

        (h_last, c_last), (hs, cs, c_news, gates) = _scan(
            step, (x_proj, *_mask_inputs(masked, mask)), (h0, c0), 4
        )

        def grad(d_hs, d_h_last, d_c_last):
            u_t = tf.transpose(u)
            h_prev, c_prev = _previous(hs, h0), _previous(cs, c0)

            def back(inputs, carry):
                d_out, c_new, c_tm1, gates_t = inputs[:4]
                m = inputs[4] if masked else None
                dh, dc = carry
                dh_new, dh_pass = _route(m, dh + d_out)
                dc_new, dc_pass = _route(m, dc)
                i, f, g, o = tf.split(gates_t, 4, axis=-1)
                tanh_c = tf.tanh(c_new)
                dc_new = dc_new + dh_new * o * (1.0 - tanh_c * tanh_c)
                dz = tf.concat(
                    [
                        dc_new * g * i * (1.0 - i),  # input gate
                        dc_new * c_tm1 * f * (1.0 - f),  # forget gate
                        dc_new * i * (1.0 - g * g),  # candidate
                        dh_new * tanh_c * o * (1.0 - o),  # output gate
                    ],
                    axis=-1,
                )  # (batch, 4 * units)
                dh_prev = tf.matmul(dz, u_t) + dh_pass
                return (dh_prev, dc_new * f + dc_pass), (dz,)

            (dh0, dc0), (dz,) = _scan(
                back,
                (d_hs, c_news, c_prev, gates, *_mask_inputs(masked, mask)),
                (d_h_last, d_c_last),
                1,
                reverse=True,
            )
            return dz, None, dh0, dc0, _outer(h_prev, dz)

        return (hs, h_last, c_last), grad

    return lstm_sequence


def _make_gru(masked):
    @tf.custom_gradient
    def gru_sequence(x_proj, mask, h0, u, recurrent_bias):
        def step(inputs, carry):
            x_t, m = inputs[0], (inputs[1] if masked else None)
            (h_tm1,) = carry
            x_z, x_r, x_h = tf.split(x_t, 3, axis=-1)
            inner = tf.matmul(h_tm1, u) + recurrent_bias  # (batch, 3 * units)
            rec_z, rec_r, rec_h = tf.split(inner, 3, axis=-1)
            z, r = tf.sigmoid(x_z + rec_z), tf.sigmoid(x_r + rec_r)
            hh = tf.tanh(x_h + r * rec_h)
            h = _keep(m, z * h_tm1 + (1.0 - z) * hh, h_tm1)
            return (h,), (h, tf.concat([z, r, hh, rec_h], axis=-1))

        (h_last,), (hs, saved) = _scan(step, (x_proj, *_mask_inputs(masked, mask)), (h0,), 2)

        def grad(d_hs, d_h_last):
            u_t = tf.transpose(u)
            h_prev = _previous(hs, h0)

            def back(inputs, carry):
                d_out, h_tm1, saved_t = inputs[:3]
                m = inputs[3] if masked else None
                dh_new, dh_pass = _route(m, carry[0] + d_out)
                z, r, hh, rec_h = tf.split(saved_t, 4, axis=-1)
                da_h = dh_new * (1.0 - z) * (1.0 - hh * hh)  # candidate pre-activation
                da_z = dh_new * (h_tm1 - hh) * z * (1.0 - z)
                da_r = da_h * rec_h * r * (1.0 - r)
                d_inner = tf.concat([da_z, da_r, da_h * r], axis=-1)  # (batch, 3 * units)
                dx = tf.concat([da_z, da_r, da_h], axis=-1)
                dh_prev = dh_new * z + tf.matmul(d_inner, u_t) + dh_pass
                return (dh_prev,), (dx, d_inner)

            (dh0,), (dx, d_inner) = _scan(
                back,
                (d_hs, h_prev, saved, *_mask_inputs(masked, mask)),
                (d_h_last,),
                2,
                reverse=True,
            )
            return dx, None, dh0, _outer(h_prev, d_inner), _sum_time_batch(d_inner)

        return (hs, h_last), grad

    return gru_sequence


def _make_gru_classic(masked):
    @tf.custom_gradient
    def gru_classic_sequence(x_proj, mask, h0, u):
        units = u.shape[0]
        u_zr, u_h = u[:, : 2 * units], u[:, 2 * units :]

        def step(inputs, carry):
            x_t, m = inputs[0], (inputs[1] if masked else None)
            (h_tm1,) = carry
            x_z, x_r, x_h = tf.split(x_t, 3, axis=-1)
            rec_z, rec_r = tf.split(tf.matmul(h_tm1, u_zr), 2, axis=-1)
            z, r = tf.sigmoid(x_z + rec_z), tf.sigmoid(x_r + rec_r)
            hh = tf.tanh(x_h + tf.matmul(r * h_tm1, u_h))
            h = _keep(m, z * h_tm1 + (1.0 - z) * hh, h_tm1)
            return (h,), (h, tf.concat([z, r, hh], axis=-1))

        (h_last,), (hs, saved) = _scan(step, (x_proj, *_mask_inputs(masked, mask)), (h0,), 2)

        def grad(d_hs, d_h_last):
            u_zr_t, u_h_t = tf.transpose(u_zr), tf.transpose(u_h)
            h_prev = _previous(hs, h0)

            def back(inputs, carry):
                d_out, h_tm1, saved_t = inputs[:3]
                m = inputs[3] if masked else None
                dh_new, dh_pass = _route(m, carry[0] + d_out)
                z, r, hh = tf.split(saved_t, 3, axis=-1)
                da_h = dh_new * (1.0 - z) * (1.0 - hh * hh)
                d_rh = tf.matmul(da_h, u_h_t)  # gradient of r ⊙ h_{t-1}
                da_z = dh_new * (h_tm1 - hh) * z * (1.0 - z)
                da_r = d_rh * h_tm1 * r * (1.0 - r)
                d_zr = tf.concat([da_z, da_r], axis=-1)
                dh_prev = dh_new * z + d_rh * r + tf.matmul(d_zr, u_zr_t) + dh_pass
                return (dh_prev,), (tf.concat([d_zr, da_h], axis=-1), r * h_tm1)

            (dh0,), (dx, rh) = _scan(
                back,
                (d_hs, h_prev, saved, *_mask_inputs(masked, mask)),
                (d_h_last,),
                2,
                reverse=True,
            )
            d_u = tf.concat(
                [_outer(h_prev, dx[..., : 2 * units]), _outer(rh, dx[..., 2 * units :])], axis=-1
            )
            return dx, None, dh0, d_u

        return (hs, h_last), grad

    return gru_classic_sequence


def _make_simple_rnn(masked):
    @tf.custom_gradient
    def simple_rnn_sequence(x_proj, mask, h0, u):
        def step(inputs, carry):
            x_t, m = inputs[0], (inputs[1] if masked else None)
            (h_tm1,) = carry
            h_new = tf.tanh(x_t + tf.matmul(h_tm1, u))
            return (_keep(m, h_new, h_tm1),), (_keep(m, h_new, h_tm1), h_new)

        (h_last,), (hs, h_news) = _scan(step, (x_proj, *_mask_inputs(masked, mask)), (h0,), 2)

        def grad(d_hs, d_h_last):
            u_t = tf.transpose(u)

            def back(inputs, carry):
                d_out, h_new = inputs[:2]
                m = inputs[2] if masked else None
                dh_new, dh_pass = _route(m, carry[0] + d_out)
                da = dh_new * (1.0 - h_new * h_new)
                return (tf.matmul(da, u_t) + dh_pass,), (da,)

            (dh0,), (da,) = _scan(
                back, (d_hs, h_news, *_mask_inputs(masked, mask)), (d_h_last,), 1, reverse=True
            )
            return da, None, dh0, _outer(_previous(hs, h0), da)

        return (hs, h_last), grad

    return simple_rnn_sequence


_SEQUENCES = {
    (kind, masked): make(masked)
    for kind, make in (
        ("lstm", _make_lstm),
        ("gru", _make_gru),
        ("gru_classic", _make_gru_classic),
        ("simple_rnn", _make_simple_rnn),
    )
    for masked in (False, True)
}


def _is(fn, *candidates):
    return any(fn is c for c in candidates)


def supports(cell):
    """Whether `cell`'s configuration is one this module differentiates by hand."""
    from seqlib.cells import GRUCell, LSTMCell, SimpleRNNCell

    tanh = (activations.tanh, tf.tanh, tf.math.tanh)
    sigmoid = (activations.sigmoid, tf.sigmoid, tf.math.sigmoid)
    kind = type(cell)
    if kind is SimpleRNNCell:
        return _is(cell.activation, *tanh)
    if kind is LSTMCell and cell.peephole:
        return False
    if kind is GRUCell and cell.reset_after and not cell.use_bias:
        return False
    if kind in (LSTMCell, GRUCell):
        return _is(cell.activation, *tanh) and _is(cell.recurrent_activation, *sigmoid)
    return False


def _read(variable):
    # A plain tensor (autocast to the compute dtype under mixed precision), so the
    # custom gradient sees no variable; the gradient reaches it through the read.
    return tf.convert_to_tensor(ops.convert_to_tensor(variable))


def run(cell, x_proj, initial_states, mask=None, zero_output_for_mask=False):
    """Runs a supported cell over time-major projected inputs.

    Args:
        cell: A cell for which `supports(cell)` holds.
        x_proj: (time, batch, gates * units), `cell.input_projection` of the inputs.
        initial_states: List of (batch, units) states.
        mask: Optional (time, batch) boolean mask.
        zero_output_for_mask: Whether masked steps output zeros (else they repeat
            the previous output).

    Returns:
        `(last_output, outputs, final_states)`, outputs (time, batch, units).
    """
    from seqlib.cells import GRUCell, LSTMCell

    # Read the states now: a stateful layer's state variables are reassigned before
    # the backward pass runs, and the gradient needs the values the forward used.
    initial_states = [_read(s) for s in initial_states]
    masked = mask is not None
    m = tf.cast(mask, tf.bool)[:, :, None] if masked else tf.constant(True)
    u = _read(cell.recurrent_kernel)
    if isinstance(cell, LSTMCell):
        hs, h, c = _SEQUENCES["lstm", masked](x_proj, m, initial_states[0], initial_states[1], u)
        states = [h, c]
    elif isinstance(cell, GRUCell) and cell.reset_after:
        hs, h = _SEQUENCES["gru", masked](x_proj, m, initial_states[0], u, _read(cell.bias)[1])
        states = [h]
    elif isinstance(cell, GRUCell):
        hs, h = _SEQUENCES["gru_classic", masked](x_proj, m, initial_states[0], u)
        states = [h]
    else:
        hs, h = _SEQUENCES["simple_rnn", masked](x_proj, m, initial_states[0], u)
        states = [h]
    if not masked:
        return h, hs, states
    # keras' outputs from the state sequence: a masked step repeats the previous
    # output, which is the carried state once any step was unmasked, zero before.
    if zero_output_for_mask:
        outputs = tf.where(m, hs, tf.zeros_like(hs))
    else:
        seen = tf.cast(tf.math.cumsum(tf.cast(m, tf.int32), axis=0) > 0, tf.bool)
        outputs = tf.where(seen, hs, tf.zeros_like(hs))
    return outputs[-1], outputs, states
