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


def torch_system(torch, cfg, n_a, bidirectional=False, form="padded", seed=0):
    """nn.Embedding(n_x, n_a) + nn.RNN(n_a, n_a) + nn.Linear, the usual way to write the lecture's
    model, fed padded batches or packed sequences."""
    nn = torch.nn
    pack, unpack = nn.utils.rnn.pack_padded_sequence, nn.utils.rnn.pad_packed_sequence
    bce = nn.functional.binary_cross_entropy_with_logits

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(cfg.n_x, n_a)
            self.rnn = nn.RNN(n_a, n_a, batch_first=True, bidirectional=bidirectional)
            self.lin = nn.Linear(n_a * (2 if bidirectional else 1), 1)

        def forward(self, x, lengths=None):
            e = self.emb(x)
            if lengths is not None:
                h, _ = self.rnn(pack(e, lengths, batch_first=True, enforce_sorted=False))
                h, _ = unpack(h, batch_first=True, total_length=x.shape[1])
            else:
                h, _ = self.rnn(e)
            return self.lin(h).squeeze(-1)

    class System:
        name = f"PyTorch ({form})"

        def __init__(self):
            torch.manual_seed(seed)
            self.model = Tagger()
            self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)
            self.params = list(self.model.parameters())
            self.packed = form == "packed"

        @staticmethod
        def inputs(batches):
            """Per batch the same arrays as tensors (sharing memory where the dtype allows)."""
            return [
                dict(
                    x=torch.from_numpy(b.x),
                    y=torch.from_numpy(b.y.astype(np.float32)),
                    mask=torch.from_numpy(b.mask.astype(np.float32)),
                    lengths=torch.from_numpy(b.lengths.astype(np.int64)),
                    tokens=int(b.mask.sum()),
                )
                for b in batches
            ]

        def train_step(self, t):
            self.opt.zero_grad(set_to_none=True)
            logits = self.model(t["x"], t["lengths"] if self.packed else None)
            loss = (bce(logits, t["y"], reduction="none") * t["mask"]).sum() / t["tokens"]
            loss.backward()
            nn.utils.clip_grad_norm_(self.params, CLIP)
            self.opt.step()
            return loss

        def predict(self, t):
            with torch.inference_mode():
                logits = self.model(t["x"], t["lengths"] if self.packed else None)
                return torch.sigmoid(logits) * t["mask"]

        def predict_one(self, x):
            with torch.inference_mode():
                return torch.sigmoid(self.model(x))

    return System()
