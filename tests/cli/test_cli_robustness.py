"""Nothing lost, nothing executed, no crash: the command line under faults.

Writes that fail midway, outputs that cannot be written, a real `rnnkit train` process stopped by
SIGTERM and resumed, text from stdin that is not UTF-8, and a 1 MB paragraph tagged in bounded
memory. docs/guarantees.md lists what each test guards.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import build_parser, main
from rnnkit.data import conll
from rnnkit.data.tokenize import tokenize
from rnnkit.io import storage
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.training import TrainConfig
from support import one_line_error, synthetic_sentences

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _fail_predicting(monkeypatch):
    real = Tagger.predict

    def predict(self, sentences, batch_size=256):
        real(self, sentences[:10], batch_size)  # some work done, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(Tagger, "predict", predict)


def _fail_writing(error):
    def install(monkeypatch):
        real = conll._write_sentences

        def write(f, sentences):
            real(f, list(sentences)[:20])  # half a file on its way to disk ...
            f.flush()
            raise error  # ... then the disk is full, or Ctrl-C

        monkeypatch.setattr(conll, "_write_sentences", write)

    return install


@pytest.mark.parametrize(
    "fault, code",
    [
        (_fail_predicting, 130),
        (_fail_writing(OSError(28, "No space left")), 1),
        (_fail_writing(KeyboardInterrupt()), 130),
    ],
)
def test_predict_out_is_all_or_nothing(trained, corpus, tmp_path, capsys, monkeypatch, fault, code):
    out = tmp_path / "pred.txt"
    for existing in (None, "the old predictions\n"):
        if existing:
            out.write_text(existing)
        with monkeypatch.context() as m:
            fault(m)
            assert (
                main(
                    [
                        "predict",
                        "--model",
                        str(trained),
                        "--data",
                        str(corpus[1]),
                        "--out",
                        str(out),
                    ]
                )
                == code
            )
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        if code == 1:
            one_line_error(err, str(out), "No space left")
        assert [p.name for p in tmp_path.iterdir()] == (
            [out.name] if existing else []
        )  # no temporary left
        if existing:
            assert out.read_text() == existing


@pytest.mark.parametrize(
    "where, words",
    [
        ("missing/pred.txt", "No such file"),
        ("file.txt/pred.txt", "Not a directory"),
        ("", "is a directory"),
    ],
)
def test_predict_out_that_cannot_be_written_is_named(
    trained, corpus, tmp_path, capsys, where, words
):
    (tmp_path / "file.txt").write_text("x")
    out = tmp_path / (where or "dir")
    if not where:
        out.mkdir()
    assert (
        main(["predict", "--model", str(trained), "--data", str(corpus[1]), "--out", str(out)]) == 1
    )
    one_line_error(capsys.readouterr().err, f"rnnkit: error: {out}: cannot write", words)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["file.txt"] + (["dir"] if not where else [])
    )


def test_train_out_that_is_a_file_is_refused_and_left_alone(corpus, tmp_path, capsys):
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    assert (
        main(
            [
                "train",
                "--train",
                str(corpus[0]),
                "--dev",
                str(corpus[1]),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 1
    )
    one_line_error(capsys.readouterr().err, str(out), "not a directory")
    assert out.read_text() == "mine" and os.listdir(tmp_path) == ["notes.txt"]
    assert (
        main(
            [
                "train",
                "--train",
                str(corpus[0]),
                "--dev",
                str(corpus[1]),
                "--out",
                str(out / "sub"),
                "--quiet",
            ]
        )
        == 1
    )
    one_line_error(capsys.readouterr().err, str(out / "sub"))


def test_gradient_clipping_is_on_by_default():
    assert TrainConfig().clip == 5.0
    args = build_parser().parse_args(["train", "--train", "a", "--dev", "b", "--out", "c"])
    assert args.clip == TrainConfig().clip


# -- a real process stopped by a signal ----------------------------------------------

SIGNAL_RUN = [
    "--task",
    "bio",
    "--n-a",
    "8",
    "--vocab",
    "100",
    "--epochs",
    "6",
    "--patience",
    "6",
    "--batch",
    "16",
    "--lr",
    "1e-2",
    "--word-dropout",
    "0.1",
    "--keep-checkpoint",  # the checkpoints are compared
]


def _cli(*args, **kwargs):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(
        [sys.executable, "-m", "rnnkit.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
def test_sigterm_stops_a_real_train_process_and_the_printed_command_resumes_it(corpus, tmp_path):
    """SIGINT takes the same path; test_training.py sends it in-process."""
    train_file, dev_file = corpus
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    files = ["--train", str(train_file), "--dev", str(dev_file)]
    child = _cli("train", *files, "--out", str(stopped), *SIGNAL_RUN, "--quiet")
    try:
        deadline = time.monotonic() + 60
        while not (stopped / "checkpoint.npz").exists():  # the end of epoch 1
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    _, meta = storage.load(stopped / "checkpoint.npz")
    assert 1 <= meta["epoch"] < 6  # stopped mid-run, at a step boundary
    # Resume with exactly the command the message gives.
    hint = next(line for line in err.splitlines() if line.startswith("rnnkit: resume with: "))
    command = shlex.split(hint.removeprefix("rnnkit: resume with: "))
    assert command[:2] == ["rnnkit", "train"] and "--resume" in command
    resumed = _cli(*command[1:])
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert main(["train", *files, "--out", str(straight), *SIGNAL_RUN, "--quiet"]) == 0
    for name in ("checkpoint.npz", "model.npz"):
        a, meta_a = storage.load(straight / name)
        b, meta_b = storage.load(stopped / name)
        assert a.keys() == b.keys()
        for k in a:
            assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), (name, k)
    assert [h["dev_f1"] for h in meta_a["history"]] == [h["dev_f1"] for h in meta_b["history"]]


@pytest.mark.slow  # starts a fresh interpreter, which takes seconds
def test_tag_reads_lines_of_any_text_from_stdin(trained, tmp_path):
    texts = ["Anna Smith visited Paris .", "", "🙂 \x00 é", "zzqx " * 50]
    child = _cli("tag", "--model", str(trained), "--json", stdin=subprocess.PIPE)
    out, err = child.communicate("\n".join(texts) + "\n", timeout=60)
    assert child.returncode == 0 and "Traceback" not in err
    lines = out.split("\n")
    assert lines[-1] == "" and [json.loads(line)["text"] for line in lines[:-1]] == texts


def test_undecodable_stdin_is_one_clear_error(trained):
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "PYTHONIOENCODING": "utf-8",
    }  # strict, as in a UTF-8 user locale
    child = subprocess.run(
        [sys.executable, "-m", "rnnkit.cli", "tag", "--model", str(trained)],
        input=b"M\xfcnchen\n",
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert child.returncode == 1
    one_line_error(child.stderr.decode(), "cannot read the text as utf-8")


_BIG_TAG = r"""
import json, resource, sys, tracemalloc
from rnnkit.cli import main
from rnnkit.ner.tagger import Tagger
model, text_path, out_path = sys.argv[1:]
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024      # Linux: KiB
text = open(text_path, encoding="utf-8").read().rstrip("\n")
base = rss()
sys.stdin, sys.stdout = open(text_path, encoding="utf-8"), open(out_path, "w", encoding="utf-8")
code = main(["tag", "--model", model, "--json", "-"])
sys.stdout.close()
sys.stdout = sys.__stdout__
cli_growth = rss() - base
tagger = Tagger.load(model)
tracemalloc.start()
result = tagger.tag(text)
kept, peak = tracemalloc.get_traced_memory()
print(json.dumps({"code": code, "cli_growth": cli_growth, "kept": kept, "working": peak - kept}))
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_a_1mb_paragraph_is_tagged_in_bounded_memory(trained, tmp_path):
    words = [w for s in synthetic_sentences(400, 5) for w, _ in s if w not in ".!?"] + [
        "zzqx",
        "Ünïcödé",
        "中文",
    ]
    rng = np.random.default_rng(0)
    text = " ".join(rng.choice(words, 200_000))[
        :1_000_000
    ]  # one line, no full stop: cut by max_len only
    (tmp_path / "text.txt").write_text(text + "\n", encoding="utf-8")
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            _BIG_TAG,
            str(trained),
            str(tmp_path / "text.txt"),
            str(tmp_path / "out.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert child.returncode == 0, child.stderr
    m = json.loads(child.stdout)
    assert m["code"] == 0
    MB = 2**20
    # The forward pass works on pieces: beyond the result it keeps, tagging needs a few MB
    # (about 2 MB; 18 MB when all 2,000 sentences of 100 tokens go through at once) ...
    assert m["working"] < 8 * MB, m
    # ... and the whole command, result and JSON included, stays well below 300 MB.
    assert m["cli_growth"] < 300 * MB, m
    out = (tmp_path / "out.jsonl").read_text(encoding="utf-8")
    assert out.count("\n") == 1
    result = json.loads(out)
    assert result["text"] == text and len(result["tokens"]) == len(tokenize(text))
    assert all(text[t["start"] : t["end"]] == t["text"] for t in result["tokens"])
    assert all(text[e["start"] : e["end"]] == e["text"] for e in result["entities"])


# -- train: options checked first, finished models kept, the directory locked (issue 11) ----


def _train_argv(corpus, out, *more):
    files = ["--train", str(corpus[0]), "--dev", str(corpus[1]), "--out", str(out)]
    return ["train", *files, "--n-a", "8", "--vocab", "100", "--epochs", "1", "--quiet", *more]


@pytest.mark.parametrize(
    "option, value",
    [
        ("--lr-decay", "-0.4"),
        ("--clip", "inf"),
        ("--clip", "nan"),
        ("--unk-alpha", "inf"),
        ("--init-x", "nan"),
        ("--seed", "-1"),
        ("--features", "word,word"),
        ("--n-a", "100000"),
        ("--lr", "nan"),
    ],
)
def test_every_bad_option_is_one_line_before_any_work(
    corpus, tmp_path, capsys, monkeypatch, option, value
):
    from rnnkit.ner import train_config

    monkeypatch.setattr(train_config, "physical_memory", lambda: 16 * 2**30)
    out = tmp_path / "out"
    assert main(_train_argv(corpus, out, option, value)) == 1  # the last --n-a counts
    err = one_line_error(capsys.readouterr().err, option)
    assert "checkpoint" not in err  # --lr nan named one that did not exist
    assert os.listdir(tmp_path) == []  # nothing written, not even the directory


def test_a_finished_model_is_not_replaced_without_overwrite(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_train_argv(corpus, out)) == 0
    model = (out / "model.npz").read_bytes()
    capsys.readouterr()
    assert main(_train_argv(corpus, out, "--seed", "5")) == 1
    one_line_error(capsys.readouterr().err, str(out), "already holds", "--overwrite", "--resume")
    assert (out / "model.npz").read_bytes() == model
    assert main(_train_argv(corpus, out, "--seed", "5", "--overwrite")) == 0
    assert (out / "model.npz").read_bytes() != model


def test_a_second_train_into_a_directory_in_use_is_one_line(corpus, tmp_path, capsys):
    from rnnkit.ner.run_directory import claim

    out = tmp_path / "out"
    with claim(out):  # as a run in another process holds it (flock: per open file)
        assert main(_train_argv(corpus, out, "--overwrite")) == 1
    one_line_error(capsys.readouterr().err, f"rnnkit: error: {out}: another rnnkit train")
    assert not out.exists()


def test_a_full_disk_while_saving_the_model_names_the_file(corpus, tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")  # as write() raises it: no file name

    monkeypatch.setattr(np.lib.format, "write_array", full)
    out = tmp_path / "out"
    assert main(_train_argv(corpus, out)) == 1
    one_line_error(capsys.readouterr().err, f"rnnkit: error: {out / 'model.npz'}: No space left")
    assert not out.exists()  # no temporary left, nor the lock, nor the directory the run made


@pytest.mark.parametrize("command", ["predict", "tag"])
def test_out_dash_is_standard_output_not_a_file_named_dash(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("Angela B-PER\nMerkel I-PER\nspoke O\n\n", encoding="utf-8")
    if command == "predict":
        argv = ["predict", "--data", "in.txt", "--out", "-"]
    else:
        argv = ["tag", "--input", "in.txt", "--out", "-"]
    assert main(argv) == 0
    assert "Merkel" in capsys.readouterr().out
    assert not (tmp_path / "-").exists()
