"""The loop over time of one chain of the lecture's RNN, forward and backward.

The non-recurrent work (W_ax x<t> + b_a for every step, the output layer, every
weight gradient) is done outside, as one matrix product over all steps; what is
left here is the only sequential part: one product with W_aa and one activation
per step. Arrays are time-major, (T, m, n_a), so that each step is one
contiguous (m, n_a) block, and the loop allocates nothing: each product is
written into a buffer made once (`np.matmul(..., out=)`) and the rest is done
in place, since at m = 32 and n_a = 100 NumPy's cost per call is a good part of
the cost of a step.

Padding: a<t> is forced to 0 at padded steps. A right-padded sequence therefore
enters its first real step with a = 0 in the reverse direction too, so padding
never leaks into a chain that starts at the end of a sequence, and the gradient
through a padded step is 0. When the sequences of a batch are sorted longest
first (as length-bucketed batches are), the sequences still running at step t
are the first n<t> rows, and each step works on those rows alone (what
PyTorch's packed sequences do); otherwise every row is computed and the padded
ones are zeroed.

Reference, one sequence at a time, for the forward direction::

    a = a0 or zeros(n_a)
    for t in range(T):
        a = g(W_aa @ a + z[t])        # z[t] = W_ax x<t> + b_a
        A[t] = a
"""

import numpy as np

from rnnkit.nn.activations import G


def time_steps(T, reverse):
    """The order in which a chain visits t = 0..T-1."""
    return range(T - 1, -1, -1) if reverse else range(T)


def partial_steps(mask_tm, dtype):
    """{t: (m, 1) 0/1 multiplier} for the steps where some sequence is padding."""
    if mask_tm is None:
        return {}
    full = mask_tm.all(axis=1)
    return {t: mask_tm[t, :, None].astype(dtype) for t in np.flatnonzero(~full)}


def running_rows(mask_tm):
    """n<t>, the number of sequences still running at each step, if they are the first rows
    (right-padded, sorted longest first); None for any other mask."""
    if mask_tm is None:
        return None
    n = mask_tm.sum(axis=1)
    if np.any(n[1:] > n[:-1]) or not np.array_equal(
        mask_tm, np.arange(mask_tm.shape[1]) < n[:, None]
    ):
        return None
    return n.tolist()


def rnn_forward(z, W_aa, activation, mask_tm=None, a0=None, reverse=False):
    """a<t> = g(W_aa a<t-1> + z<t>) for every step, computed in place.

    z: (T, m, n_a), z<t> = W_ax x<t> + b_a; overwritten by a and returned.
    W_aa: (n_a, n_a). mask_tm: (T, m) bool or None. a0: (m, n_a) or None (zeros).
    reverse: the chain runs t = T-1..0, so a<t-1> there means a<t+1>.
    """
    T = len(z)
    g, _ = G[activation]
    a, W_aa_T = z, np.ascontiguousarray(W_aa.T)  # row-major W_aa^T: the fast layout for the product
    rows = running_rows(mask_tm)
    prod = np.empty_like(a[0]) if T else None
    a_prev = a0
    if rows is None:  # every row at every step
        padded = partial_steps(mask_tm, z.dtype)
        for t in time_steps(T, reverse):
            a_t = a[t]
            if a_prev is not None:
                np.matmul(a_prev, W_aa_T, out=prod)
                a_t += prod  # W_aa a<t-1> + W_ax x<t> + b_a
            g(a_t, out=a_t)  # a<t> = g(...)
            if t in padded:
                a_t *= padded[t]  # a<t> = 0 where padded
            a_prev = a_t
        return a
    for t in time_steps(T, reverse):  # the n<t> running rows only
        n = rows[t]
        a[t, n:] = 0  # a<t> = 0 where padded
        a_t = a[t, :n]
        if a_prev is not None:
            k = min(n, len(a_prev))  # rows running at both steps; the others start at a = 0
            np.matmul(a_prev[:k], W_aa_T, out=prod[:k])
            a_t[:k] += prod[:k]  # W_aa a<t-1> + W_ax x<t> + b_a
        g(a_t, out=a_t)  # a<t> = g(...)
        a_prev = a_t
    return a


def rnn_backward(da, a, W_aa, activation, mask_tm=None, a0=None, reverse=False):
    """Backpropagation through time for one chain.

    da: (T, m, n_a) dL/da<t> from everything above the chain (outputs, next layer),
        overwritten by dL/dz<t> and returned as dz.
    a:  (T, m, n_a) the chain's forward states.
    Returns dz (T, m, n_a), dW_aa (n_a, n_a), da0 (m, n_a) or None.
    """
    _, g_grad = G[activation]
    T, m = a.shape[:2]
    dz = da
    g_prime = g_grad(a)  # g'(z<t>), all steps at once
    rows = running_rows(mask_tm)
    if mask_tm is not None:
        g_prime *= mask_tm[..., None]  # padded steps pass no gradient
        if rows is not None:
            dz *= mask_tm[..., None]  # and their rows are never touched below
    if rows is None:
        rows = [m] * T
    W = np.ascontiguousarray(W_aa)  # row-major W_aa: the fast layout for dz @ W_aa
    prod = np.empty_like(dz[0]) if T else None
    dz_next, n_next = None, 0
    for t in reversed(time_steps(T, reverse)):
        n, dz_t = rows[t], dz[t]
        if dz_next is not None:
            k = min(n, n_next)  # rows running at both steps
            np.matmul(dz_next[:k], W, out=prod[:k])
            dz_t[:k] += prod[:k]  # da<t> += W_aa^T dz<t+1>
        dz_t[:n] *= g_prime[t, :n]  # dz<t> = da<t> * g'(z<t>)
        dz_next, n_next = dz_t, n
    n_a = a.shape[-1]
    # dW_aa = sum_t dz<t> a<t-1>^T, one product over all steps.
    later, earlier = (
        (slice(None, -1), slice(1, None)) if reverse else (slice(1, None), slice(None, -1))
    )
    dW_aa = dz[later].reshape(-1, n_a).T @ a[earlier].reshape(-1, n_a)
    da0 = None
    if a0 is not None and T:
        first = T - 1 if reverse else 0
        dW_aa += dz[first].T @ a0
        da0 = dz[first] @ W_aa
    return dz, dW_aa, da0
