"""Tagging many texts and files: Tagger.pipe, Tagger.tag_file and `rnnkit tag --input`."""

import itertools
import json
import tracemalloc
from html.parser import HTMLParser

import pytest

from rnnkit.cli import main
from rnnkit.data.conll import read_conll
from rnnkit.data.documents import read_text
from rnnkit.ner.pipeline import render_documents
from rnnkit.ner.tagger import Tagger

# CRLF line ends, a byte-order mark, characters of 2, 3 and 4 UTF-8 bytes, a hard-wrapped name.
MESSY = (
    "\ufeffOlaf\r\nScholz met Angela Merkel in Berlin.  She said so.\r\n"
    "\r\n"
    "Jürgen Müller visited 東京 😀 with Teddy Roosevelt.\r\n"
    "   \r\n"
    "Mr. Smith said: \u201cHello\u201d \u2014 and left.\r\n"
)


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load()


@pytest.fixture
def messy(tmp_path):
    path = tmp_path / "messy.txt"
    path.write_bytes(MESSY.encode("utf-8"))
    return path


def same_up_to_rounding(results, expected):
    """Equal, but for a ŷ that differs in its last digit: a batch's products round a little
    differently from one text's."""
    for r, e in zip(results, expected, strict=True):
        assert r["entities"] == e["entities"]
        assert [{**t, "prob": 0} for t in r["tokens"]] == [{**t, "prob": 0} for t in e["tokens"]]
        for t, u in zip(r["tokens"], e["tokens"]):
            assert abs(t["prob"] - u["prob"]) <= 2e-4
    return True


def test_pipe_gives_what_tag_gives_lazily_and_in_order(tagger):
    texts = ["Teddy Roosevelt was here.", "", "Angela Merkel", "a " * 150 + "Olaf Scholz ."]
    texts += [f"Teddy Roosevelt was here {i} times ." for i in range(40)]
    assert same_up_to_rounding(tagger.pipe(texts, batch_size=3), [tagger.tag(t) for t in texts])
    # An endless stream: results come a batch at a time, without reading the whole input.
    endless = (f"Angela Merkel met {i} people ." for i in itertools.count())
    first = list(itertools.islice(tagger.pipe(endless, batch_size=2), 3))
    assert [r["text"] for r in first] == [f"Angela Merkel met {i} people ." for i in range(3)]


def test_every_offset_points_at_the_file_text(tagger, messy):
    text = read_text(str(messy))
    records = list(tagger.tag_file(str(messy)))
    assert [r["paragraph"] for r in records] == [0, 1, 2]
    for r in records:
        assert text[r["start"] : r["end"]] == r["text"]
        spans = r["tokens"] + r["entities"] + r["sentences"]
        assert spans
        for span in spans:
            assert r["start"] <= span["start"] < span["end"] <= r["end"]
            if "text" in span:
                assert text[span["start"] : span["end"]] == span["text"]
    assert [t["text"] for t in records[1]["tokens"]][2:4] == ["visited", "東京"]


def test_a_hard_wrapped_name_is_one_person(tagger, tmp_path):
    path = tmp_path / "wrapped.txt"
    # No title before the name: whether "Chancellor" is taken into it is the model's business
    # (the shipped default takes it), not the reader's.
    path.write_text("German leader Olaf\nScholz said on Monday that talks would go on.\n")
    (record,) = tagger.tag_file(str(path))
    assert [(e["text"], e["type"]) for e in record["entities"]] == [("Olaf\nScholz", "PER")]
    # Today's `rnnkit tag` reads a line as a text: two texts, and no person spans the two.


def test_sentences_are_split_inside_a_paragraph(tagger, messy):
    text = read_text(str(messy))
    first = next(iter(tagger.tag_file(str(messy))))
    sentences = [text[s["start"] : s["end"]] for s in first["sentences"]]
    assert sentences == ["Olaf\r\nScholz met Angela Merkel in Berlin.", "She said so."]


def test_tagging_a_large_file_streams(tagger, tmp_path):
    path = tmp_path / "big.txt"
    paragraph = "Olaf Scholz met Angela Merkel in Berlin, the ministry said.\n" * 3 + "\n"
    path.write_text(paragraph * 200_000)  # 36 MB
    tracemalloc.start()
    try:
        pieces = render_documents(tagger, [str(path)], "jsonl", batch_size=16)
        first = list(itertools.islice(pieces, 40))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [i for i, _ in first] == [0] * 40
    assert peak < 5 * 2**20  # three batches of paragraphs, not the file


def run(argv, capsys):
    assert main(argv) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_cli_jsonl_is_tag_file_with_the_document_name(tagger, messy, tmp_path, capsys):
    out = run(["tag", "--input", str(messy)], capsys)
    records = [json.loads(line) for line in out.splitlines()]
    assert records == list(tagger.tag_file(str(messy)))
    assert {r["doc"] for r in records} == {str(messy)}
    # --out FILE writes the same bytes; --json is the same as the default format
    assert (
        run(["tag", "--json", "-i", str(messy), "--out", str(tmp_path / "o.jsonl")], capsys) == ""
    )
    assert (tmp_path / "o.jsonl").read_text(encoding="utf-8") == out


