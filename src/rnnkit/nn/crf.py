"""A linear-chain CRF output layer: tag transitions learned with the RNN, decoded by Viterbi.

Shapes: m sequences of T steps, n_y tags; sequences are right-padded and `mask` (m, T) marks
their real steps, T_i of them in sequence i. The RNN's logits z<t> = W_ya a<t> + b_y (m, T, n_y)
are the emission scores; the layer's parameters are the transition scores A (n_y, n_y)
(A[i, j]: from tag i to tag j) and the scores of the first and last tag, start and end (n_y,).
A tag path y<1..T_i> scores

    s(y) = start[y<1>] + Σ_t z<t>[y<t>] + Σ_{t≥2} A[y<t-1>, y<t>] + end[y<T_i>]
    p(y | x) = exp(s(y)) / Z,   Z = Σ_y' exp(s(y'))   (over all n_y^T_i paths)

The forward algorithm gives log Z, the backward algorithm the rest of each path, in log space:

    α<1> = start + z<1>,   α<t>[j] = logsumexp_i (α<t-1>[i] + A[i, j]) + z<t>[j]
    β<T_i> = end,          β<t>[i] = logsumexp_j (A[i, j] + z<t+1>[j] + β<t+1>[j])
    log Z = logsumexp_j (α<T_i>[j] + end[j])

and the derivatives of log Z are the marginals of p(y | x):

    d log Z / d z<t>[j] = p(y<t> = j) = exp(α<t>[j] + β<t>[j] - log Z)
    d log Z / d A[i, j] = Σ_{t≥2} p(y<t-1> = i, y<t> = j)
                        = Σ_{t≥2} exp(α<t-1>[i] + A[i, j] + z<t>[j] + β<t>[j] - log Z)
    d log Z / d start = p(y<1> = ·),   d log Z / d end = p(y<T_i> = ·)

while the derivatives of s(y) count the uses of each score by the gold path y.

The loss is -log p(y | x) summed over the sequences and divided by N, the number of real steps:
the mean per step (token), as for the softmax output (losses.loss_and_dlogits). So a learning
rate tuned for a softmax tagger carries over, a long sentence weighs as much as its tokens, and
with A = start = end = 0 the CRF's loss and gradient are the softmax cross-entropy's exactly.
(The mean per sequence is this loss times N / m.)

Reference, log Z of one sequence z (T_i, n_y)::

    alpha = start + z[0]
    for t in range(1, T_i):
        alpha = logsumexp(alpha[:, None] + A, axis=0) + z[t]
    log_Z = logsumexp(alpha + end)

Scores of -inf are allowed in A, start and end (a constrained CRF: such paths have probability 0
and their entries get gradient 0); emissions must be finite.
"""

import numpy as np

from rnnkit.nn import kernels
from rnnkit.nn.viterbi import lengths_of, path_score, viterbi


class CRF:
    """The CRF output layer's parameters and its three operations.

    params: dict of the live arrays A (n_y, n_y), start (n_y,), end (n_y,), zeros at first, so
    that an untrained CRF is the softmax output.
    """

    def __init__(self, n_y, dtype=np.float32):
        if int(n_y) != n_y or n_y < 1:
            raise ValueError(f"n_y must be a positive integer, not {n_y!r}")
        self.n_y, self.dtype = int(n_y), np.dtype(dtype)
        self.params = {
            "A": np.zeros((self.n_y, self.n_y), self.dtype),
            "start": np.zeros(self.n_y, self.dtype),
            "end": np.zeros(self.n_y, self.dtype),
        }

    def loss_and_grads(self, emissions, y, mask=None):
        """crf_nll with this layer's parameters: (loss, d_emissions (m, T, n_y), grads)."""
        return crf_nll(emissions, y, mask, **self.params)

    def marginals(self, emissions, mask=None):
        """p(y<t> = j | x) (m, T, n_y); 0 at padded steps."""
        return crf_marginals(emissions, mask, **self.params)

    def decode(self, emissions, mask=None, allowed=None, allowed_start=None, allowed_end=None):
        """The most probable allowed tag path (m, T) intp; 0 at padded steps (see crf_decode)."""
        p = self.params
        return crf_decode(
            emissions, mask, p["A"], p["start"], p["end"], allowed, allowed_start, allowed_end
        )


