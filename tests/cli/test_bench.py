"""`rnnkit bench` on small files of our own making, and a smoke run of the comparison with PyTorch
(benchmarks/compare_torch.py --tiny) in a child process.

No speed is asserted: timings depend on the machine and its load. What is checked is what the
figures are computed from (the sentences and tokens counted) and that every figure is made.
"""

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.ner import speed

HARNESS = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_torch.py"
FAST = ["--repeats", "1", "--calls", "3"]


def bench(capsys, *argv):
    """(exit code, {line label: rest of line}) of `rnnkit bench ...`."""
    code = main(["bench", *argv])
    out = capsys.readouterr().out
    return code, dict(line.split(": ", 1) for line in out.splitlines())


def test_bench_counts_the_conll_file_and_reports_both_figures(corpus, capsys):
    _, dev = corpus
    blocks = dev.read_text(encoding="utf-8").split("\n\n")
    sentences = [b.split("\n") for b in blocks if b.strip() and not b.startswith("-DOCSTART-")]
    n_tokens = sum(len([ln for ln in s if ln.strip()]) for s in sentences)
    code, out = bench(capsys, "--data", str(dev), *FAST)
    assert code == 0
    assert out["data"] == f"{dev} (conll): {len(sentences)} sentences, {n_tokens} tokens"
    per_s = float(re.match(r"([\d,]+) tokens/s", out["tagging"])[1].replace(",", ""))
    assert per_s > 0 and math.isfinite(per_s)
    assert re.match(r"[\d,.]+ µs for one 12-token sentence \(median of 3 calls\)", out["latency"])


@pytest.mark.parametrize("numba", [True, False])
def test_bench_says_which_loop_it_timed(corpus, capsys, monkeypatch, numba):
    """The figures mean little without knowing whether the compiled kernel ran them; its first
    use compiles it (seconds), which stderr says before the wait."""
    from rnnkit.nn import kernels

    if numba and not kernels.available:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(kernels, "available", numba and kernels.available)
    code = main(["bench", "--data", str(corpus[1]), *FAST])
    captured = capsys.readouterr()
    assert code == 0
    kernel = dict(line.split(": ", 1) for line in captured.out.splitlines())["kernel"]
    assert kernel.startswith("compiled (Numba)" if numba else "NumPy")
    assert ("compiles it" in captured.err) == numba


def test_bench_reads_raw_text_as_rnnkit_tag_does(tmp_path, capsys):
    text = tmp_path / "texts.txt"
    # 5 + 3 tokens in two sentences, then a text of 3 tokens; blank lines are skipped.
    text.write_text("Teddy Roosevelt was here. Anna said so\n\nBoris visited Paris\n")
    code, out = bench(capsys, "--model", "lecture", "--data", str(text), *FAST)
    assert code == 0
    assert out["data"] == f"{text} (text): 3 sentences, 11 tokens"
    assert "Tagger.tag" in out["tagging"]
    assert out["latency"].endswith("for one 12-token sentence (median of 3 calls)")


def test_bench_format_option_overrides_the_guess(tmp_path, capsys):
    # A last word "O" looks like a CoNLL tag: read as CoNLL, one token tagged O.
    text = tmp_path / "texts.txt"
    text.write_text("Say O\n")
    code, out = bench(capsys, "--data", str(text), *FAST)
    assert code == 0 and out["data"] == f"{text} (conll): 1 sentences, 1 tokens"
    code, out = bench(capsys, "--data", str(text), "--format", "text", *FAST)
    assert code == 0 and out["data"] == f"{text} (text): 1 sentences, 2 tokens"


@pytest.mark.parametrize(
    "content, message",
    [(b"", ": no tokens to tag"), (b"fine\n\xff\xfe broken\n", ":2: not UTF-8 text")],
)
def test_bench_names_the_file_at_fault(tmp_path, capsys, content, message):
    path = tmp_path / "data.txt"
    path.write_bytes(content)
    assert main(["bench", "--data", str(path), "--format", "text", *FAST]) == 1
    assert capsys.readouterr().err.strip() == f"rnnkit: error: {path}{message}"


