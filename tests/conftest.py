"""Shared fixtures: a small synthetic CoNLL corpus of our own making, one small tagger trained on
it, and the real data when present."""

from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import main

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"

# Bad CoNLL fixtures under tests/fixtures/conll:
# (file, line the error names (None: the whole file), words in it)
BAD_CONLL = [
    ("empty.txt", None, "no sentences"),
    ("docstart_only.txt", None, "no sentences"),
    ("bad_columns.txt", 4, "expected 4 columns"),
    ("one_column.txt", 1, "at least 2 columns"),
    ("bad_tag.txt", 5, "'E-PER'"),
    ("non_utf8.txt", 3, "UTF-8"),
]

FIRST = ["Teddy", "Harry", "Hermione", "Peter", "Anna", "Boris", "Maria", "John", "Ivan", "Lena"]
LAST = [
    "Roosevelt",
    "Potter",
    "Granger",
    "Blackburn",
    "Smith",
    "Jones",
    "Ivanov",
    "Garcia",
    "Brown",
]
PLACES = ["Paris", "London", "Berlin", "Moscow", "Madrid", "Tokyo"]
ORGS = ["Reuters", "Ajax", "Siemens", "Fiat"]
WORDS = [
    "the",
    "a",
    "said",
    "was",
    "great",
    "bears",
    "on",
    "sale",
    "in",
    "visited",
    "team",
    "today",
]


def synthetic_sentences(n, seed):
    """Sentences with people, places and organisations in a few templates, IOB2-tagged."""
    rng = np.random.default_rng(seed)

    def pick(xs):
        return xs[rng.integers(len(xs))]

    out = []
    for _ in range(n):
        kind = rng.integers(4)
        person = [(pick(FIRST), "B-PER"), (pick(LAST), "I-PER")]
        filler = [(pick(WORDS), "O") for _ in range(rng.integers(1, 4))]
        if kind == 0:
            s = person + [("said", "O")] + filler + [(".", "O")]
        elif kind == 1:
            s = (
                [("He", "O"), ("said", "O"), (",", "O"), ('"', "O")]
                + person
                + filler
                + [(".", "O"), ('"', "O")]
            )
        elif kind == 2:
            s = (
                [(pick(FIRST), "O"), ("bears", "O")]
                + filler
                + [("in", "O"), (pick(PLACES), "B-LOC"), (".", "O")]
            )
        else:
            s = (
                [(pick(ORGS), "B-ORG")]
                + filler
                + [("in", "O"), (pick(PLACES), "B-LOC"), (".", "O")]
            )
        out.append(s)
    return out


def write_corpus(path, n, seed):
    lines = ["-DOCSTART- -X- -X- O", ""]
    for s in synthetic_sentences(n, seed):
        lines += [f"{w} NN O {t}" for w, t in s] + [""]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """(train, dev) paths of a synthetic corpus."""
    d = tmp_path_factory.mktemp("corpus")
    return write_corpus(d / "train.txt", 300, 0), write_corpus(d / "dev.txt", 60, 1)


@pytest.fixture(scope="session")
def trained(corpus, tmp_path_factory):
    """A small bidirectional bio tagger trained once by `rnnkit train` on the synthetic corpus.

    Its run directory (model.npz, checkpoint.npz, history.csv); tests that need a trained tagger
    share it and must not change it.
    """
    out = tmp_path_factory.mktemp("trained") / "bio"
    train, dev = corpus
    argv = ["train", "--task", "bio", "--train", str(train), "--dev", str(dev), "--out", str(out)]
    argv += ["--bidirectional", "--features", "word,shape", "--n-a", "16", "--vocab", "200"]
    argv += ["--epochs", "3", "--batch", "8", "--lr", "1e-2", "--quiet", "--keep-checkpoint"]
    assert main(argv) == 0
    return out


def one_line_error(err, *words):
    """The CLI's promise for a user error: one line on stderr, no traceback, saying what's wrong."""
    err = err.strip()
    assert err.startswith("rnnkit: error: ") and "\n" not in err, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    return err


@pytest.fixture(scope="session")
def conll2003():
    if not (SHARED_DATA / "train.txt").exists():
        pytest.skip("CoNLL-2003 is not at ../shared/data")
    return SHARED_DATA


FIXTURES = Path(__file__).resolve().parent / "fixtures"
