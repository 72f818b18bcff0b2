"""The issue's PyTorch reference for the lecture configuration, on rnnkit's data pipeline.

    python experiments/torch_reference.py [--data ../shared/data/conll2003] [--epochs 15] [--seed 0]

nn.Embedding(10,002, 100) + nn.RNN(100, 100, tanh) + nn.Linear(100, 1), binary
cross-entropy over the real tokens, Adam at 1e-3, clipping at 5, batch 32, one
thread; the same vocabulary, length-bucketed batches and scoring as rnnkit. The
epoch with the best dev F1 is selected and its test F1 printed. Needs the torch extra.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from rnnkit.data.batching import make_batches
from rnnkit.data.conll import read_conll
from rnnkit.data.features import Featurizer
from rnnkit.ner.metrics import score
from rnnkit.ner.schemes import binary_to_bio
from rnnkit.ner.tasks import TASKS


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", default="../shared/data/conll2003")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    train, dev, test = (
        read_conll(Path(args.data) / f"{s}.txt") for s in ("train", "valid", "test")
    )
    featurizer = Featurizer.build([s.tokens for s in train], groups=("word",), vocab_size=10_000)
    task = TASKS["per"]

    def ids(sentences):
        return [featurizer.encode(s.tokens)[:, 0] for s in sentences]

    emb, rnn, linear = (
        torch.nn.Embedding(featurizer.n_x, 100),
        torch.nn.RNN(100, 100, batch_first=True),
        torch.nn.Linear(100, 1),
    )
    params = [*emb.parameters(), *rnn.parameters(), *linear.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)

    def f1(sentences):
        xs, preds = ids(sentences), [None] * len(sentences)
        with torch.no_grad():
            for b in make_batches(xs, None, 256):
                p = torch.sigmoid(linear(rnn(emb(torch.from_numpy(b.x)))[0]))[..., 0].numpy()
                for row, i in enumerate(b.index):
                    preds[i] = binary_to_bio(p[row, : len(xs[i])] >= 0.5)
        return score([task.gold_tags(s.tags) for s in sentences], preds)["f1"]

    xs, ys = ids(train), [task.labels(s.tags) for s in train]
    best = (-1.0, 0, 0.0)
    for epoch in range(1, args.epochs + 1):
        for b in make_batches(xs, ys, 32, rng=np.random.default_rng([args.seed, epoch])):
            mask = torch.from_numpy(b.mask)
            logits = linear(rnn(emb(torch.from_numpy(b.x)))[0])[..., 0]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits[mask], torch.from_numpy(b.y).float()[mask]
            )
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
        dev_f1 = f1(dev)
        if dev_f1 > best[0]:
            best = (dev_f1, epoch, f1(test))
        print(f"epoch {epoch}: dev F1 {dev_f1:.4f}", flush=True)
    print(f"best dev F1 {best[0]:.4f} at epoch {best[1]}; its test F1 {best[2]:.4f}")


if __name__ == "__main__":
    main()
