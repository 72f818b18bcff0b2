"""Model files: exact round trip, refusal of pickles and damage, atomic saves.

Crafted files are built here with `zipfile` and `np.lib.format` directly, so
the tests do not rely on `save` to produce the bad inputs `load` must refuse.
"""

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rnnkit.errors import RnnkitError
from rnnkit.io.storage import ModelFileError, load, save


def _npy(array, allow_pickle=False):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _doc(members, /, **overrides):
    """The metadata document `save` would write for ``members`` (name -> ndarray)."""
    doc = {
        "format": "rnnkit-model",
        "format_version": 1,
        "meta": {},
        "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.str} for n, a in members.items()},
    }
    return {**doc, **overrides}


def _craft(path, members, doc):
    """Write a zip of ``members`` (name -> ndarray or raw .npy bytes) plus ``doc`` as __meta__."""
    if doc is not None:
        members = {"__meta__": np.frombuffer(json.dumps(doc).encode(), np.uint8), **members}
    with zipfile.ZipFile(path, "w") as zf:
        for name, member in members.items():
            zf.writestr(name + ".npy", member if isinstance(member, bytes) else _npy(member))
    return path


def _same(a, b):
    """Bit-for-bit equality, so NaN payloads and -0.0 count too."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _assert_refused(path, *words):
    with pytest.raises(ModelFileError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message
    return message


# -- round trip ---------------------------------------------------------------

_names = st.text(st.sampled_from("abzAZ09_.[]-é€"), min_size=1, max_size=12)
_dtypes = st.sampled_from(
    ["<f2", "<f4", "<f8", ">f4", "<i1", "<i4", "<i8", "|u1", "<u2", "|b1", "<c8"]
)
_arrays = _dtypes.flatmap(
    lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_metas = st.dictionaries(
    st.text().filter(lambda k: k not in ("format", "format_version")), _json, max_size=5
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(arrays=st.dictionaries(_names, _arrays, max_size=5), meta=_metas)
def test_round_trip_is_exact(tmp_path, arrays, meta):
    path = tmp_path / "model.npz"
    save(path, arrays, meta)
    loaded, loaded_meta = load(path, expect_format="rnnkit-model")
    assert loaded.keys() == arrays.keys()
    for name, array in arrays.items():
        assert _same(loaded[name], array)
        assert type(loaded[name]) is np.ndarray and loaded[name].flags.writeable
    assert loaded_meta == {**meta, "format": "rnnkit-model", "format_version": 1}


def test_fortran_order_and_custom_format_round_trip(tmp_path):
    w = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    save(tmp_path / "c.npz", {"W_aa[2].bwd": w}, {"epoch": 3}, format_name="rnnkit-checkpoint")
    arrays, meta = load(tmp_path / "c.npz", expect_format="rnnkit-checkpoint")
    assert np.array_equal(arrays["W_aa[2].bwd"], w) and meta["format"] == "rnnkit-checkpoint"


def test_model_file_error_is_an_rnnkit_error():
    assert issubclass(ModelFileError, RnnkitError)


@pytest.mark.parametrize(
    "arrays, meta",
    [
        ({"x": np.array([object()])}, {}),  # would need pickle
        ({"x": np.array(["text"])}, {}),  # not numeric
        ({"": np.zeros(1)}, {}),
        ({"a/b": np.zeros(1)}, {}),
        ({"__meta__": np.zeros(1)}, {}),
        ({}, {"format": "mine"}),  # reserved key
        ({}, {"shape": (2, 3)}),  # JSON would turn the tuple into a list
        ({}, {1: "O"}),  # ... and the int key into "1"
        ({}, {"loss": float("nan")}),
        ({}, {"loss": np.float32(1.5)}),
    ],
)
def test_save_refuses_what_would_not_round_trip(tmp_path, arrays, meta):
    with pytest.raises((TypeError, ValueError)):
        save(tmp_path / "m.npz", arrays, meta)
    assert os.listdir(tmp_path) == []


# -- refusals -----------------------------------------------------------------


class _Bomb:
    """Unpickling this opens (creates) ``path``: a stand-in for arbitrary code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.mark.parametrize("claimed", ["|O", "<f8", None])
def test_pickle_payload_is_refused_without_running(tmp_path, claimed):
    bomb = np.array([_Bomb(str(tmp_path / "armed"))], dtype=object)
    payload = _npy(bomb, allow_pickle=True)
    path = tmp_path / "evil.npz"
    doc = None if claimed is None else _doc({}, arrays={"W": {"shape": [1], "dtype": claimed}})
    _craft(path, {"W": payload}, doc)
    _assert_refused(path)
    assert os.listdir(tmp_path) == ["evil.npz"]
    # The payload is live: a pickle-trusting loader does run it.
    np.load(path, allow_pickle=True)["W"]
    assert (tmp_path / "armed").exists()


def test_every_truncation_is_refused(tmp_path):
    save(tmp_path / "m.npz", {"W": np.arange(20.0), "b": np.ones(3, np.int32)}, {"n": 1})
    data = (tmp_path / "m.npz").read_bytes()
    cut = tmp_path / "cut.npz"
    for size in range(len(data)):
        cut.write_bytes(data[:size])
        _assert_refused(cut)


def test_flipped_array_byte_is_detected(tmp_path):
    w = np.arange(1000.0) + 0.5
    save(tmp_path / "m.npz", {"W": w}, {})
    data = bytearray((tmp_path / "m.npz").read_bytes())
    data[data.index(w.tobytes()) + 4000] ^= 0x01
    (tmp_path / "m.npz").write_bytes(data)
    _assert_refused(tmp_path / "m.npz", "'W'", "corrupted")


