"""Weights to and from PyTorch's nn.RNN (+ nn.Linear for the output layer).

Mapping for layer l (PyTorch counts from 0) and direction: weight_ih_l{l-1} = W_ax,
weight_hh_l{l-1} = W_aa, bias_ih + bias_hh = b_a (PyTorch has two biases where
the maths has one: b_a goes to bias_ih and bias_hh is set to zero), the
`_reverse` suffix for the backward chain; Linear.weight = W_ya, Linear.bias = b_y.
PyTorch is imported only here, and only when these functions are called.
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
    import torch

    dtype = (
        dtype
        or {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}[model.dtype]
    )
    rnn = torch.nn.RNN(
        model.n_x,
        model.n_a,
        num_layers=model.layers,
        nonlinearity=model.activation,
        bidirectional=model.bidirectional,
        batch_first=True,
        dtype=dtype,
    )
    linear = torch.nn.Linear(model.n_a * (2 if model.bidirectional else 1), model.n_y, dtype=dtype)
    p = model.params
    copied = {"W_ya", "b_y"}
    with torch.no_grad():
        for chain in model.chains:
            for kind, name in (("weight_ih", chain.W_ax), ("weight_hh", chain.W_aa)):
                weight = torch.from_numpy(np.ascontiguousarray(p[name]))
                getattr(rnn, _torch_key(kind, chain)).copy_(weight)
            getattr(rnn, _torch_key("bias_ih", chain)).copy_(torch.from_numpy(p[chain.b_a]))
            getattr(rnn, _torch_key("bias_hh", chain)).zero_()
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


def from_torch(rnn, linear, output="sigmoid", dtype=None):
    """An RNN with the weights of a PyTorch nn.RNN and nn.Linear (b_a = bias_ih + bias_hh)."""
    state = {k: v.detach().cpu().numpy() for k, v in rnn.state_dict().items()}
    dtype = dtype or state["weight_hh_l0"].dtype
    model = RNN(
        rnn.input_size,
        rnn.hidden_size,
        linear.out_features,
        activation=rnn.nonlinearity,
        output=output,
        layers=rnn.num_layers,
        bidirectional=rnn.bidirectional,
        dtype=dtype,
    )
    p = model.params
    for chain in model.chains:
        p[chain.W_ax][...] = state[_torch_key("weight_ih", chain)]
        p[chain.W_aa][...] = state[_torch_key("weight_hh", chain)]
        b = np.zeros(model.n_a, dtype)
        for kind in ("bias_ih", "bias_hh"):
            b += state.get(_torch_key(kind, chain), 0)
        p[chain.b_a][...] = b
    p["W_ya"][...] = linear.weight.detach().cpu().numpy()
    p["b_y"][...] = linear.bias.detach().cpu().numpy() if linear.bias is not None else 0
    return model
