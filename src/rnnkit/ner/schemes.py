"""Tag schemes: how tags mark chunks (entities), every scheme's rules in one place.

Inside rnnkit every gold tag sequence is IOB2: ``B-X`` starts a chunk of type X, ``I-X``
continues it, ``O`` is outside any chunk. Files may use any of the schemes below; they are
read into IOB2 on the way in (`file_to_iob2`), and a model may output any of them but IOB1
(its tags are decoded into chunks by the scheme's rules and written out as IOB2).

    iob1   I-X everywhere; B-X only where a chunk follows one of the same type (CoNLL-2003's
           original files)
    iob2   B-X starts every chunk, I-X continues it ("BIO")
    io     I-X only: adjacent chunks of one type cannot be told apart
    bioes  B-X begins, I-X continues, E-X ends a chunk of several tokens; S-X is a chunk of one
    bilou  the same with L- (last) for E- and U- (unit) for S-

Each scheme is a set of prefixes and a rule for which tag may follow which (`allows`): the
same rule checks a file (`file_to_iob2`: an ``I-LOC`` after ``O`` in IOB2 data is an error
naming its line), detects a file's scheme (the schemes every tag so far obeys), and gives the
transitions a decoder may take (`transitions`). A scheme's chunks are read leniently, as
conlleval reads IOB tags: a chunk starts at ``B-X`` (or ``S-X``), and at an ``I-X`` (or
``E-X``) that follows ``O``, the sentence start, a tag of another type or a closed chunk; it
ends where the next chunk starts, at ``O``, or after ``E-X`` and ``S-X``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np

from rnnkit.errors import DataError, DataWarning

Span = tuple[str, int, int]  # (type, start, end), end exclusive
Tag = tuple[str, str]  # (prefix, type) of a tag: ("B", "PER"), ("I", "PER"), ("O", "")

OUTSIDE: Tag = ("O", "")  # also what comes before a sentence's first tag
# An entity type: a letter, then letters, digits, "_", "." or "-" (PER, GENE, person, B-cell).
TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
# What a data file may hold: O, or a prefix of some scheme and an entity type.
FILE_TAG = re.compile(r"O|[BIESLU]-[A-Za-z][A-Za-z0-9_.\-]*")

SCHEMES = ("iob1", "iob2", "io", "bioes", "bilou")
ALIASES = {"bio": "iob2", "iob": "iob1", "iobes": "bioes"}
NAMES = {"iob1": "IOB1", "iob2": "IOB2", "io": "IO", "bioes": "BIOES", "bilou": "BILOU"}
PREFIXES = {"iob1": "BI", "iob2": "BI", "io": "I", "bioes": "BIES", "bilou": "BILU"}
# The order in which a file that several schemes fit is read as one (IOB2 tags that never open
# a chunk of several tokens fit BIOES too).
PREFERENCE = ("iob2", "bioes", "bilou", "iob1", "io")
# BILOU's letters in BIOES's roles: L ends a chunk as E does, U is a chunk of one as S is.
_ROLE = {"L": "E", "U": "S"}


def scheme_name(name: str) -> str:
    """A scheme's name as rnnkit spells it: "BIO" -> "iob2"; anything unknown is a ValueError."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in SCHEMES:
        choices = ", ".join(SCHEMES + tuple(ALIASES))
        raise ValueError(f"unknown tag scheme {name!r}; choose from {choices}")
    return key


def model_scheme(file_scheme: str) -> str:
    """The scheme a model trained on a file of `file_scheme` outputs: the file's, but IOB2 for
    IOB1, whose B- depends on the chunk before and so is hard to predict."""
    return "iob2" if file_scheme == "iob1" else file_scheme


# -- tags ---------------------------------------------------------------------------------------
def split_tag(tag: str) -> Tag:
    """``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", "")``; anything else is a ValueError."""
    if tag == "O":
        return OUTSIDE
    if len(tag) > 2 and tag[0] in "BI" and tag[1] == "-":
        return tag[0], tag[2:]
    raise ValueError(f"not an IOB tag: {tag!r} (expected O, B-TYPE or I-TYPE)")


def parse_tag(tag: str) -> Tag:
    """A tag of any scheme: ``"S-PER"`` -> ``("S", "PER")``, ``"O"`` -> ``("O", "")``."""
    if tag == "O":
        return OUTSIDE
    if len(tag) > 2 and tag[0] in "BIESLU" and tag[1] == "-":
        return tag[0], tag[2:]
    raise ValueError(f"not a tag: {tag!r} (expected O or PREFIX-TYPE, PREFIX one of BIESLU)")


def _role(scheme: str, tag: Tag) -> Tag:
    return (_ROLE.get(tag[0], tag[0]), tag[1]) if scheme == "bilou" else tag


