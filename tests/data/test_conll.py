import os
import pickle
from pathlib import Path

import pytest

from rnnkit.data.conll import Sentence, read_conll, write_conll
from rnnkit.errors import DataError, RnnkitError
from rnnkit.io.atomic import atomic_write_bytes, atomic_write_text, atomic_writer
from rnnkit.ner.schemes import spans_from_bio
from support import BAD_CONLL, FIXTURES
from support import SHARED_DATA as CONLL

FIXTURES = FIXTURES / "conll"


def test_reads_sentences_skipping_docstart():
    sents = read_conll(FIXTURES / "good.txt")
    assert [s.tokens for s in sents] == [
        ["Peter", "Blackburn", "visited", "New", "York", "."],
        ["BRUSSELS", "1996-08-22"],
        ["The", "European", "Commission", "said", "."],
    ]
    assert sents[0].tags == ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]
    assert [s.line for s in sents] == [3, 10, 15]


def test_crlf_tabs_and_two_columns():
    sents = read_conll(FIXTURES / "crlf.txt")
    assert sents == [
        Sentence(["EU", "rejects"], ["B-ORG", "O"], 1),
        Sentence(["Peter", "Blackburn"], ["B-PER", "I-PER"], 4),
    ]


def test_columns_are_split_at_spaces_and_tabs_only(tmp_path):
    # A no-break space (U+00A0) or an ideographic space (U+3000) is part of a token: split
    # there, "New\u00a0York B-LOC" would be three columns and the error would blame line 2.
    path = tmp_path / "nbsp.txt"
    path.write_text("New\u00a0York\tB-LOC\ncity O\n\u3000 O\n\n", encoding="utf-8")
    sents = read_conll(path)
    assert sents == [Sentence(["New\u00a0York", "city", "\u3000"], ["B-LOC", "O", "O"], 1)]
    out = tmp_path / "out.txt"
    write_conll(out, [(s.tokens, s.tags) for s in sents])
    assert read_conll(out) == sents


def test_missing_final_newline():
    sents = read_conll(FIXTURES / "no_final_newline.txt")
    assert [s.tokens for s in sents] == [["EU", "rejects"], ["Peter", "Blackburn"]]


def test_byte_order_mark_is_ignored():
    assert read_conll(FIXTURES / "bom.txt")[0].tokens == ["EU", "rejects"]


def test_iob1_is_converted_to_iob2_on_reading():
    (sent,) = read_conll(FIXTURES / "iob1.txt")
    assert sent.tags == [
        "B-PER", "I-PER", "O", "B-PER", "B-PER", "O", "B-LOC", "I-LOC", "B-ORG", "O",
    ]  # fmt: skip


@pytest.mark.parametrize("name, line, words", BAD_CONLL)
def test_bad_files_name_the_line(name, line, words):
    path = FIXTURES / name
    with pytest.raises(DataError) as info:
        read_conll(path)
    e = info.value
    assert e.line == line
    assert e.path == str(path)
    assert words in str(e)
    prefix = f"{path}:{line}: " if line else f"{path}: "
    assert str(e).startswith(prefix) and "\n" not in str(e)


def test_missing_path_and_directory(tmp_path):
    for path, words in [(tmp_path / "nope.txt", "no such file"), (tmp_path, "directory")]:
        with pytest.raises(DataError, match=words) as info:
            read_conll(path)
        assert info.value.line is None


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("a O\n")
    path.chmod(0)
    with pytest.raises(DataError, match="cannot read"):
        read_conll(path)


def test_data_error_is_user_facing_and_pickles():
    e = DataError("a/b.txt", "bad tag", line=3)
    assert isinstance(e, RnnkitError)
    assert str(e) == "a/b.txt:3: bad tag"
    assert str(DataError(Path("a/b.txt"), "empty")) == "a/b.txt: empty"
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.path, e2.line, e2.message, str(e2)) == (e.path, e.line, e.message, str(e))


def test_write_conll_round_trip(tmp_path):
    sents = read_conll(FIXTURES / "good.txt")
    preds = [["O"] * len(s.tokens) for s in sents]
    out = tmp_path / "pred.txt"
    write_conll(out, [(s.tokens, s.tags, p) for s, p in zip(sents, preds)])
    text = out.read_text(encoding="utf-8")
    assert text.startswith("Peter B-PER O\nBlackburn I-PER O\n")
    assert text.endswith("said O O\n. O O\n\n")
    back = read_conll(out)  # last column is the prediction
    assert [s.tokens for s in back] == [s.tokens for s in sents]
    assert [s.tags for s in back] == preds
    assert [p.name for p in tmp_path.iterdir()] == ["pred.txt"]  # no temporary left


def test_write_conll_to_open_file(tmp_path):
    path = tmp_path / "x.txt"
    with open(path, "w", encoding="utf-8") as f:
        write_conll(f, [(["a", "b"], ["O", "B-PER"])])
    assert path.read_text() == "a O\nb B-PER\n\n"


@pytest.mark.parametrize(
    "columns", [(["a", "b"], ["O"]), (["a b"], ["O"]), (["a\tb"], ["O"]), ([""], ["O"])]
)
def test_write_conll_rejects_unreadable_output(tmp_path, columns):
    path = tmp_path / "x.txt"
    path.write_text("old")
    with pytest.raises(ValueError):
        write_conll(path, [columns])
    assert path.read_text() == "old"  # atomic: the old file survives the failure


def test_atomic_writer_binary_and_failure(tmp_path):
    path = tmp_path / "m.bin"
    atomic_write_bytes(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    with pytest.raises(RuntimeError), atomic_writer(path, "wb") as f:
        f.write(b"partial")
        raise RuntimeError
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["m.bin"]
    atomic_write_text(path, "é\n")
    assert path.read_bytes() == "é\n".encode()
    with pytest.raises(ValueError), atomic_writer(path, "a"):
        pass


@pytest.mark.skipif(not CONLL.is_dir(), reason="CoNLL-2003 data not available")
def test_conll2003_train_counts():
    sents = read_conll(CONLL / "train.txt")
    assert len(sents) == 14041
    assert sum(len(s.tokens) for s in sents) == 203621
    counts = {}
    for s in sents:
        for typ, _, _ in spans_from_bio(s.tags):
            counts[typ] = counts.get(typ, 0) + 1
    assert counts == {"PER": 6600, "LOC": 7140, "ORG": 6321, "MISC": 3438}


@pytest.mark.parametrize("name", ["good.txt", "crlf.txt", "bad_tag.txt", "non_utf8.txt"])
def test_cr_line_ends_read_as_lines(name, tmp_path):
    """Classic Mac OS ends lines with a lone CR: such a file reads as the LF file does (it
    read as one sentence of one token), and errors name the same line."""
    lf = (FIXTURES / name).read_bytes().replace(b"\r\n", b"\n")
    cr = tmp_path / name
    cr.write_bytes(lf.replace(b"\n", b"\r"))
    assert b"\n" not in cr.read_bytes()
    (tmp_path / "lf.txt").write_bytes(lf)
    try:
        expected = read_conll(tmp_path / "lf.txt")
    except DataError as e:
        with pytest.raises(DataError) as info:
            read_conll(cr)
        assert (info.value.line, info.value.message) == (e.line, e.message)
    else:
        assert read_conll(cr) == expected and len(expected) >= 2
