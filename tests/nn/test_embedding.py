"""Layer 1 reading e<t> = E x<t> (n_e set): against central differences, against PyTorch's
nn.EmbeddingBag in front of nn.RNN / nn.GRU, sparse gradients equal to dense ones, and the
compiled loop equal to NumPy."""

import numpy as np
import pytest

import rnnkit
from rnnkit.nn import kernels
from rnnkit.nn.config import RNNConfig
from rnnkit.nn.gradcheck import gradcheck
from rnnkit.nn.sparse import ColumnGrad
from support import FixedDropout, OnS, assert_equal_to_torch, random_targets

CONFIGS = [(1, False, "rnn"), (2, True, "rnn"), (1, True, "gru"), (2, True, "gru")]


def embedded(n_x=9, n_a=4, n_y=3, output="softmax", layers=1, bidirectional=False, **kw):
    kw.setdefault("dtype", np.float64)
    kw.setdefault("n_e", 5)
    return rnnkit.RNN(
        n_x, n_a, n_y, "tanh", output, layers=layers, bidirectional=bidirectional,
        seed=kw.pop("seed", 1), **kw,
    )  # fmt: skip


def batch(rng, n_x=9, m=3, T=5, K=2):
    """ids (m, T, K) (or (m, T) for K = 0), gold tags and a mask of lengths T, 2, 4, 1, ..."""
    x = rng.integers(0, n_x, (m, T, K) if K else (m, T))
    mask = np.arange(T)[None, :] < np.resize([T, 2, 4, 1], m)[:, None]
    return x, rng.integers(0, 3, (m, T)), mask


def test_settings_and_shapes():
    model = embedded(n_x=9, n_a=4, bidirectional=True, cell="gru")
    p = model.params
    assert p["E"].shape == (5, 9) and p["E"].T.flags.c_contiguous  # a column is contiguous
    assert p["W_ax.fwd"].shape == (12, 5)  # a GRU's three blocks read e<t>, not x<t>
    with pytest.raises(ValueError, match="n_e must be a positive integer"):
        RNNConfig(9, 4, 1, n_e=0)
    assert "n_e" not in RNNConfig(9, 4, 1).to_json()  # older rnnkit reads the header
    assert RNNConfig.from_json(RNNConfig(9, 4, 1, n_e=5).to_json()).n_e == 5
    with pytest.raises(ValueError, match="reads ids, not floats"):
        model.forward(np.zeros((1, 2, 9)))
    with pytest.raises(ValueError, match="EmbeddingBag"):
        rnnkit.to_torch(model)
    # the one-hot W_ax of every chain gives way to one E: a model of 10,000 words shrinks
    big = [
        rnnkit.RNN(10_000, 100, 9, bidirectional=True, cell="gru", n_e=n_e) for n_e in (None, 100)
    ]
    sizes = [sum(p.size for p in m.params.values()) for m in big]
    assert sizes[1] < sizes[0] / 5


def test_a_model_without_n_e_draws_its_weights_as_before():
    """E is drawn last: every other weight of a model without it is what it always was."""
    a, b = rnnkit.RNN(9, 4, 3, bidirectional=True), rnnkit.RNN(9, 4, 3, bidirectional=True, n_e=9)
    assert "E" not in a.params
    np.testing.assert_array_equal(a.params["W_aa.fwd"], b.params["W_aa.fwd"])


