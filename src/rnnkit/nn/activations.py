"""The lecture's activations: g for the hidden state, g2 for the output.

Each g is applied in place (the time loop allocates nothing) and its derivative
is written from the output a = g(z), which is all the backward pass keeps.
"""

import numpy as np


def tanh(z, out):
    return np.tanh(z, out=out)


def relu(z, out):
    return np.maximum(z, 0, out=out)


def tanh_grad(a):
    """g'(z) for g = tanh, from a = tanh(z): 1 - a^2."""
    return 1 - a * a


def relu_grad(a):
    """g'(z) for g = ReLU, from a = max(z, 0): 1 where a > 0 (0 at the kink)."""
    return (a > 0).astype(a.dtype)


G = {"tanh": (tanh, tanh_grad), "relu": (relu, relu_grad)}


def sigmoid(z):
    # exp(-|z|) never overflows; the two branches are the same function.
    e = np.exp(-np.abs(z))
    r = 1 / (1 + e)
    return np.where(z >= 0, r, e * r)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def linear(z):
    return z


G2 = {"sigmoid": sigmoid, "softmax": softmax, "linear": linear}
