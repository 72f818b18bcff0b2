"""Option types and settings shared by the commands."""

import argparse
import contextlib

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
    "per models: a word is part of a person's name when its P(person) is at least this "
    "(default 0.5)"
)


def threshold(text):
    value = float(text)
    if not 0 < value < 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, not {text}")
    return value


def load_tagger(args):
    """The tagger that --model names, with --threshold applied (per models only)."""
    from rnnkit.errors import RnnkitError
    from rnnkit.ner.tagger import Tagger, describe_model

    tagger = Tagger.load(args.model)
    if args.threshold is not None:
        if tagger.task.name != "per":
            raise RnnkitError(
                f"--threshold is for per models; {describe_model(args.model)} is a "
                f"{tagger.task.name} model"
            )
        tagger.threshold = args.threshold
    return tagger


def utf8_stdout():
    """Write standard output as UTF-8 whatever the locale; a lone surrogate (an undecodable
    byte of argv) is written as its escape, \\udcXX, so the output is always valid UTF-8."""
    import sys

    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")


def output_path(text):
    """--out: a path, or "-" for standard output (as no --out at all)."""
    return None if text == "-" else text
