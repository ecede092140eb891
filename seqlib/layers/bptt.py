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
        return d, None
    zero = tf.zeros_like(d)
    return tf.where(m, d, zero), tf.where(m, zero, d)


def _plus(a, b):
    return a if b is None else a + b


def _tanh_grad(y, dy):
    """dy ⊙ (1 − y²) for y = tanh(x), as one fused op."""
    return tf.raw_ops.TanhGrad(y=y, dy=dy)


def _sigmoid_grad(y, dy):
    """dy ⊙ y ⊙ (1 − y) for y = σ(x), as one fused op."""
    return tf.raw_ops.SigmoidGrad(y=y, dy=dy)


def _mask_inputs(masked, mask):
    return (mask,) if masked else ()


# Each cell has a forward function, shared by training and inference, and a
# training function with the backward pass written out.
#
# Both project x_t inside the loop: x_t W + b does not depend on the carried
# state, so the executor runs it for later steps on another core while the
# recurrent chain of the current step runs (on a two-core CPU this beats one
# serial GEMM before the loop). The training forward also saves what the
# backward pass needs, and the backward pass takes dX, dW and db for all steps
# at once as GEMMs over (time · batch). Inference saves nothing; being a plain
# loop, it stays differentiable by autodiff (e.g. for saliency maps).
#
# In the step functions, the ops that need the carried state form the critical
# path; everything else (reads, projections, 1 − z, z ⊙ h) runs beside it.


def _projection(kernel, bias):
    """The input half of a step, x_t W + b, run inside the loop."""

    def project(x_t):
        return tf.matmul(x_t, kernel) + bias

    return project


def _input_grads(xs, kernel, dz):
    """Gradients of x_t W + b for all steps from dZ, as GEMMs over time · batch.

    Returns (dX, dW, db): dX = dZ Wᵀ, dW = Xᵀ dZ, db = Σ dZ.
    """
    d_xs = tf.tensordot(dz, tf.transpose(kernel), axes=1)  # (time, batch, input_dim)
    return d_xs, _outer(xs, dz), _sum_time_batch(dz)


def _lstm_forward(xs, project, mask, h0, c0, u, save):
    masked = mask is not None

    def step(inputs, carry):
        x_t, m = project(inputs[0]), (inputs[1] if masked else None)
        h_tm1, c_tm1 = carry
        z = x_t + tf.matmul(h_tm1, u)  # (batch, 4 * units)
        z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
        i, f, o = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.sigmoid(z_o)
        g = tf.tanh(z_c)
        c_new = f * c_tm1 + i * g
        h_new = o * tf.tanh(c_new)
        h, c = _keep(m, h_new, h_tm1), _keep(m, c_new, c_tm1)
        if not save:
            return (h, c), (h,)
        # Unmasked, c_new is c; masked, the backward pass needs both.
        extra = (c_new,) if masked else ()
        return (h, c), (h, c, tf.concat([i, f, g, o], axis=-1), *extra)

    num_outputs = (4 if masked else 3) if save else 1
    return _scan(step, (xs, *_mask_inputs(masked, mask)), (h0, c0), num_outputs)


def _make_lstm(masked):
    @tf.custom_gradient
    def lstm_sequence(xs, mask, h0, c0, kernel, bias, u):
        (h_last, c_last), saved = _lstm_forward(
            xs, _projection(kernel, bias), mask if masked else None, h0, c0, u, True
        )
        hs, cs, gates = saved[:3]
        c_news = saved[3] if masked else cs

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
                dc_new = dc_new + _tanh_grad(tanh_c, dh_new * o)
                dz = tf.concat(
                    [
                        _sigmoid_grad(i, dc_new * g),  # input gate
                        _sigmoid_grad(f, dc_new * c_tm1),  # forget gate
                        _tanh_grad(g, dc_new * i),  # candidate
                        _sigmoid_grad(o, dh_new * tanh_c),  # output gate
                    ],
                    axis=-1,
                )  # (batch, 4 * units)
                dh_prev = _plus(tf.matmul(dz, u_t), dh_pass)
                return (dh_prev, _plus(dc_new * f, dc_pass)), (dz,)

            (dh0, dc0), (dz,) = _scan(
                back,
                (d_hs, c_news, c_prev, gates, *_mask_inputs(masked, mask)),
                (d_h_last, d_c_last),
                1,
                reverse=True,
            )
            dxs, d_kernel, d_bias = _input_grads(xs, kernel, dz)
            return dxs, None, dh0, dc0, d_kernel, d_bias, _outer(h_prev, dz)

        return (hs, h_last, c_last), grad

    return lstm_sequence


