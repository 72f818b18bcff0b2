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
def loop(a, W_aa_T, rows, use_relu, reverse, x, W_ax_T, b_a, S, s_rows, W_ya, logits):
    """a (T, m, n_a) in place, one chain: see kernels.rnn_forward. x None: a holds z<t> on
    entry; else z<t> is gathered from x's ids (and S's rows, if S has any)."""
    if x is None:
        dense_chain(a, rows, reverse, use_relu, W_aa_T)
    else:
        ids_chain(a, x, rows, reverse, use_relu, W_ax_T, b_a, W_aa_T, S, s_rows)
    if W_ya is not None:  # the top layer: this chain's part of W_ya a<t> + b_y
        add_output(logits, a, W_ya, rows)
    return a


@jit
def g(v, use_relu):
    return relu(v) if use_relu else tanh(v)


# From 2 to this many rows the recurrent product is a loop here: SciPy's BLAS (which Numba calls)
# costs more per call than the sums. One row (a sentence) is its matrix-vector product.
FEW_ROWS = 4


@jit
def product(a, W_T, out):
    """out = a W_T (k, n_a): BLAS for a batch or a single row, a vectorised loop for 2 to 4."""
    if len(a) == 1 or len(a) > FEW_ROWS:
        np.dot(a, W_T, out)
        return
    for i in range(len(a)):
        o, row = out[i], a[i]
        o[:] = 0
        for j in range(len(row)):
            v, w = row[j], W_T[j]
            for q in range(len(o)):
                o[q] += v * w[q]


@jit
def recurrent_term(a, rows, step, reverse, W_aa_T, prod):
    """(t, n<t>) of a chain's step-th step, with W_aa a<t-1> of its running rows in prod[:n<t>]
    and a<t> = 0 where padded."""
    T = len(a)
    t = T - 1 - step if reverse else step
    before = t + 1 if reverse else t - 1
    n = rows[t]
    a[t, n:] = 0
    k = min(n, rows[before]) if step else 0  # rows running at both steps; the others
    if k:  # start at a = 0
        product(a[before, :k], W_aa_T, prod[:k])
    prod[k:n] = 0
    return t, n


@jit
def ids_chain(a, ids, rows, reverse, use_relu, W_ax_T, b_a, W_aa_T, S, s_rows):
    """a (T, m, n_a) in place: a chain of layer 1 on word ids (T, m, K), z<t> = the K gathered
    columns of W_ax + b_a (+ S[s_rows[t, i]], its W_as s<t>, if S has rows)."""
    T, m, n_a = a.shape
    prod = np.empty((m, n_a), a.dtype)
    for step in range(T):
        t, n = recurrent_term(a, rows, step, reverse, W_aa_T, prod)
        for i in range(n):
            z, p, w = a[t, i], prod[i], W_ax_T[ids[t, i, 0]]
            for j in range(n_a):
                z[j] = p[j] + w[j] + b_a[j]
            for word in ids[t, i, 1:]:
                w = W_ax_T[word]
                for j in range(n_a):
                    z[j] += w[j]
            if len(S):
                w = S[s_rows[t, i]]
                for j in range(n_a):
                    z[j] += w[j]
            for j in range(n_a):
                z[j] = g(z[j], use_relu)  # a<t> = g(W_aa a<t-1> + z<t>)


@jit
def dense_chain(a, rows, reverse, use_relu, W_aa_T):
    """a (T, m, n_a) in place, holding z<t> on entry: a chain of a layer above the first."""
    T, m, n_a = a.shape
    prod = np.empty((m, n_a), a.dtype)
    for step in range(T):
        t, n = recurrent_term(a, rows, step, reverse, W_aa_T, prod)
        for i in range(n):
            z, p = a[t, i], prod[i]
            for j in range(n_a):
                z[j] = g(p[j] + z[j], use_relu)


@jit
def input_terms(below, W_ax_T, b_a):
    """z<t> = W_ax [a→<t>; a←<t>] + b_a (T, m, n_a) of each chain of a layer above the first, from
    the chains of the layer below (each (T, m, n_a)); W_ax_T: each chain's W_ax^T. One product
    per chain over every step."""
    T, m, n_a = below[0].shape
    dirs, rows = len(below), T * m
    x = below[0].reshape((rows, n_a))
    if dirs > 1:  # [a→<t>; a←<t>] of every step
        x = np.empty((rows, dirs * n_a), b_a[0].dtype)
        for d in range(dirs):
            x[:, d * n_a : (d + 1) * n_a] = below[d].reshape((rows, n_a))
    z = [np.empty((T, m, n_a), b_a[0].dtype) for _ in range(dirs)]
    for c in range(dirs):
        z_c = z[c].reshape((rows, n_a))
        product(x, W_ax_T[c], z_c)
        z_c += b_a[c]
    return z


