"""Save and load named NumPy arrays plus JSON metadata as one ``.npz`` file.

No pickle: unpickling a file runs whatever code it names, so a model file
from anywhere would be a program.  Every member here is a plain ``.npy``
array read with ``allow_pickle=False``, the metadata is JSON, and each
array's header is checked against a manifest before its data is read.

Saving is atomic: the archive goes to a temporary file beside the target and
is moved over it with ``os.replace`` only once complete and on disk, so a
crash leaves the old file or the new one, never a mix.  A process killed
mid-save leaves its temporary ``.<name>.XXXXXXXX.tmp`` behind; loading never
looks at it and it may be deleted.
"""

import json
import os
import stat
import struct
import tokenize
import zipfile
import zlib

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.io.atomic import atomic_writer

MODEL_FORMAT = "rnnkit-model"
FORMAT_VERSION = 1
META_KEY = "__meta__"
_RESERVED_META = {"format", "format_version"}
# What malformed zip or .npy bytes can make zipfile and numpy raise.
_DECODE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    struct.error,
    OverflowError,
    SyntaxError,  # numpy parses a .npy header as a Python literal: a flipped bit breaks it
    tokenize.TokenError,
    KeyError,
    TypeError,
    MemoryError,
    RecursionError,
)
MAX_META_BYTES = 16 << 20  # the JSON header of a model: a few kB for a shipped one
MAX_NPY_HEADER = 10_000  # numpy's own limit for the header of a .npy it reads safely


class ModelFileError(RnnkitError):
    """A model or checkpoint file is missing, damaged, unsafe or of the wrong kind."""


class _Invalid(Exception):
    """What is wrong inside a file; `load` prefixes the file name."""


def _plain(dtype):
    """Bool and numbers only: anything else may need pickle or is not a weight."""
    return dtype.kind in "biufc"


