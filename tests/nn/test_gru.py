"""The gated recurrent unit (cell "gru"): by hand, against a one-sequence-at-a-time loop of the
GRU lecture's equations, against central differences, and against PyTorch's nn.GRU (outputs,
gradients, weights both ways)."""

import math

import numpy as np
import pytest

import rnnkit
from rnnkit.nn import kernels
from rnnkit.nn.config import RNNConfig
from rnnkit.nn.gradcheck import gradcheck
from rnnkit.nn.gru import gru_backward, gru_forward
from support import (
    FixedDropout,
    OnS,
    assert_equal_to_torch,
    assert_round_trip,
    random_targets,
)

CONFIGS = [(1, False), (1, True), (2, False), (2, True)]


def gru(n_x=6, n_a=4, n_y=3, output="softmax", layers=1, bidirectional=False, **kw):
    kw.setdefault("dtype", np.float64)
    kw.setdefault("cell", "gru")
    return rnnkit.RNN(
        n_x, n_a, n_y, "tanh", output, layers=layers, bidirectional=bidirectional,
        seed=kw.pop("seed", 1), **kw,
    )  # fmt: skip


def test_one_step_by_hand():
    """n_a = n_x = 1, one step from a<0> = 0: Γ_u = σ(b_u), Γ_r = σ(b_r),
    c̃ = tanh(W_cx x + b_c + Γ_r b_aa), a<1> = Γ_u c̃; then a second step with a<1>."""
    model = gru(1, 1, 1, "linear")
    p = model.params
    p["W_ax"][:, 0] = [0.5, -1.0, 2.0]  # W_ux, W_rx, W_cx
    p["W_aa"][:, 0] = [1.5, 0.25, -0.75]  # W_ua, W_ra, W_ca
    p["b_a"][:] = [0.1, 0.2, -0.3]
    p["b_aa"][:] = [0.4]
    p["W_ya"][:] = 1
    p["b_y"][:] = 0

    def sigma(v):
        return 1 / (1 + math.exp(-v))

    x1, x2 = 0.8, -1.2
    u1, r1 = sigma(0.5 * x1 + 0.1), sigma(-1.0 * x1 + 0.2)
    a1 = u1 * math.tanh(2.0 * x1 - 0.3 + r1 * 0.4)
    u2, r2 = sigma(1.5 * a1 + 0.5 * x2 + 0.1), sigma(0.25 * a1 - 1.0 * x2 + 0.2)
    c2 = math.tanh(2.0 * x2 - 0.3 + r2 * (-0.75 * a1 + 0.4))
    a2 = u2 * c2 + (1 - u2) * a1
    y_hat, a = model.forward(np.array([[[x1], [x2]]]))
    np.testing.assert_allclose(a[0, :, 0], [a1, a2], rtol=1e-14)
    np.testing.assert_allclose(y_hat[0, :, 0], [a1, a2], rtol=1e-14)


def textbook(model, x, lengths):
    """The GRU lecture's equations (the RNN lecture's for a chain of the lecture's cell), one
    sequence and one step at a time, each chain from 0; a padded sequence is cut to its length
    first, so nothing of the padding can reach it."""
    p, n_a = model.params, model.n_a

    def sigma(v):
        return 1 / (1 + np.exp(-v))

    tops = []
    for i, T in enumerate(lengths):
        inp = x[i, :T]
        for layer in range(1, model.layers + 1):
            outs = []
            for chain in model.chains_of(layer):
                W_aa, W_ax, b_a = (p[k] for k in (chain.W_aa, chain.W_ax, chain.b_a))
                if chain.b_aa is not None:
                    b_aa = p[chain.b_aa]
                    W_u, W_r, W_c = np.split(W_aa, 3)
                    (X_u, X_r, X_c), (b_u, b_r, b_c) = np.split(W_ax, 3), np.split(b_a, 3)
                a, states = np.zeros(n_a), np.zeros((T, n_a))
                for t in reversed(range(T)) if chain.reverse else range(T):
                    if chain.b_aa is None:  # the lecture's cell
                        a = np.tanh(W_aa @ a + W_ax @ inp[t] + b_a)
                        states[t] = a
                        continue
                    G_u = sigma(W_u @ a + X_u @ inp[t] + b_u)
                    G_r = sigma(W_r @ a + X_r @ inp[t] + b_r)
                    c = np.tanh(X_c @ inp[t] + b_c + G_r * (W_c @ a + b_aa))
                    a = G_u * c + (1 - G_u) * a
                    states[t] = a
                outs.append(states)
            inp = np.concatenate(outs, axis=-1)
        tops.append(inp)
    return tops


