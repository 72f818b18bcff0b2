"""The command line: `rnnkit train | eval | predict | tag | bench`.

A thin layer over rnnkit.ner.training and rnnkit.ner.tagger. Errors a user can cause
(bad paths, bad files, bad options) print one line and exit non-zero; --debug
shows the traceback instead.
"""
import argparse
import contextlib
import json
import os
import re
import shlex
import sys
from dataclasses import fields

from rnnkit.errors import RnnkitError

DEFAULT_MODEL_HELP = "a model directory or .npz file, or a shipped model name (default, lecture); default: default"


def _features(text):
    groups = tuple(g.strip() for g in text.split(",") if g.strip())
    from rnnkit.data.features import GROUPS
    unknown = [g for g in groups if g not in GROUPS]
    if unknown or not groups:
        raise argparse.ArgumentTypeError(f"feature groups are {', '.join(GROUPS)}; not {', '.join(unknown) or 'none'}")
    return groups


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


@contextlib.contextmanager
def blas_threads(n):
    """Run the block with n BLAS threads, where threadpoolctl (the train extra) is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(n, user_api="blas"):
        yield


def build_parser():
    from rnnkit.ner.training import TrainConfig
    d = TrainConfig()
    parser = argparse.ArgumentParser(prog="rnnkit", description="The lecture's RNN as a named-entity tagger.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--threads", type=_positive_int, default=1,
                        help="BLAS threads (default 1: the products of an RNN this size gain nothing from more, "
                             "and lose much when other work shares the cores; needs threadpoolctl)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a tagger on CoNLL files, keeping the best model by dev F1")
    p.add_argument("--task", choices=["per", "bio"], default=d.task,
                   help="per: is word t part of a person's name (sigmoid); bio: 9 BIO tags (softmax)")
    p.add_argument("--train", required=True, help="CoNLL training file")
    p.add_argument("--dev", required=True, help="CoNLL file for model selection and early stopping")
    p.add_argument("--out", required=True, help="directory for model.npz, checkpoint.npz, history.csv, curves.png")
    p.add_argument("--features", type=_features, default=d.features,
                   help="comma-separated input groups from word, shape, suffix, prefix, lower "
                        f"(default: {','.join(d.features)}, the lecture's one-hot words)")
    p.add_argument("--vocab", type=_positive_int, default=d.vocab, help=f"word vocabulary size (default {d.vocab})")
    p.add_argument("--lower-vocab", type=_positive_int, default=d.lower_vocab,
                   help="vocabulary size of the lower feature group (default: the same as --vocab)")
    p.add_argument("--affix-vocab", type=_positive_int, default=d.affix_vocab,
                   help=f"vocabulary size of each prefix/suffix feature group (default {d.affix_vocab})")
    p.add_argument("--n-a", type=_positive_int, default=d.n_a, help=f"hidden units (default {d.n_a})")
    p.add_argument("--activation", choices=["tanh", "relu"], default=d.activation)
    p.add_argument("--init-x", type=float, default=d.init_x,
                   help="initialise the first layer's W_ax from U(-b, b) with this b; a one-hot input reads one "
                        "column per step, so unit scale (1) suits it better than the default 1/sqrt(n_a)")
    p.add_argument("--layers", type=_positive_int, default=d.layers, help="stacked RNN layers (default 1)")
    p.add_argument("--bidirectional", action="store_true", help="a forward and a backward chain per layer")
    p.add_argument("--dropout", type=float, default=d.dropout, help="dropout on each layer's output in training")
    p.add_argument("--word-dropout", type=float, default=d.word_dropout,
                   help=f"chance a training word is shown as unknown (default {d.word_dropout})")
    p.add_argument("--unk-alpha", type=float, default=d.unk_alpha,
                   help="also show a word as unknown with chance α/(α + its training count) (default "
                        f"{d.unk_alpha})")
    p.add_argument("--feature-dropout", type=float, default=d.feature_dropout,
                   help="chance that each non-word feature of a training word is shown as unknown (default "
                        f"{d.feature_dropout})")
    p.add_argument("--entity-dropout", type=float, default=d.entity_dropout,
                   help="also show a training word inside a gold entity (a person, for per) as unknown with this "
                        f"chance, so that names are learned from context and shape (default {d.entity_dropout})")
    p.add_argument("--average", type=float, default=d.average,
                   help="evaluate and save an exponential moving average of the weights with this β, "
                        f"e.g. 0.999 (default {d.average}: off)")
    p.add_argument("--epochs", type=_positive_int, default=d.epochs, help=f"at most this many epochs (default {d.epochs})")
    p.add_argument("--patience", type=_positive_int, default=d.patience,
                   help=f"stop after this many epochs without a better dev F1 (default {d.patience})")
    p.add_argument("--batch", type=_positive_int, default=d.batch, help=f"sentences per batch (default {d.batch})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    p.add_argument("--lr-decay", type=float, default=d.lr_decay, help="lr / (1 + decay * epoch) (default 0)")
    p.add_argument("--clip", type=float, default=d.clip, help=f"gradient clipping by global norm (default {d.clip})")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("eval", help="entity-level precision, recall and F1 of a model on a CoNLL file")
    p.add_argument("--model", default=None, help=DEFAULT_MODEL_HELP)
    p.add_argument("--data", required=True, help="CoNLL file with gold tags")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")

    p = sub.add_parser("predict", help="write `token gold pred` lines in conlleval's format")
    p.add_argument("--model", default=None, help=DEFAULT_MODEL_HELP)
    p.add_argument("--data", required=True, help="CoNLL file with gold tags")
    p.add_argument("--out", default=None, help="output file (default: standard output)")

    p = sub.add_parser("tag", help="mark the people (or entities) in raw text")
    p.add_argument("text", nargs="?", default=None, help="the text; '-' or nothing reads standard input, one text per line")
    p.add_argument("--model", default=None, help=DEFAULT_MODEL_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object per text (JSON Lines) with tokens, offsets, probabilities")

    sub.add_parser("bench", help="benchmark rnnkit against PyTorch (rnnkit bench --help)")
    return parser


def _tqdm_progress(total, desc):
    from tqdm import tqdm
    bar = tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)

    class Bar:
        def update(self, n, **postfix):
            if postfix:
                bar.set_postfix(postfix, refresh=False)
            bar.update(n)

        def close(self):
            bar.close()
    return Bar()


def cmd_train(args):
    from rnnkit.ner.training import Interrupted, TrainConfig, train
    if os.path.exists(args.out) and not os.path.isdir(args.out):   # found now, not after reading the data
        raise RnnkitError(f"{args.out}: exists and is not a directory (--out is the directory the run writes to)")
    # every training option is named after its TrainConfig field
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)})
    progress = None
    if not args.quiet:
        try:
            import tqdm  # noqa: F401
            progress = _tqdm_progress
        except ImportError:
            print("rnnkit: no progress bar without tqdm (pip install 'rnnkit[train]')", file=sys.stderr)
    try:
        history = train(config, args.train, args.dev, args.out, resume=args.resume, progress=progress,
                        log=lambda msg: print(msg, file=sys.stderr))
    except Interrupted as e:
        print(f"rnnkit: {e}", file=sys.stderr)
        # --resume takes every setting from the checkpoint except --epochs, and checks --task,
        # so both must be given again for the command to continue this very run.
        command = ["rnnkit", "train", "--task", args.task, "--train", args.train, "--dev", args.dev,
                   "--out", args.out, "--epochs", str(args.epochs), "--resume"]
        print(f"rnnkit: resume with: {shlex.join(command)}", file=sys.stderr)
        return 130
    best = max(history, key=lambda h: h["dev_f1"]) if history else None
    if best:
        print(f"best dev F1 {best['dev_f1']:.4f} at epoch {best['epoch']}; model saved in {args.out}")
    return 0


def format_scores(scores):
    rows = [("type", "precision", "recall", "F1", "support")]
    for kind, s in scores["per_type"].items():
        rows.append((kind, f"{s['precision']:.4f}", f"{s['recall']:.4f}", f"{s['f1']:.4f}", str(s["support"])))
    rows.append(("overall", f"{scores['precision']:.4f}", f"{scores['recall']:.4f}", f"{scores['f1']:.4f}",
                 str(scores["n_gold"])))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    return "\n".join(lines + [f"token accuracy {scores['accuracy']:.4f} over {scores['n_tokens']} tokens"])


def cmd_eval(args):
    from rnnkit.data.conll import read_conll
    from rnnkit.ner.tagger import Tagger
    from rnnkit.ner.training import evaluate
    tagger = Tagger.load(args.model)
    scores, _ = evaluate(tagger, read_conll(args.data))
    print(json.dumps(scores, indent=2) if args.json else format_scores(scores))
    return 0


def cmd_predict(args):
    from rnnkit.data.conll import read_conll, write_conll
    from rnnkit.ner.tagger import Tagger
    from rnnkit.ner.training import evaluate
    tagger = Tagger.load(args.model)
    sentences = read_conll(args.data)
    _, predictions = evaluate(tagger, sentences)
    rows = [(s.tokens, tagger.task.gold_tags(s.tags), p.tags) for s, p in zip(sentences, predictions)]
    if not args.out:
        write_conll(sys.stdout, rows)
        return 0
    try:
        write_conll(args.out, rows)
    except OSError as e:     # one line that names --out and says what went wrong
        raise RnnkitError(f"{args.out}: cannot write ({e.strerror or e})") from e
    return 0


def cmd_tag(args):
    from rnnkit.ner.tagger import Tagger, mark
    if args.text is None and sys.stdin.isatty():
        raise RnnkitError("give the text to tag, or pipe it on standard input (one text per line)")
    tagger = Tagger.load(args.model)
    texts = [args.text] if args.text not in (None, "-") else (line.rstrip("\r\n") for line in sys.stdin)
    for text in texts:
        result = tagger.tag(text)
        print(json_line(result) if args.json else mark(result), flush=True)
    return 0


def json_line(obj):
    """One line of JSON Lines, readable whatever the reader splits lines on.

    ensure_ascii=False keeps the text readable, but leaves the Unicode line
    separators U+0085, U+2028, U+2029 raw (str.splitlines() breaks at them) and
    lone surrogates (undecodable bytes of argv or stdin) that UTF-8 cannot
    encode: write those as \\uXXXX escapes, which json.loads reads back exactly.
    """
    text = json.dumps(obj, ensure_ascii=False)
    for c in "\x85\u2028\u2029":
        text = text.replace(c, f"\\u{ord(c):04x}")
    if _SURROGATE.search(text):          # rare; a search copies nothing, unlike encoding 1 MB of text
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "predict": cmd_predict, "tag": cmd_tag}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:                        # its options, --help too, are the benchmark's own
        from rnnkit import bench
        return bench.main(argv[1:]) or 0
    args = build_parser().parse_args(argv)
    try:
        with blas_threads(args.threads):
            return COMMANDS[args.command](args)
    except BrokenPipeError:                          # `rnnkit tag ... | head` is not an error
        return 0
    except (RnnkitError, OSError) as e:
        if args.debug:
            raise
        message = str(e) if isinstance(e, RnnkitError) else f"{e.filename or ''}: {e.strerror or e}"
        print(f"rnnkit: error: {message}", file=sys.stderr)
        return 1
    except UnicodeError as e:                        # stdin or the terminal in another encoding
        if args.debug:
            raise
        what = "read" if isinstance(e, UnicodeDecodeError) else "write"
        print(f"rnnkit: error: cannot {what} the text as {getattr(e, 'encoding', '?')} ({getattr(e, 'reason', e)})",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("rnnkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
