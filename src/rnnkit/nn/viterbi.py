"""The best tag path of each sequence, under scores for each step and for each transition.

Shapes: m sequences of T steps, n_y tags; sequences are right-padded and `mask` (m, T) marks
their real steps, T_i of them in sequence i. A tag path y<1..T_i> scores

    score(y) = start[y<1>] + Σ_t scores<t>[y<t>] + Σ_{t≥2} A[y<t-1>, y<t>] + end[y<T_i>]

where A = transitions (A[i, j]: from tag i to tag j). With scores = log ŷ of a softmax tagger
and A = 0 where the tag scheme allows a transition, -inf where it does not, the best path is the
most probable sequence of tags that the scheme accepts; with a CRF's emissions, transitions, start
and end it is the CRF's most probable path.

Viterbi, δ<t>[j] being the best score of a path that ends in tag j at step t:

    δ<1> = start + scores<1>
    δ<t>[j] = max_i (δ<t-1>[i] + A[i, j]) + scores<t>[j],   ψ<t>[j] = the argmax i
    y<T_i> = argmax_j (δ<T_i>[j] + end[j]),   y<t-1> = ψ<t>[y<t>]

Reference, one sequence of T_i steps::

    delta = start + scores[0]
    for t in range(1, T_i):
        cand = delta[:, None] + A             # (n_y, n_y): from i to j
        psi[t] = cand.argmax(axis=0)
        delta = cand.max(axis=0) + scores[t]
    y[T_i - 1] = argmax(delta + end)
    for t in range(T_i - 1, 0, -1):
        y[t - 1] = psi[t][y[t]]
"""

import numpy as np

from rnnkit.nn import kernels


def lengths_of(mask, m, T):
    """T_i (m,) of right-padded sequences; mask (m, T) bool, or None when every step is real."""
    if mask is None:
        return np.full(m, T, np.intp)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (m, T):
        raise ValueError(f"mask must have shape (batch, T) = {(m, T)}, not {mask.shape}")
    lengths = mask.sum(axis=1)
    if not (mask == (np.arange(T) < lengths[:, None])).all():
        raise ValueError("mask must mark the first steps of each row (right-padded sequences)")
    return lengths


def path_score(scores, y, transitions=None, mask=None, start=None, end=None):
    """score(y) (m,) of the tag paths y (m, T) under scores (m, T, n_y); 0 for an empty sequence.

    Values of y at padded steps are ignored. transitions (n_y, n_y), start and end (n_y,) default
    to 0."""
    scores = np.asarray(scores, dtype=np.float64)
    m, T, n_y = scores.shape
    lengths = lengths_of(mask, m, T)
    real = np.arange(T) < lengths[:, None]  # (m, T)
    y = np.asarray(y)
    if y.shape != (m, T) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"tags must be integers of shape (batch, T) = {(m, T)}")
    y = np.where(real, y, 0)  # padded steps read tag 0 and are then dropped
    if y[real].size and (y[real].min() < 0 or y[real].max() >= n_y):
        raise ValueError(f"tags must lie in [0, n_y = {n_y})")
    A = _table(transitions, (n_y, n_y), "transitions")
    start, end = _table(start, (n_y,), "start"), _table(end, (n_y,), "end")
    emitted = np.take_along_axis(scores, y[..., None], axis=-1)[..., 0]  # (m, T)
    s = np.where(real, emitted, 0).sum(axis=1)
    s += np.where(real[:, 1:], A[y[:, :-1], y[:, 1:]], 0).sum(axis=1)
    some = lengths > 0
    s[some] += start[y[some, 0]] + end[y[some, lengths[some] - 1]]
    return s