def _gru_forward(xs, project, mask, h0, u, b_h, save):
    """Reset-after GRU. The projected input carries the z, r parts of the recurrent
    bias too (`run` folds them in); only the candidate's, which r multiplies, is
    added here."""
    masked = mask is not None

    def step(inputs, carry):
        x_z, x_r, x_h = tf.split(project(inputs[0]), 3, axis=-1)
        m = inputs[1] if masked else None
        (h_tm1,) = carry
        inner_z, inner_r, inner_h = tf.split(tf.matmul(h_tm1, u), 3, axis=-1)
        z = tf.sigmoid(x_z + inner_z)
        r = tf.sigmoid(x_r + inner_r)
        rec_h = inner_h + b_h
        hh = tf.tanh(x_h + r * rec_h)
        h = _keep(m, (1.0 - z) * hh + z * h_tm1, h_tm1)
        if not save:
            return (h,), (h,)
        return (h,), (h, tf.concat([z, r, hh, rec_h], axis=-1))

    return _scan(step, (xs, *_mask_inputs(masked, mask)), (h0,), 2 if save else 1)


def _make_gru(masked):
    @tf.custom_gradient
    def gru_sequence(xs, mask, h0, kernel, bias, u, b_h):
        (h_last,), (hs, saved) = _gru_forward(
            xs, _projection(kernel, bias), mask if masked else None, h0, u, b_h, True
        )

        def grad(d_hs, d_h_last):
            units = u.shape[0]
            u_t = tf.transpose(u)
            h_prev = _previous(hs, h0)

            def back(inputs, carry):
                d_out, h_tm1, saved_t = inputs[:3]
                m = inputs[3] if masked else None
                dh_new, dh_pass = _route(m, carry[0] + d_out)
                z, r, hh, rec_h = tf.split(saved_t, 4, axis=-1)
                da_h = _tanh_grad(hh, dh_new * (1.0 - z))  # candidate pre-activation
                da_z = _sigmoid_grad(z, dh_new * (h_tm1 - hh))
                da_r = _sigmoid_grad(r, da_h * rec_h)
                d_inner = tf.concat([da_z, da_r, da_h * r], axis=-1)  # (batch, 3 * units)
                dx = tf.concat([da_z, da_r, da_h], axis=-1)
                dh_prev = _plus(dh_new * z + tf.matmul(d_inner, u_t), dh_pass)
                return (dh_prev,), (dx, d_inner)

            (dh0,), (dx, d_inner) = _scan(
                back,
                (d_hs, h_prev, saved, *_mask_inputs(masked, mask)),
                (d_h_last,),
                2,
                reverse=True,
            )
            d_b_h = _sum_time_batch(d_inner[..., 2 * units :])
            dxs, d_kernel, d_bias = _input_grads(xs, kernel, dx)
            return dxs, None, dh0, d_kernel, d_bias, _outer(h_prev, d_inner), d_b_h

        return (hs, h_last), grad

    return gru_sequence


def _gru_classic_forward(xs, project, mask, h0, u, save):
    masked = mask is not None
    units = u.shape[0]
    u_zr, u_h = u[:, : 2 * units], u[:, 2 * units :]

    def step(inputs, carry):
        x_zr, x_h = tf.split(project(inputs[0]), [2 * units, units], axis=-1)
        m = inputs[1] if masked else None
        (h_tm1,) = carry
        zr = tf.sigmoid(x_zr + tf.matmul(h_tm1, u_zr))  # (batch, 2 * units): z, r
        z, r = tf.split(zr, 2, axis=-1)
        hh = tf.tanh(x_h + tf.matmul(r * h_tm1, u_h))
        h = _keep(m, (1.0 - z) * hh + z * h_tm1, h_tm1)
        if not save:
            return (h,), (h,)
        return (h,), (h, tf.concat([zr, hh], axis=-1))

    return _scan(step, (xs, *_mask_inputs(masked, mask)), (h0,), 2 if save else 1)


def _make_gru_classic(masked):
    @tf.custom_gradient
    def gru_classic_sequence(xs, mask, h0, kernel, bias, u):
        units = u.shape[0]
        u_zr, u_h = u[:, : 2 * units], u[:, 2 * units :]
        (h_last,), (hs, saved) = _gru_classic_forward(
            xs, _projection(kernel, bias), mask if masked else None, h0, u, True
        )

        def grad(d_hs, d_h_last):
            u_zr_t, u_h_t = tf.transpose(u_zr), tf.transpose(u_h)
            h_prev = _previous(hs, h0)

            def back(inputs, carry):
                d_out, h_tm1, saved_t = inputs[:3]
                m = inputs[3] if masked else None
                dh_new, dh_pass = _route(m, carry[0] + d_out)
                z, r, hh = tf.split(saved_t, 3, axis=-1)
                da_h = _tanh_grad(hh, dh_new * (1.0 - z))
                d_rh = tf.matmul(da_h, u_h_t)  # gradient of r ⊙ h_{t-1}
                da_z = _sigmoid_grad(z, dh_new * (h_tm1 - hh))
                da_r = _sigmoid_grad(r, d_rh * h_tm1)
                d_zr = tf.concat([da_z, da_r], axis=-1)
                dh_prev = _plus(dh_new * z + d_rh * r + tf.matmul(d_zr, u_zr_t), dh_pass)
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
            dxs, d_kernel, d_bias = _input_grads(xs, kernel, dx)
            return dxs, None, dh0, d_kernel, d_bias, d_u

        return (hs, h_last), grad

    return gru_classic_sequence


