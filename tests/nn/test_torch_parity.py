"""Parity with PyTorch's nn.RNN + nn.Linear and its autograd, in float64."""

import numpy as np
import pytest

import rnnkit
from support import assert_equal_to_torch, assert_round_trip, random_targets

torch = pytest.importorskip("torch")

CONFIGS = [(1, False), (1, True), (2, False), (2, True)]


@pytest.mark.parametrize("layers,bidirectional", CONFIGS)
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_outputs_and_gradients_equal_pytorch(layers, bidirectional, activation, output):
    rng = np.random.default_rng(0)
    n_x, n_a, n_y, m, T = 6, 5, (3 if output == "softmax" else 1), 4, 7
    model = rnnkit.RNN(
        n_x,
        n_a,
        n_y,
        activation,
        output,
        layers=layers,
        bidirectional=bidirectional,
        dtype=np.float64,
        seed=1,
    )
    rnn, linear = rnnkit.to_torch(model)
    mask = np.arange(T)[None, :] < np.array([7, 3, 5, 1])[:, None]
    x = rng.normal(size=(m, T, n_x)) * mask[..., None]
    y = random_targets(rng, output, n_y, (m, T))
    grads = assert_equal_to_torch(model, x, y, mask, rnn, linear)
    tp = dict(rnn.named_parameters())
    for chain in model.chains:
        W_aa, W_ax, b_a = chain.W_aa, chain.W_ax, chain.b_a
        sfx = f"_l{chain.layer - 1}" + ("_reverse" if chain.direction == "bwd" else "")
        np.testing.assert_allclose(
            grads[W_ax], tp["weight_ih" + sfx].grad.numpy(), rtol=1e-6, atol=1e-12
        )
        np.testing.assert_allclose(
            grads[W_aa], tp["weight_hh" + sfx].grad.numpy(), rtol=1e-6, atol=1e-12
        )
        # both of PyTorch's biases receive dL/db_a
        np.testing.assert_allclose(
            grads[b_a], tp["bias_ih" + sfx].grad.numpy(), rtol=1e-6, atol=1e-12
        )
        np.testing.assert_allclose(
            grads[b_a], tp["bias_hh" + sfx].grad.numpy(), rtol=1e-6, atol=1e-12
        )
    np.testing.assert_allclose(grads["W_ya"], linear.weight.grad.numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(grads["b_y"], linear.bias.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_one_hot_ids_equal_pytorch_embedding_free_rnn():
    """Word ids in rnnkit == their dense one-hot vectors in PyTorch."""
    model = rnnkit.RNN(8, 4, 1, dtype=np.float64, seed=2)
    rnn, linear = rnnkit.to_torch(model)
    ids = np.array([[3, 1, 7, 0], [2, 2, 5, 6]])
    one_hot = np.eye(8)[ids]
    y_hat, a = model.forward(ids)
    t_a, _ = rnn(torch.tensor(one_hot))
    np.testing.assert_allclose(a, t_a.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(y_hat, torch.sigmoid(linear(t_a)).detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("layers,bidirectional", CONFIGS)
def test_weights_move_both_ways(layers, bidirectional):
    rnn = torch.nn.RNN(
        5, 3, num_layers=layers, bidirectional=bidirectional, batch_first=True, dtype=torch.float64
    )
    linear = torch.nn.Linear(3 * (2 if bidirectional else 1), 2, dtype=torch.float64)
    _, linear2 = assert_round_trip(rnn, linear)
    np.testing.assert_allclose(linear2.weight.detach().numpy(), linear.weight.detach().numpy())


def test_a_crf_s_transitions_are_named_not_silently_dropped():
    """A tagger with a CRF output keeps its transition scores in model.params beside the RNN's;
    nn.RNN + nn.Linear have no place for them, so to_torch says which it leaves out."""
    model = rnnkit.RNN(5, 3, 4, output="linear", bidirectional=True)
    model.params["crf.A"] = np.zeros((4, 4))
    with pytest.warns(UserWarning, match=r"not crf\.A \(a task's own parameters"):
        _, linear = rnnkit.to_torch(model)
    np.testing.assert_array_equal(linear.weight.detach().numpy(), model.params["W_ya"])
