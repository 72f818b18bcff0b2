"""Reading and writing CoNLL-format files (one token per line, a blank line between sentences).

Columns are separated by spaces and tabs (a no-break space or any other Unicode space is part
of a token, as in "New\u00a0York"); the token is the first column and the NER
tag the last (CoNLL-2003 has ``token POS chunk NER``). Gold tags may be in any tag
scheme (IOB1, IOB2, IO, BIOES, BILOU: `rnnkit.ner.schemes`), detected or given; they are
converted to IOB2 on reading (`rnnkit.ner.schemes.file_to_iob2`), so the rest of rnnkit
only sees IOB2.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO

from rnnkit.errors import DataError
from rnnkit.io.atomic import atomic_writer
from rnnkit.ner.schemes import FILE_TAG, file_to_iob2

DOCSTART = "-DOCSTART-"
_SEPARATOR = re.compile(r"[ \t]+")  # str.split() would also split on U+00A0, U+3000, ...


@dataclass
class Sentence:
    """One sentence: ``tokens[i]`` has the (IOB2) tag ``tags[i]``; ``line`` is the
    1-based line number of its first token in the file it was read from."""

    tokens: list[str]
    tags: list[str]
    line: int


def read_conll(
    path: str | os.PathLike, tokens_only: bool = False, scheme: str | None = None
) -> list[Sentence]:
    """Read a CoNLL file into sentences; raise :class:`DataError` on anything malformed.
    scheme: the file's tag scheme (None: detected); see `read_tagged`."""
    return read_tagged(path, scheme, tokens_only)[0]


def read_tagged(
    path: str | os.PathLike, scheme: str | None = None, tokens_only: bool = False
) -> tuple[list[Sentence], str | None]:
    """Read a CoNLL file into sentences, and its tag scheme (None for a file of tokens only).

    Tags are read as `scheme`, or as the scheme they all fit (None); a tag that breaks it
    is a DataError naming its line.

    ``-DOCSTART-`` lines are skipped (and end any sentence in progress); CRLF and CR
    line endings, a UTF-8 byte-order mark and a missing final blank line are accepted.
    Every line with a token must have the same number of columns (at least 2; with
    ``tokens_only``, a file of one column is read too, its sentences' tags None).
    """
    text = _read_text(path)
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0
    n_columns = None
    known_tags: set[str] = set()  # tags already validated; checking a set is cheaper than the regex

    def end_sentence() -> None:
        nonlocal tokens, tags
        if tokens:
            gold = None if n_columns == 1 else tags
            sentences.append(Sentence(tokens, gold, first_line))
            tokens, tags = [], []

    for lineno, line in enumerate(text.split("\n"), start=1):
        fields = _fields(line)
        if not fields:
            end_sentence()
            continue
        if fields[0] == DOCSTART:
            end_sentence()
            continue
        if n_columns is None:
            if len(fields) < 2 and not tokens_only:
                raise DataError(
                    path, "expected at least 2 columns (token ... tag), found 1", lineno
                )
            n_columns = len(fields)
        elif len(fields) != n_columns:
            raise DataError(
                path,
                f"expected {n_columns} columns like the lines before, found {len(fields)}",
                lineno,
            )
        tag = fields[-1]
        if n_columns > 1 and tag not in known_tags:
            if not FILE_TAG.fullmatch(tag):
                raise DataError(
                    path, f"unknown tag {tag!r} (expected O or B-TYPE, I-TYPE, ...)", lineno
                )
            known_tags.add(tag)
        if not tokens:
            first_line = lineno
        tokens.append(fields[0])
        tags.append(tag)
    end_sentence()
    if not sentences:
        raise DataError(path, "no sentences")
    if n_columns == 1:
        return sentences, None
    return sentences, file_to_iob2(path, sentences, scheme)


def write_conll(
    dest: str | os.PathLike | IO[str], sentences: Iterable[Sequence[Sequence[str]]]
) -> None:
    """Write sentences as CoNLL lines, one token per line, a blank line after each sentence.

    Each sentence is a tuple of equal-length columns, e.g. ``(tokens, gold, pred)``
    gives ``token gold pred`` lines. ``dest`` is an open text file or a path; a
    path is written atomically, so an interrupted run never leaves half a file.
    Fields must be non-empty and free of spaces and tabs, or the file could not be read back.
    """
    if hasattr(dest, "write"):
        _write_sentences(dest, sentences)
    else:
        with atomic_writer(dest, "w") as f:
            _write_sentences(f, sentences)


def _write_sentences(f: IO[str], sentences: Iterable[Sequence[Sequence[str]]]) -> None:
    for columns in sentences:
        lengths = {len(c) for c in columns}
        if len(lengths) > 1:
            raise ValueError(f"columns of one sentence differ in length: {sorted(lengths)}")
        for row in zip(*columns):
            line = " ".join(row)
            # Splitting gives the fields back only if none is empty or has whitespace.
            if _fields(line) != list(row):
                raise ValueError(f"field empty or containing whitespace in {row!r}")
            f.write(line + "\n")
        f.write("\n")


def _fields(line: str) -> list[str]:
    """A line's columns: split at runs of spaces and tabs only."""
    if line.isascii():
        return line.split()
    stripped = line.strip(" \t\r")
    return _SEPARATOR.split(stripped) if stripped else []


def _read_text(path: str | os.PathLike) -> str:
    try:
        with open(path, "rb") as f:
            if stat.S_ISCHR(mode := os.fstat(f.fileno()).st_mode) or stat.S_ISBLK(mode):
                # /dev/zero would be read until memory ran out; a pipe (<(zcat ...)) is fine
                raise DataError(path, "is a device, not a CoNLL file")
            data = f.read()
    except IsADirectoryError:
        raise DataError(path, "is a directory, not a CoNLL file") from None
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except OSError as e:
        raise DataError(path, f"cannot read: {e.strerror or e}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark, as some editors write
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = _line_ends(data[: e.start]).count(b"\n") + 1
        raise DataError(path, f"not valid UTF-8 (byte 0x{data[e.start]:02x})", line) from None
    return _line_ends(text)


def _line_ends(text):
    """CRLF (Windows) and a lone CR (classic Mac OS) as LF: a file of CR line ends must not
    read as one line."""
    lf, cr = ("\n", "\r") if isinstance(text, str) else (b"\n", b"\r")
    return text.replace(cr + lf, lf).replace(cr, lf)
