"""Reading raw-text documents: paragraphs, exact offsets into the file's text, bounded memory."""

import io
import os
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.documents import (
    DecodedLines,
    expand_inputs,
    iter_paragraphs,
    read_paragraphs,
    read_text,
)
from rnnkit.errors import DataError, RnnkitError


def paragraphs_of(text, max_chars=100_000):
    return list(iter_paragraphs(io.StringIO(text, newline=""), max_chars=max_chars))


def test_paragraphs_split_on_blank_lines_and_keep_their_lines():
    text = "Olaf\nScholz spoke.\n\n  \t\nAngela\r\nMerkel too.\r\n\r\nEnd"
    got = [(p.index, p.start, p.text) for p in paragraphs_of(text)]
    assert got == [
        (0, 0, "Olaf\nScholz spoke."),
        (1, text.index("Angela"), "Angela\r\nMerkel too."),
        (2, text.index("End"), "End"),
    ]


def test_a_byte_order_mark_is_character_0_and_no_part_of_a_paragraph():
    text = "\ufeffHello there.\n"
    (p,) = paragraphs_of(text)
    assert (p.start, p.text) == (1, "Hello there.")


def test_a_lone_carriage_return_ends_a_line():
    # Old Mac line ends: "\r\r" is a blank line.
    assert [p.text for p in paragraphs_of("a\rb\r\rc")] == ["a\rb", "c"]


lines = st.lists(
    st.tuples(
        st.text(
            alphabet=st.sampled_from("ab Zé\u00e9\u4e2d\U0001f600\t.,"), min_size=0, max_size=12
        ),
        st.sampled_from(["\n", "\r\n", "\r", ""]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(lines, st.booleans(), st.integers(3, 40))
def test_paragraphs_point_at_the_text_and_lose_no_word(parts, bom, max_chars):
    text = ("\ufeff" if bom else "") + "".join(a + b for a, b in parts)
    paragraphs = paragraphs_of(text, max_chars)
    for p in paragraphs:
        assert text[p.start : p.start + len(p.text)] == p.text
        assert p.text.strip()
    assert [p.index for p in paragraphs] == list(range(len(paragraphs)))
    # Every word of the text is in exactly one paragraph, whole, in order (a word shorter
    # than max_chars is never cut).
    words = [w for p in paragraphs for w in p.text.split()]
    expected = text.removeprefix("\ufeff").split()
    if all(len(w) < max_chars for w in expected):
        assert words == expected
    else:
        assert "".join(words) == "".join(expected)


def test_undecodable_bytes_name_the_file_and_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"fine\nstill fine\n\nM\xfcller\n")
    with pytest.raises(DataError) as e:
        list(read_paragraphs(str(path)))
    assert str(e.value).startswith(f"{path}:4: not UTF-8")


@settings(max_examples=300, deadline=None)
@given(lines, st.booleans(), st.integers(3, 40), st.sampled_from(["utf-8", "utf-16"]))
def test_standard_input_reads_as_a_file_does(parts, bom, max_chars, encoding):
    # Standard input is decoded a line of bytes at a time (DecodedLines), a file by Python's
    # TextIOWrapper: the same bytes make the same paragraphs, at the same offsets.
    text = ("\ufeff" if bom else "") + "".join(a + b for a, b in parts)
    raw = text.encode(encoding)
    as_file = io.TextIOWrapper(io.BytesIO(raw), encoding=encoding, newline="")
    as_stdin = DecodedLines(io.BytesIO(raw), encoding)
    assert list(iter_paragraphs(as_stdin, max_chars=max_chars)) == list(
        iter_paragraphs(as_file, max_chars=max_chars)
    )


@pytest.mark.parametrize(
    "raw, line",
    [
        (b"fine\nstill fine\n\nM\xfcller\n", 4),
        (b"\xff at once", 1),
        (b"a\r\nb\r\n\r\ncut short \xc3", 4),  # a truncated sequence at the very end
    ],
)
def test_undecodable_standard_input_names_its_line(monkeypatch, raw, line):
    # Standard input cannot be read twice, as a file is to find the line; it is found as read.
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    with pytest.raises(DataError) as e:
        list(read_paragraphs("-"))
    assert str(e.value).startswith(f"-:{line}: not UTF-8 text (")
    assert str(e.value).endswith("give --encoding if it is in another encoding")


def test_read_text_keeps_line_ends_and_the_mark(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes("\ufeffa\r\nb".encode())
    assert read_text(str(path)) == "\ufeffa\r\nb"


def test_inputs_are_files_directories_and_patterns_in_order(tmp_path):
    for name in ["b.txt", "a.txt", "sub/c.txt", ".hidden/d.txt", "sub/.e.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    d = str(tmp_path)
    assert expand_inputs([d]) == [f"{d}/a.txt", f"{d}/b.txt", f"{d}/sub/c.txt"]
    assert expand_inputs([f"{d}/b.txt", f"{d}/*.txt", "-"]) == [
        f"{d}/b.txt",
        f"{d}/a.txt",
        f"{d}/b.txt",
        "-",
    ]
    with pytest.raises(RnnkitError, match="nothing-here"):
        expand_inputs([f"{d}/nothing-here*"])


def _write_big_file(path, megabytes):
    paragraph = (
        "Olaf Scholz met Angela Merkel in Berlin on Tuesday, the ministry said.\r\n" * 5 + "\r\n"
    )
    with open(path, "w", encoding="utf-8", newline="") as f:
        for _ in range(megabytes * 2**20 // len(paragraph)):
            f.write(paragraph)
        f.write("x" * 3 * 2**20 + " end")  # one 3 MB line: cut into pieces, not read whole


@pytest.mark.slow
def test_reading_a_50_mb_file_takes_bounded_memory(tmp_path):
    path = tmp_path / "big.txt"
    _write_big_file(path, 50)
    assert os.path.getsize(path) > 50e6
    tracemalloc.start()
    try:
        count = longest = 0
        for p in read_paragraphs(str(path), max_chars=100_000):
            count += 1
            longest = max(longest, len(p.text))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count > 100_000
    assert longest <= 200_000
    assert peak < 5 * 2**20  # a few pieces of 100,000 characters, not the 50 MB
