"""A training run's settings, checked before any work: `TrainConfig`.

The model's own settings (MODEL_FIELDS) are RNNConfig's and are checked there, once; the
options of training (rates, sizes, the schedule, the tag set) are checked here. None means
"off" for every option; 0 is read as off too, as the command line always took it.
"""

import math
import os
from dataclasses import asdict, dataclass

import numpy as np

from rnnkit.data.features import GROUPS
from rnnkit.errors import RnnkitError
from rnnkit.ner.tasks import check_settings
from rnnkit.nn.config import RNNConfig

# The model's settings a run chooses: RNNConfig's fields but the sizes n_x and n_y, which
# the features and the task give, the output g2, which the task gives, and the dtype.
MODEL_FIELDS = (
    "n_a", "activation", "init_x", "layers", "bidirectional", "dropout", "cell", "n_e",
    "embedding_dropout",
)  # fmt: skip
# Options that are off at 0 as well as at None; a config holds None for off.
OFF_AT_ZERO = (
    "word_dropout",
    "unk_alpha",
    "feature_dropout",
    "entity_dropout",
    "case_augment",
    "average",
    "lr_decay",
)
# Arrays of the parameters' size a run holds: θ, its gradient, Adam's m and v (and θ_avg).
COPIES = 4
# The settings that are counts, and those that are rates or scales (the model's own, n_a and
# dropout among them, are checked by RNNConfig)
WHOLE = (
    "vocab", "lower_vocab", "affix_vocab", "char_hidden", "epochs", "batch", "patience", "seed",
)  # fmt: skip
REAL = (
    "word_dropout", "unk_alpha", "feature_dropout", "entity_dropout", "case_augment", "average",
    "lr", "lr_decay", "clip",
)  # fmt: skip