@pytest.mark.parametrize(
    "layers,bidirectional,cell",
    [
        *((layers, bi, "gru") for layers, bi in CONFIGS),
        (2, True, "rnn,gru"),
        (3, False, "gru,rnn,gru"),
    ],
)
def test_equals_the_lectures_equations_one_sequence_at_a_time(layers, bidirectional, cell):
    rng = np.random.default_rng(0)
    model = gru(layers=layers, bidirectional=bidirectional, cell=cell)
    lengths = [6, 2, 4, 1]
    mask = np.arange(6)[None, :] < np.array(lengths)[:, None]
    x = rng.normal(size=(4, 6, 6))
    x[~mask] = 99.0  # junk at padded steps must not matter
    _, a = model.forward(x, mask)
    for i, want in enumerate(textbook(model, x, lengths)):
        np.testing.assert_allclose(a[i, : lengths[i]], want, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(a[i, lengths[i] :], 0)  # a<t> = 0 where padded


@pytest.mark.parametrize(
    "layers,bidirectional,cell",
    [*((layers, bi, "gru") for layers, bi in CONFIGS), (2, True, "rnn,gru"), (2, True, "gru,rnn")],
)
@pytest.mark.parametrize("inputs", ["ids", "groups", "dense"])
@pytest.mark.parametrize("masked", [False, True])
def test_gradients_match_central_differences(layers, bidirectional, cell, inputs, masked):
    rng = np.random.default_rng(7)
    dropout = 0.3 if layers > 1 else None
    model = gru(layers=layers, bidirectional=bidirectional, dropout=dropout, cell=cell)
    m, T = 3, 5
    x = {
        "ids": rng.integers(0, 6, (m, T)),
        "groups": rng.integers(0, 6, (m, T, 2)),
        "dense": rng.normal(size=(m, T, 6)),
    }[inputs]
    mask = np.arange(T)[None, :] < np.array([T, 2, 4])[:, None] if masked else None
    checked = FixedDropout(model, 5) if dropout else model  # one dropout draw, frozen
    errors = gradcheck(checked, x, rng.integers(0, 3, (m, T)), mask)
    assert set(errors) == set(model.params) and any(k.startswith("b_aa") for k in errors)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("reverse", [False, True])
def test_the_chain_alone_against_central_differences(reverse):
    """gru_forward and gru_backward on their own, with dL/da arriving at padded steps too (the
    model never sends any there; a padded a<t> is a constant 0, so none may pass)."""
    rng = np.random.default_rng(4)
    T, m, n_a = 5, 3, 2
    z0, W_aa, b_aa = (
        rng.normal(size=(T, m, 3 * n_a)),
        rng.normal(size=(3 * n_a, n_a)),
        rng.normal(size=n_a),
    )
    C = rng.normal(size=(T, m, n_a))  # L = sum(C * a)
    mask = np.arange(T)[:, None] < np.array([5, 2, 4])[None, :]

    def loss(z, W_aa, b_aa):
        return (gru_forward(z.copy(), W_aa, b_aa, mask, reverse)[0] * C).sum()

    a, cache = gru_forward(z0.copy(), W_aa, b_aa, mask, reverse)
    grads = gru_backward(C.copy(), a, cache, W_aa, reverse)
    for i, theta in enumerate((z0, W_aa, b_aa)):
        numeric = np.zeros_like(theta)
        for idx in np.ndindex(theta.shape):
            args = [z0, W_aa, b_aa]
            for sign in (1, -1):
                moved = theta.copy()
                moved[idx] += sign * 1e-6
                args[i] = moved
                numeric[idx] += sign * loss(*args) / 2e-6
        np.testing.assert_allclose(grads[i], numeric, rtol=1e-6, atol=1e-8)


def test_gradients_reach_a_dense_s_through_the_gates():
    """With n_s set, W_as has the three blocks' rows, and its gradient and dL/ds (what trains
    a character RNN below) match central differences too."""
    rng = np.random.default_rng(3)
    model = gru(5, 3, 2, "softmax", bidirectional=True, n_s=4)
    assert model.params["W_as.fwd"].shape == (9, 4)
    x, s = rng.integers(0, 5, (2, 4)), rng.normal(size=(2, 4, 4))
    y, mask = rng.integers(0, 2, (2, 4)), np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)

    on_s = OnS(model, s)
    errors = gradcheck(on_s, x, y, mask)
    assert {"W_as.fwd", "W_as.bwd"} <= set(errors) and max(errors.values()) < 1e-6, errors
    np.testing.assert_allclose(
        on_s.ds(x, y, mask), on_s.numeric_ds(x, y, mask), rtol=1e-6, atol=1e-9
    )


torch = pytest.importorskip("torch")


def torch_grads_as_ours(rnn, chain):
    """nn.GRU's gradients of one chain in our layout: [u; r; c] = [-z; r; n] (interop's
    mapping); b_a gets bias_ih's (bias_hh's r and z blocks receive the same numbers)."""
    sfx = f"_l{chain.layer - 1}" + ("_reverse" if chain.reverse else "")
    g = {k: getattr(rnn, k + sfx).grad.numpy() for k in ("weight_ih", "weight_hh", "bias_ih")}
    g["bias_hh"] = getattr(rnn, "bias_hh" + sfx).grad.numpy()

    def ours(array):
        r, z, n = np.split(array, 3)
        return np.concatenate([-z, r, n])

    return {
        chain.W_ax: ours(g["weight_ih"]),
        chain.W_aa: ours(g["weight_hh"]),
        chain.b_a: ours(g["bias_ih"]),
        chain.b_aa: np.split(g["bias_hh"], 3)[2],
    }