def save(path, arrays, meta, *, format_name=MODEL_FORMAT):
    """Write ``arrays`` (name -> ndarray) and JSON ``meta`` atomically to ``path``.

    ``meta`` must be a dict that JSON gives back unchanged (str keys, lists
    not tuples, finite floats); its keys "format" and "format_version" are
    reserved.  Names must be non-empty and free of "/", "\\" and NUL.
    """
    arrays = {name: np.asarray(array) for name, array in arrays.items()}
    for name, array in arrays.items():
        if not isinstance(name, str) or not name or name == META_KEY or set(name) & set("/\\\0"):
            raise ValueError(f"invalid array name {name!r}")
        if not _plain(array.dtype):
            raise TypeError(
                f"array {name!r} has dtype {array.dtype}; only bool and numeric arrays can be saved"
            )
    if not isinstance(meta, dict) or _RESERVED_META & meta.keys():
        raise ValueError(f"meta must be a dict without the keys {sorted(_RESERVED_META)}")
    header = {
        "format": format_name,
        "format_version": FORMAT_VERSION,
        "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.str} for n, a in arrays.items()},
        "meta": meta,
    }
    try:
        text = json.dumps(header, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"meta is not JSON-serialisable: {e}") from e
    # Refuse what JSON would silently alter (int keys, tuples) rather than
    # hand back a different dict on load.
    if json.loads(text)["meta"] != meta:
        raise ValueError("meta would not survive JSON unchanged (non-str keys or tuples?)")
    members = {META_KEY: np.frombuffer(text.encode("utf-8"), dtype=np.uint8), **arrays}
    with atomic_writer(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
        for name, array in members.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def load(path, expect_format=None):
    """Read ``(arrays, meta)`` saved by `save`, refusing anything unexpected.

    ``meta`` comes back with "format" and "format_version" added.  Arrays are
    writable in-memory copies.  Every problem raises `ModelFileError`.
    """
    where = os.fspath(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode) and not os.path.isdir(path):
            # refused before open(): opening a FIFO blocks until someone writes to it
            raise ModelFileError(f"{where}: not a regular file (a device, FIFO or socket)")
        with open(path, "rb") as f:
            kind = os.fstat(f.fileno()).st_mode
            if stat.S_ISDIR(kind):
                raise ModelFileError(f"{where}: is a directory, not a model file")
            if not stat.S_ISREG(kind):  # /dev/zero, a FIFO: endless or blocking
                raise ModelFileError(f"{where}: not a regular file (a device, FIFO or socket)")
            return _read(f, expect_format)
    except FileNotFoundError:
        raise ModelFileError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{where}: is a directory, not a model file") from None
    except OSError as e:
        raise ModelFileError(f"{where}: cannot be read ({e.strerror or e})") from e
    except _Invalid as e:
        raise ModelFileError(f"{where}: {e}") from e.__cause__


def _read(f, expect_format):
    try:
        zf = zipfile.ZipFile(f)
    except _DECODE_ERRORS as e:
        f.seek(0)
        if f.read(4) == b"PK\x03\x04":  # starts like a zip: the end was lost or mangled
            raise _Invalid(f"truncated or corrupted zip archive ({e})") from e
        raise _Invalid("not an .npz (zip) archive") from e
    with zf:
        names = zf.namelist()
        if len(set(names)) != len(names) or not all(n.endswith(".npy") for n in names):
            raise _Invalid("members are not unique .npy arrays; not an rnnkit file")
        stored = {n[:-4] for n in names} - {META_KEY}
        if len(stored) == len(names):
            raise _Invalid(f"no {META_KEY} member; not an rnnkit file")
        _check_size(zf, META_KEY, MAX_META_BYTES)
        header = _read_header(zf, expect_format)
        manifest = header["arrays"]
        missing, extra = manifest.keys() - stored, stored - manifest.keys()
        if missing or extra:
            raise _Invalid(f"arrays missing: {sorted(missing)}, unexpected: {sorted(extra)}")
        for n, e in manifest.items():  # before any array is read: no member may be larger
            _check_size(zf, n, _data_bytes(e))
        arrays = {
            n: _read_member(zf, n, e["dtype"], tuple(e["shape"])) for n, e in manifest.items()
        }
    meta = dict(header["meta"], format=header["format"], format_version=header["format_version"])
    return arrays, meta


def _data_bytes(entry):
    """The bytes of the data an array of the manifest holds (shape and dtype checked later)."""
    try:
        itemsize = np.dtype(entry["dtype"]).itemsize
    except TypeError as e:
        raise _Invalid(f"manifest names an unknown dtype {entry['dtype']!r}") from e
    return int(np.prod(entry["shape"], dtype=object)) * itemsize


def _check_size(zf, name, data_bytes):
    """Refuse a member whose declared size exceeds what the manifest allows for it (the .npy
    header plus its data), before decompressing a byte: a small file must not expand into
    gigabytes. zipfile then holds the member to its declared size as it reads."""
    info = zf.getinfo(name + ".npy")
    if info.file_size > data_bytes + MAX_NPY_HEADER:
        raise _Invalid(
            f"array {name!r} declares {info.file_size:,} bytes, more than the "
            f"{data_bytes:,} its manifest entry holds"
        )


def _read_header(zf, expect_format):
    """Decode and check the metadata document that describes the archive."""
    blob = _read_member(zf, META_KEY, "|u1", None)
    try:
        header = json.loads(blob.tobytes().decode("utf-8"))
    except ValueError as e:  # includes bad UTF-8
        raise _Invalid(f"metadata is not valid UTF-8 JSON ({e})") from e
    except RecursionError:
        raise _Invalid("metadata is nested too deeply to be an rnnkit header") from None
    if (
        not isinstance(header, dict)
        or not {"format", "format_version", "arrays", "meta"} <= header.keys()
    ):
        raise _Invalid("metadata lacks format, format_version, arrays or meta")
    fmt, version = header["format"], header["format_version"]
    if expect_format is not None and fmt != expect_format:
        raise _Invalid(f"format is {fmt!r}, expected {expect_format!r}")
    if type(version) is not int or version < 1:
        raise _Invalid(f"invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise _Invalid(
            f"format_version {version} is newer than the {FORMAT_VERSION} this rnnkit reads; "
            "upgrade rnnkit"
        )
    manifest = header["arrays"]
    if not (
        isinstance(header["meta"], dict)
        and isinstance(manifest, dict)
        and all(
            isinstance(e, dict)
            and isinstance(e.get("dtype"), str)
            and isinstance(e.get("shape"), list)
            and all(type(s) is int and s >= 0 for s in e["shape"])
            for e in manifest.values()
        )
    ):
        raise _Invalid("metadata has a malformed meta or array manifest")
    return header


def _read_member(zf, name, dtype_str, shape):
    """Read one array after checking its header; ``shape=None`` means any 1-D."""
    member = name + ".npy"
    try:
        with zf.open(member) as m:
            version = np.lib.format.read_magic(m)
            if version not in ((1, 0), (2, 0)):
                raise _Invalid(f"array {name!r} uses unsupported .npy version {version}")
            reader = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            try:
                found_shape, _, dtype = reader(m, max_header_size=MAX_NPY_HEADER)
            except ValueError as e:  # numpy's advice here would be allow_pickle=True: never
                raise _Invalid(f"array {name!r} has a malformed or oversized header") from e
        if not _plain(dtype):  # checked before any data is read, so nothing is unpickled
            raise _Invalid(
                f"array {name!r} has dtype {dtype}; refused (object arrays would run pickle code)"
            )
        if dtype.str != dtype_str or (
            found_shape != shape if shape is not None else len(found_shape) != 1
        ):
            raise _Invalid(
                f"array {name!r} is {dtype.str} {found_shape}, manifest says {dtype_str} {shape}"
            )
        with zf.open(member) as m:
            array = np.lib.format.read_array(m, allow_pickle=False)
            if m.read(1):  # reading to the end also makes zipfile verify the CRC
                raise _Invalid(f"array {name!r} has trailing bytes")
    except _DECODE_ERRORS as e:
        raise _Invalid(f"array {name!r} is corrupted ({e})") from e
    return array
