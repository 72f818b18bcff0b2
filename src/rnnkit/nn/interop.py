"""Weights to and from PyTorch's nn.RNN (+ nn.Linear for the output layer).

Mapping for layer l (PyTorch counts from 0) and direction: weight_ih_l{l-1} = W_ax,
weight_hh_l{l-1} = W_aa, bias_ih + bias_hh = b_a (PyTorch has two biases where
the maths has one: b_a goes to bias_ih and bias_hh is set to zero), the
`_reverse` suffix for the backward chain; Linear.weight = W_ya, Linear.bias = b_y.
PyTorch is imported only here, and only when these functions are called.
"""

import numpy as np

from rnnkit.nn.model import RNN


def _torch_key(kind, layer, direction):
    return f"{kind}_l{layer - 1}" + ("_reverse" if direction == "bwd" else "")


def to_torch(model, dtype=None):
    """(nn.RNN, nn.Linear), batch_first, with the model's weights; for dense inputs of n_x features."""
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
    with torch.no_grad():
        for layer, d, _, W_aa, W_ax, b_a in model.chains:
            getattr(rnn, _torch_key("weight_ih", layer, d)).copy_(
                torch.from_numpy(np.ascontiguousarray(p[W_ax]))
            )
            getattr(rnn, _torch_key("weight_hh", layer, d)).copy_(
                torch.from_numpy(np.ascontiguousarray(p[W_aa]))
            )
            getattr(rnn, _torch_key("bias_ih", layer, d)).copy_(torch.from_numpy(p[b_a]))
            getattr(rnn, _torch_key("bias_hh", layer, d)).zero_()
        linear.weight.copy_(torch.from_numpy(p["W_ya"]))
        linear.bias.copy_(torch.from_numpy(p["b_y"]))
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
    for layer, d, _, W_aa, W_ax, b_a in model.chains:
        p[W_ax][...] = state[_torch_key("weight_ih", layer, d)]
        p[W_aa][...] = state[_torch_key("weight_hh", layer, d)]
        b = np.zeros(model.n_a, dtype)
        for kind in ("bias_ih", "bias_hh"):
            b += state.get(_torch_key(kind, layer, d), 0)
        p[b_a][...] = b
    p["W_ya"][...] = linear.weight.detach().cpu().numpy()
    p["b_y"][...] = linear.bias.detach().cpu().numpy() if linear.bias is not None else 0
    return model