@pytest.mark.parametrize("layers,bidirectional,cell", CONFIGS)
@pytest.mark.parametrize("K", [0, 2])
@pytest.mark.parametrize("masked", [False, True])
def test_gradients_match_central_differences(layers, bidirectional, cell, K, masked):
    rng = np.random.default_rng(7)
    dropout = 0.3 if layers > 1 else None
    model = embedded(layers=layers, bidirectional=bidirectional, dropout=dropout, cell=cell)
    x, y, mask = batch(rng, K=K)
    checked = FixedDropout(model, 5) if dropout else model  # one dropout draw, frozen
    errors = gradcheck(checked, x, y, mask if masked else None)
    assert set(errors) == set(model.params) and "E" in errors
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_embedding_dropout_gradients_match_central_differences(cell):
    """Dropout on e<t> (and on each layer's output): E's gradient passes the same multiplier."""
    rng = np.random.default_rng(11)
    model = embedded(layers=2, bidirectional=True, cell=cell, dropout=0.3, embedding_dropout=0.4)
    x, y, mask = batch(rng)
    errors = gradcheck(FixedDropout(model, 5), x, y, mask)
    assert "E" in errors and max(errors.values()) < 1e-6, errors
    dropped = model.loss_and_grads(x, y, mask, dropout_rng=np.random.default_rng(5))[0]
    assert dropped != model.loss_and_grads(x, y, mask)[0]  # off unless a draw is given
    with pytest.raises(ValueError, match="set n_e"):
        RNNConfig(9, 4, 1, embedding_dropout=0.5)
    assert "embedding_dropout" not in RNNConfig(9, 4, 1, n_e=3).to_json()
    assert RNNConfig(9, 4, 1, n_e=3, embedding_dropout=0).embedding_dropout is None


