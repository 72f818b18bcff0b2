"""Training: it learns, it keeps the best model, and an interrupted run resumes bit-identically."""

import os
import signal

import numpy as np
import pytest

from rnnkit.data.features import Featurizer
from rnnkit.data.vocab import UNK_ID
from rnnkit.errors import RnnkitError
from rnnkit.io import storage
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.training import CHECKPOINT_FILE, Interrupted, TrainConfig, drop_inputs, train

SMALL = dict(n_a=16, vocab=200, epochs=4, patience=10, batch=8, lr=1e-2, word_dropout=0.1, seed=3)
BATCHES = 38  # 300 synthetic training sentences in batches of 8


def quiet(*args):
    pass


def test_training_learns_and_saves_everything(corpus, tmp_path):
    history = train(TrainConfig(**SMALL), *corpus, tmp_path, log=quiet)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert max(h["dev_f1"] for h in history) > 0.4
    for name in ("model.npz", "checkpoint.npz", "history.csv", "curves.png"):
        assert (tmp_path / name).exists()
    tagger = Tagger.load(tmp_path)
    assert tagger.meta["dev"]["f1"] == max(h["dev_f1"] for h in history)
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 5


class InterruptAt:
    """A progress bar that sends the process SIGINT once, after a given number of batches."""

    def __init__(self, after):
        self.after, self.seen = after, 0

    def __call__(self, total, desc):
        return self

    def update(self, n, **postfix):
        self.seen += n
        if self.seen == self.after:
            os.kill(os.getpid(), signal.SIGINT)

    def close(self):
        pass


@pytest.mark.parametrize(
    "config",
    [
        SMALL,
        {
            **SMALL,
            "bidirectional": True,
            "dropout": 0.2,
            "unk_alpha": 1.0,
            "feature_dropout": 0.1,
            "average": 0.99,
            "entity_dropout": 0.3,
            "features": ("word", "shape"),
        },
    ],
)
def test_interrupted_and_resumed_run_is_bit_identical(corpus, tmp_path, config):
    straight = tmp_path / "straight"
    train(TrainConfig(**config), *corpus, straight, log=quiet)
    resumed = tmp_path / "resumed"
    with pytest.raises(Interrupted, match="--resume"):
        train(TrainConfig(**config), *corpus, resumed, progress=InterruptAt(BATCHES + 7), log=quiet)
    _, meta = storage.load(resumed / CHECKPOINT_FILE)
    assert (meta["epoch"], meta["step"]) == (1, 7)  # stopped inside the second epoch
    train(TrainConfig(**config), *corpus, resumed, resume=True, log=quiet)
    a, _ = storage.load(straight / CHECKPOINT_FILE)
    b, _ = storage.load(resumed / CHECKPOINT_FILE)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    m1, _ = storage.load(straight / "model.npz")
    m2, _ = storage.load(resumed / "model.npz")
    assert all(np.array_equal(m1[k], m2[k]) for k in m1)


def test_non_finite_loss_stops_with_the_step_named(corpus, tmp_path, monkeypatch):
    from rnnkit.nn.model import RNN

    real = RNN.loss_and_grads
    calls = []

    def poisoned(self, *args, **kwargs):
        calls.append(1)
        loss, grads = real(self, *args, **kwargs)
        return (float("nan") if len(calls) == BATCHES + 3 else loss), grads

    monkeypatch.setattr(RNN, "loss_and_grads", poisoned)
    with pytest.raises(RnnkitError, match="epoch 2, step 3"):
        train(TrainConfig(**SMALL), *corpus, tmp_path, log=quiet)
    _, meta = storage.load(tmp_path / CHECKPOINT_FILE)
    assert (meta["epoch"], meta["step"]) == (1, 0)  # the last good checkpoint is kept


def test_resume_refuses_another_task_and_a_missing_checkpoint(corpus, tmp_path):
    with pytest.raises(RnnkitError, match="no checkpoint"):
        train(TrainConfig(**SMALL), *corpus, tmp_path, resume=True, log=quiet)
    train(TrainConfig(**{**SMALL, "epochs": 1}), *corpus, tmp_path, log=quiet)
    with pytest.raises(RnnkitError, match="task per"):
        train(TrainConfig(**{**SMALL, "task": "bio"}), *corpus, tmp_path, resume=True, log=quiet)


