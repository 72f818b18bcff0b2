"""experiments/seen_entities.py, the README's share of dev and test entities seen in training,
on files small enough to count by hand."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "seen_entities", ROOT / "experiments" / "seen_entities.py"
)
seen_entities = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(seen_entities)


def test_an_entity_is_seen_with_the_same_type_and_words(tmp_path, capsys):
    (tmp_path / "train.txt").write_text(
        "Ann B-PER\nLee I-PER\nin O\nParis B-LOC\n\n", encoding="utf-8"
    )
    # Ann Lee (PER): seen. Paris as PER: another type. Ann alone: other words. Paris (LOC): seen.
    (tmp_path / "dev.txt").write_text(
        "Ann B-PER\nLee I-PER\nand O\nParis B-PER\n\nAnn B-PER\nin O\nParis B-LOC\n\n",
        encoding="utf-8",
    )
    (tmp_path / "none.txt").write_text("nothing O\nhere O\n\n", encoding="utf-8")
    seen_entities.main(["--data", str(tmp_path), "--files", "dev.txt,none.txt"])
    rows = capsys.readouterr().out.splitlines()[2:]
    assert rows == ["| dev.txt | 4 | 50.0% | 0.0% |", "| none.txt | 0 | 0.0% | 0.0% |"]


def test_training_files_add_up_and_types_filter_and_new_words_are_counted(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("Ann B-PER\nmet O\nBo B-PER\n\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Zed B-ORG\nin O\nRome B-LOC\n\n", encoding="utf-8")
    # PER: Ann (seen in a), Zed (a word of b, as ORG: not seen, not new), Kim Wu (new in every
    # word), Kim Bo (Bo is a training word: not new). LOC Rome is left out by --types.
    (tmp_path / "dev.txt").write_text(
        "Ann B-PER\nand O\nZed B-PER\nsaw O\nKim B-PER\nWu I-PER\n\n"
        "Kim B-PER\nBo I-PER\nin O\nRome B-LOC\n\n",
        encoding="utf-8",
    )
    argv = ["--data", str(tmp_path), "--train", "a.txt,b.txt", "--files", "dev.txt"]
    seen_entities.main([*argv, "--types", "PER"])
    assert capsys.readouterr().out.splitlines()[2:] == ["| dev.txt | 4 | 25.0% | 25.0% |"]
    seen_entities.main(argv)  # Rome (LOC) is seen in b.txt
    assert capsys.readouterr().out.splitlines()[2:] == ["| dev.txt | 5 | 40.0% | 20.0% |"]


def test_a_missing_file_is_named_without_a_traceback(tmp_path):
    with pytest.raises(SystemExit, match=r"seen_entities.py: .*train.txt: no such file"):
        seen_entities.main(["--data", str(tmp_path)])
