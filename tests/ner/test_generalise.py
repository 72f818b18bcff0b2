"""experiments/generalise.py --no-score: trains, and scores nothing, so that no test row is seen
before a recipe is chosen on its dev rows (a session once saw two runs' test rows that way)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generalise():
    path = ROOT / "experiments" / "generalise.py"
    if not path.exists():
        pytest.skip("experiments/ is not beside the tests (an installed package)")
    spec = importlib.util.spec_from_file_location("generalise", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_score_trains_and_scores_nothing(generalise, tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(generalise, "train", lambda flags, out, seed: trained.append(out.name))
    scored = []
    monkeypatch.setattr(generalise, "scores", lambda *a, **k: scored.append(a) or {})
    argv = ["--out", str(tmp_path), "--configs", "full,tags-crf-bioes-e", "--seeds", "1,2"]
    generalise.main([*argv, "--no-score", "--data", str(tmp_path)])
    assert sorted(trained) == ["full-s1", "full-s2", "tags-crf-bioes-e-s1", "tags-crf-bioes-e-s2"]
    assert scored == [] and not list(tmp_path.glob("results*.json"))


def test_report_and_no_score_together_are_a_usage_error(generalise, tmp_path):
    with pytest.raises(SystemExit) as e:
        generalise.main(["--out", str(tmp_path), "--report", "--no-score"])
    assert e.value.code == 2
