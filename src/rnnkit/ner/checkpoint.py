"""A training run's checkpoint: everything it needs to continue bit-identically.

The data order and the random draws of every step are functions of (seed, epoch,
step), so they need no state of their own: a checkpoint holds the run's settings,
its featurizer, where it stands (`Position`) and three sets of arrays, each named
"<part>:<parameter name>":

    param:W_aa        θ, the model's parameters
    opt.m:W_aa        the optimiser's state for θ, one part per slot (Adam's m and v)
    average:W_aa      θ_avg, the moving average of the weights (with --average only)

Checkpoints written before this scheme name the optimiser's arrays "opt:m:W_aa";
`load` reads both. Parameter names never hold ":" (see `rnnkit.nn.model.param_name`).
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path

from rnnkit.errors import RnnkitError
from rnnkit.io import storage

CHECKPOINT_FILE = "checkpoint.npz"
CHECKPOINT_FORMAT = "rnnkit-checkpoint"


@dataclass
class Position:
    """Where a run stands, and what it has seen."""

    epoch: int = 0  # epochs finished
    step: int = 0  # steps done in the current epoch
    best: float = -1.0  # the best dev F1 so far
    bad_epochs: int = 0  # epochs since the best
    history: list = field(default_factory=list)  # one dict of scores per finished epoch
    # The current epoch's steps so far: a resumed run reports the whole epoch
    tokens: int = 0  # tokens trained on
    loss_sum: float = 0.0  # their loss, summed
    seconds: float = 0.0  # the time they took


@dataclass
class Checkpoint:
    """A checkpoint as read: the settings and featurizer as JSON, where the run stands, and
    the arrays (params and average keyed by parameter name; opt_state as `opt.state()` gives
    it, e.g. {"t": 12, "m/W_aa": ..., "v/W_aa": ...}; average None when the run has none)."""

    config: dict
    featurizer: dict
    position: Position
    params: dict
    opt_state: dict
    average: dict | None
    chars: dict | None = None  # the CharVocab's dict of a run with --char-hidden


def save(path, config, featurizer, model, opt, average, position, chars=None):
    """Write the run's checkpoint atomically (average: None when the run keeps none; chars: the
    CharVocab of a run that spells, None otherwise)."""
    state = opt.state()
    arrays = {f"param:{k}": v for k, v in model.params.items()}
    for key, v in state.items():
        if key != "t":
            slot, name = key.split("/", 1)  # "m/W_aa": Adam's m of W_aa
            arrays[f"opt.{slot}:{name}"] = v
    if average is not None:
        arrays.update({f"average:{k}": v for k, v in average.items()})
    meta = {
        "config": config.to_json(),
        "featurizer": featurizer.to_json(),
        **asdict(position),
        "opt_t": state["t"],
        **({} if chars is None else {"chars": chars.to_dict()}),
    }
    storage.save(path, arrays, meta, format_name=CHECKPOINT_FORMAT)


def load(path):
    """Read a checkpoint written by `save`, or by the code before its naming scheme."""
    path = Path(path)
    if not path.exists():
        raise RnnkitError(f"{path}: no checkpoint to resume from")
    arrays, meta = storage.load(path, expect_format=CHECKPOINT_FORMAT)
    parts = {"param": {}, "average": {}}
    opt_state = {"t": meta["opt_t"]}
    for key, v in arrays.items():
        part, name = key.split(":", 1)
        if part == "opt":  # the old scheme: "opt:m:W_aa"
            part, name = ("opt." + name).split(":", 1)
        if part.startswith("opt."):
            opt_state[f"{part[4:]}/{name}"] = v
        else:
            parts[part][name] = v
    position = Position(**{k: meta[k] for k in ("epoch", "step", "best", "bad_epochs", "history")})
    for k in ("tokens", "loss_sum", "seconds"):  # older checkpoints lack them: 0, as it was
        setattr(position, k, meta.get(k, getattr(position, k)))
    return Checkpoint(
        meta["config"],
        meta["featurizer"],
        position,
        parts["param"],
        opt_state,
        parts["average"] or None,
        meta.get("chars"),
    )


def restore(checkpoint, model, opt, average):
    """Put the checkpoint's arrays into the live model, optimiser and average, in place."""
    for k, p in model.params.items():
        p[...] = checkpoint.params[k]
    opt.load_state(checkpoint.opt_state)
    if average is not None:
        for k, a in average.items():
            a[...] = checkpoint.average[k]
