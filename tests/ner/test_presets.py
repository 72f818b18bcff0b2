"""Presets: a shipped model's recipe, read from its header, under the options given."""

import pytest

from rnnkit.cli import build_parser, main
from rnnkit.cli.train import _resume_command, config_of
from rnnkit.errors import RnnkitError
from rnnkit.io import storage
from rnnkit.ner.presets import recipe, with_preset


def test_the_recipes_are_the_shipped_models_settings():
    lecture = recipe("lecture")  # the lecture's model: one-hot words, one layer
    assert (lecture.task, lecture.features, lecture.layers, lecture.bidirectional) == (
        "per",
        ("word",),
        1,
        False,
    )
    assert (lecture.init_x, lecture.word_dropout, lecture.patience) == (1.0, 0.3, 8)
    default = recipe("default")
    assert (default.layers, default.bidirectional, default.seed, default.average) == (
        2,
        True,
        2,
        0.999,
    )
    # persons, places and organisations learned as BIOES with a CRF; persons shown
    assert (default.task, default.types, default.output, default.model_scheme, default.show) == (
        "tags",
        "PER,LOC,ORG",
        "crf",
        "bioes",
        "PER",
    )
    with pytest.raises(RnnkitError, match="no preset"):
        recipe("conll2003")


def test_options_given_override_the_preset():
    settings = with_preset("default", {"task": "bio", "epochs": 3, "features": ("word",)})
    assert settings["task"] == "bio" and settings["epochs"] == 3
    assert settings["features"] == recipe("default").features  # ("word",) is the default
    assert settings["layers"] == 2 and settings["dropout"] == 0.2  # the preset's, not 0
    assert settings["feature_dropout"] == 0.1 and settings["char_hidden"] == 25


def test_train_with_a_preset(corpus, tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--preset", "lecture", "--train", str(corpus[0]), "--dev", str(corpus[1])]
    assert main([*argv, "--out", str(out), "--epochs", "1", "--vocab", "50", "--quiet"]) == 0
    _, meta = storage.load(out / "model.npz")
    train = meta["train"]
    assert (train["epochs"], train["vocab"]) == (1, 50)  # given
    assert (train["init_x"], train["word_dropout"], train["patience"]) == (1.0, 0.3, 8)


def _config(argv):
    args = build_parser().parse_args(argv)
    args.argv = argv  # as main() sets it
    return args, config_of(args)


FILES = ["--train", "a.txt", "--dev", "b.txt", "--out", "run"]


@pytest.mark.parametrize(
    "preset, given, field, value",
    [
        ("default", ["--seed", "0"], "seed", 0),  # the preset's seed is 2; 0 is the default
        ("lecture", ["--epochs", "30"], "epochs", 30),  # the preset's is 40; 30 the default
        ("lecture", ["--epo", "30"], "epochs", 30),  # argparse's abbreviation, too
        ("conll", ["--task=tags"], "task", "tags"),
        ("default", [], "seed", 2),  # not given: the preset's
    ],
)
def test_an_option_given_overrides_the_preset_even_at_its_default(preset, given, field, value):
    _, config = _config(["train", "--preset", preset, *FILES, *given])
    assert getattr(config, field) == value


def test_a_preset_runs_resume_command_names_the_runs_task_and_epochs():
    # Interrupted, the conll preset's run (task bio, 40 epochs) must be resumed with --task bio
    # and --epochs 40: the command-line defaults (per, 30) would be refused or stop it early.
    args, config = _config(["train", "--preset", "conll", *FILES])
    command = _resume_command(args, config)
    assert command[command.index("--task") + 1] == "bio" == config.task
    assert command[command.index("--epochs") + 1] == str(config.epochs) == "40"
