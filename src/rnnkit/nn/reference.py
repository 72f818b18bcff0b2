"""The textbook forward pass: one sequence, one step, one dense one-hot vector at a time.

This is the lecture's equations with nothing fast about them; tests hold the
fast model equal to it and the benchmark times it as the floor.
"""

import numpy as np

from rnnkit.nn.activations import G2


def one_hot(ids, n_x, dtype=np.float64):
    """(T,) ids or (T, K) ids of K groups -> (T, n_x): each step's sum of its K one-hot vectors."""
    ids = np.asarray(ids).reshape(len(ids), -1)
    x = np.zeros((len(ids), n_x), dtype)
    for t, row in enumerate(ids):
        np.add.at(x[t], row, 1)
    return x


def rnn_cell_forward(x_t, a_prev, W_aa, W_ax, b_a, g):
    """a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a) for one sequence: (n_x,), (n_a,) -> (n_a,)."""
    return g(W_aa @ a_prev + W_ax @ x_t + b_a)


def reference_forward(model, x, mask=None, a0=None):
    """ŷ (m, T, n_y) and top-layer a (m, T, n_a * directions), computed sequence by sequence."""
    g = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[model.activation]
    g2 = G2[model.output]
    p = model.params
    x = np.asarray(x)
    m, T = x.shape[:2]
    mask = np.ones((m, T), bool) if mask is None else np.asarray(mask, bool)
    n_top = model.n_a * (2 if model.bidirectional else 1)
    y_hat, a_top = np.zeros((m, T, model.n_y)), np.zeros((m, T, n_top))
    for i in range(m):
        T_i = int(mask[i].sum())  # right-padded: the real steps come first
        inp = one_hot(x[i, :T_i], model.n_x) if np.issubdtype(x.dtype, np.integer) else x[i, :T_i]
        for layer in range(1, model.layers + 1):
            outs = []
            for chain in model.chains_of(layer):
                W_aa, W_ax, b_a = p[chain.W_aa], p[chain.W_ax], p[chain.b_a]
                a = np.zeros(model.n_a) if a0 is None else np.asarray(a0[i], float)
                states = np.zeros((T_i, model.n_a))
                for t in range(T_i - 1, -1, -1) if chain.reverse else range(T_i):
                    a = rnn_cell_forward(inp[t], a, W_aa, W_ax, b_a, g)
                    states[t] = a
                outs.append(states)
            inp = np.concatenate(outs, axis=1)
        a_top[i, :T_i] = inp
        for t in range(T_i):
            y_hat[i, t] = g2(p["W_ya"] @ inp[t] + p["b_y"])  # ŷ<t> = g2(W_ya a<t> + b_y)
    return y_hat, a_top
