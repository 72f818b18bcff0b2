"""Weights to and from PyTorch's nn.RNN (+ nn.Linear for the output layer).

Mapping for layer l (PyTorch counts from 0) and direction: weight_ih_l{l-1} = W_ax,
weight_hh_l{l-1} = W_aa, bias_ih + bias_hh = b_a (PyTorch has two biases where
the maths has one: b_a goes to bias_ih and bias_hh is set to zero), the
`_reverse` suffix for the backward chain; Linear.weight = W_ya, Linear.bias = b_y.
PyTorch is imported only here, and only when these functions are called.

A GRU (cell "gru") goes to nn.GRU. PyTorch stacks its gates [r; z; n] and keeps a<t> =
(1 - z) n + z a<t-1>, where the lecture's update gate Γ_u = 1 - z: the blocks [u; r; c] are
therefore [-z; r; n] (σ(-v) = 1 - σ(v): z's weights and biases change sign), b_a = bias_ih +
bias_hh for u and r, bias_ih for c, and b_aa = n's bias_hh, which sits inside the reset.
"""

import warnings

import numpy as np

from rnnkit.nn.model import RNN


def _torch_key(kind, chain):
    """PyTorch's name for one of the chain's arrays: weight_ih_l0, bias_hh_l1_reverse, ..."""
    return f"{kind}_l{chain.layer - 1}" + ("_reverse" if chain.reverse else "")


def to_torch(model, dtype=None):
    """(nn.RNN, nn.Linear), batch_first, with the model's weights; for dense inputs of n_x
    features. A model that reads more than x (a spelling s<t>: n_s set) has no nn.RNN of the
    same function, and is refused rather than exported without it. Parameters a task put
    beside the RNN's (a CRF's transition scores) are not exported: a warning names them, and
    the Linear then gives the scores they are decoded with."""
    if getattr(model, "n_s", None) is not None:
        raise ValueError(
            "to_torch exports the lecture's RNN on x alone; this model also reads a spelling "
            f"s<t> (n_s = {model.n_s}), which nn.RNN has no place for"
        )
    if getattr(model, "n_e", None) is not None:
        raise ValueError(
            f"to_torch exports the RNN on x<t>; this model reads e<t> = E x<t> (n_e = "
            f"{model.n_e}): its E is an nn.EmbeddingBag(mode='sum') in front of the nn.RNN, "
            "which the pair (nn.RNN, nn.Linear) has no place for"
        )
    import torch

    dtype = (
        dtype
        or {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}[model.dtype]
    )
    cell = getattr(model, "cell", "rnn")
    if "," in cell:
        raise ValueError(
            f"to_torch exports one kind of cell; this model has one per layer ({cell}), "
            "which no single nn.RNN or nn.GRU holds"
        )
    gru = cell == "gru"
    rnn = (torch.nn.GRU if gru else torch.nn.RNN)(
        model.n_x,
        model.n_a,
        num_layers=model.layers,
        bidirectional=model.bidirectional,
        batch_first=True,
        dtype=dtype,
        **({} if gru else {"nonlinearity": model.activation}),
    )
    linear = torch.nn.Linear(model.n_a * (2 if model.bidirectional else 1), model.n_y, dtype=dtype)
    p = model.params
    copied = {"W_ya", "b_y"}
    with torch.no_grad():
        for chain in model.chains:
            arrays = {
                "weight_ih": p[chain.W_ax],
                "weight_hh": p[chain.W_aa],
                "bias_ih": p[chain.b_a],
                "bias_hh": np.zeros_like(p[chain.b_a]),
            }
            if gru:
                arrays = _gru_to_torch(arrays, p[chain.b_aa])
                copied.add(chain.b_aa)
            for kind, array in arrays.items():
                array = torch.from_numpy(np.ascontiguousarray(array))
                getattr(rnn, _torch_key(kind, chain)).copy_(array)
            copied |= {chain.W_ax, chain.W_aa, chain.b_a}
        linear.weight.copy_(torch.from_numpy(p["W_ya"]))
        linear.bias.copy_(torch.from_numpy(p["b_y"]))
    left = sorted(set(p) - copied)
    if left:
        warnings.warn(
            f"to_torch exports the RNN and its output layer, not {', '.join(left)} (a task's "
            "own parameters, e.g. a CRF's): nn.Linear gives the scores they are decoded with; "
            "take them from model.params",
            stacklevel=2,
        )
    return rnn, linear


def _gru_to_torch(ours, b_aa):
    """nn.GRU's arrays [r; z; n] of one chain from ours [u; r; c] (see the module's text)."""
    out = {}
    for kind, array in ours.items():
        u, r, c = np.split(array, 3)
        if kind == "bias_hh":
            c = b_aa
        out[kind] = np.concatenate([r, -u, c])
    return out


def _gru_from_torch(theirs):
    """Our W_ax, W_aa, b_a and b_aa of one chain from nn.GRU's arrays [r; z; n]."""
    (W_ir, W_iz, W_in), (W_hr, W_hz, W_hn) = (
        np.split(theirs[kind], 3) for kind in ("weight_ih", "weight_hh")
    )
    (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = (
        np.split(theirs[kind], 3) for kind in ("bias_ih", "bias_hh")
    )
    return (
        np.concatenate([-W_iz, W_ir, W_in]),
        np.concatenate([-W_hz, W_hr, W_hn]),
        np.concatenate([-(b_iz + b_hz), b_ir + b_hr, b_in]),
        b_hn,
    )


def from_torch(rnn, linear, output="sigmoid", dtype=None):
    """An RNN with the weights of a PyTorch nn.RNN (b_a = bias_ih + bias_hh) or nn.GRU (a
    model of cell "gru") and nn.Linear."""
    import torch

    state = {k: v.detach().cpu().numpy() for k, v in rnn.state_dict().items()}
    dtype = dtype or state["weight_hh_l0"].dtype
    gru = isinstance(rnn, torch.nn.GRU)
    model = RNN(
        rnn.input_size,
        rnn.hidden_size,
        linear.out_features,
        activation="tanh" if gru else rnn.nonlinearity,
        output=output,
        layers=rnn.num_layers,
        bidirectional=rnn.bidirectional,
        cell="gru" if gru else "rnn",
        dtype=dtype,
    )
    p = model.params
    for chain in model.chains:
        theirs = {  # a model made with bias=False has no biases: zeros
            kind: state.get(_torch_key(kind, chain), np.zeros(len(p[chain.b_a]), dtype))
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        }
        if gru:
            W_ax, W_aa, b_a, p[chain.b_aa][...] = _gru_from_torch(theirs)
        else:
            W_ax, W_aa = theirs["weight_ih"], theirs["weight_hh"]
            b_a = theirs["bias_ih"] + theirs["bias_hh"]
        p[chain.W_ax][...], p[chain.W_aa][...], p[chain.b_a][...] = W_ax, W_aa, b_a
    p["W_ya"][...] = linear.weight.detach().cpu().numpy()
    p["b_y"][...] = linear.bias.detach().cpu().numpy() if linear.bias is not None else 0
    return model
