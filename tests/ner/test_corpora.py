"""Several corpora in one run: training files with weights, dev sets scored together."""

import csv

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.data.conll import read_conll
from rnnkit.errors import RnnkitError
from rnnkit.ner.corpora import picked, read_train, split_weight
from support import one_line_error, write_corpus


def test_split_weight():
    assert split_weight("a.txt") == ("a.txt", 1.0)
    assert split_weight("dir/a.txt:0.5") == ("dir/a.txt", 0.5)
    assert split_weight("a:b.txt") == ("a:b.txt", 1.0)  # not a number: part of the path
    assert split_weight("a.txt:1000") == ("a.txt", 1000.0)
    for bad in ("a.txt:-1", "a.txt:1001", "a.txt:1e12", "a.txt:1e300", "a.txt:nan"):
        with pytest.raises(RnnkitError, match="weight is a number from 0 to 1000"):
            split_weight(bad)  # 1e12 copies of a file once took all memory, then a traceback


def test_a_run_without_a_dev_file_is_refused_before_training(two_files, tmp_path):
    # dev=[] trained an epoch, then failed to save a NaN mean F1 with a JSON error
    from rnnkit.ner.training import TrainConfig, train

    with pytest.raises(RnnkitError, match="no dev file"):
        train(TrainConfig(n_a=4, vocab=50, epochs=1), two_files[0], [], tmp_path / "r")
    assert not (tmp_path / "r" / "model.npz").exists()


def test_a_training_or_dev_file_that_is_not_a_path_is_refused_naming_it(two_files, tmp_path):
    """rnnkit.train(train=[("b.txt", 0.5)]) looked for a file named "('b.txt', 0.5)", and
    train=[] was told the files "weigh 0"; a Path is a path like a str."""
    import rnnkit

    a, _ = two_files
    run = {"dev": [str(a)], "out": tmp_path / "r", "n_a": 4, "vocab": 50, "epochs": 1}
    with pytest.raises(TypeError, match=r"a training file is a path .*not \('b.txt', 0.5\); its"):
        rnnkit.train(**{**run, "train": [str(a), ("b.txt", 0.5)]})
    with pytest.raises(TypeError, match=r"a dev file is a path .*not 3$"):
        rnnkit.train(**{**run, "train": [str(a)], "dev": [str(a), 3]})
    with pytest.raises(RnnkitError, match="no training file: give at least one"):
        rnnkit.train(**{**run, "train": []})
    assert not (tmp_path / "r").exists()
    # an empty path (an unset variable) was ": no such file", and out="" the working directory
    with pytest.raises(RnnkitError, match="a training file's path is empty"):
        rnnkit.train(**{**run, "train": [""]})
    with pytest.raises(RnnkitError, match="a dev file's path is empty"):
        rnnkit.train(**{**run, "train": [str(a)], "dev": [""]})
    for out in ("", None):
        with pytest.raises(TypeError, match="out is the run's directory"):
            rnnkit.train(**{**run, "train": [str(a)], "out": out})
    assert not (tmp_path / "r").exists()
    files, _ = read_train([a, f"{a}:0.5"], None, seed=0)  # Path and str alike
    assert [f.path for f in files] == [str(a), str(a)]


@pytest.fixture(scope="module")
def two_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("two")
    return write_corpus(d / "a.txt", 40, 0), write_corpus(d / "b.txt", 30, 1)


def test_weights_pick_sentences(two_files):
    a, b = two_files
    n_a, n_b = len(read_conll(a)), len(read_conll(b))
    files, scheme = read_train([str(a), f"{b}:0.5"], None, seed=0)
    assert scheme == "iob2" and [f.path for f in files] == [str(a), str(b)]
    assert files[0].picks.tolist() == list(range(n_a))  # weight 1: the file as it is
    half = files[1].picks
    assert len(half) == round(n_b / 2) and len(set(half.tolist())) == len(half)
    assert (np.diff(half) > 0).all()  # in the file's order
    again, _ = read_train([str(a), f"{b}:0.5"], None, seed=0)
    assert (again[1].picks == half).all()  # drawn from the seed
    twice, _ = read_train([f"{a}:2.5"], None, seed=0)
    assert len(twice[0].picks) == 2 * n_a + round(n_a / 2)
    assert [s.tokens for s in picked(twice)][:n_a] == [s.tokens for s in read_conll(a)]
    with pytest.raises(RnnkitError, match="weigh 0"):
        read_train([f"{a}:0"], None, seed=0)


def test_two_training_files_and_two_dev_sets(two_files, corpus, tmp_path):
    a, b = two_files
    train, dev = corpus
    out = tmp_path / "run"
    argv = ["train", "--task", "bio", "--train", str(train), "--train", f"{a}:0.5"]
    argv += ["--dev", str(dev), "--dev", str(b), "--out", str(out), "--n-a", "8"]
    assert main([*argv, "--epochs", "2", "--quiet"]) == 0
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for row in rows:
        each = float(row[f"dev_f1:{dev}"]), float(row[f"dev_f1:{b}"])
        assert float(row["dev_f1"]) == pytest.approx(np.mean(each))


def test_select_chooses_on_one_dev_set(two_files, corpus, tmp_path, capsys):
    a, b = two_files
    train, dev = corpus
    argv = ["train", "--task", "bio", "--train", str(train), "--dev", str(dev), "--dev", str(b)]
    argv += ["--n-a", "8", "--epochs", "1", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "run"), "--select", str(b)]) == 0
    with open(tmp_path / "run" / "history.csv") as f:
        (row,) = csv.DictReader(f)
    assert row["dev_f1"] == row[f"dev_f1:{b}"]
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "other"), "--select", str(a)]) == 1
    one_line_error(capsys.readouterr().err, f"--select {a}: not one of the dev files")
