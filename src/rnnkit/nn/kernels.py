"""An optional compiled kernel (Numba) for the loop over time of one chain at inference.

NumPy's loop (recurrence.rnn_forward, the reference) makes three calls a step
(product, add, activation); before it the input term W_ax x<t> + b_a of every
step is gathered and written out, and after it the output layer reads every
state back: each a pass through memory. Compiled, each step is the same BLAS
product and then passes over the step's running rows while they are in cache:
gather the columns of x<t> and add b_a; add W_aa a<t-1> and apply g; for the top
layer, add W_ya a<t> to the logits. Tagging one sentence, NumPy's cost per call
is most of the cost of a step; tagging a batch, the passes are. g = tanh is
Eigen's rational function (CLAMP, P, Q below): np.tanh inside a compiled loop
is a call into libm per element, several times slower than NumPy's vectorised
tanh. tests/nn/test_kernels.py holds the kernel equal to the NumPy loop.

Numba is imported on the first call, not with rnnkit: it costs some 100 MB of
memory and a second of start-up, which a training run (all in NumPy) does not
pay. The product is np.dot, which Numba hands to SciPy's BLAS. rnnkit works
without Numba or SciPy (`available` is then False); set RNNKIT_NO_NUMBA=1 to
use NumPy everywhere even where both are installed.
"""

import importlib.util
import os
import warnings

import numpy as np

available = not os.environ.get("RNNKIT_NO_NUMBA") and all(
    importlib.util.find_spec(name) is not None for name in ("numba", "scipy")
)

# tanh(v) = v P(v^2) / Q(v^2) for |v| < CLAMP, and ±1 in float32 beyond: Eigen's float tanh,
# exact to a few ulp, and arithmetic that the compiler vectorises.
CLAMP = np.float32(7.90531110763549805)
P = tuple(
    np.float32(c)
    for c in (
        -2.76076847742355e-16,
        2.00018790482477e-13,
        -8.60467152213735e-11,
        5.12229709037114e-08,
        1.48572235717979e-05,
        6.37261928875436e-04,
        4.89352455891786e-03,
    )
)
Q = tuple(
    np.float32(c)
    for c in (
        1.19825839466702e-06,
        1.18534705686654e-04,
        2.26843463243900e-03,
        4.89352518554385e-03,
    )
)
ZERO = np.float32(0)

_compiled = None


class KernelFailed(RuntimeError):
    """Numba could not compile or run the kernel; it is switched off for the rest of the process."""


def _compile():
    import numba

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
    def loop(a, W_aa_T, rows, use_relu, reverse, x, W_ax_T, b_a, W_ya, logits):
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

    return loop


def rnn_forward(inp, W_ax, b_a, W_aa, activation, rows, reverse=False, W_ya=None, logits=None):
    """a (T, m, n_a) of one float32 chain on its input, compiled: recurrence.rnn_forward of
    W_ax x<t> + b_a, for a batch whose running rows are the first n<t> = rows[t] (unpadded, or
    right-padded longest first), without a0.

    inp: (T, m) or (T, m, K) word ids (gathered in the loop), or (T, m, n_in) floats.
    W_ya (n_y, n_a), logits (T, m, n_y): for a chain of the top layer, logits<t> += W_ya a<t> at the
    running rows, while a<t> is in cache (W_ya: the chain's columns of the output layer's).
    """
    global _compiled, available
    try:
        if _compiled is None:
            _compiled = _compile()
        loop = _compiled
    except Exception as e:  # an optional accelerator must never stop a tagger: fall back to NumPy
        available = False
        warnings.warn(
            f"rnnkit: the compiled kernel is unavailable ({type(e).__name__}: {e}); using NumPy",
            stacklevel=2,
        )
        raise KernelFailed from e
    T, m = inp.shape[:2]
    if inp.dtype.kind in "iu":
        a, x = np.empty((T, m, len(b_a)), b_a.dtype), inp if inp.ndim == 3 else inp[..., None]
    else:
        a, x = inp @ W_ax.T + b_a, None  # z<t> for every step at once
    # g is chosen by a flag, not passed as a function: Numba cannot write a function-typed
    # argument into its on-disk cache, and the cache is what spares each process the compile.
    args = (
        a,
        np.ascontiguousarray(W_aa.T),
        rows,
        activation == "relu",
        reverse,
        x,
        W_ax.T,
        b_a,
        W_ya,
        logits,
    )
    try:
        return loop(*args)
    except Exception as e:  # compiling for new argument types happens here, at the call
        available = False
        warnings.warn(
            f"rnnkit: the compiled kernel failed ({type(e).__name__}: {e}); using NumPy",
            stacklevel=2,
        )
        raise KernelFailed from e
