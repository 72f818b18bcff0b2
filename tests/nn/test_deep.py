"""Bidirectional and deep models: gradients, padding, and what the backward chain can see."""

import numpy as np
import pytest

import rnnkit
from rnnkit.nn.model import param_name
from rnnkit.nn.optim import train_step
from support import FixedDropout


@pytest.mark.parametrize("layers,bidirectional", [(1, True), (2, False), (2, True), (3, True)])
@pytest.mark.parametrize("inputs", ["ids", "dense"])
def test_gradients_match_central_differences(layers, bidirectional, inputs):
    rng = np.random.default_rng(0)
    model = rnnkit.RNN(
        5,
        3,
        3,
        "tanh",
        "softmax",
        layers=layers,
        bidirectional=bidirectional,
        dtype=np.float64,
        seed=1,
    )
    x = rng.integers(0, 5, (3, 6)) if inputs == "ids" else rng.normal(size=(3, 6, 5))
    mask = np.arange(6)[None, :] < np.array([6, 2, 4])[:, None]
    errors = rnnkit.gradcheck(model, x, rng.integers(0, 3, (3, 6)), mask)
    assert max(errors.values()) < 1e-6, errors


def test_dropout_gradients_match_central_differences():
    rng = np.random.default_rng(3)
    model = rnnkit.RNN(5, 3, 1, layers=2, bidirectional=True, dropout=0.3, dtype=np.float64, seed=2)
    x, y = rng.integers(0, 5, (2, 5)), rng.integers(0, 2, (2, 5))
    errors = rnnkit.gradcheck(FixedDropout(model, 7), x, y)
    assert max(errors.values()) < 1e-6
    with_drop = model.loss_and_grads(x, y, dropout_rng=np.random.default_rng(7))[0]
    assert with_drop != model.loss_and_grads(x, y)[0]  # dropout is off unless asked for


def test_parameter_names_read_naturally():
    assert param_name("W_aa", 1, "fwd", 1, False) == "W_aa"
    model = rnnkit.RNN(7, 3, 2, layers=2, bidirectional=True)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes["W_ax[1].fwd"] == (3, 7) and shapes["W_ax[1].bwd"] == (3, 7)
    assert shapes["W_ax[2].bwd"] == (3, 6) and shapes["W_aa[2].fwd"] == (3, 3)
    assert shapes["W_ya"] == (2, 6)
    assert np.shares_memory(model.W_a_of(2, "bwd"), model.params["W_aa[2].bwd"])
    with pytest.raises(AttributeError, match="W_a_of"):
        _ = model.W_a


def test_chains_name_their_layer_direction_and_parameters():
    model = rnnkit.RNN(7, 3, 2, layers=2, bidirectional=True)
    assert [(c.layer, c.direction, c.reverse) for c in model.chains] == [
        (1, "fwd", False),
        (1, "bwd", True),
        (2, "fwd", False),
        (2, "bwd", True),
    ]
    names = [(c.W_aa, c.W_ax, c.b_a) for c in model.chains]
    assert names[3] == ("W_aa[2].bwd", "W_ax[2].bwd", "b_a[2].bwd")
    assert sorted(n for triple in names for n in triple) == sorted(
        set(model.params) - {"W_ya", "b_y"}
    )
    for c in model.chains:
        W_a, p = c.W_a, model.params
        assert np.array_equal(W_a, np.hstack([p[c.W_aa], p[c.W_ax]]))
        assert np.shares_memory(W_a, p[c.W_aa]) and np.shares_memory(W_a, p[c.W_ax])
    assert model.chains_of(2) == model.chains[2:]


def test_the_backward_chain_sees_the_future():
    """'Teddy Roosevelt' / 'Teddy bears': same prefix, different continuation."""
    teddy_roosevelt, teddy_bears = np.array([[0, 1, 2, 3]]), np.array([[0, 1, 4, 5]])
    uni = rnnkit.RNN(6, 4, 1, seed=0, dtype=np.float64)
    bi = rnnkit.RNN(6, 4, 1, bidirectional=True, seed=0, dtype=np.float64)
    # at "Teddy" (t = 1) the one-directional model has seen the same words in both sentences
    assert uni.forward(teddy_roosevelt)[0][0, 1] == uni.forward(teddy_bears)[0][0, 1]
    assert bi.forward(teddy_roosevelt)[0][0, 1] != bi.forward(teddy_bears)[0][0, 1]


def synthetic_lookahead(rng, n, T=12, n_x=6, shift=3):
    """Label at step t = whether x<t+shift> is word 0: only a model that reads ahead can know."""
    x = rng.integers(0, n_x, (n, T))
    y = np.zeros((n, T), int)
    y[:, :-shift] = x[:, shift:] == 0
    return x, y


def train(model, x, y, epochs, rng, lr=0.02):
    opt = rnnkit.Adam(model.params, lr=lr)
    for _ in range(epochs):
        for i in rng.permutation(len(x) // 32):
            batch = slice(i * 32, (i + 1) * 32)
            train_step(model, opt, x[batch], y[batch], clip=5.0, sparse=True)
    y_hat, _ = model.forward(x[:256])
    return ((y_hat[..., 0] >= 0.5) == y[:256]).mean()


def test_only_a_bidirectional_model_learns_a_label_that_depends_on_a_later_input():
    rng = np.random.default_rng(0)
    x, y = synthetic_lookahead(rng, 2048)
    x_test, y_test = synthetic_lookahead(np.random.default_rng(1), 256)
    uni = rnnkit.RNN(6, 16, 1, seed=0)
    bi = rnnkit.RNN(6, 16, 1, bidirectional=True, seed=0)
    train(uni, x, y, 15, np.random.default_rng(2))
    train(bi, x, y, 15, np.random.default_rng(2))

    def acc(model):
        return ((model.forward(x_test)[0][..., 0] >= 0.5) == y_test).mean()

    chance = max(y_test.mean(), 1 - y_test.mean())  # always guessing the majority label
    assert acc(bi) >= 0.99
    assert acc(uni) <= chance + 0.02
