"""Tagging speed of several models side by side, in one run, on one core.

    python benchmarks/bench_models.py MODEL [MODEL ...] [--data test.txt] [--repeats 5]

MODEL: a shipped name (default, lecture, ...) or a model file. To set the shipped default
against the one it replaced:

    git show 6f0e1a2:src/rnnkit/models/default.npz > /tmp/previous.npz
    python benchmarks/bench_models.py default /tmp/previous.npz

For each model, as `rnnkit bench` measures one: tokens/s of Tagger.predict over the sentences
of --data (CoNLL; default <repo>/../shared/data/conll2003/test.txt, or synthetic sentences
without it) in batches of 256, and the latency of one 12-token sentence (the median over
--calls calls); both medians, with the compiled loop loaded if Numba is installed, one BLAS
thread. The models take turns pass by pass (a pass: the text once, then --calls / --repeats
single-sentence calls), so that a change in the machine's load falls on all of them alike.
The last columns are the ratios to the first model.

--unfolded adds, for each model that reads an embedding E (--n-e), a row of it as trained:
Tagger.load(..., fold=False), E gathered and multiplied by W_ax at every step, where the
default multiplies W_ax E out once on loading (RNN.folded).

A model that reads spellings (nn.spelling) remembers each word's once computed: its tokens/s
and latency are those of a process that has tagged the text before (the warm-up pass); the
"cold" column repeats both with the memory emptied before each pass and each call, so that
every distinct word of a batch runs through the character RNN.
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from rnnkit import threads
from rnnkit.data.conll import read_conll
from rnnkit.ner import speed
from rnnkit.ner.tagger import Tagger, describe_model
from rnnkit.nn import kernels

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003" / "test.txt"


def sentences_of(path):
    if path.exists():
        return [s.tokens for s in read_conll(path)], str(path)
    rng = np.random.default_rng(0)
    words = [
        "".join(rng.choice(list("abcdefghij"), rng.integers(2, 9))).title() for _ in range(500)
    ]
    return [list(rng.choice(words, rng.integers(3, 30))) for _ in range(3000)], "synthetic"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--unfolded", action="store_true", help="also each model with E as trained")
    args = p.parse_args(argv)
    sentences, source = sentences_of(args.data)
    n_tokens = sum(map(len, sentences))
    taggers = [Tagger.load(m) for m in args.models]
    labels = {m: describe_model(m) for m in args.models}
    if args.unfolded:  # a second row for each model whose runner is not the model as trained
        for m, tagger in list(zip(args.models, taggers)):
            if tagger.runner is not tagger.model:
                args.models.append(f"{m} (E unfolded)")
                labels[args.models[-1]] = f"{labels[m]}, E unfolded"
                taggers.append(Tagger.load(m, fold=False))
    kernels.load()
    one = speed.sentence_of_length(sentences)
    seconds = {m: [] for m in args.models}
    cold = {m: [] for m, t in zip(args.models, taggers) if t.spells}
    latency = {m: [] for m in args.models}
    cold_latency = {m: [] for m in cold}
    calls = max(1, args.calls // args.repeats)  # latency calls per model and pass
    with threads.limited():  # one BLAS thread: rnnkit's default
        for tagger in taggers:  # warm up (compile; remember the spellings) before any clock
            tagger.predict(sentences, batch_size=256)
        for _ in range(args.repeats):
            for m, tagger in zip(args.models, taggers):
                seconds[m].append(_timed(tagger.predict, sentences, batch_size=256))
                latency[m].append(speed.latency(tagger, one, calls))
                if m in cold:
                    tagger.forget()
                    cold[m].append(_timed(tagger.predict, sentences, batch_size=256))
                    cold_latency[m].append(speed.latency(tagger, one, calls, tagger.forget))
                    tagger.predict(sentences, batch_size=256)  # remembered again for the next pass
    latency = {m: statistics.median(v) for m, v in latency.items()}
    cold_latency = {m: statistics.median(v) for m, v in cold_latency.items()}
    print(f"data: {source}: {len(sentences):,} sentences, {n_tokens:,} tokens; one BLAS thread")
    print(f"numba kernel: {'loaded' if kernels.available else 'not installed (NumPy loops)'}\n")
    print(
        "| model | spelling | tokens/s | 12-token latency | tokens/s vs first | latency vs first "
        "| cold: tokens/s, latency |"
    )
    print("|---|---|---|---|---|---|---|")
    first = args.models[0]
    base_rate, base_latency = n_tokens / statistics.median(seconds[first]), latency[first]
    for m, tagger in zip(args.models, taggers):
        rate = n_tokens / statistics.median(seconds[m])
        cold_cell = (
            f"{n_tokens / statistics.median(cold[m]):,.0f}, {cold_latency[m] * 1e6:,.1f} µs"
            if m in cold
            else ""
        )
        print(
            f"| {labels[m]} | {'yes' if tagger.spells else 'no'} | {rate:,.0f} | "
            f"{latency[m] * 1e6:,.1f} µs | {rate / base_rate:.2f}x | "
            f"{latency[m] / base_latency:.2f}x | {cold_cell} |"
        )


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
