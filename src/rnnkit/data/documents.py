"""Raw-text documents: files, directories, globs and standard input, read as paragraphs.

A document is read as a stream, so memory stays bounded however large it is:

* paragraphs are separated by blank lines; the lines inside a paragraph are one text
  (hard-wrapped lines are joined: "Olaf\\nScholz" is one name), split into sentences
  by the tokeniser's rules (rnnkit.data.tokenize.iter_sentences);
* a paragraph longer than ``max_chars`` characters is cut at a line end, and a line
  longer than that at a space, so that no piece held in memory is much longer;
* offsets count characters of the document's text as the file holds it: decoded as
  UTF-8 with its line ends untranslated (``\\r\\n`` is two characters) and a byte-order
  mark, if any, as character 0. That text is what :func:`read_text` returns, and
  ``read_text(path)[p.start : p.start + len(p.text)] == p.text`` for every paragraph.
"""

from __future__ import annotations

import codecs
import glob
import io
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, NamedTuple

from rnnkit.errors import DataError, RnnkitError

STDIN = "-"
BOM = "\ufeff"
MAX_CHARS = 100_000  # longest paragraph, in characters, before it is cut (at a line end)


class Paragraph(NamedTuple):
    """One paragraph of a document: ``text`` starts at character ``start`` of the document."""

    doc: str  # the document's name: its path as found, or "-" for standard input
    index: int  # 0, 1, 2, ... within the document
    start: int
    text: str


def expand_inputs(specs: Iterable[str]) -> list[str]:
    """Files, directories (every file under them, sorted, hidden ones left out), glob
    patterns and "-" (standard input) -> the documents' paths, in the order given."""
    paths = []
    for spec in specs:
        if spec == STDIN or os.path.isfile(spec):
            paths.append(spec)
        elif os.path.isdir(spec):
            found = sorted(
                str(p)
                for p in Path(spec).rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(spec).parts)
            )
            if not found:
                raise RnnkitError(f"{spec}: no files in this directory")
            paths += found
        elif os.path.exists(spec):  # /dev/null, a FIFO, a socket: not a document to read twice
            raise RnnkitError(
                f"{spec}: not a regular file or directory; pipe a stream in with --input -"
            )
        else:
            found = sorted(p for p in glob.glob(spec, recursive=True) if os.path.isfile(p))
            if not found:
                raise RnnkitError(f"{spec}: no such file, directory or matching pattern")
            paths += found
    return paths


