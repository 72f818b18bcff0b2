"""Tag schemes: chunks from the tags of every scheme, conversions between them, the rules that
check and detect a file's scheme, and the person task's 0/1 labels."""

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.errors import DataError, DataWarning
from rnnkit.ner.schemes import (
    PREFERENCE,
    SCHEMES,
    allows,
    allows_end,
    binary_to_bio,
    convert,
    file_to_iob2,
    parse_tag,
    scheme_name,
    spans_from_bio,
    spans_from_tags,
    tags_from_spans,
    to_iob2,
    transitions,
)

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


@st.composite
def chunks(draw, max_len=15):
    """(spans, n): non-overlapping chunks of made-up types in a sentence of n tokens."""
    n = draw(st.integers(0, max_len))
    spans, i = [], 0
    while i < n:
        gap = draw(st.integers(0, 2))
        length = draw(st.integers(1, 4))
        if i + gap + length > n:
            break
        spans.append((draw(st.sampled_from(["DRUG", "DOSE", "GENE"])), i + gap, i + gap + length))
        i += gap + length
    return spans, n


def merged(spans):
    """The chunks IO can mark: adjacent chunks of one type become one."""
    out = []
    for typ, start, end in spans:
        if out and out[-1][0] == typ and out[-1][2] == start:
            out[-1] = (typ, out[-1][1], end)
        else:
            out.append((typ, start, end))
    return out


@settings(max_examples=300, deadline=None)
@given(chunks(), st.sampled_from(SCHEMES), st.sampled_from(SCHEMES))
def test_conversion_round_trips_between_every_pair_of_schemes(data, a, b):
    spans, n = data
    expected = merged(spans) if "io" in (a, b) else spans
    tags_a = tags_from_spans(spans, n, a)
    assert spans_from_tags(tags_a, a) == (merged(spans) if a == "io" else spans)
    tags_b = convert(tags_a, a, b)
    assert spans_from_tags(tags_b, b) == expected
    assert spans_from_tags(convert(tags_b, b, a), a) == expected


@settings(max_examples=300, deadline=None)
@given(chunks(), st.sampled_from(SCHEMES))
def test_each_scheme_writes_what_its_rules_allow_and_detection_reads_it_back(data, scheme):
    spans, n = data
    tags = tags_from_spans(spans, n, scheme)
    parsed = [parse_tag(t) for t in ["O", *tags]]  # "O": the sentence start
    assert all(allows(scheme, p, t) for p, t in itertools.pairwise(parsed))
    assert allows_end(scheme, parsed[-1])
    sentence = SimpleNamespace(tags=tags, line=1)
    found = file_to_iob2("f.txt", [sentence])
    # The detected scheme reads the same chunks, and the tags come back as IOB2.
    assert spans_from_tags(tags, found) == spans_from_tags(tags, scheme)
    assert sentence.tags == to_iob2(sentence.tags)
    assert spans_from_bio(sentence.tags) == spans_from_tags(tags, scheme)


@pytest.mark.parametrize(
    "tags, scheme",
    [
        (["B-PER", "I-PER", "O", "B-LOC"], "iob2"),
        (["I-PER", "I-PER", "O", "I-LOC", "B-LOC"], "iob1"),
        (["S-PER", "O", "B-LOC", "I-LOC", "E-LOC"], "bioes"),
        (["U-PER", "O", "B-LOC", "L-LOC"], "bilou"),
        (["I-PER", "I-PER", "O", "I-LOC"], "iob1"),  # IO reads the same; IOB1 comes first
        (["O", "O"], "iob2"),
    ],
)
def test_detection(tags, scheme):
    assert file_to_iob2("f.txt", [SimpleNamespace(tags=list(tags), line=1)]) == scheme


