"""A tagger's tag set, and what training does to the types of the data it reads.

TagSet: the scheme of the model's output and the entity types it knows; its tags are O and
each type's tags in the scheme, in a fixed order (O first, so that label 0 is O):

    TagSet("iob2", ("PER", "LOC")).tags == ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")

Relabel: --map renames types (PERSON=PER), then --types keeps some (the rest become O), so that
corpora that spell a type differently can be joined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from rnnkit.ner import schemes


def parse_types(text: str | None, option="--types") -> tuple[str, ...] | None:
    """The types of --types (or --show): "PER,LOC" -> ("PER", "LOC"), None -> None; a name
    that is not a type is a ValueError."""
    if text is None:
        return None
    types = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    for t in types:
        _check_type(t)
    if not types:
        raise ValueError(f"{option} needs at least one entity type, e.g. {option} PER,LOC")
    return types


def parse_map(text: str | None) -> tuple[tuple[str, str], ...]:
    """The renames of --map: "PERSON=PER,person=PER" -> (("PERSON", "PER"), ("person", "PER")),
    None -> ()."""
    if text is None:
        return ()
    pairs = {}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        old, sep, new = (s.strip() for s in item.partition("="))
        if not sep:
            raise ValueError(f"--map takes OLD=NEW pairs, e.g. PERSON=PER; not {item!r}")
        _check_type(old)
        _check_type(new)
        if pairs.get(old, new) != new:
            raise ValueError(f"--map renames {old} twice: to {pairs[old]} and to {new}")
        pairs[old] = new
    return tuple(pairs.items())


def _check_type(name):
    if not schemes.TYPE.fullmatch(name):
        raise ValueError(
            f"{name!r} is not an entity type (a letter, then letters, digits, '_', '.' or '-')"
        )


def types_of(tag_lists) -> list[str]:
    """The entity types of IOB2 tag lists, sorted."""
    return sorted({t[2:] for tags in tag_lists for t in tags if t != "O"})


@dataclass(frozen=True)
class Relabel:
    """Renames types (renames: (old, new) pairs), then keeps only `keep` (None: all)."""

    renames: tuple = ()
    keep: tuple | None = None
    _map: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "renames", tuple(tuple(p) for p in self.renames))
        if self.keep is not None:
            object.__setattr__(self, "keep", tuple(self.keep))
        object.__setattr__(self, "_map", dict(self.renames))

    @classmethod
    def parse(cls, types: str | None, type_map: str | None) -> Relabel:
        return cls(parse_map(type_map), parse_types(types))

    def __bool__(self):
        return bool(self.renames) or self.keep is not None

    def __call__(self, tags: list[str]) -> list[str]:
        """IOB2 tags with their types renamed and those not kept made O (still IOB2)."""
        if not self:
            return list(tags)
        out = []
        for tag in tags:
            if tag != "O":
                typ = self._map.get(tag[2:], tag[2:])
                tag = "O" if self.keep is not None and typ not in self.keep else f"{tag[:2]}{typ}"
            out.append(tag)
        return out

    def to_json(self):
        return {"map": [list(p) for p in self.renames], "keep": _list(self.keep)}

    @classmethod
    def from_json(cls, data):
        return cls(tuple(tuple(p) for p in data["map"]), data["keep"])


def _list(values):
    return None if values is None else list(values)


@dataclass(frozen=True)
class TagSet:
    """The output tags of a model: O, then each type's tags in `scheme` (not IOB1)."""

    scheme: str
    types: tuple

    def __post_init__(self):
        object.__setattr__(self, "types", tuple(self.types))
        if self.scheme not in schemes.SCHEMES or self.scheme == "iob1":
            raise ValueError(
                f"a model's tag scheme is one of iob2, io, bioes, bilou, not {self.scheme!r}"
            )
        for t in self.types:
            _check_type(t)
        if len(set(self.types)) != len(self.types):
            raise ValueError(f"entity types repeat: {list(self.types)}")

    @cached_property
    def tags(self) -> tuple[str, ...]:
        prefixes = schemes.PREFIXES[self.scheme]
        return ("O",) + tuple(f"{p}-{t}" for t in self.types for p in prefixes)

    @cached_property
    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tags)}

    @cached_property
    def transitions(self):
        """(allowed (n_y, n_y), allowed_start (n_y,), allowed_end (n_y,)) bool: see
        schemes.transitions."""
        return schemes.transitions(self.scheme, self.tags)

    def ids(self, tags: list[str], unknown_as_o=False) -> np.ndarray:
        """IOB2 tags -> label ids (T,) of this set's scheme. A tag of a type the set lacks is a
        KeyError naming it, or O with unknown_as_o."""
        known = [t == "O" or t[2:] in self.types for t in tags]
        if not all(known):
            if not unknown_as_o:
                raise KeyError(tags[known.index(False)])
            tags = [t if k else "O" for t, k in zip(tags, known)]
        if self.scheme != "iob2":
            tags = schemes.convert(tags, "iob2", self.scheme)
        return np.array([self.index[t] for t in tags], dtype=np.int64)

    def iob2(self, ids, valid=False) -> list[str]:
        """Label ids (T,) -> IOB2 tags, the chunks read by the scheme's rules (IOB2 tags are
        given as they are, as conlleval reads them). valid: the ids are known to follow the
        scheme (a path of Viterbi's under its transitions), so that BIOES and BILOU read tag by
        tag, E- and L- as I-, S- and U- as B-, with none of the rules' work on each tag."""
        if valid and self.scheme in ("bioes", "bilou"):
            return [self._as_iob2[i] for i in ids]
        tags = [self.tags[i] for i in ids]
        return tags if self.scheme == "iob2" else schemes.convert(tags, self.scheme, "iob2")

    @cached_property
    def _as_iob2(self) -> tuple[str, ...]:
        """Each tag of a BIOES or BILOU path as IOB2."""
        return tuple(t if t == "O" else ("I" if t[0] in "IEL" else "B") + t[1:] for t in self.tags)

    def to_json(self):
        return {"scheme": self.scheme, "types": list(self.types)}