def _simple_rnn_forward(xs, project, mask, h0, u, save):
    masked = mask is not None

    def step(inputs, carry):
        x_t, m = project(inputs[0]), (inputs[1] if masked else None)
        (h_tm1,) = carry
        h_new = tf.tanh(x_t + tf.matmul(h_tm1, u))
        h = _keep(m, h_new, h_tm1)
        # Unmasked, h_new is h; masked, the backward pass needs both.
        return (h,), (h, h_new) if (masked and save) else (h,)

    num_outputs = 2 if (masked and save) else 1
    return _scan(step, (xs, *_mask_inputs(masked, mask)), (h0,), num_outputs)


def _make_simple_rnn(masked):
    @tf.custom_gradient
    def simple_rnn_sequence(xs, mask, h0, kernel, bias, u):
        (h_last,), saved = _simple_rnn_forward(
            xs, _projection(kernel, bias), mask if masked else None, h0, u, True
        )
        hs, h_news = saved[0], saved[-1]

        def grad(d_hs, d_h_last):
            u_t = tf.transpose(u)

            def back(inputs, carry):
                d_out, h_new = inputs[:2]
                m = inputs[2] if masked else None
                dh_new, dh_pass = _route(m, carry[0] + d_out)
                da = _tanh_grad(h_new, dh_new)
                return (_plus(tf.matmul(da, u_t), dh_pass),), (da,)

            (dh0,), (da,) = _scan(
                back, (d_hs, h_news, *_mask_inputs(masked, mask)), (d_h_last,), 1, reverse=True
            )
            dxs, d_kernel, d_bias = _input_grads(xs, kernel, da)
            return dxs, None, dh0, d_kernel, d_bias, _outer(_previous(hs, h0), da)

        return (hs, h_last), grad

    return simple_rnn_sequence


_FORWARD = {
    "lstm": _lstm_forward,
    "gru": _gru_forward,
    "gru_classic": _gru_classic_forward,
    "simple_rnn": _simple_rnn_forward,
}

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


def run(cell, sequences, initial_states, mask=None, zero_output_for_mask=False, training=False):
    """Runs a supported cell over time-major inputs.

    Args:
        cell: A built cell for which `supports(cell)` holds.
        sequences: (time, batch, input_dim) inputs, dropout already applied.
        initial_states: List of (batch, units) states.
        mask: Optional (time, batch) boolean mask.
        zero_output_for_mask: Whether masked steps output zeros (else they repeat
            the previous output).
        training: Run the training function, which projects the inputs up front
            and saves what its hand-written backward pass needs; otherwise the
            lean inference loop.

    Returns:
        `(last_output, outputs, final_states)`, outputs (time, batch, units).
    """
    from seqlib.cells import GRUCell, LSTMCell

    # Read the states now: a stateful layer's state variables are reassigned before
    # the backward pass runs, and the gradient needs the values the forward used.
    states = [_read(s) for s in initial_states]
    masked = mask is not None
    m = tf.cast(mask, tf.bool)[:, :, None] if masked else None
    u = _read(cell.recurrent_kernel)
    kernel = _read(cell.kernel)
    bias = _read(cell.bias) if cell.use_bias else None
    if isinstance(cell, LSTMCell):
        kind, weights = "lstm", [u]
    elif isinstance(cell, GRUCell) and cell.reset_after:
        units = cell.units
        b_in, b_rec = bias[0], bias[1]
        # The z, r parts of the recurrent bias add to the input like its own bias.
        bias = b_in + tf.concat([b_rec[: 2 * units], tf.zeros_like(b_rec[2 * units :])], 0)
        kind, weights = "gru", [u, b_rec[2 * units :]]
    elif isinstance(cell, GRUCell):
        kind, weights = "gru_classic", [u]
    else:
        kind, weights = "simple_rnn", [u]

    if training:
        if bias is None:
            bias = tf.zeros([kernel.shape[-1]], kernel.dtype)
        train_fn = _SEQUENCES[kind, masked]
        m_arg = m if masked else tf.constant(True)
        hs, *states = train_fn(sequences, m_arg, *states, kernel, bias, *weights)
    else:
        if bias is None:
            project = lambda x_t: tf.matmul(x_t, kernel)  # noqa: E731
        else:
            project = _projection(kernel, bias)
        states, (hs,) = _FORWARD[kind](sequences, project, m, *states, *weights, save=False)
        states = list(states)
    if not masked:
        return states[0], hs, states
    # keras' outputs from the state sequence: a masked step repeats the previous
    # output, which is the carried state once any step was unmasked, zero before.
    if zero_output_for_mask:
        outputs = tf.where(m, hs, tf.zeros_like(hs))
    else:
        seen = tf.cast(tf.math.cumsum(tf.cast(m, tf.int32), axis=0) > 0, tf.bool)
        outputs = tf.where(seen, hs, tf.zeros_like(hs))
    return outputs[-1], outputs, states
