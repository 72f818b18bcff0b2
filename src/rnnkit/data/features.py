"""Per-token input features: K categorical groups sharing one index space of size ``n_x``.

``Featurizer.encode(tokens)`` gives an int64 array of shape (T, K): column k holds
the id of token t in group k, already offset into the shared space, so x<t> is
the sum of K one-hot vectors over ``n_x`` (a multi-hot vector) and ``W_ax x<t>``
is the sum of the K columns of ``W_ax`` (n_a, n_x) picked by the row ``ids[t]``.
The ``"word"`` group alone (K = 1) is the lecture's plain one-hot configuration.

Every group is a :class:`~rnnkit.data.vocab.Vocabulary` over some key of the token,
with its own PAD (local id 0) and UNK (local id 1), laid out one after the other
in the order of ``groups``:

``word``    the token itself (case-sensitive), the ``vocab_size`` most frequent;
``lower``   the lowercased token, the ``lower_size`` most frequent;
``shape``   the token's character shape (:func:`shape`, the fixed set :data:`SHAPES`);
``suffix``  the last 3 characters, lowercased, the ``affix_size`` most frequent;
``prefix``  the first 3 characters, lowercased, likewise;
``suffix2``, ``suffix4``, ``prefix2``, ``prefix4``: the same with 2 and 4 characters.

Frequencies count tokens, ties go to the first occurrence (see ``Vocabulary.build``).
Tokens are counted and looked up in their lookup form (rnnkit.normalise: NFC, and a few typed
forms read as ASCII), so that a corpus stored decomposed ("e" + U+0301) trains the same columns
that composed text is later tagged with.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from rnnkit.data.vocab import UNK_ID, Vocabulary
from rnnkit.normalise import lookup_form

# The categories of shape(), in the order it tests them.
SHAPES = (
    "punct",  # no letter or digit: , . " ( -- ... and symbols
    "digits",  # 1996, 22
    "number",  # digits with . , - / : + between or before: 1,000 3.5 1996-08-22 6-4 +44
    "lower",  # said
    "Title",  # Peter, Brussels
    "A",  # a single capital letter
    "UPPER",  # BRUSSELS, EU
    "Mixed",  # McDonald, DiMaggio, iPhone: inner capitals, frequent in names
    "A.",  # an initial: M. (as in M. Waugh)
    "A.B.",  # letters with periods: U.S., a.m.
    "Title.",  # Mr., Dr., Inc., Aug., ST.
    "lower.",  # vs., vol.
    "Title'",  # O'Brien, D'Alema
    "lower'",  # 's, n't, o'clock
    "Title-Title",  # Jean-Pierre, Inzamam-ul-Haq: first and last part capitalised
    "lower-",  # one-day, runner-up
    "hyphen",  # other hyphenated words: ITAR-TASS, U.S.-led, 10-year, CAC-40
    "alnum",  # letters and digits: 1990s, 49th, F16
    "other",  # the rest: uncased scripts (CJK), emoji inside words, odd mixtures
)

_NUMBER_PUNCT = str.maketrans("", "", ".,-/:+")


# Tokens longer than this are not remembered by the featurizer's caches: a text of a few
# million-character "words" would otherwise stay in memory (words and names are far shorter).
MEMO_CHARS = 64


def shape(token: str) -> str:
    """The character-shape category of ``token``, one of :data:`SHAPES`.

    Designed to tell what marks a person's name in newswire -- capitalised words,
    initials, titles ending in a period, name-internal patterns (McDonald,
    O'Brien, Jean-Pierre) -- from all-caps headlines, numbers and punctuation.
    """
    return _remembered_shape(token) if len(token) <= MEMO_CHARS else _shape(token)


def _shape(token: str) -> str:
    if not any(c.isalnum() for c in token):
        return "punct"
    if token.isdigit():
        return "digits"
    if token.translate(_NUMBER_PUNCT).isdigit():
        return "number"
    if token.isalpha():
        if token.islower():
            return "lower"
        if token.isupper():
            return "A" if len(token) == 1 else "UPPER"
        if token[0].isupper() and token[1:].islower():
            return "Title"
        # Uncased scripts (CJK, Thai, ...) have neither upper- nor lowercase letters.
        return "Mixed" if any(c.isupper() for c in token) else "other"
    if token.endswith(".") and token[:-1].isalpha():
        if len(token) == 2:
            return "A."
        return "Title." if token[0].isupper() else "lower."
    if len(token) >= 4 and token[1::2] == "." * (len(token) // 2) and token[::2].isalpha():
        return "A.B."
    letters = token.replace("'", "").replace("’", "")
    if letters != token and letters.isalpha():
        return "Title'" if token[0].isupper() else "lower'"
    if "-" in token:
        parts = token.split("-")
        if token.replace("-", "").isalpha() and all(parts):
            if token.islower():
                return "lower-"
            if parts[0][0].isupper() and parts[-1][0].isupper() and not token.isupper():
                return "Title-Title"
        return "hyphen"
    if token.isalnum():
        return "alnum"
    return "other"


_remembered_shape = functools.lru_cache(maxsize=1 << 16)(_shape)  # most lookups are hits


def _suffix(n: int) -> Callable[[str], str]:
    return lambda token: token[-n:].lower()


def _prefix(n: int) -> Callable[[str], str]:
    return lambda token: token[:n].lower()


def _identity(token: str) -> str:
    return token


# Group name -> the key of a token that the group's vocabulary looks up.
_KEYS: dict[str, Callable[[str], str]] = {
    "word": _identity,
    "lower": str.lower,
    "shape": shape,
    "suffix": _suffix(3),
    "prefix": _prefix(3),
    # Affixes of other lengths: together a cheap stand-in for a character-level model,
    # which is what an unseen name (most names in the test set) is left with.
    "suffix2": _suffix(2),
    "suffix4": _suffix(4),
    "prefix2": _prefix(2),
    "prefix4": _prefix(4),
}
GROUPS = tuple(_KEYS)


def _check_groups(groups: Sequence[str]) -> tuple[str, ...]:
    groups = tuple(groups)
    if not groups or len(set(groups)) != len(groups) or not set(groups) <= set(GROUPS):
        raise ValueError(f"feature groups must be distinct names from {GROUPS}, got {groups}")
    return groups


def _tokens_of(sentence) -> Sequence[str]:
    # Accept conll.Sentence objects as well as plain token lists.
    return getattr(sentence, "tokens", sentence)


class Featurizer:
    """Maps a sentence's tokens to ids of shape (T, K), one column per group.

    Attributes: ``groups`` (K names, the column order), ``vocabs`` (one
    Vocabulary per group), ``offsets`` (K,) (where each group starts in the
    shared space), ``n_x`` (size of the shared space), ``word_column`` (the
    column of the ``"word"`` group, None without it) and ``word_unk_id`` (the
    shared-space id of the word UNK, None without it) -- the trainer's word
    dropout writes ``word_unk_id`` into ``ids[:, word_column]``.
    """

    def __init__(self, groups: Sequence[str], vocabs: Sequence[Vocabulary]):
        self.groups = _check_groups(groups)
        if len(vocabs) != len(self.groups):
            raise ValueError(f"{len(self.groups)} groups but {len(vocabs)} vocabularies")
        self.vocabs = tuple(vocabs)
        sizes = [len(v) for v in self.vocabs]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.n_x = int(sum(sizes))
        self.word_column = self.groups.index("word") if "word" in self.groups else None
        self.word_unk_id = (
            None if self.word_column is None else int(self.offsets[self.word_column]) + UNK_ID
        )
        self._keys = [_KEYS[g] for g in self.groups]
        self._rows = {}  # token -> its K ids: tokens repeat, and the vocabularies never change

    ROWS_KEPT = 1 << 17  # tokens whose ids are remembered; beyond them, the memo starts anew

    @classmethod
    def build(
        cls,
        train_sentences: Iterable,
        groups: Sequence[str] = ("word",),
        vocab_size: int = 10000,
        lower_size: int | None = None,
        affix_size: int = 1000,
    ) -> Featurizer:
        """Build the groups' vocabularies from training sentences (Sentence objects or
        token lists). ``lower_size`` defaults to ``vocab_size``."""
        groups = _check_groups(groups)
        token_lists = [_tokens_of(s) for s in train_sentences]
        sizes = {
            "word": vocab_size,
            "lower": vocab_size if lower_size is None else lower_size,
            **{g: affix_size for g in GROUPS if g.startswith(("suffix", "prefix"))},
        }
        vocabs = []
        for g in groups:
            if g == "shape":
                # A fixed category list, so models stay comparable across data sets.
                vocabs.append(Vocabulary(SHAPES))
            else:
                key = _KEYS[g]
                keys = ([key(lookup_form(t)) for t in ts] for ts in token_lists)
                vocabs.append(Vocabulary.build(keys, sizes[g]))
        return cls(groups, vocabs)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Shared-space ids of ``tokens``, shape (T, K), int64. A token's ids are remembered
        once looked up (tokens of at most MEMO_CHARS characters)."""
        rows = self._rows
        new = [t for t in dict.fromkeys(tokens) if t not in rows]
        if not new:
            found = [rows[t] for t in tokens]
        else:
            if len(rows) + len(new) > self.ROWS_KEPT:
                rows.clear()
            looked = dict(zip(new, self._lookup(new).tolist()))
            rows.update((t, r) for t, r in looked.items() if len(t) <= MEMO_CHARS)
            found = [rows.get(t) or looked[t] for t in tokens]
        return np.array(found, dtype=np.int64).reshape(len(tokens), len(self.groups))

    def _lookup(self, tokens: Sequence[str]) -> np.ndarray:
        tokens = [lookup_form(t) for t in tokens]
        ids = np.empty((len(tokens), len(self.groups)), dtype=np.int64)
        for k, (key, vocab) in enumerate(zip(self._keys, self.vocabs)):
            ids[:, k] = vocab.ids(map(key, tokens)) + self.offsets[k]
        return ids

    def to_json(self) -> dict:
        """A JSON-able description; ``from_json`` rebuilds an identical featurizer."""
        return {"groups": list(self.groups), "vocabs": [v.to_json() for v in self.vocabs]}

    @classmethod
    def from_json(cls, obj: dict) -> Featurizer:
        return cls(obj["groups"], [Vocabulary.from_json(v) for v in obj["vocabs"]])

    def __repr__(self) -> str:
        sizes = ", ".join(f"{g}={len(v)}" for g, v in zip(self.groups, self.vocabs))
        return f"Featurizer({sizes}; n_x={self.n_x})"
