"""Model files that lie about themselves, or are no model files at all, are refused.

Tagger.load and every command that takes --model refuse each one in a single line that names the
file and what is wrong. docs/guarantees.md lists what each test guards.
"""

import io
import json
import zipfile

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.io import storage
from rnnkit.io.storage import ModelFileError
from rnnkit.ner.tagger import Tagger
from support import one_line_error


def _rewrite(src, dst, change):
    """Load src's arrays and meta, let change() edit them, save them to dst with storage.save."""
    arrays, meta = storage.load(src)
    meta = {k: v for k, v in meta.items() if k not in ("format", "format_version")}
    change(arrays, meta)
    storage.save(dst, arrays, meta)


def _edit_header(src, dst, change):
    """Copy the zip, editing the __meta__ document itself (what storage.save would never write)."""
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    header = json.loads(np.lib.format.read_array(io.BytesIO(members["__meta__.npy"])).tobytes())
    change(header)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.frombuffer(json.dumps(header).encode(), np.uint8))
    members["__meta__.npy"] = buf.getvalue()
    with zipfile.ZipFile(dst, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def _set(mapping, key, value):
    mapping[key] = value


def _poke(array, index, value):
    array[index] = value


BAD_MODELS = {
    # meta.model.n_a disagrees with the arrays, smaller and (absurdly) larger
    "n_a smaller": (
        lambda a, m: _set(m["model"], "n_a", 8),
        ["W_aa.fwd has shape (16, 16)", "(8, 8)"],
    ),
    "n_a huge": (lambda a, m: _set(m["model"], "n_a", 10**6), ["n_a = 1000000", "parameters"]),
    "layers huge": (lambda a, m: _set(m["model"], "layers", 10**9), ["layers = 1000000000"]),
    # an embedding E of 10^9 rows named in the header: refused before RNN() would allocate it
    "n_e huge": (lambda a, m: _set(m["model"], "n_e", 10**9), ["parameters"]),
    "n_e zero": (lambda a, m: _set(m["model"], "n_e", 0), ["n_e must be a positive integer"]),
    # the word vocabulary lost a word: its size no longer gives n_x
    "vocab vs n_x": (lambda a, m: m["featurizer"]["vocabs"][0]["words"].pop(), ["n_x"]),
    "int parameter": (
        lambda a, m: _set(a, "W_ya", a["W_ya"].astype(np.int32)),
        ["W_ya", "int32", "not a float"],
    ),
    "bool parameter": (lambda a, m: _set(a, "b_y", a["b_y"] > 0), ["b_y", "bool"]),
    "NaN": (lambda a, m: _poke(a["b_a.bwd"], 3, np.nan), ["b_a.bwd", "non-finite"]),
    "inf in float32": (
        lambda a, m: _set(a, "W_aa.fwd", np.where(a["W_aa.fwd"] > 0, 1e300, a["W_aa.fwd"])),
        ["W_aa.fwd", "non-finite"],
    ),
    "missing parameter": (lambda a, m: a.pop("b_y"), ["b_y", "do not match"]),
    "another task": (lambda a, m: _set(m, "task", "per"), ["n_y = 9", "1"]),
    "unknown task": (lambda a, m: _set(m, "task", "pos"), ["not a valid rnnkit tagger"]),
    "no featurizer": (lambda a, m: m.pop("featurizer"), ["not a valid rnnkit tagger"]),
    "bad activation": (
        lambda a, m: _set(m["model"], "activation", "swish"),
        ["not a valid rnnkit tagger"],
    ),
    "n_a a string": (lambda a, m: _set(m["model"], "n_a", "16"), ["not a valid rnnkit tagger"]),
}
BAD_FILES = {
    "checkpoint": (
        lambda trained, p: p.write_bytes((trained / "checkpoint.npz").read_bytes()),
        ["'rnnkit-checkpoint', expected 'rnnkit-model'"],
    ),
    "truncated": (
        lambda trained, p: p.write_bytes((trained / "model.npz").read_bytes()[:5000]),
        ["truncated"],
    ),
    "empty": (lambda trained, p: p.write_bytes(b""), ["not an .npz"]),
    "newer format": (
        lambda trained, p: _edit_header(
            trained / "model.npz", p, lambda h: _set(h, "format_version", 2)
        ),
        ["format_version 2 is newer"],
    ),
    "manifest lies": (
        lambda trained, p: _edit_header(
            trained / "model.npz", p, lambda h: _set(h["arrays"]["b_y"], "shape", [3])
        ),
        ["'b_y'", "manifest says"],
    ),
}


@pytest.fixture(params=list(BAD_MODELS) + list(BAD_FILES))
def bad_model(request, trained, tmp_path):
    """(path of a model file that must be refused, words the refusal must contain)."""
    path = tmp_path / "bad.npz"
    if request.param in BAD_MODELS:
        change, words = BAD_MODELS[request.param]
        _rewrite(trained / "model.npz", path, change)
    else:
        make, words = BAD_FILES[request.param]
        make(trained, path)
    return path, words


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # "inf in float32"
def test_tagger_load_refuses_a_bad_model_saying_what_is_wrong(bad_model):
    path, words = bad_model
    with pytest.raises(ModelFileError) as info:
        Tagger.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # "inf in float32"
def test_cli_refuses_a_bad_model_in_one_line(bad_model, corpus, tmp_path, capsys):
    path, words = bad_model
    out = tmp_path / "pred.txt"
    for argv in (
        ["eval", "--data", str(corpus[1])],
        ["predict", "--data", str(corpus[1]), "--out", str(out)],
        ["tag", "Anna Smith said ."],
    ):
        assert main([argv[0], "--model", str(path)] + argv[1:]) == 1
        captured = capsys.readouterr()
        one_line_error(captured.err, str(path), *words)
        assert captured.out == ""
    assert not out.exists()


def test_the_good_model_loads(trained):
    assert (
        Tagger.load(trained).task.name == "bio"
    )  # the bad ones above differ from it in one thing each
