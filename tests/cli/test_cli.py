"""The command line, end to end on the shared tagger trained by `rnnkit train` (conftest.py):
eval, predict, tag, and its errors."""

import io
import json
import re

import pytest

from rnnkit.cli import main
from rnnkit.io.storage import ModelFileError


def test_eval_scores_equal_seqeval_on_the_predict_output(trained, corpus, tmp_path, capsys):
    seqeval = pytest.importorskip("seqeval.metrics")
    assert main(["eval", "--model", str(trained), "--data", str(corpus[1]), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    out = tmp_path / "pred.txt"
    assert (
        main(["predict", "--model", str(trained), "--data", str(corpus[1]), "--out", str(out)]) == 0
    )
    gold, pred = [[]], [[]]
    for line in out.read_text().splitlines():
        if not line:
            gold.append([]), pred.append([])
            continue
        _, g, p = line.split()
        gold[-1].append(g), pred[-1].append(p)
    gold, pred = [g for g in gold if g], [p for p in pred if p]
    assert scores["f1"] == pytest.approx(seqeval.f1_score(gold, pred), abs=1e-12)
    assert scores["precision"] == pytest.approx(seqeval.precision_score(gold, pred), abs=1e-12)
    assert scores["recall"] == pytest.approx(seqeval.recall_score(gold, pred), abs=1e-12)
    assert scores["accuracy"] == pytest.approx(seqeval.accuracy_score(gold, pred), abs=1e-12)
    report = seqeval.classification_report(gold, pred, output_dict=True)
    for kind, s in scores["per_type"].items():
        assert s["f1"] == pytest.approx(report[kind]["f1-score"], abs=1e-12)


def test_eval_prints_a_table(trained, corpus, capsys):
    assert main(["eval", "--model", str(trained), "--data", str(corpus[1])]) == 0
    out = capsys.readouterr().out
    assert "overall" in out and "PER" in out and "token accuracy" in out


def test_tag_json_offsets_point_at_the_text(trained, capsys, monkeypatch):
    text = 'He said, "Boris Ivanov visited Paris." 🙂 Ünïcödé…'
    assert main(["tag", "--model", str(trained), "--json", text]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["text"] == text
    for tok in result["tokens"]:
        assert text[tok["start"] : tok["end"]] == tok["text"]
        assert 0 <= tok["prob"] <= 1 and tok["label"]
    for e in result["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]
    found = [(e["text"], e["start"], e["end"], e["type"]) for e in result["entities"]]
    assert ("Boris Ivanov", 10, 22, "PER") in found


def test_tag_reads_one_text_per_line_from_stdin(trained, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("Anna Smith said .\n\n   \nAjax in Berlin .\n"))
    assert main(["tag", "--model", str(trained), "--json", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert [json.loads(l)["text"] for l in lines] == [
        "Anna Smith said .",
        "",
        "   ",
        "Ajax in Berlin .",
    ]
    assert json.loads(lines[1])["tokens"] == []


def test_tag_marks_people_in_plain_output(trained, capsys):
    assert main(["tag", "--model", str(trained), "Anna Smith said the team ."]) == 0
    assert "[Anna Smith](PER)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["eval", "--model", "{tmp}/nowhere", "--data", "{dev}"], "nowhere"),
        (["eval", "--model", "{model}", "--data", "{tmp}/missing.txt"], "missing.txt"),
        (["eval", "--model", "{model}", "--data", "{tmp}"], "directory"),
        (["eval", "--model", "{model}/checkpoint.npz", "--data", "{dev}"], "checkpoint.npz"),
        (["eval", "--model", "{dev}", "--data", "{dev}"], "dev.txt"),
        (["tag", "--model", "no-such-model", "text"], "no-such-model"),
        (
            [
                "train",
                "--quiet",
                "--train",
                "{tmp}/missing.txt",
                "--dev",
                "{dev}",
                "--out",
                "{tmp}/o",
            ],
            "missing.txt",
        ),
        (
            [
                "train",
                "--quiet",
                "--task",
                "bio",
                "--train",
                "{dev}",
                "--dev",
                "{dev}",
                "--out",
                "{model}",
                "--resume",
            ],
            "task",
        ),
    ],
)
def test_user_errors_are_one_line_and_non_zero(trained, corpus, tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path, dev=corpus[1], model=trained) for a in argv]
    if argv[-1] == "--resume":
        argv[-2] = str(tmp_path / "resume")
        assert (
            main(
                [
                    "train",
                    "--task",
                    "per",
                    "--train",
                    str(corpus[1]),
                    "--dev",
                    str(corpus[1]),
                    "--out",
                    argv[-2],
                    "--epochs",
                    "1",
                    "--n-a",
                    "4",
                    "--quiet",
                    "--keep-checkpoint",
                ]
            )
            == 0
        )
        capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error:") and "\n" not in err and message in err
    assert "Traceback" not in err


def test_bad_option_values_are_usage_errors(capsys):
    for argv in (
        ["train", "--train", "a", "--dev", "b", "--out", "c", "--n-a", "0"],
        ["train", "--train", "a", "--dev", "b", "--out", "c", "--features", "word,colour"],
        ["eval"],
        ["frobnicate"],
    ):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2


def test_debug_lets_the_error_through_for_its_traceback(tmp_path):
    nowhere = tmp_path / "nowhere"
    with pytest.raises(ModelFileError, match=f"^{re.escape(str(nowhere))}: no such file$"):
        main(["--debug", "eval", "--model", str(nowhere), "--data", str(tmp_path)])


# -- the command line's shape (issue 11) ----------------------------------------------------


def test_version(capsys):
    from rnnkit import __version__

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out == f"rnnkit {__version__}\n"


@pytest.mark.parametrize(
    "argv, threads, debug",
    [
        (["tag", "x"], 1, False),
        (["--threads", "3", "--debug", "tag", "x"], 3, True),
        (["tag", "--threads", "3", "--debug", "x"], 3, True),  # after the command, too
        (["--threads", "2", "tag", "--threads", "3", "x"], 3, False),  # the later one wins
        (["--debug", "eval", "--data", "d"], 1, True),  # and left out after it, kept from before
    ],
)
def test_global_options_go_before_or_after_the_command(argv, threads, debug):
    from rnnkit.cli import build_parser

    args = build_parser().parse_args(argv)
    assert (args.threads, args.debug) == (threads, debug)


def test_global_options_after_the_command_take_effect(trained, tmp_path, capsys):
    assert main(["tag", "--threads", "1", "--model", str(trained), "Anna Smith said ."]) == 0
    assert "[Anna Smith](PER)" in capsys.readouterr().out
    with pytest.raises(ModelFileError):  # --debug: the error itself, for its traceback
        main(["eval", "--debug", "--model", str(tmp_path / "nowhere"), "--data", str(tmp_path)])


@pytest.mark.parametrize(
    "argv",
    [
        ["tag", "--jsn", "x"],
        ["train", "--train", "a", "--dev", "b", "--out", "c", "--jsn"],
        ["eval", "--jsn", "--data", "d"],
    ],
)
def test_a_typo_in_an_option_shows_that_commands_usage(argv, capsys):
    command = argv[0]
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.startswith(f"usage: rnnkit {command} ")
    assert err.rstrip().endswith("--jsn") and "unrecognized arguments" in err


def test_train_help_names_every_feature_group_and_every_option_has_help(capsys):
    from rnnkit.cli import build_parser
    from rnnkit.data.features import GROUPS

    train = build_parser().commands["train"]
    features = next(a for a in train._actions if "--features" in a.option_strings)
    assert all(re.search(rf"\b{g}\b", features.help) for g in GROUPS)
    assert [a.dest for a in train._actions if not a.help] == []  # --seed, --activation had none
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "suffix2" in out and "prefix4" in out and "--keep-checkpoint" in out


def test_an_os_error_without_a_file_name_is_one_clean_line(monkeypatch, capsys):
    from rnnkit.cli import train

    def full(args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train, "run", full)
    assert main(["train", "--train", "a", "--dev", "b", "--out", "c"]) == 1
    assert capsys.readouterr().err == "rnnkit: error: No space left on device\n"
