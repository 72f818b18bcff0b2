"""Properties over random shapes, lengths and masks (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit


@st.composite
def batches(draw):
    m = draw(st.integers(1, 4))
    T = draw(st.integers(1, 6))
    lengths = draw(st.lists(st.integers(1, T), min_size=m, max_size=m))
    lengths[draw(st.integers(0, m - 1))] = T
    n_x, n_a = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    layers, bidirectional = draw(st.integers(1, 2)), draw(st.booleans())
    activation = draw(st.sampled_from(["tanh", "relu"]))
    seed = draw(st.integers(0, 2**16))
    return m, T, np.array(lengths), n_x, n_a, layers, bidirectional, activation, seed


@settings(max_examples=60, deadline=None)
@given(batches())
def test_batched_equals_one_by_one(case):
    m, T, lengths, n_x, n_a, layers, bidirectional, activation, seed = case
    rng = np.random.default_rng(seed)
    model = rnnkit.RNN(
        n_x,
        n_a,
        2,
        activation,
        "softmax",
        layers=layers,
        bidirectional=bidirectional,
        dtype=np.float64,
        seed=seed,
    )
    x = rng.integers(0, n_x, (m, T))
    y = rng.integers(0, 2, (m, T))
    mask = np.arange(T)[None, :] < lengths[:, None]
    x[~mask] = rng.integers(0, n_x, (~mask).sum())  # whatever sits in the padding must not matter
    y_hat, a = model.forward(x, mask)
    _, grads = model.loss_and_grads(x, y, mask, sparse=False)
    N = lengths.sum()
    total = {k: np.zeros_like(g) for k, g in grads.items()}
    for i, T_i in enumerate(lengths):
        y_i, a_i = model.forward(x[i : i + 1, :T_i])
        np.testing.assert_allclose(y_hat[i, :T_i], y_i[0], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(a[i, :T_i], a_i[0], rtol=1e-10, atol=1e-13)
        assert (y_hat[i, T_i:] == 0).all() and (a[i, T_i:] == 0).all()
        _, g_i = model.loss_and_grads(x[i : i + 1, :T_i], y[i : i + 1, :T_i])
        for k in total:
            total[k] += g_i[k] * T_i  # each sequence's share of the mean over N steps
    for k in grads:
        np.testing.assert_allclose(grads[k] * N, total[k], rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(batches(), st.floats(-1e3, 1e3))
def test_finite_inputs_give_finite_outputs(case, scale):
    m, T, lengths, n_x, n_a, layers, bidirectional, activation, seed = case
    model = rnnkit.RNN(
        n_x, n_a, 1, activation, "sigmoid", layers=layers, bidirectional=bidirectional, seed=seed
    )
    x = np.random.default_rng(seed).normal(size=(m, T, n_x)).astype(np.float32) * np.float32(scale)
    mask = np.arange(T)[None, :] < lengths[:, None]
    y_hat, a = model.forward(x, mask)
    loss, grads = model.loss_and_grads(x, np.ones((m, T)), mask)
    assert np.isfinite(y_hat).all() and np.isfinite(a).all() and np.isfinite(loss)
    assert all(np.isfinite(g).all() for g in grads.values())