def logsumexp(x, axis):
    """log Σ exp(x) along axis, stable for large scores; -inf where every term is -inf."""
    x_max = x.max(axis=axis, keepdims=True)
    x_max = np.where(np.isfinite(x_max), x_max, 0)  # all -inf: the sum is 0 and its log -inf
    with np.errstate(divide="ignore"):
        return np.log(np.exp(x - x_max).sum(axis=axis)) + np.squeeze(x_max, axis=axis)


def crf_log_Z(emissions, mask, A, start, end):
    """log Z (m,) of each sequence by the forward algorithm; 0 for an empty sequence."""
    z, real, A, start, end = _inputs(emissions, mask, A, start, end)
    return _forward(z, real, A, start, end)[1]


def crf_marginals(emissions, mask, A, start, end):
    """p(y<t> = j | x) (m, T, n_y) by the forward-backward algorithm; 0 at padded steps."""
    z, real, A, start, end = _inputs(emissions, mask, A, start, end)
    if kernels.wanted(z.shape[1]):  # loaded by the process: the same sums, compiled
        try:
            return kernels.crf_marginals(z, real.sum(axis=1), A, start, end)
        except kernels.KernelFailed:
            pass  # switched off; NumPy's below
    gamma = _scaled_marginals(z, real, A, start, end)
    if gamma is not None:
        return gamma
    alpha, log_Z = _forward(z, real, A, start, end)
    beta = _backward(z, real, A, end)
    return _node_marginals(alpha, beta, log_Z, real)


def crf_nll(emissions, y, mask, A, start, end):
    """The mean per real step of -log p(y | x), and its gradients.

    emissions (m, T, n_y): the RNN's logits; y (m, T) integer tags (ignored at padded steps);
    mask (m, T) bool or None; A (n_y, n_y), start, end (n_y,).
    Returns (loss, d_emissions (m, T, n_y) in emissions' dtype and 0 at padded steps,
    {"A": dA, "start": d_start, "end": d_end} in the parameters' dtypes).
    Raises ValueError if a gold path scores -inf (a forbidden transition, first or last tag).
    """
    z, real, A64, start64, end64 = _inputs(emissions, mask, A, start, end)
    lengths = real.sum(axis=1)
    gold = path_score(z, y, A64, real, start64, end64)  # also checks y
    bad = np.flatnonzero(gold == -np.inf)
    if bad.size:
        raise ValueError(
            f"the tags of sequence {bad[0]} score -inf: they use a transition, first or last tag "
            "whose score is -inf"
        )
    alpha, log_Z = _forward(z, real, A64, start64, end64)
    beta = _backward(z, real, A64, end64)
    N = max(int(lengths.sum()), 1)
    loss = float((log_Z - gold).sum() / N)

    # d log Z: the marginals; d s(y): the gold path's counts.
    gamma = _node_marginals(alpha, beta, log_Z, real)  # (m, T, n_y)
    yy = np.where(real, np.asarray(y), 0)  # the gold tags, 0 in the padding
    counts = np.zeros_like(gamma)
    np.put_along_axis(counts, yy[..., None], real[..., None].astype(np.float64), axis=-1)
    d_z = (gamma - counts) / N

    dA = _pair_marginals_sum(alpha, beta, z, real, A64, log_Z)
    pairs = real[:, 1:]
    np.add.at(dA, (yy[:, :-1][pairs], yy[:, 1:][pairs]), -1)
    some = np.flatnonzero(lengths > 0)
    d_start = gamma[some, 0].sum(axis=0)
    np.add.at(d_start, yy[some, 0], -1)
    last = lengths[some] - 1
    d_end = gamma[some, last].sum(axis=0)
    np.add.at(d_end, yy[some, last], -1)

    grads = {
        "A": (dA / N).astype(np.asarray(A).dtype, copy=False),
        "start": (d_start / N).astype(np.asarray(start).dtype, copy=False),
        "end": (d_end / N).astype(np.asarray(end).dtype, copy=False),
    }
    return loss, d_z.astype(np.asarray(emissions).dtype, copy=False), grads


def crf_decode(emissions, mask, A, start, end, allowed=None, allowed_start=None, allowed_end=None):
    """The most probable tag path (m, T) intp of each sequence (Viterbi); 0 at padded steps.

    allowed (n_y, n_y), allowed_start, allowed_end (n_y,) bool restrict the paths as in viterbi."""
    return viterbi(emissions, A, mask, start, end, allowed, allowed_start, allowed_end)


