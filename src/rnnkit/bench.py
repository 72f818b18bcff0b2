"""rnnkit against PyTorch on the lecture's person-name tagger, side by side in one run.

    rnnkit bench [--quick | --tiny] [--threads N] [--out DIR] [--markdown FILE]
    python benchmarks/bench.py ...            (the same)

The lecture's configuration: n_x = 10,000 input ids (the 9,998 most frequent
training words, the unknown word and the padding id), n_a = 100, one sigmoid output, binary
cross-entropy over the real tokens, Adam (lr 1e-3), gradient clipping by global
norm 5, batch 32, CoNLL-2003's `per` task (1 for B-PER / I-PER). PyTorch is
nn.Embedding(10,000, 100) + nn.RNN(100, 100) + nn.Linear, the usual way to write
it; rnnkit is the lecture's RNN on word ids (W_ax x<t> is a column gather), with
the sparse W_ax gradient and the lazy Adam, and its inference takes the compiled
kernel (rnnkit.nn.kernels) where Numba is installed; that kernel's products run in
SciPy's OpenBLAS, which the thread limit covers as well (the report lists both).

Both systems get the same length-bucketed batches in the same order, the same
number of threads, and are timed alternately in the same process; every figure
is a median over repeats. PyTorch is timed with padded batches and with packed
ones, and each ratio is taken against the faster of the two. Peak memory is
ru_maxrss of a separate process per system that reads the data and trains.
PyTorch is needed only for its columns; without it they are left empty.

Is speed bought with accuracy? The lecture's model is trained for some epochs
(8; 2 with --quick) by rnnkit's fast path (the sparse W_ax gradient, the lazy
Adam, length-bucketed batches, as rnnkit's trainer does) and by the plain path
(dense gradients, dense Adam, batches of sentences in random order), from the
same initial weights, and both dev F1s (CoNLL-2003 valid) are reported, with
their difference, their speeds and the dev F1 after each epoch.

--tiny uses synthetic data and small sizes (a smoke test of a few seconds);
--quick runs fewer repeats on part of an epoch.
"""

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

import rnnkit
from rnnkit.data import batching
from rnnkit.data.conll import Sentence, read_conll
from rnnkit.data.features import Featurizer
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.tasks import TASKS
from rnnkit.ner.training import evaluate
from rnnkit.nn.recurrence import rnn_forward
from rnnkit.nn.reference import reference_forward

CLIP = 5.0
LR = 1e-3

# Targets from the issue, and for the accuracy row (whose ratio is a difference of dev F1s) the
# benchmark's own: (row key, kind, bound). "min": ratio >= bound; "max": ratio <= bound; "abs": |ratio| <= bound.
TARGETS = {
    "train_uni": ("min", 3.0),
    "train_bi": ("min", 3.0),
    "infer": ("min", 3.0),
    "latency": ("max", 0.5),
    "memory": ("max", 0.35),
    "step": ("max", 1.5),
    "accuracy": ("abs", 0.02),
}


# -- settings ------------------------------------------------------------------
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
    extra: dict = field(default_factory=dict)


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


# -- data ----------------------------------------------------------------------
def find_data(data_dir):
    candidates = (
        [data_dir]
        if data_dir
        else [
            os.environ.get("RNNKIT_DATA", ""),
            os.path.join("..", "shared", "data", "conll2003"),
            os.path.join("shared", "data", "conll2003"),
            os.path.join(
                os.path.dirname(__file__), "..", "..", "..", "shared", "data", "conll2003"
            ),
        ]
    )
    for d in candidates:
        if d and os.path.exists(os.path.join(d, "train.txt")):
            return os.path.abspath(d)
    raise SystemExit(
        "CoNLL-2003 not found: pass --data DIR (with train.txt, valid.txt and test.txt), or --tiny"
    )


