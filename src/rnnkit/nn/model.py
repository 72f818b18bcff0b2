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

With config.n_s set, layer 1 also reads a dense s<t> (m, T, n_s) beside x<t>, a word's
spelling (rnnkit.nn.spelling): x<t> is then [x<t>; s<t>] and each layer-1 chain computes
W_ax x<t> + W_as s<t>, W_as (n_a, n_s) being the columns of its W_ax for s.

With config.cell "gru" each chain is a gated recurrent unit (rnnkit.nn.gru) instead: its W_aa,
W_ax, W_as and b_a stack three n_a-blocks [u; r; c] (3 n_a rows), and it has one more
parameter, b_aa (n_a,). Everything outside the loop over time is the same code.

With config.n_e set, layer 1 reads e<t> = E x<t> (n_e,) instead of x<t>: E (n_e, n_x) is a
learned embedding of the one-hot x<t> (the word-embeddings lecture's e = E o), gathered and
summed like W_ax's columns, and layer 1's W_ax (n_a, n_e) reads it as a dense input. W_ax E takes
the place of the one-hot W_ax: n_e n_x parameters shared by both directions and a GRU's three
blocks, instead of n_a n_x for each block of each chain.
"""

from dataclasses import dataclass, field, replace

import numpy as np

from rnnkit.nn import kernels
from rnnkit.nn.activations import G2
from rnnkit.nn.config import RNNConfig
from rnnkit.nn.gru import gru_backward, gru_forward
from rnnkit.nn.losses import loss_and_dlogits
from rnnkit.nn.recurrence import rnn_backward, rnn_forward, running_rows
from rnnkit.nn.sparse import ColumnGrad, group_ids


def param_name(base, layer, direction, layers, bidirectional):
    """The lecture's name, qualified only where the model needs it:
    W_aa, W_aa[2], W_aa.bwd, W_aa[2].bwd."""
    name = base + (f"[{layer}]" if layers > 1 else "")
    return name + (f".{direction}" if bidirectional else "")


@dataclass(frozen=True, eq=False)
class Chain:
    """One layer in one direction: its W_a and the keys of its parameters in `params`."""

    layer: int  # 1..layers
    direction: str  # "fwd" (t = 1..T) or "bwd" (t = T..1)
    W_a: np.ndarray  # [W_aa | W_ax] (n_a, n_a + n_in), column-major; W_aa and W_ax view it
    W_aa: str  # "W_aa", "W_aa[2].bwd", ...
    W_ax: str
    b_a: str
    W_as: str | None = None  # layer 1 with n_s set: the columns of W_ax for s<t>
    b_aa: str | None = None  # a GRU's: the bias of its candidate's recurrent term

    @property
    def reverse(self):
        return self.direction == "bwd"


@dataclass
class ForwardCache:
    """What one forward pass keeps for backpropagation through time (arrays time-major)."""

    mask: np.ndarray | None  # (m, T) bool; None when every step is real
    mask_tm: np.ndarray | None  # (T, m) the same, time-major and contiguous
    a0: np.ndarray | None  # (m, n_a) or None (zeros)
    inputs: list = field(default_factory=list)  # layer l's: x (T, m, ...) or E x, then a[l-1]
    x: np.ndarray | None = None  # (T, m[, K]) the ids of x<t>, where layer 1 reads e<t> = E x<t>
    e_drop: np.ndarray | None = None  # (T, m, n_e) the dropout multiplier on e<t>, or None
    s: np.ndarray | tuple | None = None  # (T, m, n_s) layer 1's s<t>, (table, index (T, m)), None
    states: list = field(default_factory=list)  # layer l's a (T, m, n_a), one per chain
    drop: list = field(default_factory=list)  # layer l's dropout multiplier on a[l], or None
    top: np.ndarray | None = None  # (T, m, n_a * directions) the top layer's a, after dropout
    logits: np.ndarray | None = None  # (m, T, n_y) W_ya a<t> + b_y
    gates: dict = field(default_factory=dict)  # a GRU's, per chain: what gru_backward needs


# Up to this many gathered floats (T m K n_a) a batch's K groups are gathered at once: the array
# stays in cache, and one call costs less than K (a sentence's latency).
GATHERED_AT_ONCE = 1 << 16


FOLDED_MAX = 1 << 25  # numbers (128 MB in float32) RNN.folded may make; beyond, E stays


def _setting(name):
    return property(lambda self: getattr(self.config, name), doc=f"config.{name}")


class RNN:
    """The lecture's RNN. The default (one layer, one direction) is the lecture's model exactly.

    config: the RNNConfig it was built from (n_x, n_a, n_y, ... are read from it).
    params: dict of the live arrays (writing into them changes the model):
        W_aa (n_a, n_a), W_ax (n_a, n_x), b_a (n_a,), W_ya (n_y, n_a), b_y (n_y,),
    with names qualified by layer and direction for deeper models (see `param_name`);
    W_ax of layer l > 1 is (n_a, n_a * directions) and W_ya is (n_y, n_a * directions). A GRU
    (cell="gru") has 3 n_a rows in W_aa, W_ax, W_as and b_a, and a b_aa (n_a,) per chain.
    chains: one `Chain` per layer and direction, layer by layer, "fwd" before "bwd".
    """

    n_x, n_a, n_y = _setting("n_x"), _setting("n_a"), _setting("n_y")
    activation, output = _setting("activation"), _setting("output")
    layers, bidirectional = _setting("layers"), _setting("bidirectional")
    dropout, init_x, n_s = _setting("dropout"), _setting("init_x"), _setting("n_s")
    cell, n_e, embedding_dropout = _setting("cell"), _setting("n_e"), _setting("embedding_dropout")

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
        dropout=None,
        init_x=None,
        n_s=None,
        cell="rnn",
        n_e=None,
        embedding_dropout=None,
        seed=0,
        dtype=np.float32,
    ):
        config = RNNConfig(
            n_x,
            n_a,
            n_y,
            activation,
            output,
            layers,
            bidirectional,
            dropout,
            init_x,
            dtype,
            n_s,
            cell,
            n_e,
            embedding_dropout,
        )
        self._initialise(config, seed)

    @classmethod
    def from_config(cls, config, seed=0):
        """The model `config` describes, its weights drawn from `seed` as RNN(...) draws them."""
        if not isinstance(config, RNNConfig):
            raise TypeError(f"config must be an RNNConfig, not {type(config).__name__}")
        model = cls.__new__(cls)
        model._initialise(config, seed)
        return model

    def _initialise(self, config, seed):
        self.config = config
        self.dtype = np.dtype(config.dtype)
        rng = np.random.default_rng(seed)  # the draws' order is the models' identity: keep it
        self.params, self.chains = {}, []
        n_dirs = len(config.directions)
        for layer in range(1, config.layers + 1):
            n_in = (config.n_e or config.n_x) if layer == 1 else config.n_a * n_dirs
            for direction in config.directions:
                self.chains.append(self._initial_chain(rng, layer, direction, n_in))
        k = 1 / np.sqrt(config.n_a)
        self.params["W_ya"] = rng.uniform(-k, k, (config.n_y, config.n_a * n_dirs)).astype(
            self.dtype
        )
        self.params["b_y"] = np.zeros(config.n_y, self.dtype)
        if config.n_s is not None:  # drawn last, so that the other draws stay as they were
            for i, chain in enumerate(self.chains[:n_dirs]):
                name = param_name("W_as", 1, chain.direction, config.layers, config.bidirectional)
                shape = (config.gates(1) * config.n_a, config.n_s)
                self.params[name] = rng.uniform(-k, k, shape).astype(self.dtype)
                self.chains[i] = replace(chain, W_as=name)
        if config.n_e is not None:  # E ~ N(0, 1/n_e): a one-hot group's e<t> has unit norm
            E = rng.normal(0, 1 / np.sqrt(config.n_e), (config.n_e, config.n_x))
            self.params["E"] = np.asfortranarray(E.astype(self.dtype))  # a column: contiguous

    def _initial_chain(self, rng, layer, direction, n_in):
        """A new chain, its W_aa, W_ax and b_a ~ U(-1/√n_a, 1/√n_a) (PyTorch's nn.RNN
        initialisation) put in params; W_ax of layer 1 ~ U(-init_x, init_x) if init_x is set.
        A GRU's arrays have its three blocks' rows, and its b_aa is drawn last, likewise."""
        c, n_a = self.config, self.config.n_a
        k, rows = 1 / np.sqrt(n_a), c.gates(layer) * n_a
        W_a = np.asfortranarray(rng.uniform(-k, k, (rows, n_a + n_in)).astype(self.dtype))
        if layer == 1 and c.init_x is not None:
            W_a[:, n_a:] *= c.init_x / k
        names = [
            param_name(base, layer, direction, c.layers, c.bidirectional)
            for base in ("W_aa", "W_ax", "b_a")
        ]
        chain = Chain(layer, direction, W_a, *names)
        self.params[chain.W_aa] = W_a[:, :n_a]  # views into W_a: the compact
        self.params[chain.W_ax] = W_a[:, n_a:]  # notation is the same memory
        self.params[chain.b_a] = rng.uniform(-k, k, rows).astype(self.dtype)
        if c.cells[layer - 1] == "gru":
            chain = replace(
                chain, b_aa=param_name("b_aa", layer, direction, c.layers, c.bidirectional)
            )
            self.params[chain.b_aa] = rng.uniform(-k, k, n_a).astype(self.dtype)
        return chain

    # -- the compact notation ------------------------------------------------
    @property
    def W_a(self):
        """[W_aa | W_ax] (n_a, n_a + n_x) of the one-chain model: the memory of W_aa and W_ax."""
        if len(self.chains) != 1:
            raise AttributeError(
                "a model with several chains has one W_a per chain: use W_a_of(layer, direction)"
            )
        return self.chains[0].W_a

    def W_a_of(self, layer, direction="fwd"):
        for chain in self.chains:
            if (chain.layer, chain.direction) == (layer, direction):
                return chain.W_a
        raise KeyError(f"no chain for layer {layer} direction {direction!r}")

    def chains_of(self, layer):
        """The chains of one layer, "fwd" before "bwd": the order of their states in a[l]."""
        return [chain for chain in self.chains if chain.layer == layer]

    def folded(self):
        """The same model without its embedding, for inference: layer 1's W_ax E multiplied out
        into a one-hot W_ax (rows, n_x) per chain, W_ax (E x<t>) being (W_ax E) x<t>. It then
        gathers a column per id, as a model without E does (the compiled stack included),
        instead of gathering E's columns and multiplying by W_ax at every step. The product is
        taken in float64 and rounded once, so its outputs are this model's to rounding. The
        arrays are copies made now: a change to this model's params later does not reach them;
        and e<t>'s dropout, a training setting, is gone. A model without E is itself, and so is
        one whose folded W_ax would hold over FOLDED_MAX numbers: E saves memory where n_e is
        small against a chain's rows (a file of n_e = 1, n_a = 1,000 and a million words takes
        4 MB; folded, 8 GB)."""
        rows = sum(self.params[chain.W_ax].shape[0] for chain in self.chains_of(1))
        if self.n_e is None or rows * self.n_x > FOLDED_MAX:
            return self
        model = RNN.from_config(replace(self.config, n_e=None, embedding_dropout=None))
        E = self.params["E"].astype(np.float64)
        first = {chain.W_ax for chain in self.chains_of(1)}
        for name, p in model.params.items():
            mine = self.params[name]
            p[...] = (mine.astype(np.float64) @ E).astype(self.dtype) if name in first else mine
        return model

    # -- forward propagation -------------------------------------------------
    def forward(self, x, mask=None, a0=None, s=None, s_index=None):
        """ŷ (m, T, n_y) and the top layer's a (m, T, n_a * directions); both 0 at padded steps.
        s: (m, T, n_s) floats, layer 1's dense input beside x, for a model with n_s set. With
        s_index (m, T) ints, s is instead a table (rows, n_s) and s<t> of sequence i is its row
        s_index[i, t] (any row at padded steps): W_as s is then computed once per row, not per
        token (a batch's distinct words, rnnkit.nn.spelling)."""
        try:
            cache = self._forward(x, mask, a0, compiled=True, s=s, s_index=s_index)
        except kernels.KernelFailed:  # the optional kernel broke: NumPy gives the same answer
            cache = self._forward(x, mask, a0, s=s, s_index=s_index)
        y_hat = G2[self.output](cache.logits)
        if cache.mask is not None:
            y_hat *= cache.mask[..., None]
        return y_hat, cache.top.transpose(1, 0, 2)

    def _check_inputs(self, x, mask, a0, s=None, s_index=None):
        x = np.asarray(x)
        if x.dtype.kind in "iu":
            if x.ndim not in (2, 3):
                raise ValueError(f"id input must be (batch, T) or (batch, T, K), not {x.shape}")
            if x.ndim == 3 and x.shape[2] == 0:  # x<t> would be no one-hot at all
                raise ValueError(f"id input (batch, T, K) needs K >= 1 ids a step, not {x.shape}")
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
            if len(self.chains) != 1 or self.chains[0].b_aa is not None:
                raise ValueError("a0 is supported for the one-layer one-directional RNN")
            a0 = np.asarray(a0, dtype=self.dtype)
            if a0.shape != (m, self.n_a):
                raise ValueError(
                    f"a0 must have shape (batch, n_a) = {(m, self.n_a)}, not {a0.shape}"
                )
        if s_index is not None and s is None:
            raise ValueError("s_index goes with s, the table of rows it indexes")
        if (s is None) != (self.n_s is None):
            raise ValueError(
                "this model has no dense input s (n_s is None)"
                if s is not None
                else f"this model reads a dense s<t> (n_s = {self.n_s}) beside x: give s"
            )
        if s is not None and s_index is not None:  # a table of rows and each step's row
            return x, mask, a0, self._check_table(s, s_index, m, T)
        if s is not None:
            s = np.asarray(s)
            if s.dtype.kind != "f" or s.shape != (m, T, self.n_s):
                raise ValueError(
                    f"s must hold floats of shape (batch, T, n_s) = {(m, T, self.n_s)}, "
                    f"not {s.dtype} {s.shape}"
                )
            s = np.swapaxes(s.astype(self.dtype, copy=False), 0, 1)  # (T, m, n_s)
        return x, mask, a0, s

    def _check_table(self, table, index, m, T):
        """(table (rows, n_s), index (T, m)) time-major, checked."""
        table, index = np.asarray(table), np.asarray(index)
        if table.dtype.kind != "f" or table.ndim != 2 or table.shape[1] != self.n_s:
            raise ValueError(
                f"with s_index, s must be a float table (rows, n_s = {self.n_s}), "
                f"not {table.dtype} {table.shape}"
            )
        if index.dtype.kind not in "iu" or index.shape != (m, T):
            raise ValueError(
                f"s_index must hold ints of shape (batch, T) = {(m, T)}, "
                f"not {index.dtype} {index.shape}"
            )
        return table.astype(self.dtype, copy=False), np.ascontiguousarray(index.T)

    def _check_ranges(self, x, s):
        """Refuse ids outside [0, n_x) and spelling rows outside the table (s: ForwardCache.s).
        Apart from _check_inputs: the compiled stack checks them as it reads them, and this runs
        before anything else reads them (NumPy's take would wrap a negative id)."""
        if x.dtype.kind in "iu" and x.size and (x.min() < 0 or x.max() >= self.n_x):
            raise ValueError(f"ids must lie in [0, n_x = {self.n_x})")
        if isinstance(s, tuple):
            table, index = s
            if index.size and (index.min() < 0 or index.max() >= len(table)):
                raise ValueError(f"s_index must lie in [0, {len(table)}), the rows of s")

    def _input_term(self, W_ax, b_a, x_tm):
        """W_ax x<t> + b_a for every step at once: (T, m, n_a)."""
        z = self._gather(W_ax, x_tm)
        z += b_a
        return z

    @staticmethod
    def _gather(W_ax, x_tm):
        """W_ax x<t> for every step at once (a new array): the sum of the columns of x<t>'s ids,
        or a product for dense x."""
        if x_tm.dtype.kind in "iu":
            if x_tm.ndim == 2 or x_tm.size * W_ax.shape[0] <= GATHERED_AT_ONCE:
                z = np.take(W_ax.T, x_tm, axis=0)  # column gather: (T, m, n_a) or (T, m, K, n_a)
                if z.ndim == 4:
                    z = z.sum(axis=2)  # over K, in order: n_a is the contiguous axis
            else:
                # A batch of K groups: a gather per group, added in order. The same sums as
                # gathering all K into (T, m, K, n_a) and summing over K, without that array,
                # whose K x n_a floats a token leave the cache (about 3x faster here on
                # CoNLL-2003's batches with the shipped models' 9 groups).
                z = np.take(W_ax.T, x_tm[..., 0], axis=0)
                for k in range(1, x_tm.shape[2]):
                    z += np.take(W_ax.T, x_tm[..., k], axis=0)
        else:
            z = x_tm @ W_ax.T
        return z

    def _forward(
        self, x, mask=None, a0=None, dropout_rng=None, compiled=False, s=None, s_index=None
    ):
        """The ForwardCache of one pass: every layer's states, the logits (m, T, n_y), the mask.

        compiled: let the loops over time take the Numba kernel where it applies (inference
        only, so that training never loads Numba). s_index: see `forward` (the cache then
        holds s as (table, index), not per step)."""
        x, mask, a0, s_tm = self._check_inputs(x, mask, a0, s, s_index)
        x_tm = np.swapaxes(x, 0, 1)  # (T, m, ...) time-major
        mask_tm = None if mask is None else np.ascontiguousarray(mask.T)
        cache = ForwardCache(mask, mask_tm, a0, s=s_tm)
        rows = self._kernel_rows(x_tm, mask_tm, a0) if compiled and dropout_rng is None else None
        T, m = x_tm.shape[:2]
        if rows is not None and self._stacks(x_tm):
            stacked = self._stack_forward(x_tm, cache.s, rows)
            if stacked is not None:  # None: an id or row out of range, which the next line names
                logits, top = stacked
                cache.top = top[0] if len(top) == 1 else np.concatenate(top, axis=-1)
                cache.logits = logits.transpose(1, 0, 2)
                return cache
        self._check_ranges(x, cache.s)
        if self.n_e is not None:  # layer 1 reads e<t> = E x<t>, a dense input
            if x_tm.dtype.kind not in "iu":
                raise ValueError("a model with an embedding E (n_e set) reads ids, not floats")
            cache.x, x_tm = x_tm, self._gather(self.params["E"], x_tm)
            cache.e_drop = self._dropout(x_tm.shape, dropout_rng, self.embedding_dropout)
            if cache.e_drop is not None:
                x_tm *= cache.e_drop
        W_ya, b_y = self.params["W_ya"], self.params["b_y"]
        logits = None
        if rows is not None:  # the kernel adds W_ya a<t> to them as it goes
            logits = np.empty((T, m, self.n_y), self.dtype)
            logits[...] = b_y
        inp = x_tm
        for layer in range(1, self.layers + 1):
            top_logits = logits if layer == self.layers else None
            states = [
                self._chain_forward(chain, inp, cache, rows, top_logits)
                for chain in self.chains_of(layer)
            ]
            out = states[0] if len(states) == 1 else np.concatenate(states, axis=-1)
            drop = self._dropout(out.shape, dropout_rng, self.dropout)
            cache.inputs.append(inp)
            cache.states.append(states)
            cache.drop.append(drop)
            inp = out if drop is None else out * drop
        cache.top = inp  # (T, m, n_a * directions)
        if rows is None:  # one product for all steps
            logits = (inp.reshape(T * m, inp.shape[-1]) @ W_ya.T + b_y).reshape(T, m, self.n_y)
        cache.logits = logits.transpose(1, 0, 2)  # (m, T, n_y)
        return cache

    def _chain_forward(self, chain, inp, cache, rows, logits):
        """a (T, m, n_a) of one chain on its layer's input (T, m, ...). rows: n<t> for the
        compiled kernel, or None for NumPy; logits (T, m, n_y): the kernel adds this chain's part
        of W_ya a<t> to them (the top layer only)."""
        W_aa, W_ax, b_a = self.params[chain.W_aa], self.params[chain.W_ax], self.params[chain.b_a]
        s_term = None if chain.W_as is None else self._s_term(cache.s, self.params[chain.W_as])
        gru = chain.b_aa is not None
        if rows is None or gru:  # z<t> in NumPy (the RNN's kernel gathers its own)
            z = self._input_term(W_ax, b_a, inp)
            if s_term is not None:
                z += s_term
        if rows is None:
            if gru:
                a, cache.gates[chain] = gru_forward(
                    z, W_aa, self.params[chain.b_aa], cache.mask_tm, chain.reverse
                )
                return a
            return rnn_forward(z, W_aa, self.activation, cache.mask_tm, cache.a0, chain.reverse)
        W_ya = None
        if logits is not None:  # the chain's columns of W_ya = [W_ya→ | W_ya←]
            cols = slice(self.n_a, None) if chain.reverse else slice(0, self.n_a)
            W_ya = self.params["W_ya"][:, cols]
        if gru:
            b_aa = self.params[chain.b_aa]
            return kernels.gru_forward(z, W_aa, b_aa, rows, chain.reverse, W_ya, logits)
        return kernels.rnn_forward(
            inp, W_ax, b_a, W_aa, self.activation, rows, chain.reverse, W_ya, logits, s_term
        )

    def _stacks(self, x_tm):
        """Whether kernels.stack_forward takes the whole model: word ids, at most two layers,
        layer 1's W_ax stored column-major (as RNN and the model files keep it, so that W_ax^T
        is passed without a copy)."""
        return (
            x_tm.dtype.kind in "iu"
            and self.n_e is None  # an embedding's e<t> is dense
            and self.cell == "rnn"  # a GRU's chains are compiled one at a time
            and self.layers <= 2
            and all(self.params[c.W_ax].T.flags.c_contiguous for c in self.chains_of(1))
        )

    def _stack_forward(self, x_tm, s, rows):
        """kernels.stack_forward of this model on x_tm (T, m[, K]) and s (see ForwardCache.s)."""
        p, (T, m), n_a = self.params, x_tm.shape[:2], self.n_a
        ids = (x_tm if x_tm.ndim == 3 else x_tm[..., None]).astype(np.intp, copy=False)

        def layer(chains):
            return (
                tuple(np.ascontiguousarray(p[c.W_ax].T) for c in chains),
                tuple(p[c.b_a] for c in chains),
                tuple(np.ascontiguousarray(p[c.W_aa].T) for c in chains),
            )

        first = self.chains_of(1)
        if s is None:  # no spelling: empty tables
            S, s_rows = (
                tuple(np.empty((0, n_a), self.dtype) for _ in first),
                np.empty((0, 0), np.intp),
            )
        else:
            table, s_rows = s if isinstance(s, tuple) else (s.reshape(T * m, self.n_s), None)
            if s_rows is None:  # a dense s<t>: each token its own row
                s_rows = np.arange(T * m).reshape(T, m)
            S = tuple(np.dot(table, p[c.W_as].T) for c in first)
        if self.layers == 2:
            second = layer(self.chains_of(2))
        else:  # the kernel's types take a second layer; empty arrays say there is none
            empty, none = np.empty((0, n_a), self.dtype), np.empty(0, self.dtype)
            second = ((empty,) * len(first), (none,) * len(first), (empty,) * len(first))
        return kernels.stack_forward(
            ids, rows, self.activation, layer(first), S, s_rows, second, p["W_ya"], p["b_y"]
        )

    @staticmethod
    def _s_term(s, W_as):
        """W_as s<t> (T, m, n_a), a new array: the columns of W_ax for s<t>, in one product for
        every step, or for every row of a (table, index) pair, then looked up at each step."""
        # np.dot, not @: for these small products matmul's dispatch costs more than the sums
        if isinstance(s, tuple):
            table, index = s
            return np.take(np.dot(table, W_as.T), index, axis=0)
        return np.dot(s, W_as.T)

    def _dropout(self, shape, dropout_rng, p):
        """Inverted dropout's multiplier (0 or 1/(1-p)) for a layer's output or e<t>, or None if
        off."""
        if dropout_rng is None or p is None:
            return None
        return (dropout_rng.random(shape) >= p).astype(self.dtype) / (1 - p)

    def _kernel_rows(self, x_tm, mask_tm, a0):
        """n<t> (T,) for kernels.rnn_forward if it can take this batch (Numba installed,
        float32, no a0, unpadded or longest first) and loading it pays, else None."""
        if not kernels.available or self.dtype != np.float32 or a0 is not None:
            return None
        T, m = x_tm.shape[:2]
        rows = [m] * T if mask_tm is None else running_rows(mask_tm)
        if rows is None or not kernels.wanted(T):
            return None
        return np.array(rows, np.intp)

    # -- backpropagation through time ----------------------------------------
    def loss_and_grads(
        self, x, y, mask=None, *, sparse=False, dropout_rng=None, loss_fn=None, s=None
    ):
        """The mean per-step loss over real steps and its gradient for every parameter.

        grads has the keys and shapes of params. With sparse=True and id inputs, the
        first layer's W_ax gradients are `ColumnGrad`s holding only the columns used.
        dropout_rng: a numpy Generator to train with dropout; None evaluates without.
        loss_fn(logits (m, T, n_y), y, mask (m, T) bool or None) -> (loss, dL/dlogits, grads of
        the parameters it adds to params, e.g. a CRF's) replaces the output's own loss; those
        gradients are returned with the model's own.
        s: layer 1's dense input (m, T, n_s) for a model with n_s set; then a third value is
        returned, dL/ds (m, T, n_s), to carry backpropagation on into what made s.
        """
        cache = self._forward(x, mask, dropout_rng=dropout_rng, s=s)
        m, T = cache.logits.shape[:2]
        mask = cache.mask
        if loss_fn is None:
            step_mask = np.ones((m, T), self.dtype) if mask is None else mask.astype(self.dtype)
            loss, dlogits = loss_and_dlogits(cache.logits, y, step_mask, self.output)
            head_grads = {}
        else:
            loss, dlogits, head_grads = loss_fn(cache.logits, y, mask)
        grads, d_out = self._output_backward(dlogits, cache.top)
        grads.update(head_grads)
        memo = {}  # the grouping of the word ids, shared by both directions
        for layer in range(self.layers, 0, -1):
            d_out = self._layer_backward(layer, d_out, cache, grads, sparse, memo)
        grads = {**{k: grads[k] for k in self.params}, **head_grads}
        if s is None:
            return loss, grads
        return loss, grads, d_out.transpose(1, 0, 2)  # layer 1 returned dL/ds<t>

    def _output_backward(self, dlogits, top):
        """From dL/dlogits (m, T, n_y) and the top layer's a (T, m, n_top): the gradients of
        W_ya and b_y, and dL/d(top) (T, m, n_top)."""
        T, m, n_top = top.shape
        dlogits_tm = np.ascontiguousarray(dlogits.transpose(1, 0, 2))  # (T, m, n_y)
        grads = {
            "W_ya": dlogits_tm.reshape(-1, self.n_y).T @ top.reshape(-1, n_top),
            "b_y": dlogits_tm.sum(axis=(0, 1)),
        }
        W_ya = self.params["W_ya"]
        if self.n_y == 1:  # an outer product for one output
            d_top = dlogits_tm * W_ya[0]
        else:
            d_top = (dlogits_tm.reshape(-1, self.n_y) @ W_ya).reshape(T, m, n_top)
        return grads, d_top

    def _layer_backward(self, layer, d_out, cache, grads, sparse, memo):
        """Backpropagation through time for the chains of one layer, from dL/d a[l] (T, m,
        n_a * directions): their gradients go into grads; returns dL/d a[l-1], the gradient of
        the layer's input (for layer 1, whose input is x: dL/ds (T, m, n_s), or None without s;
        where layer 1 reads e<t> = E x<t>, dL/de<t> gives E its gradient here)."""
        drop = cache.drop[layer - 1]
        if drop is not None:
            d_out = d_out * drop
        chains, inp = self.chains_of(layer), cache.inputs[layer - 1]
        if len(chains) == 1:
            parts = [d_out]
        else:  # dL/da→ and dL/da←
            parts = [np.array(p) for p in np.split(d_out, len(chains), axis=-1)]
        d_inp = d_s = None
        for chain, a, da in zip(chains, cache.states[layer - 1], parts):
            W_aa, W_ax = self.params[chain.W_aa], self.params[chain.W_ax]
            if chain.b_aa is not None:  # a GRU
                dz, grads[chain.W_aa], grads[chain.b_aa] = gru_backward(
                    da, a, cache.gates[chain], W_aa, chain.reverse
                )
            else:
                dz, grads[chain.W_aa], _ = rnn_backward(
                    da, a, W_aa, self.activation, cache.mask_tm, cache.a0, reverse=chain.reverse
                )
            n_z = dz.shape[-1]  # n_a, or 3 n_a for a GRU
            grads[chain.b_a] = dz.reshape(-1, n_z).sum(axis=0)
            grads[chain.W_ax] = self._input_grad(inp, dz, cache.mask_tm, W_ax, sparse, memo)
            if chain.W_as is not None:  # dL/dW_as = sum_t dz<t> s<t>^T
                s_2d = cache.s.reshape(-1, self.n_s)
                grads[chain.W_as] = dz.reshape(-1, n_z).T @ s_2d
                d_s = _plus(d_s, _times(dz, self.params[chain.W_as]))  # dL/ds<t> = W_as^T dz<t>
            # a dense input's gradient, summed over the chains: dL/d a[l-1]<t> = W_ax^T dz<t>
            # above layer 1, dL/de<t> = W_ax^T dz<t> in layer 1 where it reads e<t> = E x<t>
            if layer > 1 or cache.x is not None:
                d_inp = _plus(d_inp, _times(dz, W_ax))
        if layer > 1:
            return d_inp
        if cache.x is not None:  # dL/dE = sum_t dL/de<t> x<t>^T: E's columns, as for W_ax
            if cache.e_drop is not None:
                d_inp *= cache.e_drop
            grads["E"] = self._input_grad(
                cache.x, d_inp, cache.mask_tm, self.params["E"], sparse, memo
            )
        return d_s

    def _input_grad(self, inp, dz, mask_tm, W_ax, sparse, memo):
        """dL/dW_ax = sum_t dz<t> x<t>^T: a product for dense x, a scatter-add of columns
        for ids."""
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
            rows = np.take(dz.reshape(-1, n_a), memo["steps"], axis=0)  # dz rows sorted by word
            g = ColumnGrad.from_contributions(None, rows, W_ax.shape, memo["groups"])
        else:  # K groups: each id of a step gets that step's dz
            ids, rows = (inp, dz) if mask_tm is None else (inp[mask_tm], dz[mask_tm])
            rows = np.repeat(rows.reshape(-1, n_a), ids.shape[-1], axis=0)
            g = ColumnGrad.from_contributions(ids.reshape(-1), rows, W_ax.shape)
        return g if sparse else g.to_dense()


def _times(dz, W):
    """W^T dz<t> for every step: (T, m, n) from dz (T, m, rows) and W (rows, n)."""
    T, m, rows = dz.shape  # spelled out: -1 cannot be inferred for an empty batch
    return (dz.reshape(T * m, rows) @ W).reshape(T, m, W.shape[1])


def _plus(total, term):
    return term if total is None else total + term
