"""The word vocabulary: the lecture's one-hot words, ids 0 = PAD and 1 = UNK."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1


class Vocabulary:
    """A mapping from strings to ids: ``PAD_ID`` (0), ``UNK_ID`` (1), then the kept types.

    Words are case-sensitive (``"Apple"`` and ``"apple"`` are different types);
    any string not kept, the reserved ``"<pad>"``/``"<unk>"`` included, maps to UNK.
    Lookups go both ways: ``id(word)`` and ``ids(tokens)`` give ids, ``word(i)`` the
    string of an id, e.g. to read which word column ``i`` of ``W_ax`` stands for.
    """

    def __init__(self, words: Sequence[str]):
        """``words``: the kept types in id order; ``words[i]`` gets id ``i + 2``."""
        self.words = list(words)
        self._index = {w: i for i, w in enumerate(self.words, start=2)}
        if len(self._index) != len(self.words) or PAD in self._index or UNK in self._index:
            raise ValueError("vocabulary words must be distinct and must not be <pad> or <unk>")

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], size: int) -> Vocabulary:
        """Keep the ``size`` most frequent types of the token sequences ``sentences``.

        Ties in frequency are broken by first occurrence in ``sentences``, so the
        result depends only on the data (and its order), never on hashing.
        """
        if size < 0:
            raise ValueError(f"vocabulary size must be non-negative, not {size}")
        counts: Counter[str] = Counter()
        for tokens in sentences:
            counts.update(tokens)
        counts.pop(PAD, None)
        counts.pop(UNK, None)
        # most_common sorts stably, and a Counter keeps first-insertion order.
        return cls([w for w, _ in counts.most_common(size)])

    def __len__(self) -> int:
        return len(self.words) + 2

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def id(self, word: str) -> int:
        """The id of ``word``, ``UNK_ID`` if it is not in the vocabulary."""
        return self._index.get(word, UNK_ID)

    def ids(self, tokens: Iterable[str]) -> np.ndarray:
        """Ids of ``tokens``, shape (T,), int64."""
        get = self._index.get
        return np.array([get(t, UNK_ID) for t in tokens], dtype=np.int64)

    def word(self, i: int) -> str:
        """The string of id ``i`` (``"<pad>"`` and ``"<unk>"`` for 0 and 1)."""
        if not 0 <= i < len(self):
            raise IndexError(f"id {i} out of range for a vocabulary of {len(self)}")
        if i == PAD_ID:
            return PAD
        if i == UNK_ID:
            return UNK
        return self.words[i - 2]

    def to_json(self) -> dict:
        """A JSON-able description, read back by :meth:`from_json`."""
        return {"words": list(self.words)}

    @classmethod
    def from_json(cls, obj: dict) -> Vocabulary:
        return cls(obj["words"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.words == other.words

    def __repr__(self) -> str:
        return f"Vocabulary({len(self.words)} words + PAD + UNK)"
