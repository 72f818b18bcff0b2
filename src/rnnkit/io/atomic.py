"""Atomic file writes: readers see the old file or the complete new one, never a torn one.

The data go to a temporary file in the target's directory (so that ``os.replace``
is a rename within one file system), which is flushed and fsynced before it
replaces the target; on any error the temporary file is removed and the target
is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import IO


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike, mode: str = "w", *, encoding: str = "utf-8"
) -> Iterator[IO]:
    """Yield a file object whose contents replace ``path`` when the block exits cleanly.

    ``mode`` is ``"w"`` (text, written with ``"\\n"`` line endings on every
    platform) or ``"wb"`` (binary, e.g. for ``np.savez``).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_writer mode must be 'w' or 'wb', not {mode!r}")
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    try:
        fd, tmp = _create_temp(directory, name)
    except OSError as e:  # name the file the user asked for, not the temporary
        raise OSError(e.errno, e.strerror, path) from None
    try:
        if mode == "wb":
            f = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding=encoding, newline="\n")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, path)
        except OSError as e:
            raise OSError(e.errno, e.strerror, path) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_writer(path, "w", encoding=encoding) as f:
        f.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_writer(path, "wb") as f:
        f.write(data)


def _create_temp(directory: str, name: str) -> tuple[int, str]:
    # os.open with mode 0o666 lets the umask decide the final permissions, as a
    # plain open() would; tempfile.mkstemp would leave the file private (0o600).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; directories cannot be opened on Windows.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
