"""--show: a model that learned several types prints only some, from its file's header or the
command line; what it learns and is chosen by does not change, and an O's prob then stands for
every label it hides."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_any_tagset import SMALL, write_drug_corpus

from rnnkit.cli import main
from rnnkit.errors import RnnkitError
from rnnkit.io import storage
from rnnkit.ner.tagger import Tagger
from rnnkit.ner.tagsets import TagSet
from rnnkit.ner.tasks import Task
from support import one_line_error

TEXT = "She took vitamin C 50 mg twice ."


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same CRF run on the drug corpus with and without --show DRUG."""
    d = tmp_path_factory.mktemp("show")
    train, dev = write_drug_corpus(d / "train.txt", 200, 0), write_drug_corpus(d / "dev.txt", 40, 1)
    argv = ["train", "--task", "tags", "--output", "crf", "--train", str(train), "--dev", str(dev)]
    for name, show in (("all", []), ("drug", ["--show", "DRUG"])):
        assert main([*argv, *SMALL, "--out", str(d / name), *show]) == 0
    return d, dev


def test_show_changes_no_weight_and_no_choice_only_the_header(runs):
    d, _ = runs
    every, drug = Tagger.load(d / "all"), Tagger.load(d / "drug")
    for k, p in every.model.params.items():
        np.testing.assert_array_equal(drug.model.params[k], p)
    assert every.show is None and drug.show == ("DRUG",)
    _, meta = storage.load(d / "drug" / "model.npz")
    assert meta["show"] == ["DRUG"] and meta["train"]["show"] == "DRUG"
    assert set(meta["dev"]["per_type"]) == {"DOSE", "DRUG"}  # chosen on every type


def test_a_shown_type_prints_alone_and_the_command_line_overrides_the_header(runs, capsys):
    d, _ = runs
    for argv, types in (
        ([], {"DRUG"}),
        (["--show", "DOSE,DRUG"], {"DRUG", "DOSE"}),
        (["--show", "DOSE"], {"DOSE"}),
    ):
        assert main(["tag", "--model", str(d / "drug"), "--json", *argv, TEXT]) == 0
        result = json.loads(capsys.readouterr().out)
        assert {e["type"] for e in result["entities"]} == types
        assert {t["label"][2:] for t in result["tokens"] if t["label"] != "O"} == types
    full = Tagger.load(d / "all").tag(TEXT)
    shown = Tagger.load(d / "drug").tag(TEXT)
    assert shown["entities"] == [e for e in full["entities"] if e["type"] == "DRUG"]


def test_eval_scores_the_shown_types_against_gold_with_only_them(runs, capsys):
    d, dev = runs
    assert main(["eval", "--model", str(d / "drug"), "--data", str(dev), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert main(["eval", "--model", str(d / "all"), "--data", str(dev), "--json"]) == 0
    every = json.loads(capsys.readouterr().out)
    assert set(shown["per_type"]) == {"DRUG"}
    assert shown["per_type"]["DRUG"] == every["per_type"]["DRUG"]
    assert shown["f1"] == every["per_type"]["DRUG"]["f1"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["tag", "--model", "lecture", "--show", "LOC", "x"],
            "--show names LOC; the model tags PER",
        ),
        (["tag", "--show", "MISC", "x"], "--show names MISC; the model tags LOC, ORG, PER"),
        (["tag", "--show", ",", "x"], "--show names no type; the model tags LOC, ORG, PER"),
    ],
)
def test_a_type_the_model_lacks_is_one_line(argv, message, capsys):
    assert main(argv) != 0
    one_line_error(capsys.readouterr().err, message)