def open_text(path: str, encoding: str = "utf-8") -> IO[str]:
    """The document as text: UTF-8 (whatever the locale) unless told otherwise, line ends
    untranslated ("-" is standard input)."""
    if path == STDIN:
        return io.TextIOWrapper(sys.stdin.buffer, encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def read_text(path: str, encoding: str = "utf-8") -> str:
    """The whole text that offsets index into (small files; see the module docstring)."""
    with open_text(path, encoding) as f:
        return f.read()


def read_paragraphs(
    path: str, max_chars: int = MAX_CHARS, encoding: str = "utf-8"
) -> Iterator[Paragraph]:
    """The paragraphs of the document at ``path``, lazily; text that is not valid in
    ``encoding`` raises a DataError naming the file (or "-") and line."""
    if path == STDIN:  # read once, so decoded a line at a time to know the line at fault
        yield from iter_paragraphs(DecodedLines(sys.stdin.buffer, encoding), path, max_chars)
        return
    stream = open_text(path, encoding)
    try:
        yield from iter_paragraphs(stream, doc=path, max_chars=max_chars)
    except UnicodeError as e:  # UTF-16 without its byte-order mark raises a plain one
        # The decoder reads ahead, so the line is found by a second, byte-wise pass.
        line = _first_undecodable_line(path, encoding)
        raise _undecodable(path, encoding, e, line) from None
    finally:
        stream.close()


def _undecodable(path, encoding, error, line):
    name = "UTF-8" if encoding == "utf-8" else encoding
    return DataError(
        path,
        f"not {name} text ({getattr(error, 'reason', error)}); give --encoding if it is in "
        "another encoding",
        line=line,
    )


class DecodedLines:
    """A byte stream read as text with its line ends untranslated, as open_text reads a file,
    but decoded a line of bytes at a time: an undecodable byte is a DataError naming its line,
    where the stream cannot be read a second time to find it (standard input).
    undecodable(error, line) makes that error (default: "-:LINE: not UTF-8 text ...")."""

    _END = re.compile("\r\n?|\n")

    def __init__(self, raw, encoding, undecodable=None):
        self.raw, self.encoding = raw, encoding
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.undecodable = undecodable or (lambda e, line: _undecodable(STDIN, encoding, e, line))
        self.text, self.line, self.done = "", 1, False  # line: of the next bytes to decode

    def readline(self, limit: int) -> str:
        """The next line, its end kept ("\r\n", "\r" or "\n"), or its first `limit`
        characters; "" at the end."""
        while not self.done and len(self.text) < limit and not self._ended(self.text):
            raw = self.raw.readline(2**16)
            try:
                piece = self.decoder.decode(raw, final=not raw)
            except UnicodeError as e:
                raise self.undecodable(e, self.line) from None
            self.text += piece
            self.line += piece.count("\n")
            self.done = not raw
        end = self._END.search(self.text, 0, limit)
        cut = end.end() if end else min(limit, len(self.text))
        line, self.text = self.text[:cut], self.text[cut:]
        return line

    def _ended(self, text):
        # A "\r" last may be the first half of a "\r\n" (a UTF-16 "\n" is cut from it by
        # the byte-wise readline): the next piece tells, as TextIOWrapper waits for it too.
        end = self._END.search(text)
        return end is not None and (end.end() < len(text) or text[-1] == "\n")


def iter_paragraphs(
    stream: IO[str], doc: str = "<text>", max_chars: int = MAX_CHARS
) -> Iterator[Paragraph]:
    """Paragraphs of an open text stream (opened with newline="" for exact offsets)."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")
    index, at, start, parts, size = 0, 0, 0, [], 0
    for line in _lines(stream, max_chars):
        if at == 0 and line.startswith(BOM):  # the mark is a character of the text, not a word
            at, line = 1, line[1:]
        if line.strip():
            if not parts:
                start = at
            parts.append(line)
            size += len(line)
        at += len(line)
        if parts and (not line.strip() or size >= max_chars):
            yield Paragraph(doc, index, start, "".join(parts).rstrip("\r\n"))
            index, parts, size = index + 1, [], 0
    if parts:
        yield Paragraph(doc, index, start, "".join(parts).rstrip("\r\n"))


def _lines(stream: IO[str], limit: int) -> Iterator[str]:
    """The stream's lines with their line ends; a line longer than ``limit`` comes in pieces
    cut after a whitespace character where there is one, so that no word is cut."""
    rest = ""
    while True:
        chunk = stream.readline(limit)
        if rest.endswith("\r") and not chunk.startswith("\n"):
            yield rest  # a line ended by a lone "\r"
            rest = ""
        if not chunk:
            if rest:
                yield rest
            return
        line, rest = rest + chunk, ""
        if line.endswith("\n"):
            yield line
        elif line.endswith("\r"):
            # A "\r\n" may have been cut by the limit; the next chunk tells.
            if len(chunk) == limit:
                rest = line
            else:
                yield line
        elif len(chunk) == limit:  # a long line, cut at its last whitespace
            cut = max(line.rfind(" "), line.rfind("\t")) + 1
            if cut == 0:
                cut = len(line)
            rest = line[cut:]
            yield line[:cut]
        else:  # the last line, without a line end
            yield line


def _first_undecodable_line(path: str, encoding: str) -> int | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    number = 1
    with open(path, "rb") as f:
        while chunk := f.readline(2**20):
            try:
                decoder.decode(chunk)
            except UnicodeError:
                return number
            number += chunk.endswith(b"\n")
    return None
