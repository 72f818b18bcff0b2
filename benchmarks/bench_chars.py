"""The character-level encoder's speed on CoNLL-2003 sentences, on one core.

    python benchmarks/bench_chars.py [--data DIR] [--batch 32] [--repeats 3]

Reads valid.txt (and builds the character vocabulary from train.txt) in
<repo>/../shared/data/conll2003 or --data; without them, synthetic sentences of
random words with the same batch size. For each n_c, one pass over the sentences in
batches of --batch, in file order, float32:
  per token      every token's characters run through the encoder (no sharing)
  distinct       encode_tokens: each distinct word of a batch once, scattered back
  distinct+bwd   encode_tokens and backward_tokens, as in training
  compiled       encode_tokens(compiled=True): the loops in the Numba kernel (if installed)
and the latency of one sentence of 12 tokens (encode_tokens alone, NumPy and compiled).
tokens/s counts the sentences' tokens; words/s the words the encoder actually ran.
Medians of --repeats, one BLAS thread.
"""

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np

from rnnkit import threads
from rnnkit.data.conll import read_conll
from rnnkit.nn import kernels
from rnnkit.nn.chars import CharEncoder, CharVocab

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "conll2003"


def load(data):
    """(sentences, training words, source): lists of token strings."""
    valid, train = data / "valid.txt", data / "train.txt"
    if valid.exists():
        sentences = [s.tokens for s in read_conll(valid)]
        words = [w for s in read_conll(train) for w in s.tokens] if train.exists() else None
        return sentences, words or [w for s in sentences for w in s], str(valid)
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,-'0123456789"))
    lexicon = ["".join(rng.choice(letters, rng.integers(1, 12))) for _ in range(8000)]
    zipf = 1 / np.arange(1, len(lexicon) + 1)
    zipf /= zipf.sum()  # a few words very often, most rarely, as in text
    sentences = [
        [lexicon[i] for i in rng.choice(len(lexicon), rng.integers(2, 30), p=zipf)]
        for _ in range(3000)
    ]
    return sentences, [w for s in sentences for w in s], "synthetic (no CoNLL-2003 found)"


def per_token(encoder, vocab, batches):
    for b in batches:
        encoder.encode([vocab.ids(w) for s in b for w in s])


def distinct(encoder, vocab, batches):
    for b in batches:
        encoder.encode_tokens(vocab, b)


def compiled(encoder, vocab, batches):
    for b in batches:
        encoder.encode_tokens(vocab, b, compiled=True)


def distinct_bwd(encoder, vocab, batches):
    for b in batches:
        spelling, cache = encoder.encode_tokens(vocab, b)
        encoder.backward_tokens(cache, spelling)  # any upstream gradient of that shape


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-c", type=int, nargs="+", default=[25, 50])
    args = parser.parse_args()

    sentences, train_words, source = load(args.data)
    vocab = CharVocab.build(train_words)
    batches = [sentences[i : i + args.batch] for i in range(0, len(sentences), args.batch)]
    n_tokens = sum(len(s) for s in sentences)
    n_distinct = sum(len({w for s in b for w in s}) for b in batches)
    print(f"{source}: {len(sentences)} sentences, {n_tokens} tokens, n_chars = {len(vocab)}")
    print(
        f"batches of {args.batch}: {n_distinct} distinct words to encode "
        f"({n_distinct / n_tokens:.0%} of the tokens)\n"
    )
    twelve = next((s for s in sentences if len(s) == 12), sentences[0][:12])

    print(f"{'n_c':>4} {'pass':<14} {'tokens/s':>10} {'words/s':>10} {'s/pass':>8}")
    passes = [
        ("per token", per_token, n_tokens),
        ("distinct", distinct, n_distinct),
        ("distinct+bwd", distinct_bwd, n_distinct),
    ]
    latencies = [("12 tokens", distinct)]
    if kernels.load():  # compiled now, not inside the timings
        passes.append(("compiled", compiled, n_distinct))
        latencies.append(("12 compiled", compiled))
    with threads.limited():  # one BLAS thread, as rnnkit tags and trains
        for n_c in args.n_c:
            encoder = CharEncoder(len(vocab), n_c, seed=0, dtype=np.float32)
            compiled(encoder, vocab, batches[:1])  # a first call for each new array shape
            for name, fn, words in passes:
                t = median_time(partial(fn, encoder, vocab, batches), args.repeats)
                print(f"{n_c:>4} {name:<14} {n_tokens / t:>10,.0f} {words / t:>10,.0f} {t:>8.3f}")
            for name, fn in latencies:
                t = median_time(partial(fn, encoder, vocab, [[twelve]]), 50 * args.repeats)
                print(f"{n_c:>4} {name:<14} {'':>10} {'':>10} {t * 1e3:>6.3f}ms")


if __name__ == "__main__":
    main()
