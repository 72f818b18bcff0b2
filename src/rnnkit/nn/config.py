"""One model's settings, checked in one place.

`RNNConfig` is what the model is built from, what a model file's header stores
and what a training configuration holds for its model: the lecture's sizes
(n_x inputs, n_a hidden units, n_y outputs) and its choices (g, g2), plus the
depth, the directions and the options. An option that is off is None, never 0.
"""

from dataclasses import asdict, dataclass, replace

import numpy as np

ACTIVATIONS = ("relu", "tanh")  # g
OUTPUTS = ("linear", "sigmoid", "softmax")  # g2
DTYPES = ("float16", "float32", "float64")
CELLS = ("rnn", "gru")  # the lecture's RNN; the gated recurrent unit (rnnkit.nn.gru)
INIT_X_MAX = 100.0  # the widest U(-init_x, init_x) for layer 1's W_ax


@dataclass(frozen=True)
class RNNConfig:
    n_x: int
    n_a: int
    n_y: int
    activation: str = "tanh"  # g of a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a)
    output: str = "sigmoid"  # g2 of ŷ<t> = g2(W_ya a<t> + b_y)
    layers: int = 1
    bidirectional: bool = False
    dropout: float | None = None  # on each layer's output a[l] in training
    init_x: float | None = None  # W_ax of layer 1 ~ U(-init_x, init_x); None: U(-1/√n_a, 1/√n_a)
    dtype: str = "float32"
    # n_s dense inputs s<t> joined to layer 1's x<t> (a word's spelling, nn.spelling): each
    # layer-1 chain adds W_as s<t> to W_ax x<t>. None: the lecture's x<t> alone.
    n_s: int | None = None
    # "rnn": the lecture's a<t> = g(...); "gru": the gated recurrent unit (rnnkit.nn.gru),
    # whose candidate c̃<t> is a tanh, so it takes activation "tanh" only. One cell for every
    # layer, or one per layer, comma-separated ("rnn,gru": the lecture's cell under a GRU).
    cell: str = "rnn"
    # n_e: layer 1 reads e<t> = E x<t> (n_e,), a learned embedding of the one-hot x<t> (the word
    # embeddings lecture's e = E o), instead of x<t> itself: its W_ax is (n_a, n_e), and
    # W_ax E stands in for the one-hot W_ax, shared by both directions and a GRU's three blocks.
    # None: the lecture's W_ax x<t>.
    n_e: int | None = None
    # dropout on e<t> in training (n_e set): the embedding dropout of Lample et al. 2016
    embedding_dropout: float | None = None

    def __post_init__(self):
        def set_(name, value):  # normalise a field of this frozen instance
            object.__setattr__(self, name, value)

        for name in ("n_x", "n_a", "n_y", "layers", "n_s", "n_e"):
            value = getattr(self, name)
            if name in ("n_s", "n_e") and value is None:
                continue
            if isinstance(value, bool) or not _is_integer(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
            set_(name, int(value))
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {list(ACTIVATIONS)}, not {self.activation!r}"
            )
        cells = self.cell.split(",") if isinstance(self.cell, str) else [self.cell]
        if not set(cells) <= set(CELLS) or len(cells) not in (1, self.layers):
            raise ValueError(
                f"cell must be one of {list(CELLS)}, or one per layer ({self.layers}), "
                f"comma-separated, not {self.cell!r}"
            )
        if len(set(cells)) == 1:
            set_("cell", cells[0])  # "gru,gru" is "gru"
        if "gru" in cells and self.activation != "tanh":
            raise ValueError(
                "activation must be tanh for cell 'gru' (its candidate is a tanh), "
                f"not {self.activation!r}"
            )
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {list(OUTPUTS)}, not {self.output!r}")
        if not isinstance(self.bidirectional, bool | np.bool_):
            raise TypeError(f"bidirectional must be True or False, not {self.bidirectional!r}")
        set_("bidirectional", bool(self.bidirectional))
        if self.dropout is not None:
            if not _is_real(self.dropout) or not 0 <= self.dropout < 1:
                raise ValueError(f"dropout must lie in [0, 1) or be None, not {self.dropout!r}")
            set_("dropout", float(self.dropout) or None)  # 0 is off, and off is None
        if self.embedding_dropout is not None:
            p = self.embedding_dropout
            if not _is_real(p) or not 0 <= p < 1:
                raise ValueError(f"embedding_dropout must lie in [0, 1) or be None, not {p!r}")
            set_("embedding_dropout", float(p) or None)
            if self.embedding_dropout and self.n_e is None:
                raise ValueError(
                    "embedding_dropout needs an embedding E to drop from: set n_e (--n-e)"
                )
        if self.init_x is not None:
            # Beyond 100 every tanh is saturated from the start, and 1e39 would be inf in float32
            # (the loss stays finite through the saturated tanh, so only loading would notice)
            if not _is_real(self.init_x) or not 0 < self.init_x <= INIT_X_MAX:
                raise ValueError(
                    f"init_x must lie in (0, {INIT_X_MAX:g}] or be None, not {self.init_x!r}"
                )
            set_("init_x", float(self.init_x))
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            raise TypeError(f"dtype must be one of {list(DTYPES)}, not {self.dtype!r}") from None
        if dtype.name not in DTYPES:
            raise TypeError(f"dtype must be one of {list(DTYPES)}, not {dtype}")
        set_("dtype", dtype.name)

    @property
    def cells(self):
        """The cell of each layer, layer 1 first."""
        cells = self.cell.split(",")
        return tuple(cells * self.layers if len(cells) == 1 else cells)

    def gates(self, layer):
        """How many n_a-blocks the W_aa, W_ax and b_a of a chain of `layer` (1, 2, ...) stack:
        1, or 3 for the GRU's [u; r; c]."""
        return 3 if self.cells[layer - 1] == "gru" else 1

    @property
    def directions(self):
        return ("fwd", "bwd") if self.bidirectional else ("fwd",)

    def replace(self, **changes):
        return replace(self, **changes)

    def to_json(self):
        """The header's dict; n_s, n_e and embedding_dropout only where they are set and cell
        only where it is not "rnn", so that a model without them has the header it had before
        they existed (and older rnnkit still reads it)."""
        data = asdict(self)
        for name in ("n_s", "n_e", "embedding_dropout"):
            if data[name] is None:
                del data[name]
        if data["cell"] == "rnn":
            del data["cell"]
        return data

    @classmethod
    def from_json(cls, data):
        """A config from a model file's header; headers written before None meant "off" store
        dropout 0.0 (read as None here) and may lack keys that have defaults."""
        return cls(**data)


def _is_integer(value):
    return isinstance(value, int | np.integer) or (_is_real(value) and float(value).is_integer())


def _is_real(value):
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
