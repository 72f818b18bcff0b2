"""Issue 11 ("trust on first contact"), the tagging side through the command line: which model
`--model` means, text in any locale, token-only files for `predict`, `--threshold` and entity
scores, and `eval`'s memory on a file with one very long sentence. docs/guarantees.md lists
what each test guards.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.data.features import Featurizer
from rnnkit.ner.tagger import Tagger, shipped_model_path
from rnnkit.ner.tasks import TASKS
from rnnkit.nn.model import RNN
from support import one_line_error, synthetic_sentences

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def per_model(tmp_path_factory):
    """An untrained per tagger's model file: P(person) spread over (0, 1)."""
    sentences = [[w for w, _ in s] for s in synthetic_sentences(100, 0)]
    featurizer = Featurizer.build(sentences, groups=("word", "shape"))
    model = RNN(featurizer.n_x, 8, 1, output="sigmoid", seed=3)
    path = tmp_path_factory.mktemp("per") / "model.npz"
    Tagger(model, featurizer, TASKS["per"]).save(path)
    return path


def _eval_json(capsys, *argv):
    assert main(["eval", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", ["lecture", "default"])
def test_a_local_path_wins_over_the_shipped_model_of_its_name(
    trained, corpus, tmp_path, capsys, monkeypatch, name
):
    """Item 3: a directory named `lecture` given as --model was ignored for the shipped one."""
    shutil.copytree(trained, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    local = _eval_json(capsys, "--model", name, "--data", str(corpus[1]))
    by_path = _eval_json(capsys, "--model", str(trained), "--data", str(corpus[1]))
    assert local["model"] == str(Path(name) / "model.npz")
    assert {k: v for k, v in local.items() if k != "model"} == {
        k: v for k, v in by_path.items() if k != "model"
    }
    # Without the directory, the name is the shipped model's, and eval says so.
    shutil.rmtree(tmp_path / name)
    assert main(["eval", "--model", name, "--data", str(corpus[1])]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"model {name} (shipped)"
    assert shipped_model_path(name).exists()


def test_an_empty_model_path_is_refused_not_read_as_the_working_directory(
    trained, corpus, tmp_path, capsys, monkeypatch
):
    """`--model "$MODEL"` with MODEL unset loaded ./model.npz, if the working directory had one."""
    shutil.copy(trained / "model.npz", tmp_path / "model.npz")
    monkeypatch.chdir(tmp_path)
    for command in (["eval", "--data", str(corpus[1])], ["tag", "Ann met Bob."]):
        assert main([*command, "--model", ""]) == 1
        assert capsys.readouterr().err == (
            "rnnkit: error: an empty model path: give a model file, a run directory or a "
            "shipped name\n"
        )


def test_predict_reads_token_only_files_and_keeps_the_file_gold_tags(per_model, tmp_path, capsys):
    """Item 20: one column gives `token pred`; a per model's predict keeps LOC/ORG gold tags."""
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("Anna\nSmith\nsaid\n.\n\nAjax\nwon\n", encoding="utf-8")
    assert main(["predict", "--model", str(per_model), "--data", str(tokens)]) == 0
    blocks = capsys.readouterr().out.strip("\n").split("\n\n")
    rows = [[line.split() for line in b.split("\n")] for b in blocks]
    assert [[r[0] for r in b] for b in rows] == [["Anna", "Smith", "said", "."], ["Ajax", "won"]]
    assert all(len(r) == 2 and r[1] in ("O", "B-PER", "I-PER") for b in rows for r in b)

    gold = tmp_path / "gold.txt"
    gold.write_text("Anna B-PER\nSmith I-PER\nin O\nParis B-LOC\n\nAjax B-ORG\nwon O\n")
    assert main(["predict", "--model", str(per_model), "--data", str(gold)]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.split("\n") if line] == [
        "B-PER", "I-PER", "O", "B-LOC", "B-ORG", "O"
    ]  # fmt: skip
    # eval needs gold tags: a token-only file is refused in one line naming it.
    assert main(["eval", "--model", str(per_model), "--data", str(tokens)]) == 1
    one_line_error(capsys.readouterr().err, str(tokens))


def test_threshold_moves_the_tags(per_model, trained, capsys):
    """Item 19: --threshold (default 0.5) decides which words are a person's; entities carry
    a score. A bio model takes it too, as log odds against O (tests/ner/test_threshold.py)."""
    text = "Anna Smith said Teddy Roosevelt visited Paris with Maria Ivanov ."
    for model in (per_model, trained):
        counts = []
        for threshold in ("0.05", "0.5", "0.95"):
            args = ["tag", "--model", str(model), "--json", "--threshold", threshold, text]
            assert main(args) == 0
            result = json.loads(capsys.readouterr().out)
            names = [t for t in result["tokens"] if t["label"] != "O"]
            if model == per_model:
                assert all(t["prob"] >= float(threshold) for t in names)
            assert all(0 <= e["score"] <= 1 for e in result["entities"])
            counts.append(len(names))
        assert counts[0] >= counts[1] >= counts[2] and counts[0] > counts[2], (model, counts)
        assert main(["tag", "--model", str(model), "--json", text]) == 0
        default = json.loads(capsys.readouterr().out)
        assert main(["tag", "--model", str(model), "--json", "--threshold", "0.5", text]) == 0
        assert json.loads(capsys.readouterr().out) == default
    with pytest.raises(SystemExit):
        main(["tag", "--threshold", "1.5", text])
    capsys.readouterr()


def _c_locale_tag(model, data, *options):
    # A C locale and no PYTHONIOENCODING: Python's own stdin would be UTF-8 with surrogateescape.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONIO"))}
    env.update(LC_ALL="C", LANG="C", PYTHONPATH=SRC)
    return subprocess.run(
        [sys.executable, "-m", "rnnkit.cli", "tag", "--model", str(model), *options],
        input=data,
        capture_output=True,
        env=env,
        timeout=120,
    )


@pytest.mark.slow  # fresh interpreters
def test_stdin_is_utf8_whatever_the_locale(trained):
    """Item 9: under LC_ALL=C, Latin-1 bytes were tagged as surrogates cut at the accents."""
    latin1 = "Anna Smith said .\nJosé García visited Paris .\n".encode("latin-1")
    child = _c_locale_tag(trained, latin1)
    assert child.returncode == 1
    one_line_error(child.stderr.decode(), "<stdin>:2:", "utf-8", "--encoding")

    utf8 = "José García visited Paris .\n".encode()
    for data, options in ((utf8, ["--json"]), (latin1, ["--json", "--encoding", "latin-1"])):
        child = _c_locale_tag(trained, data, *options)
        assert child.returncode == 0, child.stderr
        last = json.loads(child.stdout.decode("utf-8").splitlines()[-1])
        assert last["text"] == "José García visited Paris ."
        assert [t["text"] for t in last["tokens"][:2]] == ["José", "García"]

    child = _c_locale_tag(trained, utf8)  # plain output: UTF-8 bytes too
    assert child.returncode == 0, child.stderr
    assert "José García".encode() in child.stdout
    for piece in (b"Jos\xc3\xa9", b"Garc\xc3\xada"):
        assert piece in child.stdout


@pytest.mark.slow  # fresh interpreter
def test_documents_on_stdin_are_utf8_whatever_the_locale(trained):
    child = _c_locale_tag(trained, "Jos\xe9 Garc\xeda\n".encode("latin-1"), "--input", "-")
    assert child.returncode == 1
    one_line_error(child.stderr.decode(), "UTF-8")
    child = _c_locale_tag(trained, "José García\n".encode(), "--input", "-")
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.decode("utf-8"))["text"] == "José García"


_PEAK = r"""
import json, sys, tracemalloc
from rnnkit.cli import main
tracemalloc.start()
code = main(sys.argv[1:])
peak = tracemalloc.get_traced_memory()[1]
# VmHWM, the peak resident memory of this program since exec: ru_maxrss would also count the
# pages of the process that forked it (a whole pytest run)
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) * 1024
print(json.dumps({"code": code, "traced_peak": peak, "peak_rss": rss}), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.slow  # a fresh interpreter tags 26,000 tokens with the shipped model
@pytest.mark.skipif(sys.platform != "linux", reason="reads VmHWM from Linux's /proc/self/status")
def test_eval_memory_is_bounded_with_one_20000_token_sentence(tmp_path):
    """Item 12: a 20,000-token sentence among 300 ordinary ones padded its whole batch to its
    length: 3.1 GB at peak. Batches are bounded in tokens, so eval stays far below that."""
    sentences = synthetic_sentences(300, 7)
    long = [w for s in synthetic_sentences(3000, 8) for w in s][:20_000]
    sentences.insert(150, long)
    data = tmp_path / "long.txt"
    data.write_text(
        "".join("".join(f"{w} NN O {t}\n" for w, t in s) + "\n" for s in sentences),
        encoding="utf-8",
    )
    child = subprocess.run(
        [sys.executable, "-c", _PEAK, "eval", "--model", "default", "--data", str(data), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert child.returncode == 0, child.stderr
    m = json.loads(child.stderr.splitlines()[-1])
    scores = json.loads(child.stdout)
    assert m["code"] == 0 and scores["n_tokens"] == sum(map(len, sentences))
    MB = 2**20
    # Measured: 3.1 GB RSS before; about 190 MB RSS (the interpreter, NumPy and the model
    # included) and 120 MB traced by tracemalloc after.
    assert m["traced_peak"] < 300 * MB and m["peak_rss"] < 600 * MB, m


def test_a_text_that_names_a_file_is_tagged_with_a_note_on_stderr(per_model, tmp_path, capsys):
    """`rnnkit tag notes.txt` tags the text "notes.txt": it still does (a text may look like a
    path), and says on stderr how to tag the file; a text that names no file gets no note."""
    (tmp_path / "Ann Lee.txt").write_text("Ann Lee met Bob.\n", encoding="utf-8")
    named = str(tmp_path / "Ann Lee.txt")
    assert main(["tag", "--model", str(per_model), named]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and "Ann Lee met Bob" not in out
    assert f"tagging the text {named!r}" in err and f"--input '{named}'" in err
    assert main(["tag", "--model", str(per_model), str(tmp_path / "no such.txt")]) == 0
    assert capsys.readouterr().err == ""
