"""The guarantees page names the tests that hold each promise: every name must be a test that
exists, in the file it says, so that the page cannot drift from the suite."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUARANTEES = ROOT / "docs" / "guarantees.md"


def named_tests(text):
    """(file, test) pairs of a page: `file.py::test_a`, and `::test_b` after it in one cell."""
    pairs = []
    for cell in re.findall(r"\|([^|]*)\|\s*$", text, flags=re.M):
        current = None
        for file, test in re.findall(r"`(?:([\w/]+\.py))?::(\w+)", cell):
            current = file or current
            pairs.append((current, test))
    return pairs


def test_every_test_the_guarantees_name_exists():
    pairs = named_tests(GUARANTEES.read_text(encoding="utf-8"))
    assert len(pairs) > 50
    files = {p.name: p for p in (ROOT / "tests").rglob("test_*.py")}
    missing = []
    for file, test in pairs:
        path = files.get(Path(file).name) if file else None
        if path is None or not re.search(rf"^\s*def {test}\(", path.read_text(), flags=re.M):
            missing.append(f"{file}::{test}")
    assert not missing, f"docs/guarantees.md names tests that do not exist: {missing}"


def test_the_parser_follows_a_cell_s_file_to_its_later_names():
    cell = "| x | `a.py::test_one`, `::test_two`, `b.py::test_three` |\n"
    assert named_tests(cell) == [("a.py", "test_one"), ("a.py", "test_two"), ("b.py", "test_three")]