def test_bad_settings_are_clear_errors():
    for bad in (
        dict(task="pos"),
        dict(n_a=0),
        dict(dropout=1.5),
        dict(entity_dropout=1.0),
        dict(lr=-1),
    ):
        with pytest.raises(RnnkitError):
            TrainConfig(**bad)


def test_only_the_bidirectional_model_finds_whole_names(corpus, tmp_path):
    """In the synthetic corpus a first name starts both "Teddy Roosevelt" and "Teddy bears":
    only the words after it tell them apart, so only a model that reads ahead gets whole names."""
    config = {**SMALL, "epochs": 12, "patience": 12}
    uni = train(TrainConfig(**config), *corpus, tmp_path / "uni", log=quiet)
    bi = train(TrainConfig(**config, bidirectional=True), *corpus, tmp_path / "bi", log=quiet)
    assert max(h["dev_f1"] for h in bi) > 0.95
    assert max(h["dev_f1"] for h in uni) < 0.85


def test_the_saved_model_holds_the_averaged_weights(corpus, tmp_path):
    train(TrainConfig(**{**SMALL, "epochs": 1, "average": 0.9}), *corpus, tmp_path, log=quiet)
    arrays, _ = storage.load(tmp_path / CHECKPOINT_FILE)
    model, _ = storage.load(tmp_path / "model.npz")  # the first epoch is always the best so far
    for k, v in model.items():
        assert np.array_equal(v, arrays[f"average:{k}"])
        assert not np.array_equal(v, arrays[f"param:{k}"])


def _dropped(featurizer, x, **kw):
    """Which ids of x drop_inputs turned into their group's UNK (m, T, K)."""
    out = drop_inputs(x, featurizer, rng=np.random.default_rng(0), **kw)
    unk = featurizer.offsets + UNK_ID
    return (out != x) & (out == unk)


def test_entity_dropout_hides_the_identity_of_entity_words_only():
    featurizer = Featurizer.build(
        [["Ann", "Lee", "met", "us", "here"]] * 3,
        groups=("word", "lower", "shape"),
        vocab_size=10,
        lower_size=10,
        affix_size=10,
    )
    m, T = 400, 5
    x = np.broadcast_to(featurizer.encode(["Ann", "Lee", "met", "us", "here"]), (m, T, 3)).copy()
    entity = np.zeros((m, T), bool)
    entity[:, :2] = True  # "Ann Lee" is the name
    entity[:, 4] = True  # marked, but padding: never touched
    mask = np.ones((m, T), bool)
    mask[:, 4] = False
    hit = _dropped(
        featurizer, x, word_rate=None, feature_rate=0.0, mask=mask, entity=entity, entity_rate=0.5
    )
    word, lower, shape = hit[..., 0], hit[..., 1], hit[..., 2]
    name = entity & mask
    assert (
        not word[~name].any() and not lower[~name].any()
    )  # other words and padding stay as they are
    assert not shape.any()  # the shape of a name stays visible
    assert 0.45 < word[name].mean() < 0.55 and 0.45 < lower[name].mean() < 0.55


def test_entity_dropout_off_leaves_the_random_stream_as_it_was():
    featurizer = Featurizer.build(
        [["a", "b", "c"]], groups=("word", "shape"), vocab_size=10, lower_size=10, affix_size=10
    )
    x = np.tile(featurizer.encode(["a", "b", "c"]), (8, 1, 1))
    mask = np.ones((8, 3), bool)
    rate = np.full(featurizer.n_x, 0.3)
    plain = drop_inputs(x, featurizer, rate, 0.2, np.random.default_rng(5), mask)
    off = drop_inputs(
        x, featurizer, rate, 0.2, np.random.default_rng(5), mask, np.ones((8, 3), bool), 0.0
    )
    np.testing.assert_array_equal(plain, off)
