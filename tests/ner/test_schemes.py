"""Tag schemes: chunks from IOB1/IOB2 tags, IOB1 -> IOB2, and the person task's 0/1 labels."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.ner.schemes import binary_to_bio, spans_from_bio, to_iob2

try:
    from seqeval.metrics.sequence_labeling import get_entities
except ImportError:  # seqeval is in the test extra; the hand-computed cases run without it
    get_entities = None
needs_seqeval = pytest.mark.skipif(get_entities is None, reason="needs seqeval")

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-MISC"]


def seqeval_spans(tags):
    return [(t, s, e + 1) for t, s, e in get_entities(list(tags))]  # its end is inclusive


@pytest.mark.parametrize(
    "tags, spans",
    [
        ([], []),
        (["O", "O"], []),
        (["B-PER", "I-PER", "O"], [("PER", 0, 2)]),
        (["B-PER", "B-PER"], [("PER", 0, 1), ("PER", 1, 2)]),
        (["I-PER", "I-PER"], [("PER", 0, 2)]),  # IOB1: I- starts a chunk after the start
        (["O", "I-LOC", "B-LOC", "I-LOC"], [("LOC", 1, 2), ("LOC", 2, 4)]),
        (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 3)]),  # type change
        (["B-PER", "I-PER", "I-PER"], [("PER", 0, 3)]),
    ],
)
def test_spans_from_bio(tags, spans):
    assert spans_from_bio(tags) == spans


@pytest.mark.parametrize("tag", ["E-PER", "B-", "PER", "b-PER", ""])
def test_rejects_unknown_tags(tag):
    with pytest.raises(ValueError):
        spans_from_bio(["O", tag])
    with pytest.raises(ValueError):
        to_iob2(["O", tag])


@pytest.mark.parametrize(
    "tags, expected",
    [
        ([], []),
        (["O", "I-PER", "I-PER"], ["O", "B-PER", "I-PER"]),
        (["I-PER", "B-PER", "I-PER"], ["B-PER", "B-PER", "I-PER"]),
        (["I-PER", "I-LOC", "O", "I-LOC"], ["B-PER", "B-LOC", "O", "B-LOC"]),
        (["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER", "O", "B-LOC"]),  # IOB2 unchanged
    ],
)
def test_to_iob2(tags, expected):
    assert to_iob2(tags) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TAGS), max_size=20))
def test_to_iob2_gives_iob2(tags):
    # IOB2: an I-X only ever continues a B-X or I-X; and converting twice changes nothing.
    out = to_iob2(tags)
    assert all(t[0] != "I" or (p != "O" and p[2:] == t[2:]) for p, t in zip(["O", *out], out))
    assert to_iob2(out) == out


@needs_seqeval
@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TAGS), max_size=20))
def test_spans_agree_with_seqeval_before_and_after_iob2(tags):
    assert spans_from_bio(tags) == seqeval_spans(tags) == spans_from_bio(to_iob2(tags))


def test_binary_person_task():
    labels = [0, 1, 1, 0, 1, 0, 0, 1]
    assert binary_to_bio(labels) == ["O", "B-PER", "I-PER", "O", "B-PER", "O", "O", "B-PER"]
    assert spans_from_bio(binary_to_bio(labels)) == [("PER", 1, 3), ("PER", 4, 5), ("PER", 7, 8)]
    assert binary_to_bio([]) == [] and binary_to_bio([1, 1]) == ["B-PER", "I-PER"]
    with pytest.raises(ValueError):
        binary_to_bio([0, 2])
