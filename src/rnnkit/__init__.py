"""rnnkit: the recurrent neural network of the deeplearning.ai lecture, in NumPy.

    a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a)
    ŷ<t> = g2(W_ya a<t> + b_y)
"""
from .gradcheck import gradcheck
from .interop import from_torch, to_torch
from .model import RNN
from .optim import SGD, Adam, clip_grad_norm, global_norm
from .sparse import ColumnGrad

__all__ = ["RNN", "SGD", "Adam", "ColumnGrad", "clip_grad_norm", "global_norm", "gradcheck",
           "from_torch", "to_torch"]
__version__ = "0.1.0"
