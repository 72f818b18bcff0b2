"""Option types and settings shared by the commands."""

import argparse
import contextlib
import os

from rnnkit.errors import RnnkitError

DEFAULT_MODEL_HELP = (
    "a model directory or .npz file, or a shipped model name (default, lecture, conll); "
    "default: default"
)


def features(text):
    groups = tuple(g.strip() for g in text.split(",") if g.strip())
    from rnnkit.data.features import GROUPS

    unknown = [g for g in groups if g not in GROUPS]
    if unknown or not groups:
        raise argparse.ArgumentTypeError(
            f"feature groups are {', '.join(GROUPS)}; not {', '.join(unknown) or 'none'}"
        )
    return groups


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


@contextlib.contextmanager
def blas_threads(n):
    """Run the block with n BLAS threads (rnnkit.threads: one by default)."""
    from rnnkit import threads

    threads.set_threads(n)
    with threads.limited():
        yield


def scheme_option(p, help):
    """--scheme: the tag scheme of the data a command reads (rnnkit.ner.schemes), or its alias."""
    from rnnkit.ner.schemes import ALIASES, SCHEMES

    p.add_argument("--scheme", choices=SCHEMES + tuple(ALIASES), default=None, help=help)


THRESHOLD_HELP = (
    "a word is part of a person's name when its P(person) is at least this (default 0.5); "
    "with a model of several labels, a word takes a shown label X over O (and the types not "
    "shown) where P(X) / P(O) is at least t / (1 - t): lower tags more words, higher fewer"
)


SHOW_HELP = (
    "print only these entity types, e.g. PER (the rest as O); default: those the model's "
    "file names, else all it tags"
)


def threshold(text):
    value = float(text)
    if not 0 < value < 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, not {text}")
    return value


class OneModel(argparse.Action):
    """--model of a command that serves or times one model: given twice, a usage error (tag, eval
    and predict take several as an ensemble; here the last would silently win)."""

    def __call__(self, parser, namespace, value, option_string=None):
        if getattr(namespace, self.dest) is not None:
            parser.error(
                f"{option_string} is given once here; several models make an ensemble only "
                "for tag, eval and predict"
            )
        setattr(namespace, self.dest, value)


def load_tagger(args):
    """The tagger that --model names (several: an Ensemble), with --threshold and --show
    applied."""
    from rnnkit.ner.tagger import Tagger

    if isinstance(args.model, list) and len(args.model) > 1:  # eval's and predict's ensembles
        from rnnkit.ner.ensemble import Ensemble

        return Ensemble.load(args.model, show=args.show, threshold=args.threshold)
    model = args.model[0] if isinstance(args.model, list) else args.model
    return Tagger.load(model, show=args.show, threshold=args.threshold)


def utf8_stdout():
    """Write standard output as UTF-8 whatever the locale; a lone surrogate (an undecodable
    byte of argv) is written as its escape, \\udcXX, so the output is always valid UTF-8."""
    import sys

    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")


def input_path(text):
    """--data, --train, --dev, --select, --input: a path, not an empty one (`--data "$UNSET"` was
    told ": no such file", naming nothing)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path: give a file")
    return text


def output_path(text):
    """--out: a path, or "-" for standard output (as no --out at all); not an empty path."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path: give a file, or - for standard output")
    return None if text == "-" else text


def run_directory(text):
    """train's --out: a directory's path, not an empty one (which would mean the current
    directory without saying so)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path: give the run's directory")
    return text


def refuse_inputs_as_output(outputs, inputs):
    """Writing a file that is also being read would replace it (predict --data gold.txt --out
    gold.txt would lose the gold file's other columns): refuse, naming both."""
    read = {}  # (device, inode) -> the input's path: one stat per file, however many
    for path in inputs:
        with contextlib.suppress(OSError):
            if path != "-":
                st = os.stat(path)
                read.setdefault((st.st_dev, st.st_ino), path)
    for out in outputs:
        try:
            st = os.stat(out)
        except OSError:
            continue  # not there yet: nothing to replace
        if (st.st_dev, st.st_ino) in read:
            raise RnnkitError(
                f"{out}: is also an input ({read[st.st_dev, st.st_ino]}), and writing it would "
                "replace it: give another --out"
            )
