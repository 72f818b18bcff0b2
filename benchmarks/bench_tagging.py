"""Tagging documents end to end: one process, worker processes, and a Dask cluster of processes.

    python benchmarks/bench_tagging.py [--tokens 1000000] [--files 16] [--skip-dask]

Builds a corpus of raw text from CoNLL-2003 train sentences (read from
<repo>/../shared/data/conll2003, or --data): tokens joined by spaces, five sentences to a
paragraph, lines hard-wrapped at 72 characters, repeated until the corpus holds --tokens
tokens, in --files files. Then runs `rnnkit tag --input DIR --out OUT/` three ways and reports
tokens/s, the ratio to one process, and whether every way wrote the same bytes:

* 1 process: --workers 1 (tagging in the command's own process);
* 2 worker processes: --workers 2 (a pool; each process loads the model once);
* Dask, 2 local workers: --dask local --workers 2 (a LocalCluster of 2 processes, 1 thread each).

Each figure is end to end: reading, tagging, writing, and starting the workers and loading the
model where the way needs it. CPU seconds (of this process and its workers) tell what each way
costs whatever else shares the machine: on an idle machine, wall-clock time falls to about CPU
time over the number of workers. A benchmark, not a test: its figures depend on the machine and on
what else runs on it (the target is 2 workers >= 1.7x one process on an otherwise idle 2-core
machine).
"""

import argparse
import filecmp
import os
import resource
import tempfile
import textwrap
import time
from pathlib import Path

from rnnkit.cli import main as rnnkit
from rnnkit.data.tokenize import iter_tokens
from rnnkit.ner.tagger import Tagger

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"


def sentences(path):
    out, words = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] != "-DOCSTART-":
                words.append(parts[0])
            elif words:
                out.append(" ".join(words))
                words = []
    return out


def write_corpus(directory, source, n_tokens, n_files):
    """Files of paragraphs made of `source` sentences, repeated to n_tokens tokens in all."""
    paragraphs, count, i = [], 0, 0
    while count < n_tokens:
        group = [source[(i + k) % len(source)] for k in range(5)]
        i += 5
        text = textwrap.fill(" ".join(group), width=72)
        count += sum(1 for _ in iter_tokens(text))
        paragraphs.append(text)
    per_file = -(-len(paragraphs) // n_files)
    for f in range(n_files):
        part = paragraphs[f * per_file : (f + 1) * per_file]
        (directory / f"doc{f:03d}.txt").write_text("\n\n".join(part) + "\n", encoding="utf-8")
    return count


def cpu_seconds():
    # This process and its children that have ended: the pool's and the cluster's workers.
    return sum(
        u.ru_utime + u.ru_stime
        for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def timed_run(argv):
    t, cpu = time.perf_counter(), cpu_seconds()
    assert rnnkit(argv) == 0, argv
    return time.perf_counter() - t, cpu_seconds() - cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--skip-dask", action="store_true")
    args = ap.parse_args()

    # Load the compiled kernel (and with it SciPy's BLAS) before limiting BLAS to one thread:
    # a limit set before a library loads does not reach it.
    Tagger.load().predict([["Warm", "up", "."]])
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")
    except ImportError:
        pass

    with tempfile.TemporaryDirectory(prefix="rnnkit-bench-") as tmp:
        tmp = Path(tmp)
        corpus = tmp / "corpus"
        corpus.mkdir()
        n = write_corpus(corpus, sentences(Path(args.data) / "train.txt"), args.tokens, args.files)
        size = sum(p.stat().st_size for p in corpus.iterdir())
        print(f"corpus: {n:,} tokens, {size / 2**20:.1f} MiB in {args.files} files")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
        ways = {
            "1 process": ["--workers", "1"],
            "2 worker processes": ["--workers", "2"],
            "Dask, 2 local workers": ["--dask", "local", "--workers", "2"],
        }
        if args.skip_dask:
            del ways["Dask, 2 local workers"]
        print(
            f"{'way':24} {'seconds':>8} {'tokens/s':>9} {'vs 1 process':>12} "
            f"{'CPU s':>7} {'tokens/CPU s':>12}  same output"
        )
        base, first = None, tmp / "out0"
        for k, (way, options) in enumerate(ways.items()):
            out = tmp / f"out{k}"
            seconds, cpu = timed_run(["tag", "--input", str(corpus), "--out", f"{out}/", *options])
            base = base or seconds
            names = sorted(os.listdir(first))
            same = filecmp.cmpfiles(first, out, names, shallow=False)[0] == names
            print(
                f"{way:24} {seconds:8.1f} {n / seconds:9,.0f} {base / seconds:11.2f}x "
                f"{cpu:7.1f} {n / cpu:12,.0f}  {'yes' if same else 'NO'}"
            )


if __name__ == "__main__":
    main()
