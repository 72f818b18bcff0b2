"""What a careless or hostile path or file does to rnnkit's reading and writing (issue 11):
writes never replace a device, FIFO or symlink; reads refuse what is not a regular file,
members larger than the manifest allows, and every damaged byte with one clear error."""

import io
import json
import os
import stat
import subprocess
import tracemalloc
import zipfile

import numpy as np
import pytest

from rnnkit.io.atomic import atomic_write_bytes, atomic_write_text
from rnnkit.io.storage import META_KEY, ModelFileError, load, save


def _npy(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def _header(arrays, **meta):
    doc = {
        "format": "rnnkit-model",
        "format_version": 1,
        "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.str} for n, a in arrays.items()},
        "meta": meta,
    }
    return np.frombuffer(json.dumps(doc).encode(), np.uint8)


# -- writing ---------------------------------------------------------------------------------


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("real.txt")
    atomic_write_text(tmp_path / "link.txt", "new")
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_text() == "new"


def test_a_fifo_is_written_through_not_renamed_over(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    atomic_write_text(fifo, "through the pipe")
    assert reader.communicate(timeout=10)[0] == b"through the pipe"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["fifo"]  # no temporary left beside it


def test_a_character_device_is_written_through(tmp_path):
    before = os.stat("/dev/null")
    atomic_write_bytes("/dev/null", b"nothing")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_a_full_device_names_the_file(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with pytest.raises(OSError, match="No space left") as e:
        atomic_write_bytes("/dev/full", b"x" * 100_000)
    assert e.value.filename == "/dev/full"


def test_an_error_while_writing_names_the_target_not_nothing(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(28, "No space left on device")  # what write() or fsync() raise: no name

    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "out.txt"
    with pytest.raises(OSError) as e:
        atomic_write_text(target, "data")
    assert e.value.filename == str(target)
    assert os.listdir(tmp_path) == []  # the temporary is gone, nothing half-written


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        atomic_write_text(tmp_path, "x")


def test_an_empty_path_is_refused_as_open_refuses_it(tmp_path, monkeypatch):
    """ "" once resolved to the working directory: a temporary file was written beside it and
    renamed over it, which failed with an error about that temporary file and the directory."""
    monkeypatch.chdir(tmp_path)
    for path in ("", b""):
        with pytest.raises(FileNotFoundError, match="an empty path names no file"):
            atomic_write_text(path, "x")
    assert list(tmp_path.parent.glob(f".{tmp_path.name}.*")) == []  # no temporary file left


# -- reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", ["fifo", "dev_zero"])
def test_a_model_that_is_not_a_regular_file_is_refused_at_once(tmp_path, make):
    path = tmp_path / "model.npz"
    if make == "fifo":
        os.mkfifo(path)  # opening it would block until someone writes
    else:
        path.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(ModelFileError, match="not a regular file"):
        load(path)


def _archive(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name + ".npy", data)


def _deflated_zeros(zf, name, n_bytes):
    """A member of n_bytes zeros after a valid .npy header, deflated to a few kB."""
    head = _npy_header_for(n_bytes)
    with zf.open(name + ".npy", "w", force_zip64=True) as m:
        m.write(head)
        chunk = bytes(1 << 20)
        for _ in range(n_bytes >> 20):
            m.write(chunk)


def _npy_header_for(n_bytes):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "|u1", "fortran_order": False, "shape": (n_bytes,)}
    )
    return buf.getvalue()


@pytest.mark.parametrize("where", ["extra member", "meta member", "array member"])
def test_a_member_larger_than_its_manifest_entry_is_refused_before_it_is_read(tmp_path, where):
    arrays = {"W": np.ones((4, 4), np.float32)}
    path = tmp_path / "bomb.npz"
    big = 1 << 28  # 256 MiB of zeros, about 250 kB deflated
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        if where == "meta member":
            _deflated_zeros(zf, META_KEY, big)
        else:
            zf.writestr(META_KEY + ".npy", _npy(_header(arrays)))
        if where == "array member":
            _deflated_zeros(zf, "W", big)
        else:
            zf.writestr("W.npy", _npy(arrays["W"]))
        if where == "extra member":
            _deflated_zeros(zf, "junk", big)
    assert path.stat().st_size < 8 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, (
        f"{peak:,} bytes allocated to refuse a {path.stat().st_size:,}-byte file"
    )


def test_a_json_header_nested_a_thousand_deep_is_one_clear_error(tmp_path):
    path = tmp_path / "deep.npz"
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    _archive(path, {META_KEY: _npy(np.frombuffer(deep, np.uint8))})
    with pytest.raises(ModelFileError, match="nested too deeply"):
        load(path)


def test_an_oversized_npy_header_never_suggests_allow_pickle(tmp_path):
    arrays = {"W": np.ones(3, np.float32)}
    path = tmp_path / "big_header.npz"
    buf = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": (3,), "x": "y" * 20_000}
    np.lib.format.write_array_header_2_0(buf, header)
    _archive(path, {META_KEY: _npy(_header(arrays)), "W": buf.getvalue() + bytes(12)})
    with pytest.raises(ModelFileError) as e:
        load(path)
    assert "allow_pickle" not in str(e.value) and str(path) in str(e.value)


@pytest.mark.slow
def test_every_single_bit_flip_loads_or_is_one_model_file_error(tmp_path):
    """Flip each bit of a small saved model in turn: a flip may go unnoticed where the format
    does not look (zip timestamps), but every other one is a ModelFileError, never a traceback
    of another type (the .npy header is parsed as a Python literal: SyntaxError, TokenError)."""
    path = tmp_path / "m.npz"
    rng = np.random.default_rng(0)
    save(path, {"W": rng.normal(size=(3, 2)).astype(np.float32)}, {"task": "per"})
    data = bytearray(path.read_bytes())
    flipped = tmp_path / "flipped.npz"
    outcomes = {"loaded": 0, "refused": 0}
    for bit in range(len(data) * 8):
        data[bit // 8] ^= 1 << (bit % 8)
        flipped.write_bytes(data)
        data[bit // 8] ^= 1 << (bit % 8)
        try:
            load(flipped)
            outcomes["loaded"] += 1
        except ModelFileError as e:
            assert str(flipped) in str(e)
            outcomes["refused"] += 1
    assert outcomes["refused"] > outcomes["loaded"] > 0
