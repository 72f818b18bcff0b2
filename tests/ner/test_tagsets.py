"""Tag sets: their tags in each scheme, labels to and from IOB2, and --map/--types."""

import pytest

from rnnkit.ner.schemes import spans_from_bio
from rnnkit.ner.tagsets import Relabel, TagSet, parse_map, parse_types


def test_tags_in_each_scheme():
    assert TagSet("iob2", ("PER", "LOC")).tags == ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
    assert TagSet("io", ("GENE",)).tags == ("O", "I-GENE")
    assert TagSet("bioes", ("DRUG",)).tags == ("O", "B-DRUG", "I-DRUG", "E-DRUG", "S-DRUG")
    assert TagSet("bilou", ("DRUG",)).tags == ("O", "B-DRUG", "I-DRUG", "L-DRUG", "U-DRUG")
    for bad in [("iob1", ("PER",)), ("iob2", ("PER", "PER")), ("iob2", ("1X",))]:
        with pytest.raises(ValueError):
            TagSet(*bad)


@pytest.mark.parametrize("scheme", ["iob2", "io", "bioes", "bilou"])
def test_labels_to_and_from_iob2(scheme):
    tagset = TagSet(scheme, ("DOSE", "DRUG"))
    iob2 = ["B-DRUG", "I-DRUG", "B-DOSE", "O", "B-DRUG", "O"]
    ids = tagset.ids(iob2)
    assert ids.dtype.kind == "i" and all(0 <= i < len(tagset.tags) for i in ids)
    assert spans_from_bio(tagset.iob2(ids)) == spans_from_bio(iob2)


def test_a_type_the_set_lacks():
    tagset = TagSet("bioes", ("DRUG",))
    with pytest.raises(KeyError, match="B-GENE"):
        tagset.ids(["O", "B-GENE", "I-GENE"])
    assert tagset.ids(["B-GENE", "B-DRUG"], unknown_as_o=True).tolist() == [0, 4]  # O, S-DRUG


def test_map_then_keep():
    relabel = Relabel.parse("PER,LOC", "PERSON=PER,person=PER,GPE=LOC")
    tags = ["B-PERSON", "I-PERSON", "B-person", "O", "B-GPE", "B-ORG", "I-ORG"]
    assert relabel(tags) == ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "O", "O"]
    assert not Relabel() and Relabel()(tags) == tags
    assert Relabel.from_json(relabel.to_json()) == relabel


@pytest.mark.parametrize(
    "types, type_map, words",
    [
        ("PER", "PERSON", "OLD=NEW"),
        (",", None, "at least one"),
        ("B PER", None, "not an entity type"),
        (None, "A=B=C", "not an entity type"),
        (None, "A=B,A=C", "renames A twice"),
    ],
)
def test_bad_types_and_maps(types, type_map, words):
    with pytest.raises(ValueError, match=words):
        Relabel.parse(types, type_map)
    assert parse_types("PER, LOC,PER") == ("PER", "LOC") and parse_map(None) == ()