@jit
def stack(ids, rows, use_relu, W_ax1, b_a1, W_aa1, S, s_rows, W_ax2, b_a2, W_aa2, W_ya, b_y):
    """logits (T, m, n_y) and the top layer's chains (T, m, n_a) of a model of one or two layers:
    see kernels.stack_forward. Each weight is a tuple, one array per direction ("fwd", "bwd");
    b_a2 holds empty arrays for a model of one layer. ok is False, and nothing computed, if an id
    or a spelling row lies outside its matrix (reading it would read memory that is not)."""
    T, m = ids.shape[:2]
    n_a, n_y, dirs = len(b_a1[0]), len(b_y), len(b_a1)
    if not (within(ids, len(W_ax1[0])) and (len(S[0]) == 0 or within(s_rows, len(S[0])))):
        return np.empty((0, m, n_y), b_y.dtype), [np.empty((0, m, n_a), b_y.dtype)], False
    below = [np.empty((T, m, n_a), b_y.dtype) for _ in range(dirs)]
    for c in range(dirs):
        ids_chain(below[c], ids, rows, c == 1, use_relu, W_ax1[c], b_a1[c], W_aa1[c], S[c], s_rows)
    top = below
    if len(b_a2[0]):  # a second layer, on [a→<t>; a←<t>] of the first
        top = input_terms(below, W_ax2, b_a2)
        for c in range(dirs):
            dense_chain(top[c], rows, c == 1, use_relu, W_aa2[c])
    logits = np.empty((T, m, n_y), b_y.dtype)
    for t in range(T):
        for i in range(m):
            logits[t, i] = b_y  # W_ya [a→<t>; a←<t>] + b_y; b_y alone where padded
    for c in range(dirs):
        add_output(logits, top[c], W_ya[:, c * n_a : (c + 1) * n_a], rows)
    return logits, top, True


@jit
def within(ids, n):
    """Whether every one of ids (any shape) lies in [0, n): the check of RNN._check_ranges, in
    the call that reads them, where NumPy's min and max cost microseconds a sentence."""
    for i in ids.flat:  # noqa: SIM110 (a plain loop, for Numba)
        if i < 0 or i >= n:
            return False
    return True


FEW_OUTPUTS = 4  # fewer (a per model's one) are summed a token at a time


@jit
def add_output(logits, a, W_ya, rows):
    """logits<t> += W_ya a<t> (T, m, n_y) at the running rows: one chain's part of the output
    layer, W_ya its columns (n_y, n_a). Several outputs (a CRF's 13 BIOES labels) take one BLAS
    product over every step: as n_y dot products a token, unvectorised across the outputs, they
    cost a quarter of the whole model's time."""
    T, m, n_a = a.shape
    n_y = len(W_ya)
    if n_y >= FEW_OUTPUTS:
        prod = np.empty((T * m, n_y), a.dtype)
        product(np.ascontiguousarray(a).reshape((T * m, n_a)), np.ascontiguousarray(W_ya.T), prod)
        for t in range(T):
            for i in range(rows[t]):
                for o in range(n_y):
                    logits[t, i, o] += prod[t * m + i, o]
        return
    for t in range(T):
        for i in range(rows[t]):
            z = a[t, i]
            for o in range(len(W_ya)):
                y = ZERO
                for j in range(n_a):
                    y += W_ya[o, j] * z[j]
                logits[t, i, o] += y


@jit
def sigmoid(v):
    return np.float32(0.5) + np.float32(0.5) * tanh(np.float32(0.5) * v)


