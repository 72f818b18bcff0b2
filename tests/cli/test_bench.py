"""A smoke run of the benchmark at tiny sizes on synthetic data: the table is made, the ratios are finite.

No speed is asserted here: timings depend on the machine and its load.
"""

import csv
import math

import pytest

from rnnkit import bench


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
        assert (
            0 <= summary["accuracy"][path]["f1"] <= 1
            and summary["accuracy"][path]["tokens_per_s"] > 0
        )
    assert rows["accuracy"]["ratio"] == pytest.approx(
        rows["accuracy"]["rnnkit"] - rows["accuracy"]["other"]
    )
    table = (out / "results.md").read_text()
    assert "| measure | rnnkit | compared with | ratio | target | met |" in table
    assert (
        "training, bidirectional" in table
        and "threads: 1" in table
        and "dev F1 after 1 epoch(s)" in table
    )
    with open(out / "scaling.csv") as f:
        points = list(csv.DictReader(f))
    assert {p["sweep"] for p in points} == {"n_a", "batch"}
    assert all(float(p["tokens_per_s"]) > 0 for p in points)
    assert {p["system"] for p in points} == ({"rnnkit", "PyTorch"} if with_torch else {"rnnkit"})


def test_tiny_run_makes_the_table(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    summary = bench.run(
        ["--tiny", "--out", str(tmp_path), "--markdown", str(tmp_path / "table.md")]
    )
    check(summary, tmp_path, with_torch=True)
    assert (tmp_path / "scaling.png").stat().st_size > 0
    assert (tmp_path / "table.md").read_text() == (tmp_path / "results.md").read_text()
    assert "| training, one-directional" in capsys.readouterr().out


def test_tiny_run_without_torch(tmp_path):
    summary = bench.run(["--tiny", "--no-torch", "--out", str(tmp_path)])
    check(summary, tmp_path, with_torch=False)
