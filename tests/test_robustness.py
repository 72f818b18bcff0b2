"""Nothing lost, nothing executed, no crash: rnnkit under bad input and faults.

Model files that lie about themselves, data files that are broken, text that is
strange or huge, writes that fail midway, and a real `rnnkit train` process
stopped by SIGTERM and resumed. docs/guarantees.md lists what each test guards.
"""

import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import BAD_CONLL, synthetic_sentences
from rnnkit.cli import build_parser, main
from rnnkit.cli.tag import json_line
from rnnkit.data import conll
from rnnkit.data.batching import make_batches
from rnnkit.data.features import Featurizer
from rnnkit.data.tokenize import tokenize
from rnnkit.io import storage
from rnnkit.io.storage import ModelFileError
from rnnkit.ner.metrics import score
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.tasks import TASKS
from rnnkit.ner.training import TrainConfig, train
from rnnkit.nn.model import RNN
from rnnkit.nn.reference import reference_forward

FIXTURES = Path(__file__).parent / "fixtures" / "conll"
SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    """A trained one-directional bio tagger's training directory (model.npz, checkpoint.npz)."""
    out = tmp_path_factory.mktemp("robust") / "run"
    config = TrainConfig(
        task="bio", features=("word", "shape"), n_a=16, vocab=200, epochs=2, batch=8, lr=1e-2
    )
    train(config, *corpus, out, log=lambda msg: None)
    return out


@pytest.fixture(scope="module")
def random_tagger():
    """An untrained bidirectional bio tagger: cheap, and it tags entities all over the place."""
    sentences = [[w for w, _ in s] for s in synthetic_sentences(100, 0)]
    featurizer = Featurizer.build(sentences, groups=("word", "shape", "suffix"))
    model = RNN(featurizer.n_x, 8, 9, output="softmax", bidirectional=True, seed=1)
    return Tagger(model, featurizer, TASKS["bio"])


def one_line_error(err, *words):
    """The CLI's promise for a user error: one line on stderr, no traceback, saying what is wrong."""
    err = err.strip()
    assert err.startswith("rnnkit: error: ") and "\n" not in err, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    return err


# -- model files that lie -------------------------------------------------------


def _rewrite(src, dst, change):
    """Load src's arrays and meta, let change() edit them, save them to dst with storage.save."""
    arrays, meta = storage.load(src)
    meta = {k: v for k, v in meta.items() if k not in ("format", "format_version")}
    change(arrays, meta)
    storage.save(dst, arrays, meta)


