"""Atomic file writes: readers see the old file or the complete new one, never a torn one.

The data go to a temporary file in the target's directory (so that ``os.replace``
is a rename within one file system), which is flushed and fsynced before it
replaces the target; on any error the temporary file is removed and the target
is left untouched.

Renaming is for regular files only. A symlink is followed, so that the link
stays a link and the file it points to is replaced; a target that is not a
regular file (a device such as /dev/null, a FIFO, a terminal, /dev/stdout's
pipe) is opened and written through, since renaming over it would replace the
device node itself; a directory is refused. Every OSError names the target.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
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
    if not path:  # as open("") says; realpath("") would be the working directory itself
        raise FileNotFoundError(errno.ENOENT, "an empty path names no file", path)
    try:
        kind = os.stat(path).st_mode  # of what a symlink points to
    except FileNotFoundError:
        kind = None
    except OSError as e:
        raise OSError(e.errno, e.strerror, path) from None
    if kind is not None and stat.S_ISDIR(kind):
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    if kind is not None and not stat.S_ISREG(kind):
        with _named(path):
            yield from _write_through(path, mode, encoding)
        return
    target = os.path.realpath(path)  # the link stays a link; the file it points to is replaced
    directory, name = os.path.split(target)
    try:
        fd, tmp = _create_temp(directory, name)
    except OSError as e:
        raise OSError(e.errno, e.strerror, path) from None
    try:
        with _named(path):
            if mode == "wb":
                f = os.fdopen(fd, "wb")
            else:
                f = os.fdopen(fd, "w", encoding=encoding, newline="\n")
            with f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _write_through(path: str, mode: str, encoding: str) -> Iterator[IO]:
    """Write into a device, FIFO or terminal as it is: it cannot be replaced, only written to."""
    if mode == "wb":
        f = open(path, "wb")  # noqa: SIM115 (closed below, after the caller's block)
    else:
        f = open(path, "w", encoding=encoding, newline="\n")  # noqa: SIM115
    with f:
        yield f
        f.flush()


@contextlib.contextmanager
def _named(path: str) -> Iterator[None]:
    """OSErrors inside name the file the user asked for, not a temporary or none at all
    (a full disk raises ENOSPC from write() with no file name)."""
    try:
        yield
    except OSError as e:
        if e.errno is None or e.filename is not None:  # another file's error keeps its name
            raise
        raise type(e)(e.errno, e.strerror or str(e), path) from None


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