def load_data(cfg, data_dir):
    """(train, test, description): lists of (ids int64, labels float32), read and encoded by
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
    encode = lambda sentences: [
        (featurizer.encode(s.tokens)[:, 0], per.labels(s.tags).astype(np.float32))
        for s in sentences
    ]
    return encode(train), encode(test), d


def synthetic(cfg, n, seed):
    """Sentences of Zipf-distributed word ids, 1..30 tokens, about 5% positive labels."""
    rng = np.random.default_rng(seed)
    out = []
    for T in rng.integers(1, 31, n):
        ids = np.minimum(rng.zipf(1.3, T), cfg.n_x) - 1
        out.append((ids.astype(np.int64), (rng.random(T) < 0.05).astype(np.float32)))
    return out


@dataclass
class Batch:
    x: np.ndarray  # (m, T) int64, right-padded with 0
    y: np.ndarray  # (m, T) float32
    mask: np.ndarray  # (m, T) bool
    lengths: np.ndarray
    tokens: int
    t: dict = None  # the same batch as PyTorch tensors


def make_batches(data, size, rng=None):
    """The trainer's length-bucketed batches (rnnkit.data.batching without an rng: sorted by length,
    each longest first), in an order shuffled by rng, with the counts the timing loops use."""
    batches = []
    for b in batching.make_batches([ids for ids, _ in data], [labels for _, labels in data], size):
        lengths = b.mask.sum(axis=1)
        batches.append(Batch(b.x, b.y.astype(np.float32), b.mask, lengths, int(lengths.sum())))
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def attach_torch(batches, torch):
    for b in batches:
        b.t = dict(
            x=torch.from_numpy(b.x),
            y=torch.from_numpy(b.y),
            mask=torch.from_numpy(b.mask.astype(np.float32)),
            lengths=torch.from_numpy(b.lengths.astype(np.int64)),
        )
    return batches


# -- the two systems -----------------------------------------------------------
class RnnkitSystem:
    name = "rnnkit"

    def __init__(self, cfg, n_a, bidirectional=False, seed=0):
        self.model = rnnkit.RNN(cfg.n_x, n_a, 1, bidirectional=bidirectional, seed=seed)
        self.opt = rnnkit.Adam(self.model.params, lr=LR)

    def train_step(self, b):
        loss, grads = self.model.loss_and_grads(b.x, b.y, b.mask, sparse=True)
        rnnkit.clip_grad_norm(grads, CLIP)
        self.opt.step(grads)
        return loss

    def predict(self, b):
        return self.model.forward(b.x, b.mask)[0]

    def predict_one(self, x):
        return self.model.forward(x)[0]


def torch_system(torch, cfg, n_a, bidirectional=False, inputs="padded", seed=0):
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
        name = f"PyTorch ({inputs})"

        def __init__(self):
            torch.manual_seed(seed)
            self.model = Tagger()
            self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)
            self.params = list(self.model.parameters())
            self.packed = inputs == "packed"

        def train_step(self, b):
            t = b.t
            self.opt.zero_grad(set_to_none=True)
            logits = self.model(t["x"], t["lengths"] if self.packed else None)
            loss = (bce(logits, t["y"], reduction="none") * t["mask"]).sum() / b.tokens
            loss.backward()
            nn.utils.clip_grad_norm_(self.params, CLIP)
            self.opt.step()
            return loss

        def predict(self, b):
            with torch.inference_mode():
                t = b.t
                return (
                    torch.sigmoid(self.model(t["x"], t["lengths"] if self.packed else None))
                    * t["mask"]
                )

        def predict_one(self, x):
            with torch.inference_mode():
                return torch.sigmoid(self.model(x))

    return System()


# -- timing --------------------------------------------------------------------
def median(xs):
    return float(np.median(xs)) if len(xs) else float("nan")


def timed(fn, *args):
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def epoch_time(system, batches):
    t = time.perf_counter()
    for b in batches:
        system.train_step(b)
    return time.perf_counter() - t


def interleaved(systems, run, repeats):
    """{name: [seconds]}: each repeat runs every system once, the order alternating between repeats."""
    times = {s.name: [] for s in systems}
    for r in range(repeats):
        for s in systems if r % 2 == 0 else systems[::-1]:
            times[s.name].append(run(s))
    return times


def bench_training(cfg, train, torch, rng, log):
    """{direction: {system name: tokens/s}}."""
    batches = make_batches(train, cfg.batch, rng)
    if torch is not None:
        attach_torch(batches, torch)
    n = max(1, int(round(len(batches) * cfg.epoch_fraction)))
    epoch = batches[:n]
    tokens = sum(b.tokens for b in epoch)
    out = {}
    for direction, bi in (("uni", False), ("bi", True)):
        systems = [RnnkitSystem(cfg, cfg.n_a, bi)]
        if torch is not None:
            systems += [
                torch_system(torch, cfg, cfg.n_a, bi, inputs) for inputs in cfg.torch_inputs
            ]
        for s in systems:  # warm-up: first calls, allocator, caches
            epoch_time(s, batches[-3:])
        times = interleaved(systems, lambda s: epoch_time(s, epoch), cfg.repeats)
        out[direction] = {k: tokens / median(v) for k, v in times.items()}
        log(
            f"  training {direction}: "
            + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in out[direction].items())
            + f"  ({n} batches, {tokens:,} tokens)"
        )
    return out


def bench_inference(cfg, test, torch, log):
    batches = make_batches(test, cfg.infer_batch)
    if torch is not None:
        attach_torch(batches, torch)
    tokens = sum(b.tokens for b in batches)
    systems = [RnnkitSystem(cfg, cfg.n_a)]
    if torch is not None:
        systems += [torch_system(torch, cfg, cfg.n_a, False, inputs) for inputs in cfg.torch_inputs]

    def run(s):
        return timed(lambda: [s.predict(b) for b in batches])

    for s in systems:
        run(s)
    times = interleaved(systems, run, cfg.infer_repeats)
    out = {k: tokens / median(v) for k, v in times.items()}
    log("  inference: " + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in out.items()))
    return out


def bench_latency(cfg, test, torch, log):
    """Median seconds of one call on one sentence of cfg.latency_tokens tokens."""
    ids = next((ids for ids, _ in test if len(ids) == cfg.latency_tokens), None)
    if ids is None:
        ids = np.resize(test[0][0], cfg.latency_tokens)
    systems = [RnnkitSystem(cfg, cfg.n_a)]
    args = {systems[0].name: ids[None, :]}
    if torch is not None:
        s = torch_system(torch, cfg, cfg.n_a, False, "padded")
        s.name = "PyTorch"
        systems.append(s)
        args[s.name] = torch.from_numpy(ids[None, :])
    per_call = {s.name: [] for s in systems}
    block = 50
    for s in systems:
        for _ in range(block):
            s.predict_one(args[s.name])
    clock = time.perf_counter_ns
    for r in range(max(1, cfg.latency_calls // block)):
        for s in systems if r % 2 == 0 else systems[::-1]:
            f, x, acc = s.predict_one, args[s.name], per_call[s.name]
            for _ in range(block):
                t = clock()
                f(x)
                acc.append(clock() - t)
    out = {k: median(v) * 1e-9 for k, v in per_call.items()}
    log("  latency: " + ", ".join(f"{k} {v * 1e6:,.1f} µs" for k, v in out.items()))
    return out


def bench_step(cfg, log):
    """Seconds per step of rnnkit's recurrence against one bare product of the same shape."""
    rng = np.random.default_rng(0)
    m, n_a, T = cfg.batch, cfg.n_a, cfg.step_T
    W_aa = rnnkit.RNN(2, n_a, 1).params["W_aa"]  # the model's own layout (a view into W_a)
    z = rng.uniform(-1, 1, (T, m, n_a)).astype(np.float32)
    W_aa_T = W_aa.T
    buf = np.empty_like(z)

    def recurrence():
        rnn_forward(z, W_aa, "tanh")  # in place: re-running on its own output is fine

    def products():
        for t in range(1, T):
            np.matmul(buf[t - 1], W_aa_T, out=buf[t])

    buf[0] = z[0]
    reps = max(3, 2000 // T) if cfg.mode != "tiny" else 3
    res = {"recurrence": [], "matmul": []}
    for _ in range(7 if cfg.mode != "tiny" else 1):
        res["recurrence"].append(timed(lambda: [recurrence() for _ in range(reps)]) / (reps * T))
        res["matmul"].append(timed(lambda: [products() for _ in range(reps)]) / (reps * (T - 1)))
    out = {k: median(v) for k, v in res.items()}
    log(
        f"  recurrence step: {out['recurrence'] * 1e6:.2f} µs, bare matmul ({m}x{n_a} @ {n_a}x{n_a}) "
        f"{out['matmul'] * 1e6:.2f} µs"
    )
    return out


def bench_reference(cfg, test, rnnkit_infer, log):
    """Tokens/s of the textbook dense one-hot forward pass, one sentence at a time."""
    model = rnnkit.RNN(cfg.n_x, cfg.n_a, 1)
    sents = test[: cfg.reference_sentences]
    tokens = sum(len(ids) for ids, _ in sents)
    times = []
    for _ in range(3 if cfg.mode != "tiny" else 1):
        times.append(timed(lambda: [reference_forward(model, ids[None, :]) for ids, _ in sents]))
    out = tokens / median(times)
    log(
        f"  textbook one-hot forward: {out:,.0f} tok/s (rnnkit batched inference {rnnkit_infer:,.0f})"
    )
    return out


def accuracy_data(cfg, data_dir):
    """(train, dev) as rnnkit.data.conll.Sentence lists: CoNLL-2003 train and valid, or synthetic (--tiny)."""
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


def plain_batches(xs, ys, size, rng):
    """Batches of sentences in random order (no length bucketing), each padded to its longest."""
    order = rng.permutation(len(xs))
    batches = []
    for s in range(0, len(order), size):
        idx = order[s : s + size]
        lengths = np.array([len(xs[i]) for i in idx])
        x = np.zeros((len(idx), lengths.max()), np.int64)
        y = np.zeros(x.shape, np.int64)
        for r, i in enumerate(idx):
            x[r, : lengths[r]], y[r, : lengths[r]] = xs[i][:, 0], ys[i]
        batches.append(batching.Batch(x, y, np.arange(x.shape[1]) < lengths[:, None], idx))
    return batches


def bench_accuracy(cfg, data_dir, log, seed=0):
    """{path: {"f1", "f1_by_epoch", "tokens_per_s"}}: the lecture's model trained by the fast and by the
    plain path."""
    train, dev = accuracy_data(cfg, data_dir)
    task = TASKS["per"]
    featurizer = Featurizer.build([s.tokens for s in train], groups=("word",), vocab_size=cfg.n_x)
    xs, ys = [featurizer.encode(s.tokens) for s in train], [task.labels(s.tags) for s in train]
    out = {}
    for path in ("fast", "plain"):
        model = rnnkit.RNN(featurizer.n_x, cfg.n_a, task.n_y, output=task.output, seed=seed)
        opt = rnnkit.Adam(model.params, lr=LR)
        tokens, seconds, f1s = 0, 0.0, []
        for epoch in range(cfg.accuracy_epochs):
            rng = np.random.default_rng([seed, epoch])
            batches = (
                batching.make_batches(xs, ys, cfg.batch, rng)
                if path == "fast"
                else plain_batches(xs, ys, cfg.batch, rng)
            )
            t = time.perf_counter()
            for b in batches:
                _, grads = model.loss_and_grads(b.x, b.y, b.mask, sparse=(path == "fast"))
                rnnkit.clip_grad_norm(grads, CLIP)
                opt.step(grads)
            seconds += time.perf_counter() - t
            tokens += sum(int(b.mask.sum()) for b in batches)
            f1s.append(evaluate(Tagger(model, featurizer, task), dev)[0]["f1"])
        out[path] = {"f1": f1s[-1], "f1_by_epoch": f1s, "tokens_per_s": tokens / seconds}
    log(
        "  dev F1 by epoch: "
        + "; ".join(
            f"{k} path {', '.join(f'{f:.4f}' for f in v['f1_by_epoch'])} "
            f"({v['tokens_per_s']:,.0f} tok/s)"
            for k, v in out.items()
        )
    )
    return out


def bench_scaling(cfg, train, torch, log):
    """Rows (sweep, n_a, batch, system, tokens/s) of training throughput."""
    rows = []
    points = [("n_a", n_a, cfg.batch) for n_a in cfg.scale_n_a] + [
        ("batch", cfg.n_a, b) for b in cfg.scale_batch
    ]
    rng = np.random.default_rng(1)
    for sweep, n_a, bs in points:
        batches = make_batches(train, bs, rng)
        chosen, tokens = [], 0
        for b in batches:  # about scale_tokens real tokens, at least 3 batches
            if tokens >= cfg.scale_tokens and len(chosen) >= 3:
                break
            chosen.append(b)
            tokens += b.tokens
        if torch is not None:
            attach_torch(chosen + batches[-1:], torch)
        systems = [RnnkitSystem(cfg, n_a)]
        if torch is not None:
            s = torch_system(torch, cfg, n_a, False, "padded")
            s.name = "PyTorch"
            systems.append(s)
        for s in systems:
            epoch_time(s, batches[-1:])
        times = interleaved(systems, lambda s: epoch_time(s, chosen), cfg.scale_repeats)
        for k, v in times.items():
            rows.append(
                dict(
                    sweep=sweep,
                    n_a=n_a,
                    batch=bs,
                    system=k,
                    tokens_per_s=round(tokens / median(v), 1),
                )
            )
        log(
            f"  scaling n_a={n_a} batch={bs}: "
            + ", ".join(f"{k} {tokens / median(v):,.0f}" for k, v in times.items())
        )
    return rows


def plot_scaling(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, sweep, xlabel in (
        (axes[0], "n_a", "n_a (hidden units), batch 32"),
        (axes[1], "batch", "batch size, n_a = 100"),
    ):
        for system in sorted({r["system"] for r in rows}):
            pts = sorted(
                (r[sweep], r["tokens_per_s"])
                for r in rows
                if r["sweep"] == sweep and r["system"] == system
            )
            if pts:
                ax.plot(*zip(*pts), marker="o", label=system)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("training tokens/s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("Training throughput (Adam, one-directional, CoNLL-2003 per)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- peak memory: one process per system --------------------------------------
def memory_child(system, cfg, data_dir, threads):
    """Read the data, train (one epoch or cfg.memory_batches batches), print peak RSS in bytes."""
    torch = None
    if system == "torch":
        import torch

        torch.set_num_threads(threads)
    train, _, _ = load_data(cfg, data_dir)
    batches = make_batches(train, cfg.batch, np.random.default_rng(0))
    if cfg.memory_batches:
        batches = batches[: cfg.memory_batches]
    if torch is not None:
        attach_torch(batches, torch)
        s = torch_system(torch, cfg, cfg.n_a, False, "padded")
    else:
        s = RnnkitSystem(cfg, cfg.n_a) if system == "rnnkit" else None
    if s is not None:
        epoch_time(s, batches)
    print(json.dumps({"maxrss": peak_rss()}))


def peak_rss():
    """Peak resident memory of this process in bytes: VmHWM, which (unlike ru_maxrss on Linux) does
    not carry over the high-water mark of the parent that forked it."""
    try:
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith("VmHWM:"))
    except (OSError, StopIteration):
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def bench_memory(cfg, data_dir, threads, with_torch, log):
    out = {}
    env = dict(
        os.environ,
        **{v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
    )
    for system in ["data"] + ["rnnkit"] + (["torch"] if with_torch else []):
        cmd = [
            sys.executable,
            "-m",
            "rnnkit.bench",
            "--child",
            system,
            "--threads",
            str(threads),
            f"--{cfg.mode}",
        ]
        if data_dir:
            cmd += ["--data", data_dir]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode != 0:
            raise RuntimeError(f"memory run for {system} failed:\n{res.stderr}")
        out[system] = json.loads(res.stdout.strip().splitlines()[-1])["maxrss"]
    log("  peak memory: " + ", ".join(f"{k} {v / 2**20:,.0f} MB" for k, v in out.items()))
    return out


# -- environment and report ----------------------------------------------------
def environment(threads, torch):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    env = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rnnkit": rnnkit.__version__,
        "torch": torch.__version__ if torch is not None else "not used",
        "threads": threads,
    }
    try:
        import threadpoolctl

        env["blas"] = (
            "; ".join(
                f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture', '?')}, "
                f"{i.get('num_threads')} threads)"
                for i in threadpoolctl.threadpool_info()
                if i.get("user_api") == "blas"
            )
            or "?"
        )
    except ImportError:
        env["blas"] = "? (threadpoolctl not installed)"
    if torch is not None:
        env["torch_threads"] = torch.get_num_threads()
    env["env"] = {
        k: os.environ[k]
        for k in (
            "OPENBLAS_CORETYPE",
            "OPENBLAS_L2_SIZE",
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
        )
        if k in os.environ
    }
    return env


def fmt(v, unit):
    if v is None or not np.isfinite(v):
        return "—"
    if unit == "tok/s":
        return f"{v:,.0f} tok/s"
    if unit == "µs":
        return f"{v * 1e6:,.1f} µs"
    if unit == "MB":
        return f"{v / 2**20:,.0f} MB"
    if unit == "F1":
        return f"{v:.4f}"
    return f"{v:.3g}"


def best_torch(d):
    vals = {k: v for k, v in d.items() if k.startswith("PyTorch")}
    return max(vals.items(), key=lambda kv: kv[1]) if vals else (None, float("nan"))


def build_rows(r):
    """[(key, measure, rnnkit, other, other label, ratio, unit)]."""
    rows = []
    for key, d in (("train_uni", "uni"), ("train_bi", "bi")):
        name, t = best_torch(r["train"][d])
        rows.append(
            (
                key,
                f"training, {'one-' if d == 'uni' else 'bi'}directional (batch {r['cfg'].batch})",
                r["train"][d]["rnnkit"],
                t,
                name,
                r["train"][d]["rnnkit"] / t,
                "tok/s",
            )
        )
    name, t = best_torch(r["infer"])
    rows.append(
        (
            "infer",
            f"inference, batch {r['cfg'].infer_batch}",
            r["infer"]["rnnkit"],
            t,
            name,
            r["infer"]["rnnkit"] / t,
            "tok/s",
        )
    )
    lat = r["latency"]
    t = lat.get("PyTorch", float("nan"))
    rows.append(
        (
            "latency",
            f"latency, one {r['cfg'].latency_tokens}-token sentence",
            lat["rnnkit"],
            t,
            "PyTorch",
            lat["rnnkit"] / t,
            "µs",
        )
    )
    mem = r["memory"]
    t = mem.get("torch", float("nan"))
    rows.append(
        (
            "memory",
            "peak memory of a training run",
            mem["rnnkit"],
            t,
            "PyTorch",
            mem["rnnkit"] / t,
            "MB",
        )
    )
    st = r["step"]
    rows.append(
        (
            "step",
            f"recurrence step vs bare matmul ({r['cfg'].batch}x{r['cfg'].n_a})",
            st["recurrence"],
            st["matmul"],
            "np.matmul",
            st["recurrence"] / st["matmul"],
            "µs",
        )
    )
    rows.append(
        (
            "reference",
            "textbook one-hot forward (floor) vs rnnkit inference",
            r["reference"],
            r["infer"]["rnnkit"],
            "rnnkit",
            r["reference"] / r["infer"]["rnnkit"],
            "tok/s",
        )
    )
    fast, plain = r["accuracy"]["fast"], r["accuracy"]["plain"]
    rows.append(
        (
            "accuracy",
            f"dev F1 after {r['cfg'].accuracy_epochs} epoch(s): fast path (sparse W_ax gradient, "
            f"lazy Adam, bucketed batches; {fast['tokens_per_s']:,.0f} tok/s) vs plain",
            fast["f1"],
            plain["f1"],
            f"plain: dense gradients and Adam, random batches; {plain['tokens_per_s']:,.0f} tok/s",
            fast["f1"] - plain["f1"],
            "F1",
        )
    )
    return rows


def render(r):
    env, cfg = r["env"], r["cfg"]
    lines = [
        f"rnnkit benchmark ({cfg.mode}) — {env['cpu']}, {env['cores']} cores; python {env['python']}, "
        f"numpy {env['numpy']}, torch {env['torch']}; BLAS {env['blas']}",
        f"threads: {env['threads']} for BLAS (threadpoolctl) and torch.set_num_threads"
        + (f"; environment {env['env']}" if env["env"] else ""),
        f"data: {r['data']}; n_x = {cfg.n_x}, n_a = {cfg.n_a}, Adam lr {LR}, clip {CLIP}; medians of "
        f"{cfg.repeats} epochs"
        + (f" (each {cfg.epoch_fraction:.0%} of one)" if cfg.epoch_fraction < 1 else "")
        + f"; wall time {r['wall']:.0f} s",
        "",
        "| measure | rnnkit | compared with | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for key, measure, ours, other, label, ratio, unit in build_rows(r):
        target, met = "", ""
        if key in TARGETS:
            kind, bound = TARGETS[key]
            target = {"min": f"≥ {bound}x", "max": f"≤ {bound}x", "abs": f"Δ within ±{bound}"}[kind]
            ok = {"min": ratio >= bound, "max": ratio <= bound, "abs": abs(ratio) <= bound}[kind]
            met = "—" if not np.isfinite(ratio) else "yes" if ok else "no"
        other_s = f"{fmt(other, unit)} ({label})" if label and np.isfinite(other) else "—"
        ratio_s = (
            "—"
            if not np.isfinite(ratio)
            else f"Δ {ratio:+.4f}"
            if unit == "F1"
            else f"{ratio:.2f}x"
        )
        lines.append(
            f"| {measure} | {fmt(ours, unit)} | {other_s} | {ratio_s} | {target} | {met} |"
        )
    torch_rows = [
        f"{k} {v:,.0f}" for d in ("uni", "bi") for k, v in r["train"][d].items() if k != "rnnkit"
    ]
    if torch_rows:
        lines += [
            "",
            "PyTorch training variants (tok/s): uni "
            + ", ".join(f"{k} {v:,.0f}" for k, v in r["train"]["uni"].items() if k != "rnnkit")
            + "; bi "
            + ", ".join(f"{k} {v:,.0f}" for k, v in r["train"]["bi"].items() if k != "rnnkit"),
        ]
    lines += [
        "",
        "dev F1 by epoch: "
        + "; ".join(
            f"{path} path " + ", ".join(f"{f:.4f}" for f in v["f1_by_epoch"])
            for path, v in r["accuracy"].items()
        ),
    ]
    return "\n".join(lines)


def run(argv=None):
    ap = argparse.ArgumentParser(prog="rnnkit bench", description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true", help="fewer repeats, part of an epoch (about a minute)"
    )
    mode.add_argument(
        "--tiny", action="store_true", help="synthetic data, tiny sizes: a smoke test"
    )
    mode.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--data",
        help="folder with CoNLL-2003 train.txt, valid.txt and test.txt "
        "(default: ../shared/data/conll2003)",
    )
    ap.add_argument(
        "--threads", type=int, default=1, help="threads for BLAS and for PyTorch (default 1)"
    )
    ap.add_argument(
        "--out",
        default="bench-results",
        help="folder for the CSV, PNG and JSON (default bench-results)",
    )
    ap.add_argument("--markdown", help="also write the report as Markdown to this file")
    ap.add_argument(
        "--no-torch", action="store_true", help="leave out PyTorch even if it is installed"
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    cfg = settings_for("tiny" if args.tiny else "quick" if args.quick else "full")
    if args.child:
        return memory_child(args.child, cfg, args.data, args.threads)
    return main_run(cfg, args)


def settle():
    """Run every code path once at a tiny size, so that compiled kernels (and the libraries they
    load) are in place before the thread limits are set and the clocks start."""
    model = rnnkit.RNN(12, 4, 1, bidirectional=True)
    opt = rnnkit.Adam(model.params)
    x = np.arange(12).reshape(2, 6)
    grads = model.loss_and_grads(x, x % 2, x < 11, sparse=True)[1]
    rnnkit.clip_grad_norm(grads, CLIP)
    opt.step(grads)
    model.forward(x[:1])
    model.forward(x, x < 11)


def limit_threads(threads, torch):
    settle()
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(threads)
    except ImportError:
        pass
    if torch is not None:
        torch.set_num_threads(threads)


def main_run(cfg, args):
    start = time.perf_counter()
    log = lambda s: print(s, flush=True)
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            log("PyTorch is not installed: its columns are left empty")
    limit_threads(args.threads, torch)
    train, test, data = load_data(cfg, args.data)
    log(
        f"data: {data}: {len(train):,} training sentences ({sum(len(i) for i, _ in train):,} tokens), "
        f"{len(test):,} test sentences"
    )
    rng = np.random.default_rng(0)
    r = {"cfg": cfg, "data": data}
    r["train"] = bench_training(cfg, train, torch, rng, log)
    r["infer"] = bench_inference(cfg, test, torch, log)
    r["latency"] = bench_latency(cfg, test, torch, log)
    r["step"] = bench_step(cfg, log)
    r["reference"] = bench_reference(cfg, test, r["infer"]["rnnkit"], log)
    r["accuracy"] = bench_accuracy(cfg, args.data if cfg.mode != "tiny" else None, log)
    r["memory"] = (
        {}
        if args.no_memory
        else bench_memory(
            cfg, args.data if cfg.mode != "tiny" else None, args.threads, torch is not None, log
        )
    )
    r["memory"].setdefault("rnnkit", float("nan"))
    scaling = bench_scaling(cfg, train, torch, log)
    os.makedirs(args.out, exist_ok=True)
    csv_path, png_path = (
        os.path.join(args.out, "scaling.csv"),
        os.path.join(args.out, "scaling.png"),
    )
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["sweep", "n_a", "batch", "system", "tokens_per_s"])
        w.writeheader()
        w.writerows(scaling)
    try:
        plot_scaling(scaling, png_path)
    except ImportError:
        png_path = None
        log("matplotlib is not installed: no plot")
    r["env"] = environment(args.threads, torch)
    r["wall"] = time.perf_counter() - start
    report = render(r)
    log("")
    log(report)
    log(f"\nscaling: {csv_path}" + (f", {png_path}" if png_path else ""))
    rows = build_rows(r)
    summary = {
        "env": r["env"],
        "mode": cfg.mode,
        "rows": [
            dict(key=k, measure=m, rnnkit=a, other=b, compared_with=c, ratio=q, unit=u)
            for k, m, a, b, c, q, u in rows
        ],
        "train": r["train"],
        "infer": r["infer"],
        "latency": r["latency"],
        "memory": r["memory"],
        "step": r["step"],
        "reference": r["reference"],
        "accuracy": r["accuracy"],
        "scaling": scaling,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(summary, f, indent=1, default=float)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(report + "\n")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(report + "\n")
    return summary


def main(argv=None):
    run(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
