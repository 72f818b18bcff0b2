"""The lecture's recurrent neural network, one-directional, bidirectional or deep.

    a<0> = 0
    a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a) = g(W_a [a<t-1>; x<t>] + b_a)
    ŷ<t> = g2(W_ya a<t> + b_y)

Shapes, in the lecture's symbols: m sequences of T steps, n_x inputs, n_a hidden
units, n_y outputs. x is (m, T) word ids (the one-hot vectors they stand for are
never built: W_ax x<t> is the column W_ax[:, x<t>]), (m, T, K) ids of K one-hot
groups (x<t> is multi-hot; W_ax x<t> sums K columns), or (m, T, n_x) dense
floats. Outputs are (m, T, n_y) and (m, T, n_a); sequences are right-padded and
`mask` (m, T) marks their real steps.

Each chain (a layer in one direction) keeps W_a = [W_aa | W_ax] as one
column-major array; W_aa and W_ax are views into it, so a word's column of W_ax
is contiguous in memory and the gather reads whole cache lines.

A bidirectional layer runs a forward chain a→ over t = 1..T and a backward chain
a← over t = T..1 and passes [a→<t>; a←<t>] up; a deep model feeds a[l-1]<t> to
layer l as its input x<t>. The output layer reads the top layer: ŷ<t> =
g2(W_ya [a→<t>; a←<t>] + b_y) (the lecture's W_y).
"""

import numpy as np

from rnnkit.nn import kernels
from rnnkit.nn.activations import G2, G
from rnnkit.nn.losses import loss_and_dlogits
from rnnkit.nn.recurrence import rnn_backward, rnn_forward, running_rows
from rnnkit.nn.sparse import ColumnGrad, group_ids

DIRECTIONS = {False: ("fwd",), True: ("fwd", "bwd")}


def param_name(base, layer, direction, layers, bidirectional):
    """The lecture's name, qualified only where the model needs it: W_aa, W_aa[2], W_aa.bwd, W_aa[2].bwd."""
    name = base + (f"[{layer}]" if layers > 1 else "")
    return name + (f".{direction}" if bidirectional else "")


