"""Tag schemes: how tags mark chunks (entities), and the one rule for where a chunk starts.

Inside rnnkit every tag sequence is IOB2: ``B-X`` starts a chunk of type X, ``I-X``
continues it, ``O`` is outside any chunk. Gold files may be IOB1, where ``B-`` is
used only between two adjacent chunks of one type; `to_iob2` reads them into IOB2
on the way in. The lecture's person task has 0/1 labels; `binary_to_bio` writes
them as IOB2. A scheme added later (BIOES, IO) gets its reader into IOB2 and its
writer here, next to the rule they all share.

The rule is conlleval's, which makes sense of IOB1, IOB2 and ill-formed sequences
alike: a chunk starts at ``B-X``, and at an ``I-X`` that follows ``O``, the sentence
start or a tag of another type; it ends where the next chunk starts, or at ``O``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Span = tuple[str, int, int]  # (type, start, end), end exclusive
Tag = tuple[str, str]  # (prefix, type) of a tag: ("B", "PER"), ("I", "PER"), ("O", "")

OUTSIDE: Tag = ("O", "")  # also what comes before a sentence's first tag
# What a data file may hold: O, or B-/I- and an entity type made of letters (PER, LOC, MISC).
FILE_TAG = re.compile(r"O|[BI]-[A-Za-z]+")


def split_tag(tag: str) -> Tag:
    """``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", "")``; anything else is a ValueError."""
    if tag == "O":
        return OUTSIDE
    if len(tag) > 2 and tag[0] in "BI" and tag[1] == "-":
        return tag[0], tag[2:]
    raise ValueError(f"not an IOB tag: {tag!r} (expected O, B-TYPE or I-TYPE)")


def starts_chunk(prev: Tag, tag: Tag) -> bool:
    """Whether ``tag`` starts a chunk when ``prev`` is the tag before it (OUTSIDE at the start)."""
    prefix, typ = tag
    return prefix == "B" or (prefix == "I" and (prev[0] == "O" or prev[1] != typ))


def to_iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 (or IOB2) tags as IOB2: an ``I-X`` that starts a chunk becomes ``B-X``.

    The chunks stay the same, so scores do not change; IOB2 input comes back unchanged.
    """
    out, prev = [], OUTSIDE
    for tag in tags:
        parts = split_tag(tag)
        out.append("B-" + parts[1] if parts[0] == "I" and starts_chunk(prev, parts) else tag)
        prev = parts
    return out


def spans_from_bio(tags: Sequence[str]) -> list[Span]:
    """The chunks of one sentence's IOB1/IOB2 tags, as (type, start, end) in order."""
    spans: list[Span] = []
    start, prev = None, OUTSIDE  # start of the open chunk, if any; its type is prev[1]
    for i, tag in enumerate(tags):
        parts = split_tag(tag)
        # I- continues only a chunk of its own type, so a chunk ends where the next starts.
        begins = starts_chunk(prev, parts)
        if start is not None and (begins or parts == OUTSIDE):
            spans.append((prev[1], start, i))
            start = None
        if begins:
            start = i
        prev = parts
    if start is not None:
        spans.append((prev[1], start, len(tags)))
    return spans


def binary_to_bio(labels: Sequence[int]) -> list[str]:
    """0/1 person labels as IOB2 tags: a run of 1s becomes B-PER I-PER ..., 0 becomes O."""
    tags = []
    prev = 0
    for label in labels:
        if label not in (0, 1):
            raise ValueError(f"binary labels must be 0 or 1, not {label!r}")
        tags.append("O" if label == 0 else ("I-PER" if prev == 1 else "B-PER"))
        prev = label
    return tags