def fits(scheme: str, tag: Tag) -> bool:
    """Whether the scheme has this tag's prefix."""
    return tag[0] == "O" or tag[0] in PREFIXES[scheme]


def allows(scheme: str, prev: Tag, tag: Tag) -> bool:
    """Whether the scheme lets ``tag`` follow ``prev`` (OUTSIDE at the sentence start); both
    must fit the scheme."""
    (pp, pt), (p, t) = _role(scheme, prev), _role(scheme, tag)
    continues = pp in ("B", "I") and pt == t  # tag is of the type of a chunk still open
    if scheme == "iob2":
        return p != "I" or continues
    if scheme == "iob1":
        return p != "B" or continues
    if scheme == "io":
        return True
    if pp in ("B", "I"):  # BIOES: an open chunk goes on with I- or ends with E- of its type
        return p in ("I", "E") and pt == t
    return p not in ("I", "E")


def allows_end(scheme: str, tag: Tag) -> bool:
    """Whether a sentence may end with ``tag``: in BIOES and BILOU only with a closed chunk."""
    return scheme not in ("bioes", "bilou") or _role(scheme, tag)[0] not in ("B", "I")


def transitions(scheme: str, tags: Sequence[str]):
    """The transitions a decoder may take between the tags (of `scheme`): allowed (n_y, n_y)
    bool, allowed[i, j] when tags[j] may follow tags[i], and the allowed first and last tags
    allowed_start, allowed_end (n_y,) bool."""
    parsed = [parse_tag(t) for t in tags]
    allowed = np.array([[allows(scheme, a, b) for b in parsed] for a in parsed], dtype=bool)
    start = np.array([allows(scheme, OUTSIDE, b) for b in parsed], dtype=bool)
    end = np.array([allows_end(scheme, a) for a in parsed], dtype=bool)
    return allowed, start, end


# -- chunks -------------------------------------------------------------------------------------
def starts_chunk(prev: Tag, tag: Tag) -> bool:
    """Whether ``tag`` starts a chunk when ``prev`` is the tag before it (OUTSIDE at the start);
    both in BIOES's roles (IOB tags are their own)."""
    prefix, typ = tag
    if prefix in ("B", "S"):
        return True
    return prefix in ("I", "E") and (prev[0] in ("O", "E", "S") or prev[1] != typ)


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
    """The chunks of one sentence's IOB1/IOB2/IO tags, as (type, start, end) in order."""
    return _spans([split_tag(t) for t in tags])


def spans_from_tags(tags: Sequence[str], scheme: str) -> list[Span]:
    """The chunks of one sentence's tags in `scheme`, read by its rules (leniently, as above)."""
    if scheme in ("iob1", "iob2", "io"):
        return spans_from_bio(tags)
    return _spans([_role(scheme, parse_tag(t)) for t in tags])


def _spans(parsed: Sequence[Tag]) -> list[Span]:
    spans: list[Span] = []
    start, prev = None, OUTSIDE  # start of the open chunk, if any; its type is prev[1]
    for i, parts in enumerate(parsed):
        # I- continues only a chunk of its own type, so a chunk ends where the next starts.
        begins = starts_chunk(prev, parts)
        if start is not None and (begins or parts == OUTSIDE):
            spans.append((prev[1], start, i))
            start = None
        if begins:
            start = i
        if start is not None and parts[0] in ("E", "S"):  # BIOES closes the chunk here
            spans.append((parts[1], start, i + 1))
            start = None
        prev = parts
    if start is not None:
        spans.append((prev[1], start, len(parsed)))
    return spans


def tags_from_spans(spans: Sequence[Span], n: int, scheme: str) -> list[str]:
    """The n tags in `scheme` that mark these chunks (non-overlapping, in order)."""
    tags = ["O"] * n
    prev_end, prev_type = None, None
    first, inside, last, single = {
        "iob1": "IIII",
        "iob2": "BIIB",
        "io": "IIII",
        "bioes": "BIES",
        "bilou": "BILU",
    }[scheme]
    for typ, start, end in spans:
        if end - start == 1:
            tags[start] = f"{single}-{typ}"
        else:
            tags[start] = f"{first}-{typ}"
            tags[start + 1 : end - 1] = [f"{inside}-{typ}"] * (end - start - 2)
            tags[end - 1] = f"{last}-{typ}"
        if scheme == "iob1" and prev_end == start and prev_type == typ:
            tags[start] = f"B-{typ}"  # IOB1's B- parts two adjacent chunks of one type
        prev_end, prev_type = end, typ
    return tags


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """Tags of scheme `source` as tags of scheme `target` marking the same chunks (in IO,
    adjacent chunks of one type become one)."""
    return tags_from_spans(spans_from_tags(tags, source), len(tags), target)


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


