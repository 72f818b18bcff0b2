"""Optimisers over the params/grads dicts, and clipping by global norm.

Every update writes into the parameter arrays in place, so the views of the
compact notation (W_aa and W_ax inside W_a) stay views.

Sparse (lazy) semantics, for gradients given as `ColumnGrad` (the W_ax of
one-hot inputs): only the columns of the words in the batch are touched.
SGD: the same result as the dense update, since untouched columns have zero
gradient (momentum of an untouched column is not decayed until its word
returns). Adam: the moments of an untouched column are neither decayed nor
updated, and the column does not move; bias correction uses the global step
count. This is the rule of TensorFlow's LazyAdam and PyTorch's SparseAdam; it
differs from dense Adam, which keeps moving columns on stale momentum.
"""

import numpy as np

from rnnkit.nn.sparse import ColumnGrad


def global_norm(grads):
    return float(
        np.sqrt(
            sum(
                g.sum_sq() if isinstance(g, ColumnGrad) else float(np.vdot(g, g))
                for g in grads.values()
            )
        )
    )


def clip_grad_norm(grads, max_norm):
    """Scale all gradients in place so that their global norm is at most max_norm; returns the
    norm before. max_norm None clips nothing (the norm is still returned)."""
    if max_norm is not None and (
        isinstance(max_norm, bool)
        or not isinstance(max_norm, int | float | np.integer | np.floating)
        or not max_norm > 0  # a negative limit would flip every gradient; NaN is not > 0
    ):
        raise ValueError(f"max_norm must be a positive number or None, not {max_norm!r}")
    norm = global_norm(grads)
    if max_norm is not None and norm > max_norm:
        c = max_norm / (norm + 1e-6)
        for g in grads.values():
            if isinstance(g, ColumnGrad):
                g.scale(c)
            else:
                g *= c
    return norm


class SGD:
    """θ -= lr * v, with v = momentum * v + dθ (v = dθ without momentum)."""

    def __init__(self, params, lr=0.1, momentum=0.0):
        self.params, self.lr, self.momentum = params, lr, momentum
        self.v = {k: np.zeros_like(p) for k, p in params.items()} if momentum else {}
        self.t = 0

    def step(self, grads):
        self.t += 1
        for k, g in grads.items():
            p = self.params[k]
            if isinstance(g, ColumnGrad):
                cols = p.T  # (n_x, n_a): row i is column i of p
                if self.momentum:
                    vc = self.v[k].T
                    vc[g.ids] = self.momentum * vc[g.ids] + g.rows
                    cols[g.ids] -= self.lr * vc[g.ids]
                else:
                    cols[g.ids] -= self.lr * g.rows
            elif self.momentum:
                v = self.v[k]
                v *= self.momentum
                v += g
                p -= self.lr * v
            else:
                p -= self.lr * g

    def state(self):
        return {"t": self.t, **{f"v/{k}": v for k, v in self.v.items()}}

    def load_state(self, state):
        self.t = int(state["t"])
        for k in self.v:
            self.v[k][...] = state[f"v/{k}"]


class Adam:
    """Adam (Kingma and Ba, 2015), lazy for ColumnGrad gradients (see the module docstring)."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params, self.lr, self.beta1, self.beta2, self.eps = params, lr, beta1, beta2, eps
        # Moments share each parameter's memory layout, so p.T and m.T line up row for row.
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.t = 0

    def step(self, grads):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)  # bias correction
        for k, g in grads.items():
            p, m, v = self.params[k], self.m[k], self.v[k]
            if isinstance(g, ColumnGrad):
                # the same update on the used columns alone, gathered (ids are unique), then
                # scattered back
                ids, rows = g.ids, g.rows
                m_i, v_i, p_i = m.T[ids], v.T[ids], p.T[ids]
                m.T[ids] = self._moments(m_i, v_i, rows)
                v.T[ids] = v_i
                p.T[ids] = self._descend(p_i, m_i, v_i, step)
            else:
                self._moments(m, v, g)
                self._descend(p, m, v, step)

    def _moments(self, m, v, g):
        """m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2, in place; returns m."""
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * np.square(g)
        return m

    def _descend(self, p, m, v, step):
        """p -= step * m / (sqrt(v) + eps), in place with one temporary; returns p."""
        d = np.sqrt(v)
        d += self.eps
        np.divide(m, d, out=d)
        d *= step
        p -= d
        return p

    def state(self):
        return {
            "t": self.t,
            **{f"m/{k}": a for k, a in self.m.items()},
            **{f"v/{k}": a for k, a in self.v.items()},
        }

    def load_state(self, state):
        self.t = int(state["t"])
        for k in self.m:
            self.m[k][...] = state[f"m/{k}"]
            self.v[k][...] = state[f"v/{k}"]


class NonFiniteLoss(FloatingPointError):
    """The loss or the gradient of a step is NaN or infinite; the parameters were not updated."""


def train_step(
    model,
    opt,
    x,
    y,
    mask=None,
    *,
    clip=None,
    sparse=True,
    dropout_rng=None,
    loss_fn=None,
    words=None,
):
    """One step of gradient descent on one batch: forward propagation, the loss, backpropagation
    through time, clipping by global norm, the optimiser's update. Returns (loss, norm before
    clipping). A non-finite loss or gradient raises NonFiniteLoss before anything changes.
    loss_fn: another loss for the model's logits (see RNN.loss_and_grads), e.g. a CRF's.
    words: the batch's tokens, for a model that reads their spelling (nn.spelling)."""
    spelled = {} if words is None else {"words": words}
    loss, grads = model.loss_and_grads(
        x, y, mask, sparse=sparse, dropout_rng=dropout_rng, loss_fn=loss_fn, **spelled
    )
    norm = clip_grad_norm(grads, clip)  # clip=None measures the norm and clips nothing
    if not (np.isfinite(loss) and np.isfinite(norm)):
        raise NonFiniteLoss(f"non-finite loss ({loss}) or gradient norm ({norm})")
    opt.step(grads)
    return loss, norm
