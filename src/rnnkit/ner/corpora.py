"""Several corpora in one run: training files with weights, dev sets scored together.

    --train data/a.txt --train data/b.txt:0.5 --dev data/a_dev.txt --dev data/b_dev.txt

A training file's weight w (1 when not given) says how much of it a run learns from: its
sentences floor(w) times, and a fraction w - floor(w) of them more, drawn once from the run's
seed; so 0.5 is a random half and 2 is every sentence twice. A run with one file of weight 1
reads exactly that file. Each file's tag scheme is its own (detected, or --scheme).

Models are chosen on the mean of the dev sets' entity F1 (each set weighs the same however
large), or on one set's (--select FILE); with several dev sets the history also has each set's
F1 under "dev_f1:NAME", NAME being the file's path as given.
"""

import os
from dataclasses import dataclass

import numpy as np

from rnnkit.data.conll import read_conll, read_tagged
from rnnkit.errors import RnnkitError

MAX_WEIGHT = 1000  # a file shown 1000 times an epoch: far past any use, and still in memory


def split_weight(spec):
    """A training file and its weight: "a.txt:0.5" -> ("a.txt", 0.5), "a.txt" -> ("a.txt", 1.0).
    A path that itself ends in ":<number>" cannot be given (rename it)."""
    path, sep, tail = str(spec).rpartition(":")
    if sep and path:
        try:
            weight = float(tail)
        except ValueError:
            return str(spec), 1.0
        if not np.isfinite(weight) or not 0 <= weight <= MAX_WEIGHT:  # 1e12: 10^12 copies
            raise RnnkitError(
                f"{spec}: a training file's weight is a number from 0 to {MAX_WEIGHT}, not {tail}"
            )
        return path, weight
    return str(spec), 1.0


def as_list(paths):
    """One path (str or PathLike) or several -> a list."""
    return list(paths) if isinstance(paths, list | tuple) else [paths]


def paths_of(paths, what):
    """as_list(paths), each a str or os.PathLike, else a TypeError naming it: train=[("b.txt",
    0.5)] once looked for a file named "('b.txt', 0.5)". what: "training file" or "dev file"."""
    paths = as_list(paths)
    for p in paths:
        if not isinstance(p, str | os.PathLike):
            weight = (
                "; its weight goes after it, as 'tweets.txt:0.5'" if what == "training file" else ""
            )
            raise TypeError(f"a {what} is a path (str or os.PathLike), not {p!r}{weight}")
        if not os.fspath(p):  # as --train "" is refused: it was ": no such file"
            raise RnnkitError(f"a {what}'s path is empty: give a file")
    return paths


@dataclass
class TrainFile:
    path: str
    sentences: list  # as read
    picks: np.ndarray  # (n,) the indices of the sentences the run learns from, with repeats


def read_train(specs, scheme, seed):
    """The training files, each with the sentences its weight picks, and the first file's tag
    scheme (the one the model learns)."""
    files, first_scheme = [], None
    rng = np.random.default_rng([seed, 1])  # the draws of fractional weights, file by file
    specs = paths_of(specs, "training file")
    if not specs:
        raise RnnkitError("no training file: give at least one")
    for spec in specs:
        path, weight = split_weight(spec)
        sentences, found = read_tagged(path, scheme)
        first_scheme = first_scheme or found
        whole, part = divmod(weight, 1)
        picks = np.tile(np.arange(len(sentences)), int(whole))
        if part:
            chosen = rng.choice(len(sentences), round(part * len(sentences)), replace=False)
            picks = np.concatenate([picks, np.sort(chosen)])
        files.append(TrainFile(path, sentences, picks))
    if not any(len(f.picks) for f in files):
        raise RnnkitError("the training files weigh 0: there is nothing to learn from")
    return files, first_scheme


def picked(files, per_file=None):
    """The picked items of all files in order: their sentences, or per_file(file)'s list of
    one item per sentence (e.g. the encoded sentences)."""
    out = []
    for f in files:
        items = f.sentences if per_file is None else per_file(f)
        out += [items[i] for i in f.picks]
    return out


@dataclass
class DevSet:
    name: str  # the path as given
    sentences: list


def read_dev(paths, scheme, select=None):
    """The dev sets, in the order given; `select`, if given, must name one of them."""
    names = [str(p) for p in paths_of(paths, "dev file")]
    if not names:  # the model is chosen, and training stopped, on the dev sets' F1
        raise RnnkitError("no dev file: give at least one, on which the model is chosen")
    if select is not None and select not in names:
        raise RnnkitError(f"--select {select}: not one of the dev files ({', '.join(names)})")
    return [DevSet(name, read_conll(name, scheme=scheme)) for name in names]


def dev_scores(evaluate, tagger, dev_sets, select=None):
    """The scores of `evaluate(tagger, sentences)` on one dev set; with several, their mean
    precision, recall and F1 (or those of the set named `select`) and each set's scores under
    "per_dev"."""
    scores = [evaluate(tagger, d.sentences)[0] for d in dev_sets]
    if len(scores) == 1:
        return scores[0]
    per_dev = {d.name: s for d, s in zip(dev_sets, scores)}
    keys = ("precision", "recall", "f1")
    if select is not None:
        return {**{k: per_dev[select][k] for k in keys}, "per_dev": per_dev}
    return {**{k: float(np.mean([s[k] for s in scores])) for k in keys}, "per_dev": per_dev}


def history_columns(scores):
    """Each dev set's F1 for a history row (none with one dev set)."""
    return {f"dev_f1:{name}": s["f1"] for name, s in scores.get("per_dev", {}).items()}


def names(paths_or_files):
    """The files' paths as one string, for messages."""
    return ", ".join(getattr(p, "path", str(p)) for p in as_list(paths_or_files))