class RNN:
    """The lecture's RNN. The default (one layer, one direction) is the lecture's model exactly.

    params: dict of the live arrays (writing into them changes the model):
        W_aa (n_a, n_a), W_ax (n_a, n_x), b_a (n_a,), W_ya (n_y, n_a), b_y (n_y,),
    with names qualified by layer and direction for deeper models (see `param_name`);
    W_ax of layer l > 1 is (n_a, n_a * directions) and W_ya is (n_y, n_a * directions).
    """

    def __init__(
        self,
        n_x,
        n_a,
        n_y,
        activation="tanh",
        output="sigmoid",
        *,
        layers=1,
        bidirectional=False,
        dropout=0.0,
        init_x=None,
        seed=0,
        dtype=np.float32,
    ):
        if activation not in G:
            raise ValueError(f"activation must be one of {sorted(G)}, not {activation!r}")
        if output not in G2:
            raise ValueError(f"output must be one of {sorted(G2)}, not {output!r}")
        for name, value in (("n_x", n_x), ("n_a", n_a), ("n_y", n_y), ("layers", layers)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), not {dropout!r}")
        if init_x is not None and not init_x > 0:
            raise ValueError(f"init_x must be positive, not {init_x!r}")
        self.init_x = None if init_x is None else float(init_x)
        self.n_x, self.n_a, self.n_y = int(n_x), int(n_a), int(n_y)
        self.activation, self.output = activation, output
        self.layers, self.bidirectional, self.dropout = (
            int(layers),
            bool(bidirectional),
            float(dropout),
        )
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        k = 1 / np.sqrt(n_a)  # PyTorch's nn.RNN initialisation
        dirs = DIRECTIONS[self.bidirectional]
        self.params, self.chains = {}, []
        for layer in range(1, self.layers + 1):
            n_in = self.n_x if layer == 1 else self.n_a * len(dirs)
            for d in dirs:
                name = lambda base: param_name(base, layer, d, self.layers, self.bidirectional)
                W_a = np.asfortranarray(rng.uniform(-k, k, (n_a, n_a + n_in)).astype(self.dtype))
                if layer == 1 and init_x is not None:
                    W_a[:, n_a:] *= init_x / k  # W_ax ~ U(-init_x, init_x)
                self.params[name("W_aa")] = W_a[:, :n_a]  # views into W_a: the compact
                self.params[name("W_ax")] = W_a[:, n_a:]  # notation is the same memory
                self.params[name("b_a")] = rng.uniform(-k, k, n_a).astype(self.dtype)
                self.chains.append((layer, d, W_a, name("W_aa"), name("W_ax"), name("b_a")))
        n_top = n_a * len(dirs)
        self.params["W_ya"] = rng.uniform(-k, k, (n_y, n_top)).astype(self.dtype)
        self.params["b_y"] = np.zeros(n_y, self.dtype)

    # -- the compact notation ------------------------------------------------
    @property
    def W_a(self):
        """[W_aa | W_ax] (n_a, n_a + n_x) of the one-chain model: the same memory as W_aa and W_ax."""
        if len(self.chains) != 1:
            raise AttributeError(
                "a model with several chains has one W_a per chain: use W_a_of(layer, direction)"
            )
        return self.chains[0][2]

    def W_a_of(self, layer, direction="fwd"):
        for l, d, W_a, *_ in self.chains:
            if (l, d) == (layer, direction):
                return W_a
        raise KeyError(f"no chain for layer {layer} direction {direction!r}")

    def config(self):
        return dict(
            n_x=self.n_x,
            n_a=self.n_a,
            n_y=self.n_y,
            activation=self.activation,
            output=self.output,
            layers=self.layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            init_x=self.init_x,
            dtype=self.dtype.name,
        )

    # -- forward propagation -------------------------------------------------
    def forward(self, x, mask=None, a0=None):
        """ŷ (m, T, n_y) and the top layer's a (m, T, n_a * directions); both 0 at padded steps."""
        try:
            cache = self._forward(x, mask, a0, compiled=True)
        except kernels.KernelFailed:  # the optional kernel broke: NumPy gives the same answer
            cache = self._forward(x, mask, a0)
        y_hat = G2[self.output](cache["logits"])
        if cache["mask"] is not None:
            y_hat *= cache["mask"][..., None]
        return y_hat, cache["top"].transpose(1, 0, 2)

    def _check_inputs(self, x, mask, a0):
        x = np.asarray(x)
        if x.dtype.kind in "iu":
            if x.ndim not in (2, 3):
                raise ValueError(f"id input must be (batch, T) or (batch, T, K), not {x.shape}")
            if x.size and (x.min() < 0 or x.max() >= self.n_x):
                raise ValueError(f"ids must lie in [0, n_x = {self.n_x})")
        elif x.dtype.kind == "f":
            if x.ndim != 3 or x.shape[-1] != self.n_x:
                raise ValueError(f"dense input must be (batch, T, n_x = {self.n_x}), not {x.shape}")
            x = x.astype(self.dtype, copy=False)
        else:
            raise ValueError(f"x must hold integer ids or floats, not {x.dtype}")
        m, T = x.shape[:2]
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (m, T):
                raise ValueError(f"mask must have shape (batch, T) = {(m, T)}, not {mask.shape}")
            if mask.all():
                mask = None
        if a0 is not None:
            if len(self.chains) != 1:
                raise ValueError("a0 is supported for the one-layer one-directional model")
            a0 = np.asarray(a0, dtype=self.dtype)
            if a0.shape != (m, self.n_a):
                raise ValueError(
                    f"a0 must have shape (batch, n_a) = {(m, self.n_a)}, not {a0.shape}"
                )
        return x, mask, a0

    def _input_term(self, W_ax, b_a, x_tm):
        """W_ax x<t> + b_a for every step at once: (T, m, n_a)."""
        if x_tm.dtype.kind in "iu":
            z = np.take(W_ax.T, x_tm, axis=0)  # column gather: (T, m, n_a) or (T, m, K, n_a)
            if z.ndim == 4:
                z = z.sum(axis=2)
        else:
            z = x_tm @ W_ax.T
        z += b_a
        return z

    def _forward(self, x, mask=None, a0=None, dropout_rng=None, compiled=False):
        """The cache of one forward pass: the states of every layer, the logits (m, T, n_y), the mask.

        compiled: let the loops over time take the Numba kernel where it applies (inference only, so
        that training never loads Numba)."""
        x, mask, a0 = self._check_inputs(x, mask, a0)
        x_tm = np.swapaxes(x, 0, 1)  # (T, m, ...) time-major
        mask_tm = None if mask is None else np.ascontiguousarray(mask.T)
        rows = self._kernel_rows(x_tm, mask_tm, a0) if compiled and dropout_rng is None else None
        T, m = x_tm.shape[:2]
        W_ya, b_y = self.params["W_ya"], self.params["b_y"]
        if rows is not None:  # the kernel adds W_ya a<t> to them as it goes
            logits = np.empty((T, m, self.n_y), self.dtype)
            logits[...] = b_y
        cache = {"mask_tm": mask_tm, "a0": a0, "layers": [], "drop": []}
        inp = x_tm
        for layer in range(1, self.layers + 1):
            states = []
            for l, d, _, *names in self.chains:
                if l != layer:
                    continue
                W_aa, W_ax, b_a = (self.params[k] for k in names)
                if rows is not None:
                    top = layer == self.layers  # the chain's columns of W_ya: [W_ya→ | W_ya←]
                    cols = slice(self.n_a, None) if d == "bwd" else slice(0, self.n_a)
                    a = kernels.rnn_forward(
                        inp,
                        W_ax,
                        b_a,
                        W_aa,
                        self.activation,
                        rows,
                        d == "bwd",
                        W_ya[:, cols] if top else None,
                        logits if top else None,
                    )
                else:
                    z = self._input_term(W_ax, b_a, inp)
                    a = rnn_forward(z, W_aa, self.activation, mask_tm, a0, reverse=(d == "bwd"))
                states.append(a)
            out = states[0] if len(states) == 1 else np.concatenate(states, axis=-1)
            cache["layers"].append((inp, states))
            drop = None
            if dropout_rng is not None and self.dropout > 0:
                drop = (dropout_rng.random(out.shape) >= self.dropout).astype(self.dtype) / (
                    1 - self.dropout
                )
                out = out * drop
            cache["drop"].append(drop)
            inp = out
        cache["top"] = inp  # (T, m, n_a * directions)
        if rows is None:  # one product for all steps
            logits = (inp.reshape(T * m, inp.shape[-1]) @ W_ya.T + b_y).reshape(T, m, self.n_y)
        cache["logits"] = logits.transpose(1, 0, 2)  # (m, T, n_y)
        cache["mask"] = mask
        return cache

    def _kernel_rows(self, x_tm, mask_tm, a0):
        """n<t> (T,) for kernels.rnn_forward if it can take this batch (Numba installed, float32, no
        a0, unpadded or longest first), else None."""
        if not kernels.available or self.dtype != np.float32 or a0 is not None:
            return None
        T, m = x_tm.shape[:2]
        rows = [m] * T if mask_tm is None else running_rows(mask_tm)
        return None if rows is None else np.array(rows, np.intp)

    # -- backpropagation through time ----------------------------------------
    def loss_and_grads(self, x, y, mask=None, *, sparse=False, dropout_rng=None):
        """The mean per-step loss over real steps and its gradient for every parameter.

        grads has the keys and shapes of params. With sparse=True and id inputs, the
        first layer's W_ax gradients are `ColumnGrad`s holding only the columns used.
        dropout_rng: a numpy Generator to train with dropout; None evaluates without.
        """
        cache = self._forward(x, mask, dropout_rng=dropout_rng)
        mask = cache["mask"]
        m, T = cache["logits"].shape[:2]
        step_mask = np.ones((m, T), self.dtype) if mask is None else mask.astype(self.dtype)
        loss, dlogits = loss_and_dlogits(cache["logits"], y, step_mask, self.output)
        grads = {}
        top = cache["top"]
        dlogits_tm = np.ascontiguousarray(dlogits.transpose(1, 0, 2))  # (T, m, n_y)
        n_top = top.shape[-1]
        grads["W_ya"] = dlogits_tm.reshape(-1, self.n_y).T @ top.reshape(-1, n_top)
        grads["b_y"] = dlogits_tm.sum(axis=(0, 1))
        W_ya = self.params["W_ya"]  # dL/d(top) (T, m, n_top):
        d_out = (
            dlogits_tm * W_ya[0]
            if self.n_y == 1  # an outer product for one output
            else (dlogits_tm.reshape(-1, self.n_y) @ W_ya).reshape(T, m, n_top)
        )
        mask_tm, a0 = cache["mask_tm"], cache["a0"]
        memo = {}  # the grouping of the word ids, shared by both directions
        for layer in range(self.layers, 0, -1):
            inp, states = cache["layers"][layer - 1]
            drop = cache["drop"][layer - 1]
            if drop is not None:
                d_out = d_out * drop
            chains = [c for c in self.chains if c[0] == layer]
            d_inp = None
            parts = (
                [d_out]
                if len(chains) == 1
                else [np.array(p) for p in np.split(d_out, len(chains), axis=-1)]
            )
            for (l, d, _, W_aa, W_ax, b_a), a, part in zip(chains, states, parts):
                dz, grads[W_aa], _ = rnn_backward(
                    part, a, self.params[W_aa], self.activation, mask_tm, a0, reverse=(d == "bwd")
                )
                grads[b_a] = dz.reshape(-1, self.n_a).sum(axis=0)
                grads[W_ax] = self._input_grad(inp, dz, mask_tm, self.params[W_ax], sparse, memo)
                if layer > 1:
                    d = (dz.reshape(-1, self.n_a) @ self.params[W_ax]).reshape(
                        *dz.shape[:2], -1
                    )  # dL/d a[l-1]<t>
                    d_inp = d if d_inp is None else d_inp + d
            d_out = d_inp
        return loss, {k: grads[k] for k in self.params}

    def _input_grad(self, inp, dz, mask_tm, W_ax, sparse, memo):
        """dL/dW_ax = sum_t dz<t> x<t>^T: a product for dense x, a scatter-add of columns for ids."""
        n_a = dz.shape[-1]
        if inp.dtype.kind not in "iu":
            return (dz.reshape(-1, n_a).T @ inp.reshape(-1, inp.shape[-1])).astype(
                self.dtype, copy=False
            )
        if inp.ndim == 2:  # one id a step: group the real steps by word, once
            if "groups" not in memo:
                steps = (
                    np.arange(inp.size) if mask_tm is None else np.flatnonzero(mask_tm.reshape(-1))
                )
                order, starts, unique = group_ids(inp.reshape(-1)[steps])
                memo["steps"], memo["groups"] = steps[order], (None, starts, unique)
            rows = np.take(
                dz.reshape(-1, n_a), memo["steps"], axis=0
            )  # the dz rows, sorted by word
            g = ColumnGrad.from_contributions(None, rows, W_ax.shape, memo["groups"])
        else:  # K groups: each id of a step gets that step's dz
            ids, rows = (inp, dz) if mask_tm is None else (inp[mask_tm], dz[mask_tm])
            rows = np.repeat(rows.reshape(-1, n_a), ids.shape[-1], axis=0)
            g = ColumnGrad.from_contributions(ids.reshape(-1), rows, W_ax.shape)
        return g if sparse else g.to_dense()
