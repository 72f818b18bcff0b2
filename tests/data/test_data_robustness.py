"""Data files that are broken, strange or huge, through the commands that read them.

A broken file is one clear error naming the file (and line) and nothing is written; CRLF, a BOM
or no final newline change nothing; a 10,000-token sentence is handled whole.
docs/guarantees.md lists what each test guards.
"""

import json

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.ner.metrics import score
from rnnkit.ner.tagger import Tagger
from rnnkit.nn.reference import reference_forward
from support import BAD_CONLL, FIXTURES, one_line_error, synthetic_sentences

CONLL = FIXTURES / "conll"

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
    return CONLL / name


@pytest.mark.parametrize("name, line, words", BAD_DATA)
@pytest.mark.parametrize("command", ["eval", "predict", "train --train", "train --dev"])
def test_bad_data_file_is_one_clear_error_and_nothing_is_written(
    trained, corpus, tmp_path, capsys, command, name, line, words
):
    if command == "predict" and name == "one_column.txt":
        pytest.skip("predict reads a file of tokens only (test_first_contact.py)")
    path = _data_path(name, tmp_path)
    out = tmp_path / "out"
    if command == "eval":
        argv = ["eval", "--model", str(trained), "--data", str(path)]
    elif command == "predict":
        argv = ["predict", "--model", str(trained), "--data", str(path), "--out", str(out)]
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


def test_eval_scores_a_gold_type_the_model_does_not_know(trained, tmp_path, capsys):
    """As conlleval does: an unknown entity type is scored like any other (never found)."""
    data = tmp_path / "foo.txt"
    data.write_text("Anna B-PER\nSmith I-PER\nsaid O\n\nAjax B-FOO\nwon O\n")
    assert main(["eval", "--model", str(trained), "--data", str(data), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["per_type"]["FOO"]["support"] == 1 and scores["per_type"]["FOO"]["recall"] == 0


@pytest.mark.parametrize("name", ["crlf.txt", "no_final_newline.txt", "bom.txt"])
def test_crlf_bom_and_no_final_newline_score_as_the_clean_file(trained, tmp_path, capsys, name):
    raw = (CONLL / name).read_bytes()
    clean = tmp_path / "clean.txt"
    clean.write_bytes(
        raw.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n"
    )
    results = []
    for path in (CONLL / name, clean):
        assert main(["eval", "--model", str(trained), "--data", str(path), "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0] == results[1] and results[0]["n_tokens"] > 0


@pytest.mark.slow
def test_a_10000_token_sentence_is_evaluated_and_predicted_whole(trained, tmp_path, capsys):
    words = [pair for s in synthetic_sentences(2000, 7) for pair in s][:10_000]
    data = tmp_path / "long.txt"
    short = [("Anna", "B-PER"), ("Smith", "I-PER"), ("said", "O")]
    data.write_text(
        "".join(f"{w} {t}\n" for w, t in short) + "\n" + "".join(f"{w} {t}\n" for w, t in words)
    )
    out = tmp_path / "pred.txt"
    assert main(["predict", "--model", str(trained), "--data", str(data), "--out", str(out)]) == 0
    blocks = out.read_text(encoding="utf-8").split("\n\n")
    assert blocks[-1] == "" and len(blocks) == 3
    rows = [line.split() for line in blocks[1].split("\n")]
    assert len(rows) == 10_000
    assert [(r[0], r[1]) for r in rows] == words
    # The predictions are those of the lecture's step-by-step equations over all 10,000 steps.
    tagger = Tagger.load(trained)
    x = tagger.featurizer.encode([w for w, _ in words])[None]
    y_ref = reference_forward(tagger.model, x)[0][0]
    pred = [r[2] for r in rows]
    # The most probable tag path that IOB2 allows (Viterbi), up to float32 ties.
    log_y = np.log(y_ref)

    def path_score(tags):
        return log_y[np.arange(10_000), [tagger.task.tags.index(t) for t in tags]].sum()

    assert path_score(pred) >= path_score(tagger.task.decode(y_ref)[0]) - 1e-2
    assert main(["eval", "--model", str(trained), "--data", str(data), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    gold = [[t for _, t in short], [t for _, t in words]]
    first = [line.split()[2] for line in blocks[0].split("\n")]
    expected = score(gold, [first, pred])
    assert scores["n_tokens"] == 10_003 and scores["f1"] == expected["f1"]
