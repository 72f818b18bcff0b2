"""Optional compiled kernels (Numba) for inference: the loop over time of one chain, and a
whole model of one or two layers in one call.

NumPy's loop (recurrence.rnn_forward, the reference) makes three calls a step
(product, add, activation); before it the input term W_ax x<t> + b_a of every
step is gathered and written out, and after it the output layer reads every
state back: each a pass through memory. Compiled, each step is the same BLAS
product and then one pass over the step's running rows while they are in cache:
gather the columns of x<t>, add b_a and W_aa a<t-1>, and apply g; for the top layer
the chain's part of W_ya a<t> is added to the logits afterwards. Tagging one
sentence, NumPy's cost per call
is most of the cost of a step; tagging a batch, the passes are. g = tanh is
Eigen's rational function (CLAMP, P, Q below): np.tanh inside a compiled loop
is a call into libm per element, several times slower than NumPy's vectorised
tanh. tests/nn/test_kernels.py holds the kernel equal to the NumPy loop.

A CRF's decoding takes more, once loaded: Viterbi (`viterbi_paths`) and the forward-backward
marginals (`crf_marginals`), one sequence at a time, where NumPy pays a dozen calls a step
over the batch (a 12-token sentence: over 1 ms of the CRF tagger's 1.7), and for a tagger both
in one call with the choice of what it prints (`crf_decode_folded`).

A model of one or two layers on word ids takes a second kernel, `stack_forward`: every
chain, the input products of layer 2 and the output layer in one call. A 12-token sentence
is some 10^6 multiply-adds, while each call from Python into NumPy or Numba costs a few
microseconds; by chain, a sentence paid for some twenty such calls. For 2 to 4 rows the
recurrent product is a loop of its own (`numba_loop.product`): BLAS's call costs more than
the sums.

Numba is loaded only when a process asks for it with load() (rnnkit bench, the benchmark
against PyTorch, a user's long-running program). Importing it and loading the compiled loop
from its on-disk cache costs a process 0.5 to 3 s and some 80 MB; the loop then saves NumPy's
cost per call, some 5 to 10 µs a time step (tagging one 12-token sentence: about 100 µs of
250), which a command that tags a text or a test set never earns back. And it is never taken
on its own: the loop sums in another order than BLAS, so a ŷ may differ in its last bits,
and what a process writes must not depend on how much it tagged before (one process, worker
processes and a Dask cluster write the same bytes for the same files). Training never loads
it.
The product is np.dot, which Numba hands to SciPy's BLAS (held to rnnkit's BLAS threads like
NumPy's, rnnkit.threads). rnnkit works without Numba or
SciPy (`available` is then False); RNNKIT_NO_NUMBA=1 keeps NumPy even where both are there.
"""

import importlib.util
import os
import warnings

import numpy as np

from rnnkit import threads

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

_compiled = None  # the module numba_loop, once loaded


class KernelFailed(RuntimeError):
    """Numba could not compile or run the kernel; it is switched off for the rest of the process."""


def wanted(T):
    """Whether a forward pass of T time steps takes the kernel: once load() has loaded it."""
    return available and _compiled is not None


def load():
    """Import Numba and load (or, the first time on a machine, compile) the loop, which every
    later inference of this process then takes; False if Numba is unavailable or fails."""
    try:
        _loop()
    except KernelFailed:
        return False
    return available


def _loop():
    global _compiled, available
    if _compiled is None:
        if not available:
            raise KernelFailed("the compiled kernel is not available")
        try:
            # The BLAS that Numba's np.dot calls is SciPy's, loaded with scipy.linalg.cython_blas
            # only when a first kernel is compiled or read from the cache: loaded here, before
            # libraries_loaded() looks, so that rnnkit's thread limit holds it from the first call.
            import scipy.linalg.cython_blas  # noqa: F401

            from rnnkit.nn import numba_loop
        except Exception as e:  # an optional accelerator must never stop a tagger: use NumPy
            available = False
            warnings.warn(
                f"rnnkit: the compiled kernel is unavailable ({type(e).__name__}: {e}); "
                "using NumPy",
                stacklevel=3,
            )
            raise KernelFailed from e
        _compiled = numba_loop
        threads.libraries_loaded()  # Numba brings SciPy's own BLAS: hold it to rnnkit's threads too
    return _compiled


