"""Is speed bought with accuracy? The lecture's model trained by rnnkit's fast path and by the
plain path from the same initial weights, with the dev F1 of each after every epoch."""

import time

import numpy as np
from systems import CLIP, LR
from workload import accuracy_data, tokens, unbucketed

import rnnkit
from rnnkit.data import batching
from rnnkit.data.features import Featurizer
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.tasks import TASKS
from rnnkit.ner.training import evaluate
from rnnkit.nn.optim import train_step

# path: (sparse W_ax gradient and lazy Adam?, how the batches of an epoch are made)
PATHS = {
    "fast": (True, batching.make_batches),
    "plain": (False, unbucketed),
}


def bench_accuracy(cfg, data_dir, log, seed=0):
    """{path: {"f1", "f1_by_epoch", "tokens_per_s"}}: the lecture's model trained by the fast and
    by the plain path."""
    train, dev = accuracy_data(cfg, data_dir)
    task = TASKS["per"]
    featurizer = Featurizer.build([s.tokens for s in train], groups=("word",), vocab_size=cfg.n_x)
    xs, ys = [featurizer.encode(s.tokens) for s in train], [task.labels(s.tags) for s in train]
    out = {}
    for path, (sparse, make_batches) in PATHS.items():
        model = rnnkit.RNN(featurizer.n_x, cfg.n_a, task.n_y, output=task.output, seed=seed)
        opt = rnnkit.Adam(model.params, lr=LR)
        n_tokens, seconds, f1s = 0, 0.0, []
        for epoch in range(cfg.accuracy_epochs):
            batches = make_batches(xs, ys, cfg.batch, np.random.default_rng([seed, epoch]))
            t = time.perf_counter()
            for b in batches:
                train_step(model, opt, b.x, b.y, b.mask, clip=CLIP, sparse=sparse)
            seconds += time.perf_counter() - t
            n_tokens += tokens(batches)
            f1s.append(evaluate(Tagger(model, featurizer, task), dev)[0]["f1"])
        out[path] = {"f1": f1s[-1], "f1_by_epoch": f1s, "tokens_per_s": n_tokens / seconds}
    log(
        "  dev F1 by epoch: "
        + "; ".join(
            f"{k} path {', '.join(f'{f:.4f}' for f in v['f1_by_epoch'])} "
            f"({v['tokens_per_s']:,.0f} tok/s)"
            for k, v in out.items()
        )
    )
    return out