def crf_decode_folded(emissions, lengths, A, start, end, allowed, allowed_start, allowed_end,
                      folded):  # fmt: skip
    """What a tagger prints of its emissions, right-padded to lengths (m,): (the best allowed
    paths (m, T) under allowed, allowed_start and allowed_end (as crf_decode takes them; None
    allows all), labels `folded` (n_y,) bool read as label 0; each step's probability of its
    label (m, T), a label 0's being p(0) plus p of every folded label). Label 0 is a tagger's
    O, and the folded labels those of types it does not show (ner.tasks).

    Once the kernels are loaded (nn.kernels) this is one compiled call with none of the checks
    (a model's emissions and parameters are finite): those checks and NumPy's calls would cost
    a short sentence several times the decoding itself. The same paths, and the same
    probabilities to rounding."""
    T = emissions.shape[1]
    lengths = np.asarray(lengths, np.intp)
    tables = (allowed, allowed_start, allowed_end)
    if T and kernels.wanted(T) and all(t is not None for t in tables):
        floor = np.finfo(np.float64).min / (2 * T + 2)  # as viterbi's tables have it
        try:
            best, stuck, probs = kernels.crf_decode_folded(
                emissions, lengths, A, start, end, *tables, folded, floor
            )
            if stuck < 0:  # else NumPy's viterbi below says which sequence, as it raises
                return best, probs
        except kernels.KernelFailed:
            pass  # switched off; NumPy's below
    mask = np.arange(T) < lengths[:, None]
    best = crf_decode(emissions, mask, A, start, end, *tables)
    return fold(best, crf_marginals(emissions, mask, A, start, end), folded)


def fold(best, p, folded):
    """(best (m, T) with the `folded` labels read as label 0, p of each step's label (m, T),
    a label 0's with every folded label's added) from the label probabilities p (m, T, n_y)."""
    m, T, n_y = p.shape
    # p[i, t, best[i, t]], indexed flat: take_along_axis costs a short sentence ~10 µs
    probs = p.reshape(m * T, n_y)[np.arange(m * T), best.ravel()].reshape(m, T)
    if folded.any():
        as_zero = folded | (np.arange(n_y) == 0)
        probs = np.where(as_zero[best], p @ as_zero.astype(p.dtype), probs)
        best = np.where(folded[best], 0, best)
    return best, probs


def _inputs(emissions, mask, A, start, end):
    """float64 emissions (0 at padded steps), the real steps (m, T) bool, and the parameters."""
    z = np.asarray(emissions, dtype=np.float64)
    if z.ndim != 3:
        raise ValueError(f"emissions must have shape (batch, T, n_y), not {z.shape}")
    m, T, n_y = z.shape
    real = np.arange(T) < lengths_of(mask, m, T)[:, None]
    z = np.where(real[..., None], z, 0)  # whatever the padding holds must not matter
    if not np.isfinite(z).all():
        raise ValueError("emissions must be finite at real steps")
    params = []
    for name, value, shape in (
        ("A", A, (n_y, n_y)),
        ("start", start, (n_y,)),
        ("end", end, (n_y,)),
    ):
        value = np.asarray(value, dtype=np.float64)
        if value.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, not {value.shape}")
        if np.isnan(value).any() or np.isposinf(value).any():
            raise ValueError(f"{name} must not hold NaN or +inf")
        params.append(value)
    return z, real, *params


def _forward(z, real, A, start, end):
    """α (m, T, n_y), carried unchanged through the padding, and log Z (m,)."""
    m, T, n_y = z.shape
    alpha = np.empty((m, T, n_y))
    if T == 0:
        return alpha, np.zeros(m)
    A_ji = np.ascontiguousarray(A.T)  # A_ji[j, i] = A[i, j]: the sum over i runs along memory
    alpha[:, 0] = start + z[:, 0]
    for t in range(1, T):
        step = logsumexp(alpha[:, t - 1, None, :] + A_ji, axis=2) + z[:, t]  # (m, n_y)
        alpha[:, t] = np.where(real[:, t, None], step, alpha[:, t - 1])
    log_Z = logsumexp(alpha[:, T - 1] + end, axis=1)  # α<T> = α<T_i>
    return alpha, np.where(real[:, 0], log_Z, 0)  # an empty sequence has the one empty path


