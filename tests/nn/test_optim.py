"""Optimisers: dense and sparse paths agree where they should; lazy Adam touches only used
columns."""

import numpy as np
import pytest

import rnnkit
from rnnkit.nn.sparse import ColumnGrad


def batch(rng, n_x=30, m=4, T=5):
    return rng.integers(0, n_x, (m, T)), rng.integers(0, 2, (m, T))


def test_column_grad_equals_dense_gradient():
    rng = np.random.default_rng(0)
    model = rnnkit.RNN(30, 6, 1, dtype=np.float64)
    x, y = batch(rng)
    mask = np.arange(5)[None, :] < np.array([5, 2, 4, 1])[:, None]
    _, dense = model.loss_and_grads(x, y, mask)
    _, sparse = model.loss_and_grads(x, y, mask, sparse=True)
    g = sparse["W_ax"]
    assert isinstance(g, ColumnGrad)
    assert set(g.ids) == set(x[mask])  # only the words of the real steps
    np.testing.assert_allclose(g.to_dense(), dense["W_ax"], rtol=1e-12)
    assert rnnkit.global_norm(sparse) == pytest.approx(rnnkit.global_norm(dense), rel=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sparse_sgd_equals_dense_sgd(momentum):
    rng = np.random.default_rng(1)
    dense_model, sparse_model = (
        rnnkit.RNN(30, 6, 1, dtype=np.float64),
        rnnkit.RNN(30, 6, 1, dtype=np.float64),
    )
    dense_opt = rnnkit.SGD(dense_model.params, lr=0.5, momentum=momentum)
    sparse_opt = rnnkit.SGD(sparse_model.params, lr=0.5, momentum=momentum)
    for _ in range(5):
        x, y = batch(
            rng, m=8
        )  # with momentum the two agree only while every column is used each step
        x[:, 0] = np.arange(8)
        x[:, 1] = np.arange(8, 16)
        x[:, 2] = np.arange(16, 24)
        x[:6, 3] = np.arange(24, 30)
        dense_opt.step(dense_model.loss_and_grads(x, y)[1])
        sparse_opt.step(sparse_model.loss_and_grads(x, y, sparse=True)[1])
    for k in dense_model.params:
        np.testing.assert_allclose(
            sparse_model.params[k], dense_model.params[k], rtol=1e-10, atol=1e-14
        )


def test_adam_matches_its_definition():
    rng = np.random.default_rng(2)
    p = {"w": rng.normal(size=(3, 4))}
    opt = rnnkit.Adam(p, lr=0.01)
    w, m, v = p["w"].copy(), np.zeros((3, 4)), np.zeros((3, 4))
    for t in range(1, 6):
        g = rng.normal(size=(3, 4))
        opt.step({"w": g.copy()})
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        # Kingma and Ba's Algorithm 1 with the bias corrections folded into the step size
        w -= 0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(p["w"], w, rtol=1e-12)


def test_lazy_adam_touches_only_the_columns_used():
    rng = np.random.default_rng(3)
    model = rnnkit.RNN(30, 6, 1, dtype=np.float64)
    opt = rnnkit.Adam(model.params, lr=0.01)
    x, y = batch(rng)
    x = x % 10  # words 10..29 unused
    opt.step(model.loss_and_grads(x, y, sparse=True)[1])
    before = model.params["W_ax"].copy()
    x2 = (x % 5) + 10  # now only words 10..14
    opt.step(model.loss_and_grads(x2, y, sparse=True)[1])
    changed = np.flatnonzero((model.params["W_ax"] != before).any(axis=0))
    assert set(changed) <= set(range(10, 15))
    # the moments of words 0..9 were not decayed by the second step
    assert (opt.m["W_ax"][:, 15:] == 0).all()


def test_lazy_adam_equals_dense_adam_when_every_column_is_used():
    rng = np.random.default_rng(4)
    a, b = rnnkit.RNN(12, 3, 1, dtype=np.float64), rnnkit.RNN(12, 3, 1, dtype=np.float64)
    oa, ob = rnnkit.Adam(a.params, lr=0.01), rnnkit.Adam(b.params, lr=0.01)
    for _ in range(4):
        x = rng.permutation(12).reshape(3, 4)
        y = rng.integers(0, 2, (3, 4))
        oa.step(a.loss_and_grads(x, y)[1])
        ob.step(b.loss_and_grads(x, y, sparse=True)[1])
    for k in a.params:
        np.testing.assert_allclose(b.params[k], a.params[k], rtol=1e-10)


def test_clip_grad_norm_scales_to_the_limit():
    rng = np.random.default_rng(5)
    grads = {
        "a": rng.normal(size=(3, 3)) * 10,
        "b": ColumnGrad(np.array([1, 4]), rng.normal(size=(2, 3)) * 10, (3, 6)),
    }
    norm = rnnkit.clip_grad_norm(grads, 1.0)
    assert norm > 1.0
    assert rnnkit.global_norm(grads) == pytest.approx(1.0, rel=1e-5)
    small = {"a": np.full((2,), 0.1)}
    rnnkit.clip_grad_norm(small, 1.0)
    np.testing.assert_array_equal(small["a"], [0.1, 0.1])


@pytest.mark.parametrize("bad", [-1, -1.0, 0, 0.0, float("nan"), "5", True, [5.0]])
def test_clip_grad_norm_refuses_a_limit_that_is_not_positive(bad):
    """clip_grad_norm(g, -1) once multiplied every gradient by a negative factor."""
    grads = {"a": np.array([3.0, 4.0])}
    with pytest.raises(ValueError, match="max_norm must be a positive number or None"):
        rnnkit.clip_grad_norm(grads, bad)
    np.testing.assert_array_equal(grads["a"], [3.0, 4.0])


def test_clip_grad_norm_with_no_limit_measures_only():
    grads = {"a": np.array([3.0, 4.0])}
    assert rnnkit.clip_grad_norm(grads, None) == 5.0
    assert rnnkit.clip_grad_norm(grads, float("inf")) == 5.0
    np.testing.assert_array_equal(grads["a"], [3.0, 4.0])


def test_training_is_bit_identical_for_the_same_seed():
    def run():
        rng = np.random.default_rng(9)
        model = rnnkit.RNN(30, 6, 1, seed=4, dropout=0.2, layers=2, bidirectional=True)
        opt = rnnkit.Adam(model.params)
        drop = np.random.default_rng(11)
        for _ in range(5):
            x, y = batch(rng)
            grads = model.loss_and_grads(x, y, sparse=True, dropout_rng=drop)[1]
            rnnkit.clip_grad_norm(grads, 1.0)
            opt.step(grads)
        return model.params

    p, q = run(), run()
    assert all(np.array_equal(p[k], q[k]) for k in p)
