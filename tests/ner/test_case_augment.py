"""Case augmentation (--case-augment P): a share P of training sentences shown lowercased,
uppercased or title-cased, their ids encoded again from the recased words."""

import math
from dataclasses import fields

import numpy as np
import pytest

from rnnkit.data.batching import make_batches
from rnnkit.data.features import Featurizer
from rnnkit.errors import RnnkitError
from rnnkit.io import storage
from rnnkit.ner import training
from rnnkit.ner.checkpoint import CHECKPOINT_FILE
from rnnkit.ner.regularisers import CASINGS, recase
from rnnkit.ner.training import Interrupted, TrainConfig, train
from support import InterruptAt

SENTENCES = [
    ["Ann", "Lee", "said", "so"],
    ["the", "BBC", "quoted", "Bob"],
    ["Paris", "is", "big"],
    ["ok"],
    ["Mary", "met", "John", "in", "Rome", "today"],
]
SMALL = dict(n_a=16, vocab=200, epochs=3, patience=10, batch=8, lr=1e-2, word_dropout=0.1, seed=3)


def quiet(*args):
    pass


def featurizer(groups=("word", "shape", "lower")):
    """Every word in all three casings is in the vocabulary, so a recased word gets ids of its
    own (not UNK): the encodings of a sentence's casings differ."""
    words = [[c(w) for w in s] for s in SENTENCES for c in (*CASINGS, str)]
    return Featurizer.build(words, groups=groups, vocab_size=1000)


def batch_of(f, sentences):
    xs = [f.encode(s) for s in sentences]
    return make_batches(xs, None, batch_size=len(xs))[0]


@pytest.mark.parametrize("groups", [("word", "shape", "lower"), ("word",)])
def test_each_chosen_sentence_is_encoded_again_in_one_casing(groups):
    f = featurizer(groups)
    sentences = SENTENCES * 12
    batch = batch_of(f, sentences)
    before = batch.x.copy()
    x, words_shown = recase(batch.x, batch.index, sentences, f, 1.0, np.random.default_rng(0))
    assert np.array_equal(batch.x, before), "the batch's own array is not changed"
    for row, words in enumerate(words_shown):  # the tokens as shown are what x encodes
        assert [w.lower() for w in words] == [w.lower() for w in sentences[batch.index[row]]]
        got = x[row, : len(words)].reshape(len(words), -1)
        assert np.array_equal(got, f.encode(words).reshape(len(words), -1))
    seen = set()
    for row, i in enumerate(batch.index):
        words = sentences[i]
        encodings = [f.encode([c(w) for w in words]).reshape(len(words), -1) for c in CASINGS]
        got = x[row, : len(words)].reshape(len(words), -1)
        matches = [k for k, e in enumerate(encodings) if np.array_equal(got, e)]
        assert len(matches) == 1, (words, got)
        seen.update(matches)
        assert (x[row, len(words) :] == 0).all(), "padding stays padding"
    assert seen == {0, 1, 2}, "lowercase, capitals and title case are all shown"


def test_title_case_is_each_word_capitalised():
    assert [c("mcDONALD") for c in CASINGS] == ["mcdonald", "MCDONALD", "Mcdonald"]


def test_a_share_of_the_sentences_is_recased():
    f = featurizer()
    sentences = [["Ann", "said"]] * 4000  # every casing changes it
    batch = batch_of(f, sentences)
    x, _ = recase(batch.x, batch.index, sentences, f, 0.3, np.random.default_rng(1))
    changed = (x != batch.x).any(axis=(1, 2)).mean()
    assert abs(changed - 0.3) < 0.03  # 4 standard deviations of the binomial share


def test_share_0_changes_nothing_and_the_stream_is_used_alike():
    """The draws per sentence are the same whatever the share, so that what comes after them in
    a step's stream does not depend on the data."""
    f = featurizer()
    batch = batch_of(f, SENTENCES)
    r0, r1 = np.random.default_rng(2), np.random.default_rng(2)
    assert recase(batch.x, batch.index, SENTENCES, f, 0.0, r0)[0] is batch.x
    recase(batch.x, batch.index, SENTENCES, f, 0.7, r1)
    assert r0.random() == r1.random()


def test_0_is_off_and_the_setting_is_checked():
    assert TrainConfig(case_augment=0).case_augment is None
    assert TrainConfig().case_augment is None
    assert TrainConfig(case_augment=1).case_augment == 1
    for bad in (-0.1, 1.5, math.nan, math.inf):
        with pytest.raises(RnnkitError, match="--case-augment"):
            TrainConfig(case_augment=bad)


def test_the_command_line_option():
    from rnnkit.cli import build_parser

    files = ["train", "--train", "a", "--dev", "b", "--out", "c"]
    for given, expected in ((["--case-augment", "0.25"], 0.25), (["--case-augment", "0"], None)):
        args = build_parser().parse_args(files + given)
        config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
        assert config.case_augment == expected


def _params(path):
    arrays, _ = storage.load(path / "model.npz")
    return arrays


def test_off_trains_bit_identically_to_before(corpus, tmp_path):
    train(TrainConfig(**SMALL), *corpus, tmp_path / "a", log=quiet)
    train(TrainConfig(**SMALL, case_augment=0), *corpus, tmp_path / "b", log=quiet)
    a, b = _params(tmp_path / "a"), _params(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_on_recases_its_share_of_the_training_sentences(corpus, tmp_path, monkeypatch):
    shown, recased = [], []

    def counting(x, index, tokens, featurizer, share, rng):
        out, words = recase(x, index, tokens, featurizer, share, rng)
        shown.append(len(index))
        recased.append(int((out != x).any(axis=tuple(range(1, x.ndim))).sum()))
        return out, words

    monkeypatch.setattr(training, "recase", counting)
    train(TrainConfig(**SMALL, case_augment=0.5), *corpus, tmp_path / "on", log=quiet)
    train(TrainConfig(**SMALL), *corpus, tmp_path / "off", log=quiet)
    assert sum(shown) == 3 * 300  # every sentence of every epoch was offered, once
    # a recased sentence can read as before (a lowercase one, lowercased): somewhat under 0.5
    assert 0.4 < sum(recased) / sum(shown) < 0.55  # 0.484 here; 4 sd of a binomial: 0.067
    on, off = _params(tmp_path / "on"), _params(tmp_path / "off")
    assert any(not np.array_equal(on[k], off[k]) for k in on)


def test_a_resumed_run_with_case_augmentation_is_bit_identical(corpus, tmp_path):
    config = {**SMALL, "case_augment": 0.5, "features": ("word", "shape")}
    train(TrainConfig(**config), *corpus, tmp_path / "straight", log=quiet, keep_checkpoint=True)
    with pytest.raises(Interrupted):
        train(TrainConfig(**config), *corpus, tmp_path / "r", progress=InterruptAt(45), log=quiet)
    train(
        TrainConfig(**config), *corpus, tmp_path / "r", resume=True, log=quiet, keep_checkpoint=True
    )
    a, _ = storage.load(tmp_path / "straight" / CHECKPOINT_FILE)
    b, meta = storage.load(tmp_path / "r" / CHECKPOINT_FILE)
    assert meta["config"]["case_augment"] == 0.5
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