def _backward(z, real, A, end):
    """β (m, T, n_y); β<t> = end at the last real step and in the padding."""
    m, T, n_y = z.shape
    beta = np.empty((m, T, n_y))
    if T == 0:
        return beta
    beta[:, T - 1] = end
    for t in range(T - 2, -1, -1):
        step = logsumexp(A + (z[:, t + 1] + beta[:, t + 1])[:, None, :], axis=2)  # (m, n_y)
        beta[:, t] = np.where(real[:, t + 1, None], step, end)
    return beta


SAFE = 200.0  # nats: as nn.numba_loop's crf_marginals, whose loop this is in NumPy's calls


def _scaled_marginals(z, real, A, start, end):
    """The marginals of crf_marginals by forward-backward on exp(scores), each step's α and β
    rescaled to sum 1: p(y<t> = j) ∝ α<t>[j] β<t>[j] whatever the scales, so nothing overflows,
    and a step costs a product with exp(A) where log space costs logsumexp over n_y^2 sums
    (most of a short sentence's decoding without the compiled kernel). None where that is not
    safe: scores of a sequence spread over SAFE nats (a factor that matters could underflow), or
    a step's sum underflowed; log space then does it again."""
    m, T, n_y = z.shape
    if not m * T:
        return np.zeros((m, T, n_y))
    # A constant factor on every transition (or first, or last tag) cancels in p
    expA, e_start, e_end = _exp_shifted(A), _exp_shifted(start), _exp_shifted(end)
    spread = _spread(A) + _spread(start) + _spread(end)
    if spread + (z.max(axis=2) - z.min(axis=2)).max() > SAFE:  # z is 0 in the padding
        return None
    e = np.exp(z - z.max(axis=2, keepdims=True))  # (m, T, n_y), each step's largest 1
    shortest = real.sum(axis=1).min()  # steps before it are real in every row
    alpha, beta = np.empty((m, T, n_y)), np.empty((m, T, n_y))
    with np.errstate(divide="ignore", invalid="ignore"):  # an underflow is caught below
        step = e_start * e[:, 0]
        alpha[:, 0] = step / step.sum(axis=1, keepdims=True)
        for t in range(1, T):
            step = (alpha[:, t - 1] @ expA) * e[:, t]
            step /= step.sum(axis=1, keepdims=True)
            alpha[:, t] = step  # in the padding too: what it holds there is never used
        beta[:, T - 1] = e_end
        for t in range(T - 2, -1, -1):
            step = (e[:, t + 1] * beta[:, t + 1]) @ expA.T
            step /= step.sum(axis=1, keepdims=True)
            # β<t> = end at the last real step and in the padding, as _backward has it
            beta[:, t] = step if t + 1 < shortest else np.where(real[:, t + 1, None], step, e_end)
        gamma = alpha * beta
        gamma /= gamma.sum(axis=2, keepdims=True)
    gamma[~real] = 0
    if not np.isfinite(gamma).all():  # a sum of 0: 0/0 somewhere
        return None
    return gamma


def _exp_shifted(v):
    """exp(v - max v): at most 1, 0 where v is -inf (every entry, if all are)."""
    top = v.max()
    return np.exp(v - top) if np.isfinite(top) else np.zeros_like(v)


def _spread(v):
    """max - min of v's finite entries (0 if none)."""
    finite = v[np.isfinite(v)]
    return float(finite.max() - finite.min()) if finite.size else 0.0


def _node_marginals(alpha, beta, log_Z, real):
    """p(y<t> = j) (m, T, n_y); 0 at padded steps."""
    log_p = np.where(real[..., None], alpha + beta - log_Z[:, None, None], -np.inf)
    return np.exp(log_p)


def _pair_marginals_sum(alpha, beta, z, real, A, log_Z):
    """Σ over real steps t ≥ 2 of p(y<t-1> = i, y<t> = j): (n_y, n_y)."""
    n_y = z.shape[-1]
    total = np.zeros((n_y, n_y))
    for t in range(1, z.shape[1]):
        rows = real[:, t]
        if not rows.any():
            break  # right-padded: no sequence goes on
        log_p = (
            alpha[rows, t - 1, :, None]
            + A
            + (z[rows, t] + beta[rows, t])[:, None, :]
            - log_Z[rows, None, None]
        )  # (rows, n_y, n_y)
        total += np.exp(log_p).sum(axis=0)
    return total