def test_cli_conll_reads_back_as_conll(tagger, messy, tmp_path, capsys):
    out = tmp_path / "tagged.conll"
    run(["tag", "-i", str(messy), "--format", "conll", "--out", str(out)], capsys)
    sentences = read_conll(out)
    records = list(tagger.tag_file(str(messy)))
    assert [t for s in sentences for t in s.tokens] == [
        t["text"] for r in records for t in r["tokens"]
    ]
    assert [t for s in sentences for t in s.tags] == [
        t["label"] for r in records for t in r["tokens"]
    ]
    assert len(sentences) == sum(len(r["sentences"]) for r in records)


class Marks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.marks, self.inside = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "mark":
            self.inside = dict(attrs)

    def handle_data(self, data):
        if self.inside is not None:
            self.marks.append((data, self.inside["class"], self.inside["title"]))
            self.inside = None


def test_cli_html_highlights_every_name_with_its_score(tagger, messy, capsys):
    page = run(["tag", "-i", str(messy), "--format", "html"], capsys)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    parser = Marks()
    parser.feed(page)
    expected = []
    for r in tagger.tag_file(str(messy)):
        for e in r["entities"]:
            probs = [t["prob"] for t in r["tokens"] if e["start"] <= t["start"] < e["end"]]
            score = sum(probs) / len(probs)
            expected.append((e["text"], e["type"], f"{e['type']} ŷ = {score:.2f}"))
    assert parser.marks == expected


def test_cli_out_dir_writes_one_file_per_document(messy, tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Angela Merkel spoke.\n")
    (tmp_path / "docs" / "b.txt").write_text("")
    together = run(["tag", "-i", str(messy), "-i", str(tmp_path / "docs")], capsys)
    run(["tag", "-i", str(messy), "-i", str(tmp_path / "docs"), "--out", f"{tmp_path}/o/"], capsys)
    parts = sorted((tmp_path / "o").iterdir())
    assert [p.name for p in parts] == ["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]
    assert parts[2].read_text() == ""
    # A document's output does not depend on the documents tagged with it.
    assert parts[0].read_text(encoding="utf-8") == run(["tag", "-i", str(messy)], capsys)
    assert "".join(p.read_text(encoding="utf-8") for p in parts) == together


@pytest.mark.parametrize(
    "argv,message",
    [
        (["tag", "text", "--format", "html"], "--format goes with --input"),
        (["tag", "text", "--input", "{messy}"], "not both"),
        (["tag", "--input", "{messy}", "--json", "--format", "conll"], "give one"),
        (["tag", "--input", "{missing}"], "no such file"),
        (["tag", "--input", "{messy}", "--dask", "local"], "--out DIR"),
    ],
)
def test_cli_document_options_are_checked(argv, message, messy, tmp_path, capsys):
    argv = [a.format(messy=messy, missing=tmp_path / "missing*.txt") for a in argv]
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_cli_text_and_stdin_lines_are_as_before(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Olaf\nScholz\n"))
    out = run(["tag", "--json"], capsys)
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["Olaf", "Scholz"]


@pytest.mark.slow
def test_two_workers_give_what_one_gives(tagger, messy, tmp_path, capsys):
    texts = [f"Angela Merkel met Olaf Scholz {i} times in Berlin ." for i in range(300)]
    two, one = list(tagger.pipe(texts, batch_size=16, workers=2)), list(tagger.pipe(texts))
    assert len(two) == len(one) == len(texts)
    for a, b in zip(two, one):
        assert_same_record(a, b)
    for i in range(20):
        (tmp_path / f"doc{i:02d}.txt").write_text(f"Teddy Roosevelt spoke {i} times.\n\n" * 30)
    one = run(["tag", "-i", f"{tmp_path}/doc*.txt", "-i", str(messy), "--workers", "1"], capsys)
    two = run(["tag", "-i", f"{tmp_path}/doc*.txt", "-i", str(messy), "--workers", "2"], capsys)
    assert len(one.splitlines()) == len(two.splitlines()) == 20 * 30 + 3
    # Files are batched alike by one process and by two, and a remembered spelling does not
    # depend on the words computed beside it: the same bytes.
    assert one == two


def assert_same_record(a, b):
    """The same record but for ŷ, which may differ in its last printed digit where the texts
    were batched otherwise (another batch size): BLAS's float32 sums for a sentence depend on
    how many rows share the product, so the fourth decimal of a rounded ŷ may flip."""
    scores = {"prob", "score"}

    def strip(items):
        return [{k: v for k, v in x.items() if k not in scores} for x in items]

    assert {k: v for k, v in a.items() if k not in ("tokens", "entities")} == {
        k: v for k, v in b.items() if k not in ("tokens", "entities")
    }
    for key in ("tokens", "entities"):
        assert strip(a[key]) == strip(b[key])
        for x, y in zip(a[key], b[key]):
            for k in scores & x.keys():
                assert abs(x[k] - y[k]) <= 1.5e-4, (x, y)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_stdin_lines_end_at_each_line_end_in_any_encoding(capsys, monkeypatch, encoding):
    # UTF-16's "\r\n" comes in two reads of bytes ("\n" is a byte of its own); it once gave
    # an empty text between every two lines.
    import io

    raw = "Olaf\r\nScholz\rmet\n\nAnna".encode(encoding)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = run(["tag", "--json", "--encoding", encoding], capsys)
    texts = [json.loads(line)["text"] for line in out.splitlines()]
    assert texts == ["Olaf", "Scholz", "met", "", "Anna"]
