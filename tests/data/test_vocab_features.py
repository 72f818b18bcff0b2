import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.data.conll import Sentence
from rnnkit.data.features import GROUPS, SHAPES, Featurizer, shape
from rnnkit.data.vocab import UNK_ID, Vocabulary

TRAIN = [
    ["the", "cat", "saw", "Peter", "."],
    ["Peter", "saw", "the", "dog", "."],
    ["a", "dog", "."],
]


def test_vocabulary_keeps_most_frequent_ties_by_first_occurrence():
    # counts: . 3, the 2, saw 2, Peter 2, dog 2, cat 1, a 1
    vocab = Vocabulary.build(TRAIN, size=4)
    assert vocab.words == [".", "the", "saw", "Peter"]
    assert len(vocab) == 6
    assert vocab.ids(["the", "Peter", "dog", "<unk>", "<pad>"]).tolist() == [
        3,
        5,
        UNK_ID,
        UNK_ID,
        UNK_ID,
    ]
    assert vocab.ids([]).dtype == np.int64 and vocab.ids([]).shape == (0,)
    assert "the" in vocab and "dog" not in vocab and "<unk>" not in vocab
    assert [vocab.word(i) for i in range(len(vocab))] == [
        "<pad>",
        "<unk>",
        ".",
        "the",
        "saw",
        "Peter",
    ]
    with pytest.raises(IndexError):
        vocab.word(6)


def test_vocabulary_is_case_sensitive_and_smaller_when_data_is():
    vocab = Vocabulary.build([["Apple", "apple"]], size=10)
    assert len(vocab) == 4
    assert vocab.id("Apple") != vocab.id("apple")


def test_vocabulary_json_round_trip():
    vocab = Vocabulary.build(TRAIN, size=100)
    back = Vocabulary.from_json(json.loads(json.dumps(vocab.to_json())))
    assert back == vocab
    assert back.ids(["dog", "zebra"]).tolist() == vocab.ids(["dog", "zebra"]).tolist()


@pytest.mark.parametrize(
    "token, expected",
    [
        (",", "punct"), ('"', "punct"), ("--", "punct"), ("1996", "digits"),
        ("1996-08-22", "number"), ("1,000", "number"), ("+44", "number"), ("6-4", "number"),
        ("said", "lower"), ("Peter", "Title"), ("A", "A"), ("BRUSSELS", "UPPER"),
        ("McDonald", "Mixed"), ("M.", "A."), ("U.S.", "A.B."), ("a.m.", "A.B."),
        ("Mr.", "Title."), ("ST.", "Title."), ("vs.", "lower."), ("O'Brien", "Title'"),
        ("'s", "lower'"),
        ("n't", "lower'"), ("Jean-Pierre", "Title-Title"), ("Inzamam-ul-Haq", "Title-Title"),
        ("one-day", "lower-"), ("ITAR-TASS", "hyphen"), ("U.S.-led", "hyphen"),
        ("10-year", "hyphen"), ("1990s", "alnum"), ("49th", "alnum"), ("中文", "other"),
        ("", "punct"),
    ],
)  # fmt: skip
def test_shape_categories(token, expected):
    assert shape(token) == expected


@given(st.text())
def test_shape_is_total(token):
    assert shape(token) in SHAPES


def test_featurizer_word_only_is_the_lecture_one_hot():
    feat = Featurizer.build(TRAIN, groups=("word",), vocab_size=4)
    assert feat.n_x == 6 and feat.groups == ("word",)
    assert feat.word_column == 0 and feat.word_unk_id == UNK_ID
    ids = feat.encode(["the", "zebra"])
    assert ids.shape == (2, 1) and ids.dtype == np.int64
    assert ids[:, 0].tolist() == [3, UNK_ID]
    assert feat.encode([]).shape == (0, 1)


