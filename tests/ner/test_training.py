"""Training: it learns, it keeps the best model, and an interrupted run resumes bit-identically."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from rnnkit.data.conll import read_conll
from rnnkit.data.features import Featurizer
from rnnkit.data.vocab import UNK_ID
from rnnkit.errors import DataError, RnnkitError
from rnnkit.io import storage
from rnnkit.ner import train_config
from rnnkit.ner.checkpoint import CHECKPOINT_FILE
from rnnkit.ner.regularisers import drop_inputs
from rnnkit.ner.run_directory import LOCK_FILE, claim
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.training import Interrupted, TrainConfig, train
from support import InterruptAt

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
SPELLED = {**FULL, "char_hidden": 4, "case_augment": 0.3}  # and each word's spelling
GATED = {**SPELLED, "cell": "gru"}  # with gated recurrent units
EMBEDDED = {**GATED, "n_e": 6}  # reading e<t> = E x<t>: E's sparse columns in lazy Adam
BATCHES = 38  # 300 synthetic training sentences in batches of 8


def quiet(*args):
    pass


def test_training_learns_and_saves_everything(corpus, tmp_path):
    history = train(TrainConfig(**SMALL), *corpus, tmp_path, log=quiet, keep_checkpoint=True)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert max(h["dev_f1"] for h in history) > 0.4
    for name in ("model.npz", "checkpoint.npz", "history.csv"):
        assert (tmp_path / name).exists()
    try:  # the plot needs the train extra; without it the run says so and goes on
        import matplotlib  # noqa: F401

        assert (tmp_path / "curves.png").exists()
    except ImportError:
        assert not (tmp_path / "curves.png").exists()
    tagger = Tagger.load(tmp_path)
    assert tagger.meta["dev"]["f1"] == max(h["dev_f1"] for h in history)
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 5


@pytest.mark.parametrize("config", [SMALL, FULL, SPELLED, GATED, EMBEDDED])
def test_interrupted_and_resumed_run_is_bit_identical(corpus, tmp_path, config):
    straight = tmp_path / "straight"
    train(TrainConfig(**config), *corpus, straight, log=quiet, keep_checkpoint=True)
    resumed = tmp_path / "resumed"
    with pytest.raises(Interrupted, match="--resume"):
        train(TrainConfig(**config), *corpus, resumed, progress=InterruptAt(BATCHES + 7), log=quiet)
    _, meta = storage.load(resumed / CHECKPOINT_FILE)
    assert (meta["epoch"], meta["step"]) == (1, 7)  # stopped inside the second epoch
    train(TrainConfig(**config), *corpus, resumed, resume=True, log=quiet, keep_checkpoint=True)
    a, _ = storage.load(straight / CHECKPOINT_FILE)
    b, _ = storage.load(resumed / CHECKPOINT_FILE)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    m1, _ = storage.load(straight / "model.npz")
    m2, _ = storage.load(resumed / "model.npz")
    assert all(np.array_equal(m1[k], m2[k]) for k in m1)


def test_checkpoint_arrays_are_named_part_and_parameter(corpus, tmp_path):
    train(TrainConfig(**{**FULL, "epochs": 1}), *corpus, tmp_path, log=quiet, keep_checkpoint=True)
    arrays, meta = storage.load(tmp_path / CHECKPOINT_FILE)
    model, _ = storage.load(tmp_path / "model.npz")
    parts = ("param", "opt.m", "opt.v", "average")
    assert set(arrays) == {f"{part}:{k}" for part in parts for k in model}
    assert meta["opt_t"] == BATCHES and (meta["epoch"], meta["step"]) == (1, 0)


def test_a_checkpoint_of_the_old_code_resumes_bit_identically(corpus, tmp_path):
    """Checkpoints written before the reshape name the optimiser's arrays "opt:m:W_aa" and
    hold 0 for an option that is off, and an "extra" dict: such a file still resumes."""
    config = {**FULL, "epochs": 2}
    keep = dict(log=quiet, keep_checkpoint=True)
    train(TrainConfig(**config), *corpus, tmp_path / "straight", **keep)
    old = tmp_path / "old"
    train(TrainConfig(**{**config, "epochs": 1}), *corpus, old, **keep)
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
    train(TrainConfig(**config), *corpus, old, resume=True, **keep)
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
    with pytest.raises(RnnkitError, match="init-x"):
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
    train(TrainConfig(**{**SMALL, "epochs": 1}), *corpus, tmp_path, log=quiet, keep_checkpoint=True)
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


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "bad, option",
    [
        (dict(lr_decay=-0.4), "--lr-decay"),  # the learning rate would turn negative
        (dict(lr_decay=INF), "--lr-decay"),
        (dict(clip=INF), "--clip"),  # these crashed on saving, after an epoch
        (dict(clip=NAN), "--clip"),
        (dict(unk_alpha=INF), "--unk-alpha"),
        (dict(lr=NAN), "--lr"),
        (dict(lr=INF), "--lr"),
        (dict(init_x=NAN), "--init-x"),
        (dict(seed=-1), "--seed"),  # these gave tracebacks
        (dict(seed=1.5), "--seed"),
        (dict(features=("word", "word")), "--features"),
        (dict(features=()), "--features"),
        (dict(patience=0), "--patience"),
        (dict(n_a=10**7), "--n-a"),  # 10^14 parameters: more memory than any machine has
        (dict(embedding_dropout=0.5), "--embedding-dropout"),  # without --n-e: nothing to drop
        (dict(n_e=4, embedding_dropout=1.0), "--embedding-dropout"),
        (dict(n_e=4, embedding_dropout=NAN), "--embedding-dropout"),
        (dict(n_e=0), "--n-e"),
        (dict(n_e=2.5), "--n-e"),
        (dict(epochs=1.5), "--epochs"),  # ran 2 epochs without a word
        (dict(epochs=True), "--epochs"),
        (dict(batch=INF), "--batch"),
        (dict(char_hidden=-1), "--char-hidden must not be negative"),
        (dict(lr="1e-3"), "--lr must be a number"),
        (dict(features="word,spelling"), "--features"),
    ],
)
def test_every_setting_is_checked_when_the_config_is_made(bad, option):
    with pytest.raises(RnnkitError, match=re.escape(option)):
        TrainConfig(**bad)


def test_numbers_of_numpy_types_are_stored_as_json_numbers(corpus, tmp_path):
    # np.int64 batch or np.float32 lr passed every check, then failed the first save of
    # model.npz (after a whole epoch): "Object of type int64 is not JSON serializable"
    config = TrainConfig(
        **{**SMALL, "epochs": np.int64(1), "batch": np.int64(4), "lr": np.float32(1e-2)},
        features="word,shape",  # as --features takes them
    )
    assert (type(config.epochs), type(config.batch), type(config.lr)) == (int, int, float)
    assert config.features == ("word", "shape")
    train(config, *corpus, tmp_path / "run", log=lambda msg: None)
    assert storage.load(tmp_path / "run" / "model.npz")[1]["train"]["batch"] == 4


def test_a_model_that_does_not_fit_in_memory_is_refused_before_any_work(monkeypatch):
    monkeypatch.setattr(train_config, "physical_memory", lambda: 16 * 2**30)
    with pytest.raises(RnnkitError, match=r"--n-a 100000 .* need 149\.0 GiB; .* has 16\.0 GiB"):
        TrainConfig(n_a=100_000)  # 10^10 W_aa entries, 4 arrays of float32
    TrainConfig(n_a=20_000)  # 6 GiB: fits
    config = TrainConfig(n_a=10_000, features=("word", "lower"))
    big = config.rnn_config(n_x=200_000, n_y=1)  # the inputs count too, once they are known
    with pytest.raises(RnnkitError, match="200,000 inputs"):
        config.check_memory(big)
    embedded = TrainConfig(n_e=10_000)  # E (10^4, n_x) is counted once the inputs are known
    with pytest.raises(RnnkitError, match="--n-e 10000 and 200,000 inputs"):
        embedded.check_memory(embedded.rnn_config(n_x=200_000, n_y=1))


def test_only_the_bidirectional_model_finds_whole_names(corpus, tmp_path):
    """In the synthetic corpus a first name starts both "Teddy Roosevelt" and "Teddy bears":
    only the words after it tell them apart, so only a model that reads ahead gets whole names."""
    config = {**SMALL, "epochs": 12, "patience": 12}
    uni = train(TrainConfig(**config), *corpus, tmp_path / "uni", log=quiet)
    bi = train(TrainConfig(**config, bidirectional=True), *corpus, tmp_path / "bi", log=quiet)
    assert max(h["dev_f1"] for h in bi) > 0.95
    assert max(h["dev_f1"] for h in uni) < 0.85


def test_the_saved_model_holds_the_averaged_weights(corpus, tmp_path):
    config = TrainConfig(**{**SMALL, "epochs": 1, "average": 0.9})
    train(config, *corpus, tmp_path, log=quiet, keep_checkpoint=True)
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


# -- issue 11: what a new user and a careless one broke -------------------------------------


def _epoch_tokens(path):
    """How many tokens one epoch trains on: every token of the file."""
    return sum(len(s.tokens) for s in read_conll(path))


def test_settings_given_with_resume_that_the_run_does_not_take_are_named(corpus, tmp_path):
    # --resume takes every setting but the epochs from the checkpoint; --lr 0.05 given with it
    # used to be dropped without a word
    out = tmp_path / "r"
    train(TrainConfig(**{**SMALL, "epochs": 1}), *corpus, out, log=quiet, keep_checkpoint=True)
    said = []
    asked = TrainConfig(**{**SMALL, "epochs": 2, "lr": 0.05, "features": ("word", "shape")})
    train(asked, *corpus, out, resume=True, log=said.append)
    [warning] = [line for line in said if line.startswith("warning:")]
    assert "--lr 0.05 (the run's: 0.01)" in warning
    assert "--features word,shape (the run's: word)" in warning
    assert "--seed" not in warning and "--epochs" not in warning  # the run's own, or taken
    assert Tagger.load(out).meta["train"]["lr"] == 0.01  # the run went on with its own


def test_a_resumed_epoch_reports_its_whole_loss_and_speed(corpus, tmp_path):
    """The checkpoint holds the interrupted epoch's sums so far: the resumed run's history (and
    its model's) has the loss over the whole epoch, and tokens/s over all of its tokens."""
    config = {**SMALL, "epochs": 2}
    straight = train(TrainConfig(**config), *corpus, tmp_path / "straight", log=quiet)
    with pytest.raises(Interrupted):
        train(TrainConfig(**config), *corpus, tmp_path / "r", progress=InterruptAt(BATCHES + 7))
    resumed = train(TrainConfig(**config), *corpus, tmp_path / "r", resume=True, log=quiet)
    saved = Tagger.load(tmp_path / "r").meta["history"]
    timing = ("seconds", "tokens_per_s")
    for history in (resumed, saved):
        assert [h["train_loss"] for h in history] == [h["train_loss"] for h in straight]
        for h, s in zip(history, straight):
            assert {k: v for k, v in h.items() if k not in timing} == {
                k: v for k, v in s.items() if k not in timing
            }
    n = _epoch_tokens(corpus[0])
    for h in straight + resumed:
        assert h["tokens_per_s"] * h["seconds"] == pytest.approx(n, rel=1e-9)


def _write(path, sentences):
    """Sentences of (token, tag) pairs as a CoNLL file."""
    lines = []
    for s in sentences:
        lines += [f"{w} {t}" for w, t in s] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _retagged(path, to, n=None):
    """The synthetic corpus at `path` with its PER tags renamed `to` (e.g. "PERSON")."""
    return [
        [(w, t.replace("-PER", f"-{to}") if to else t) for w, t in s]
        for s in [
            [(line.split()[0], line.split()[-1]) for line in block.splitlines()]
            for block in path.read_text().split("\n\n")[1:]
            if block.strip()
        ][:n]
    ]


@pytest.mark.parametrize("types, hint", [("PERSON", "PERSON"), ("Per", "Per"), ("ORG", None)])
def test_a_training_file_without_the_tasks_entities_is_refused(corpus, tmp_path, types, hint):
    """per on a file tagged B-PERSON (or B-Per, or no person at all) would learn nothing: an
    error naming the file, with a hint at the types that look like PER; nothing is written."""
    bad = _write(tmp_path / "train.txt", _retagged(corpus[0], types))
    with pytest.raises(DataError) as info:
        train(TrainConfig(**SMALL), bad, corpus[1], tmp_path / "out", log=quiet)
    message = str(info.value)
    assert message.startswith(f"{bad}: no token is tagged as PER") and "nothing to learn" in message
    if hint:
        assert f"did you mean PER? the per task reads the file's {hint} as O" in message
    else:
        assert "(the file's types are LOC, ORG)" in message
    assert not (tmp_path / "out").exists()


def test_tags_like_the_tasks_are_named_and_a_dev_file_without_entities_is_a_warning(
    corpus, tmp_path
):
    per = _retagged(corpus[0], None, 200)
    mixed = _write(tmp_path / "train.txt", per + _retagged(corpus[0], "Per")[200:])
    dev = _write(tmp_path / "dev.txt", _retagged(corpus[1], "PERSON"))
    lines = []
    train(TrainConfig(**{**SMALL, "epochs": 1}), mixed, dev, tmp_path / "out", log=lines.append)
    warnings = [line for line in lines if line.startswith("warning:")]
    assert warnings == [
        f"warning: {mixed}: did you mean PER? the per task reads the file's Per as O",
        f"warning: {dev}: no token is tagged as PER, the per task's entities (did you mean "
        "PER? the per task reads the file's PERSON as O): dev F1 is 0 every epoch and cannot "
        "choose the best model",
    ]
    bio = _write(tmp_path / "bio.txt", _retagged(corpus[0], "PERSON"))
    with pytest.raises(DataError, match=r"tag B-PERSON is not one of .* \(did you mean B-PER\?\)"):
        train(TrainConfig(**{**SMALL, "task": "bio"}), bio, corpus[1], tmp_path / "o2", log=quiet)


def test_an_out_that_holds_a_run_is_refused_unless_resumed_or_overwritten(corpus, tmp_path):
    config = TrainConfig(**{**SMALL, "epochs": 1})
    out = tmp_path / "out"
    train(config, *corpus, out, log=quiet)
    model = (out / "model.npz").read_bytes()
    with pytest.raises(
        RnnkitError,
        match=f"^{re.escape(str(out))}: already holds .*model.npz; .* --resume, .* --overwrite",
    ):
        train(TrainConfig(**{**SMALL, "epochs": 1, "lr": 1.0}), *corpus, out, log=quiet)
    assert (out / "model.npz").read_bytes() == model  # never lost without a word
    train(TrainConfig(**{**SMALL, "epochs": 1, "seed": 4}), *corpus, out, log=quiet, overwrite=True)
    assert (out / "model.npz").read_bytes() != model
    assert set(os.listdir(out)) - {"curves.png"} == {"history.csv", "model.npz"}  # no lock left


def test_a_second_run_into_a_directory_in_use_is_refused(corpus, tmp_path):
    """The lock is held by another process, as a run in another terminal would hold it."""
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
            str(out / LOCK_FILE),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(RnnkitError, match=f"^{re.escape(str(out))}: another rnnkit train"):
            train(TrainConfig(**SMALL), *corpus, out, log=quiet, overwrite=True)
    finally:
        holder.communicate("")
    # Free again; and a claim holds it against a second claim, in-process too.
    with claim(out), pytest.raises(RnnkitError, match="another rnnkit train"), claim(out):
        pass
    assert os.listdir(out) == []


def test_a_completed_run_removes_its_checkpoint_unless_kept(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as without the train extra
    lines = []
    config = TrainConfig(**{**SMALL, "epochs": 2})
    train(config, *corpus, tmp_path / "a", log=lines.append)
    assert sorted(os.listdir(tmp_path / "a")) == ["history.csv", "model.npz"]
    note = "curves.png is not written: matplotlib is not installed (pip install 'rnnkit[train]')"
    assert lines.count(note) == 1 and len(lines) == 3  # the note once, and the two epochs
    with pytest.raises(RnnkitError, match=r"the run in .* is complete.*--keep-checkpoint"):
        train(config, *corpus, tmp_path / "a", resume=True, log=quiet)
    train(config, *corpus, tmp_path / "b", log=quiet, keep_checkpoint=True)
    assert (tmp_path / "b" / CHECKPOINT_FILE).exists()


def test_training_runs_with_one_blas_thread(corpus, tmp_path):
    """rnnkit.threads.limited() also from the Python API: training inside a program that set
    two BLAS threads runs on one, and leaves the program its two."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return {
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        }

    seen = set()

    class Watch(InterruptAt):
        def update(self, n, **postfix):
            seen.update(blas_threads())

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() != {2}:
            pytest.skip("BLAS here cannot run two threads")
        train(
            TrainConfig(**{**SMALL, "epochs": 1}), *corpus, tmp_path, progress=Watch(0), log=quiet
        )
        assert seen == {1}
        assert blas_threads() == {2}


def test_rnnkit_train_from_python_returns_the_tagger_the_command_line_would_save(corpus, tmp_path):
    import rnnkit
    from rnnkit.cli import main

    settings = dict(task="bio", bidirectional=True, n_a=8, vocab=200, epochs=2, batch=8, lr=1e-2)
    tagger = rnnkit.train(
        train=[str(corpus[0])], dev=str(corpus[1]), out=tmp_path / "py", **settings
    )
    assert isinstance(tagger, rnnkit.Tagger) and tagger.task.name == "bio"
    argv = ["train", "--train", str(corpus[0]), "--dev", str(corpus[1]), "--quiet"]
    argv += ["--task", "bio", "--bidirectional", "--n-a", "8", "--vocab", "200", "--epochs", "2"]
    assert main([*argv, "--batch", "8", "--lr", "1e-2", "--out", str(tmp_path / "cli")]) == 0
    cli = Tagger.load(tmp_path / "cli")
    assert all(np.array_equal(tagger.model.params[k], p) for k, p in cli.model.params.items())
    config = rnnkit.TrainConfig(**settings)
    again = rnnkit.train(config, train=str(corpus[0]), dev=str(corpus[1]), out=tmp_path / "cfg")
    assert all(np.array_equal(again.model.params[k], p) for k, p in cli.model.params.items())
    with pytest.raises(TypeError, match="not both"):
        rnnkit.train(config, train=str(corpus[0]), dev=str(corpus[1]), out=tmp_path / "x", n_a=4)
