import json
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.ner.metrics import score
from support import FIXTURES

try:
    from seqeval.metrics import (
        accuracy_score,
        classification_report,
        f1_score,
        precision_score,
        recall_score,
    )
except ImportError:  # seqeval is in the test extra; the hand-computed checks run without it
    classification_report = None
needs_seqeval = pytest.mark.skipif(classification_report is None, reason="needs seqeval")

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-MISC"]


def seqeval_scores(gold, pred):
    """seqeval's default (conlleval-compatible) mode, as the independent implementation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its UndefinedMetricWarning when a count is 0
        report = classification_report(gold, pred, output_dict=True, zero_division=0)
        overall = {
            "precision": precision_score(gold, pred, zero_division=0),
            "recall": recall_score(gold, pred, zero_division=0),
            "f1": f1_score(gold, pred, zero_division=0),
            "accuracy": accuracy_score(gold, pred),
        }
    per_type = {
        t: {
            "precision": r["precision"],
            "recall": r["recall"],
            "f1": r["f1-score"],
            "support": r["support"],
        }
        for t, r in report.items()
        if not t.endswith(" avg")
    }
    return overall, per_type


def assert_matches_seqeval(gold, pred):
    ours = score(gold, pred)
    overall, per_type = seqeval_scores(gold, pred)
    for key, value in overall.items():
        assert ours[key] == pytest.approx(value), key
    assert set(ours["per_type"]) == set(per_type)
    for typ, theirs in per_type.items():
        for key, value in theirs.items():
            assert ours["per_type"][typ][key] == pytest.approx(value), (typ, key)


def test_hand_computed_case():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-PER"]]
    # gold: PER(0,2) LOC(3,4) | ORG(0,1); pred: PER(0,2) ORG(3,4) | ORG(0,1) PER(1,2)
    # correct: PER(0,2), ORG(0,1) -> P = 2/4, R = 2/3, F1 = 2PR/(P+R) = 4/7; tags right 4 of 6
    s = score(gold, pred)
    assert (s["n_gold"], s["n_pred"], s["n_correct"], s["n_tokens"]) == (3, 4, 2, 6)
    assert s["precision"] == pytest.approx(1 / 2)
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(4 / 7)
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert list(s["per_type"]) == ["LOC", "ORG", "PER"]
    assert s["per_type"]["LOC"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
        "n_pred": 0,
        "n_correct": 0,
    }
    assert s["per_type"]["ORG"] == {
        "precision": 0.5,
        "recall": 1.0,
        "f1": pytest.approx(2 / 3),
        "support": 1,
        "n_pred": 2,
        "n_correct": 1,
    }
    assert s["per_type"]["PER"] == {
        "precision": 0.5,
        "recall": 1.0,
        "f1": pytest.approx(2 / 3),
        "support": 1,
        "n_pred": 2,
        "n_correct": 1,
    }
    json.dumps(s)  # JSON-serialisable


@needs_seqeval
def test_agrees_with_seqeval_on_fixture():
    # Raw token/gold/pred columns, IOB1 and ill-formed sequences included.
    gold, pred = [], []
    text = (FIXTURES / "conll" / "gold_pred.txt").read_text()
    for block in text.strip().split("\n\n"):
        rows = [line.split() for line in block.splitlines()]
        gold.append([r[1] for r in rows])
        pred.append([r[2] for r in rows])
    s = score(gold, pred)
    # By hand: gold PER LOC | PER(Anna) PER(Bob) ORG PER(De Gaulle) | ORG MISC = 8;
    # predicted PER ORG | PER(Anna Bob) ORG MISC PER(De) LOC(Gaulle) | MISC(German
    # lamb) = 8; correct: Peter Blackburn, I.B.M. = 2.
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (8, 8, 2)
    assert_matches_seqeval(gold, pred)


def test_no_predictions_or_no_gold_gives_zero_not_an_error():
    gold = [["B-PER", "O"]]
    empty = [["O", "O"]]
    for g, p in [(gold, empty), (empty, gold), (empty, empty), ([], [])]:
        s = score(g, p)
        assert s["precision"] == s["recall"] == s["f1"] == 0.0


def test_rejects_length_mismatch():
    with pytest.raises(ValueError):
        score([["O"]], [["O", "O"]])
    with pytest.raises(ValueError):
        score([["O"]], [])


@st.composite
def gold_and_pred(draw):
    """Random, often ill-formed, IOB1/IOB2 tag sequences: I- after O, type changes, ..."""
    lengths = draw(st.lists(st.integers(0, 12), max_size=6))
    tag = st.sampled_from(TAGS)
    gold = [draw(st.lists(tag, min_size=n, max_size=n)) for n in lengths]
    pred = [draw(st.lists(tag, min_size=n, max_size=n)) for n in lengths]
    return gold, pred


@needs_seqeval
@settings(max_examples=250, deadline=None)
@given(gold_and_pred())
def test_agrees_with_seqeval_on_random_sequences(data):
    gold, pred = data
    if sum(map(len, gold)) == 0:
        return  # seqeval's accuracy divides by the token count
    assert_matches_seqeval(gold, pred)
