"""Exceptions that reach the user: the CLI prints ``str(e)`` as a one-line error."""

from __future__ import annotations

import os


class RnnkitError(Exception):
    """Base class for errors caused by the user's input rather than by a bug."""


class DataError(RnnkitError):
    """A data file that cannot be used, with the place that shows why.

    ``str(e)`` is ``"{path}:{line}: {message}"``, or ``"{path}: {message}"`` when
    the problem is not tied to a line (missing file, empty file, ...), the form
    compilers use so that editors can jump to the line.
    """

    def __init__(self, path: str | os.PathLike, message: str, line: int | None = None):
        # args mirror the signature so that the exception pickles (multiprocessing).
        super().__init__(path, message, line)
        self.path = os.fspath(path)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


class DataWarning(UserWarning):
    """Data that rnnkit can use but that the user should know about, e.g. tags read more
    leniently than their file's scheme allows. The CLI prints it as one line."""
