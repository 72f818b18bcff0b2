"""Training: it learns, it keeps the best model, and an interrupted run resumes bit-identically."""

import os
import signal

import numpy as np
import pytest

from rnnkit.data.features import Featurizer
from rnnkit.data.vocab import UNK_ID
from rnnkit.errors import RnnkitError
from rnnkit.io import storage
from rnnkit.ner.checkpoint import CHECKPOINT_FILE
from rnnkit.ner.regularisers import drop_inputs
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.training import Interrupted, TrainConfig, train

SMALL = dict(n_a=16, vocab=200, epochs=4, patience=10, batch=8, lr=1e-2, word_dropout=0.1, seed=3)
FULL = {  # every option on
    **SMALL,
    "bidirectional": True,
    "dropout": 0.2,
    "unk_alpha": 1.0,
    "feature_dropout": 0.1,
    "average": 0.99,
    "entity_dropout": 0.3,
    "features": ("word", "shape"),
}
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


@pytest.mark.parametrize("config", [SMALL, FULL])
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


def test_checkpoint_arrays_are_named_part_and_parameter(corpus, tmp_path):
    train(TrainConfig(**{**FULL, "epochs": 1}), *corpus, tmp_path, log=quiet)
    arrays, meta = storage.load(tmp_path / CHECKPOINT_FILE)
    model, _ = storage.load(tmp_path / "model.npz")
    parts = ("param", "opt.m", "opt.v", "average")
    assert set(arrays) == {f"{part}:{k}" for part in parts for k in model}
    assert meta["opt_t"] == BATCHES and (meta["epoch"], meta["step"]) == (1, 0)


def test_a_checkpoint_of_the_old_code_resumes_bit_identically(corpus, tmp_path):
    """Checkpoints written before the reshape name the optimiser's arrays "opt:m:W_aa" and
    hold 0 for an option that is off, and an "extra" dict: such a file still resumes."""
    config = {**FULL, "epochs": 2}
    train(TrainConfig(**config), *corpus, tmp_path / "straight", log=quiet)
    old = tmp_path / "old"
    train(TrainConfig(**{**config, "epochs": 1}), *corpus, old, log=quiet)
    arrays, meta = storage.load(old / CHECKPOINT_FILE)
    renamed = {}
    for key, v in arrays.items():
        if key.startswith("opt."):
            slot, name = key[4:].split(":", 1)
            key = "opt:" + f"{slot}/{name}".replace("/", ":")  # the old code's line
        renamed[key] = v
    assert "opt:m:W_ya" in renamed and "opt:v:b_a.bwd" in renamed
    old_config = {k: 0.0 if v is None else v for k, v in meta["config"].items()}
    old_config.update(lower_vocab=0, extra={})
    assert old_config["init_x"] == old_config["lr_decay"] == 0.0
    old_meta = {k: v for k, v in meta.items() if not k.startswith("format")}
    storage.save(
        old / CHECKPOINT_FILE,
        renamed,
        {**old_meta, "config": old_config},
        format_name="rnnkit-checkpoint",
    )
    train(TrainConfig(**config), *corpus, old, resume=True, log=quiet)
    for name in (CHECKPOINT_FILE, "model.npz"):
        a, _ = storage.load(tmp_path / "straight" / name)
        b, _ = storage.load(old / name)
        assert a.keys() == b.keys()
        for k in a:
            assert np.array_equal(a[k], b[k]), (name, k)


def test_none_is_off_and_zero_reads_as_none():
    default = TrainConfig()
    off = ("lower_vocab", "init_x", "dropout", "word_dropout", "unk_alpha", "feature_dropout")
    off += ("entity_dropout", "average", "lr_decay")
    assert all(getattr(default, name) is None for name in off)
    zeros = dict.fromkeys(off[2:], 0.0)
    assert TrainConfig(**zeros) == default
    old = TrainConfig.from_json({**default.to_json(), **zeros, "init_x": 0.0, "lower_vocab": 0})
    assert old == default
    with pytest.raises(RnnkitError, match="init_x"):
        TrainConfig(init_x=0.0)  # 0 is no scale: off is None (the CLI maps its 0 to None)


def test_the_command_line_still_takes_0_for_off():
    from dataclasses import fields

    from rnnkit.cli import build_parser

    files = ["train", "--train", "a", "--dev", "b", "--out", "c"]
    off = ["--init-x", "--dropout", "--word-dropout", "--unk-alpha", "--feature-dropout"]
    off += ["--entity-dropout", "--average", "--lr-decay"]
    for argv in (files, files + [a for option in off for a in (option, "0")]):
        args = build_parser().parse_args(argv)
        config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
        assert config == TrainConfig()
    args = build_parser().parse_args(files + ["--init-x", "1", "--average", "0.9"])
    assert (args.init_x, args.average) == (1.0, 0.9)


def test_the_model_settings_are_the_rnn_config():
    config = TrainConfig(n_a=8, layers=2, bidirectional=True, dropout=0.25, init_x=1)
    rnn = config.rnn_config(n_x=50, n_y=9, output="softmax")
    assert (rnn.n_x, rnn.n_a, rnn.n_y, rnn.output, rnn.layers) == (50, 8, 9, "softmax", 2)
    assert rnn.bidirectional and rnn.dropout == 0.25 and rnn.init_x == 1.0
    assert isinstance(config.init_x, float)  # as RNNConfig holds it


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