def test_any_flipped_byte_is_refused_or_harmless(tmp_path):
    arrays, meta = (
        {"W": np.arange(6.0).reshape(2, 3), "b": np.array([1, -2], np.int8)},
        {"tags": ["O", "PER"]},
    )
    save(tmp_path / "m.npz", arrays, meta)
    data = (tmp_path / "m.npz").read_bytes()
    bad = tmp_path / "bad.npz"
    for offset in range(len(data)):
        flipped = bytearray(data)
        flipped[offset] ^= 0xFF
        bad.write_bytes(flipped)
        try:
            got, got_meta = load(bad)
        except ModelFileError:
            continue
        # Only bytes zipfile ignores (timestamps, attributes) may change silently.
        assert got.keys() == arrays.keys() and all(_same(got[n], a) for n, a in arrays.items())
        assert got_meta == {**meta, "format": "rnnkit-model", "format_version": 1}


def test_newer_format_version_is_refused_by_number(tmp_path):
    _craft(tmp_path / "m.npz", {}, _doc({}, format_version=2))
    _assert_refused(tmp_path / "m.npz", "format_version 2")


@pytest.mark.parametrize("version", [0, "1", 1.0, True, None])
def test_invalid_format_version_is_refused(tmp_path, version):
    _craft(tmp_path / "m.npz", {}, _doc({}, format_version=version))
    _assert_refused(tmp_path / "m.npz", "format_version")


def test_wrong_format_name_is_refused(tmp_path):
    save(tmp_path / "m.npz", {}, {}, format_name="rnnkit-checkpoint")
    with pytest.raises(ModelFileError, match="'rnnkit-checkpoint', expected 'rnnkit-model'"):
        load(tmp_path / "m.npz", expect_format="rnnkit-model")


_W = np.zeros((2, 3), np.float32)


@pytest.mark.parametrize(
    "members, manifest, words",
    [
        ({"W": _W}, {"W": {"shape": [3, 2], "dtype": "<f4"}}, ["'W'", "(3, 2)"]),
        ({"W": _W}, {"W": {"shape": [2, 3], "dtype": "<f8"}}, ["'W'", "<f8"]),
        (
            {"W": _W},
            {"W": {"shape": [2, 3], "dtype": "<f4"}, "b": {"shape": [3], "dtype": "<f4"}},
            ["missing: ['b']"],
        ),
        ({"W": _W, "b": _W}, {"W": {"shape": [2, 3], "dtype": "<f4"}}, ["unexpected: ['b']"]),
        ({"W": _W}, {"W": {"shape": [2, -3], "dtype": "<f4"}}, ["manifest"]),
        ({"W": _W}, ["W"], ["manifest"]),
    ],
)
def test_manifest_mismatch_is_refused(tmp_path, members, manifest, words):
    _craft(tmp_path / "m.npz", members, _doc({}, arrays=manifest))
    _assert_refused(tmp_path / "m.npz", *words)


def test_trailing_bytes_after_array_are_refused(tmp_path):
    _craft(tmp_path / "m.npz", {"W": _npy(_W) + b"\0" * 8}, _doc({"W": _W}))
    _assert_refused(tmp_path / "m.npz", "trailing")


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: None, ["no such file"]),
        (lambda p: p.mkdir(), ["directory"]),
        (lambda p: p.write_text("W = [1, 2, 3]\n"), ["not an .npz"]),
        (lambda p: np.savez(p, W=_W), ["no __meta__"]),
        (lambda p: _craft(p, {"__meta__": np.frombuffer(b"{not json", np.uint8)}, None), ["JSON"]),
        (lambda p: _craft(p, {}, ["a list"]), ["lacks format"]),
        (lambda p: _craft(p, {"__meta__": np.zeros(3, np.float32)}, None), ["'__meta__'"]),
        (lambda p: zipfile.ZipFile(p, "w").writestr("notes.txt", "hi"), ["not unique .npy"]),
    ],
)
def test_bad_files_are_refused_with_reason(tmp_path, make, words):
    path = tmp_path / "m.npz"
    make(path)
    _assert_refused(path, *words)


# -- atomicity ----------------------------------------------------------------


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_save_keeps_old_file_and_removes_temp(tmp_path, monkeypatch, error):
    old = {"W": np.arange(4.0)}
    save(tmp_path / "m.npz", old, {"v": "old"})

    def fail_midway(fp, array, **kwargs):
        fp.write(b"\x93NUMPY partial")
        raise error

    monkeypatch.setattr(np.lib.format, "write_array", fail_midway)
    with pytest.raises(type(error)):
        save(tmp_path / "m.npz", {"W": np.zeros(4)}, {"v": "new"})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.npz"]
    arrays, meta = load(tmp_path / "m.npz")
    assert _same(arrays["W"], old["W"]) and meta["v"] == "old"


_KILLED_SAVER = """
import sys
import numpy as np
from rnnkit.io.storage import save
big = np.ones(25_000_000)  # 200 MB: long enough to be killed while writing
print("ready", flush=True)
save(sys.argv[1], {"W": big}, {"v": "new"})
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_save_killed_midway_leaves_old_file_loadable(tmp_path):
    """SIGKILL gives no chance to clean up, so the temp file stays; it must not matter."""
    path = tmp_path / "model.npz"
    old = {"W": np.arange(5.0)}
    save(path, old, {"v": "old"})
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SAVER, str(path)], stdout=subprocess.PIPE
    )
    try:
        assert child.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 30
        while not any(p.name != path.name and p.stat().st_size > 2**20 for p in tmp_path.iterdir()):
            assert child.poll() is None, "the save finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.001)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    arrays, meta = load(path)
    assert _same(arrays["W"], old["W"]) and meta["v"] == "old"
    strays = [p.name for p in tmp_path.iterdir() if p != path]
    assert len(strays) == 1 and strays[0].startswith(".model.npz.")  # recognisable leftover