def test_training_refuses_a_shown_type_it_would_not_learn(runs, tmp_path, capsys):
    _, dev = runs
    base = ["train", "--train", str(dev), "--dev", str(dev), "--out", str(tmp_path / "x")]
    for extra, message in (
        (["--show", "PER"], "--show go with --task bio or tags"),
        (["--task", "tags", "--types", "DRUG", "--show", "DOSE"], "--show names DOSE, which "),
        (
            ["--task", "tags", "--show", "GENE"],
            "--show names GENE, which the training data does not hold (it has DOSE, DRUG)",
        ),
        (["--task", "bio", "--show", "GENE"], "--show names GENE, which the model would not "),
    ):
        assert main([*base, *extra, *SMALL]) != 0
        one_line_error(capsys.readouterr().err, message)
    assert not (tmp_path / "x" / "model.npz").exists()


def test_a_header_that_shows_a_type_the_model_lacks_is_refused_naming_the_file(runs, tmp_path):
    d, _ = runs
    tagger = Tagger.load(d / "drug")
    arrays, meta = storage.load(d / "drug" / "model.npz")
    meta = {k: v for k, v in meta.items() if k not in ("format", "format_version")}
    bad = tmp_path / "bad.npz"
    storage.save(bad, arrays, {**meta, "show": ["GENE"]})
    with pytest.raises(storage.ModelFileError, match=f"{bad}: not a valid rnnkit tagger"):
        Tagger.load(bad)
    with pytest.raises(RnnkitError, match="--show names GENE"):
        tagger.show = "GENE"
    assert tagger.show == ("DRUG",)
    tagger.show = None  # every type, and saved so
    tagger.save(tmp_path / "all.npz")
    assert Tagger.load(tmp_path / "all.npz").show is None


@st.composite
def decodings(draw):
    scheme = draw(st.sampled_from(["iob2", "bioes", "bilou", "io"]))
    types = ("DOSE", "DRUG", "PER")
    task = Task("tags", "softmax", TagSet(scheme, types), decoding=draw(st.sampled_from(
        ["viterbi", "argmax"])))  # fmt: skip
    m, T = draw(st.integers(1, 3)), draw(st.integers(0, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    logits = np.random.default_rng(seed).normal(size=(m, T, len(task.tags))) * 3
    y_hat = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    show = tuple(draw(st.sets(st.sampled_from(types), min_size=1)))
    return task, y_hat, show


@given(decodings())
@settings(max_examples=60, deadline=None)
def test_showing_is_the_full_decoding_with_the_hidden_types_made_o(case):
    """The tags are those decoded with every type, hidden ones read as O; a shown label keeps
    its ŷ, and an O stands for all it hides: 1 - the ŷ of the shown types' labels."""
    task, y_hat, show = case
    full = task.decode_batch(y_hat, None)
    shown = task.decode_batch(y_hat, None, show=show)
    is_shown = np.array([t != "O" and t[2:] in show for t in task.tags])
    for i, ((tags, probs), (s_tags, s_probs)) in enumerate(zip(full, shown)):
        assert s_tags == task.gold_tags(tags, show)
        for t, (tag, s_tag) in enumerate(zip(tags, s_tags)):
            if s_tag == "O":
                assert s_probs[t] == pytest.approx(1 - y_hat[i, t, is_shown].sum())
            else:
                assert s_tag == tag and s_probs[t] == probs[t]


def test_worker_processes_print_the_types_given_on_the_command_line(runs, tmp_path, capsys):
    """--workers loads the model in other processes: they are given the tagger with --show (as
    with --threshold), not the file's own types."""
    d, _ = runs
    docs = []
    for i in range(4):
        docs.append(tmp_path / f"doc{i}.txt")
        docs[-1].write_text(f"{TEXT}\n\n" * 20, encoding="utf-8")
    outputs = []
    for workers in ("1", "2"):
        argv = ["tag", "--model", str(d / "all"), "--show", "DOSE", "--workers", workers]
        assert main([*argv, *(a for doc in docs for a in ("-i", str(doc)))]) == 0
        outputs.append(capsys.readouterr().out)
    records = [json.loads(line) for line in outputs[1].splitlines()]
    assert len(records) == 4 * 20
    assert {e["type"] for r in records for e in r["entities"]} == {"DOSE"}
    assert outputs[0] == outputs[1]