@pytest.mark.parametrize("layers,bidirectional", CONFIGS)
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_outputs_and_gradients_equal_pytorch(layers, bidirectional, output):
    rng = np.random.default_rng(0)
    n_y, m, T = (3 if output == "softmax" else 1), 4, 7
    model = gru(6, 5, n_y, output, layers, bidirectional)
    rnn, linear = rnnkit.to_torch(model)
    assert isinstance(rnn, torch.nn.GRU)
    mask = np.arange(T)[None, :] < np.array([7, 3, 5, 1])[:, None]
    x = rng.normal(size=(m, T, 6)) * mask[..., None]
    y = random_targets(rng, output, n_y, (m, T))
    grads = assert_equal_to_torch(model, x, y, mask, rnn, linear)
    for chain in model.chains:
        for name, want in torch_grads_as_ours(rnn, chain).items():
            np.testing.assert_allclose(grads[name], want, rtol=1e-6, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(grads["W_ya"], linear.weight.grad.numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("layers,bidirectional", CONFIGS)
def test_weights_move_both_ways(layers, bidirectional):
    """A PyTorch GRU with its own (nonzero) biases in both places loads as cell "gru" and gives
    the same states; exported again, it gives them in PyTorch."""
    torch.manual_seed(0)
    rnn = torch.nn.GRU(
        5, 3, num_layers=layers, bidirectional=bidirectional, batch_first=True, dtype=torch.float64
    )
    linear = torch.nn.Linear(3 * (2 if bidirectional else 1), 2, dtype=torch.float64)
    model, _ = assert_round_trip(rnn, linear)
    assert model.cell == "gru"


def test_settings():
    with pytest.raises(ValueError, match="tanh for cell 'gru'"):
        RNNConfig(4, 3, 1, activation="relu", cell="gru")
    with pytest.raises(ValueError, match="cell must be one of"):
        RNNConfig(4, 3, 1, cell="lstm")
    with pytest.raises(ValueError, match=r"one per layer \(2\)"):
        RNNConfig(4, 3, 1, layers=2, cell="rnn,gru,gru")
    mixed = RNNConfig(4, 3, 1, layers=3, cell="rnn,gru,rnn")
    assert mixed.cells == ("rnn", "gru", "rnn") and [mixed.gates(k) for k in (1, 2, 3)] == [1, 3, 1]
    assert RNNConfig(4, 3, 1, layers=2, cell="gru,gru").cell == "gru"  # one name for one cell
    with pytest.raises(ValueError, match="one kind of cell"):
        rnnkit.to_torch(gru(layers=2, cell="rnn,gru"))
    assert "cell" not in RNNConfig(4, 3, 1).to_json()  # older rnnkit reads an RNN's header
    header = RNNConfig(4, 3, 1, cell="gru").to_json()
    assert header["cell"] == "gru" and RNNConfig.from_json(header).gates(1) == 3
    with pytest.raises(ValueError, match="a0"):
        gru().forward(np.zeros((1, 2), int), a0=np.zeros((1, 4)))


@pytest.mark.parametrize(
    "layers,bidirectional,cell",
    [*((layers, bi, "gru") for layers, bi in CONFIGS), (2, True, "rnn,gru"), (2, True, "gru,rnn")],
)
@pytest.mark.parametrize("inputs", ["ids", "groups", "spelling"])
@pytest.mark.parametrize("lengths", [[9, 9, 9], [9, 6, 1]])
def test_the_compiled_loop_equals_numpy(layers, bidirectional, cell, inputs, lengths, monkeypatch):
    """The Numba kernel of a GRU chain (taken by a float32 model once kernels are loaded) gives
    NumPy's states and outputs, to float32's precision, unpadded and padded longest first."""
    if not kernels.load():
        pytest.skip("numba is not installed")
    calls = []
    compiled = kernels.gru_forward
    monkeypatch.setattr(kernels, "gru_forward", lambda *a: calls.append(1) or compiled(*a))
    rng = np.random.default_rng(0)
    n_s = 5 if inputs == "spelling" else None
    model = gru(50, 8, 3, "softmax", layers, bidirectional, dtype=np.float32, n_s=n_s, cell=cell)
    x = rng.integers(0, 50, (3, 9) if inputs == "ids" else (3, 9, 2))
    s = rng.normal(size=(3, 9, 5)) if n_s else None
    mask = np.arange(9)[None, :] < np.array(lengths)[:, None]
    y_hat, a = model.forward(x, mask, s=s)
    assert len(calls) == sum(chain.b_aa is not None for chain in model.chains)
    monkeypatch.setattr(kernels, "available", False)
    want_y, want_a = model.forward(x, mask, s=s)
    np.testing.assert_allclose(a, want_a, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(y_hat, want_y, rtol=1e-5, atol=2e-6)
    np.testing.assert_array_equal(a[~mask], 0)