@jit
def gru_chain(z, rows, reverse, W_aa_T, b_aa, W_ya, logits):
    """a (T, m, n_a) of one GRU chain (nn.gru) from z<t> = W_ax x<t> + b_a (T, m, 3 n_a), blocks
    [u; r; c]: see kernels.gru_forward. W_aa_T (n_a, 3 n_a). W_ya, logits: as `loop` takes them."""
    T, m, n3 = z.shape
    n_a = n3 // 3
    a = np.empty((T, m, n_a), z.dtype)
    prod = np.empty((m, n3), z.dtype)
    for step in range(T):
        # W_aa a<t-1> in prod; a<t-1> is 0 where that step was padded (recurrent_term zeroed it)
        t, n = recurrent_term(a, rows, step, reverse, W_aa_T, prod)
        before = t + 1 if reverse else t - 1
        for i in range(n):
            zt, p, out = z[t, i], prod[i], a[t, i]
            for j in range(n_a):
                G_u = sigmoid(zt[j] + p[j])
                G_r = sigmoid(zt[n_a + j] + p[n_a + j])
                c = tanh(zt[2 * n_a + j] + G_r * (p[2 * n_a + j] + b_aa[j]))
                prev = a[before, i, j] if step else ZERO  # a<0> = 0
                out[j] = prev + G_u * (c - prev)  # Γ_u c̃ + (1 - Γ_u) a<t-1>
    if W_ya is not None:  # the top layer: this chain's part of W_ya a<t> + b_y
        add_output(logits, a, W_ya, rows)
    return a


# The CRF's decoding (nn.viterbi, nn.crf) one sequence at a time, where NumPy makes a dozen
# calls a step over the whole batch. Compiled without fastmath: Viterbi's path must be NumPy's
# to the bit, the same sums in the same order and ties to the first tag, as argmax breaks them.
exact = numba.njit(cache=True, nogil=True)


@exact
def viterbi_paths(scores, lengths, A, start, end):
    """(y (m, T) intp, 0 at padded steps; the first sequence with no allowed path, or -1) of
    viterbi.viterbi, its tables made: scores floored, forbidden entries -inf."""
    m, T, n = scores.shape
    y = np.zeros((m, T), np.intp)
    psi = np.empty((T, n), np.intp)
    delta, step = np.empty(n), np.empty(n)
    for s in range(m):
        L = lengths[s]
        if L == 0:
            continue
        for j in range(n):
            delta[j] = start[j] + scores[s, 0, j]
        for t in range(1, L):
            for j in range(n):
                best, best_i = delta[0] + A[0, j], 0
                for i in range(1, n):
                    c = delta[i] + A[i, j]
                    if c > best:
                        best, best_i = c, i
                psi[t, j] = best_i
                step[j] = best + scores[s, t, j]
            delta[:] = step
        best, best_j = delta[0] + end[0], 0
        for j in range(1, n):
            c = delta[j] + end[j]
            if c > best:
                best, best_j = c, j
        if best == -np.inf:
            return y, s
        y[s, L - 1] = best_j
        for t in range(L - 1, 0, -1):
            y[s, t - 1] = psi[t, y[s, t]]
    return y, -1


@exact
def _logsumexp(v):
    top = v.max()
    if top == -np.inf:
        return top
    total = 0.0
    for x in v:
        total += np.exp(x - top)
    return np.log(total) + top


@exact
def crf_marginals(z, lengths, A, start, end):
    """p(y<t> = j | x) (m, T, n_y) of crf.crf_marginals, 0 at padded steps: forward-backward
    one sequence at a time, in exp space where that is safe, else in log space."""
    m, T, n = z.shape
    gamma = np.zeros((m, T, n))
    # A constant factor on every transition (or first, or last tag) cancels in p
    expA, e_start, e_end = _exp_shifted(A), _exp_shifted(start), _exp_shifted(end)
    spread = _spread(A.ravel()) + _spread(start) + _spread(end)
    for s in range(m):
        L = lengths[s]
        if not L:
            continue
        width = spread
        for t in range(L):
            width = max(width, spread + _spread(z[s, t]))
        # Each factor of exp space is at least e^-width of its step's largest: with width
        # under SAFE, no factor that matters underflows
        if width > SAFE or not _scaled_marginals(z[s], L, expA, e_start, e_end, gamma[s]):
            _log_marginals(z[s], L, A, start, end, gamma[s])
    return gamma


SAFE = 200.0  # nats


@exact
def _spread(v):
    """max - min of v's finite entries (0 if none)."""
    low, high = np.inf, -np.inf
    for x in v:
        if np.isfinite(x):
            low, high = min(low, x), max(high, x)
    return high - low if high >= low else 0.0


@exact
def _exp_shifted(v):
    """exp(v - max v): at most 1, 0 where v is -inf (every entry, if all are)."""
    top = v.max()
    return np.exp(v - top) if np.isfinite(top) else np.zeros_like(v)


