"""Training presets: the recipe of a shipped model, to train on one's own data with one flag.

    rnnkit train --preset default --train mine.txt --dev mine_dev.txt --out run

A shipped model's header holds the settings it was trained with (its "train" entry), so a
preset is read from the model itself and cannot drift from it. Options given on the command
line override the preset's, whatever their value (`--seed 0` trains seed 0).
"""

from dataclasses import fields

from rnnkit.errors import RnnkitError
from rnnkit.io import storage
from rnnkit.ner.tagger import SHIPPED, shipped_model_path

PRESETS = SHIPPED  # every shipped model is one


def recipe(name):
    """The TrainConfig a shipped model was trained with."""
    from rnnkit.ner.training import TrainConfig

    if name not in PRESETS:
        raise RnnkitError(f"no preset named {name!r}; presets: {', '.join(PRESETS)}")
    _, meta = storage.load(shipped_model_path(name), expect_format=storage.MODEL_FORMAT)
    return TrainConfig.from_json(meta["train"])


def with_preset(name, settings, given=None):
    """TrainConfig settings (a dict by field name): the preset's, but where the user gave a
    setting. given: the names of the settings given (the command line's); None: those in
    `settings` with a value other than TrainConfig's default."""
    from rnnkit.ner.training import TrainConfig

    default, preset = TrainConfig(), recipe(name)
    out = {}
    for f in fields(TrainConfig):
        value = settings.get(f.name, getattr(default, f.name))
        if given is None:
            taken = value != getattr(default, f.name) and not (
                f.name == "features" and tuple(value) == default.features
            )
        else:  # `--seed 0` with --preset default trains seed 0, though 0 is the default
            taken = f.name in given
        out[f.name] = value if taken else getattr(preset, f.name)
    return out