@dataclass
class TrainConfig:
    """A run's settings; None means "off". The model's (MODEL_FIELDS) are checked by
    RNNConfig, once, when the config is made; the rest are checked here."""

    task: str = "per"
    features: tuple = ("word",)  # ("word",) is the lecture's one-hot input
    vocab: int = 10_000
    lower_vocab: int | None = None  # size of the `lower` group's vocabulary (None: vocab)
    affix_vocab: int = 1000  # size of each prefix/suffix group's vocabulary
    n_a: int = 100
    activation: str = "tanh"
    init_x: float | None = None  # W_ax of layer 1 ~ U(-init_x, init_x); None: 1/sqrt(n_a)
    layers: int = 1
    bidirectional: bool = False
    dropout: float | None = None  # on each layer's output a[l] in training
    cell: str = "rnn"  # "rnn": the lecture's; "gru": the gated recurrent unit (rnnkit.nn.gru)
    n_e: int | None = None  # layer 1 reads e<t> = E x<t> of n_e units; None: x<t> itself
    embedding_dropout: float | None = None  # dropout on e<t> in training (with n_e)
    char_hidden: int | None = None  # n_c of the character RNN (nn.spelling); None: no spelling
    word_dropout: float | None = None  # chance that a training word is shown as UNK
    unk_alpha: float | None = None  # and, on top, α / (α + count(word)): rare words more often
    feature_dropout: float | None = None  # chance that each other group's id is its UNK
    entity_dropout: float | None = None  # chance that a word inside a gold entity is UNK
    case_augment: float | None = None  # share of sentences shown lower-, upper- or title-cased
    average: float | None = None  # β of an exponential moving average of the weights
    epochs: int = 30
    batch: int = 32
    lr: float = 1e-3  # Adam
    lr_decay: float | None = None  # lr / (1 + lr_decay * epoch)
    clip: float = 5.0  # global gradient norm
    patience: int = 5  # epochs without a better dev F1 before stopping
    seed: int = 0
    scheme: str | None = None  # the files' tag scheme (None: detected in each file)
    model_scheme: str | None = None  # the scheme the model learns (None: IOB2, or the file's)
    types: str | None = None  # "PER,LOC": the entity types kept (the rest become O)
    type_map: str | None = None  # "PERSON=PER,person=PER": types renamed as they are read
    output: str | None = None  # "crf": a CRF on the RNN (bio, tags); None: the task's own
    select: str | None = None  # the dev file (as given) that chooses the model; None: the mean
    show: str | None = None  # "PER": the types the model prints (it learns all); None: all

    def __post_init__(self):
        """Every setting is checked here, before any work: a bad one fails in an instant,
        not after an epoch (NaN and ±inf included)."""
        check_settings(self)  # the task's: task, scheme, model_scheme, types, type_map, output
        if isinstance(self.features, str):  # "word,shape", as --features takes it
            self.features = self.features.split(",")
        self.features = tuple(self.features)
        self._normalise_numbers()
        groups = set(self.features)
        if not groups or len(groups) != len(self.features) or not groups <= set(GROUPS):
            raise RnnkitError(
                f"--features must be distinct names from {', '.join(GROUPS)}, "
                f"not {','.join(self.features) or 'none'}"
            )
        if self.char_hidden is not None and self.char_hidden < 0:
            raise RnnkitError(f"--char-hidden must not be negative, not {self.char_hidden}")
        if self.char_hidden is not None:
            self.char_hidden = self.char_hidden or None  # 0 is off
        for name in ("vocab", "affix_vocab", "epochs", "batch", "patience"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"--{name.replace('_', '-')} must be at least 1")
        if self.lower_vocab is not None and self.lower_vocab < 1:
            raise RnnkitError("--lower-vocab must be at least 1")
        if self.seed < 0:  # NumPy's generators take none
            raise RnnkitError(f"--seed must not be negative, not {self.seed}")
        for name in ("word_dropout", "feature_dropout", "entity_dropout", "average"):
            if getattr(self, name) is not None and not 0 <= getattr(self, name) < 1:
                raise RnnkitError(
                    f"--{name.replace('_', '-')} must lie in [0, 1), not {getattr(self, name)}"
                )
        if self.case_augment is not None and not 0 <= self.case_augment <= 1:
            raise RnnkitError(f"--case-augment must lie in [0, 1], not {self.case_augment}")
        _check_number("lr", self.lr, positive=True)
        _check_number("clip", self.clip, positive=True)
        _check_number("lr_decay", self.lr_decay, positive=False)  # < 0: the lr would turn
        _check_number("unk_alpha", self.unk_alpha, positive=False)
        for name in OFF_AT_ZERO:
            if getattr(self, name) == 0:
                setattr(self, name, None)
        model = self.rnn_config(n_x=1, n_y=1)  # n_x and n_y come later, from the data
        for name in MODEL_FIELDS:  # as RNNConfig holds them: dropout 0 is None, and so on
            setattr(self, name, getattr(model, name))
        self.check_memory(model, inputs_known=False)

    def _normalise_numbers(self):
        """Counts as int and rates as float, whatever type they came in (np.int64(4) from an
        array, 2.0 from JSON), so that they are stored as JSON; a count of 1.5 or True, or a rate
        given as a string, is refused by name."""
        for name in WHOLE:
            value = getattr(self, name)
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float | np.integer | np.floating)
                or not math.isfinite(value)
                or not float(value).is_integer()
            ):
                raise RnnkitError(
                    f"--{name.replace('_', '-')} must be a whole number, not {value!r}"
                )
            setattr(self, name, int(value))
        for name in REAL:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(
                value, int | float | np.integer | np.floating
            ):
                raise RnnkitError(f"--{name.replace('_', '-')} must be a number, not {value!r}")
            setattr(self, name, float(value))

    def rnn_config(self, n_x, n_y, output="sigmoid"):
        """The run's model configuration, for n_x inputs and n_y outputs."""
        try:
            return RNNConfig(
                n_x, n_y=n_y, output=output, **{k: getattr(self, k) for k in MODEL_FIELDS}
            )
        except (TypeError, ValueError) as e:
            name, _, rest = str(e).partition(" ")  # "init_x must be ...": say the option
            if name in MODEL_FIELDS:
                e = f"--{name.replace('_', '-')} {rest}"
            raise RnnkitError(f"bad model setting: {e}") from None

    def check_memory(self, model, inputs_known=True):
        """Refuse a model (RNNConfig) whose parameters, with their gradients and the
        optimiser's state, would not fit in this machine's memory, before allocating any.
        Before the data are read n_x is not known: the check counts the rest."""
        n_in = [model.n_e or model.n_x] + [model.n_a * len(model.directions)] * (model.layers - 1)
        per_chain = [  # W_aa, W_ax, b_a (a GRU's three blocks of each, and its b_aa)
            model.gates(layer) * model.n_a * (model.n_a + n + 1)
            + (model.gates(layer) > 1) * model.n_a
            for layer, n in enumerate(n_in, 1)
        ]
        n_params = sum(per_chain) * len(model.directions)
        n_params += model.n_y * (model.n_a * len(model.directions) + 1)  # W_ya, b_y
        n_params += (model.n_e or 0) * model.n_x  # E
        if n_c := self.char_hidden:  # the character RNN (its characters counted as 1,000)
            n_params += 2 * n_c * (n_c + 1000 + 1)
            n_params += len(model.directions) * model.gates(1) * model.n_a * 2 * n_c  # W_as
        needed = n_params * np.dtype(model.dtype).itemsize * (COPIES + bool(self.average))
        available = physical_memory()
        if available is not None and needed > available:
            raise RnnkitError(
                f"--n-a {model.n_a} with --layers {model.layers}"
                + (f", --char-hidden {self.char_hidden}" if self.char_hidden else "")
                + (f", --n-e {model.n_e}" if model.n_e else "")
                + (f" and {model.n_x:,} inputs makes " if inputs_known else " makes at least ")
                + f"{n_params:,} parameters, which with their gradients and the "
                f"optimiser's state need {needed / 2**30:,.1f} GiB; this machine has "
                f"{available / 2**30:,.1f} GiB"
            )

    def to_json(self):
        return {**asdict(self), "features": list(self.features)}

    @classmethod
    def from_json(cls, data):
        """The config a checkpoint stores. Checkpoints written before None meant "off" hold 0
        for off (where 0 is not a value, too: init_x, lower_vocab, n_e) and an unused "extra"."""
        data = {k: v for k, v in data.items() if k != "extra"}
        off = ("init_x", "lower_vocab", "n_e", "scheme", "model_scheme", "types", "type_map")
        off += ("output", "select", "show")
        for name in off:
            if data.get(name) == 0:
                data[name] = None
        return cls(**data)


def _check_number(name, value, positive):
    """A setting that must be a finite number, > 0 (positive) or >= 0; None passes."""
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise RnnkitError(f"--{name.replace('_', '-')} must be a finite {kind} number, not {value}")


def physical_memory():
    """This machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
