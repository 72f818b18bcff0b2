"""The lecture's person-name tagger written the usual way in PyTorch: nn.Embedding(n_x, n_a) +
nn.RNN(n_a, n_a) + nn.Linear, fed padded batches or packed sequences."""

import numpy as np
import torch
from systems import CLIP, LR
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Tagger(nn.Module):
    def __init__(self, n_x, n_a, bidirectional):
        super().__init__()
        self.emb = nn.Embedding(n_x, n_a)
        self.rnn = nn.RNN(n_a, n_a, batch_first=True, bidirectional=bidirectional)
        self.lin = nn.Linear(n_a * (2 if bidirectional else 1), 1)

    def forward(self, x, lengths=None):
        """x (m, T) int64, lengths (m,) to pack the sequences, or None -> logits (m, T)."""
        e = self.emb(x)
        if lengths is not None:
            packed = pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False)
            h, _ = pad_packed_sequence(
                self.rnn(packed)[0], batch_first=True, total_length=x.shape[1]
            )
        else:
            h, _ = self.rnn(e)
        return self.lin(h).squeeze(-1)


class PyTorchSystem:
    def __init__(self, cfg, n_a, bidirectional=False, form="padded", seed=0):
        self.name = f"PyTorch ({form})"
        torch.manual_seed(seed)
        self.model = Tagger(cfg.n_x, n_a, bidirectional)
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
        bce = nn.functional.binary_cross_entropy_with_logits(logits, t["y"], reduction="none")
        loss = (bce * t["mask"]).sum() / t["tokens"]
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