@exact
def _scaled_marginals(z, L, expA, e_start, e_end, gamma):
    """Forward-backward on exp(scores), each step's α and β rescaled to sum 1, so that nothing
    overflows and each step costs n_y exponentials, not 2 n_y^2: p(y<t> = j) ∝ α<t>[j] β<t>[j]
    whatever the scales. False (gamma left unusable) where a step's sum underflows to 0 (scores
    some 700 apart), for _log_marginals to do again."""
    n = z.shape[1]
    e = np.empty((L, n))
    for t in range(L):
        top = z[t].max()
        for j in range(n):
            e[t, j] = np.exp(z[t, j] - top)
    alpha, beta = np.empty((L, n)), np.empty((L, n))
    for j in range(n):
        alpha[0, j] = e_start[j] * e[0, j]
    for t in range(L):
        if t:
            for j in range(n):
                total = 0.0
                for i in range(n):
                    total += alpha[t - 1, i] * expA[i, j]
                alpha[t, j] = total * e[t, j]
        c = alpha[t].sum()
        if not c > 0 or not np.isfinite(c):
            return False
        alpha[t] /= c
    beta[L - 1] = e_end
    for t in range(L - 2, -1, -1):
        for i in range(n):
            total = 0.0
            for j in range(n):
                total += expA[i, j] * e[t + 1, j] * beta[t + 1, j]
            beta[t, i] = total
        c = beta[t].sum()
        if not c > 0 or not np.isfinite(c):
            return False
        beta[t] /= c
    for t in range(L):
        c = 0.0
        for j in range(n):
            gamma[t, j] = alpha[t, j] * beta[t, j]
            c += gamma[t, j]
        if not c > 0:
            return False
        gamma[t] /= c
    return True


@exact
def _log_marginals(z, L, A, start, end, gamma):
    """The same marginals in log space, as crf.crf_marginals computes them (2 n_y^2
    exponentials a step)."""
    n = z.shape[1]
    alpha, beta, terms = np.empty((L, n)), np.empty((L, n)), np.empty(n)
    for j in range(n):
        alpha[0, j] = start[j] + z[0, j]
    for t in range(1, L):
        for j in range(n):
            for i in range(n):
                terms[i] = alpha[t - 1, i] + A[i, j]
            alpha[t, j] = _logsumexp(terms) + z[t, j]
    for j in range(n):
        terms[j] = alpha[L - 1, j] + end[j]
    log_Z = _logsumexp(terms)
    beta[L - 1] = end
    for t in range(L - 2, -1, -1):
        for i in range(n):
            for j in range(n):
                terms[j] = A[i, j] + z[t + 1, j] + beta[t + 1, j]
            beta[t, i] = _logsumexp(terms)
    for t in range(L):
        for j in range(n):
            gamma[t, j] = np.exp(alpha[t, j] + beta[t, j] - log_Z)


@exact
def crf_decode_folded(
    emissions, lengths, A, start, end, allowed, allowed_start, allowed_end, folded, floor
):
    """(best paths with the `folded` labels read as label 0, the first stuck sequence or -1,
    each real step's probability of its label, a label 0's with the folded labels' added) of
    crf.crf_decode_folded, from the model's arrays as they are, in one call: each call into
    NumPy or Numba costs microseconds, as much as decoding a short sentence."""
    z = emissions.astype(np.float64)
    params = A.astype(np.float64), start.astype(np.float64), end.astype(np.float64)
    tables = (  # as viterbi.viterbi makes them
        np.where(allowed, np.maximum(params[0], floor), -np.inf),
        np.where(allowed_start, np.maximum(params[1], floor), -np.inf),
        np.where(allowed_end, np.maximum(params[2], floor), -np.inf),
    )
    best, stuck = viterbi_paths(np.maximum(z, floor), lengths, *tables)
    gamma = crf_marginals(z, lengths, *params)
    m, T, n = gamma.shape
    probs = np.zeros((m, T))
    for s in range(m):
        for t in range(lengths[s]):
            y = best[s, t]
            if y == 0 or folded[y]:
                total = gamma[s, t, 0]
                for j in range(1, n):
                    if folded[j]:
                        total += gamma[s, t, j]
                probs[s, t], best[s, t] = total, 0
            else:
                probs[s, t] = gamma[s, t, y]
    return best, stuck, probs