def test_bench_help_is_the_subcommands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "--model" in out and "--data" in out


def test_sentence_of_length_takes_an_exact_one_or_cycles_the_words():
    assert speed.sentence_of_length([["a"], ["b", "c"], ["d", "e"]], 2) == ["b", "c"]
    assert speed.sentence_of_length([["a"], ["b", "c"]], 5) == ["a", "b", "c", "a", "b"]
    assert speed.sentence_of_length([[]], 3) == []


def test_tokens_per_second_warms_up_once_then_times_each_repeat():
    calls = []
    per_s = speed.tokens_per_second(calls.append, "texts", 1000, repeats=4)
    assert calls == ["texts"] * 5 and per_s > 0


# -- the comparison with PyTorch, outside the package ---------------------------------------
def run_harness(out, *argv):
    if not HARNESS.exists():
        pytest.skip("benchmarks/ is not beside the tests (an installed package)")
    res = subprocess.run(
        [sys.executable, str(HARNESS), "--tiny", "--out", str(out), *argv],
        capture_output=True,
        text=True,
        cwd=out.parent,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("--tiny: a smoke run") and "not a measurement" in res.stdout
    return json.loads((out / "results.json").read_text()), res.stdout


def check(summary, out, with_torch):
    rows = {r["key"]: r for r in summary["rows"]}
    assert set(rows) == {
        "train_uni",
        "train_bi",
        "infer",
        "latency",
        "memory",
        "step",
        "reference",
        "accuracy",
    }
    for key in ("step", "reference"):
        assert math.isfinite(rows[key]["ratio"]) and rows[key]["ratio"] > 0
    for key in ("train_uni", "train_bi", "infer", "latency", "memory"):
        assert math.isfinite(rows[key]["rnnkit"]) and rows[key]["rnnkit"] > 0
        assert math.isfinite(rows[key]["ratio"]) == with_torch
    for path in ("fast", "plain"):  # both paths trained, their dev F1 and speed reported
        result = summary["accuracy"][path]
        assert 0 <= result["f1"] <= 1 and result["tokens_per_s"] > 0
    accuracy = rows["accuracy"]
    assert accuracy["ratio"] == pytest.approx(accuracy["rnnkit"] - accuracy["other"])
    table = (out / "results.md").read_text()
    assert table.startswith("--tiny: a smoke run")
    assert "| measure | rnnkit | compared with | ratio | target | met |" in table
    assert "| yes |" not in table and "| no |" not in table  # a smoke run meets nothing
    assert "training, bidirectional" in table and "threads: 1" in table
    assert "dev F1 after 1 epoch(s)" in table
    with open(out / "scaling.csv") as f:
        points = list(csv.DictReader(f))
    assert {p["sweep"] for p in points} == {"n_a", "batch"}
    assert all(float(p["tokens_per_s"]) > 0 for p in points)
    assert {p["system"] for p in points} == ({"rnnkit", "PyTorch"} if with_torch else {"rnnkit"})


@pytest.mark.slow
def test_harness_tiny_run_makes_the_table(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    summary, stdout = run_harness(out, "--markdown", str(tmp_path / "table.md"))
    check(summary, out, with_torch=True)
    assert (out / "scaling.png").stat().st_size > 0
    assert (tmp_path / "table.md").read_text() == (out / "results.md").read_text()
    assert "| training, one-directional" in stdout


@pytest.mark.slow
def test_harness_tiny_run_without_torch(tmp_path):
    out = tmp_path / "out"
    summary, _ = run_harness(out, "--no-torch")
    check(summary, out, with_torch=False)


def test_bench_models_times_two_models_side_by_side(tmp_path):
    """benchmarks/bench_models.py: one row a model, ratios to the first, and the cold column
    for a model that reads spellings (the shipped default)."""
    script = HARNESS.parent / "bench_models.py"
    if not script.exists():
        pytest.skip("benchmarks/ is not beside the tests (an installed package)")
    argv = ["lecture", "default", "--data", str(tmp_path / "none.txt"), "--repeats", "1"]
    res = subprocess.run(
        [sys.executable, str(script), *argv, "--calls", "3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert "data: synthetic" in res.stdout
    rows = [
        line for line in res.stdout.splitlines() if line.startswith("| ") and "(shipped)" in line
    ]
    assert [r.split(" | ")[0] for r in rows] == ["| lecture (shipped)", "| default (shipped)"]
    lecture, default = ([c.strip() for c in r.strip().strip("|").split("|")] for r in rows)
    assert lecture[1] == "no" and lecture[4] == "1.00x" and lecture[6] == ""
    assert default[1] == "yes" and default[6].endswith("µs")  # warm and cold both measured


def test_bench_models_unfolded_adds_a_row_for_a_model_with_an_embedding(tmp_path):
    """--unfolded: a model that reads an embedding E gets a second row, as trained (E gathered
    at every step); a model without E (lecture) gets none."""
    from rnnkit.data.features import Featurizer
    from rnnkit.ner.tagger import Tagger
    from rnnkit.ner.tasks import TASKS
    from rnnkit.nn.model import RNN
    from support import synthetic_sentences

    script = HARNESS.parent / "bench_models.py"
    if not script.exists():
        pytest.skip("benchmarks/ is not beside the tests (an installed package)")
    sentences = [[w for w, _ in s] for s in synthetic_sentences(50, 0)]
    featurizer = Featurizer.build(sentences, groups=("word", "shape"))
    model = RNN(featurizer.n_x, 6, 1, bidirectional=True, n_e=5, seed=3)
    Tagger(model, featurizer, TASKS["per"]).save(tmp_path / "e.npz")
    argv = ["lecture", str(tmp_path / "e.npz"), "--data", str(tmp_path / "none.txt")]
    res = subprocess.run(
        [sys.executable, str(script), *argv, "--repeats", "1", "--calls", "3", "--unfolded"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    rows = [line.split(" | ")[0] for line in res.stdout.splitlines() if line.startswith("| ")]
    e = str(tmp_path / "e.npz")
    assert rows[1:] == ["| lecture (shipped)", f"| {e}", f"| {e}, E unfolded"]


@pytest.mark.parametrize(
    "model, rows",
    [
        ("lecture", ["the RNN (RNN.forward)", "of which the compiled stack"]),
        ("default", ["remembered spellings (remembered_table)", "of which the compiled stack",
                     "of which the compiled crf_decode_folded"]),
    ],
)  # fmt: skip
def test_latency_parts_times_each_part_of_a_call(tmp_path, model, rows):
    """benchmarks/latency_parts.py: a row for each part the model's call has, their sum and the
    whole call."""
    pytest.importorskip("numba", reason="the compiled parts need Numba")
    script = HARNESS.parent / "latency_parts.py"
    if not script.exists():
        pytest.skip("benchmarks/ is not beside the tests (an installed package)")
    argv = [model, "--data", str(tmp_path / "none.txt"), "--calls", "3", "--repeats", "1"]
    res = subprocess.run(
        [sys.executable, str(script), *argv], capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr
    assert "data: synthetic" in res.stdout
    table = {
        cells[0]: float(cells[1].replace(",", ""))
        for line in res.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| part")
        for cells in [[c.strip(" ") for c in line.strip().strip("|").split("|")]]
    }
    assert set(rows) <= set(table) and all(v > 0 for v in table.values())
    assert "Tagger.predict, the whole call" in table and "the parts, summed" in table
    assert ("remembered spellings (remembered_table)" in table) == (model == "default")


def test_latency_runs_before_each_ahead_of_every_timed_call():
    calls = []

    class Tagger:
        def predict(self, sentences):
            calls.append("predict")

    speed.latency(Tagger(), ["a"], calls=3, before_each=lambda: calls.append("before"))
    assert calls == ["predict"] * 3 + ["before", "predict"] * 3  # warm-up, then the timed calls
