"""The CRF output layer and Viterbi against independent truth: every tag path enumerated on tiny
cases, central differences, PyTorch's autograd, and the softmax cross-entropy they generalise."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit import gradcheck
from rnnkit.nn import crf, kernels
from rnnkit.nn.crf import CRF, crf_decode, crf_log_Z, crf_marginals, crf_nll
from rnnkit.nn.losses import loss_and_dlogits
from rnnkit.nn.viterbi import viterbi


def score(z, path, A, start, end):
    """s(y) of one path, term by term."""
    s = start[path[0]] + end[path[-1]]
    for t, j in enumerate(path):
        s += z[t, j]
        if t > 0:
            s += A[path[t - 1], j]
    return s


def brute_force(z, A, start, end):
    """log Z, node marginals (T, n_y) and the best path of one sequence z (T, n_y), by enumerating
    all n_y^T paths."""
    T, n_y = z.shape
    paths = list(itertools.product(range(n_y), repeat=T))
    s = np.array([score(z, p, A, start, end) for p in paths])
    log_Z = np.logaddexp.reduce(s)
    marginals = np.zeros((T, n_y))
    for p, s_p in zip(paths, s):
        marginals[np.arange(T), p] += np.exp(s_p - log_Z)
    return log_Z, marginals, paths[int(np.argmax(s))]


def random_case(rng, m, T, n_y, scale=1.0):
    """Emissions, tags, a right-padded mask (a full row included) and garbage in the padding."""
    lengths = rng.integers(1, T + 1, m)
    lengths[0] = T
    mask = np.arange(T) < lengths[:, None]
    z = scale * rng.normal(size=(m, T, n_y))
    z[~mask] = 1e6  # whatever the padding holds must not matter
    y = rng.integers(0, n_y, (m, T))
    y[~mask] = -1
    A, start, end = (scale * rng.normal(size=s) for s in ((n_y, n_y), n_y, n_y))
    return z, y, mask, lengths, A, start, end


@pytest.mark.parametrize("n_y", [3, 4, 5])
@pytest.mark.parametrize("T", [1, 2, 4])
@pytest.mark.parametrize("scale", [1.0, 300.0])  # large scores: the log space must hold
def test_log_Z_nll_marginals_and_best_path_equal_brute_force(n_y, T, scale, monkeypatch):
    monkeypatch.setattr(kernels, "available", False)  # NumPy's; test_kernels holds the kernel to it
    rng = np.random.default_rng(n_y * 10 + T)
    z, y, mask, lengths, A, start, end = random_case(rng, 4, T, n_y, scale)
    log_Z = crf_log_Z(z, mask, A, start, end)
    marginals = crf_marginals(z, mask, A, start, end)
    paths = crf_decode(z, mask, A, start, end)
    loss, _, _ = crf_nll(z, y, mask, A, start, end)
    nll = 0.0
    for i, T_i in enumerate(lengths):
        log_Z_i, marginals_i, best_i = brute_force(z[i, :T_i], A, start, end)
        np.testing.assert_allclose(log_Z[i], log_Z_i, rtol=1e-12)
        np.testing.assert_allclose(marginals[i, :T_i], marginals_i, atol=1e-12)
        assert (marginals[i, T_i:] == 0).all()
        assert tuple(paths[i, :T_i]) == best_i and (paths[i, T_i:] == 0).all()
        nll += log_Z_i - score(z[i], y[i, :T_i], A, start, end)
    np.testing.assert_allclose(loss, nll / lengths.sum(), rtol=1e-10)


@pytest.mark.parametrize("scale", [0.01, 1.0, 10.0, 30.0])
@pytest.mark.parametrize("forbid", [False, True])
def test_marginals_in_exp_space_equal_log_space_and_give_way_where_unsafe(scale, forbid):
    """crf_marginals works in exp space, rescaled each step, where the scores are close enough
    that nothing underflows; it must give log space's marginals there, padding and forbidden
    (-inf) transitions included, and hand back (None) where the scores spread too far."""
    rng = np.random.default_rng([int(scale * 100), forbid])
    for _ in range(20):
        m, T, n_y = rng.integers(1, 5), rng.integers(1, 12), rng.integers(1, 6)
        z, _, mask, _, A, start, end = random_case(rng, m, T, n_y, scale)
        if forbid:
            A[rng.random((n_y, n_y)) < 0.3] = -np.inf
            A[0, 0] = 0  # one tag that may follow itself: a path always exists
            start[rng.random(n_y) < 0.3] = -np.inf
            start[0] = end[0] = 0
        z, real, A, start, end = crf._inputs(z, mask, A, start, end)
        alpha, log_Z = crf._forward(z, real, A, start, end)
        logged = crf._node_marginals(alpha, crf._backward(z, real, A, end), log_Z, real)
        scaled = crf._scaled_marginals(z, real, A, start, end)
        width = sum(crf._spread(v) for v in (A, start, end)) + (z.max(2) - z.min(2)).max()
        if width > crf.SAFE:
            assert scaled is None
        else:
            np.testing.assert_allclose(scaled, logged, rtol=0, atol=1e-12)
    z, real = np.zeros((1, 2, 3)), np.ones((1, 2), bool)
    z[0, 0, 1] = crf.SAFE + 1  # scores some 200 nats apart: exp space is not safe
    assert crf._scaled_marginals(z, real, np.zeros((3, 3)), np.zeros(3), np.zeros(3)) is None


def test_an_empty_sequence_contributes_nothing():
    rng = np.random.default_rng(1)
    z, y, mask, _, A, start, end = random_case(rng, 3, 4, 3)
    mask[2] = False
    loss, d_z, grads = crf_nll(z, y, mask, A, start, end)
    loss_2, d_z_2, grads_2 = crf_nll(z[:2], y[:2], mask[:2], A, start, end)
    assert loss == pytest.approx(loss_2, rel=1e-14) and (d_z[2] == 0).all()
    np.testing.assert_allclose(d_z[:2], d_z_2, rtol=1e-14)
    for k in grads:
        np.testing.assert_allclose(grads[k], grads_2[k], rtol=1e-14)
    assert crf_log_Z(z, mask, A, start, end)[2] == 0
    assert (crf_decode(z, mask, A, start, end)[2] == 0).all()


@st.composite
def batches(draw):
    m, T, n_y = draw(st.integers(1, 5)), draw(st.integers(1, 8)), draw(st.integers(1, 6))
    return m, T, n_y, draw(st.integers(0, 2**16))


@settings(max_examples=60, deadline=None)
@given(batches())
def test_batched_equals_alone(case):
    m, T, n_y, seed = case
    z, y, mask, lengths, A, start, end = random_case(np.random.default_rng(seed), m, T, n_y)
    loss, d_z, grads = crf_nll(z, y, mask, A, start, end)
    paths = crf_decode(z, mask, A, start, end)
    N = lengths.sum()
    total = {k: np.zeros_like(g) for k, g in grads.items()}
    loss_sum = 0.0
    for i, T_i in enumerate(lengths):
        loss_i, d_z_i, g_i = crf_nll(z[i : i + 1, :T_i], y[i : i + 1, :T_i], None, A, start, end)
        loss_sum += loss_i * T_i  # each sequence's share of the mean over N steps
        np.testing.assert_allclose(d_z[i, :T_i] * N, d_z_i[0] * T_i, rtol=1e-9, atol=1e-12)
        assert (d_z[i, T_i:] == 0).all()
        for k in total:
            total[k] += g_i[k] * T_i
        assert (paths[i, :T_i] == crf_decode(z[i : i + 1, :T_i], None, A, start, end)[0]).all()
    np.testing.assert_allclose(loss * N, loss_sum, rtol=1e-10, atol=1e-12)
    for k in grads:
        np.testing.assert_allclose(grads[k] * N, total[k], rtol=1e-9, atol=1e-12)


class _AsModel:
    """crf_nll seen as a model whose parameters are the emissions, A, start and end, so that
    rnnkit.gradcheck perturbs each of them."""

    def __init__(self, z, A, start, end):
        self.params = {"emissions": z, "A": A, "start": start, "end": end}

    def loss_and_grads(self, x, y, mask):
        p = self.params
        loss, d_z, grads = crf_nll(p["emissions"], y, mask, p["A"], p["start"], p["end"])
        return loss, {"emissions": d_z, **grads}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_equal_central_differences(seed):
    rng = np.random.default_rng(seed)
    z, y, mask, _, A, start, end = random_case(rng, 4, 5, 4, scale=2.0)
    z[~mask] = 0  # the numeric derivative there is 0 as well; keep the step finite
    errors = gradcheck(_AsModel(z, A, start, end), None, y, mask)
    assert max(errors.values()) < 1e-7, errors


def test_forbidden_scores_of_minus_inf_are_probability_zero():
    """A constrained CRF: -inf entries drop their paths from Z, and get gradient 0."""
    rng = np.random.default_rng(3)
    n_y, T = 3, 4
    z, _, _, _, A, start, end = random_case(rng, 1, T, n_y)
    A[0, 2] = A[1, 1] = start[2] = end[0] = -np.inf
    log_Z, marginals, best = brute_force(z[0], A, start, end)
    assert crf_log_Z(z, None, A, start, end)[0] == pytest.approx(log_Z, rel=1e-12)
    np.testing.assert_allclose(crf_marginals(z, None, A, start, end)[0], marginals, atol=1e-12)
    assert tuple(crf_decode(z, None, A, start, end)[0]) == best
    _, _, grads = crf_nll(z, np.array([best]), None, A, start, end)
    assert grads["A"][0, 2] == grads["A"][1, 1] == grads["start"][2] == grads["end"][0] == 0
    assert np.isfinite(grads["A"]).all()
    with pytest.raises(ValueError, match="sequence 0"):
        crf_nll(z, np.array([[1, 1, 0, 1]]), None, A, start, end)


def test_untrained_crf_is_the_softmax_cross_entropy():
    """With A = start = end = 0 the tags are independent given x: the CRF's loss and gradient
    are losses.loss_and_dlogits's for the softmax output."""
    rng = np.random.default_rng(4)
    z, y, mask, _, _, _, _ = random_case(rng, 5, 6, 4)
    z[~mask] = 0
    y[~mask] = 0
    crf = CRF(4, dtype=np.float64)
    loss, d_z, grads = crf.loss_and_grads(z, y, mask)
    loss_softmax, dlogits = loss_and_dlogits(z, y, mask.astype(np.float64), "softmax")
    assert loss == pytest.approx(loss_softmax, rel=1e-12)
    np.testing.assert_allclose(d_z, dlogits, atol=1e-14)
    y_hat = np.exp(z[mask]) / np.exp(z[mask]).sum(-1, keepdims=True)
    np.testing.assert_allclose(crf.marginals(z, mask)[mask], y_hat, rtol=1e-12)
    assert (crf.decode(z, mask)[mask] == z.argmax(-1)[mask]).all()
    assert set(grads) == set(crf.params)


