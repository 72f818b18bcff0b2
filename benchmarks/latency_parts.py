"""Where one short sentence's tagging time goes: each part of Tagger.predict timed alone.

    python benchmarks/latency_parts.py [MODEL] [--data test.txt] [--calls 500] [--repeats 7]

MODEL: a shipped name (default: default) or a model file. The sentence is the first of 12
tokens in --data (as bench_models.py takes it), tagged once before anything is timed, so that
its words' features and spellings are remembered, as in a server. Each row is the minimum over
--repeats passes of the median of --calls calls, with the compiled loop loaded and one BLAS
thread: the least the machine gave, not a typical call. The parts are timed apart, each on
the inputs the whole call gave it; in a whole call they may take longer, as each evicts the
others' data from the caches. The parts' sum is printed beside the whole.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_models import DATA, sentences_of

from rnnkit import threads
from rnnkit.data.batching import make_batches
from rnnkit.ner import speed
from rnnkit.ner.tagger import MAX_TOKENS, Tagger
from rnnkit.nn import kernels
from rnnkit.normalise import lookup_form


def least_median(fn, calls, repeats):
    """Seconds: the least, over `repeats` passes, of the median of `calls` calls of fn()."""
    clock, passes = time.perf_counter_ns, []
    for _ in range(repeats):
        for _ in range(min(calls, 50)):
            fn()
        times = []
        for _ in range(calls):
            start = clock()
            fn()
            times.append(clock() - start)
        passes.append(statistics.median(times))
    return min(passes) * 1e-9


def kernel_calls(tagger, sentence):
    """{name: args} of the compiled calls one predict makes."""
    seen, call = {}, kernels._call

    def spy(name, args):
        seen[name] = args
        return call(name, args)

    kernels._call = spy
    try:
        tagger.predict([sentence])
    finally:
        kernels._call = call
    return seen


def parts(tagger, sentence):
    """(name, fn) of each part of tagger.predict([sentence]), in the order the call takes them."""
    words = [[lookup_form(t) for t in sentence]]
    x = [tagger.featurizer.encode(words[0])]
    (batch,) = make_batches(x, None, 256, max_tokens=MAX_TOKENS)
    model = tagger.runner  # the model that tags: a file's E folded into W_ax
    rnn = model.rnn if tagger.spells else model
    spelled = {}
    T = batch.x.shape[1]
    if tagger.spells:
        table, index = model.remembered_table(words, T)
        spelled = {"s": table, "s_index": index}
    y_hat, _ = rnn.forward(batch.x, batch.mask, **spelled)
    compiled = {name: (getattr(kernels._loop(), name), args)
                for name, args in kernel_calls(tagger, sentence).items()}  # fmt: skip

    rows = [
        ("features (Featurizer.encode)", lambda: tagger.featurizer.encode(words[0])),
        ("batching (make_batches)", lambda: make_batches(x, None, 256, max_tokens=MAX_TOKENS)),
    ]
    if tagger.spells:
        rows.append(
            ("remembered spellings (remembered_table)", lambda: model.remembered_table(words, T))
        )
    rows.append(("the RNN (RNN.forward)", lambda: rnn.forward(batch.x, batch.mask, **spelled)))
    for name, (fn, args) in compiled.items():
        if name != "crf_decode_folded":
            rows.append((f"of which the compiled {name}", lambda fn=fn, args=args: fn(*args)))
    decode = (y_hat, batch.mask, model.params, tagger.threshold, tagger.show)
    rows.append(("decoding (Task.decode_batch)", lambda: tagger.task.decode_batch(*decode)))
    if "crf_decode_folded" in compiled:
        fn, args = compiled["crf_decode_folded"]
        rows.append(("of which the compiled crf_decode_folded", lambda: fn(*args)))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", nargs="?", default="default")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    sentences, source = sentences_of(args.data)
    tagger = Tagger.load(args.model)
    if not kernels.load():
        sys.exit("needs Numba (the fast extra): pip install 'rnnkit[fast]'")
    sentence = speed.sentence_of_length(sentences)
    tagger.predict(sentences[:500], batch_size=256)
    tagger.predict([sentence])
    whole = least_median(lambda: tagger.predict([sentence]), args.calls, args.repeats)
    print(f"model: {args.model}; data: {source}; {len(sentence)} tokens: {' '.join(sentence)}")
    print(f"least median over {args.repeats} passes of {args.calls} calls, one BLAS thread\n")
    print("| part | µs |")
    print("|---|---|")

    def limit():
        with threads.limited():
            pass

    # predict holds the BLAS limit around its parts: its cost is its own row, timed outside it
    total = least_median(limit, args.calls, args.repeats)
    print(f"| BLAS thread limit, on and off (threads.limited) | {total * 1e6:,.1f} |")
    with threads.limited():
        for name, fn in parts(tagger, sentence):
            seconds = least_median(fn, args.calls, args.repeats)
            total += 0 if name.startswith("of which") else seconds
            print(f"| {name} | {seconds * 1e6:,.1f} |")
    print(f"| the parts, summed | {total * 1e6:,.1f} |")
    print(f"| Tagger.predict, the whole call | {whole * 1e6:,.1f} |")


if __name__ == "__main__":
    main()
