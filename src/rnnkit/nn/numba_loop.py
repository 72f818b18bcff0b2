"""The compiled loop of kernels.py, in Numba: imported only when kernels.load() asks for it.

Every function is defined at module level. Numba's on-disk cache keys an entry by the
function's bytecode and by the pickled contents of its closure; a function made inside
another (as these once were) closes over other dispatchers, whose pickles carry a new
random id in each process, so the cache never hit and each process compiled again and
added its own entries to __pycache__. At module level there is no closure: the key is the
same in every process, the first one compiles and the rest load.
"""

import numba
import numpy as np

from rnnkit.nn.kernels import CLAMP, ZERO, P, Q

# No check before each division (error_model), and sums in any order (reassoc), which lets the
# compiler vectorise the loops over a row; NaN and inf keep their IEEE meaning.
jit = numba.njit(
    cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz", "arcp"}
)


@jit
def tanh(v):
    v = min(max(v, -CLAMP), CLAMP)
    s, p, q = v * v, ZERO, ZERO
    for c in P:
        p = p * s + c
    for c in Q:
        q = q * s + c
    return v * p / q


@jit
def relu(v):
    return max(v, ZERO)


@jit
def loop(a, W_aa_T, rows, use_relu, reverse, x, W_ax_T, b_a, W_ya, logits, add):
    """a (T, m, n_a) in place: see kernels.rnn_forward. add: a holds a term of z<t> already
    (W_as s<t>), to which the gathered columns and b_a are added."""
    T, m, n_a = a.shape
    prod = np.empty((m, n_a), a.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        n = rows[t]
        a[t, n:] = 0  # a<t> = 0 where padded
        k = min(n, rows[t + 1 if reverse else t - 1]) if s else 0  # rows running at both steps;
        if k:  # the others start at a = 0
            np.dot(a[t + 1 if reverse else t - 1, :k], W_aa_T, prod[:k])
        prod[k:n] = 0
        if x is not None:  # z<t> = W_ax x<t> + b_a: the columns of
            for i in range(n):  # x<t>'s ids (else a<t> holds z<t>), all
                z, w = a[t, i], W_ax_T[x[t, i, 0]]  # fetched before they are used
                if add:
                    for j in range(n_a):
                        z[j] += w[j] + b_a[j]
                else:
                    for j in range(n_a):
                        z[j] = w[j] + b_a[j]
                for word in x[t, i, 1:]:
                    w = W_ax_T[word]
                    for j in range(n_a):
                        z[j] += w[j]
        for i in range(n):
            z, p = a[t, i], prod[i]
            for j in range(n_a):
                v = p[j] + z[j]
                z[j] = relu(v) if use_relu else tanh(v)  # a<t> = g(W_aa a<t-1> + z<t>)
            if W_ya is not None:  # the top layer: this chain's part
                for o in range(len(W_ya)):  # of W_ya a<t> + b_y
                    y = ZERO
                    for j in range(n_a):
                        y += W_ya[o, j] * z[j]
                    logits[t, i, o] += y
    return a
