"""An optional compiled kernel (Numba) for the loop over time of a batch of one or two sentences.

Tagging one sentence, NumPy's three calls a step (product, add, activation)
cost more than their arithmetic; compiled, the loop runs in a fraction of the
time. For larger batches BLAS's product is faster and recurrence.rnn_forward's
NumPy loop, which stays the reference, is used. tests/test_kernels.py holds the
two equal.

Numba is imported on the first call, not with rnnkit: it costs some 100 MB of
memory and a second of start-up, which a training run (batches of 32, all in
NumPy) does not pay. rnnkit works without Numba (`available` is then False);
set RNNKIT_NO_NUMBA=1 to use NumPy everywhere even where Numba is installed.
"""
import importlib.util
import os

import numpy as np

available = not os.environ.get("RNNKIT_NO_NUMBA") and importlib.util.find_spec("numba") is not None

# Batches up to this size go through `recurrence`; larger ones through NumPy and BLAS.
SMALL_BATCH = 2

_compiled = None


def _compile():
    import numba

    @numba.njit(cache=True, nogil=True)
    def loop(a, W_aa_T, relu, reverse):
        T, m, n = a.shape
        acc = np.empty(n, a.dtype)
        for s in range(T):
            t = T - 1 - s if reverse else s
            for i in range(m):
                for j in range(n):
                    acc[j] = a[t, i, j]                              # z<t> = W_ax x<t> + b_a
                if s > 0:
                    t_prev = t + 1 if reverse else t - 1
                    for k in range(n):
                        a_k = a[t_prev, i, k]
                        for j in range(n):
                            acc[j] += a_k * W_aa_T[k, j]             # + W_aa a<t-1>
                for j in range(n):
                    a[t, i, j] = max(acc[j], 0) if relu else np.tanh(acc[j])   # a<t> = g(...)
        return a

    return loop


def recurrence(z, W_aa, activation, reverse=False):
    """recurrence.rnn_forward without mask or a0, in place on z (T, m, n_a)."""
    global _compiled
    if _compiled is None:
        _compiled = _compile()
    return _compiled(z, np.ascontiguousarray(W_aa.T), activation == "relu", reverse)
