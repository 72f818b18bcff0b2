"""What the comparison runs on: its sizes for each mode, and the data, read, encoded and batched by
rnnkit's own data layer."""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data import batching
from rnnkit.data.conll import Sentence, read_conll
from rnnkit.data.features import Featurizer
from rnnkit.ner.tasks import TASKS

# The shared data sit beside the repository, not inside it: <repo>/../shared/data/conll2003.
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "conll2003"


@dataclass
class Settings:
    mode: str = "full"  # full, quick or tiny
    n_x: int = 10_000
    n_a: int = 100
    batch: int = 32
    infer_batch: int = 256
    latency_tokens: int = 12
    repeats: int = 3  # epochs per system and direction
    epoch_fraction: float = 1.0  # of the training batches, per timed epoch
    infer_repeats: int = 15
    latency_calls: int = 2000
    reference_sentences: int = 100
    step_T: int = 64
    scale_n_a: tuple = (50, 100, 200, 400, 800)
    scale_batch: tuple = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    scale_tokens: int = 6000  # real tokens per point of the scaling sweeps
    scale_repeats: int = 3
    memory_batches: int = 0  # 0: a full epoch
    torch_inputs: tuple = ("padded", "packed")
    accuracy_epochs: int = 8  # of the fast and the plain path, for their dev F1


def settings_for(mode):
    if mode == "quick":
        return Settings(
            mode="quick",
            repeats=3,
            epoch_fraction=0.25,
            infer_repeats=5,
            latency_calls=1000,
            reference_sentences=40,
            scale_n_a=(50, 100, 200, 400, 800),
            scale_batch=(1, 4, 16, 32, 64, 256),
            scale_tokens=2500,
            scale_repeats=1,
            memory_batches=100,
            accuracy_epochs=2,
        )
    if mode == "tiny":
        return Settings(
            mode="tiny",
            n_x=500,
            n_a=16,
            batch=8,
            infer_batch=16,
            repeats=2,
            infer_repeats=2,
            latency_calls=50,
            reference_sentences=4,
            step_T=8,
            scale_n_a=(8, 16),
            scale_batch=(1, 4),
            scale_tokens=60,
            scale_repeats=1,
            memory_batches=3,
            accuracy_epochs=1,
        )
    return Settings()


def find_data(data_dir):
    """The CoNLL-2003 folder: data_dir, or the shared one beside the repository."""
    d = Path(data_dir) if data_dir else DEFAULT_DATA
    if not (d / "train.txt").exists():
        raise SystemExit(
            f"CoNLL-2003 not found in {d}: pass --data DIR (with train.txt, valid.txt and "
            "test.txt), or --tiny"
        )
    return str(d.resolve())


def load_data(cfg, data_dir):
    """(train, test, description): lists of (ids int64 (T,), labels (T,)), read and encoded by
    rnnkit's own data layer with a vocabulary of cfg.n_x ids (the padding id, the unknown word and
    the cfg.n_x - 2 most frequent training words)."""
    if cfg.mode == "tiny":
        return synthetic(cfg, 96, seed=0), synthetic(cfg, 48, seed=1), "synthetic (--tiny)"
    d = find_data(data_dir)
    train, test = read_conll(os.path.join(d, "train.txt")), read_conll(os.path.join(d, "test.txt"))
    featurizer = Featurizer.build(
        [s.tokens for s in train], groups=("word",), vocab_size=cfg.n_x - 2
    )
    per = TASKS["per"]

    def encode(sentences):
        return [(featurizer.encode(s.tokens)[:, 0], per.labels(s.tags)) for s in sentences]

    return encode(train), encode(test), d


def synthetic(cfg, n, seed):
    """Sentences of Zipf-distributed word ids, 1..30 tokens, about 5% positive labels."""
    rng = np.random.default_rng(seed)
    out = []
    for T in rng.integers(1, 31, n):
        ids = np.minimum(rng.zipf(1.3, T), cfg.n_x) - 1
        out.append((ids.astype(np.int64), (rng.random(T) < 0.05).astype(np.int64)))
    return out


def accuracy_data(cfg, data_dir):
    """(train, dev) as Sentence lists: CoNLL-2003 train and valid, or synthetic (--tiny)."""
    if cfg.mode == "tiny":
        return [
            [
                Sentence([f"w{i}" for i in ids], ["B-PER" if y else "O" for y in labels], 0)
                for ids, labels in synthetic(cfg, n, seed)
            ]
            for n, seed in ((96, 0), (48, 1))
        ]
    d = find_data(data_dir)
    return read_conll(os.path.join(d, "train.txt")), read_conll(os.path.join(d, "valid.txt"))


def bucketed(data, size, rng=None):
    """The trainer's length-bucketed batches (rnnkit.data.batching without an rng: sorted by
    length, each longest first), in an order shuffled by rng."""
    batches = batching.make_batches([ids for ids, _ in data], [labels for _, labels in data], size)
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def unbucketed(xs, ys, size, rng):
    """The plain path's batches: sentences in random order, no length bucketing, each batch
    padded to its longest by rnnkit.data.batching."""
    order = rng.permutation(len(xs))
    chunks = (order[s : s + size] for s in range(0, len(order), size))
    return [
        batching.make_batches([xs[i] for i in idx], [ys[i] for i in idx], len(idx))[0]
        for idx in chunks
    ]


def tokens(batches):
    """Real (unpadded) tokens in the batches."""
    return sum(int(b.mask.sum()) for b in batches)