def viterbi(
    scores,
    transitions=None,
    mask=None,
    start=None,
    end=None,
    allowed=None,
    allowed_start=None,
    allowed_end=None,
):
    """The best allowed tag path (m, T) intp of each sequence; 0 at padded steps.

    scores (m, T, n_y): log-probabilities or CRF emissions. transitions (n_y, n_y), start and end
    (n_y,): added scores, 0 when None. allowed (n_y, n_y), allowed_start and allowed_end (n_y,)
    bool: which transitions, first tags and last tags a path may use (all when None); a score of
    -inf in transitions, start or end forbids the same way. A forbidden transition is never
    emitted. Raises ValueError if some non-empty sequence has no allowed path.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 3:
        raise ValueError(f"scores must have shape (batch, T, n_y), not {scores.shape}")
    if np.isnan(scores).any() or np.isposinf(scores).any():
        raise ValueError("scores must not hold NaN or +inf")
    m, T, n_y = scores.shape
    lengths = lengths_of(mask, m, T)
    if T == 0:
        return np.zeros((m, 0), np.intp)
    # log ŷ is -inf where ŷ underflowed to 0; an allowed path through such a step must still beat
    # every forbidden one, so such scores become a finite floor, low enough that a sum of 2T + 2
    # of them stays finite. Forbidden entries alone are -inf.
    floor = np.finfo(np.float64).min / (2 * T + 2)
    scores = np.maximum(scores, floor)
    A = _allowed_table(transitions, allowed, (n_y, n_y), floor, "transitions")
    start = _allowed_table(start, allowed_start, (n_y,), floor, "start")
    end = _allowed_table(end, allowed_end, (n_y,), floor, "end")
    if kernels.wanted(T):  # loaded by the process: the same loop, compiled
        try:
            y, stuck = kernels.viterbi_paths(scores, lengths, A, start, end)
        except kernels.KernelFailed:
            pass  # switched off; NumPy's loop below
        else:
            if stuck >= 0:
                raise _no_path(stuck)
            return y
    real = np.arange(T) < lengths[:, None]  # (m, T)
    tags = np.arange(n_y)
    psi = np.empty((T, m, n_y), np.intp)  # ψ<t>[j]: the best tag before tag j at step t
    psi[0] = tags
    delta = start + scores[:, 0]  # (m, n_y)
    shortest = lengths.min() if m else T  # steps before it are real in every row
    rows = np.arange(m)
    for t in range(1, T):
        cand = delta[:, :, None] + A  # (m, n_y, n_y): from i to j
        psi[t] = cand.argmax(axis=1)
        best = cand.max(axis=1) + scores[:, t]  # the value at ψ<t>: max is the argmax's own
        if t < shortest:
            delta = best
        else:
            delta = np.where(real[:, t, None], best, delta)  # δ<T_i> carried through the padding
            psi[t][~real[:, t]] = tags  # and each tag there points back to itself
    final = delta + end  # (m, n_y)
    y = np.empty((m, T), np.intp)
    y[:, T - 1] = final.argmax(axis=1)
    stuck = np.flatnonzero((final[rows, y[:, T - 1]] == -np.inf) & (lengths > 0))
    if stuck.size:
        raise _no_path(stuck[0])
    for t in range(T - 1, 0, -1):
        y[:, t - 1] = psi[t][rows, y[:, t]]
    y[~real] = 0
    return y


def _no_path(sequence):
    return ValueError(
        f"sequence {sequence} has no allowed tag path: check allowed, allowed_start, "
        "allowed_end and the -inf entries of transitions, start and end"
    )


def _table(values, shape, name):
    """transitions, start or end as float64 of the given shape; zeros when None."""
    if values is None:
        return np.zeros(shape)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, not {values.shape}")
    return values


def _allowed_table(values, allowed, shape, floor, name):
    """The table, -inf where forbidden (by `allowed` or by -inf), at least `floor` elsewhere."""
    values = _table(values, shape, name)
    if np.isnan(values).any() or np.isposinf(values).any():
        raise ValueError(f"{name} must not hold NaN or +inf")
    ok = values > -np.inf
    if allowed is not None:
        allowed = np.asarray(allowed)
        if allowed.shape != shape or allowed.dtype != bool:
            flag = "allowed" if name == "transitions" else f"allowed_{name}"
            raise ValueError(f"{flag} must be a bool array of shape {shape}")
        ok &= allowed
    return np.where(ok, np.maximum(values, floor), -np.inf)
