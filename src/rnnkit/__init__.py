"""rnnkit: the recurrent neural network of the deeplearning.ai lecture, in NumPy.

a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a)
ŷ<t> = g2(W_ya a<t> + b_y)
"""

from rnnkit.nn.config import RNNConfig
from rnnkit.nn.gradcheck import gradcheck
from rnnkit.nn.interop import from_torch, to_torch
from rnnkit.nn.model import RNN
from rnnkit.nn.optim import SGD, Adam, clip_grad_norm, global_norm
from rnnkit.nn.sparse import ColumnGrad

__all__ = [
    "RNN",
    "SGD",
    "Adam",
    "ColumnGrad",
    "Ensemble",
    "RNNConfig",
    "Tagger",
    "TrainConfig",
    "clip_grad_norm",
    "from_torch",
    "global_norm",
    "gradcheck",
    "to_torch",
    "train",
]
__version__ = "0.1.0"


def __getattr__(name):
    # rnnkit.Tagger, rnnkit.Ensemble, rnnkit.train and rnnkit.TrainConfig are imported on first
    # use: they bring the text, storage and task modules, which the model alone (`import rnnkit`)
    # does not need.
    if name == "Tagger":
        from rnnkit.ner.tagger import Tagger

        return Tagger
    if name == "Ensemble":  # several taggers of one task decoded as one
        from rnnkit.ner.ensemble import Ensemble

        return Ensemble
    if name in ("train", "TrainConfig"):  # training from Python: the CLI is a layer over it
        from rnnkit.ner import training

        return training.train_tagger if name == "train" else training.TrainConfig
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), "Ensemble", "Tagger", "TrainConfig", "train"])
