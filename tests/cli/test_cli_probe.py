"""What a probe of the command line found: each case once gave a traceback, a misleading message,
or a file replaced; now one line that names what is wrong, and nothing lost."""

import os

import pytest

from rnnkit.cli import main
from support import one_line_error

TEXT = "Angela Merkel met Olaf Scholz.\n"


def test_predict_refuses_to_write_over_the_file_it_reads(trained, corpus, tmp_path, capsys):
    gold = tmp_path / "gold.txt"
    gold.write_bytes(corpus[1].read_bytes())
    before = gold.read_bytes()
    argv = ["predict", "--model", str(trained), "--data", str(gold)]
    assert main([*argv, "--out", str(gold)]) == 1
    one_line_error(capsys.readouterr().err, f"{gold}: is also an input")
    assert gold.read_bytes() == before  # its POS and chunk columns, and -DOCSTART-, kept
    link = tmp_path / "link.txt"
    link.symlink_to(gold)  # another name of the same file
    assert main([*argv, "--out", str(link)]) == 1
    one_line_error(capsys.readouterr().err, "is also an input")
    assert gold.read_bytes() == before


def test_tag_refuses_to_write_over_a_document_it_reads(trained, tmp_path, capsys):
    doc = tmp_path / "doc.txt"
    doc.write_text(TEXT)
    argv = ["tag", "--model", str(trained), "--input", str(doc)]
    assert main([*argv, "--out", str(doc)]) == 1
    one_line_error(capsys.readouterr().err, f"{doc}: is also an input")
    assert doc.read_text() == TEXT
    parts = tmp_path / "parts"
    assert main([*argv, "--out", f"{parts}/"]) == 0
    first = (parts / "part-00000.jsonl").read_text()
    # tagging the directory's own parts into it would replace each while reading it
    assert main(["tag", "--model", str(trained), "--input", str(parts), "--out", f"{parts}/"]) == 1
    one_line_error(capsys.readouterr().err, "part-00000.jsonl: is also an input")
    assert (parts / "part-00000.jsonl").read_text() == first
    assert main([*argv, "--out", f"{doc}/"]) == 1  # a directory asked for where a file is
    one_line_error(capsys.readouterr().err, f"{doc}/: not a directory")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["tag", "--input", "/dev/null"], "/dev/null: not a regular file or directory"),
        (["eval", "--data", "/dev/zero"], "/dev/zero: is a device"),  # read until memory ran out
    ],
)
def test_devices_are_refused_by_name(trained, argv, words, capsys):
    assert main([*argv, "--model", str(trained)]) == 1
    one_line_error(capsys.readouterr().err, words)


@pytest.mark.parametrize("encoding", ["rot13", "base64", "hex"])
def test_an_encoding_that_is_not_a_text_encoding_is_a_usage_error(encoding, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["tag", "--encoding", encoding, "John Smith"])
    assert stop.value.code == 2
    assert f"'{encoding}' is not a text encoding" in capsys.readouterr().err


def test_utf16_without_its_byte_order_mark_names_the_file_and_says_read(trained, tmp_path, capsys):
    doc = tmp_path / "doc.txt"
    doc.write_text(TEXT)
    assert main(["tag", "--model", str(trained), "--input", str(doc), "--encoding", "utf-16"]) == 1
    err = one_line_error(capsys.readouterr().err, f"{doc}:1: not utf-16 text", "BOM")
    assert "write" not in err


@pytest.mark.parametrize("command", [["predict", "--data", "x.txt"], ["train", "--train", "x"]])
def test_an_empty_output_path_is_a_usage_error(command, capsys):
    # predict wrote to standard output, and train into the current directory
    argv = [*command, "--dev", "x"] if command[0] == "train" else command
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", ""])
    assert stop.value.code == 2
    assert "--out: an empty path" in capsys.readouterr().err


def test_dask_refuses_a_bad_address_and_a_missing_model_before_making_the_output(
    trained, tmp_path, capsys
):
    pytest.importorskip("distributed")
    doc = tmp_path / "doc.txt"
    doc.write_text(TEXT)
    out = tmp_path / "out"
    argv = ["tag", "--input", str(doc), "--out", f"{out}/"]
    assert main([*argv, "--model", str(trained), "--dask", "bogus"]) == 1
    one_line_error(capsys.readouterr().err, "--dask bogus: cannot reach a Dask scheduler")
    assert main([*argv, "--model", str(tmp_path / "nope"), "--dask", "local"]) == 1
    one_line_error(capsys.readouterr().err, "nope")
    assert main([*argv, "--show", "DRUG", "--dask", "local"]) == 1  # before a cluster starts
    one_line_error(capsys.readouterr().err, "--show names DRUG")
    assert not os.path.exists(out)


@pytest.mark.parametrize(
    "argv, option",
    [
        (["eval", "--data", ""], "--data"),
        (["predict", "--data", ""], "--data"),
        (["bench", "--data", ""], "--data"),
        (["tag", "--input", ""], "--input/-i"),
        (["train", "--train", "", "--dev", "d.txt", "--out", "r"], "--train"),
        (["train", "--train", "t.txt", "--dev", "", "--out", "r"], "--dev"),
        (["train", "--train", "t.txt", "--dev", "d.txt", "--select", "", "--out", "r"], "--select"),
    ],
)
def test_an_empty_input_path_is_a_usage_error_naming_the_option(
    argv, option, tmp_path, capsys, monkeypatch
):
    """`--data "$UNSET"` was told "rnnkit: error: : no such file", naming nothing (bench: "No
    such file or directory")."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    assert f"error: argument {option}: an empty path: give a file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no run directory made