# -- files --------------------------------------------------------------------------------------
def file_to_iob2(path, sentences, scheme: str | None = None) -> str:
    """Check the tags of a file's sentences against `scheme` (None: the schemes that every tag
    so far obeys, the first that fits all in PREFERENCE order; B-/I- tags that fit none of
    them strictly are read as IOB1, with a DataWarning), and rewrite them as IOB2 in place.
    Returns the file's scheme. A tag that breaks the scheme is a DataError naming its line.
    A file declared IOB1 may mix B- and I- as it likes: it is read by conlleval's rules,
    as files of inconsistent IOB tags always were. `sentences` have .tags and .line (the line
    of their first token)."""
    if scheme is None:
        try:
            return file_to_iob2(path, sentences, PREFERENCE)
        except DataError as e:
            # B-/I- tags that fit no scheme strictly (an I- opening a chunk in a file that
            # elsewhere opens with B-: the Broad Twitter Corpus has such lines) are read as
            # conlleval and rnnkit always read them, with a word; a file declared IOB2 is held
            if not all(parse_tag(tag)[0] in "BIO" for s in sentences for tag in s.tags):
                raise
            warnings.warn(
                DataWarning(
                    f"{e.path}:{e.line}: {e.message.split(' (')[0]}; the file is read by "
                    "conlleval's rules for B-/I- tags (IOB1); --scheme iob2 refuses it instead"
                ),
                stacklevel=2,
            )
            return file_to_iob2(path, sentences, "iob1")
    declared = scheme if isinstance(scheme, str) else None
    candidates = (scheme_name(scheme),) if declared else scheme
    lenient = candidates == ("iob1",)
    left_after = {}  # (candidates, tag before, tag) -> the candidates left: each pair once
    for s in sentences:
        prev_tag = "O"  # the sentence start reads as O
        for i, tag in enumerate(s.tags):
            left = left_after.get((candidates, prev_tag, tag))
            if left is None:
                prev, parts = parse_tag(prev_tag), parse_tag(tag)
                left = tuple(
                    c for c in candidates if fits(c, parts) and (lenient or allows(c, prev, parts))
                )
                left_after[candidates, prev_tag, tag] = left
            if not left:
                before = prev_tag if i else "the sentence start"
                first = s is sentences[0] and i == 0
                why = _broken(candidates, parse_tag(prev_tag), before, tag, declared, first)
                raise DataError(path, why, s.line + i)
            candidates, prev_tag = left, tag
        left = tuple(c for c in candidates if allows_end(c, parse_tag(prev_tag)))
        if not left:
            raise DataError(
                path,
                f"{prev_tag!r} ends the sentence: {NAMES[candidates[0]]} closes a chunk of "
                f"several tokens with {'L' if candidates[0] == 'bilou' else 'E'}-{prev_tag[2:]}"
                + _how(candidates, declared),
                s.line + len(s.tags) - 1,
            )
        candidates = left
    found = candidates[0]
    if found != "iob2":
        for s in sentences:
            s.tags = convert(s.tags, found, "iob2")
    return found


def _broken(candidates, prev, prev_tag, tag, declared, first=False):
    """Why `tag` after `prev` fits none of the candidates: in the terms of the first that has
    such a tag (an E- at a sentence start is BIOES's fault, not IOB2's), or else the first's.
    first: no tag came before it in the file."""
    p, t = parse_tag(tag)
    scheme = next((c for c in candidates if fits(c, (p, t))), candidates[0])
    name = NAMES[scheme]
    if not fits(scheme, (p, t)):
        prefixes = "/".join(c + "-" for c in PREFIXES[scheme])
        why = f"{tag!r} is not a tag of {name}, which has only {prefixes} and O"
    elif scheme == "iob2":
        why = (
            f"{tag!r} follows {prev_tag}: an I- tag of a type never opened (IOB2 opens with B-{t})"
        )
    elif scheme == "iob1":
        why = f"{tag!r} follows {prev_tag}: IOB1 uses B- only right after a chunk of type {t}"
    elif _role(scheme, prev)[0] in ("B", "I"):
        why = f"{tag!r} follows {prev_tag}, a chunk that {name} must continue or close"
    else:
        why = f"{tag!r} follows {prev_tag}: it continues a chunk never opened ({name} opens "
        why += f"with B-{t})"
    return why + _how(candidates, declared, p, first)


def _how(candidates, declared, prefix="B", first=False):
    if declared:
        return f" (the file is declared {NAMES[candidates[0]]})"
    # conlleval's reading helps only B- and I- tags in a file of B- and I- tags; there are
    # lines before only if a tag came before this one
    read = "" if first else "the lines before read as " + "/".join(NAMES[c] for c in candidates)
    iob = prefix in "BI" and {"iob1", "iob2"} & set(candidates)
    lenient = "--scheme iob1 reads any mix of B- and I- as conlleval does" if iob else ""
    return f" ({'; '.join(x for x in (read, lenient) if x)})" if read or lenient else ""
