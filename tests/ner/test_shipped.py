"""The models shipped inside the package: there, small, and doing the main job with no data."""

import json
import subprocess
import sys

import pytest

from rnnkit.data.conll import read_conll
from rnnkit.ner.tagger import SHIPPED, Tagger, shipped_model_path
from rnnkit.ner.training import evaluate

TEDDY = 'He said, "Teddy Roosevelt was a great President."'


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_load_and_are_small(name):
    path = shipped_model_path(name)
    assert path.stat().st_size <= 10_000_000
    tagger = Tagger.load(name)
    assert tagger.task.name == {"conll": "bio", "default": "tags"}.get(name, "per")
    # the default learned persons, places and organisations, and prints persons
    assert tagger.show == {"default": ("PER",)}.get(name)


def test_the_default_model_tells_teddy_roosevelt_from_teddy_bears():
    """The lecture's pair: a person in the first sentence, no one in the second."""
    tagger = Tagger.load()
    first = tagger.tag(TEDDY)["entities"]
    assert [(e["text"], e["type"]) for e in first] == [("Teddy Roosevelt", "PER")]
    assert tagger.tag('He said, "Teddy bears are on sale!"')["entities"] == []


def test_the_conll_model_marks_a_person_and_a_place():
    """The issue's first command for the all-types model."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnkit.cli",
            "tag",
            "--model",
            "conll",
            "Angela Merkel visited Paris.",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[Angela Merkel](PER) visited [Paris](LOC)."


def test_the_main_job_marks_teddy_roosevelt():
    """The README's first command, in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-m", "rnnkit.cli", "tag", TEDDY], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'He said, "[Teddy Roosevelt](PER) was a great President."'
    result = json.loads(
        subprocess.run(
            [sys.executable, "-m", "rnnkit.cli", "tag", "--json", TEDDY],
            capture_output=True,
            text=True,
        ).stdout
    )
    assert [(e["text"], e["type"]) for e in result["entities"]] == [("Teddy Roosevelt", "PER")]


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("split", ["valid", "test"])
def test_shipped_scores_are_what_the_model_scores(conll2003, name, split):
    """The scores recorded when the model was shipped (and quoted in the README) are reproduced."""
    tagger = Tagger.load(name)
    scores, _ = evaluate(tagger, read_conll(conll2003 / f"{split}.txt"))
    assert scores["f1"] == pytest.approx(tagger.meta["shipped_scores"][split]["f1"], abs=5e-5)
