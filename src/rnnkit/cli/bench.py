"""`rnnkit bench`: how fast a model tags the user's own data (tokens/s and one sentence's latency).

The comparison with PyTorch is not here: it lives outside the package, in
benchmarks/compare_torch.py.
"""

import re
import sys

from rnnkit.cli.options import DEFAULT_MODEL_HELP, OneModel, input_path, positive_int
from rnnkit.errors import DataError

# A CoNLL line's last column is an IOB/IOBES tag: O, or B-, I-, E-, S- before a type.
_TAG = re.compile(r"(O|[BIES]-\S+)")


def add_parser(sub):
    p = sub.add_parser(
        "bench",
        help="measure a model's tagging speed on your data (tokens/s, one sentence's latency)",
        description="Tokens per second of tagging a file, and the latency of one "
        "12-token sentence: medians over repeats, after a warm-up. Compare with PyTorch: "
        "python benchmarks/compare_torch.py in the source tree.",
    )
    p.add_argument("--model", action=OneModel, default=None, help=DEFAULT_MODEL_HELP)
    p.add_argument(
        "--data",
        type=input_path,
        required=True,
        help="a CoNLL file, or a text file with one text per line",
    )
    p.add_argument(
        "--format",
        choices=("auto", "conll", "text"),
        default="auto",
        help="how to read --data (default auto: CoNLL when its first line is -DOCSTART- or ends "
        "in a tag such as O or B-PER)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=256,
        help="sentences per batch when tagging CoNLL (default 256, as `rnnkit eval`)",
    )
    p.add_argument(
        "--repeats", type=positive_int, default=5, help="passes over the data (default 5)"
    )
    p.add_argument(
        "--calls", type=positive_int, default=1000, help="calls timed for latency (default 1000)"
    )
    p.set_defaults(run=run)


def run(args):
    from rnnkit.ner import speed
    from rnnkit.ner.tagger import Tagger, resolve_model_path
    from rnnkit.nn import kernels

    tagger = Tagger.load(args.model)
    fmt = detect_format(args.data) if args.format == "auto" else args.format
    texts, sentences, tag, how = workload(tagger, fmt, args)
    n_tokens = sum(len(s) for s in sentences)
    if n_tokens == 0:
        raise DataError(args.data, "no tokens to tag")
    # the steady state of a process that tags much: the compiled loop, if installed
    compiled = kernels.load()
    if compiled:  # its first call on a machine compiles it: say why the first pass waits
        print(
            "rnnkit: timing with the compiled kernel (Numba); its first use on this machine "
            "compiles it, which takes some seconds",
            file=sys.stderr,
        )
    per_s = speed.tokens_per_second(tag, texts, n_tokens, args.repeats)
    one = speed.sentence_of_length(sentences)
    seconds = speed.latency(tagger, one, args.calls)
    print(f"model: {resolve_model_path(args.model)} (task {tagger.task.name})")
    print(f"data: {args.data} ({fmt}): {len(sentences):,} sentences, {n_tokens:,} tokens")
    print(f"tagging: {per_s:,.0f} tokens/s ({how}; median of {args.repeats} passes)")
    print(
        f"latency: {seconds * 1e6:,.1f} µs for one {len(one)}-token sentence "
        f"(median of {args.calls:,} calls)"
    )
    print(
        "kernel: "
        + ("compiled (Numba)" if compiled else "NumPy (Numba not installed, or RNNKIT_NO_NUMBA)")
    )
    return 0


def workload(tagger, fmt, args):
    """(texts, sentences as token lists, tag(texts), what tag runs): CoNLL sentences are tagged as
    `rnnkit eval` does, in batches; raw text as `rnnkit tag` does, a text at a time."""
    if fmt == "conll":
        from rnnkit.data.conll import read_conll

        sentences = [s.tokens for s in read_conll(args.data)]

        def tag(token_lists):
            return tagger.predict(token_lists, batch_size=args.batch_size)

        return sentences, sentences, tag, f"Tagger.predict in batches of {args.batch_size}"

    from rnnkit.data.tokenize import iter_sentences, iter_tokens

    texts = read_text_lines(args.data)
    # The sentences Tagger.tag cuts each text into.
    sentences = [[t.text for t in s] for text in texts for s in iter_sentences(iter_tokens(text))]

    def tag(lines):
        return [tagger.tag(line) for line in lines]

    return texts, sentences, tag, "Tagger.tag, one text at a time, tokenizer included"


def detect_format(path):
    """ "conll" when the first non-blank line is -DOCSTART- or has 2+ columns ending in a tag,
    else "text"."""
    with open(path, encoding="utf-8", errors="replace") as f:
        first = next((line.split() for line in f if line.strip()), [])
    if first[:1] == ["-DOCSTART-"] or (len(first) >= 2 and _TAG.fullmatch(first[-1])):
        return "conll"
    return "text"


def read_text_lines(path):
    """The non-blank lines of a UTF-8 text file."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(path, "not UTF-8 text", data[: e.start].count(b"\n") + 1) from None
    # Lines as `rnnkit tag` reads them from standard input: split at newlines only.
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]
