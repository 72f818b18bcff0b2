"""rnnkit against PyTorch on the lecture's person-name tagger, side by side in one run.

    python benchmarks/compare_torch.py [--quick | --tiny] [--data DIR] [--threads N] [--out DIR]
                                       [--markdown FILE]

The lecture's configuration: n_x = 10,000 input ids (the 9,998 most frequent
training words, the unknown word and the padding id), n_a = 100, one sigmoid output, binary
cross-entropy over the real tokens, Adam (lr 1e-3), gradient clipping by global
norm 5, batch 32, CoNLL-2003's `per` task (1 for B-PER / I-PER). PyTorch is
nn.Embedding(10,000, 100) + nn.RNN(100, 100) + nn.Linear, the usual way to write
it; rnnkit is the lecture's RNN on word ids (W_ax x<t> is a column gather), trained by its one
training step (rnnkit.nn.optim.train_step) with the sparse W_ax gradient and the lazy Adam, and
its inference takes the compiled kernel (rnnkit.nn.kernels) where Numba is installed; that
kernel's products run in SciPy's OpenBLAS, which the thread limit covers as well (the report
lists both).

Both systems get the same length-bucketed batches (rnnkit.data.batching) in the same order, the
same number of threads, and are timed alternately in the same process; every figure
is a median over repeats. PyTorch is timed with padded batches and with packed
ones, and each ratio is taken against the faster of the two. Peak memory is
the high-water mark of a separate process per system that reads the data and trains.
PyTorch is needed only for its columns; without it they are left empty.

Is speed bought with accuracy? The lecture's model is trained for some epochs
(8; 2 with --quick) by rnnkit's fast path (the sparse W_ax gradient, the lazy
Adam, length-bucketed batches, as rnnkit's trainer does) and by the plain path
(dense gradients, dense Adam, batches of sentences in random order), from the
same initial weights, and both dev F1s (CoNLL-2003 valid) are reported, with
their difference, their speeds and the dev F1 after each epoch.

The data: --data DIR, or ../shared/data/conll2003 beside the repository.
--tiny uses synthetic data and toy sizes: a smoke test of the harness, not a measurement;
--quick runs fewer repeats on part of an epoch.
"""

import argparse
import csv
import json
import os
import sys
import time

import numpy as np
from accuracy import bench_accuracy
from peak_memory import bench_memory, memory_child
from report import SMOKE, build_rows, environment, plot_scaling, render
from systems import CLIP
from timings import (
    bench_inference,
    bench_latency,
    bench_reference,
    bench_scaling,
    bench_step,
    bench_training,
)
from workload import load_data, settings_for

import rnnkit
from rnnkit.nn import kernels
from rnnkit.nn.optim import train_step


def parse(argv):
    ap = argparse.ArgumentParser(prog="compare_torch.py", description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true", help="fewer repeats, part of an epoch (about a minute)"
    )
    mode.add_argument(
        "--tiny", action="store_true", help="synthetic data, toy sizes: a smoke test, no figures"
    )
    mode.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--data",
        help="folder with CoNLL-2003 train.txt, valid.txt and test.txt "
        "(default: ../shared/data/conll2003 beside the repository)",
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
    ap.add_argument("--child", help=argparse.SUPPRESS)  # one process of the memory measure
    return ap.parse_args(argv)


def settings(args):
    return settings_for("tiny" if args.tiny else "quick" if args.quick else "full")


def settle():
    """Run every code path once at a tiny size, so that compiled kernels (and the libraries they
    load) are in place before the thread limits are set and the clocks start; the compiled loop
    is loaded (kernels.load()), as a program that tags much would do."""
    kernels.load()
    model = rnnkit.RNN(12, 4, 1, bidirectional=True)
    opt = rnnkit.Adam(model.params)
    x = np.arange(12).reshape(2, 6)
    train_step(model, opt, x, x % 2, x < 11, clip=CLIP, sparse=True)
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


def import_torch(args, log):
    if args.no_torch:
        return None
    try:
        import torch
    except ImportError:
        log("PyTorch is not installed: its columns are left empty")
        return None
    return torch


def measure(cfg, args, torch, log):
    """Every measure but the scaling sweeps, as the dict the report reads."""
    train, test, data = load_data(cfg, args.data)
    log(
        f"data: {data}: {len(train):,} training sentences "
        f"({sum(len(i) for i, _ in train):,} tokens), {len(test):,} test sentences"
    )
    data_dir = args.data if cfg.mode != "tiny" else None
    r = {"cfg": cfg, "data": data, "train_data": train}
    r["train"] = bench_training(cfg, train, torch, np.random.default_rng(0), log)
    r["infer"] = bench_inference(cfg, test, torch, log)
    r["latency"] = bench_latency(cfg, test, torch, log)
    r["step"] = bench_step(cfg, log)
    r["reference"] = bench_reference(cfg, test, r["infer"]["rnnkit"], log)
    r["accuracy"] = bench_accuracy(cfg, data_dir, log)
    r["memory"] = (
        {} if args.no_memory else bench_memory(cfg, data_dir, args.threads, torch is not None, log)
    )
    r["memory"].setdefault("rnnkit", float("nan"))
    return r


def write_scaling(scaling, out, log):
    """scaling.csv and, where matplotlib is installed, scaling.png in out: their paths."""
    csv_path, png_path = os.path.join(out, "scaling.csv"), os.path.join(out, "scaling.png")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["sweep", "n_a", "batch", "system", "tokens_per_s"])
        w.writeheader()
        w.writerows(scaling)
    try:
        plot_scaling(scaling, png_path)
    except ImportError:
        png_path = None
        log("matplotlib is not installed: no plot")
    return csv_path, png_path


def summary(r, scaling):
    """What results.json holds."""
    keys = ("key", "measure", "rnnkit", "other", "compared_with", "ratio", "unit")
    return {
        "env": r["env"],
        "mode": r["cfg"].mode,
        "rows": [dict(zip(keys, row)) for row in build_rows(r)],
        **{k: r[k] for k in ("train", "infer", "latency", "memory", "step", "reference")},
        "accuracy": r["accuracy"],
        "scaling": scaling,
    }


def run(args):
    start = time.perf_counter()

    def log(s):
        print(s, flush=True)

    cfg = settings(args)
    if cfg.mode == "tiny":
        log(SMOKE)
    torch = import_torch(args, log)
    limit_threads(args.threads, torch)
    r = measure(cfg, args, torch, log)
    scaling = bench_scaling(cfg, r.pop("train_data"), torch, log)
    os.makedirs(args.out, exist_ok=True)
    csv_path, png_path = write_scaling(scaling, args.out, log)
    r["env"] = environment(args.threads, torch)
    r["wall"] = time.perf_counter() - start
    report = render(r)
    log("\n" + report)
    log(f"\nscaling: {csv_path}" + (f", {png_path}" if png_path else ""))
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(summary(r, scaling), f, indent=1, default=float)
    for path in [os.path.join(args.out, "results.md")] + ([args.markdown] if args.markdown else []):
        with open(path, "w") as f:
            f.write(report + "\n")


def main(argv=None):
    args = parse(argv)
    if args.child:
        memory_child(args.child, settings(args), args.data, args.threads)
    else:
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
