"""The gated recurrent unit (GRU), the gated cell of the course's next lecture, for one chain,
forward and backward. The lecture's RNN stays the default and the reference; this is the
option `cell="gru"` of RNNConfig.

In the GRU lecture's names, with the candidate's reset applied after the product (the form
PyTorch's nn.GRU and cuDNN compute, so that a model converts to and from nn.GRU exactly)::

    Γ_u = σ(W_ua a<t-1> + W_ux x<t> + b_u)                  update gate
    Γ_r = σ(W_ra a<t-1> + W_rx x<t> + b_r)                  reset (relevance) gate
    c̃<t> = tanh(W_cx x<t> + b_c + Γ_r * (W_ca a<t-1> + b_aa))    candidate
    a<t> = Γ_u * c̃<t> + (1 - Γ_u) * a<t-1>

A chain stores the three blocks stacked, [u; r; c]: W_aa (3 n_a, n_a), W_ax (3 n_a, n_in) and
b_a (3 n_a,), so that the model computes z<t> = W_ax x<t> + b_a for every step as it does for
the lecture's RNN (a gather for word ids); b_aa (n_a,) is the candidate's recurrent bias,
which sits inside Γ_r * (...) and so is not folded into b_a.

Padding as in rnnkit.nn.recurrence: a<t> = 0 at padded steps, so that a chain entering a
sequence from its padded end starts at a = 0, and no gradient passes through a padded step.
"""

import numpy as np

from rnnkit.nn.recurrence import partial_steps, time_steps


def _sigmoid_(z):
    """σ(z) in place, as (1 + tanh(z/2)) / 2: no exp to overflow."""
    z *= 0.5
    np.tanh(z, out=z)
    z += 1
    z *= 0.5
    return z


def gru_forward(z, W_aa, b_aa, mask_tm=None, reverse=False):
    """The chain's states a (T, m, n_a) and what backpropagation needs.

    z: (T, m, 3 n_a), z<t> = W_ax x<t> + b_a, blocks [u; r; c]; overwritten by the gates
    [Γ_u; Γ_r; c̃] and returned in the cache. W_aa: (3 n_a, n_a). b_aa: (n_a,).
    Returns a, cache = (gates (T, m, 3 n_a), W_ca a<t-1> + b_aa (T, m, n_a), the masks).
    """
    T, m, n3 = z.shape
    n_a = n3 // 3
    u, r, c = slice(0, n_a), slice(n_a, 2 * n_a), slice(2 * n_a, n3)
    a = np.empty((T, m, n_a), z.dtype)  # each step writes its a<t> whole
    h_c = np.empty_like(a)  # W_ca a<t-1> + b_aa, which Γ_r scales
    W_aa_T = np.ascontiguousarray(W_aa.T)
    zh = np.empty((m, n3), z.dtype)
    padded = partial_steps(mask_tm, z.dtype)
    a_prev = None
    for t in time_steps(T, reverse):
        gates = z[t]
        if a_prev is None:  # a<0> = 0: no recurrent term but the bias
            h_c[t] = b_aa
        else:
            np.matmul(a_prev, W_aa_T, out=zh)
            gates[:, : 2 * n_a] += zh[:, : 2 * n_a]
            np.add(zh[:, c], b_aa, out=h_c[t])
        _sigmoid_(gates[:, : 2 * n_a])  # Γ_u, Γ_r
        gates[:, c] += gates[:, r] * h_c[t]
        np.tanh(gates[:, c], out=gates[:, c])  # c̃<t>
        a_t = a[t]
        if a_prev is None:
            np.multiply(gates[:, u], gates[:, c], out=a_t)
        else:  # a<t-1> + Γ_u (c̃<t> - a<t-1>)
            np.subtract(gates[:, c], a_prev, out=a_t)
            a_t *= gates[:, u]
            a_t += a_prev
        if t in padded:
            a_t *= padded[t]  # a<t> = 0 where padded
        a_prev = a_t
    return a, (z, h_c, padded)


