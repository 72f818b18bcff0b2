"""Option types and settings shared by the commands."""

import argparse
import contextlib

DEFAULT_MODEL_HELP = (
    "a model directory or .npz file, or a shipped model name (default, lecture); default: default"
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
