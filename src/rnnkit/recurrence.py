"""The loop over time of one chain of the lecture's RNN, forward and backward.

The non-recurrent work (W_ax x<t> + b_a for every step, the output layer, every
weight gradient) is done outside, as one matrix product over all steps; what is
left here is the only sequential part: one product with W_aa and one activation
per step. Arrays are time-major, (T, m, n_a), so that each step is one
contiguous (m, n_a) block.

Padding: a<t> is forced to 0 at padded steps. A right-padded sequence therefore
enters its first real step with a = 0 in the reverse direction too, so padding
never leaks into a chain that starts at the end of a sequence, and the gradient
through a padded step is 0.

Reference, one sequence at a time, for the forward direction::

    a = a0 or zeros(n_a)
    for t in range(T):
        a = g(W_aa @ a + z[t])        # z[t] = W_ax x<t> + b_a
        A[t] = a
"""
import numpy as np

from .activations import G


def time_steps(T, reverse):
    """The order in which a chain visits t = 0..T-1."""
    return range(T - 1, -1, -1) if reverse else range(T)


def partial_steps(mask_tm, dtype):
    """{t: (m, 1) 0/1 multiplier} for the steps where some sequence is padding."""
    if mask_tm is None:
        return {}
    full = mask_tm.all(axis=1)
    return {t: mask_tm[t, :, None].astype(dtype) for t in np.flatnonzero(~full)}


def rnn_forward(z, W_aa, activation, mask_tm=None, a0=None, reverse=False):
    """a<t> = g(W_aa a<t-1> + z<t>) for every step, computed in place.

    z: (T, m, n_a), z<t> = W_ax x<t> + b_a; overwritten by a and returned.
    W_aa: (n_a, n_a). mask_tm: (T, m) bool or None. a0: (m, n_a) or None (zeros).
    reverse: the chain runs t = T-1..0, so a<t-1> there means a<t+1>.
    """
    g, _ = G[activation]
    a, W_aa_T = z, W_aa.T
    padded = partial_steps(mask_tm, z.dtype)
    a_prev = a0
    for t in time_steps(len(a), reverse):
        if a_prev is not None:
            a[t] += a_prev @ W_aa_T                  # W_aa a<t-1> + W_ax x<t> + b_a
        g(a[t], out=a[t])                            # a<t> = g(...)
        if t in padded:
            a[t] *= padded[t]                        # a<t> = 0 where padded
        a_prev = a[t]
    return a


def rnn_backward(da, a, W_aa, activation, mask_tm=None, a0=None, reverse=False):
    """Backpropagation through time for one chain.

    da: (T, m, n_a) dL/da<t> from everything above the chain (outputs, next layer),
        overwritten by dL/dz<t> and returned as dz.
    a:  (T, m, n_a) the chain's forward states.
    Returns dz (T, m, n_a), dW_aa (n_a, n_a), da0 (m, n_a) or None.
    """
    _, g_grad = G[activation]
    T = len(a)
    dz = da
    g_prime = g_grad(a)                              # g'(z<t>), all steps at once
    if mask_tm is not None:
        g_prime *= mask_tm[..., None]                # padded steps pass no gradient
    dz_next = None
    for t in reversed(time_steps(T, reverse)):
        if dz_next is not None:
            dz[t] += dz_next @ W_aa                  # da<t> += W_aa^T dz<t+1>
        dz[t] *= g_prime[t]                          # dz<t> = da<t> * g'(z<t>)
        dz_next = dz[t]
    n_a = a.shape[-1]
    # dW_aa = sum_t dz<t> a<t-1>^T, one product over all steps.
    later, earlier = (slice(None, -1), slice(1, None)) if reverse else (slice(1, None), slice(None, -1))
    dW_aa = dz[later].reshape(-1, n_a).T @ a[earlier].reshape(-1, n_a)
    da0 = None
    if a0 is not None and T:
        first = T - 1 if reverse else 0
        dW_aa += dz[first].T @ a0
        da0 = dz[first] @ W_aa
    return dz, dW_aa, da0