def test_with_a_spelling_both_gradients_arrive():
    """Layer 1 reads [e<t>; s<t>]: E, W_as and dL/ds each get theirs."""
    rng = np.random.default_rng(3)
    model = embedded(bidirectional=True, cell="gru", n_s=4)
    x, y, mask = batch(rng)
    s = rng.normal(size=(*x.shape[:2], 4))

    on_s = OnS(model, s)
    errors = gradcheck(on_s, x, y, mask)
    assert {"E", "W_as.fwd"} <= set(errors) and max(errors.values()) < 1e-6, errors
    np.testing.assert_allclose(
        on_s.ds(x, y, mask), on_s.numeric_ds(x, y, mask), rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("K", [0, 3])
def test_the_sparse_gradient_of_E_holds_the_dense_one(K):
    rng = np.random.default_rng(5)
    model = embedded(n_x=40, layers=2, bidirectional=True, cell="gru")
    x, y, mask = batch(rng, n_x=40, K=K)
    _, dense = model.loss_and_grads(x, y, mask)
    _, sparse = model.loss_and_grads(x, y, mask, sparse=True)
    assert isinstance(sparse["E"], ColumnGrad)
    np.testing.assert_allclose(sparse["E"].to_dense(), dense["E"], rtol=1e-12, atol=1e-15)
    unused = np.setdiff1d(np.arange(40), x[mask])
    assert unused.size and not dense["E"][:, unused].any()  # only the columns read


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("layers,bidirectional,cell", CONFIGS)
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_outputs_and_gradients_equal_pytorch(layers, bidirectional, cell, output):
    """nn.EmbeddingBag(mode="sum") with weight E^T in front of the nn.RNN or nn.GRU that
    to_torch makes of the same model on dense e<t>: the same loss, states, ŷ, and gradients of
    E, W_ya and every chain (the last through the dense model, whose parity tests/nn/test_gru.py
    and test_torch_parity.py hold)."""
    rng = np.random.default_rng(0)
    n_y, n_x, n_e, K = (3 if output == "softmax" else 1), 12, 5, 2
    model = embedded(n_x, 4, n_y, output, layers, bidirectional, cell=cell, n_e=n_e)
    on_e = rnnkit.RNN(
        n_e, 4, n_y, "tanh", output, layers=layers, bidirectional=bidirectional, cell=cell,
        dtype=np.float64,
    )  # fmt: skip
    for name, p in on_e.params.items():
        p[...] = model.params[name]
    x, _, mask = batch(rng, n_x=n_x, m=4, T=6, K=K)
    y = random_targets(rng, output, n_y, mask.shape)
    bag = torch.nn.EmbeddingBag(n_x, n_e, mode="sum", dtype=torch.float64)
    with torch.no_grad():
        bag.weight.copy_(torch.tensor(model.params["E"].T))
    rnn, linear = rnnkit.to_torch(on_e)
    e = bag(torch.tensor(x.reshape(-1, K))).reshape(*x.shape[:2], n_e)
    grads = assert_equal_to_torch(model, x, y, mask, rnn, linear, t_x=e)
    np.testing.assert_allclose(grads["E"], bag.weight.grad.numpy().T, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(grads["W_ya"], linear.weight.grad.numpy(), rtol=1e-6, atol=1e-12)
    e_ours = e.detach().numpy()
    _, dense = on_e.loss_and_grads(e_ours, y, mask)
    for name in on_e.params:
        np.testing.assert_allclose(grads[name], dense[name], rtol=1e-10, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("layers,bidirectional,cell", CONFIGS)
@pytest.mark.parametrize("lengths", [[9, 9, 9], [9, 6, 1]])
def test_the_compiled_loop_equals_numpy(layers, bidirectional, cell, lengths, monkeypatch):
    if not kernels.load():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(0)
    model = embedded(50, 8, 3, "softmax", layers, bidirectional, cell=cell, dtype=np.float32)
    x = rng.integers(0, 50, (3, 9, 2))
    mask = np.arange(9)[None, :] < np.array(lengths)[:, None]
    calls = []
    name = "gru_forward" if cell == "gru" else "rnn_forward"
    compiled = getattr(kernels, name)
    monkeypatch.setattr(kernels, name, lambda *a: calls.append(1) or compiled(*a))
    y_hat, a = model.forward(x, mask)
    assert len(calls) == len(model.chains)  # layer 1 too, on its dense e<t>
    monkeypatch.setattr(kernels, "available", False)
    want_y, want_a = model.forward(x, mask)
    np.testing.assert_allclose(a, want_a, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(y_hat, want_y, rtol=1e-5, atol=2e-6)
    np.testing.assert_array_equal(a[~mask], 0)


@pytest.mark.parametrize("layers,bidirectional,cell", CONFIGS)
@pytest.mark.parametrize("n_s", [None, 4])
def test_folded_multiplies_W_ax_E_out_and_computes_the_same_function(
    layers, bidirectional, cell, n_s
):
    """RNN.folded: a model without E whose layer-1 W_ax is W_ax E gives this model's outputs
    (a one-hot x<t> reads one column of W_ax E either way) and then owes this model nothing."""
    rng = np.random.default_rng(5)
    model = embedded(layers=layers, bidirectional=bidirectional, cell=cell, n_s=n_s, dropout=0.3)
    folded = model.folded()
    assert folded.n_e is None and "E" not in folded.params
    assert folded.config == model.config.replace(n_e=None)  # dropout kept: a training setting
    for chain in folded.chains_of(1):
        assert folded.params[chain.W_ax].shape == (model.params[chain.W_ax].shape[0], 9)
    x, _, mask = batch(rng, K=2)
    s = {} if n_s is None else {"s": rng.normal(size=(*x.shape[:2], n_s))}
    want_y, want_a = model.forward(x, mask, **s)
    y_hat, a = folded.forward(x, mask, **s)
    np.testing.assert_allclose(y_hat, want_y, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(a, want_a, rtol=1e-12, atol=1e-13)
    # copies: training this model on does not reach the folded one
    before = folded.params[folded.chains[0].W_ax].copy()
    model.params["E"] += 1
    np.testing.assert_array_equal(folded.params[folded.chains[0].W_ax], before)
    plain = rnnkit.RNN(9, 4, 3)
    assert plain.folded() is plain


def test_a_model_whose_folded_W_ax_would_be_too_big_keeps_its_E(monkeypatch):
    """2 chains x 4 rows x 9 words = 72 numbers folded: at a bound of 71 the model stays as it
    is (a header with a tiny n_e and a huge n_a would otherwise take gigabytes on loading)."""
    from rnnkit.nn import model as model_module

    model = embedded(bidirectional=True)
    monkeypatch.setattr(model_module, "FOLDED_MAX", 72)
    assert model.folded() is not model
    monkeypatch.setattr(model_module, "FOLDED_MAX", 71)
    assert model.folded() is model