def test_featurizer_groups_are_offset_into_one_space():
    sentences = [
        Sentence(tokens, ["O"] * len(tokens), 1) for tokens in TRAIN
    ]  # Sentence objects work too
    feat = Featurizer.build(
        sentences,
        groups=("shape", "word", "suffix", "prefix", "lower"),
        vocab_size=3,
        affix_size=4,
        lower_size=5,
    )
    sizes = [len(SHAPES) + 2, 3 + 2, 4 + 2, 4 + 2, 5 + 2]
    assert [len(v) for v in feat.vocabs] == sizes
    assert feat.offsets.tolist() == np.cumsum([0] + sizes[:-1]).tolist()
    assert feat.n_x == sum(sizes)
    assert feat.word_column == 1 and feat.word_unk_id == sizes[0] + UNK_ID

    ids = feat.encode(["Peter", "PETER", "xyz"])
    assert ids.shape == (3, 5)
    # Every column stays in its group's block, so the K one-hots never collide.
    for k, (lo, size) in enumerate(zip(feat.offsets, sizes)):
        assert np.all((ids[:, k] >= lo) & (ids[:, k] < lo + size))
    local = ids - feat.offsets
    assert local[:, 0].tolist() == [2 + SHAPES.index(s) for s in ("Title", "UPPER", "lower")]
    assert local[:, 1].tolist() == [feat.vocabs[1].id("Peter"), UNK_ID, UNK_ID]
    # lowercase groups see PETER as peter; suffix "ter" and prefix "pet" are frequent enough
    assert local[0, 4] == local[1, 4] != UNK_ID
    assert local[0, 2] == local[1, 2] == feat.vocabs[2].id("ter") != UNK_ID
    assert local[0, 3] == local[1, 3] == feat.vocabs[3].id("pet") != UNK_ID
    assert local[2, 2] == local[2, 3] == UNK_ID


def test_featurizer_json_round_trip_is_exact():
    feat = Featurizer.build(TRAIN, groups=GROUPS, vocab_size=5, affix_size=3)
    back = Featurizer.from_json(json.loads(json.dumps(feat.to_json())))
    assert back.to_json() == feat.to_json()
    assert (back.groups, back.n_x, back.word_column, back.word_unk_id) == (
        feat.groups, feat.n_x, feat.word_column, feat.word_unk_id,
    )  # fmt: skip
    tokens = ["Peter", "saw", "a", "ZEBRA", "1996", "."]
    assert np.array_equal(back.encode(tokens), feat.encode(tokens))


def test_featurizer_is_deterministic():
    a = Featurizer.build(TRAIN, groups=GROUPS, vocab_size=5).to_json()
    b = Featurizer.build([list(s) for s in TRAIN], groups=GROUPS, vocab_size=5).to_json()
    assert a == b


def test_featurizer_without_word_group():
    feat = Featurizer.build(TRAIN, groups=("shape",))
    assert feat.word_column is None and feat.word_unk_id is None


@pytest.mark.parametrize("groups", [(), ("word", "word"), ("word", "pos")])
def test_featurizer_rejects_bad_groups(groups):
    with pytest.raises(ValueError):
        Featurizer.build(TRAIN, groups=groups)


def test_remembered_ids_are_the_looked_up_ones_and_the_memory_is_bounded(monkeypatch):
    """encode remembers each token's K ids: the same array as a fresh lookup, in any order and
    with repeats, and a full memory starts anew rather than growing."""
    train = [["Teddy", "Roosevelt", "said", "so", "."], ["teddy", "bears", "are", "on", "sale"]]
    f = Featurizer.build(train, groups=("word", "shape", "lower", "suffix"), vocab_size=5)
    tokens = ["Teddy", "unseen", "Teddy", "SALE", ".", "Ölafur", "unseen"]
    first = f.encode(tokens)
    np.testing.assert_array_equal(first, f._lookup(tokens))
    np.testing.assert_array_equal(f.encode(tokens[::-1]), first[::-1])
    assert f.encode([]).shape == (0, 4)
    monkeypatch.setattr(Featurizer, "ROWS_KEPT", 3)
    f.encode(["a", "b", "c", "d", "e"])
    assert len(f._rows) <= 5
    np.testing.assert_array_equal(f.encode(tokens), first)


def test_a_decomposed_corpus_trains_the_columns_that_composed_text_reads():
    # A corpus stored in NFD ("e" + U+0301) must not build columns that no lookup can reach:
    # the tagger reads every token in NFC, so the featurizer counts and looks up NFC forms.
    import unicodedata

    nfd = [unicodedata.normalize("NFD", w) for w in ("Zoé", "Zoé", "André", "Renée")]
    featurizer = Featurizer.build(
        [nfd], groups=("word", "lower", "suffix"), vocab_size=10, affix_size=10
    )
    composed = featurizer.encode(["Zoé", "André"])
    assert (composed == featurizer.encode(nfd[1:3])).all()
    unk = featurizer.offsets + UNK_ID
    assert (composed != unk).all()  # known in every group, not UNK
