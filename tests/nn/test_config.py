"""RNNConfig: each bad setting refused with a message that names it, old headers still read, and
the model built from a config the same as the model built from its arguments."""

import dataclasses
import json

import numpy as np
import pytest

import rnnkit
from rnnkit.io import storage
from rnnkit.ner.tagger import SHIPPED, shipped_model_path
from rnnkit.ner.tasks import Task
from rnnkit.nn.config import RNNConfig
from rnnkit.nn.spelling import SpellingRNN

SIZES = dict(n_x=7, n_a=3, n_y=2)
# A header as written before None meant "off": dropout 0.0, init_x null.
OLD_HEADER = {
    "n_x": 7,
    "n_a": 3,
    "n_y": 2,
    "activation": "tanh",
    "output": "softmax",
    "layers": 2,
    "bidirectional": True,
    "dropout": 0.0,
    "init_x": None,
    "dtype": "float32",
}


@pytest.mark.parametrize(
    "bad,error,words",
    [
        (dict(n_x=0), ValueError, "n_x must be a positive integer"),
        (dict(n_a=-4), ValueError, "n_a must be a positive integer"),
        (dict(n_y=1.5), ValueError, "n_y must be a positive integer"),
        (dict(n_a="16"), ValueError, "n_a must be a positive integer"),
        (dict(layers=True), ValueError, "layers must be a positive integer"),
        (dict(layers=0), ValueError, "layers must be a positive integer"),
        (dict(activation="sigmoid"), ValueError, "activation must be one of ['relu', 'tanh']"),
        (dict(output="relu"), ValueError, "output must be one of"),
        (dict(bidirectional="yes"), TypeError, "bidirectional must be True or False"),
        (dict(bidirectional=1), TypeError, "bidirectional must be True or False"),
        (dict(dropout=1.0), ValueError, "dropout must lie in [0, 1) or be None"),
        (dict(dropout=-0.1), ValueError, "dropout must lie in [0, 1)"),
        (dict(dropout="0.1"), ValueError, "dropout must lie in [0, 1)"),
        (dict(dropout=float("nan")), ValueError, "dropout must lie in [0, 1)"),
        (dict(init_x=0.0), ValueError, "init_x must lie in (0, 100]"),
        (dict(init_x=float("inf")), ValueError, "init_x must lie in (0, 100]"),
        (dict(init_x=float("nan")), ValueError, "init_x must lie in (0, 100]"),
        (dict(init_x=1e300), ValueError, "init_x must lie in (0, 100]"),  # inf in float32
        (dict(init_x=100.5), ValueError, "init_x must lie in (0, 100]"),
        (dict(dtype="int32"), TypeError, "dtype must be one of"),
        (dict(dtype="no such type"), TypeError, "dtype must be one of"),
    ],
)
def test_each_bad_setting_is_refused_by_name(bad, error, words):
    with pytest.raises(error) as caught:
        RNNConfig(**{**SIZES, **bad})
    assert words in str(caught.value)
    with pytest.raises(error):  # the model's own arguments go through the same checks
        rnnkit.RNN(**{**SIZES, **bad})


def test_settings_are_normalised_and_frozen():
    config = RNNConfig(
        np.int64(7), 3.0, 2, bidirectional=np.bool_(True), dropout=0, init_x=1, dtype=np.float64
    )
    assert config.to_json() == {
        **SIZES,
        "activation": "tanh",
        "output": "sigmoid",
        "layers": 1,
        "bidirectional": True,
        "dropout": None,  # 0 is off, and off is None
        "init_x": 1.0,
        "dtype": "float64",
    }
    assert [type(getattr(config, k)) for k in ("n_x", "n_a", "bidirectional", "init_x")] == [
        int,
        int,
        bool,
        float,
    ]
    assert config.directions == ("fwd", "bwd")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.n_a = 4
    assert config.replace(n_a=4).n_a == 4 and config.n_a == 3
    with pytest.raises(ValueError, match="n_a"):
        config.replace(n_a=0)  # a changed config is checked too


def test_an_old_header_round_trips():
    config = RNNConfig.from_json(OLD_HEADER)
    assert config.dropout is None and config.init_x is None
    header = json.loads(json.dumps(config.to_json()))  # as a model file stores it
    assert header == {**OLD_HEADER, "dropout": None}
    assert RNNConfig.from_json(header) == config
    # headers may lack the keys that have defaults
    assert RNNConfig.from_json(SIZES) == RNNConfig(7, 3, 2)
    with pytest.raises(TypeError):
        RNNConfig.from_json({**OLD_HEADER, "hidden_size": 3})
    model = rnnkit.RNN.from_config(config)
    assert model.config is config
    assert model.dropout is None and model.params["W_ya"].shape == (2, 6)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_headers_build_the_stored_arrays(name):
    arrays, meta = storage.load(shipped_model_path(name), expect_format=storage.MODEL_FORMAT)
    config = RNNConfig.from_json(meta["model"])
    # only sizes matter here: build the model at n_x = 1 instead of the vocabulary's size
    small = config.replace(n_x=1)
    if "chars" in meta:  # and its spelling: the character RNN
        model = SpellingRNN.from_meta(small, meta["chars"])
    else:
        model = rnnkit.RNN.from_config(small)
    Task.from_meta(meta).attach(model)  # a CRF's parameters
    shapes = {k: v.shape for k, v in arrays.items()}
    assert {k: v.shape for k, v in model.params.items()} == {
        k: (s[0], 1) if k.startswith("W_ax") and s[1] == config.n_x else s
        for k, s in shapes.items()
    }


@pytest.mark.parametrize(
    "settings",
    [
        {},
        dict(activation="relu", output="softmax"),
        dict(layers=3, bidirectional=True, dropout=0.3),
        dict(init_x=0.5, dtype=np.float64),
        dict(dropout=0.0),
    ],
)
def test_arguments_and_config_build_the_same_model(settings):
    by_arguments = rnnkit.RNN(**SIZES, **settings, seed=11)
    dtype = np.dtype(settings.pop("dtype", np.float32)).name
    config = RNNConfig(**SIZES, **settings, dtype=dtype)
    by_config = rnnkit.RNN.from_config(config, seed=11)
    assert by_arguments.config == config
    assert list(by_arguments.params) == list(by_config.params)
    for k, p in by_arguments.params.items():
        assert p.dtype == by_config.params[k].dtype and np.array_equal(p, by_config.params[k])
    other_seed = rnnkit.RNN.from_config(config, seed=12)
    assert not np.array_equal(by_config.W_a_of(1), other_seed.W_a_of(1))


def test_the_initial_draws_in_their_documented_order():
    """Pins the draws (and so every trained model) independently of the code that makes them:
    per chain W_a = [W_aa | W_ax] then b_a, then W_ya, all ~ U(-1/√n_a, 1/√n_a); b_y = 0."""
    rng, k = np.random.default_rng(5), 1 / np.sqrt(3)
    W_a = rng.uniform(-k, k, (3, 3 + 7)).astype(np.float32)
    b_a = rng.uniform(-k, k, 3).astype(np.float32)
    W_ya = rng.uniform(-k, k, (2, 3)).astype(np.float32)
    model = rnnkit.RNN.from_config(RNNConfig(**SIZES), seed=5)
    assert np.array_equal(model.W_a, W_a) and np.array_equal(model.params["b_a"], b_a)
    assert np.array_equal(model.params["W_ya"], W_ya) and not model.params["b_y"].any()


def test_from_config_takes_only_a_config():
    with pytest.raises(TypeError, match="RNNConfig"):
        rnnkit.RNN.from_config(dict(SIZES))