def rnn_forward(
    inp, W_ax, b_a, W_aa, activation, rows, reverse=False, W_ya=None, logits=None, extra=None
):
    """a (T, m, n_a) of one float32 chain on its input, compiled: recurrence.rnn_forward of
    W_ax x<t> + b_a, for a batch whose running rows are the first n<t> = rows[t] (unpadded, or
    right-padded longest first), without a0.

    inp: (T, m) or (T, m, K) word ids (gathered in the loop), or (T, m, n_in) floats.
    W_ya (n_y, n_a), logits (T, m, n_y): for a chain of the top layer, logits<t> += W_ya a<t> at the
    running rows (W_ya: the chain's columns of the output layer's).
    extra: (T, m, n_a) another term of z<t>, added to W_ax x<t> + b_a (W_as s<t>, nn.model).
    """
    T, m = inp.shape[:2]
    n_a = len(b_a)
    S, s_rows = np.empty((0, n_a), b_a.dtype), np.empty((0, 0), np.intp)  # no rows to add
    if inp.dtype.kind in "iu":
        a = np.empty((T, m, n_a), b_a.dtype)
        x = inp if inp.ndim == 3 else inp[..., None]
        if extra is not None:  # each step's own row of a table, as stack_forward takes s
            S, s_rows = extra.reshape(T * m, n_a), np.arange(T * m).reshape(T, m)
    else:
        # z<t> for every step at once, in one 2-D product (a 3-D matmul is slower for few rows)
        # (the sizes spelled out: -1 cannot be inferred for an empty batch)
        a = (inp.reshape(T * m, inp.shape[-1]) @ W_ax.T).reshape(T, m, W_ax.shape[0])
        x = None
        a += b_a
        if extra is not None:
            a += extra
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
        S,
        s_rows,
        W_ya,
        logits,
    )
    return _call("loop", args)


def gru_forward(z, W_aa, b_aa, rows, reverse=False, W_ya=None, logits=None):
    """a (T, m, n_a) of one float32 GRU chain (nn.gru.gru_forward), compiled, from z<t> = W_ax x<t>
    + b_a (T, m, 3 n_a) computed before, for a batch whose running rows are the first n<t> =
    rows[t]. Each step is the BLAS product W_aa a<t-1> and one pass over the running rows for
    the gates, the candidate and a<t>, where NumPy makes a dozen calls. W_ya, logits: as
    rnn_forward takes them, for a chain of the top layer."""
    W_aa_T = np.ascontiguousarray(W_aa.T)
    return _call("gru_chain", (z, rows, reverse, W_aa_T, b_aa, W_ya, logits))


def stack_forward(ids, rows, activation, layer1, S, s_rows, layer2, W_ya, b_y):
    """(logits (T, m, n_y), the top layer's a of each direction (T, m, n_a)): a whole model of
    one or two layers on word ids, compiled as one call, so that a short sentence pays NumPy's
    and Numba's cost per call once, not once per chain and per step of the glue between them.

    ids (T, m, K) word ids, rows n<t> as in rnn_forward. layer1, layer2: (W_ax^T, b_a, W_aa^T),
    each a tuple of one array per direction; layer2's b_a holds empty arrays for a model of one
    layer. S: for each layer-1 direction,
    W_as s of each row of the spelling table ((rows, n_a), or (0, n_a) without spellings);
    s_rows (T, m) each token's row. None, and nothing computed, if an id lies outside W_ax or a
    row outside S: the kernel checks them as it reads them.
    """
    args = (ids, rows, activation == "relu", *layer1, S, s_rows, *layer2, W_ya, b_y)
    logits, top, ok = _call("stack", args)
    return (logits, top) if ok else None


def viterbi_paths(scores, lengths, A, start, end):
    """(y (m, T), the first sequence with no allowed path or -1): viterbi.viterbi's loop over
    time, compiled, on its tables (float64; -inf where forbidden)."""
    return _call("viterbi_paths", (scores, np.asarray(lengths, np.intp), A, start, end))


def crf_marginals(z, lengths, A, start, end):
    """p(y<t> = j | x) (m, T, n_y) of crf.crf_marginals, compiled, on float64 inputs."""
    return _call("crf_marginals", (z, np.asarray(lengths, np.intp), A, start, end))


def crf_decode_folded(emissions, lengths, A, start, end, allowed, allowed_start, allowed_end,
                      folded, floor):  # fmt: skip
    """(best paths, first stuck sequence or -1, each step's probability of its label):
    crf.crf_decode_folded in one compiled call."""
    args = (emissions, np.asarray(lengths, np.intp), A, start, end, allowed, allowed_start)
    return _call("crf_decode_folded", (*args, allowed_end, folded, floor))


def _call(name, args):
    """numba_loop.<name>(*args); a failure switches the kernel off for the process."""
    global available
    compiled = _loop()
    try:
        return getattr(compiled, name)(*args)
    except Exception as e:  # compiling for new argument types happens here, at the call
        available = False
        warnings.warn(
            f"rnnkit: the compiled kernel failed ({type(e).__name__}: {e}); using NumPy",
            stacklevel=3,
        )
        raise KernelFailed from e