def test_float32_in_float32_out():
    rng = np.random.default_rng(5)
    z, y, mask, _, A, start, end = random_case(rng, 3, 4, 3)
    loss, d_z, grads = crf_nll(
        z.astype(np.float32), y, mask, *(p.astype(np.float32) for p in (A, start, end))
    )
    assert d_z.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    assert np.isfinite(loss)


def test_equals_pytorch_autograd():
    """A second computation: the forward algorithm with torch.logsumexp, differentiated by
    autograd, at sizes beyond brute force."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    m, T, n_y = 6, 12, 7
    z, y, mask, lengths, A, start, end = random_case(rng, m, T, n_y, scale=3.0)
    loss, d_z, grads = crf_nll(z, y, mask, A, start, end)
    zt, At, st_, et = (torch.tensor(v, requires_grad=True) for v in (z, A, start, end))
    nll = torch.zeros((), dtype=torch.float64)
    for i, T_i in enumerate(lengths):
        alpha = st_ + zt[i, 0]
        gold = st_[y[i, 0]] + zt[i, 0, y[i, 0]]
        for t in range(1, T_i):
            alpha = torch.logsumexp(alpha[:, None] + At, dim=0) + zt[i, t]
            gold = gold + At[y[i, t - 1], y[i, t]] + zt[i, t, y[i, t]]
        nll = nll + torch.logsumexp(alpha + et, dim=0) - (gold + et[y[i, T_i - 1]])
    nll = nll / lengths.sum()
    nll.backward()
    assert loss == pytest.approx(nll.item(), rel=1e-12)
    for ours, theirs in zip((d_z, grads["A"], grads["start"], grads["end"]), (zt, At, st_, et)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-9, atol=1e-13)


# -- Viterbi under constraints ---------------------------------------------------------------


@st.composite
def constrained(draw):
    """Random scores (some -inf, as log ŷ is where ŷ underflowed), random allowed transitions,
    first and last tags, made to admit at least one path per sequence."""
    m, T, n_y = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(2, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    density = draw(st.floats(0.1, 0.9))
    allowed = rng.random((n_y, n_y)) < density
    allowed_start, allowed_end = rng.random(n_y) < density, rng.random(n_y) < density
    lengths = rng.integers(1, T + 1, m)
    for T_i in lengths:  # one path per sequence made allowed
        p = rng.integers(0, n_y, T_i)
        allowed[p[:-1], p[1:]] = True
        allowed_start[p[0]] = allowed_end[p[-1]] = True
    scores = rng.normal(size=(m, T, n_y)) * draw(st.sampled_from([1.0, 100.0]))
    scores[rng.random(scores.shape) < draw(st.floats(0, 0.5))] = -np.inf
    transitions = rng.normal(size=(n_y, n_y)) if draw(st.booleans()) else None
    return scores, lengths, transitions, allowed, allowed_start, allowed_end


@settings(max_examples=200, deadline=None)
@given(constrained())
def test_viterbi_never_emits_a_forbidden_transition(case):
    scores, lengths, transitions, allowed, allowed_start, allowed_end = case
    _, T, n_y = scores.shape
    mask = np.arange(T) < lengths[:, None]
    paths = viterbi(
        scores,
        transitions,
        mask,
        allowed=allowed,
        allowed_start=allowed_start,
        allowed_end=allowed_end,
    )
    A = np.zeros((n_y, n_y)) if transitions is None else transitions
    zeros = np.zeros(n_y)
    for i, T_i in enumerate(lengths):
        p = paths[i, :T_i]
        assert allowed_start[p[0]] and allowed_end[p[-1]]
        assert allowed[p[:-1], p[1:]].all()
        assert (paths[i, T_i:] == 0).all()
        legal = [
            q
            for q in itertools.product(range(n_y), repeat=T_i)
            if allowed_start[q[0]] and allowed_end[q[-1]] and allowed[q[:-1], q[1:]].all()
        ]
        best = max(score(scores[i], q, A, zeros, zeros) for q in legal)
        if best > -np.inf:  # else every legal path ties at -inf: any legal one will do
            assert score(scores[i], p, A, zeros, zeros) == pytest.approx(best, rel=1e-12)


def test_viterbi_for_a_softmax_tagger_in_iob2():
    """log ŷ decoded with the transitions IOB2 allows: no I-X after O or after another type."""
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    allowed = np.array([[not (b.startswith("I-") and a[2:] != b[2:]) for b in tags] for a in tags])
    allowed_start = np.array([not t.startswith("I-") for t in tags])
    y_hat = np.array([[[0.1, 0.1, 0.6, 0.1, 0.1], [0.1, 0.1, 0.2, 0.1, 0.5]]])  # I-PER, I-LOC
    assert [tags[j] for j in y_hat.argmax(-1)[0]] == ["I-PER", "I-LOC"]
    paths = viterbi(np.log(y_hat), allowed=allowed, allowed_start=allowed_start)
    # B-PER I-LOC is forbidden; of the legal pairs B-LOC I-LOC (.1 * .5) beats B-PER I-PER (.1 * .2)
    assert [tags[j] for j in paths[0]] == ["B-LOC", "I-LOC"]


def test_viterbi_refuses_what_it_cannot_do():
    scores = np.zeros((2, 2, 2))
    with pytest.raises(ValueError, match="sequence 1"):
        viterbi(
            scores,
            mask=np.array([[True, True], [True, False]]),
            allowed_start=np.array([True, False]),
            allowed_end=np.array([False, True]),
        )
    with pytest.raises(ValueError, match="right-padded"):
        viterbi(scores, mask=np.array([[True, True], [False, True]]))
    with pytest.raises(ValueError, match="NaN"):
        viterbi(np.full((1, 1, 2), np.nan))
    with pytest.raises(ValueError, match="allowed"):
        viterbi(scores, allowed=np.ones((2, 2), int))
