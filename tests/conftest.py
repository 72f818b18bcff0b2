"""Shared fixtures: a small synthetic CoNLL corpus of our own making, one small tagger trained on
it, and the real data when present."""

import pytest

from rnnkit.cli import main
from support import SHARED_DATA, write_corpus


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


@pytest.fixture(scope="session")
def conll2003():
    if not (SHARED_DATA / "train.txt").exists():
        pytest.skip("CoNLL-2003 is not at ../shared/data")
    return SHARED_DATA