def _edit_header(src, dst, change):
    """Copy the zip, editing the __meta__ document itself (what storage.save would never write)."""
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    header = json.loads(np.lib.format.read_array(io.BytesIO(members["__meta__.npy"])).tobytes())
    change(header)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.frombuffer(json.dumps(header).encode(), np.uint8))
    members["__meta__.npy"] = buf.getvalue()
    with zipfile.ZipFile(dst, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def _set(mapping, key, value):
    mapping[key] = value


def _poke(array, index, value):
    array[index] = value


BAD_MODELS = {
    # meta.model.n_a disagrees with the arrays, smaller and (absurdly) larger
    "n_a smaller": (lambda a, m: _set(m["model"], "n_a", 8), ["W_aa has shape (16, 16)", "(8, 8)"]),
    "n_a huge": (lambda a, m: _set(m["model"], "n_a", 10**6), ["n_a = 1000000", "parameters"]),
    "layers huge": (lambda a, m: _set(m["model"], "layers", 10**9), ["layers = 1000000000"]),
    # the word vocabulary lost a word: its size no longer gives n_x
    "vocab vs n_x": (lambda a, m: m["featurizer"]["vocabs"][0]["words"].pop(), ["n_x"]),
    "int parameter": (
        lambda a, m: _set(a, "W_ya", a["W_ya"].astype(np.int32)),
        ["W_ya", "int32", "not a float"],
    ),
    "bool parameter": (lambda a, m: _set(a, "b_y", a["b_y"] > 0), ["b_y", "bool"]),
    "NaN": (lambda a, m: _poke(a["b_a"], 3, np.nan), ["b_a", "non-finite"]),
    "inf in float32": (
        lambda a, m: _set(a, "W_aa", np.where(a["W_aa"] > 0, 1e300, a["W_aa"])),
        ["W_aa", "non-finite"],
    ),
    "missing parameter": (lambda a, m: a.pop("b_y"), ["b_y", "do not match"]),
    "another task": (lambda a, m: _set(m, "task", "per"), ["n_y = 9", "1"]),
    "unknown task": (lambda a, m: _set(m, "task", "pos"), ["not a valid rnnkit tagger"]),
    "no featurizer": (lambda a, m: m.pop("featurizer"), ["not a valid rnnkit tagger"]),
    "bad activation": (
        lambda a, m: _set(m["model"], "activation", "swish"),
        ["not a valid rnnkit tagger"],
    ),
    "n_a a string": (lambda a, m: _set(m["model"], "n_a", "16"), ["not a valid rnnkit tagger"]),
}
BAD_FILES = {
    "checkpoint": (
        lambda run, p: p.write_bytes((run / "checkpoint.npz").read_bytes()),
        ["'rnnkit-checkpoint', expected 'rnnkit-model'"],
    ),
    "truncated": (
        lambda run, p: p.write_bytes((run / "model.npz").read_bytes()[:5000]),
        ["truncated"],
    ),
    "empty": (lambda run, p: p.write_bytes(b""), ["not an .npz"]),
    "newer format": (
        lambda run, p: _edit_header(run / "model.npz", p, lambda h: _set(h, "format_version", 2)),
        ["format_version 2 is newer"],
    ),
    "manifest lies": (
        lambda run, p: _edit_header(
            run / "model.npz", p, lambda h: _set(h["arrays"]["b_y"], "shape", [3])
        ),
        ["'b_y'", "manifest says"],
    ),
}


@pytest.fixture(params=list(BAD_MODELS) + list(BAD_FILES))
def bad_model(request, run, tmp_path):
    """(path of a model file that must be refused, words the refusal must contain)."""
    path = tmp_path / "bad.npz"
    if request.param in BAD_MODELS:
        change, words = BAD_MODELS[request.param]
        _rewrite(run / "model.npz", path, change)
    else:
        make, words = BAD_FILES[request.param]
        make(run, path)
    return path, words


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # "inf in float32"
def test_tagger_load_refuses_a_bad_model_saying_what_is_wrong(bad_model):
    path, words = bad_model
    with pytest.raises(ModelFileError) as info:
        Tagger.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # "inf in float32"
def test_cli_refuses_a_bad_model_in_one_line(bad_model, corpus, tmp_path, capsys):
    path, words = bad_model
    out = tmp_path / "pred.txt"
    for argv in (
        ["eval", "--data", str(corpus[1])],
        ["predict", "--data", str(corpus[1]), "--out", str(out)],
        ["tag", "Anna Smith said ."],
    ):
        assert main([argv[0], "--model", str(path)] + argv[1:]) == 1
        captured = capsys.readouterr()
        one_line_error(captured.err, str(path), *words)
        assert captured.out == ""
    assert not out.exists()


def test_the_good_model_loads(run):
    assert (
        Tagger.load(run).task.name == "bio"
    )  # the bad ones above differ from it in one thing each


# -- data files ------------------------------------------------------------------

BAD_DATA = [
    *BAD_CONLL,  # fixture, line named in the message (None: the file as a whole), words
    ("<directory>", None, "directory"),
    ("<missing>", None, "no such file"),
]


def _data_path(name, tmp_path):
    if name == "<directory>":
        return tmp_path
    if name == "<missing>":
        return tmp_path / "missing.txt"
    return FIXTURES / name


@pytest.mark.parametrize("name, line, words", BAD_DATA)
@pytest.mark.parametrize("command", ["eval", "predict", "train --train", "train --dev"])
def test_bad_data_file_is_one_clear_error_and_nothing_is_written(
    run, corpus, tmp_path, capsys, command, name, line, words
):
    path = _data_path(name, tmp_path)
    out = tmp_path / "out"
    if command == "eval":
        argv = ["eval", "--model", str(run), "--data", str(path)]
    elif command == "predict":
        argv = ["predict", "--model", str(run), "--data", str(path), "--out", str(out)]
    else:
        files = {"--train": str(corpus[0]), "--dev": str(corpus[1]), command.split()[1]: str(path)}
        argv = [
            "train",
            "--train",
            files["--train"],
            "--dev",
            files["--dev"],
            "--out",
            str(out),
            "--quiet",
        ]
    assert main(argv) == 1
    err = one_line_error(capsys.readouterr().err, words)
    assert err.startswith(f"rnnkit: error: {path}:{line}: " if line else f"rnnkit: error: {path}: ")
    assert not out.exists()


def test_a_tag_the_task_lacks_stops_training_at_its_line(corpus, tmp_path, capsys):
    data = tmp_path / "foo.txt"
    data.write_text("Anna B-PER\nSmith I-PER\n\nAjax B-FOO\nwon O\n")
    assert (
        main(
            [
                "train",
                "--task",
                "bio",
                "--train",
                str(data),
                "--dev",
                str(corpus[1]),
                "--out",
                str(tmp_path / "o"),
                "--quiet",
            ]
        )
        == 1
    )
    one_line_error(capsys.readouterr().err, f"{data}:4:", "B-FOO")
    assert not (tmp_path / "o").exists()


def test_eval_scores_a_gold_type_the_model_does_not_know(run, tmp_path, capsys):
    """conlleval's behaviour: an unknown entity type is scored like any other (the model never finds it)."""
    data = tmp_path / "foo.txt"
    data.write_text("Anna B-PER\nSmith I-PER\nsaid O\n\nAjax B-FOO\nwon O\n")
    assert main(["eval", "--model", str(run), "--data", str(data), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["per_type"]["FOO"]["support"] == 1 and scores["per_type"]["FOO"]["recall"] == 0


@pytest.mark.parametrize("name", ["crlf.txt", "no_final_newline.txt", "bom.txt"])
def test_crlf_bom_and_no_final_newline_score_as_the_clean_file(run, tmp_path, capsys, name):
    raw = (FIXTURES / name).read_bytes()
    clean = tmp_path / "clean.txt"
    clean.write_bytes(
        raw.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n"
    )
    results = []
    for path in (FIXTURES / name, clean):
        assert main(["eval", "--model", str(run), "--data", str(path), "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0] == results[1] and results[0]["n_tokens"] > 0


def test_a_10000_token_sentence_is_evaluated_and_predicted_whole(run, tmp_path, capsys):
    words = [pair for s in synthetic_sentences(2000, 7) for pair in s][:10_000]
    data = tmp_path / "long.txt"
    short = [("Anna", "B-PER"), ("Smith", "I-PER"), ("said", "O")]
    data.write_text(
        "".join(f"{w} {t}\n" for w, t in short) + "\n" + "".join(f"{w} {t}\n" for w, t in words)
    )
    out = tmp_path / "pred.txt"
    assert main(["predict", "--model", str(run), "--data", str(data), "--out", str(out)]) == 0
    blocks = out.read_text(encoding="utf-8").split("\n\n")
    assert blocks[-1] == "" and len(blocks) == 3
    rows = [line.split() for line in blocks[1].split("\n")]
    assert len(rows) == 10_000
    assert [(r[0], r[1]) for r in rows] == words
    # The predictions are those of the lecture's step-by-step equations over all 10,000 steps.
    tagger = Tagger.load(run)
    x = tagger.featurizer.encode([w for w, _ in words])[None]
    y_ref = reference_forward(tagger.model, x)[0][0]
    pred = [r[2] for r in rows]
    chosen = y_ref[np.arange(10_000), [tagger.task.tags.index(t) for t in pred]]
    assert (chosen >= y_ref.max(axis=1) - 1e-4).all()  # argmax, up to float32 ties
    assert main(["eval", "--model", str(run), "--data", str(data), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    gold = [[t for _, t in short], [t for _, t in words]]
    first = [line.split()[2] for line in blocks[0].split("\n")]
    expected = score(gold, [first, pred])
    assert scores["n_tokens"] == 10_003 and scores["f1"] == expected["f1"]


# -- writes that fail midway ----------------------------------------------------------


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
def test_predict_out_is_all_or_nothing(run, corpus, tmp_path, capsys, monkeypatch, fault, code):
    out = tmp_path / "pred.txt"
    for existing in (None, "the old predictions\n"):
        if existing:
            out.write_text(existing)
        with monkeypatch.context() as m:
            fault(m)
            assert (
                main(["predict", "--model", str(run), "--data", str(corpus[1]), "--out", str(out)])
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
        ("", "Is a directory"),
    ],
)
def test_predict_out_that_cannot_be_written_is_named(run, corpus, tmp_path, capsys, where, words):
    (tmp_path / "file.txt").write_text("x")
    out = tmp_path / (where or "dir")
    if not where:
        out.mkdir()
    assert main(["predict", "--model", str(run), "--data", str(corpus[1]), "--out", str(out)]) == 1
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


# -- tag: any text ----------------------------------------------------------------------


def check_tagged(result, text, tagger):
    """Offsets point at the right substrings; tokens in order and disjoint; entities on token edges."""
    assert result["text"] == text
    previous_end, starts, ends = 0, set(), set()
    for tok in result["tokens"]:
        assert text[tok["start"] : tok["end"]] == tok["text"] and tok["text"]
        assert tok["start"] >= previous_end
        previous_end = tok["end"]
        starts.add(tok["start"]), ends.add(tok["end"])
        assert 0 <= tok["prob"] <= 1 and tok["label"] in tagger.task.tags
    for e in result["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]
        assert e["start"] in starts and e["end"] in ends and e["start"] < e["end"]
    # Nothing is dropped: the tokens are the tokeniser's.
    assert [(t["text"], t["start"], t["end"]) for t in result["tokens"]] == [
        tuple(t) for t in tokenize(text)
    ]


def check_json_line(line, text):
    assert (
        "\n" not in line and len(line.splitlines()) <= 1
    )  # even for splitlines(): U+2028 and friends
    assert json.loads(line)["text"] == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "   \t\r\n  ",
        ".,;:!?...--",
        "🙂🙂 👍🏽 ❤️!",
        "\x00\x01\x1b[31mred\x1b[0m\x7f\x9f",
        "Ünïcödé 中文 عربى हिन्दी e\u0301",
        "zzqx blorf wug Qwxyzzy Ffrrrt",
        "a\u2028b\x85c\u2029d\x0bx\x0cy\x1c",
        "\ufeffBOM \u200b zero width",
        "x\udcffy",  # a lone surrogate: an undecodable byte from argv
    ],
)
def test_tag_takes_any_text(run, capsys, text):
    tagger = Tagger.load(run)
    check_tagged(tagger.tag(text), text, tagger)
    assert main(["tag", "--model", str(run), "--json", text]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n")
    check_json_line(out[:-1], text)
    code = main(["tag", "--model", str(run), text])
    err = capsys.readouterr().err
    if (
        "\udcff" in text and code == 1
    ):  # plain output writes it raw: fine where stdout has surrogateescape
        one_line_error(err, "cannot write the text")
    else:
        assert code == 0 and err == ""


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(
        st.text(), st.text(st.sampled_from(list("Anna Smith Paris .\"!?\n\x00\u2028🙂é'-")))
    ),
    max_len=st.integers(1, 6),
    chunk=st.integers(1, 3),
)
def test_tag_offsets_hold_for_arbitrary_text(random_tagger, text, max_len, chunk):
    result = random_tagger.tag(
        text, max_len=max_len, chunk=chunk
    )  # tiny pieces: every seam is tested
    check_tagged(result, text, random_tagger)
    check_json_line(json_line(result), text)


def test_tag_reads_lines_of_any_text_from_stdin(run, tmp_path):
    texts = ["Anna Smith visited Paris .", "", "🙂 \x00 é", "zzqx " * 50]
    child = _cli("tag", "--model", str(run), "--json", stdin=subprocess.PIPE)
    out, err = child.communicate("\n".join(texts) + "\n", timeout=60)
    assert child.returncode == 0 and "Traceback" not in err
    lines = out.split("\n")
    assert lines[-1] == "" and [json.loads(line)["text"] for line in lines[:-1]] == texts


def test_undecodable_stdin_is_one_clear_error(run):
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "PYTHONIOENCODING": "utf-8",
    }  # strict, as in a UTF-8 user locale
    child = subprocess.run(
        [sys.executable, "-m", "rnnkit.cli", "tag", "--model", str(run)],
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


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_a_1mb_paragraph_is_tagged_in_bounded_memory(run, tmp_path):
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
            str(run),
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


# -- the batching layer, and whole-tagger round trips ------------------------------------

_WORDS = ["Anna", "Smith", "Paris", "said", ".", ",", "zzqx", "Ünïcödé", "the", "Ajax", "🙂"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sentences=st.lists(
        st.lists(st.sampled_from(_WORDS), min_size=0, max_size=12), min_size=0, max_size=9
    ),
    batch_size=st.integers(1, 5),
)
def test_batched_prediction_equals_one_sentence_at_a_time(random_tagger, sentences, batch_size):
    xs = [random_tagger.featurizer.encode(s) for s in sentences]
    batches = make_batches(xs, None, batch_size)
    assert sorted(i for b in batches for i in b.index) == list(range(len(sentences)))
    together = random_tagger.predict(sentences, batch_size=batch_size)
    assert len(together) == len(sentences)
    for s, p in zip(sentences, together):
        (alone,) = random_tagger.predict([s], batch_size=1)
        assert p.tags == alone.tags and len(p.tags) == len(s)
        np.testing.assert_allclose(p.probs, alone.probs, rtol=1e-5, atol=1e-6)


def _sentences():
    return [[w for w, _ in s] for s in synthetic_sentences(40, 3)] + [["zzqx", "Ünïcödé", "🙂"]]


def test_whole_tagger_save_load_is_exact(run, random_tagger, tmp_path):
    for tagger in (Tagger.load(run), random_tagger):
        path = tmp_path / "copy.npz"
        tagger.save(path, note="round trip")
        back = Tagger.load(path)
        assert back.model.params.keys() == tagger.model.params.keys()
        for k, p in tagger.model.params.items():
            assert (
                back.model.params[k].dtype == p.dtype
                and back.model.params[k].tobytes() == p.tobytes()
            ), k
        assert (
            back.featurizer.to_json() == tagger.featurizer.to_json()
            and back.meta["note"] == "round trip"
        )
        sentences = _sentences()
        for a, b in zip(tagger.predict(sentences), back.predict(sentences)):
            assert a.tags == b.tags and a.probs.tobytes() == b.probs.tobytes()


def test_float16_save_is_lossy_but_close(random_tagger, tmp_path):
    """Documented: dtype=np.float16 halves the file and rounds every weight to float16."""
    random_tagger.save(tmp_path / "m16.npz", dtype=np.float16)
    back = Tagger.load(tmp_path / "m16.npz")
    for k, p in random_tagger.model.params.items():
        assert np.array_equal(back.model.params[k], p.astype(np.float16).astype(np.float32)), k
    sentences = _sentences()
    for a, b in zip(random_tagger.predict(sentences), back.predict(sentences)):
        np.testing.assert_allclose(a.probs, b.probs, atol=5e-3)