def gru_backward(da, a, cache, W_aa, reverse=False):
    """Backpropagation through time for one GRU chain.

    da: (T, m, n_a) dL/da<t> from everything above the chain. a and cache: gru_forward's.
    Returns dz (T, m, 3 n_a) = dL/dz<t> (the gradient of W_ax x<t> + b_a), dW_aa (3 n_a, n_a)
    and db_aa (n_a,).

    With d<t> = dL/da<t> (from above and from step t+1), every gradient of step t is d<t> times
    a factor the forward pass already fixed:
        dz_u = d Γ_u' (c̃ - a<t-1>),  dz_c = d Γ_u tanh',  dz_r = dz_c (W_ca a<t-1> + b_aa) Γ_r',
    and W_aa a<t-1> gets the same but dz_c Γ_r for its c block (Γ_r scales it). So the factors
    are computed for all steps at once, and the loop keeps only what is sequential: d<t> =
    da<t> + (1 - Γ_u) d<t+1> + W_aa^T dzh<t+1>, five NumPy calls a step.
    """
    gates, h_c, padded = cache
    T, m, n_a = a.shape
    G_u, G_r, c_t = gates[..., :n_a], gates[..., n_a : 2 * n_a], gates[..., 2 * n_a :]
    order = list(time_steps(T, reverse))
    a_prev = np.zeros_like(a)  # a<t-1> of each step, in the chain's order (a<0> = 0)
    a_prev[order[1:]] = a[order[:-1]]
    dz_per_d = np.empty((T, m, 3, n_a), a.dtype)  # dL/dz<t> = d<t> * dz_per_d<t>, per block
    dz_per_d[:, :, 2] = G_u * (1 - c_t * c_t)  # c̃ = tanh(...): tanh' = 1 - c̃^2
    dz_per_d[:, :, 0] = (c_t - a_prev) * G_u * (1 - G_u)  # σ' = σ (1 - σ)
    dz_per_d[:, :, 1] = dz_per_d[:, :, 2] * h_c * G_r * (1 - G_r)
    dzh_per_d = dz_per_d.copy()  # dL/d(W_aa a<t-1> + [0; 0; b_aa]) per d<t>
    dzh_per_d[:, :, 2] *= G_r
    keep = 1 - G_u  # da<t-1> from a<t> = Γ_u c̃ + (1 - Γ_u) a<t-1>, directly
    for t, mask in padded.items():  # a padded step's a<t> is a constant 0: no gradient
        dz_per_d[t] *= mask[:, :, None]
        dzh_per_d[t] *= mask[:, :, None]
        keep[t] *= mask
    d = np.empty_like(a)
    dzh = np.empty((T, m, 3 * n_a), a.dtype)
    W = np.ascontiguousarray(W_aa)
    carry = None  # dL/da<t-1> from the step after
    for i in range(T - 1, -1, -1):
        t = order[i]
        d_t = d[t]
        if carry is None:
            d_t[...] = da[t]
        else:
            np.add(da[t], carry, out=d_t)
        np.multiply(d_t[:, None, :], dzh_per_d[t], out=dzh[t].reshape(m, 3, n_a))
        if i:
            carry = d_t * keep[t]
            carry += dzh[t] @ W  # W_aa^T dzh<t>
    dz = (d[:, :, None, :] * dz_per_d).reshape(T, m, 3 * n_a)
    later, earlier = (
        (slice(None, -1), slice(1, None)) if reverse else (slice(1, None), slice(None, -1))
    )
    # dW_aa = sum over t > first of dzh<t> a<t-1>^T, one product over all steps
    dW_aa = dzh[later].reshape(-1, 3 * n_a).T @ a[earlier].reshape(-1, n_a)
    db_aa = dzh[..., 2 * n_a :].sum(axis=(0, 1))
    return dz, dW_aa, db_aa