@pytest.mark.parametrize(
    "lines, declared, line, words",
    [
        ([["O", "I-LOC"]], "iob2", 2, ["'I-LOC' follows O", "declared IOB2"]),
        # BIOES tags in a file declared BIO
        ([["B-PER", "E-PER"]], "bio", 2, ["'E-PER' is not a tag of IOB2", "declared IOB2"]),
        ([["B-ORG", "O"], ["B-PER", "E-PER"]], None, 5, ["'E-PER'", "read as IOB2"]),
        # BIOES's own rules
        ([["B-PER", "I-PER"]], "bioes", 2, ["ends the sentence", "E-PER"]),
        ([["S-PER", "I-PER"]], "bioes", 2, ["'I-PER' follows S-PER", "never opened"]),
        ([["B-PER", "O"]], "bioes", 2, ["'O' follows B-PER", "continue or close"]),
        ([["B-PER", "E-LOC"]], "bioes", 2, ["'E-LOC' follows B-PER"]),
    ],
)
def test_tags_that_break_the_scheme_name_the_line(lines, declared, line, words):
    sentences, at = [], 1
    for tags in lines:
        sentences.append(SimpleNamespace(tags=tags, line=at))
        at += len(tags) + 1  # a blank line between sentences
    with pytest.raises(DataError) as info:
        file_to_iob2("data.txt", sentences, declared)
    assert info.value.line == line and str(info.value).startswith(f"data.txt:{line}: ")
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "lines, line, message",
    [
        # an E- that opens the file is BIOES's fault, not "no tag of IOB2", and no lines came
        # before it to read as anything
        (
            [["E-PER", "O"]],
            1,
            "'E-PER' follows the sentence start: it continues a chunk never opened (BIOES opens "
            "with B-PER)",
        ),
        # conlleval's lenient reading (--scheme iob1) is offered only for a file of B- and I-
        (
            [["S-PER", "O"], ["I-LOC", "O"]],
            4,
            "'I-LOC' follows the sentence start: it continues a chunk never opened (BIOES opens "
            "with B-LOC) (the lines before read as BIOES)",
        ),
        (
            [["B-PER", "I-PER"], ["I-LOC", "O"]],
            4,
            "'I-LOC' follows the sentence start: an I- tag of a type never opened (IOB2 opens "
            "with B-LOC) (the lines before read as IOB2; --scheme iob1 reads any mix of B- and "
            "I- as conlleval does)",
        ),
        (
            [["O", "O"], ["I-LOC", "O"], ["E-PER", "O"]],
            7,
            "'E-PER' is not a tag of IOB1, which has only B-/I- and O (the lines before read as "
            "IOB1/IO)",
        ),
    ],
)
def test_an_undeclared_file_hears_of_the_scheme_its_tag_belongs_to(lines, line, message):
    sentences, at = [], 1
    for tags in lines:
        sentences.append(SimpleNamespace(tags=tags, line=at))
        at += len(tags) + 1
    with pytest.raises(DataError) as info:
        file_to_iob2("data.txt", sentences, PREFERENCE)
    assert str(info.value) == f"data.txt:{line}: {message}"


def test_iob1_declared_reads_any_mix_as_conlleval_does():
    s = SimpleNamespace(tags=["B-LOC", "O", "I-LOC", "I-PER", "B-PER"], line=1)
    assert file_to_iob2("f.txt", [s], "iob1") == "iob1"
    assert s.tags == ["B-LOC", "O", "B-LOC", "B-PER", "B-PER"]


def test_scheme_names():
    assert scheme_name("BIO") == "iob2" and scheme_name("IOBES") == "bioes"
    with pytest.raises(ValueError, match="unknown tag scheme"):
        scheme_name("bilo")


def test_transitions_of_bioes_by_hand():
    tags = ["O", "B-X", "I-X", "E-X", "S-X", "B-Y"]
    allowed, start, end = transitions("bioes", tags)
    expected = np.array(
        [  # to O, B-X, I-X, E-X, S-X, B-Y
            [1, 1, 0, 0, 1, 1],  # from O
            [0, 0, 1, 1, 0, 0],  # from B-X: only I-X or E-X
            [0, 0, 1, 1, 0, 0],  # from I-X
            [1, 1, 0, 0, 1, 1],  # from E-X: the chunk is closed
            [1, 1, 0, 0, 1, 1],  # from S-X
            [0, 0, 0, 0, 0, 0],  # from B-Y: it needs I-Y or E-Y, which are not in the list
        ],
        dtype=bool,
    )
    assert (allowed == expected).all()
    assert start.tolist() == [True, True, False, False, True, True]
    assert end.tolist() == [True, False, False, True, True, False]
    allowed, start, _ = transitions("iob2", ["O", "B-X", "I-X", "I-Y"])
    assert not allowed[0, 2] and allowed[1, 2] and allowed[2, 2] and not allowed[1, 3]
    assert start.tolist() == [True, True, False, False]


def test_b_and_i_tags_that_fit_no_scheme_strictly_are_read_as_iob1_with_a_warning():
    """An I- tag opening a chunk in a file that opens others with B- (the Broad Twitter Corpus
    has such lines): read by conlleval's rules, as before, and said once, with the line."""
    sentences = [
        SimpleNamespace(tags=["B-ORG", "O"], line=1),
        SimpleNamespace(tags=["O", "I-LOC"], line=4),
    ]
    with pytest.warns(DataWarning, match=r"data.txt:5: 'I-LOC' follows O.*--scheme iob2"):
        assert file_to_iob2("data.txt", sentences) == "iob1"
    assert sentences[1].tags == ["O", "B-LOC"]
