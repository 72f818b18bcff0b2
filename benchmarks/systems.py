"""The two systems compared: the lecture's person-name tagger in rnnkit and in PyTorch.

Each takes the same rnnkit.data.batching batches, turned once (outside the clocks) into the
arrays it trains on: `inputs(batches)`, then `train_step`, `predict` and `predict_one` on them.
"""

import numpy as np

import rnnkit
from rnnkit.nn.optim import train_step

CLIP = 5.0
LR = 1e-3


class RnnkitSystem:
    """The lecture's RNN on word ids (W_ax x<t> is a column gather), trained with the sparse W_ax
    gradient and the lazy Adam by rnnkit's one training step."""

    name = "rnnkit"

    def __init__(self, cfg, n_a, bidirectional=False, seed=0):
        self.model = rnnkit.RNN(cfg.n_x, n_a, 1, bidirectional=bidirectional, seed=seed)
        self.opt = rnnkit.Adam(self.model.params, lr=LR)

    @staticmethod
    def inputs(batches):
        """Per batch (x (m, T) int64, y (m, T) float32, mask (m, T) bool); y in the model's dtype,
        so that no conversion is timed."""
        return [(b.x, b.y.astype(np.float32), b.mask) for b in batches]

    def train_step(self, inp):
        x, y, mask = inp
        return train_step(self.model, self.opt, x, y, mask, clip=CLIP, sparse=True)[0]

    def predict(self, inp):
        x, _, mask = inp
        return self.model.forward(x, mask)[0]

    def predict_one(self, x):
        return self.model.forward(x)[0]


def torch_system(cfg, n_a, bidirectional=False, form="padded", seed=0):
    """The PyTorch model, imported only when asked for: PyTorch is an extra."""
    from pytorch_system import PyTorchSystem

    return PyTorchSystem(cfg, n_a, bidirectional, form, seed)
